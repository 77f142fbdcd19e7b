//! The operations handlers call, routing each machine's effects: writes, markers,
//! answers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::ResponseError;
use parking_lot::Mutex;
use strata_txn::{
    Effect, EndTxnV2, InitProducerId, InitStep, ListFilter, ProducerIdAndEpoch, Reply, RequestId,
    TopicPartition, TxnConfig, TxnDescription, TxnListing, TxnPartition, TxnResult,
};
use tokio::sync::{oneshot, watch, Notify};

use super::markers::{MarkerJob, MarkerSender};
use super::store;
use crate::broker::now_ms;
use crate::Broker;

/// Where one led `__transaction_state` partition stands.
pub(super) enum Load {
    /// Being read from the log by load `id`.
    Loading { epoch: i32, id: u64 },
    /// In memory and served at the machine's coordinator epoch.
    Loaded(Box<TxnPartition>),
}

impl Load {
    pub(super) fn epoch(&self) -> i32 {
        match self {
            Load::Loading { epoch, .. } => *epoch,
            Load::Loaded(m) => m.coordinator_epoch(),
        }
    }
}

type Waiter = oneshot::Sender<Result<Reply, ResponseError>>;

/// Everything behind the coordinator's lock.
#[derive(Default)]
pub(super) struct State {
    pub(super) loads: HashMap<i32, Load>,
    pub(super) next_load: u64,
    /// Raft index of the newest image reconciled with.
    pub(super) seen_index: u64,
    /// Parked requests: (partition, answer channel). Dropped (NOT_COORDINATOR) with
    /// their partition.
    pub(super) waiters: HashMap<RequestId, (i32, Waiter)>,
}

/// The transaction coordinator of every transactional id whose `__transaction_state`
/// partition this broker leads.
pub struct TxnCoordinator {
    pub(super) cfg: TxnConfig,
    pub(super) state: Mutex<State>,
    next_request: AtomicU64,
    /// Woken whenever a partition load finishes.
    pub(super) load_done: Notify,
    /// Wakes `txn_loop`: a deadline may have moved.
    wake: Notify,
    markers: MarkerSender,
    /// Connections to other coordinators for KIP-890 produce verification.
    pub(crate) verify_peers: super::verify::Peers,
}

impl TxnCoordinator {
    /// An empty coordinator.
    pub fn new(cfg: TxnConfig) -> Self {
        Self {
            cfg,
            state: Mutex::new(State::default()),
            next_request: AtomicU64::new(1),
            load_done: Notify::new(),
            wake: Notify::new(),
            markers: MarkerSender::default(),
            verify_peers: Default::default(),
        }
    }

    fn request_id(&self) -> RequestId {
        self.next_request.fetch_add(1, Ordering::Relaxed)
    }

    /// Number of transactional ids in memory.
    pub fn transactional_id_count(&self) -> usize {
        let state = self.state.lock();
        state
            .loads
            .values()
            .map(|l| match l {
                Load::Loaded(m) => m.len(),
                Load::Loading { .. } => 0,
            })
            .sum()
    }

    /// Carries out a machine's effects (under the lock): answers parked requests,
    /// starts writes and marker sends.
    pub(super) fn route(
        &self,
        broker: &Arc<Broker>,
        state: &mut State,
        partition: i32,
        epoch: i32,
        effects: Vec<Effect>,
    ) {
        for fx in effects {
            match fx {
                Effect::Respond { request, result } => {
                    if let Some((_, tx)) = state.waiters.remove(&request) {
                        let _ = tx.send(result);
                    }
                }
                Effect::Persist {
                    transactional_id,
                    write,
                    key,
                    value,
                    before,
                    durable,
                } => {
                    let b = Arc::clone(broker);
                    tokio::spawn(async move {
                        let result = store::write(&b, partition, key, before, value, durable).await;
                        b.txn
                            .on_persisted(&b, partition, epoch, &transactional_id, write, result);
                    });
                }
                Effect::SendMarkers {
                    transactional_id,
                    producer_id,
                    producer_epoch,
                    result,
                    coordinator_epoch,
                    partitions,
                } => self.markers.send(
                    broker,
                    MarkerJob {
                        txn_partition: partition,
                        coordinator_epoch,
                        transactional_id,
                        producer_id,
                        producer_epoch,
                        result,
                        partitions,
                    },
                ),
            }
        }
        self.wake.notify_one();
    }

