//! Checking the batches of a segment file: framing, offsets continuing the log,
//! CRC-32C, and past damage the next good batch (`resync.rs`). Shared by recovery
//! (which rebuilds the indexes as it goes), the background scrubber and the offline
//! `strata log verify`.

use std::fs::File;
use std::io;

use strata_proto::batch::BatchHeader;

use crate::damage::{self, DamagedRange};
use crate::resync::{next_good_batch, Wanted};
use crate::scan::{batch_crc_ok, HeaderScanner, Step};

/// How a scan judges the batches of a segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules<'a> {
    pub index_interval: u32,
    /// The offset the segment's data should continue from.
    pub expected_next: i64,
    /// Check every batch's CRC-32C.
    pub verify_crc: bool,
    /// Batches may start later than the previous one ended (segments the cleaner may
    /// have rewritten), never earlier.
    pub allow_gaps: bool,
    /// Offsets already known lost (`damaged-offsets`): a gap inside them is no damage.
    pub known_gaps: &'a [DamagedRange],
    /// The log start offset: offsets below it are deleted, so a gap there is no damage
    /// (`damaged-offsets` forgets ranges below the start, as it does after retention).
    pub log_start: i64,
    /// The next segment's base offset (batches must end at or below it); `None` for
    /// the last segment.
    pub next_base: Option<i64>,
    /// Look past damage for the next good batch; without, stop at the first damage and
    /// truncate there.
    pub resync: bool,
}

/// Bytes of a segment that are not valid batches, followed by a good batch (or the
/// end of a sealed segment), and the offsets they cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DamagedBytes {
    /// First damaged byte.
    pub position: u64,
    /// Byte after the last damaged one.
    pub end: u64,
    /// Offsets lost with them (possibly none).
    pub offsets: DamagedRange,
}

/// What [`scan_file`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileScan {
    /// Damaged byte ranges with good batches after them (or running to the end of a
    /// sealed segment).
    pub damaged: Vec<DamagedBytes>,
    /// End of the last good batch when the file ends in bytes that are not one (the
    /// last segment's torn tail), else the file length.
    pub valid_end: u64,
    /// The bad tail starts with a whole batch (its CRC or offsets are wrong).
    pub tail_complete: bool,
    /// Good batches seen.
    pub batches: u64,
}

/// Scans `file[..file_len]` of the segment at `base_offset` under `rules`, calling
/// `on_batch` for every good batch in order. Reads each byte about once (plus the
/// forward search past damage); memory stays at a few 64 KiB buffers.
pub(crate) fn scan_file(
    file: &File,
    file_len: u64,
    base_offset: i64,
    rules: &Rules,
    on_batch: &mut dyn FnMut(u64, &BatchHeader) -> io::Result<()>,
) -> io::Result<FileScan> {
    let mut expected = rules.expected_next.max(base_offset);
    let mut scanner = HeaderScanner::new(file, 0, file_len);
    let mut damaged = Vec::new();
    let mut batches = 0u64;
    let (valid_end, tail_complete) = loop {
        let (bad_at, complete) = match scanner.next_step()? {
            Step::End => break (file_len, false),
            Step::Damaged { position, .. } => (position, false),
            Step::Batch { position, header } => {
                if batch_fits(&header, expected, rules)
                    && (!rules.verify_crc || batch_crc_ok(file, position, &header)?)
                {
                    on_batch(position, &header)?;
                    batches += 1;
                    expected = header.next_offset();
                    continue;
                }
                (position, true)
            }
        };
        if !rules.resync {
            break (bad_at, complete);
        }
        let wanted = Wanted {
            min_base: expected,
            next_base: rules.next_base,
            verify_crc: rules.verify_crc,
        };
        match next_good_batch(file, bad_at + 1, file_len, wanted)? {
            Some((position, header)) => {
                damaged.push(DamagedBytes {
                    position: bad_at,
                    end: position,
                    offsets: DamagedRange {
                        start: expected,
                        end: header.base_offset,
                    },
                });
                expected = header.base_offset;
                scanner = HeaderScanner::new(file, position, file_len);
            }
            None => match rules.next_base {
                None => break (bad_at, complete),
                Some(next_base) => {
                    damaged.push(DamagedBytes {
                        position: bad_at,
                        end: file_len,
                        offsets: DamagedRange {
                            start: expected,
                            end: next_base.max(expected),
                        },
                    });
                    break (file_len, false);
                }
            },
        }
    };
    Ok(FileScan {
        damaged,
        valid_end,
        tail_complete,
        batches,
    })
}

/// Whether a batch's offsets continue the log at `expected` under `rules`.
fn batch_fits(header: &BatchHeader, expected: i64, rules: &Rules) -> bool {
    let base = header.base_offset;
    let live_from = expected.max(rules.log_start);
    let in_sequence = base == expected
        || (base > expected
            && (rules.allow_gaps
                || base <= live_from
                || damage::covered(rules.known_gaps, live_from, base)));
    in_sequence
        && header.last_offset_delta >= 0
        && has_next_offset(header)
        && rules
            .next_base
            .is_none_or(|next| header.next_offset() <= next)
}

/// Whether the offset after the batch exists: a log never holds offset `i64::MAX`
/// (its end offset, one past the last record, could not be written down).
pub(crate) fn has_next_offset(header: &BatchHeader) -> bool {
    header
        .base_offset
        .checked_add(i64::from(header.last_offset_delta))
        .and_then(|last| last.checked_add(1))
        .is_some()
}
