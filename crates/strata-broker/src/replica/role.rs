//! A hosted partition's replication role: leader (with its ISR and high-watermark
//! state from `strata-replication`) or follower of another broker.
//!
//! Invariants:
//! - The role changes only in [`Partition::update_role`], called from the metadata
//!   apply hook before the new image is visible.
//! - `hw` (the consumer-visible end) only moves through the role: a leader's from its
//!   `LeaderState`, a follower's from what its leader reports, capped at its log end.
//! - Appends by a leader are stamped with its leader epoch; a follower only appends
//!   batches copied from its leader.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use strata_log::{Log, LogError};
use strata_meta::PartitionImage;
use strata_replication::{AckState, FetchOutcome, IsrApplied, LeaderInit, LeaderState};

use super::Partition;

/// How an `acks=all` wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replicated {
    /// The leader's rule decided (`Done`; `Wait` means the deadline passed).
    Verdict(AckState),
    /// Leadership moved (or a new epoch began) while waiting: the records may be
    /// replaced by the new leader's (`NOT_LEADER_OR_FOLLOWER`, the client retries).
    NotLeader,
    /// The partition was deleted while waiting (`UNKNOWN_TOPIC_OR_PARTITION`).
    Deleted,
}

impl Replicated {
    /// What a write waiting on this verdict answers: `None` once every in-sync replica
    /// has the records, else Kafka's error code and why.
    pub fn refusal(self) -> Option<(kafka_protocol::ResponseError, &'static str)> {
        use kafka_protocol::ResponseError as E;
        match self {
            Replicated::Verdict(AckState::Done) => None,
            Replicated::Verdict(AckState::Wait) => Some((
                E::RequestTimedOut,
                "the in-sync replicas did not all confirm in time",
            )),
            Replicated::Verdict(
                AckState::NotEnoughReplicas | AckState::NotEnoughReplicasAfterAppend,
            ) => Some((
                E::NotEnoughReplicasAfterAppend,
                "the in-sync replicas shrank below min.insync.replicas",
            )),
            Replicated::NotLeader => Some((
                E::NotLeaderOrFollower,
                "leadership moved while waiting for the in-sync replicas",
            )),
            Replicated::Deleted => Some((
                E::UnknownTopicOrPartition,
                "the partition was deleted while waiting for the in-sync replicas",
            )),
        }
    }
}

/// What this broker does for one partition.
#[derive(Debug, Default)]
pub enum Role {
    /// Not decided yet (just opened) or no leader known.
    #[default]
    None,
    /// This broker leads the partition.
    Leader(LeaderState),
    /// Another broker leads; this one copies its log.
    Follower {
        /// The leader's node id.
        leader: i32,
        /// The leader epoch being followed.
        leader_epoch: i32,
        /// The log must be truncated to the leader's epoch boundary before fetching.
        needs_truncation: bool,
    },
}

/// An ISR change the leader must ask the controller for.
#[derive(Debug, Clone)]
pub struct IsrRequest {
    /// Leader epoch the request is made in.
    pub leader_epoch: i32,
    /// Partition epoch it is based on.
    pub partition_epoch: i32,
    /// The ISR asked for.
    pub isr: Vec<i32>,
}

/// A leader's replication state, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderReport {
    /// Fewer in-sync replicas than replicas.
    pub under_replicated: bool,
    /// The largest number of records a follower is behind the leader's log end; followers
    /// that have not fetched under this leadership are not counted.
    pub max_follower_lag: i64,
    /// Fewer in-sync replicas than `min.insync.replicas`.
    pub under_min_isr: bool,
    /// The longest time, in milliseconds, a follower has not had everything the leader
    /// had (0 when every follower has it now).
    pub max_follower_lag_ms: i64,
}

impl Partition {
    /// Brings the role in line with the partition's entry in a new metadata image.
    /// Blocking (a new leader records its epoch in the log).
    pub fn update_role(&self, image: &PartitionImage, node_id: i32, min_insync: usize) {
        self.apply_role(image, node_id, min_insync);
        // `acks=all` waiters re-check: a leadership that moved answers them now.
        self.hw_changed.notify_waiters();
    }