    fn on_persisted(
        &self,
        broker: &Arc<Broker>,
        partition: i32,
        epoch: i32,
        id: &str,
        write: u64,
        result: Result<(), ResponseError>,
    ) {
        let mut state = self.state.lock();
        let Some(Load::Loaded(m)) = state.loads.get_mut(&partition) else {
            return;
        };
        if m.coordinator_epoch() != epoch {
            return;
        }
        let fx = m.persisted(id, write, result, now_ms());
        self.route(broker, &mut state, partition, epoch, fx);
    }

    /// Markers of `job` written (or given up on) for `done`.
    pub(super) fn on_markers_written(
        &self,
        broker: &Arc<Broker>,
        job: &MarkerJob,
        done: &[TopicPartition],
    ) {
        let mut state = self.state.lock();
        let Some(Load::Loaded(m)) = state.loads.get_mut(&job.txn_partition) else {
            return;
        };
        if m.coordinator_epoch() != job.coordinator_epoch {
            return;
        }
        let fx = m.markers_written(
            &job.transactional_id,
            job.producer_id,
            job.producer_epoch,
            done,
            now_ms(),
        );
        self.route(
            broker,
            &mut state,
            job.txn_partition,
            job.coordinator_epoch,
            fx,
        );
    }

    /// Whether `partition` is still served at `epoch` (markers of older epochs are
    /// dropped: the new coordinator sends its own).
    pub(super) fn serves(&self, partition: i32, epoch: i32) -> bool {
        matches!(self.state.lock().loads.get(&partition), Some(Load::Loaded(m)) if m.coordinator_epoch() == epoch)
    }

