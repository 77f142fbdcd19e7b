//! Group membership: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, and the timers that
//! expire sessions, driving `strata_group::Group` and routing its effects.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use strata_group::{
    Effect, Group, GroupConfig, GroupError, GroupMetadataValue, JoinRequest, JoinResponse,
    PersistToken, RecordKey, RequestId, SyncRequest, SyncResponse,
};
use tokio::sync::oneshot;

use super::loading::Load;
use crate::broker::now_ms;
use crate::Broker;

enum Waiter {
    Join(oneshot::Sender<JoinResponse>),
    Sync(oneshot::Sender<SyncResponse>),
}

pub(super) struct GroupEntry {
    pub(super) group: Group,
    waiters: HashMap<RequestId, Waiter>,
    /// Rebalances started while this broker coordinated the group.
    rebalances: u64,
    /// When the rebalance going on started (for its duration).
    rebalancing_since: Option<std::time::Instant>,
}

impl GroupEntry {
    fn new(group_id: &str, now: i64) -> Self {
        Self::from_group(Group::new(group_id.to_string(), now))
    }

    pub(super) fn from_group(group: Group) -> Self {
        Self {
            group,
            waiters: HashMap::new(),
            rebalances: 0,
            rebalancing_since: None,
        }
    }
}

/// A group's commits: (topic, partition) → (log offset of the record, committed offset).
pub(super) type GroupOffsets = strata_group::CommittedOffsets;

/// Everything behind the coordinator's lock.
#[derive(Default)]
pub(super) struct State {
    pub(super) groups: HashMap<String, GroupEntry>,
    /// group → (topic, partition) → (log offset of the commit record, committed offset).
    /// The log offset orders commits whose durability waits finish out of order.
    pub(super) offsets: HashMap<String, GroupOffsets>,
    /// The `__consumer_offsets` partitions this broker coordinates (or is loading).
    pub(super) loads: HashMap<i32, Load>,
    /// When to retry the loads that failed (the group loop reconciles then).
    pub(super) load_retry_at: Option<i64>,
    /// Id of the last load started.
    pub(super) next_load: u64,
    /// Raft index of the newest image reconciled with.
    pub(super) seen_index: u64,
    /// Pending transactional offsets and producer sequences, per coordinated
    /// `__consumer_offsets` partition (see `txn_offsets`).
    pub(super) txn: HashMap<i32, super::txn_offsets::TxnPartition>,
    /// Transaction markers reported while their partition was loading, applied once
    /// it is loaded (first marker per producer).
    pub(super) early_markers: HashMap<i32, HashMap<i64, bool>>,
    /// Topic ids by name in the image of `topics_seen_at` (deleted-topic detection).
    pub(super) topic_ids: HashMap<String, uuid::Uuid>,
    pub(super) topics_seen_at: Option<u64>,
}

/// A group metadata write to carry out after the lock is released.
pub(super) struct PersistJob {
    group_id: String,
    token: PersistToken,
    value: GroupMetadataValue,
}

/// The coordinator of every group whose `__consumer_offsets` partition this broker leads.
pub struct GroupCoordinator {
    pub(super) cfg: GroupConfig,
    pub(super) state: Mutex<State>,
    next_request: AtomicU64,
    /// Woken whenever a partition load finishes.
    pub(super) load_done: tokio::sync::Notify,
    /// Wakes the group loop: a deadline earlier than the one it sleeps to (see
    /// `timers`).
    pub(super) wake: tokio::sync::Notify,
    /// The deadline (ms) the group loop sleeps to; `i64::MAX` for none. Read and
    /// written under the state lock.
    pub(super) scheduled: AtomicI64,
    /// Rebalances started, for `/metrics`.
    pub rebalances: Counter,
    /// Rebalance durations (shared with `Metrics::group_rebalance_seconds`).
    rebalance_seconds: Histogram,
}

/// One coordinated group, for `/metrics`.
pub struct GroupFigures {
    pub group: String,
    pub state: &'static str,
    pub members: usize,
    pub rebalances: u64,
}

impl GroupCoordinator {
    /// An empty coordinator.
    pub fn new(cfg: GroupConfig, rebalance_seconds: Histogram) -> Self {
        Self {
            cfg,
            state: Mutex::new(State::default()),
            next_request: AtomicU64::new(1),
            load_done: tokio::sync::Notify::new(),
            wake: tokio::sync::Notify::new(),
            scheduled: AtomicI64::new(i64::MAX),
            rebalances: Counter::default(),
            rebalance_seconds,
        }
    }

