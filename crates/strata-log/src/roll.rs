//! Rolling segments (size, age, offset range) and the flush split: what to sync is
//! captured under the caller's lock, synced without it, then recorded.

use crate::error::LogError;
use crate::log::{Log, CHECKPOINT_INTERVAL};
use crate::segment::Segment;
use crate::slice::FlushTask;

impl Log {
    pub(crate) fn roll_if_needed(
        &mut self,
        incoming: u64,
        last_offset: i64,
        now_ms: i64,
    ) -> Result<(), LogError> {
        let segment_bytes = self.config.effective_segment_bytes();
        let segment_ms = self.config.effective_segment_ms();
        let active = self.active();
        if active.is_empty() {
            return Ok(());
        }
        let full = active.size + incoming > segment_bytes;
        let old = active
            .roll_base_ms
            .is_some_and(|base| now_ms.saturating_sub(base) > segment_ms);
        // Index entries hold 32-bit relative offsets.
        let offsets_overflow = last_offset - active.base_offset > i64::from(i32::MAX);
        if full || old || offsets_overflow {
            self.roll()?;
        }
        Ok(())
    }

    /// Seals the active segment and starts a new one at the log end offset.
    pub(crate) fn roll(&mut self) -> Result<(), LogError> {
        let base = self.log_end_offset();
        let active = self.active_mut();
        active.seal()?;
        let segment = Segment::create(&self.files, &self.dir, base)?;
        self.segments.push(segment);
        Ok(())
    }

    /// Rolls a non-empty active segment that is older than `segment.ms`.
    pub fn maybe_roll(&mut self, now_ms: i64) -> Result<(), LogError> {
        let segment_ms = self.config.effective_segment_ms();
        let active = self.active();
        let old = active
            .roll_base_ms
            .is_some_and(|base| now_ms.saturating_sub(base) > segment_ms);
        if !active.is_empty() && old {
            self.roll()?;
        }
        Ok(())
    }

    /// Captures what a flush must sync: the files of every segment holding data past
    /// the recovery point (plus the indexes of sealed ones), and the log end offset as
    /// the target. Cheap; run [`FlushTask::sync`] without holding the partition lock,
    /// then call [`Log::complete_flush`].
    pub fn prepare_flush(&mut self) -> FlushTask {
        let target = self.log_end_offset();
        let recovery_point = self.recovery_point;
        let last = self.segments.len() - 1;
        let mut files = Vec::new();
        for (i, segment) in self.segments.iter_mut().enumerate() {
            if segment.next_offset <= recovery_point {
                continue;
            }
            // The active segment's index is rebuilt by recovery anyway; sealed segments'
            // indexes become trusted once the recovery point passes them.
            match segment.sync_files(i != last) {
                Ok(handles) => files.extend(handles),
                // An index we could not write is rebuilt or scanned around later; the
                // data itself still gets synced.
                Err(_) => files.push(std::sync::Arc::clone(&segment.log)),
            }
        }
        let epochs = self
            .epochs_sync
            .pending()
            .map(|written| crate::slice::EpochFileSync {
                dir: self.dir.clone(),
                written,
                synced: std::sync::Arc::clone(&self.epochs_sync.synced),
            });
        FlushTask {
            files,
            target,
            epochs,
        }
    }

    /// Records that everything below `flushed` is durable: advances the recovery
    /// point and persists it (atomic write + rename) unless it was persisted less than
    /// a second ago.
    pub fn complete_flush(&mut self, flushed: i64) -> Result<(), LogError> {
        let point = flushed.min(self.log_end_offset());
        if point <= self.recovery_point {
            return Ok(());
        }
        self.recovery_point = point;
        let due = self
            .checkpoint_written_at
            .is_none_or(|t| t.elapsed() >= CHECKPOINT_INTERVAL);
        if due {
            self.write_checkpoint(point)?;
            self.checkpoint_written_at = Some(std::time::Instant::now());
        }
        Ok(())
    }
}