    /// Runs `op` on `id`'s machine and waits for its answer.
    async fn run<F>(&self, broker: &Arc<Broker>, id: &str, op: F) -> Result<Reply, ResponseError>
    where
        F: FnOnce(&mut TxnPartition, RequestId, i64) -> Vec<Effect>,
    {
        let request = self.request_id();
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.state.lock();
            let partition = self.lease(broker, &state, id)?;
            state.waiters.insert(request, (partition, tx));
            let Some(Load::Loaded(m)) = state.loads.get_mut(&partition) else {
                return Err(ResponseError::CoordinatorLoadInProgress);
            };
            let epoch = m.coordinator_epoch();
            let fx = op(m, request, now_ms());
            self.route(broker, &mut state, partition, epoch, fx);
        }
        rx.await.unwrap_or(Err(ResponseError::NotCoordinator))
    }

    /// InitProducerId with a transactional id; producer ids come from the broker's
    /// allocator when the machine asks for one.
    pub async fn init_producer_id(
        &self,
        broker: &Arc<Broker>,
        id: &str,
        timeout_ms: i32,
        expected: Option<ProducerIdAndEpoch>,
    ) -> Result<ProducerIdAndEpoch, ResponseError> {
        self.producer_step(broker, id, |m, request, fresh| {
            let req = InitProducerId {
                request,
                transactional_id: id.to_string(),
                timeout_ms,
                expected,
                fresh_producer_id: fresh,
            };
            m.init_producer_id(&req, now_ms())
        })
        .await
    }

    /// Runs `step` on `id`'s machine and answers the producer id and epoch it replies;
    /// when the machine asks for a fresh producer id, one comes from the broker's
    /// allocator and `step` runs again with it (once).
    async fn producer_step(
        &self,
        broker: &Arc<Broker>,
        id: &str,
        step: impl Fn(&mut TxnPartition, RequestId, Option<i64>) -> InitStep,
    ) -> Result<ProducerIdAndEpoch, ResponseError> {
        let mut fresh = None;
        loop {
            let request = self.request_id();
            let (tx, rx) = oneshot::channel();
            let need = {
                let mut state = self.state.lock();
                let partition = self.lease(broker, &state, id)?;
                let Some(Load::Loaded(m)) = state.loads.get_mut(&partition) else {
                    return Err(ResponseError::CoordinatorLoadInProgress);
                };
                let epoch = m.coordinator_epoch();
                match step(m, request, fresh) {
                    InitStep::Effects(fx) => {
                        state.waiters.insert(request, (partition, tx));
                        self.route(broker, &mut state, partition, epoch, fx);
                        false
                    }
                    InitStep::NeedProducerId => true,
                }
            };
            if !need {
                return match rx.await.unwrap_or(Err(ResponseError::NotCoordinator))? {
                    Reply::Producer(p) => Ok(p),
                    Reply::Done => Err(ResponseError::UnknownServerError),
                };
            }
            if fresh.is_some() {
                return Err(ResponseError::UnknownServerError);
            }
            fresh = Some(broker.allocate_producer_id().await.map_err(|e| {
                tracing::error!(error = %e, "producer id allocation failed");
                ResponseError::CoordinatorNotAvailable
            })?);
        }
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn, for a client of `transaction.version`
    /// `tv` (2: the implicit add of transactions v2, see `strata_txn::TV2`).
    pub async fn add_partitions(
        &self,
        broker: &Arc<Broker>,
        id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: Vec<TopicPartition>,
        tv: i16,
    ) -> Result<(), ResponseError> {
        self.run(broker, id, |m, r, now| {
            m.add_partitions_at(r, id, producer_id, epoch, &partitions, tv, now)
        })
        .await
        .map(|_| ())
    }

    /// KIP-890 verify-only AddPartitionsToTxn.
    pub fn verify_partitions(
        &self,
        broker: &Broker,
        id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[TopicPartition],
    ) -> Result<Vec<(TopicPartition, bool)>, ResponseError> {
        let state = self.state.lock();
        let partition = self.lease(broker, &state, id)?;
        match state.loads.get(&partition) {
            Some(Load::Loaded(m)) => m.verify_partitions(id, producer_id, epoch, partitions),
            _ => Err(ResponseError::CoordinatorLoadInProgress),
        }
    }

    /// EndTxn.
    pub async fn end_txn(
        &self,
        broker: &Arc<Broker>,
        id: &str,
        producer_id: i64,
        epoch: i16,
        result: TxnResult,
    ) -> Result<(), ResponseError> {
        self.run(broker, id, |m, r, now| {
            m.end_txn(r, id, producer_id, epoch, result, now)
        })
        .await
        .map(|_| ())
    }

    /// EndTxn v5 (transactions v2): the epoch is bumped; answers the producer id and
    /// epoch to continue with. A used-up epoch takes a fresh producer id from the
    /// broker's allocator.
    pub async fn end_txn_v2(
        &self,
        broker: &Arc<Broker>,
        id: &str,
        producer_id: i64,
        epoch: i16,
        result: TxnResult,
    ) -> Result<ProducerIdAndEpoch, ResponseError> {
        self.producer_step(broker, id, |m, request, fresh| {
            let req = EndTxnV2 {
                request,
                transactional_id: id.to_string(),
                producer_id,
                epoch,
                result,
                fresh_producer_id: fresh,
            };
            m.end_txn_v2(&req, now_ms())
        })
        .await
    }

    /// DescribeTransactions of one id.
    pub fn describe(&self, broker: &Broker, id: &str) -> Result<TxnDescription, ResponseError> {
        if id.is_empty() {
            return Err(ResponseError::InvalidRequest);
        }
        let state = self.state.lock();
        let partition = self.lease(broker, &state, id)?;
        match state.loads.get(&partition) {
            Some(Load::Loaded(m)) => m.describe(id),
            _ => Err(ResponseError::CoordinatorLoadInProgress),
        }
    }

    /// ListTransactions over every partition this broker serves, with
    /// COORDINATOR_LOAD_IN_PROGRESS while some are still loading (the list is then
    /// partial, as Kafka's is).
    pub fn list(&self, filter: &ListFilter) -> (Option<ResponseError>, Vec<TxnListing>) {
        let state = self.state.lock();
        let now = now_ms();
        let mut out = Vec::new();
        let mut loading = false;
        for load in state.loads.values() {
            match load {
                Load::Loaded(m) => out.extend(m.list(filter, now)),
                Load::Loading { .. } => loading = true,
            }
        }
        out.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        (
            loading.then_some(ResponseError::CoordinatorLoadInProgress),
            out,
        )
    }

    /// Runs every machine whose deadline has come; returns the next deadline.
    fn tick(&self, broker: &Arc<Broker>) -> Option<i64> {
        let mut state = self.state.lock();
        let now = now_ms();
        let due: Vec<(i32, i32)> = state
            .loads
            .iter()
            .filter_map(|(p, l)| match l {
                Load::Loaded(m) if m.next_deadline().is_some_and(|d| d <= now) => {
                    Some((*p, m.coordinator_epoch()))
                }
                _ => None,
            })
            .collect();
        for (p, epoch) in due {
            if let Some(Load::Loaded(m)) = state.loads.get_mut(&p) {
                let fx = m.tick(now);
                self.route(broker, &mut state, p, epoch, fx);
            }
        }
        state
            .loads
            .values()
            .filter_map(|l| match l {
                Load::Loaded(m) => m.next_deadline(),
                Load::Loading { .. } => None,
            })
            .min()
    }
}

