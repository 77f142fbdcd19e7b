//! Removing data: retention by time and size, and truncation (for replication).

use std::time::UNIX_EPOCH;

use crate::checkpoint;
use crate::error::LogError;
use crate::log::Log;
use crate::recovery::{rebuild_segment, Rules, ScanOutcome};
use crate::segment::Segment;
use crate::slice::RetentionOutcome;

impl Log {
    /// Deletes whole sealed segments (never the active one), oldest first, while the
    /// oldest is past `retention.ms` (judged by its newest timestamp, or its file's
    /// modification time when it has none) or removing it keeps the log at or above
    /// `retention.bytes`. Moves the log start offset. Deletes nothing unless the
    /// cleanup policy includes `delete`.
    pub fn apply_retention(&mut self, now_ms: i64) -> Result<RetentionOutcome, LogError> {
        let mut outcome = RetentionOutcome::default();
        if !self.config.cleanup_delete {
            outcome.log_start_offset = self.log_start_offset;
            return Ok(outcome);
        }
        let retention_ms = self.config.retention_ms;
        let retention_bytes = self.config.retention_bytes;
        while self.segments.len() > 1 {
            let oldest = &self.segments[0];
            let expired =
                retention_ms >= 0 && now_ms.saturating_sub(newest_timestamp(oldest)) > retention_ms;
            let oversized =
                retention_bytes >= 0 && self.size_bytes - oldest.size >= retention_bytes as u64;
            if !(expired || oversized) {
                break;
            }
            let segment = self.segments.remove(0);
            segment.delete_files(&self.dir)?;
            crate::quarantine::remove_corrupt_files(&self.dir, segment.base_offset)?;
            self.size_bytes -= segment.size;
            outcome.deleted_segments += 1;
            outcome.deleted_bytes += segment.size;
        }
        self.log_start_offset = self.log_start_offset.max(self.segments[0].base_offset);
        self.recovery_point = self.recovery_point.max(self.log_start_offset);
        self.truncate_epochs_from_start(self.log_start_offset)?;
        self.forget_damage_outside_log()?;
        self.clamp_high_watermark();
        outcome.log_start_offset = self.log_start_offset;
        Ok(outcome)
    }

    /// Removes every batch at or after `offset`. A batch that straddles `offset` is
    /// removed whole, so the new log end may be below `offset`. An `offset` at or below
    /// the first segment's base empties the log and restarts it at `offset` (see
    /// [`Log::truncate_fully_and_start_at`]). The producer state is rebuilt from what
    /// remains, indexes are rebuilt, leader epochs starting at or after the new end are
    /// forgotten and the high watermark is lowered to the new end if above it.
    ///
    /// An `offset` at or past the log end removes no data, but still drops an epoch
    /// that starts at the log end with no batches yet (one this replica began as
    /// leader): as a follower it must not keep an epoch the new leader may never have.
    pub fn truncate_to(&mut self, offset: i64) -> Result<(), LogError> {
        if offset >= self.log_end_offset() {
            return self.truncate_epochs_from_end(self.log_end_offset());
        }
        if offset <= self.segments[0].base_offset {
            return self.truncate_fully_and_start_at(offset);
        }
        let keep = self.segment_index_for(offset);
        for segment in self.segments.drain(keep + 1..) {
            segment.delete_files(&self.dir)?;
            self.size_bytes -= segment.size;
        }
        let segment = &self.segments[keep];
        let cut = match segment.find_batch(offset)? {
            Some((position, _)) => position,
            None => segment.size,
        };
        segment.log.get()?.set_len(cut)?;
        let old_size = segment.size;
        let mut rebuilt = Segment::open_for_rebuild(&self.files, &self.dir, segment.base_offset)?;
        let base = rebuilt.base_offset;
        // Bytes before `cut` were validated when written; only headers are needed.
        // Gaps allowed: the segment may have been compacted.
        let rules = Rules {
            index_interval: self.config.index_interval_bytes,
            expected_next: base,
            verify_crc: false,
            allow_gaps: true,
            known_gaps: &[],
            log_start: base,
            next_base: None,
            resync: false,
        };
        if let ScanOutcome::Truncated { valid_bytes, .. } = rebuild_segment(&mut rebuilt, &rules)? {
            rebuilt.log.get()?.set_len(valid_bytes)?;
        }
        self.size_bytes = self.size_bytes - old_size + rebuilt.size;
        self.segments[keep] = rebuilt;
        let end = self.log_end_offset();
        if self.log_start_offset > end {
            self.log_start_offset = end;
            checkpoint::write_log_start(&self.dir, end)?;
        }
        let lowered = self.recovery_point > end || self.high_watermark > end;
        self.recovery_point = self.recovery_point.min(end);
        self.clamp_high_watermark();
        if lowered {
            self.write_checkpoint(self.recovery_point)?;
        }
        self.truncate_epochs_from_end(end)?;
        self.forget_damage_outside_log()?;
        self.reset_cleaner_to(end)?;
        // Truncated batches may have been the ones a producer's state pointed at.
        self.rebuild_producer_state()?;
        Ok(())
    }

