//! ISR changes proposed by the leader (expand on catch-up, shrink on lag) and applied
//! once the controller has committed them. Only one change is in flight at a time;
//! while it is, the high watermark waits for the union of the old and proposed ISR
//! (KIP-497's "maximal ISR"), which is safe whichever way the controller decides.

use crate::error::ReplicationError;
use crate::leader::{check_assignment, IsrApplied, LeaderState};

impl LeaderState {
    /// Proposes `replica_id` for the ISR if it qualifies: not a member yet, no other
    /// change pending, and its log end is at or past both the high watermark and the
    /// start of this leader epoch (so it holds everything committed, including what
    /// this leader inherited).
    pub(crate) fn maybe_expand(&mut self, replica_id: i32) -> Option<Vec<i32>> {
        if self.pending_isr.is_some() || self.isr.contains(&replica_id) {
            return None;
        }
        let leo = self.followers.get(&replica_id)?.log_end_offset?;
        if leo < self.high_watermark || leo < self.epoch_start_offset {
            return None;
        }
        let mut proposed = self.isr.clone();
        proposed.push(replica_id);
        self.pending_isr = Some(proposed.clone());
        Some(proposed)
    }

    /// Proposes an ISR without the followers that are out of sync: not at the
    /// leader's log end and not caught up within the last `replica_lag_time_max_ms`.
    /// The leader always stays. `None` when every member is in sync or another
    /// change is pending; otherwise the proposal becomes the pending change.
    pub fn maybe_shrink(&mut self, now_ms: i64, replica_lag_time_max_ms: i64) -> Option<Vec<i32>> {
        if self.pending_isr.is_some() {
            return None;
        }
        let leader_leo = self.log_end_offset;
        let out_of_sync = |id: &i32| {
            *id != self.leader_id
                && self.followers.get(id).is_none_or(|f| {
                    f.log_end_offset != Some(leader_leo)
                        && now_ms.saturating_sub(f.last_caught_up_time_ms) > replica_lag_time_max_ms
                })
        };
        if !self.isr.iter().any(out_of_sync) {
            return None;
        }
        let proposed: Vec<i32> = self
            .isr
            .iter()
            .copied()
            .filter(|id| !out_of_sync(id))
            .collect();
        self.pending_isr = Some(proposed.clone());
        Some(proposed)
    }

    /// The controller committed `isr` at `partition_epoch` (the answer to our
    /// proposal, or a change it made itself, e.g. removing a fenced broker). Ignored
    /// unless `partition_epoch` is newer than the one held. Clears the pending change;
    /// the high watermark may move if a lagging member left.
    pub fn apply_isr(
        &mut self,
        isr: Vec<i32>,
        partition_epoch: i32,
    ) -> Result<IsrApplied, ReplicationError> {
        if partition_epoch <= self.partition_epoch {
            return Ok(IsrApplied::Stale);
        }
        check_assignment(self.leader_id, &self.replicas, &isr)?;
        self.isr = isr;
        self.partition_epoch = partition_epoch;
        self.pending_isr = None;
        let hw_advanced = self.maybe_increment_hw();
        Ok(IsrApplied::Applied { hw_advanced })
    }

    /// The pending change failed (AlterPartition refused or lost): forget it so a new
    /// one can be proposed. Returns whether one was pending.
    pub fn abort_pending_isr(&mut self) -> bool {
        self.pending_isr.take().is_some()
    }
}
