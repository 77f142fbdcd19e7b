//! Group membership: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, and the timers that
//! expire sessions, driving `strata_group::Group` and routing its effects.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use strata_group::{
    Effect, Group, GroupConfig, GroupError, GroupMetadataValue, JoinRequest, JoinResponse,
    OffsetCommitValue, PersistToken, RecordKey, RequestId, SyncRequest, SyncResponse,
};
use tokio::sync::oneshot;

use crate::broker::now_ms;
use crate::Broker;

enum Waiter {
    Join(oneshot::Sender<JoinResponse>),
    Sync(oneshot::Sender<SyncResponse>),
}

pub(super) struct GroupEntry {
    pub(super) group: Group,
    waiters: HashMap<RequestId, Waiter>,
}

impl GroupEntry {
    fn new(group_id: &str, now: i64) -> Self {
        Self::from_group(Group::new(group_id.to_string(), now))
    }

    fn from_group(group: Group) -> Self {
        Self {
            group,
            waiters: HashMap::new(),
        }
    }
}

/// A group's commits: (topic, partition) → (log offset of the record, committed offset).
pub(super) type GroupOffsets = HashMap<(String, i32), (i64, OffsetCommitValue)>;

/// Everything behind the coordinator's lock.
#[derive(Default)]
pub(super) struct State {
    pub(super) groups: HashMap<String, GroupEntry>,
    /// group → (topic, partition) → (log offset of the commit record, committed offset).
    /// The log offset orders commits whose durability waits finish out of order.
    pub(super) offsets: HashMap<String, GroupOffsets>,
}

/// A group metadata write to carry out after the lock is released.
struct PersistJob {
    group_id: String,
    token: PersistToken,
    value: GroupMetadataValue,
}

/// The coordinator of every group whose `__consumer_offsets` partition this broker leads.
pub struct GroupCoordinator {
    pub(super) cfg: GroupConfig,
    pub(super) state: Mutex<State>,
    next_request: AtomicU64,
    /// Rebalances started, for `/metrics`.
    pub rebalances: Counter,
}

impl GroupCoordinator {
    /// An empty coordinator.
    pub fn new(cfg: GroupConfig) -> Self {
        Self {
            cfg,
            state: Mutex::new(State::default()),
            next_request: AtomicU64::new(1),
            rebalances: Counter::default(),
        }
    }

    fn request_id(&self) -> RequestId {
        self.next_request.fetch_add(1, Ordering::Relaxed)
    }

    /// Number of groups known (any state).
    pub fn group_count(&self) -> usize {
        self.state.lock().groups.len()
    }

    /// Routes effects to parked requests; returns the writes to start.
    fn route(&self, entry: &mut GroupEntry, effects: Vec<Effect>) -> Vec<PersistJob> {
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
                    tracing::debug!(
                        group = entry.group.group_id(),
                        generation,
                        "rebalance started"
                    );
                }
                Effect::RebalanceCompleted { generation } => {
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
        jobs
    }

