//! Transactional offset commits (TxnOffsetCommit, KIP-98 / KIP-447) and the end of
//! transactions: the I/O around `strata_group::TxnOffsets`.
//!
//! Invariants:
//! - A TxnOffsetCommit is one transactional batch (attribute bit 4, the producer's id
//!   and epoch) in the group's `__consumer_offsets` partition. Its offsets are pending
//!   from before the batch is queued until the producer's marker in that partition is
//!   reported ([`GroupCoordinator::complete_transaction`]) or the write fails; pending
//!   offsets are never served as committed ones.
//! - The sequence numbers of these batches continue the producer's sequence in the
//!   partition (`strata_group::ProducerSequences`): they are assigned and the batch
//!   queued under the coordinator's lock, so the log sees them in order. A producer
//!   whose epoch the log has seen superseded is refused before anything is queued.
//! - The acknowledgement waits, like an ordinary commit, for the batch to be fsynced
//!   (per the flush policy) and held by every in-sync replica; the write's log offset is
//!   recorded as soon as it is appended, before that wait, so a marker right behind it
//!   finds it.
//! - A marker reported while the partition loads is applied right after the load.

use std::collections::HashMap;
use std::sync::Arc;

use kafka_protocol::ResponseError;
use strata_group::{
    GroupError, OffsetCommitKey, OffsetCommitValue, ProducerSequences, RecordKey, TxnOffsets,
    WriteId,
};

use super::coordinator::{GroupCoordinator, State};
use super::loading::{Lease, Load};
use super::store::{self, PendingWrite, TxnProducer, WriteError};
use crate::broker::now_ms;
use crate::Broker;

/// Transactional state of one coordinated `__consumer_offsets` partition.
#[derive(Debug, Default)]
pub(crate) struct TxnPartition {
    /// Pending transactional offsets of its groups.
    pub(super) offsets: TxnOffsets,
    /// Sequence numbers of the coordinator's transactional batches.
    pub(super) sequences: ProducerSequences,
}

/// Who commits transactionally, as TxnOffsetCommit carries it.
pub struct TxnCommitter<'a> {
    /// The producer id.
    pub producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
    /// Member id (v3+; "" from older clients or simple consumers).
    pub member_id: &'a str,
    /// `group.instance.id` (v3+).
    pub instance_id: Option<&'a str>,
    /// Generation (v3+; -1 from older clients or simple consumers).
    pub generation: i32,
}

impl State {
    /// Partitions `group` has pending transactional offsets for.
    pub(super) fn txn_pending(&self, group: &str) -> Vec<(String, i32)> {
        let mut out: Vec<(String, i32)> = self
            .txn
            .values()
            .flat_map(|t| t.offsets.pending_partitions(group))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// A tombstone for `partitions` of `group` also ends their pending offsets.
    pub(super) fn drop_pending(&mut self, group: &str, partitions: &[(String, i32)]) {
        for t in self.txn.values_mut() {
            t.offsets.remove(group, partitions);
        }
    }
}

impl GroupCoordinator {
    /// Validates a TxnOffsetCommit, appends its offsets as one transactional batch and
    /// waits until it is durable; returns one result per input, in order. The offsets
    /// stay pending until [`GroupCoordinator::complete_transaction`].
    pub async fn commit_transactional(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        who: TxnCommitter<'_>,
        commits: Vec<(String, i32, OffsetCommitValue)>,
        turn: crate::handlers::Turn,
    ) -> Vec<Result<(), GroupError>> {
        let n = commits.len();
        let fail = |e: GroupError| vec![Err(e); n];
        if n == 0 {
            return Vec::new();
        }
        let lease = {
            let state = self.state.lock();
            match self.check_txn_commit(broker, &state, group_id, &who) {
                Ok(lease) => lease,
                Err(e) => return fail(e),
            }
        };
        let partition = match broker.offsets_partition(group_id) {
            Ok(p) => p,
            Err(e) => return fail(e.group_error()),
        };
        // What the log knows of the producer: a fenced epoch is refused here rather
        // than by the log, where it would fail the other commits appended with it.
        let log_state = {
            let p = Arc::clone(&partition);
            let id = who.producer_id;
            match tokio::task::spawn_blocking(move || store::producer_state_blocking(&p, id)).await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return fail(WriteError::Log(e).group_error()),
                Err(_) => return fail(GroupError::UnknownServerError),
            }
        };
        if log_state.is_some_and(|(epoch, _)| epoch > who.producer_epoch) {
            return fail(GroupError::Other(
                ResponseError::InvalidProducerEpoch.code(),
            ));
        }
        let records: Vec<store::KeyedRecord> = commits
            .iter()
            .map(|(topic, partition, value)| {
                let key = RecordKey::OffsetCommit(OffsetCommitKey {
                    group: group_id.to_string(),
                    topic: topic.clone(),
                    partition: *partition,
                });
                (key.encode(), Some(value.encode()))
            })
            .collect();
        let (id, queued) = {
            let mut state = self.state.lock();
            // Checked again: the group or the leadership may have moved meanwhile.
            if !Self::lease_holds(&state, lease) {
                return fail(GroupError::NotCoordinator);
            }
            if let Err(e) = self.check_txn_commit(broker, &state, group_id, &who) {
                return fail(e);
            }
            let t = state.txn.entry(lease.partition()).or_default();
            let producer = TxnProducer {
                id: who.producer_id,
                epoch: who.producer_epoch,
                base_sequence: t.sequences.assign(
                    who.producer_id,
                    who.producer_epoch,
                    log_state,
                    n as i32,
                ),
            };
            let pending = commits
                .into_iter()
                .map(|(topic, p, value)| ((topic, p), value))
                .collect();
            let id = t.offsets.begin(group_id, who.producer_id, pending);
            let queued = store::append_transactional(
                &partition,
                records,
                now_ms(),
                broker.config.flush_policy,
                producer,
            );
            if queued.is_err() {
                t.offsets.failed(id);
                t.sequences.finished(who.producer_id, false);
            }
            (id, queued)
        };
        // The batch has its place in the log: the connection's next request may start.
        drop(turn);
        let result = match queued {
            Ok(write) => {
                self.await_txn_write(lease, who.producer_id, id, write)
                    .await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => vec![Ok(()); n],
            Err(e) => {
                tracing::warn!(group = group_id, error = %e, "transactional offset commit failed");
                fail(e.group_error())
            }
        }
    }

