//! strata-log recovery over arbitrary partition directories: the input is turned into
//! segment files (`.log`, optionally `.index` / `.timeindex`) and the other files a
//! partition directory holds, in a fresh directory under /dev/shm; the log is opened the
//! way a restart does, everything is read back, one record appended, the log closed
//! cleanly and opened again.
//!
//! Checked: nothing panics. After an unclean open that scans every segment (no recovery
//! checkpoint among the files: segments below the checkpoint are trusted after cheap
//! checks, by design, as in Kafka): every batch served is whole and CRC-valid, batches
//! come in offset order, reading reaches the log end, and a single segment keeps at least
//! the longest prefix of whole, CRC-valid batches whose base offsets run on without a gap
//! (a plain model over the byte slice, `strata_proto::batch::check_stored_batch`; good
//! batches past damage may be kept too, the damage moved aside); with flag bit 3 the
//! recovered log takes an append, and a clean close and reopen gives the same log.
//!
//! Input: `flags`, `interval`, then records `kind: u8, len: u16 BE, bytes[len]`.
//! - flags bit 0: fix the CRC-32C of every batch in the `.log` files;
//!   bit 1: rewrite base offsets so batches run on from the segment's base;
//!   bit 2: open as after a clean shutdown (indexes trusted after cheap checks);
//!   only "no panic" is checked then: files are trusted by design;
//!   bit 3: then append a record, close cleanly, reopen and compare.
//! - interval: `index.interval.bytes` = 1 << (interval % 13).
//! - kind % 16: 0 a new segment's `.log` (the first has base offset 0, each next one
//!   starts where the previous one's last batch ends), 1 its `.index`, 2 its
//!   `.timeindex`, 3 recovery-point checkpoint, 4 log-start-offset, 5 cleaner
//!   checkpoint, 6 leader-epoch checkpoint, 7 producer-state snapshot, 8 `.log.swap`,
//!   9 `.log.cleaned` (of the current segment); anything else is skipped.
#![no_main]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use strata_log::{Log, LogConfig};
use strata_proto::batch::{self, BatchHeader};

const MAX_SEGMENTS: usize = 4;
const FIX_CRC: u8 = 1;
const FIX_OFFSETS: u8 = 2;
const CLEAN: u8 = 4;
const REOPEN: u8 = 8;

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        base.join(format!("strata-fuzz-recovery-{}", std::process::id()))
    })
}

struct Files {
    segments: Vec<(i64, Vec<u8>)>,
    /// (path relative to the partition dir, bytes)
    others: Vec<(String, Vec<u8>)>,
    has_cleaner_files: bool,
    has_checkpoint: bool,
}

fn seg_name(base: i64, ext: &str) -> String {
    format!("{base:020}.{ext}")
}

fn parse(flags: u8, mut data: &[u8]) -> Files {
    let mut files = Files {
        segments: Vec::new(),
        others: Vec::new(),
        has_cleaner_files: false,
        has_checkpoint: false,
    };
    while data.len() >= 3 {
        let kind = data[0] % 16;
        let len = (u16::from_be_bytes([data[1], data[2]]) as usize).min(data.len() - 3);
        let bytes = data[3..3 + len].to_vec();
        data = &data[3 + len..];
        let current = files.segments.last().map(|(b, _)| *b);
        let name = match kind {
            0 => {
                if files.segments.len() == MAX_SEGMENTS {
                    continue;
                }
                let mut bytes = bytes;
                let base = match files.segments.last() {
                    None => 0,
                    Some((b, prev)) => next_offset_of(prev).filter(|n| n > b).unwrap_or(b + 1),
                };
                if flags & FIX_OFFSETS != 0 {
                    strata_fuzz::fix_offsets(&mut bytes, base);
                }
                if flags & FIX_CRC != 0 {
                    strata_fuzz::fix_crcs(&mut bytes);
                }
                files.segments.push((base, bytes));
                continue;
            }
            1 => current.map(|b| seg_name(b, "index")),
            2 => current.map(|b| seg_name(b, "timeindex")),
            3 => Some("recovery-point-offset-checkpoint".into()),
            4 => Some("log-start-offset".into()),
            5 => Some("cleaner-offset-checkpoint".into()),
            6 => Some("leader-epoch-checkpoint".into()),
            7 => Some("producer-state.snapshot".into()),
            8 => current.map(|b| seg_name(b, "log.swap")),
            9 => current.map(|b| seg_name(b, "log.cleaned")),
            _ => None,
        };
        if let Some(name) = name {
            if matches!(kind, 5 | 8 | 9) {
                files.has_cleaner_files = true;
            }
            if kind == 3 {
                files.has_checkpoint = true;
            }
            files.others.push((name, bytes));
        }
    }
    files
}

fn next_offset_of(buf: &[u8]) -> Option<i64> {
    strata_fuzz::next_offset_of(buf)
}

/// The model: how many bytes of a lone segment at base 0 survive recovery, and the
/// offset after them.
fn model_prefix(bytes: &[u8], base: i64) -> (usize, i64) {
    let mut pos = 0usize;
    let mut next = base;
    while pos < bytes.len() {
        match batch::check_stored_batch(&bytes[pos..]) {
            Ok(h) if h.base_offset == next => {
                pos += h.total_size();
                next = h.next_offset();
            }
            _ => break,
        }
    }
    (pos, next)
}