    /// JoinGroup: parks until the join phase completes.
    pub async fn join(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        mut req: JoinRequest,
    ) -> JoinResponse {
        let id = self.request_id();
        req.request_id = id;
        let (tx, rx) = oneshot::channel();
        let jobs = {
            let mut state = self.state.lock();
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
        rx.await
            .unwrap_or_else(|_| JoinResponse::error(GroupError::CoordinatorNotAvailable, ""))
    }

    /// SyncGroup: parks until the leader's assignment is persisted.
    pub async fn sync(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        mut req: SyncRequest,
    ) -> SyncResponse {
        let id = self.request_id();
        req.request_id = id;
        let (tx, rx) = oneshot::channel();
        let jobs = {
            let mut state = self.state.lock();
            let Some(entry) = state.groups.get_mut(group_id) else {
                return SyncResponse::error(GroupError::UnknownMemberId);
            };
            entry.waiters.insert(id, Waiter::Sync(tx));
            let fx = entry.group.sync(req, now_ms());
            self.route(entry, fx)
        };
        self.spawn_persists(broker, jobs);
        rx.await
            .unwrap_or_else(|_| SyncResponse::error(GroupError::CoordinatorNotAvailable))
    }

    /// Heartbeat.
    pub fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
    ) -> Result<(), GroupError> {
        let mut state = self.state.lock();
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
            let Some(entry) = state.groups.get_mut(group_id) else {
                return Err(GroupError::UnknownMemberId);
            };
            let (results, fx) = entry.group.leave(members, now_ms());
            (results, self.route(entry, fx))
        };
        self.spawn_persists(broker, jobs);
        Ok(results)
    }

    /// Expires sessions and finishes join phases whose time has come; every ~100 ms.
    pub fn tick(&self, broker: &Arc<Broker>) {
        let now = now_ms();
        let jobs: Vec<PersistJob> = {
            let mut state = self.state.lock();
            let mut jobs = Vec::new();
            for entry in state.groups.values_mut() {
                if entry.group.next_deadline().is_some_and(|d| d <= now) {
                    let fx = entry.group.tick(now);
                    jobs.extend(self.route(entry, fx));
                }
            }
            jobs
        };
        self.spawn_persists(broker, jobs);
    }

    fn spawn_persists(&self, broker: &Arc<Broker>, jobs: Vec<PersistJob>) {
        for job in jobs {
            let b = Arc::clone(broker);
            tokio::spawn(async move {
                let key = RecordKey::GroupMetadata(job.group_id.clone()).encode();
                let result: Result<(), GroupError> = b
                    .append_offsets_records(&job.group_id, vec![(key, Some(job.value.encode()))])
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        tracing::error!(group = %job.group_id, error = %e, "group metadata write failed");
                        GroupError::from_append_error(e.error_code())
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

    /// Group ids with their state and protocol type.
    pub fn list(&self) -> Vec<(String, &'static str, String)> {
        let state = self.state.lock();
        let mut out: Vec<_> = state
            .groups
            .iter()
            .filter(|(_, e)| e.group.state() != strata_group::GroupState::Dead)
            .map(|(id, e)| {
                (
                    id.clone(),
                    e.group.state().as_str(),
                    e.group.protocol_type().unwrap_or_default().to_string(),
                )
            })
            .collect();
        // Groups that only ever committed offsets (no membership) are listed too.
        for id in state.offsets.keys() {
            if !state.groups.contains_key(id) {
                out.push((id.clone(), "Empty", String::new()));
            }
        }
        out.sort();
        out
    }

    /// DescribeGroups view of one group (`None` if unknown).
    pub fn describe(&self, group_id: &str) -> Option<strata_group::GroupDescription> {
        let state = self.state.lock();
        match state.groups.get(group_id) {
            Some(e) => Some(e.group.describe()),
            None if state.offsets.contains_key(group_id) => {
                Some(Group::new(group_id.to_string(), now_ms()).describe())
            }
            None => None,
        }
    }

    /// Replaces the in-memory state with what the log says (called at start).
    pub(crate) fn load(&self, records: Vec<(bytes::Bytes, Option<bytes::Bytes>)>) {
        let now = now_ms();
        let mut state = self.state.lock();
        let mut loaded = 0usize;
        for (key, value) in records {
            match strata_group::decode_record(&key, value.as_deref()) {
                Ok(strata_group::Record::OffsetCommit(k, v)) => {
                    let group = state.offsets.entry(k.group.clone()).or_default();
                    match v {
                        // Replayed commits precede every new one.
                        Some(v) => {
                            group.insert((k.topic, k.partition), (-1, v));
                        }
                        None => {
                            group.remove(&(k.topic, k.partition));
                        }
                    }
                    loaded += 1;
                }
                Ok(strata_group::Record::GroupMetadata(g, v)) => {
                    match v {
                        Some(v) => {
                            let group = Group::from_record(g.clone(), v, now);
                            state.groups.insert(g, GroupEntry::from_group(group));
                        }
                        None => {
                            state.groups.remove(&g);
                        }
                    }
                    loaded += 1;
                }
                Ok(strata_group::Record::Other(_)) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "skipping unreadable __consumer_offsets record")
                }
            }
        }
        state.offsets.retain(|_, m| !m.is_empty());
        tracing::info!(
            records = loaded,
            groups = state.groups.len(),
            "group coordinator loaded"
        );
    }
}
