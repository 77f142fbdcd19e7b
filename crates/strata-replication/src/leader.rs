//! The leader's view of one partition: follower progress, the ISR and the high
//! watermark (Kafka's `Partition` / `Replica` leader-side rules, KIP-497 pending ISR).

use std::collections::BTreeMap;

use crate::error::ReplicationError;

/// What a broker knows when it becomes leader of a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderInit {
    /// This broker's id.
    pub leader_id: i32,
    /// The leader epoch of this leadership.
    pub leader_epoch: i32,
    /// The partition epoch (version of replicas + ISR) the controller published.
    pub partition_epoch: i32,
    /// Every replica of the partition, the leader included.
    pub replicas: Vec<i32>,
    /// The committed in-sync replicas; must contain the leader.
    pub isr: Vec<i32>,
    /// `min.insync.replicas` for `acks=all` (0 is treated as 1).
    pub min_insync_replicas: usize,
    /// The local log end offset now: also where this leader epoch starts.
    pub log_end_offset: i64,
    /// The local log's high watermark now; the leader's never goes below it.
    pub high_watermark: i64,
    /// The clock now.
    pub now_ms: i64,
}

/// What the leader tracks about one follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowerState {
    /// The follower's log end offset (its last fetch offset); `None` until it fetches
    /// under this leadership.
    pub log_end_offset: Option<i64>,
    /// When it last fetched.
    pub last_fetch_time_ms: i64,
    /// The leader's log end offset at its last fetch.
    pub last_fetch_leader_leo: Option<i64>,
    /// The last time it was known to have everything the leader had.
    pub last_caught_up_time_ms: i64,
}

/// Result of a follower fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOutcome {
    /// The high watermark after the fetch (to send back in the response).
    pub high_watermark: i64,
    /// Whether the fetch moved the high watermark (waiting `acks=all` produces and
    /// consumers may now proceed).
    pub hw_advanced: bool,
    /// An ISR with the follower added, to send to the controller (AlterPartition);
    /// it is now the pending change.
    pub isr_expand: Option<Vec<i32>>,
}

/// Result of [`LeaderState::apply_isr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsrApplied {
    /// The partition epoch was not newer than the one held: ignored.
    Stale,
    /// The ISR was replaced and any pending change cleared.
    Applied {
        /// Whether the high watermark moved (a slow member left the ISR).
        hw_advanced: bool,
    },
}

/// Leader-side replication state of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderState {
    pub(crate) leader_id: i32,
    pub(crate) leader_epoch: i32,
    pub(crate) partition_epoch: i32,
    pub(crate) replicas: Vec<i32>,
    pub(crate) isr: Vec<i32>,
    /// The ISR proposed to the controller and not yet answered (at most one).
    pub(crate) pending_isr: Option<Vec<i32>>,
    pub(crate) min_insync_replicas: usize,
    pub(crate) followers: BTreeMap<i32, FollowerState>,
    pub(crate) log_end_offset: i64,
    pub(crate) high_watermark: i64,
    pub(crate) epoch_start_offset: i64,
}