/// Reads the whole log through `Log::read`; returns (base, last offset) per batch.
/// With `strict`, every batch must be whole and CRC-valid and, unless `tail_gaps`,
/// reading must reach the end. With cleaner files the compacted range may hold no batch
/// at all up to the log end (every record compacted away, then the active segment
/// truncated by a follower): a read there finds nothing, as it should.
fn read_all(log: &Log, strict: bool, tail_gaps: bool) -> Vec<(i64, i64)> {
    let end = log.log_end_offset();
    let gaps = tail_gaps || !log.damaged_ranges().is_empty();
    let mut offset = log.log_start_offset();
    let mut out: Vec<(i64, i64)> = Vec::new();
    let mut rounds = 0usize;
    while offset < end {
        rounds += 1;
        if rounds > 100_000 {
            panic!("reading the log does not progress (at {offset}, end {end})");
        }
        let slice = match log.read(offset, 1 << 20, i64::MAX, true) {
            Ok(Some(slice)) => slice,
            Ok(None) => break,
            Err(e) => {
                assert!(!strict, "read at {offset} (end {end}) failed: {e}");
                break;
            }
        };
        let Ok(bytes) = slice.read() else {
            assert!(!strict, "reading slice {slice:?} failed");
            break;
        };
        let mut pos = 0usize;
        let mut last = None;
        while pos < bytes.len() {
            let header = if strict {
                batch::check_stored_batch(&bytes[pos..]).unwrap_or_else(|e| {
                    panic!("served batch at {pos} of {slice:?} is not whole and valid: {e}")
                })
            } else {
                match BatchHeader::parse(&bytes[pos..]) {
                    Ok(h) if h.total_size() <= bytes.len() - pos => h,
                    _ => break,
                }
            };
            if strict {
                if let Some(&(_, prev_last)) = out.last() {
                    assert!(header.base_offset > prev_last, "batches out of order");
                }
            }
            out.push((header.base_offset, header.last_offset()));
            last = Some(header.last_offset());
            pos += header.total_size();
        }
        if strict {
            assert_eq!(pos, bytes.len(), "slice {slice:?} ends inside a batch");
            // A slice read to the end of a segment reaches to the next segment's base:
            // past its last batch when offsets after it were compacted away or lost.
            let last_batch = out.iter().rev().nth(0).map(|b| b.1);
            if gaps {
                assert!(last_batch.is_some_and(|l| l <= slice.last_offset));
            } else {
                assert_eq!(last_batch, Some(slice.last_offset));
            }
            assert!(
                slice.last_offset >= offset,
                "read at {offset} served {slice:?}"
            );
        }
        let Some(last) = last else { break };
        let next = last.max(slice.last_offset).saturating_add(1);
        if next <= offset {
            break;
        }
        offset = next;
    }
    // Recorded damage at the tail (offsets lost, nothing after them yet) leaves
    // nothing to read up to the end either.
    let damaged_tail = log.damaged_ranges().iter().any(|r| r.end >= end);
    if strict && !tail_gaps && !damaged_tail {
        assert!(
            offset >= end,
            "reading stopped at {offset} before the log end {end}"
        );
    }
    out
}

fn write_files(dir: &Path, files: &Files) {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).expect("scratch dir");
    for (base, bytes) in &files.segments {
        fs::write(dir.join(seg_name(*base, "log")), bytes).expect("write segment");
    }
    for (name, bytes) in &files.others {
        fs::write(dir.join(name), bytes).expect("write file");
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (flags, interval) = (data[0], data[1]);
    let files = parse(flags, &data[2..]);
    let dir = scratch().join("p-0");
    write_files(&dir, &files);
    let config = LogConfig {
        index_interval_bytes: 1 << (interval % 13),
        ..LogConfig::default()
    };
    let clean = flags & CLEAN != 0;
    let mut log = match Log::open(&dir, config.clone(), clean) {
        Ok(log) => log,
        // An error (not a panic) is an answer: the broker reports the partition offline.
        Err(_) => return,
    };
    // Every segment was scanned: what is served must be whole and CRC-valid.
    let strict = !clean && !files.has_checkpoint;
    read_all(&log, strict, files.has_cleaner_files);

    if strict && files.segments.len() == 1 && !files.has_cleaner_files {
        // Damage costs only what it hits: the longest valid prefix always survives
        // (good batches after damage may survive too, moved up past the damage).
        let (base, bytes) = &files.segments[0];
        let (kept, next) = model_prefix(bytes, *base);
        assert!(
            log.size_bytes() >= kept as u64,
            "recovery cut into the valid prefix"
        );
        assert!(
            log.log_end_offset() >= next,
            "recovered log end below the valid prefix"
        );
        assert!(
            log.size_bytes() <= bytes.len() as u64,
            "recovery grew the segment"
        );
    }

    if flags & REOPEN == 0 {
        return;
    }
    let end = log.log_end_offset();
    let appended = log.append(
        &strata_fuzz::one_record_batch(1_700_000_000_000),
        1_700_000_000_000,
    );
    if strict && end < i64::MAX / 2 {
        let info = appended.unwrap_or_else(|e| panic!("append after recovery failed: {e}"));
        assert_eq!(info.base_offset, end);
        assert_eq!(log.log_end_offset(), end + 1);
    }
    let _ = log.read(end, 1 << 20, i64::MAX, true);

    let end = log.log_end_offset();
    let start = log.log_start_offset();
    let size = log.size_bytes();
    let after = read_all(&log, strict, files.has_cleaner_files);
    if log.close().is_err() {
        return;
    }
    match Log::open(&dir, config, true) {
        Ok(reopened) => {
            if strict {
                assert_eq!(
                    reopened.log_end_offset(),
                    end,
                    "log end after a clean reopen"
                );
                assert_eq!(reopened.log_start_offset(), start);
                assert_eq!(reopened.size_bytes(), size);
                assert_eq!(
                    read_all(&reopened, true, files.has_cleaner_files),
                    after,
                    "batches after a clean reopen"
                );
            } else {
                let _ = read_all(&reopened, false, true);
            }
        }
        Err(e) => assert!(!strict, "clean reopen of a recovered log failed: {e}"),
    }
});
