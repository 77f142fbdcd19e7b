//! Offline check of a partition directory (`strata log verify`): every batch of every
//! segment (framing, offsets, CRC-32C, the good batches past damage) and every index
//! entry, read-only. Nothing is changed; recovery or the scrubber repairs.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use strata_proto::batch::{BatchHeader, HEADER_SIZE};

use crate::check::{scan_file, DamagedBytes, Rules};
use crate::checkpoint;
use crate::damage::{self, DamagedRange};
use crate::segment::{parse_log_file_name, segment_path, INDEX_EXT, TIME_INDEX_EXT};

/// Index files larger than this are reported, not read (the default
/// `segment.index.bytes` is 10 MiB).
const MAX_INDEX_BYTES: u64 = 256 << 20;

/// What the check of one segment found.
///
/// Read-only, so an unclean stop's leftovers show too: a torn tail of the last segment
/// (`torn_tail`) and index entries past the data of the active segment, both cut by the
/// next open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentReport {
    /// The `.log` file.
    pub file: PathBuf,
    /// Its base offset.
    pub base_offset: i64,
    /// Its size.
    pub bytes: u64,
    /// Good batches.
    pub batches: u64,
    /// Damaged byte ranges (a range with `position == end` is offsets missing at the
    /// end of a sealed segment without bytes).
    pub damaged: Vec<DamagedBytes>,
    /// The last segment ends in an incomplete batch from here (a torn write, cut on the
    /// next unclean start).
    pub torn_tail: Option<u64>,
    /// Index entries that are out of order, outside the segment or not at their batch.
    pub index_problems: Vec<String>,
}

impl SegmentReport {
    /// Whether anything is wrong beyond a torn tail.
    pub fn is_damaged(&self) -> bool {
        !self.damaged.is_empty() || !self.index_problems.is_empty()
    }
}

/// What the check of one partition directory found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionReport {
    /// The directory.
    pub dir: PathBuf,
    /// Offsets recorded as lost before (`damaged-offsets`): gaps there are not new damage.
    pub known_damage: Vec<DamagedRange>,
    /// One report per segment, in offset order.
    pub segments: Vec<SegmentReport>,
}