impl LeaderState {
    /// State for a new leadership. Followers start with unknown log end offsets, so
    /// the high watermark stays where the local log had it until every ISR member has
    /// fetched — unless the leader is the only ISR member, when it moves to the log
    /// end at once. ISR followers count as caught up now (they get a full
    /// `replica.lag.time.max.ms` to fetch); the others as never caught up.
    pub fn new(init: LeaderInit) -> Result<LeaderState, ReplicationError> {
        check_assignment(init.leader_id, &init.replicas, &init.isr)?;
        if init.log_end_offset < 0 {
            return Err(ReplicationError::InvalidAssignment(format!(
                "negative log end offset {}",
                init.log_end_offset
            )));
        }
        let followers = init
            .replicas
            .iter()
            .filter(|id| **id != init.leader_id)
            .map(|&id| {
                let caught_up = if init.isr.contains(&id) {
                    init.now_ms
                } else {
                    0
                };
                let state = FollowerState {
                    log_end_offset: None,
                    last_fetch_time_ms: 0,
                    last_fetch_leader_leo: None,
                    last_caught_up_time_ms: caught_up,
                };
                (id, state)
            })
            .collect();
        let mut state = LeaderState {
            leader_id: init.leader_id,
            leader_epoch: init.leader_epoch,
            partition_epoch: init.partition_epoch,
            replicas: init.replicas,
            isr: init.isr,
            pending_isr: None,
            min_insync_replicas: init.min_insync_replicas.max(1),
            followers,
            log_end_offset: init.log_end_offset,
            high_watermark: init.high_watermark.clamp(0, init.log_end_offset),
            epoch_start_offset: init.log_end_offset,
        };
        state.maybe_increment_hw();
        Ok(state)
    }

    /// The leader appended locally; its log now ends at `log_end_offset`. Returns
    /// whether the high watermark moved (only when the leader is alone in the ISR).
    pub fn on_leader_append(&mut self, log_end_offset: i64) -> Result<bool, ReplicationError> {
        if log_end_offset < self.log_end_offset {
            return Err(ReplicationError::LogEndWentBack {
                current: self.log_end_offset,
                requested: log_end_offset,
            });
        }
        self.log_end_offset = log_end_offset;
        Ok(self.maybe_increment_hw())
    }

    /// Follower `replica_id` fetched at `fetch_offset` (which is its log end offset)
    /// at `now_ms`. Call it after the leader has read the data for the fetch; the
    /// fetch must not be past the leader's log end.
    ///
    /// Caught-up rule (Kafka's `lastCaughtUpTimeMs`): a fetch at the leader's log end
    /// means caught up now; a fetch at or past the leader's log end as of the
    /// follower's previous fetch means it was caught up at that previous fetch.
    ///
    /// A follower outside the ISR whose log end is at or past both the high watermark
    /// and the start of this leader epoch is proposed for the ISR (unless another ISR
    /// change is pending). The high watermark then moves to the smallest log end over
    /// the leader and the maximal ISR (committed plus proposed members).
    pub fn on_follower_fetch(
        &mut self,
        replica_id: i32,
        fetch_offset: i64,
        now_ms: i64,
    ) -> Result<FetchOutcome, ReplicationError> {
        let leader_leo = self.log_end_offset;
        let Some(state) = self.followers.get_mut(&replica_id) else {
            return Err(ReplicationError::UnknownReplica(replica_id));
        };
        if fetch_offset < 0 || fetch_offset > leader_leo {
            return Err(ReplicationError::FetchOffsetOutOfRange {
                offset: fetch_offset,
                log_end_offset: leader_leo,
            });
        }
        if fetch_offset >= leader_leo {
            state.last_caught_up_time_ms = state.last_caught_up_time_ms.max(now_ms);
        } else if state
            .last_fetch_leader_leo
            .is_some_and(|previous| fetch_offset >= previous)
        {
            // It now has what the leader had at its previous fetch, so it was caught up
            // as of that fetch.
            state.last_caught_up_time_ms =
                state.last_caught_up_time_ms.max(state.last_fetch_time_ms);
        }
        state.log_end_offset = Some(fetch_offset);
        state.last_fetch_leader_leo = Some(leader_leo);
        state.last_fetch_time_ms = state.last_fetch_time_ms.max(now_ms);
        let isr_expand = self.maybe_expand(replica_id);
        let hw_advanced = self.maybe_increment_hw();
        Ok(FetchOutcome {
            high_watermark: self.high_watermark,
            hw_advanced,
            isr_expand,
        })
    }

