//! Which groups this broker coordinates: those of the `__consumer_offsets` partitions it
//! leads in the metadata image. A partition's groups are loaded from its log when this
//! broker becomes its leader (at start, or when the image moves leadership here) and
//! dropped from memory when it stops leading (the data stays in the log).
//!
//! Invariants:
//! - A request is served only if, under the state lock, the current image names this
//!   broker leader of the group's partition at epoch E and that partition is `Loaded`
//!   at E. Otherwise it gets NOT_COORDINATOR (another broker leads),
//!   COORDINATOR_NOT_AVAILABLE (no leader, no topic) or COORDINATOR_LOAD_IN_PROGRESS.
//! - Every change of a led partition's epoch drops and reloads it: the image watch may
//!   skip images, so a new epoch may hide another leader's writes in between.
//! - A load only installs its result if its partition is still `Loading` with the
//!   same load id, so a superseded load (leadership moved meanwhile) changes nothing.

use std::collections::HashMap;
use std::sync::Arc;

use strata_group::{Group, GroupError};
use strata_log::LogError;
use strata_meta::MetadataImage;
use tokio::sync::Notify;

use super::coordinator::{GroupCoordinator, GroupEntry, State};
use super::store::{self, LoadedRecord};
use super::txn_offsets::TxnPartition;
use crate::broker::now_ms;
use crate::partition_loads::{self, PartitionLoads};
use crate::topics::OFFSETS_TOPIC;
use crate::Broker;

/// Kafka's COORDINATOR_LOAD_IN_PROGRESS.
pub const COORDINATOR_LOAD_IN_PROGRESS: GroupError =
    GroupError::Other(strata_proto::error_code::COORDINATOR_LOAD_IN_PROGRESS);

/// Where one led `__consumer_offsets` partition stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Load {
    /// Being read from the log by load `id`.
    Loading { epoch: i32, id: u64 },
    /// In memory and served.
    Loaded { epoch: i32 },
}

impl Load {
    fn epoch(self) -> i32 {
        match self {
            Load::Loading { epoch, .. } | Load::Loaded { epoch } => epoch,
        }
    }
}

/// What a request holds after the ownership check: the group's partition, served at
/// this leader epoch. Results of writes are applied only while it still holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Lease {
    partition: i32,
    epoch: i32,
}

impl Lease {
    /// The group's `__consumer_offsets` partition.
    pub(super) fn partition(self) -> i32 {
        self.partition
    }
}

/// A partition to read from the log.
pub(crate) struct LoadJob {
    partition: i32,
    epoch: i32,
    id: u64,
}

/// Number of `__consumer_offsets` partitions in `image` (0 if the topic is missing).
fn offsets_partitions(image: &MetadataImage) -> i32 {
    image
        .topic(OFFSETS_TOPIC)
        .map_or(0, |t| t.partitions.len() as i32)
}

/// The `__consumer_offsets` partitions `node_id` leads in `image`, with their epochs.
fn led_partitions(image: &MetadataImage, node_id: i32) -> HashMap<i32, i32> {
    partition_loads::led_partitions(image, OFFSETS_TOPIC, node_id)
}

/// Whether `group_id` belongs to `partition` of a topic with `n` partitions.
fn in_partition(group_id: &str, partition: i32, n: i32) -> bool {
    strata_group::partition_for(group_id, n) == partition
}

