//! Damaged batches found while serving: a fetch whose batch failed its CRC-32C
//! (`network/verify.rs`) and the scrubber (`scrubber.rs`). Both end here: the
//! partition's log moves the damage aside (`strata_log::Log::repair_segment`); a
//! follower then truncates to the lost offsets and fetches them again from its leader
//! (`role.rs`); a leader asks the controller to hand the partition to an in-sync
//! replica that still has them ([`hand_over_damaged_leaderships`]), then does the same
//! as a follower. Without such a replica it keeps the gap, which fetches skip.

use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use strata_log::{DamagedBytes, LogError};

use super::Partition;

impl Partition {
    /// If the segment file `file` is this partition's, checks it again under the lock
    /// and moves its damage aside (the active segment is sealed first). `None` when it
    /// is not this partition's. Blocking.
    pub fn repair_file_blocking(
        &self,
        file: &Arc<File>,
    ) -> Result<Option<Vec<DamagedBytes>>, LogError> {
        let mut guard = self.log.lock();
        let Some(log) = guard.as_mut() else {
            return Ok(None);
        };
        let segment = match log.sealed_segment_of(file) {
            Some(segment) => segment,
            // Damage in the active segment: sealed first, then repaired alike.
            None => match log.seal_active_holding(file)? {
                Some(segment) => segment,
                None => return Ok(None),
            },
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
        tracing::error!(
            "a fetched batch failed its check in a segment no longer in any log; not repaired"
        );
    });
}

/// Set when some partition leader lost log to damage: the broker's heartbeat loop then
/// runs [`hand_over_damaged_leaderships`]. Process-wide, only a hint to look.
static HAND_OVER_WANTED: AtomicBool = AtomicBool::new(false);

/// Notes that a leader lost log to damage (see [`HAND_OVER_WANTED`]).
pub(super) fn want_hand_over() {
    HAND_OVER_WANTED.store(true, Ordering::Release);
}

/// Whether a leader lost log to damage since the last call.
pub fn hand_over_wanted() -> bool {
    HAND_OVER_WANTED.swap(false, Ordering::AcqRel)
}

/// Every partition this broker leads and lost log to damage in (see
/// [`Partition::take_resignation`]) is handed to an in-sync replica that still has the
/// lost batches; this replica leaves the ISR and fetches them back as a follower.
pub async fn hand_over_damaged_leaderships(broker: Arc<crate::Broker>) {
    for p in broker.replicas.all() {
        let Some(leader_epoch) = p.take_resignation() else {
            continue;
        };
        let req = crate::controller::ControllerRequest::ResignLeadership {
            node_id: broker.config.node_id,
            topic_id: p.topic_id,
            partition: p.index,
            leader_epoch,
        };
        let timeout = std::time::Duration::from_secs(5);
        match broker.meta.request_within(&req, timeout).await {
            Ok(crate::controller::ControllerResponse::Committed { .. }) => {
                tracing::warn!(topic = %p.topic, partition = p.index, "this leader lost batches to damage: leadership goes to an in-sync replica that has them, if one is alive")
            }
            other => {
                tracing::error!(topic = %p.topic, partition = p.index, answer = ?other, "this leader lost batches to damage and could not hand the partition over; it keeps it, with the gap")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use strata_log::{Log, LogConfig};

    use super::super::wait_tests::{image, one_batch};
    use super::super::Partition;

    #[test]
    fn damage_found_by_a_leader_asks_for_a_hand_over_in_its_epoch_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path(), LogConfig::default(), false).unwrap();
        log.append(&one_batch(), 1).unwrap();
        let p = Arc::new(Partition::new("t".into(), uuid::Uuid::new_v4(), 0, log));
        p.update_role(&image(1, 4), 1, 1);
        assert_eq!(p.take_resignation(), None, "nothing lost");
        p.request_truncation();
        assert!(super::hand_over_wanted());
        assert!(!super::hand_over_wanted(), "the hint is taken once");
        assert_eq!(p.take_resignation(), Some(4));
        assert_eq!(p.take_resignation(), None, "asked once");
        // Leadership moved on before the request went out: nothing to resign.
        p.request_truncation();
        p.update_role(&image(2, 5), 1, 1);
        assert_eq!(p.take_resignation(), None);
        // As a follower, damage means truncating and fetching again instead.
        p.request_truncation();
        assert_eq!(p.following(), Some((2, 5, true)));
        assert_eq!(p.take_resignation(), None);
    }
}