    /// Moves the high watermark up to the smallest log end offset among the leader
    /// and the maximal ISR; an ISR member that has not fetched yet holds it where it
    /// is. Never moves it down. Returns whether it moved.
    pub(crate) fn maybe_increment_hw(&mut self) -> bool {
        let mut candidate = self.log_end_offset;
        for id in self.maximal_isr_iter() {
            if id == self.leader_id {
                continue;
            }
            match self.followers.get(&id).and_then(|f| f.log_end_offset) {
                Some(leo) => candidate = candidate.min(leo),
                None => return false,
            }
        }
        if candidate > self.high_watermark {
            self.high_watermark = candidate;
            true
        } else {
            false
        }
    }

    /// Members of the committed ISR and of the pending proposal (may repeat).
    pub(crate) fn maximal_isr_iter(&self) -> impl Iterator<Item = i32> + '_ {
        self.isr
            .iter()
            .chain(self.pending_isr.iter().flatten())
            .copied()
    }

    /// The high watermark: offsets below it are committed (on every member of the
    /// maximal ISR).
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    /// The leader's log end offset as last reported.
    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    /// The offset this leader epoch started at (the log end when it became leader).
    pub fn epoch_start_offset(&self) -> i64 {
        self.epoch_start_offset
    }

    /// This broker's id.
    pub fn leader_id(&self) -> i32 {
        self.leader_id
    }

    /// The leader epoch.
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch
    }

    /// The partition epoch of the ISR held.
    pub fn partition_epoch(&self) -> i32 {
        self.partition_epoch
    }

    /// Every replica, the leader included.
    pub fn replicas(&self) -> &[i32] {
        &self.replicas
    }

    /// The committed ISR.
    pub fn isr(&self) -> &[i32] {
        &self.isr
    }

    /// The ISR change sent to the controller and not yet applied, if any.
    pub fn pending_isr(&self) -> Option<&[i32]> {
        self.pending_isr.as_deref()
    }

    /// The committed ISR plus members of a pending expansion (a pending shrink still
    /// counts its leaving members): the set the high watermark waits for.
    pub fn maximal_isr(&self) -> Vec<i32> {
        let mut ids: Vec<i32> = self.maximal_isr_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// `min.insync.replicas` in force.
    pub fn min_insync_replicas(&self) -> usize {
        self.min_insync_replicas
    }

    /// A runtime change of `min.insync.replicas` (0 is treated as 1). The one value
    /// every `acks=all` rule reads: the check before appending, the verdict after it,
    /// and writes that go through the same rule (offset commits).
    pub fn set_min_insync_replicas(&mut self, min_insync_replicas: usize) {
        self.min_insync_replicas = min_insync_replicas.max(1);
    }

    /// What the leader knows about follower `replica_id`.
    pub fn follower(&self, replica_id: i32) -> Option<&FollowerState> {
        self.followers.get(&replica_id)
    }
}

/// Checks that `leader` is in `replicas` and `isr`, that `isr` is a subset of
/// `replicas` and that neither repeats an id.
pub(crate) fn check_assignment(
    leader: i32,
    replicas: &[i32],
    isr: &[i32],
) -> Result<(), ReplicationError> {
    let invalid = |why: String| Err(ReplicationError::InvalidAssignment(why));
    if has_duplicates(replicas) {
        return invalid(format!("replicas {replicas:?} repeat an id"));
    }
    if has_duplicates(isr) {
        return invalid(format!("ISR {isr:?} repeats an id"));
    }
    if !replicas.contains(&leader) {
        return invalid(format!(
            "leader {leader} is not among replicas {replicas:?}"
        ));
    }
    if !isr.contains(&leader) {
        return invalid(format!("leader {leader} is not in the ISR {isr:?}"));
    }
    if let Some(stray) = isr.iter().find(|id| !replicas.contains(id)) {
        return invalid(format!("ISR member {stray} is not a replica"));
    }
    Ok(())
}

fn has_duplicates(ids: &[i32]) -> bool {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.windows(2).any(|w| w[0] == w[1])
}