impl GroupCoordinator {
    /// Checks, under the state lock, that this broker coordinates `group_id` now.
    pub(super) fn lease(
        &self,
        broker: &Broker,
        state: &State,
        group_id: &str,
    ) -> Result<Lease, GroupError> {
        // Checked under the state lock, so a request either parks before
        // `release_waiters` answers it or sees the stop here.
        if *broker.stopping.borrow() {
            return Err(GroupError::NotCoordinator);
        }
        let image = broker.meta.image();
        let n = offsets_partitions(&image);
        let partition = strata_group::partition_for(group_id, n);
        let p = image
            .partition(OFFSETS_TOPIC, partition)
            .ok_or(GroupError::CoordinatorNotAvailable)?;
        if p.leader < 0 {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        if p.leader != broker.config.node_id {
            return Err(GroupError::NotCoordinator);
        }
        match state.loads.get(&partition) {
            Some(Load::Loaded { epoch }) if *epoch == p.leader_epoch => Ok(Lease {
                partition,
                epoch: *epoch,
            }),
            _ => Err(COORDINATOR_LOAD_IN_PROGRESS),
        }
    }

    /// Whether a lease taken earlier still holds (same partition load, same epoch).
    pub(super) fn lease_holds(state: &State, lease: Lease) -> bool {
        state.loads.get(&lease.partition) == Some(&Load::Loaded { epoch: lease.epoch })
    }

    /// Whether any led partition is still loading (ListGroups reports it).
    pub(super) fn loading(state: &State) -> bool {
        state
            .loads
            .values()
            .any(|l| matches!(l, Load::Loading { .. }))
    }

    /// Applies one partition's records, in log order, to the in-memory state; returns
    /// (records applied, groups with metadata). Offsets of transactional batches stay
    /// pending until their producer's marker follows in the log (COMMIT materializes,
    /// ABORT drops them); without one they are still pending after the load.
    fn install(state: &mut State, partition: i32, records: Vec<LoadedRecord>) -> (usize, usize) {
        let now = now_ms();
        let mut applied = 0usize;
        let mut groups = std::collections::HashSet::new();
        let mut txn = TxnPartition::default();
        for r in records {
            if r.control {
                match (
                    r.txn_producer,
                    strata_proto::batch::control::parse_marker_key(&r.key),
                ) {
                    (Some(producer), Some(control)) => {
                        let commit = control == strata_proto::batch::control::ControlType::Commit;
                        txn.offsets.complete(producer, commit, &mut state.offsets);
                        applied += 1;
                    }
                    _ => tracing::debug!(
                        offset = r.offset,
                        "skipping a control record that is no transaction marker"
                    ),
                }
                continue;
            }
            match strata_group::decode_record(&r.key, r.value.as_deref()) {
                Ok(strata_group::Record::OffsetCommit(k, v)) => {
                    let tp = (k.topic, k.partition);
                    match (v, r.txn_producer) {
                        (Some(v), None) => {
                            let group = state.offsets.entry(k.group).or_default();
                            strata_group::materialize(group, tp, r.offset, v);
                        }
                        (Some(v), Some(producer)) => {
                            txn.offsets.replay(&k.group, producer, tp, v, r.offset);
                        }
                        // A tombstone drops the committed offset and every pending one.
                        (None, _) => {
                            if let Some(group) = state.offsets.get_mut(&k.group) {
                                group.remove(&tp);
                            }
                            txn.offsets.remove(&k.group, &[tp]);
                        }
                    }
                    applied += 1;
                }
                Ok(strata_group::Record::GroupMetadata(g, v)) => {
                    match v {
                        Some(v) => {
                            let group = Group::from_record(g.clone(), v, now);
                            state
                                .groups
                                .insert(g.clone(), GroupEntry::from_group(group));
                            groups.insert(g);
                        }
                        None => {
                            state.groups.remove(&g);
                            groups.remove(&g);
                        }
                    }
                    applied += 1;
                }
                Ok(strata_group::Record::Other(_)) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "skipping unreadable {OFFSETS_TOPIC} record")
                }
            }
        }
        state.offsets.retain(|_, m| !m.is_empty());
        state.txn.insert(partition, txn);
        (applied, groups.len())
    }

    /// Applies the markers reported while `partition` was loading.
    fn apply_early_markers(state: &mut State, partition: i32) {
        let Some(markers) = state.early_markers.remove(&partition) else {
            return;
        };
        let State { txn, offsets, .. } = state;
        if let Some(t) = txn.get_mut(&partition) {
            for (producer, commit) in markers {
                t.offsets.complete(producer, commit, offsets);
            }
        }
    }
}

impl PartitionLoads for GroupCoordinator {
    type Job = LoadJob;
    const WHAT: &'static str = "groups";

    fn of(broker: &Broker) -> &Self {
        &broker.groups
    }

