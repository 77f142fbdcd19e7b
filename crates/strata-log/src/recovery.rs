//! Loading segments on open: cheap sanity checks for trusted segments, full scans
//! (length + CRC + monotonic offsets) for untrusted ones, which find damage (moved
//! aside by `load.rs`) and torn tails (truncated).

use std::io;
use std::os::unix::fs::FileExt;

use strata_proto::batch::{control, BatchHeader, HEADER_SIZE};

use crate::check::scan_file;
pub(crate) use crate::check::{DamagedBytes, Rules};
use crate::producer_state::ProducerStateTable;
use crate::scan::{HeaderScanner, Step};
use crate::segment::Segment;
use crate::transactions::CompletedTxn;

/// Outcome of scanning a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanOutcome {
    /// Every byte of the file is a valid batch.
    Intact,
    /// The file ends in an incomplete or bad batch with nothing good after it; the
    /// caller truncates it to `valid_bytes` (the segment's state already ends there). `complete` when the cut batch was whole (its CRC or
    /// offsets were wrong, so it was damaged rather than torn).
    Truncated { valid_bytes: u64, complete: bool },
    /// Damaged bytes with good batches after them (or at the end of a sealed segment).
    /// Nothing was changed: the caller moves them aside and scans again.
    Damaged(Vec<DamagedBytes>),
}

/// Rebuilds a segment's state and indexes (which must be fresh and empty) by scanning
/// its whole `.log` (length, CRC-32C if asked, offsets continuing the log).
///
/// Without `allow_gaps` every batch must start exactly where the previous one ended
/// (or after a known damaged range); that is how damage to the base offset (the one
/// header field the CRC does not cover) is caught in a log that was never compacted.
///
/// At a bad batch: with `resync`, the scan looks forward for the next good batch
/// (`resync.rs`); found, the bad bytes are reported as [`ScanOutcome::Damaged`]
/// (scanning on for more). Not found, the last segment is to be truncated there (a
/// torn tail) and a sealed segment reports the rest of its file as damaged.
pub(crate) fn rebuild_segment(segment: &mut Segment, rules: &Rules) -> io::Result<ScanOutcome> {
    let log = segment.log.get()?;
    let file_len = log.metadata()?.len();
    segment.size = 0;
    segment.next_offset = segment.base_offset;
    let base = segment.base_offset;
    let scan = scan_file(&log, file_len, base, rules, &mut |position, header| {
        segment.track_batch(position, header, rules.index_interval);
        Ok(())
    })?;
    if !scan.damaged.is_empty() {
        return Ok(ScanOutcome::Damaged(scan.damaged));
    }
    segment.size = scan.valid_end;
    if rules.verify_crc {
        segment.mark_verified(0, scan.valid_end);
    }
    segment.roll_base_ms = first_batch_timestamp(segment)?;
    segment.append_time_entry_if_newer();
    segment.index.write_pending()?;
    segment.time_index.write_pending()?;
    if scan.valid_end < file_len {
        return Ok(ScanOutcome::Truncated {
            valid_bytes: scan.valid_end,
            complete: scan.tail_complete,
        });
    }
    Ok(ScanOutcome::Intact)
}

