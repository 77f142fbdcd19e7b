//! Damaged batches found while serving: a fetch whose batch failed its CRC-32C
//! (`network/verify.rs`) and the scrubber (`scrubber.rs`). Both end here: the
//! partition's log moves the damage aside (`strata_log::Log::repair_segment`); a
//! follower then truncates to the lost offsets and fetches them again from its leader
//! (`role.rs`), a leader keeps the gap, which fetches skip.

use std::fs::File;
use std::sync::Arc;

use strata_log::{DamagedBytes, LogError};

use super::Partition;

impl Partition {
    /// If the sealed segment file `file` is this partition's, checks it again under the
    /// lock and moves its damage aside. `None` when it is not this partition's (or is
    /// its active segment, which is not repaired while written to). Blocking.
    pub fn repair_file_blocking(
        &self,
        file: &Arc<File>,
    ) -> Result<Option<Vec<DamagedBytes>>, LogError> {
        let mut guard = self.log.lock();
        let Some(log) = guard.as_mut() else {
            return Ok(None);
        };
        let Some(segment) = log.sealed_segment_of(file) else {
            return Ok(None);
        };
        let moved = log.repair_segment(&segment)?;
        self.refresh_offsets(log);
        drop(guard);
        if !moved.is_empty() {
            self.request_truncation();
        }
        Ok(Some(moved))
    }

    /// Checks every sealed segment without the lock (`pace` throttles the reads) and
    /// repairs the damaged ones under it. Returns how many damaged ranges were moved
    /// aside. Blocking.
    pub fn scrub_blocking(&self, pace: &mut dyn FnMut(u64)) -> Result<usize, LogError> {
        let segments = match self.log.lock().as_ref() {
            Some(log) => log.sealed_segments(),
            None => return Ok(0),
        };
        let mut moved = 0;
        for segment in segments {
            if segment.check(pace)?.is_empty() {
                continue;
            }
            let mut guard = self.log.lock();
            let Some(log) = guard.as_mut() else {
                return Ok(moved);
            };
            moved += log.repair_segment(&segment)?.len();
            self.refresh_offsets(log);
        }
        if moved > 0 {
            self.request_truncation();
        }
        Ok(moved)
    }
}

/// A fetch response met a batch failing its check in `file`: finds the partition that
/// owns the file and repairs it, on a blocking thread.
pub fn repair_fetched_file(broker: Arc<crate::Broker>, file: Arc<File>) {
    tokio::task::spawn_blocking(move || {
        for p in broker.replicas.all() {
            match p.repair_file_blocking(&file) {
                Ok(None) => continue,
                Ok(Some(moved)) => {
                    if moved.is_empty() {
                        tracing::warn!(topic = %p.topic, partition = p.index, "a fetched batch failed its check, but the segment checks out now");
                    }
                    return;
                }
                Err(e) => {
                    tracing::error!(topic = %p.topic, partition = p.index, error = %e, "cannot repair a damaged segment");
                    return;
                }
            }
        }
        tracing::error!("a fetched batch failed its check in an active segment (or one no longer in a log); not repaired");
    });
}