/// Drives transaction timeouts, id expiry and failed-write retries: sleeps until the
/// earliest deadline of any machine, or until an operation wakes it (debounced, so a
/// busy coordinator does not rescan on every request).
pub(crate) async fn txn_loop(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    const IDLE: Duration = Duration::from_secs(3600);
    const DEBOUNCE: Duration = Duration::from_millis(20);
    loop {
        let next = broker.txn.tick(&broker);
        let sleep = next.map_or(IDLE, |d| {
            Duration::from_millis(
                d.saturating_sub(now_ms()).clamp(0, IDLE.as_millis() as i64) as u64
            )
        });
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = broker.txn.wake.notified() => {
                tokio::time::sleep(DEBOUNCE).await;
            }
            _ = shutdown.changed() => return,
        }
    }
}

impl Broker {
    /// The broker leading `transactional_id`'s `__transaction_state` partition: (node
    /// id, host, port on `listener`), `None` while it has no (registered) leader.
    pub fn txn_coordinator(
        &self,
        transactional_id: &str,
        listener: &str,
    ) -> Option<(i32, String, i32)> {
        let image = self.meta.image();
        let topic = image.topic(crate::topics::TRANSACTION_STATE_TOPIC)?;
        let partition = strata_txn::partition_for(transactional_id, topic.partitions.len() as i32);
        let leader = topic.partition(partition)?.leader;
        let node = image.broker(leader)?;
        let (host, port) = node.endpoint(listener)?;
        Some((node.node_id, host.to_string(), port))
    }
}

/// Kafka's answer to clients too old to know PRODUCER_FENCED: INVALID_PRODUCER_EPOCH
/// below `since` (the request version that added it).
pub(crate) fn fenced_for_version(e: ResponseError, version: i16, since: i16) -> ResponseError {
    if e == ResponseError::ProducerFenced && version < since {
        ResponseError::InvalidProducerEpoch
    } else {
        e
    }
}