    /// The groups this broker coordinates now, with their state, members and
    /// rebalances.
    pub fn figures(&self, broker: &Broker) -> Vec<GroupFigures> {
        let state = self.state.lock();
        state
            .groups
            .iter()
            .filter(|(id, e)| {
                e.group.state() != strata_group::GroupState::Dead
                    && self.lease(broker, &state, id).is_ok()
            })
            .map(|(id, e)| GroupFigures {
                group: id.clone(),
                state: e.group.state().as_str(),
                members: e.group.members().len(),
                rebalances: e.rebalances,
            })
            .collect()
    }

    fn request_id(&self) -> RequestId {
        self.next_request.fetch_add(1, Ordering::Relaxed)
    }

    /// Number of groups in memory (any state): those this broker coordinates.
    pub fn group_count(&self) -> usize {
        self.state.lock().groups.len()
    }

    /// Answers every parked JoinGroup and SyncGroup with NOT_COORDINATOR (the broker is
    /// stopping). The groups stay as they are.
    pub(crate) fn release_waiters(&self) {
        let mut state = self.state.lock();
        for entry in state.groups.values_mut() {
            entry.waiters.clear();
        }
    }

    /// Routes effects to parked requests; returns the writes to start. Called with the
    /// state lock held.
    pub(super) fn route(&self, entry: &mut GroupEntry, effects: Vec<Effect>) -> Vec<PersistJob> {
        let mut jobs = Vec::new();
        for fx in effects {
            match fx {
                Effect::JoinDone(id, resp) => {
                    if let Some(Waiter::Join(tx)) = entry.waiters.remove(&id) {
                        let _ = tx.send(resp);
                    }
                }
                Effect::SyncDone(id, resp) => {
                    if let Some(Waiter::Sync(tx)) = entry.waiters.remove(&id) {
                        let _ = tx.send(resp);
                    }
                }
                Effect::Persist { token, value } => jobs.push(PersistJob {
                    group_id: entry.group.group_id().to_string(),
                    token,
                    value,
                }),
                Effect::RebalanceStarted { generation } => {
                    self.rebalances.inc();
                    entry.rebalances += 1;
                    entry
                        .rebalancing_since
                        .get_or_insert_with(std::time::Instant::now);
                    tracing::debug!(
                        group = entry.group.group_id(),
                        generation,
                        "rebalance started"
                    );
                }
                Effect::RebalanceCompleted { generation } => {
                    if let Some(since) = entry.rebalancing_since.take() {
                        self.rebalance_seconds
                            .observe(since.elapsed().as_secs_f64());
                    }
                    tracing::debug!(
                        group = entry.group.group_id(),
                        generation,
                        "rebalance completed"
                    );
                }
                Effect::MemberRemoved { member_id, reason } => {
                    tracing::debug!(group = entry.group.group_id(), %member_id, ?reason, "member removed");
                }
            }
        }
        // Every change of a group's timers comes with its effects (a heartbeat only
        // pushes its member's deadline later).
        self.offer(entry.group.next_deadline());
        jobs
    }

    /// JoinGroup: parks until the join phase completes.
    pub async fn join(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        mut req: JoinRequest,
        turn: crate::handlers::Turn,
    ) -> JoinResponse {
        let id = self.request_id();
        req.request_id = id;
        let (tx, rx) = oneshot::channel();
        let jobs = {
            let mut state = self.state.lock();
            if let Err(e) = self.lease(broker, &state, group_id) {
                return JoinResponse::error(e, &req.member_id);
            }
            let now = now_ms();
            let entry = state
                .groups
                .entry(group_id.to_string())
                .or_insert_with(|| GroupEntry::new(group_id, now));
            entry.waiters.insert(id, Waiter::Join(tx));
            let fx = entry.group.join(req, now, &self.cfg);
            self.route(entry, fx)
        };
        self.spawn_persists(broker, jobs);
        // Recorded: the connection's next request may go ahead while this one parks.
        drop(turn);
        // A parked request is only dropped when its group is unloaded: leadership of
        // its partition moved, so the client must find the new coordinator.
        rx.await
            .unwrap_or_else(|_| JoinResponse::error(GroupError::NotCoordinator, ""))
    }