/// Cheap consistency check of a sealed segment opened with its indexes:
/// the last index entries must point at real batches inside the file and below the
/// next segment's base offset. Costs two small reads.
pub(crate) fn sealed_segment_is_sane(segment: &Segment, next_base: i64) -> io::Result<bool> {
    if segment.size == 0 {
        return Ok(segment.index.len() == 0);
    }
    if !indexes_are_valid(segment, next_base)? {
        return Ok(false);
    }
    let Some(first) = read_header(segment, 0)? else {
        return Ok(false);
    };
    if first.base_offset < segment.base_offset {
        return Ok(false);
    }
    if let Some(entry) = segment.index.last() {
        let position = u64::from(entry.position);
        let header = read_header(segment, position)?;
        let ok = header.is_some_and(|h| {
            h.base_offset == segment.base_offset + i64::from(entry.relative_offset)
                && position + h.total_size() as u64 <= segment.size
                && h.next_offset() <= next_base
        });
        if !ok {
            return Ok(false);
        }
    }
    if let Some(entry) = segment.time_index.last() {
        if segment.base_offset + i64::from(entry.relative_offset) >= next_base {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Checks every entry of both indexes (one sequential read of each file): offset
/// index entries strictly increasing in relative offset and position, positions inside
/// the file, offsets below `next_base`; time index entries non-decreasing in timestamp
/// and offset, offsets below `next_base`. A damaged entry would otherwise send every
/// lookup in its range to a position that is not a batch boundary. Logs a warning on
/// failure; the caller rebuilds the indexes from the `.log`.
pub(crate) fn indexes_are_valid(segment: &Segment, next_base: i64) -> io::Result<bool> {
    let base = segment.base_offset;
    let size = segment.size;
    let in_segment = |rel: u32| base + i64::from(rel) < next_base;
    let offsets_ok = segment.index.entries_pass(|prev, e| {
        let ordered =
            prev.is_none_or(|p| e.relative_offset > p.relative_offset && e.position > p.position);
        ordered && u64::from(e.position) < size && in_segment(e.relative_offset)
    })?;
    let times_ok = offsets_ok
        && segment.time_index.entries_pass(|prev, e| {
            let ordered = prev.is_none_or(|p| {
                e.timestamp >= p.timestamp && e.relative_offset >= p.relative_offset
            });
            ordered && in_segment(e.relative_offset)
        })?;
    if !times_ok {
        let file = if offsets_ok {
            segment.time_index.path()
        } else {
            segment.index.path()
        };
        tracing::warn!(
            file = %file.display(),
            "index entry out of order or outside its segment; rebuilding the indexes from the log"
        );
    }
    Ok(times_ok)
}

/// Loads the tail of a cleanly closed active segment: scans headers from the last
/// indexed batch to the end of the file. Returns `false` when the tail is not a clean
/// sequence of batches ending exactly at the file size (the caller then rebuilds).
pub(crate) fn load_active_tail(segment: &mut Segment) -> io::Result<bool> {
    if !indexes_are_valid(segment, i64::MAX)? {
        return Ok(false);
    }
    let start = match segment.index.last() {
        Some(entry) => {
            let position = u64::from(entry.position);
            match read_header(segment, position)? {
                Some(h)
                    if h.base_offset == segment.base_offset + i64::from(entry.relative_offset) =>
                {
                    position
                }
                _ => return Ok(false),
            }
        }
        None => 0,
    };
    let log = segment.log.get()?;
    let mut scanner = HeaderScanner::new(&log, start, segment.size);
    let mut next = segment.base_offset;
    loop {
        match scanner.next_step()? {
            Step::End => break,
            Step::Damaged { .. } => return Ok(false),
            Step::Batch { header, .. } => {
                if header.base_offset < next || header.last_offset_delta < 0 {
                    return Ok(false);
                }
                next = header.next_offset();
                if header.max_timestamp > segment.max_timestamp {
                    segment.max_timestamp = header.max_timestamp;
                    segment.offset_of_max_timestamp = header.base_offset;
                }
                segment.bytes_since_index += header.total_size() as u64;
            }
        }
    }
    segment.next_offset = next;
    segment.roll_base_ms = first_batch_timestamp(segment)?;
    Ok(true)
}

/// The first batch's max timestamp: what `segment.ms` is measured from after a reopen.
pub(crate) fn first_batch_timestamp(segment: &Segment) -> io::Result<Option<i64>> {
    Ok(read_header(segment, 0)?
        .map(|h| h.max_timestamp)
        .filter(|ts| *ts >= 0))
}

/// Parses the batch header at `position`, `None` if there is no valid header there.
fn read_header(segment: &Segment, position: u64) -> io::Result<Option<BatchHeader>> {
    if position + HEADER_SIZE as u64 > segment.size {
        return Ok(None);
    }
    let mut buf = [0u8; HEADER_SIZE];
    segment.log.get()?.read_exact_at(&mut buf, position)?;
    Ok(BatchHeader::parse(&buf).ok())
}

/// Feeds the headers of every batch of `segment` with a producer id into `table`, in
/// log order, with the marker of every control batch; `completed` hears of every
/// transaction a marker ends. Stops quietly at bytes that do not parse: recovery has
/// already moved damage aside, so that only happens if the file changed under us.
pub(crate) fn scan_producer_state(
    segment: &Segment,
    table: &mut ProducerStateTable,
    completed: &mut dyn FnMut(CompletedTxn),
) -> io::Result<()> {
    let file = segment.log.get()?;
    let mut scanner = HeaderScanner::new(&file, 0, segment.size);
    while let Step::Batch { header, position } = scanner.next_step()? {
        let marker = if header.is_control() {
            let body = scanner.body_prefix(position, &header, control::MARKER_BODY_PREFIX)?;
            control::parse_marker(&header, body)
        } else {
            None
        };
        if let Some(txn) = table.apply(&header, header.base_offset, marker) {
            completed(txn);
        }
    }
    Ok(())
}