    /// Deletes every segment and restarts the log, empty, at `offset` (which may lie
    /// beyond the current log end: a follower whose leader's log starts past its own
    /// end). Log start, recovery point and high watermark all become `offset`; the
    /// producer state and the leader epoch cache are emptied.
    pub fn truncate_fully_and_start_at(&mut self, offset: i64) -> Result<(), LogError> {
        if offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: self.log_start_offset,
                log_end: self.log_end_offset(),
            });
        }
        for segment in self.segments.drain(..) {
            segment.delete_files(&self.dir)?;
        }
        self.segments
            .push(Segment::create(&self.files, &self.dir, offset)?);
        self.size_bytes = 0;
        self.log_start_offset = offset;
        self.recovery_point = offset;
        self.high_watermark = offset;
        self.write_checkpoint(offset)?;
        // A persisted log start from DeleteRecords may lie above the new start.
        checkpoint::write_log_start(&self.dir, offset)?;
        self.reset_cleaner_to(offset)?;
        self.forget_damage_outside_log()?;
        self.producers.clear();
        // Last: if a crash comes first, open cuts the stale entries back to the new
        // (empty) log anyway.
        self.update_epochs(|cache| cache.clear())?;
        Ok(())
    }

    /// DeleteRecords: moves the log start offset up to `offset` (never down), deletes
    /// sealed segments that lie entirely below it, and persists it (fsynced
    /// `log-start-offset`), so that reads below it fail with `OffsetOutOfRange` now and
    /// after a restart. `offset` may be the log end offset (everything is deleted);
    /// above it is `OffsetOutOfRange`. Returns the log start offset afterwards. The
    /// caller (broker) checks `offset` against the high watermark. The leader epoch in
    /// force at `offset` is clamped to start there.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, LogError> {
        let end = self.log_end_offset();
        if offset > end || offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: self.log_start_offset,
                log_end: end,
            });
        }
        if offset <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        // Persisted first: a crash after deleting segments but before this write
        // would otherwise still serve the records of a partly deleted segment.
        checkpoint::write_log_start(&self.dir, offset)?;
        self.log_start_offset = offset;
        while self.segments.len() > 1 && self.segments[1].base_offset <= offset {
            let segment = self.segments.remove(0);
            segment.delete_files(&self.dir)?;
            crate::quarantine::remove_corrupt_files(&self.dir, segment.base_offset)?;
            self.size_bytes -= segment.size;
        }
        self.recovery_point = self.recovery_point.max(offset);
        self.truncate_epochs_from_start(offset)?;
        self.clamp_high_watermark();
        self.forget_damage_outside_log()?;
        Ok(offset)
    }

    /// Forgets cleaner progress past `offset` (after a truncation), so data appended
    /// there later is treated as dirty.
    fn reset_cleaner_to(&mut self, offset: i64) -> Result<(), LogError> {
        if self.cleaner.first_dirty > offset {
            self.cleaner.first_dirty = offset;
            checkpoint::write_cleaner(&self.dir, self.cleaner)?;
        }
        Ok(())
    }
}

/// What `retention.ms` compares against for a segment.
fn newest_timestamp(segment: &Segment) -> i64 {
    if segment.max_timestamp >= 0 {
        return segment.max_timestamp;
    }
    std::fs::metadata(segment.log.path())
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .unwrap_or(i64::MAX)
}
