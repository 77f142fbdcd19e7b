//! Which transactional ids this broker coordinates: those of the `__transaction_state`
//! partitions it leads in the metadata image. A partition is replayed from its log when
//! leadership arrives and dropped (with its parked requests) when it leaves or its
//! leader epoch changes; the epoch it loaded at is the coordinator epoch its markers
//! carry.
//!
//! Invariants:
//! - A request is served only if, under the state lock, the current image names this
//!   broker leader of the id's partition at epoch E and that partition is loaded at E.
//!   Otherwise NOT_COORDINATOR (another broker leads), COORDINATOR_NOT_AVAILABLE (no
//!   topic, no leader) or COORDINATOR_LOAD_IN_PROGRESS.
//! - A load installs its result only if its partition is still `Loading` with the same
//!   load id, so a superseded load changes nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::ResponseError;
use strata_meta::MetadataImage;
use strata_txn::TxnPartition;
use tokio::sync::Notify;

use super::coordinator::{Load, State, TxnCoordinator};
use super::store;
use crate::broker::now_ms;
use crate::partition_loads::{self, PartitionLoads};
use crate::topics::TRANSACTION_STATE_TOPIC;
use crate::Broker;

/// A failed load is tried again after this.
const LOAD_RETRY: Duration = Duration::from_secs(1);

/// A partition to read from the log.
pub(crate) struct LoadJob {
    partition: i32,
    epoch: i32,
    id: u64,
}

fn partitions_of(image: &MetadataImage) -> i32 {
    image
        .topic(TRANSACTION_STATE_TOPIC)
        .map_or(0, |t| t.partitions.len() as i32)
}

/// The `__transaction_state` partitions `node_id` leads in `image`, with their epochs.
fn led_partitions(image: &MetadataImage, node_id: i32) -> HashMap<i32, i32> {
    partition_loads::led_partitions(image, TRANSACTION_STATE_TOPIC, node_id)
}

impl TxnCoordinator {
    /// Checks, under the state lock, that this broker coordinates `id` now; returns
    /// its partition.
    pub(super) fn lease(
        &self,
        broker: &Broker,
        state: &State,
        id: &str,
    ) -> Result<i32, ResponseError> {
        if *broker.stopping.borrow() {
            return Err(ResponseError::NotCoordinator);
        }
        let image = broker.meta.image();
        let n = partitions_of(&image);
        if n == 0 {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        let partition = strata_txn::partition_for(id, n);
        let p = image
            .partition(TRANSACTION_STATE_TOPIC, partition)
            .ok_or(ResponseError::CoordinatorNotAvailable)?;
        if p.leader < 0 {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        if p.leader != broker.config.node_id {
            return Err(ResponseError::NotCoordinator);
        }
        match state.loads.get(&partition) {
            Some(Load::Loaded(m)) if m.coordinator_epoch() == p.leader_epoch => Ok(partition),
            _ => Err(ResponseError::CoordinatorLoadInProgress),
        }
    }
}

impl PartitionLoads for TxnCoordinator {
    type Job = LoadJob;
    const WHAT: &'static str = "transactions";

    fn of(broker: &Broker) -> &Self {
        &broker.txn
    }

    /// Brings the served partitions in line with the image published at `index`:
    /// drops partitions no longer led (or led at a new epoch), answering their parked
    /// requests NOT_COORDINATOR, and returns the loads to run.
    fn reconcile(&self, node_id: i32, index: u64, image: &MetadataImage) -> Vec<LoadJob> {
        let mut state = self.state.lock();
        if index < state.seen_index {
            return Vec::new();
        }
        state.seen_index = index;
        let led = led_partitions(image, node_id);
        let stale: Vec<i32> = state
            .loads
            .iter()
            .filter(|(p, l)| led.get(p) != Some(&l.epoch()))
            .map(|(p, _)| *p)
            .collect();
        for p in stale {
            if let Some(Load::Loaded(m)) = state.loads.remove(&p) {
                tracing::info!(
                    partition = p,
                    transactional_ids = m.len(),
                    "no longer coordinating {TRANSACTION_STATE_TOPIC}-{p}"
                );
            }
            // Dropping the senders answers the parked requests NOT_COORDINATOR.
            state.waiters.retain(|_, (partition, _)| *partition != p);
        }
        let mut jobs = Vec::new();
        for (partition, epoch) in led {
            if !state.loads.contains_key(&partition) {
                state.next_load += 1;
                let id = state.next_load;
                state.loads.insert(partition, Load::Loading { epoch, id });
                jobs.push(LoadJob {
                    partition,
                    epoch,
                    id,
                });
            }
        }
        jobs
    }

    /// Replays a partition's log and, unless superseded meanwhile, starts serving it
    /// (and resends the markers of its prepared transactions). Blocking.
    fn run_load_blocking(&self, broker: &Arc<Broker>, job: LoadJob) {
        let started = std::time::Instant::now();
        let read = store::read_blocking(broker, job.partition);
        let mut state = self.state.lock();
        if !matches!(state.loads.get(&job.partition), Some(Load::Loading { id, .. }) if *id == job.id)
        {
            return;
        }
        match read {
            Ok(records) => {
                let (machine, effects, stats) =
                    TxnPartition::load(job.partition, job.epoch, self.cfg, records, now_ms());
                state
                    .loads
                    .insert(job.partition, Load::Loaded(Box::new(machine)));
                tracing::info!(
                    partition = job.partition,
                    epoch = job.epoch,
                    records = stats.applied,
                    skipped = stats.skipped,
                    transactional_ids = stats.transactional_ids,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "coordinating {TRANSACTION_STATE_TOPIC}-{}",
                    job.partition
                );
                if stats.skipped > 0 {
                    tracing::warn!(
                        partition = job.partition,
                        skipped = stats.skipped,
                        "unreadable {TRANSACTION_STATE_TOPIC} records skipped"
                    );
                }
                self.route(broker, &mut state, job.partition, job.epoch, effects);
            }
            Err(e) => {
                state.loads.remove(&job.partition);
                tracing::error!(partition = job.partition, error = %e, "cannot load transactions");
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    let b = Arc::downgrade(broker);
                    rt.spawn(async move {
                        tokio::time::sleep(LOAD_RETRY).await;
                        if let Some(b) = b.upgrade() {
                            b.txn.follow_image(&b);
                        }
                    });
                }
            }
        }
        drop(state);
        self.load_done.notify_waiters();
    }

    fn all_loaded(&self, image: &MetadataImage, node_id: i32) -> bool {
        let state = self.state.lock();
        led_partitions(image, node_id).iter().all(|(p, epoch)| {
            matches!(state.loads.get(p), Some(Load::Loaded(m)) if m.coordinator_epoch() == *epoch)
        })
    }

    fn load_done(&self) -> &Notify {
        &self.load_done
    }
}

impl TxnCoordinator {
    /// Reconciles with the newest image and starts the loads it calls for.
    pub(crate) fn follow_image(&self, broker: &Arc<Broker>) {
        partition_loads::follow_image::<Self>(broker);
    }

    /// At start-up, on a blocking thread: loads every partition this broker leads,
    /// then follows image changes.
    pub(crate) fn start_blocking(&self, broker: &Arc<Broker>) {
        partition_loads::start_blocking::<Self>(broker);
    }

    /// Waits (bounded) until every partition this broker leads is loaded: a request
    /// that just created `__transaction_state` is then served at once.
    pub(crate) async fn catch_up(&self, broker: &Arc<Broker>) {
        partition_loads::catch_up::<Self>(broker).await;
    }
}
