//! The partition's high watermark as stored with the log: the broker's replication
//! state sets it; the log keeps it within `[log start, log end]`, lowers it on
//! truncation and persists it next to the recovery point.

use crate::checkpoint;
use crate::error::LogError;
use crate::log::Log;

impl Log {
    /// The high watermark: consumers may read below it. A freshly created log reports
    /// 0; a reopened log the value last persisted (by [`Log::complete_flush`],
    /// [`Log::checkpoint_high_watermark`] or [`Log::close`]) capped at the recovered log
    /// end, or the log start offset when none was stored. It is not raised by appends:
    /// the broker sets it from its replication state (a leader alone in the ISR sets
    /// it to the log end).
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    /// Sets the high watermark, clamped to `[log start, log end]`; returns the value
    /// kept. It may go down (a follower copies the leader's, which is lower after a
    /// leader change). Persisted lazily: see [`Log::checkpoint_high_watermark`].
    pub fn set_high_watermark(&mut self, high_watermark: i64) -> i64 {
        self.high_watermark = high_watermark.clamp(self.log_start_offset, self.log_end_offset());
        self.producers.on_high_watermark(self.high_watermark);
        self.high_watermark
    }

    /// Persists the high watermark (with the recovery point) if it changed since it
    /// was last written; returns whether it wrote. Meant to run periodically, like
    /// Kafka's `replica.high.watermark.checkpoint.interval.ms`: whatever it has not
    /// written yet comes back lower after a crash, which is safe.
    pub fn checkpoint_high_watermark(&mut self) -> Result<bool, LogError> {
        if self.hw_checkpointed == Some(self.high_watermark) {
            return Ok(false);
        }
        self.write_checkpoint(self.recovery_point)?;
        Ok(true)
    }

    /// Writes the recovery checkpoint file: `recovery_point` and the high watermark.
    pub(crate) fn write_checkpoint(&mut self, recovery_point: i64) -> Result<(), LogError> {
        checkpoint::write(&self.dir, recovery_point, self.high_watermark)?;
        self.hw_checkpointed = Some(self.high_watermark);
        Ok(())
    }

    /// Keeps the high watermark inside `[log start, log end]` after either moved.
    pub(crate) fn clamp_high_watermark(&mut self) {
        self.high_watermark = self
            .high_watermark
            .clamp(self.log_start_offset, self.log_end_offset());
        self.producers.on_high_watermark(self.high_watermark);
    }
}