    fn apply_role(&self, image: &PartitionImage, node_id: i32, min_insync: usize) {
        let now = crate::broker::now_ms();
        let mut role = self.role.lock();
        if image.leader == node_id {
            if let Role::Leader(state) = &mut *role {
                if state.leader_epoch() == image.leader_epoch {
                    // A config change reaches the leader's rule here, not only at the
                    // next leadership change.
                    state.set_min_insync_replicas(min_insync);
                    if let Ok(IsrApplied::Applied { hw_advanced: true }) =
                        state.apply_isr(image.isr.clone(), image.partition_epoch)
                    {
                        let generation = self.role_generation.load(Ordering::Acquire);
                        self.publish_hw(generation, state.high_watermark());
                    }
                    return;
                }
            }
            // Becoming leader: the epoch starts at the current log end.
            let (leo, hw, damaged) = {
                let mut guard = self.log.lock();
                let Some(log) = guard.as_mut() else { return };
                if let Err(e) = log.assign_leader_epoch(image.leader_epoch) {
                    tracing::error!(topic = %self.topic, partition = self.index, error = %e, "cannot start leader epoch");
                }
                self.latest_epoch
                    .store(log.latest_epoch().unwrap_or(-1), Ordering::Release);
                let damaged = !log.damaged_ranges().is_empty();
                (log.log_end_offset(), log.high_watermark(), damaged)
            };
            let init = LeaderInit {
                leader_id: node_id,
                leader_epoch: image.leader_epoch,
                partition_epoch: image.partition_epoch,
                replicas: image.replicas.clone(),
                isr: image.isr.clone(),
                min_insync_replicas: min_insync,
                log_end_offset: leo,
                high_watermark: hw,
                now_ms: now,
            };
            match LeaderState::new(init) {
                Ok(state) => {
                    tracing::info!(topic = %self.topic, partition = self.index, epoch = image.leader_epoch, "leading");
                    let hw = state.high_watermark();
                    self.leader_epoch
                        .store(image.leader_epoch, Ordering::Release);
                    self.set_role(&mut role, Role::Leader(state));
                    // A new leadership starts from the log's own high watermark, whatever
                    // the lock-free copy said under the previous role.
                    if let Some(log) = self.log.lock().as_mut() {
                        self.store_hw_locked(log, hw);
                    }
                    if damaged {
                        // Its log has gaps another replica may fill: hand over.
                        self.resign_from
                            .store(image.leader_epoch, Ordering::Release);
                        super::damage::want_hand_over();
                    }
                }
                Err(e) => {
                    tracing::error!(topic = %self.topic, partition = self.index, error = %e, "cannot lead");
                    self.set_role(&mut role, Role::None);
                }
            }
            return;
        }
        self.leader_epoch.store(-1, Ordering::Release);
        if image.leader < 0 {
            if !matches!(&*role, Role::None) {
                self.set_role(&mut role, Role::None);
            }
            return;
        }
        let same = matches!(&*role, Role::Follower { leader, leader_epoch, .. }
            if *leader == image.leader && *leader_epoch == image.leader_epoch);
        if !same {
            tracing::info!(topic = %self.topic, partition = self.index, leader = image.leader, epoch = image.leader_epoch, "following");
            let follower = Role::Follower {
                leader: image.leader,
                leader_epoch: image.leader_epoch,
                needs_truncation: true,
            };
            self.set_role(&mut role, follower);
        }
    }

    /// Drops whatever role the replica had (the partition is deleted).
    pub(super) fn clear_role(&self) {
        self.set_role(&mut self.role.lock(), Role::None);
    }