    /// Brings the set of coordinated partitions in line with the image published at
    /// `index`: drops the groups of partitions no longer led (or led at a new epoch)
    /// and returns the loads to run. Images older than one already seen are ignored.
    fn reconcile(&self, node_id: i32, index: u64, image: &MetadataImage) -> Vec<LoadJob> {
        let mut state = self.state.lock();
        if index < state.seen_index {
            return Vec::new();
        }
        state.seen_index = index;
        let n = offsets_partitions(image);
        let led = led_partitions(image, node_id);
        let stale: Vec<i32> = state
            .loads
            .iter()
            .filter(|(p, l)| led.get(p) != Some(&l.epoch()))
            .map(|(p, _)| *p)
            .collect();
        for p in stale {
            state.loads.remove(&p);
            state.txn.remove(&p);
            state.early_markers.remove(&p);
            let before = state.groups.len();
            if n == 0 {
                state.groups.clear();
                state.offsets.clear();
            } else {
                state.groups.retain(|g, _| !in_partition(g, p, n));
                state.offsets.retain(|g, _| !in_partition(g, p, n));
            }
            tracing::info!(
                partition = p,
                groups = before - state.groups.len(),
                "no longer coordinating {OFFSETS_TOPIC}-{p}: groups unloaded"
            );
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

    /// Reads a partition's groups from its log (to its end) and, unless superseded
    /// meanwhile, starts serving them. Blocking.
    fn run_load_blocking(&self, broker: &Arc<Broker>, job: LoadJob) {
        let started = std::time::Instant::now();
        let read = match broker.replicas.get(OFFSETS_TOPIC, job.partition) {
            Some(p) => store::read_to_end_blocking(&p),
            None => Err(LogError::Io(std::io::Error::other(format!(
                "{OFFSETS_TOPIC}-{} is not hosted here",
                job.partition
            )))),
        };
        let mut state = self.state.lock();
        let current = Load::Loading {
            epoch: job.epoch,
            id: job.id,
        };
        if state.loads.get(&job.partition) != Some(&current) {
            return;
        }
        match read {
            Ok(records) => {
                let (n_records, n_groups) = Self::install(&mut state, job.partition, records);
                state
                    .loads
                    .insert(job.partition, Load::Loaded { epoch: job.epoch });
                Self::apply_early_markers(&mut state, job.partition);
                tracing::info!(
                    partition = job.partition,
                    epoch = job.epoch,
                    records = n_records,
                    groups = n_groups,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "coordinating {OFFSETS_TOPIC}-{}",
                    job.partition
                );
            }
            Err(e) => {
                // Forgotten, so the group loop's reconcile at `load_retry_at` retries.
                state.loads.remove(&job.partition);
                let retry = now_ms() + super::timers::LOAD_RETRY_MS;
                state.load_retry_at = Some(state.load_retry_at.map_or(retry, |t| t.min(retry)));
                self.offer(state.load_retry_at);
                tracing::error!(partition = job.partition, error = %e, "cannot load groups");
            }
        }
        drop(state);
        // Loaded groups bring their members' session deadlines: the loop rescans.
        self.wake.notify_one();
        self.load_done.notify_waiters();
    }

    fn all_loaded(&self, image: &MetadataImage, node_id: i32) -> bool {
        let state = self.state.lock();
        led_partitions(image, node_id)
            .iter()
            .all(|(p, epoch)| state.loads.get(p) == Some(&Load::Loaded { epoch: *epoch }))
    }

    fn load_done(&self) -> &Notify {
        &self.load_done
    }

    fn on_start(&self, index: u64, image: &MetadataImage) {
        self.remember_topics(index, image);
    }

    fn on_image(broker: &Arc<Broker>) {
        let b = Arc::clone(broker);
        tokio::spawn(async move { b.groups.drop_offsets_of_deleted_topics(&b).await });
    }
}

impl GroupCoordinator {
    /// Reconciles with the newest image and starts the loads it calls for.
    pub(crate) fn follow_image(&self, broker: &Arc<Broker>) {
        partition_loads::follow_image::<Self>(broker);
    }

    /// At start-up, on a blocking thread: loads the groups of every partition this
    /// broker leads before the listener opens, then follows image changes.
    pub(crate) fn start_blocking(&self, broker: &Arc<Broker>) {
        partition_loads::start_blocking::<Self>(broker);
    }

    /// Waits (bounded) until every partition this broker leads in the current image is
    /// loaded: a request that just created `__consumer_offsets` is then served at once.
    pub(crate) async fn catch_up(&self, broker: &Arc<Broker>) {
        partition_loads::catch_up::<Self>(broker).await;
    }
}
