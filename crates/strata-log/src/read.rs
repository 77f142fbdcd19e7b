//! Read paths: fetch slices and timestamp lookups.

use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;
use strata_proto::batch::{decode_record_set, BatchHeader, OffsetRule};

use crate::error::LogError;
use crate::log::Log;
use crate::scan::{HeaderScanner, Step};
use crate::segment::Segment;
use crate::slice::FileSlice;

impl Log {
    /// Computes the file range to serve a fetch at `offset`.
    ///
    /// Returns whole batches from ONE segment, starting with the batch that contains
    /// `offset` (so the first batch may start below it), keeping only batches whose last
    /// offset is below `max_offset` (the high watermark, exclusive) and at most
    /// `max_bytes` in total — except that with `min_one_batch` the first batch is
    /// returned even when larger (KIP-74).
    ///
    /// `Ok(None)` when `offset` is the log end or at/after `max_offset`, or nothing fits.
    /// `Err(OffsetOutOfRange)` when `offset` is below the log start or past the log end.
    /// The slice covers only bytes already written, so it can be read without the lock.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset: i64,
        min_one_batch: bool,
    ) -> Result<Option<FileSlice>, LogError> {
        let (start, end) = (self.log_start_offset(), self.log_end_offset());
        if offset < start || offset > end {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: start,
                log_end: end,
            });
        }
        if offset == end || offset >= max_offset {
            return Ok(None);
        }
        for segment in &self.segments[self.segment_index_for(offset)..] {
            if let Some((position, first)) = segment.find_batch(offset)? {
                return slice_from(
                    segment,
                    position,
                    &first,
                    max_bytes,
                    max_offset,
                    min_one_batch,
                );
            }
            // `offset` falls in a gap after this segment's last batch: try the next one.
        }
        Ok(None)
    }

    /// ListOffsets by time: the first record whose timestamp is >= `timestamp`, as
    /// `(offset, record timestamp)`. `None` when every record is older.
    ///
    /// The per-segment max timestamp picks the segment, the time index and offset index
    /// pick the starting batch, batch headers narrow it to one batch, and only that batch
    /// is decoded (decompressed if needed) to find the exact record.
    /// Records below the log start offset are never returned.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, LogError> {
        let log_start = self.log_start_offset;
        for segment in &self.segments {
            if segment.max_timestamp < timestamp
                || segment.is_empty()
                || segment.next_offset <= log_start
            {
                continue;
            }
            // Entries older than the target mark batches that cannot hold a match.
            let from_offset = segment
                .time_index
                .search(|e| e.timestamp < timestamp)?
                .map(|e| segment.base_offset + i64::from(e.relative_offset))
                .unwrap_or(segment.base_offset);
            let Some((from, _)) = segment.find_batch(from_offset)? else {
                continue;
            };
            let file = segment.log.get()?;
            let mut scanner = HeaderScanner::new(&file, from, segment.size);
            loop {
                match scanner.next_step()? {
                    Step::Batch { position, header } => {
                        if header.max_timestamp < timestamp || header.last_offset() < log_start {
                            continue;
                        }
                        if let Some(found) = first_record_at_or_after(
                            segment,
                            position,
                            &header,
                            timestamp,
                            log_start,
                            self.config.max_message_bytes as usize,
                        )? {
                            return Ok(Some(found));
                        }
                    }
                    Step::End => break,
                    Step::Damaged { position, reason } => {
                        return Err(LogError::Corrupt(format!(
                            "segment {} at {position}: {reason}",
                            segment.base_offset
                        )))
                    }
                }
            }
        }
        Ok(None)
    }

    /// ListOffsets MAX_TIMESTAMP: `(timestamp, offset)` of the first record carrying the
    /// largest timestamp in the log, `None` for a log without timestamps.
    pub fn max_timestamp(&self) -> Result<Option<(i64, i64)>, LogError> {
        let mut best: Option<&Segment> = None;
        for segment in &self.segments {
            if segment.max_timestamp >= 0
                && best.is_none_or(|b| segment.max_timestamp > b.max_timestamp)
            {
                best = Some(segment);
            }
        }
        let Some(segment) = best else {
            return Ok(None);
        };
        let fallback = (segment.max_timestamp, segment.offset_of_max_timestamp);
        let Some((position, header)) = segment.find_batch(segment.offset_of_max_timestamp)? else {
            return Ok(Some(fallback));
        };
        Ok(Some(
            first_record_at_or_after(
                segment,
                position,
                &header,
                segment.max_timestamp,
                0,
                self.config.max_message_bytes as usize,
            )?
            .map(|(offset, ts)| (ts, offset))
            .unwrap_or(fallback),
        ))
    }
}

fn slice_from(
    segment: &Segment,
    position: u64,
    first: &BatchHeader,
    max_bytes: usize,
    max_offset: i64,
    min_one_batch: bool,
) -> Result<Option<FileSlice>, LogError> {
    if first.last_offset() >= max_offset {
        return Ok(None);
    }
    // Every batch before the first one reaching max_offset may be served.
    let offset_bound = if max_offset < segment.next_offset {
        match segment.find_batch(max_offset)? {
            Some((p, _)) => p,
            None => segment.size,
        }
    } else {
        segment.size
    };
    let byte_limit = position.saturating_add(max_bytes as u64);
    let mut end = if byte_limit >= offset_bound {
        offset_bound
    } else {
        segment
            .batch_end_at_or_before(position, byte_limit)?
            .min(offset_bound)
    };
    if end <= position {
        if !min_one_batch {
            return Ok(None);
        }
        end = position + first.total_size() as u64;
    }
    let file = segment.log.get()?;
    let next_offset = if end >= segment.size {
        segment.next_offset
    } else {
        let mut buf = [0u8; strata_proto::batch::HEADER_SIZE];
        crate::no_wait::read_exact_at(&file, &mut buf, end)?;
        BatchHeader::parse(&buf)?.base_offset
    };
    Ok(Some(FileSlice {
        file,
        position,
        len: (end - position) as usize,
        first_offset: first.base_offset,
        last_offset: next_offset - 1,
        verified: Arc::clone(&segment.verified),
    }))
}

/// Within one batch, the first record at or after `min_offset` with timestamp >=
/// `timestamp`. The batch is validated (records decompressed with at most `limit`
/// bytes of output) before it is decoded.
fn first_record_at_or_after(
    segment: &Segment,
    position: u64,
    header: &BatchHeader,
    timestamp: i64,
    min_offset: i64,
    limit: usize,
) -> Result<Option<(i64, i64)>, LogError> {
    if header.is_log_append_time() {
        // Every record of the batch carries the append time.
        return Ok((header.max_timestamp >= timestamp)
            .then_some((header.base_offset.max(min_offset), header.max_timestamp)));
    }
    let mut buf = vec![0u8; header.total_size()];
    segment.log.get()?.read_exact_at(&mut buf, position)?;
    let set = decode_record_set(&Bytes::from(buf), limit, OffsetRule::Compacted).map_err(|e| {
        LogError::Corrupt(format!(
            "cannot decode batch at offset {}: {e}",
            header.base_offset
        ))
    })?;
    Ok(set
        .records
        .iter()
        .find(|r| r.timestamp >= timestamp && r.offset >= min_offset)
        .map(|r| (r.offset, r.timestamp)))
}