    /// The group's coordinator lease if `who` may commit transactionally: a member of
    /// the current generation, or anyone without generation information (clients
    /// before v3, and simple consumers), as Kafka's `validateOffsetCommit`. An unknown
    /// group accepts only the latter.
    fn check_txn_commit(
        &self,
        broker: &Broker,
        state: &State,
        group_id: &str,
        who: &TxnCommitter<'_>,
    ) -> Result<Lease, GroupError> {
        let lease = self.lease(broker, state, group_id)?;
        match state.groups.get(group_id) {
            Some(e) => {
                e.group
                    .validate_txn_commit(who.member_id, who.instance_id, who.generation)?
            }
            None if who.generation < 0 => {}
            None => return Err(GroupError::IllegalGeneration),
        }
        Ok(lease)
    }

    /// Waits for a queued transactional write: records its log offset once appended,
    /// then waits until it is durable. A failure ends its pending offsets.
    async fn await_txn_write(
        &self,
        lease: Lease,
        producer_id: i64,
        id: WriteId,
        write: PendingWrite,
    ) -> Result<(), WriteError> {
        let durable = match write.appended().await {
            Ok((last, durable)) => {
                self.with_txn(lease, |t, committed| {
                    t.offsets.written(id, last, committed);
                });
                durable
            }
            Err(e) => {
                self.with_txn(lease, |t, _| {
                    t.offsets.failed(id);
                    t.sequences.finished(producer_id, false);
                });
                return Err(e);
            }
        };
        let done = durable.committed().await;
        let held = self.with_txn(lease, |t, _| {
            if done.is_err() {
                t.offsets.failed(id);
            }
            t.sequences.finished(producer_id, done.is_ok());
        });
        match done {
            // Leadership moved while writing: the new coordinator loads the batch as
            // pending; this one no longer serves the group.
            Ok(_) if !held => Err(WriteError::NotLeader),
            other => other.map(|_| ()),
        }
    }

    /// Runs `f` on the transactional state of the lease's partition if the lease still
    /// holds; returns whether it did.
    fn with_txn(
        &self,
        lease: Lease,
        f: impl FnOnce(&mut TxnPartition, &mut HashMap<String, super::coordinator::GroupOffsets>),
    ) -> bool {
        let mut state = self.state.lock();
        if !Self::lease_holds(&state, lease) {
            return false;
        }
        let State { txn, offsets, .. } = &mut *state;
        f(txn.entry(lease.partition()).or_default(), offsets);
        true
    }

    /// Ends `producer_id`'s transaction for the groups of `__consumer_offsets`
    /// partition `offsets_partition`: with `commit` its pending transactional offsets
    /// become committed offsets (visible to OffsetFetch and in lag reports; each one
    /// only if its record lies later in the log than the committed offset it
    /// replaces), otherwise they are dropped.
    ///
    /// Call it right after the producer's COMMIT or ABORT marker is appended to that
    /// partition (and replicated): the WriteTxnMarkers handler does. A marker for a
    /// partition still loading is applied when the load ends; one for a partition this
    /// broker does not coordinate is ignored (its coordinator replays the marker from
    /// the log). Never blocks: it takes the coordinator's lock only.
    pub fn complete_transaction(&self, offsets_partition: i32, producer_id: i64, commit: bool) {
        let mut state = self.state.lock();
        match state.loads.get(&offsets_partition) {
            Some(Load::Loaded { .. }) => {
                let State { txn, offsets, .. } = &mut *state;
                let done = txn.entry(offsets_partition).or_default().offsets.complete(
                    producer_id,
                    commit,
                    offsets,
                );
                tracing::debug!(
                    partition = offsets_partition,
                    producer_id,
                    commit,
                    groups = ?done.groups,
                    materialized = done.materialized,
                    dropped = done.dropped,
                    settling = done.settling,
                    "transaction completed"
                );
            }
            Some(Load::Loading { .. }) => {
                // The first marker counts: offsets of a later transaction of the same
                // producer cannot have been written while the partition loads.
                state
                    .early_markers
                    .entry(offsets_partition)
                    .or_default()
                    .entry(producer_id)
                    .or_insert(commit);
            }
            None => tracing::debug!(
                partition = offsets_partition,
                producer_id,
                "transaction marker for a partition this broker does not coordinate"
            ),
        }
    }
}