    /// Every role change goes through here: the generation moves with it, so a fetch
    /// response asked for under the old role is never appended under the new one.
    fn set_role(&self, slot: &mut Role, new: Role) {
        *slot = new;
        self.role_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The leader this replica follows and the epoch, with whether it must truncate
    /// first; `None` unless a follower.
    pub fn following(&self) -> Option<(i32, i32, bool)> {
        self.follow_state().map(|(f, _)| f)
    }

    /// [`Partition::following`] with the role's generation, read together: a fetch
    /// response is appended with [`Partition::append_replicated`] only while the
    /// generation is still this one.
    pub fn follow_state(&self) -> Option<((i32, i32, bool), u64)> {
        match &*self.role.lock() {
            Role::Follower {
                leader,
                leader_epoch,
                needs_truncation,
            } => Some((
                (*leader, *leader_epoch, *needs_truncation),
                self.role_generation.load(Ordering::Acquire),
            )),
            _ => None,
        }
    }

    /// The leader epoch while this broker leads, else `None`.
    pub fn leading_epoch(&self) -> Option<i32> {
        let e = self.leader_epoch.load(Ordering::Acquire);
        (e >= 0).then_some(e)
    }

    /// While this broker leads and its high watermark is still below the start of its
    /// leader epoch (a new leader whose followers have not fetched from it yet): the
    /// high watermark and that start. Offsets it answers meanwhile could be lower than
    /// the previous leader's (KIP-207), so ListOffsets answers `OFFSET_NOT_AVAILABLE`.
    pub fn high_watermark_behind_epoch_start(&self) -> Option<(i64, i64)> {
        match &*self.role.lock() {
            Role::Leader(state) if state.high_watermark() < state.epoch_start_offset() => {
                Some((state.high_watermark(), state.epoch_start_offset()))
            }
            _ => None,
        }
    }

    /// Marks truncation done for the follower of `leader_epoch`.
    pub fn truncation_done(&self, epoch: i32) {
        if let Role::Follower {
            leader_epoch,
            needs_truncation,
            ..
        } = &mut *self.role.lock()
        {
            if *leader_epoch == epoch {
                *needs_truncation = false;
            }
        }
    }

    /// Raises the consumer-visible end to a leader's `hw`, computed under the role of
    /// `generation`, and wakes `acks=all` waiters and consumers' parked fetches
    /// ([`Partition::visible_changed`]): data a follower's ack made visible, or a
    /// transaction whose marker it passed, answers them now rather than at `max_wait_ms`.
    ///
    /// Callers compute `hw` under the role lock and publish after releasing it, so two
    /// of them (followers' fetches on two threads) may publish out of order. Under the
    /// log lock a value is taken only while its role is current and only if it raises
    /// the high watermark: a leader's never falls, and the lock-free copy and the log's
    /// own (which settles completed transactions, see `stable.rs`) stay equal.
    pub(crate) fn publish_hw(&self, generation: u64, hw: i64) {
        let moved = {
            let mut guard = self.log.lock();
            let current = self.role_generation.load(Ordering::Acquire) == generation;
            match guard.as_mut() {
                Some(log) if current && hw > self.hw.load(Ordering::Acquire) => {
                    self.store_hw_locked(log, hw)
                }
                _ => false,
            }
        };
        if moved {
            self.hw_changed.notify_waiters();
        }
    }

    /// Sets the high watermark in the log and its lock-free copy together; the caller
    /// holds the log. Returns whether the copy changed.
    pub(super) fn store_hw_locked(&self, log: &mut Log, hw: i64) -> bool {
        let kept = log.set_high_watermark(hw);
        // Markers the high watermark passed make their transactions stable.
        self.publish_first_unstable(log);
        self.hw.swap(kept, Ordering::AcqRel) != kept
    }

    /// After a local append by the leader.
    pub(crate) fn on_leader_appended(&self, log_end: i64) {
        let hw = match &mut *self.role.lock() {
            Role::Leader(state) => match state.on_leader_append(log_end) {
                Ok(true) => Some((
                    self.role_generation.load(Ordering::Acquire),
                    state.high_watermark(),
                )),
                _ => None,
            },
            _ => None,
        };
        if let Some((generation, hw)) = hw {
            self.publish_hw(generation, hw);
        }
    }

    /// A follower fetched at `fetch_offset`: its progress moves the ISR and the high
    /// watermark. Errors mean this broker does not lead (any more) or the replica is
    /// not one of the partition's.
    pub fn on_follower_fetch(
        &self,
        replica: i32,
        fetch_offset: i64,
    ) -> Result<(FetchOutcome, Option<IsrRequest>), kafka_protocol::ResponseError> {
        let now = crate::broker::now_ms();
        let mut role = self.role.lock();
        let Role::Leader(state) = &mut *role else {
            return Err(kafka_protocol::ResponseError::NotLeaderOrFollower);
        };
        let outcome = state
            .on_follower_fetch(replica, fetch_offset, now)
            .map_err(|e| match e {
                strata_replication::ReplicationError::FetchOffsetOutOfRange { .. } => {
                    kafka_protocol::ResponseError::OffsetOutOfRange
                }
                _ => kafka_protocol::ResponseError::NotLeaderOrFollower,
            })?;
        let request = outcome.isr_expand.clone().map(|isr| IsrRequest {
            leader_epoch: state.leader_epoch(),
            partition_epoch: state.partition_epoch(),
            isr,
        });
        let generation = self.role_generation.load(Ordering::Acquire);
        drop(role);
        if outcome.hw_advanced {
            self.publish_hw(generation, outcome.high_watermark);
        }
        Ok((outcome, request))
    }

    /// A leader's check for followers that fell behind: the shrunk ISR to ask for.
    pub fn maybe_shrink_isr(&self, lag_max_ms: i64) -> Option<IsrRequest> {
        let now = crate::broker::now_ms();
        match &mut *self.role.lock() {
            Role::Leader(state) => state.maybe_shrink(now, lag_max_ms).map(|isr| IsrRequest {
                leader_epoch: state.leader_epoch(),
                partition_epoch: state.partition_epoch(),
                isr,
            }),
            _ => None,
        }
    }

    /// Whether this broker leads the partition and it has other replicas.
    pub fn leads_with_followers(&self) -> bool {
        matches!(&*self.role.lock(), Role::Leader(state) if state.replicas().len() > 1)
    }

    /// Replication state if this broker leads the partition.
    pub fn leader_report(&self) -> Option<LeaderReport> {
        let role = self.role.lock();
        let Role::Leader(state) = &*role else {
            return None;
        };
        let leo = state.log_end_offset();
        let max_follower_lag = state
            .replicas()
            .iter()
            .filter(|r| **r != state.leader_id())
            .filter_map(|r| state.follower(*r)?.log_end_offset)
            .map(|follower_leo| (leo - follower_leo).max(0))
            .max()
            .unwrap_or(0);
        let now = crate::broker::now_ms();
        let max_follower_lag_ms = state
            .replicas()
            .iter()
            .filter(|r| **r != state.leader_id())
            .filter_map(|r| state.follower(*r))
            .filter(|f| f.log_end_offset.is_none_or(|end| end < leo))
            .map(|f| (now - f.last_caught_up_time_ms).max(0))
            .max()
            .unwrap_or(0);
        Some(LeaderReport {
            under_replicated: state.isr().len() < state.replicas().len(),
            max_follower_lag,
            under_min_isr: state.isr().len() < state.min_insync_replicas(),
            max_follower_lag_ms,
        })
    }

    /// The controller refused (or lost) an ISR change: allow a new one.
    pub fn isr_request_failed(&self) {
        if let Role::Leader(state) = &mut *self.role.lock() {
            state.abort_pending_isr();
        }
    }

    /// `acks=all` admission before the append.
    pub fn acks_all_admit(&self) -> AckState {
        match &*self.role.lock() {
            Role::Leader(state) => state.acks_all_admit(),
            _ => AckState::NotEnoughReplicas,
        }
    }

    /// Why an `acks=all` write may not be appended now (`NOT_ENOUGH_REPLICAS`), by the
    /// same rule as [`Partition::acks_all_admit`]; `None` when it may, or when this broker
    /// no longer leads (the append itself then answers `NOT_LEADER_OR_FOLLOWER`).
    pub fn acks_all_refusal(&self) -> Option<String> {
        match &*self.role.lock() {
            Role::Leader(state) if state.acks_all_admit() == AckState::NotEnoughReplicas => {
                Some(format!(
                    "min.insync.replicas is {} but the in-sync replicas are {}",
                    state.min_insync_replicas(),
                    state.isr().len()
                ))
            }
            _ => None,
        }
    }

    /// Waits until the high watermark covers `last_offset` (the ISR has it), or the
    /// deadline, or leadership of this epoch ends (moved, or the partition deleted):
    /// the final verdict.
    pub async fn wait_replicated(
        self: &Arc<Self>,
        last_offset: i64,
        deadline: tokio::time::Instant,
    ) -> Replicated {
        let epoch = self.leader_epoch.load(Ordering::Acquire);
        loop {
            let changed = self.hw_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.removed.load(Ordering::Acquire) {
                return Replicated::Deleted;
            }
            let verdict = match &*self.role.lock() {
                Role::Leader(state) if state.leader_epoch() == epoch => {
                    state.acks_all_check(last_offset + 1)
                }
                _ => return Replicated::NotLeader,
            };
            if verdict != AckState::Wait {
                return Replicated::Verdict(verdict);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Replicated::Verdict(AckState::Wait);
            }
        }
    }

    /// Truncates the log to `offset` (a follower's epoch boundary). Blocking.
    pub fn truncate_blocking(&self, offset: i64) -> Result<(), LogError> {
        let mut guard = self.log.lock();
        let log = guard
            .as_mut()
            .ok_or_else(|| LogError::Io(std::io::Error::other("partition is closed")))?;
        if offset < log.log_end_offset() {
            tracing::info!(topic = %self.topic, partition = self.index, from = log.log_end_offset(), to = offset, "truncating to the leader's epoch boundary");
            log.truncate_to(offset)?;
        }
        self.refresh_offsets(log);
        self.durable_end
            .fetch_min(log.log_end_offset(), Ordering::AcqRel);
        self.hw.store(log.high_watermark(), Ordering::Release);
        Ok(())
    }

    /// A follower whose log lost offsets to damage (`Log::damaged_ranges`) gives up
    /// its log from the first damaged range on, so that fetching takes those offsets
    /// back from the leader. Called before the epoch truncation. Blocking.
    pub fn drop_damaged_tail_blocking(&self) -> Result<(), LogError> {
        let first = {
            let guard = self.log.lock();
            let Some(log) = guard.as_ref() else {
                return Ok(());
            };
            log.damaged_ranges().first().copied()
        };
        if let Some(range) = first {
            tracing::warn!(
                topic = %self.topic,
                partition = self.index,
                lost_offsets = %format!("{}..={}", range.start, range.end - 1),
                "replica lost offsets to damage: truncating to refetch them from the leader"
            );
            self.truncate_blocking(range.start)?;
        }
        Ok(())
    }

    /// Asks the follower fetcher to run the truncation step again before its next
    /// fetch (after damage was found in a follower's log).
    pub fn request_truncation(&self) {
        match &mut *self.role.lock() {
            Role::Follower {
                needs_truncation, ..
            } => *needs_truncation = true,
            // A leader cannot fetch what it lost; it hands the partition to a replica
            // that still has it (`damage.rs` `hand_over_damaged_leaderships`).
            Role::Leader(state) => {
                self.resign_from
                    .store(state.leader_epoch(), Ordering::Release);
                super::damage::want_hand_over();
            }
            Role::None => {}
        }
    }

    /// The leader epoch this replica lost data in and should resign from, if it still
    /// leads in it; cleared by the call.
    pub fn take_resignation(&self) -> Option<i32> {
        let epoch = self.resign_from.swap(-1, Ordering::AcqRel);
        (epoch >= 0 && self.leading_epoch() == Some(epoch)).then_some(epoch)
    }

    /// The local epoch cache and offsets, for the follower's truncation exchange.
    pub fn epoch_view_blocking(&self) -> Option<(strata_replication::EpochCache, i64, i64)> {
        let guard = self.log.lock();
        let log = guard.as_ref()?;
        Some((
            log.epoch_cache().clone(),
            log.log_end_offset(),
            log.high_watermark(),
        ))
    }

    /// OffsetForLeaderEpoch on this replica's log. Blocking.
    pub fn end_offset_for_epoch_blocking(&self, epoch: i32) -> Option<(i32, i64)> {
        self.log.lock().as_ref()?.end_offset_for_epoch(epoch)
    }
}