/// Checks every segment of the partition directory `dir`, calling `progress` after each.
pub fn verify_partition(
    dir: &Path,
    progress: &mut dyn FnMut(&SegmentReport),
) -> io::Result<PartitionReport> {
    let mut bases = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(base) = entry.file_name().to_str().and_then(parse_log_file_name) {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    let known = Known {
        damage: damage::read(dir),
        log_start: checkpoint::read_log_start(dir).unwrap_or(i64::MIN),
        compacted_below: checkpoint::read_cleaner(dir).compacted_below,
    };
    let mut segments = Vec::with_capacity(bases.len());
    let mut expected = bases.first().copied().unwrap_or(0);
    for (i, &base) in bases.iter().enumerate() {
        let next_base = bases.get(i + 1).copied();
        let report = verify_segment(dir, base, expected, next_base, &known)?;
        expected = next_base.unwrap_or(0);
        progress(&report);
        segments.push(report);
    }
    Ok(PartitionReport {
        dir: dir.to_path_buf(),
        known_damage: known.damage,
        segments,
    })
}

/// What the partition's files say about offsets that may be missing without damage.
struct Known {
    /// `damaged-offsets`.
    damage: Vec<DamagedRange>,
    /// `log-start-offset`: offsets below it are deleted.
    log_start: i64,
    /// Segments below this may have compaction gaps.
    compacted_below: i64,
}

fn verify_segment(
    dir: &Path,
    base: i64,
    expected: i64,
    next_base: Option<i64>,
    known: &Known,
) -> io::Result<SegmentReport> {
    let path = segment_path(dir, base, "log");
    let file = File::open(&path)?;
    let len = file.metadata()?.len();
    let allow_gaps = base < known.compacted_below;
    let rules = Rules {
        index_interval: 0,
        expected_next: expected,
        verify_crc: true,
        allow_gaps,
        known_gaps: &known.damage,
        log_start: known.log_start,
        next_base,
        resync: true,
    };
    let mut end = base.max(expected);
    let scan = scan_file(&file, len, base, &rules, &mut |_, header| {
        end = header.next_offset();
        Ok(())
    })?;
    let mut damaged = scan.damaged;
    if let (Some(next), None) = (next_base, damaged.last()) {
        // A sealed segment cut at a batch boundary: offsets missing without bytes.
        let live_end = end.max(known.log_start);
        if live_end < next && !allow_gaps && !damage::covered(&known.damage, live_end, next) {
            damaged.push(DamagedBytes {
                position: len,
                end: len,
                offsets: DamagedRange {
                    start: end,
                    end: next,
                },
            });
        }
    }
    let index_problems = check_indexes(dir, &file, base, len, next_base.unwrap_or(i64::MAX))?;
    Ok(SegmentReport {
        file: path,
        base_offset: base,
        bytes: len,
        batches: scan.batches,
        damaged,
        torn_tail: (scan.valid_end < len).then_some(scan.valid_end),
        index_problems,
    })
}

/// Every `.index` entry must be strictly increasing, inside the file and at a batch of
/// its offset; every `.timeindex` entry non-decreasing and inside the segment.
fn check_indexes(
    dir: &Path,
    log: &File,
    base: i64,
    len: u64,
    next_base: i64,
) -> io::Result<Vec<String>> {
    let mut problems = Vec::new();
    let index = segment_path(dir, base, INDEX_EXT);
    if let Some(bytes) = read_index(&index, 8, &mut problems)? {
        let mut previous: Option<(u32, u32)> = None;
        for (i, e) in bytes.chunks_exact(8).enumerate() {
            let rel = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
            let pos = u32::from_be_bytes([e[4], e[5], e[6], e[7]]);
            let ordered = previous.is_none_or(|(r, p)| rel > r && pos > p);
            let offset = base + i64::from(rel);
            let at_batch = u64::from(pos) + HEADER_SIZE as u64 <= len && {
                let mut header = [0u8; HEADER_SIZE];
                log.read_exact_at(&mut header, u64::from(pos))?;
                BatchHeader::parse(&header).is_ok_and(|h| h.base_offset == offset)
            };
            if !ordered || offset >= next_base || !at_batch {
                problems.push(format!(
                    "{} entry {i} (offset {offset} at byte {pos}) is {}",
                    index.display(),
                    if ordered {
                        "not at its batch"
                    } else {
                        "out of order"
                    }
                ));
                break;
            }
            previous = Some((rel, pos));
        }
    }
    let time_index = segment_path(dir, base, TIME_INDEX_EXT);
    if let Some(bytes) = read_index(&time_index, 12, &mut problems)? {
        let mut previous: Option<(i64, u32)> = None;
        for (i, e) in bytes.chunks_exact(12).enumerate() {
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&e[..8]);
            let ts = i64::from_be_bytes(ts);
            let rel = u32::from_be_bytes([e[8], e[9], e[10], e[11]]);
            let ordered = previous.is_none_or(|(t, r)| ts >= t && rel >= r);
            if !ordered || base + i64::from(rel) >= next_base {
                problems.push(format!(
                    "{} entry {i} (timestamp {ts}, offset {}) is out of order or outside the segment",
                    time_index.display(),
                    base + i64::from(rel)
                ));
                break;
            }
            previous = Some((ts, rel));
        }
    }
    Ok(problems)
}

/// The index file's bytes; `None` (with a problem noted if it matters) when it is
/// missing, too large or not whole entries.
fn read_index(path: &Path, entry: u64, problems: &mut Vec<String>) -> io::Result<Option<Vec<u8>>> {
    let len = match fs::metadata(path) {
        Ok(m) => m.len(),
        // Rebuilt on open; nothing is lost.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if len > MAX_INDEX_BYTES || len % entry != 0 {
        problems.push(format!(
            "{} has {len} bytes: {}",
            path.display(),
            if len % entry != 0 {
                "a partial entry"
            } else {
                "too large to check"
            }
        ));
        return Ok(None);
    }
    Ok(Some(fs::read(path)?))
}
