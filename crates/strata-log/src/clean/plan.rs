//! Which part of a log a clean may touch, and whether cleaning is due.

use crate::log::Log;
use crate::recovery::first_batch_timestamp;

/// The dirty section of a log: segments `start..end` (indexes into `Log::segments`),
/// never including the active segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DirtyRange {
    /// First segment holding offsets at or past the cleaner's first dirty offset.
    pub start: usize,
    /// First segment that may not be cleaned (active, too recent, or past the bound).
    pub end: usize,
}

impl Log {
    /// The dirty section as of `now_ms`, not reaching `max_offset` (exclusive; the
    /// caller's high watermark or last stable offset).
    pub(crate) fn dirty_range(&self, now_ms: i64, max_offset: i64) -> DirtyRange {
        let active = self.segments.len() - 1;
        let first_dirty = self.cleaner.first_dirty;
        let start = self.segments[..active].partition_point(|s| s.next_offset <= first_dirty);
        let lag = self.config.min_compaction_lag_ms.max(0);
        let newest_allowed = now_ms.saturating_sub(lag);
        let mut end = start;
        while end < active {
            let segment = &self.segments[end];
            // A segment holding anything newer than the lag stops the clean, and so does
            // one reaching past the bound (the cleaner works on whole segments).
            if segment.next_offset > max_offset
                || (lag > 0 && segment.max_timestamp > newest_allowed)
            {
                break;
            }
            end += 1;
        }
        DirtyRange { start, end }
    }

    /// Share of dirty bytes in the cleanable part of the log (Kafka's cleanable ratio):
    /// `dirty / (clean + dirty)`, where clean bytes are the segments below the first
    /// dirty offset and dirty bytes the sealed segments from there that the minimum
    /// compaction lag allows cleaning. `None` for a log that is not compacted or has no
    /// sealed data.
    pub fn cleanable_ratio(&self, now_ms: i64) -> Option<f64> {
        if !self.config.cleanup_compact {
            return None;
        }
        let range = self.dirty_range(now_ms, i64::MAX);
        let clean: u64 = self.segments[..range.start].iter().map(|s| s.size).sum();
        let dirty: u64 = self.segments[range.start..range.end]
            .iter()
            .map(|s| s.size)
            .sum();
        let total = clean + dirty;
        (total > 0).then(|| dirty as f64 / total as f64)
    }

    /// Whether a dirty record has waited longer than `max.compaction.lag.ms` (judged by
    /// the first batch timestamp of each dirty sealed segment), which makes a clean due
    /// whatever the dirty ratio.
    pub fn must_clean(&self, now_ms: i64) -> bool {
        let max_lag = self.config.max_compaction_lag_ms;
        if !self.config.cleanup_compact || max_lag == i64::MAX {
            return false;
        }
        let range = self.dirty_range(now_ms, i64::MAX);
        self.segments[range.start..range.end].iter().any(|s| {
            // An unreadable header is left for the clean itself to report.
            first_batch_timestamp(s)
                .ok()
                .flatten()
                .is_some_and(|ts| now_ms.saturating_sub(ts) > max_lag)
        })
    }

    /// Whether the broker's cleaner should call [`Log::clean`] now: the log is compacted
    /// and its cleanable ratio exceeds `min.cleanable.dirty.ratio`, or
    /// [`Log::must_clean`], or a tombstone kept by the last clean has reached its delete
    /// horizon.
    pub fn needs_cleaning(&self, now_ms: i64) -> bool {
        if !self.config.cleanup_compact {
            return false;
        }
        let ratio_due = self
            .cleanable_ratio(now_ms)
            .is_some_and(|r| r > self.config.min_cleanable_dirty_ratio);
        let horizon_due = self.next_tombstone_horizon.is_some_and(|h| now_ms >= h);
        ratio_due || horizon_due || self.must_clean(now_ms)
    }

    /// The cleaner's first dirty offset: offsets below it have been compacted against
    /// everything up to it (persisted in `cleaner-offset-checkpoint`).
    pub fn first_dirty_offset(&self) -> i64 {
        self.cleaner.first_dirty.max(self.segments[0].base_offset)
    }
}