    /// SyncGroup: parks until the leader's assignment is persisted.
    pub async fn sync(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        mut req: SyncRequest,
        turn: crate::handlers::Turn,
    ) -> SyncResponse {
        let id = self.request_id();
        req.request_id = id;
        let (tx, rx) = oneshot::channel();
        let jobs = {
            let mut state = self.state.lock();
            if let Err(e) = self.lease(broker, &state, group_id) {
                return SyncResponse::error(e);
            }
            let Some(entry) = state.groups.get_mut(group_id) else {
                return SyncResponse::error(GroupError::UnknownMemberId);
            };
            entry.waiters.insert(id, Waiter::Sync(tx));
            let fx = entry.group.sync(req, now_ms());
            self.route(entry, fx)
        };
        self.spawn_persists(broker, jobs);
        drop(turn);
        rx.await
            .unwrap_or_else(|_| SyncResponse::error(GroupError::NotCoordinator))
    }

    /// Heartbeat.
    pub fn heartbeat(
        &self,
        broker: &Broker,
        group_id: &str,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
    ) -> Result<(), GroupError> {
        let mut state = self.state.lock();
        self.lease(broker, &state, group_id)?;
        match state.groups.get_mut(group_id) {
            Some(entry) => entry
                .group
                .heartbeat(member_id, instance, generation, now_ms()),
            None => Err(GroupError::UnknownMemberId),
        }
    }

    /// LeaveGroup for one or more members.
    pub fn leave(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        members: Vec<(Option<String>, Option<String>)>,
    ) -> Result<Vec<Result<(), GroupError>>, GroupError> {
        let (results, jobs) = {
            let mut state = self.state.lock();
            self.lease(broker, &state, group_id)?;
            let Some(entry) = state.groups.get_mut(group_id) else {
                return Err(GroupError::UnknownMemberId);
            };
            let (results, fx) = entry.group.leave(members, now_ms());
            (results, self.route(entry, fx))
        };
        self.spawn_persists(broker, jobs);
        Ok(results)
    }

    pub(super) fn spawn_persists(&self, broker: &Arc<Broker>, jobs: Vec<PersistJob>) {
        for job in jobs {
            let b = Arc::clone(broker);
            tokio::spawn(async move {
                let key = RecordKey::GroupMetadata(job.group_id.clone()).encode();
                let result: Result<(), GroupError> = b
                    .append_offsets_records(&job.group_id, vec![(key, Some(job.value.encode()))])
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        tracing::warn!(group = %job.group_id, error = %e, "group metadata write failed");
                        e.group_error()
                    });
                let coordinator = &b.groups;
                let more = {
                    let mut state = coordinator.state.lock();
                    match state.groups.get_mut(&job.group_id) {
                        Some(entry) => {
                            let fx = entry.group.persisted(job.token, result, now_ms());
                            coordinator.route(entry, fx)
                        }
                        None => Vec::new(),
                    }
                };
                coordinator.spawn_persists(&b, more);
            });
        }
    }

    /// The groups this broker coordinates, with their state and protocol type, and
    /// COORDINATOR_LOAD_IN_PROGRESS while some of its partitions are loading (the
    /// list is then partial, as Kafka's is).
    pub fn list(
        &self,
        broker: &Broker,
    ) -> (Option<GroupError>, Vec<(String, &'static str, String)>) {
        let state = self.state.lock();
        let served = |id: &str| self.lease(broker, &state, id).is_ok();
        let mut out: Vec<_> = state
            .groups
            .iter()
            .filter(|(id, e)| e.group.state() != strata_group::GroupState::Dead && served(id))
            .map(|(id, e)| {
                (
                    id.clone(),
                    e.group.state().as_str(),
                    e.group.protocol_type().unwrap_or_default().to_string(),
                )
            })
            .collect();
        // Groups that only ever committed offsets (no membership) are listed too, and
        // so are those with only pending transactional offsets.
        let simple: std::collections::BTreeSet<&String> = state
            .offsets
            .keys()
            .chain(state.txn.values().flat_map(|t| t.offsets.groups()))
            .filter(|id| !state.groups.contains_key(*id))
            .collect();
        for id in simple {
            if served(id) {
                out.push((id.clone(), "Empty", String::new()));
            }
        }
        out.sort();
        let loading = Self::loading(&state).then_some(super::loading::COORDINATOR_LOAD_IN_PROGRESS);
        (loading, out)
    }

    /// DescribeGroups view of one group (`None` if unknown); an error if this broker
    /// does not coordinate it now.
    pub fn describe(
        &self,
        broker: &Broker,
        group_id: &str,
    ) -> Result<Option<strata_group::GroupDescription>, GroupError> {
        let state = self.state.lock();
        self.lease(broker, &state, group_id)?;
        Ok(match state.groups.get(group_id) {
            Some(e) => Some(e.group.describe()),
            None if state.offsets.contains_key(group_id) => {
                Some(Group::new(group_id.to_string(), now_ms()).describe())
            }
            None => None,
        })
    }
}
