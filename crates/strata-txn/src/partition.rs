//! The coordinator of one `__transaction_state` partition: its transactional ids,
//! loading them from the log, and the writes and markers in flight.
//!
//! Invariants (checked by `tests/simulation.rs`):
//! - A transition is prepared (its record handed out in [`Effect::Persist`]) and only
//!   completed, and answered, once [`TxnPartition::persisted`] reports it durable.
//!   While it is pending (or markers are written), other requests for the id get
//!   CONCURRENT_TRANSACTIONS, except one AddPartitionsToTxn, which waits for the id
//!   to be idle up to `busy_wait_ms` and then runs (or gets CONCURRENT_TRANSACTIONS).
//! - A persisted PrepareCommit / PrepareAbort is always followed by markers and then
//!   CompleteCommit / CompleteAbort with the same result: the pending completion stays
//!   until it is written (failed writes are retried after `retry_backoff_ms`), and a
//!   reload sends the markers of every Prepare* again.
//! - Epochs handed out for a producer id only grow; a fence bumps the epoch in memory
//!   before its record is written and keeps it if the write fails, so a later record
//!   never carries a lower epoch than one a client may hold.

use std::collections::BTreeMap;

use crate::metadata::{valid_transition, Entry, OnDone, ParkedAdd, Pending, Phase, TxnMetadata};
use crate::records::{decode_record, encode_key, Record};
use crate::types::{
    Effect, ListFilter, TopicPartition, TxnConfig, TxnDescription, TxnError, TxnListing, TxnResult,
    TxnState, WriteId,
};

/// What a load found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Records applied (values and tombstones).
    pub applied: usize,
    /// Records skipped: unknown key versions or unreadable bytes.
    pub skipped: usize,
    /// Transactional ids in memory after the load.
    pub transactional_ids: usize,
}

/// The transaction coordinator of one `__transaction_state` partition, at one
/// coordinator epoch (the partition's leader epoch when it was loaded). Dropping it is
/// unloading: nothing lives only here that the log does not have.
#[derive(Debug)]
pub struct TxnPartition {
    partition: i32,
    coordinator_epoch: i32,
    pub(crate) cfg: TxnConfig,
    pub(crate) entries: BTreeMap<String, Entry>,
    next_write: WriteId,
}

impl TxnPartition {
    /// An empty partition (nothing in its log).
    pub fn new(partition: i32, coordinator_epoch: i32, cfg: TxnConfig) -> Self {
        TxnPartition {
            partition,
            coordinator_epoch,
            cfg,
            entries: BTreeMap::new(),
            next_write: 1,
        }
    }

    /// Replays a partition's records in log order (the last value of an id wins; a
    /// tombstone forgets it). Transactions found in PrepareCommit / PrepareAbort get
    /// their markers sent again: the returned effects.
    pub fn load<K, V, I>(
        partition: i32,
        coordinator_epoch: i32,
        cfg: TxnConfig,
        records: I,
        now: i64,
    ) -> (Self, Vec<Effect>, LoadStats)
    where
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
        I: IntoIterator<Item = (K, Option<V>)>,
    {
        let mut p = TxnPartition::new(partition, coordinator_epoch, cfg);
        let mut stats = LoadStats::default();
        for (key, value) in records {
            match decode_record(key.as_ref(), value.as_ref().map(|v| v.as_ref())) {
                Ok(Record::Txn(id, Some(v))) => match v.state {
                    // Never written by a coordinator: not a state to resume.
                    TxnState::Dead | TxnState::PrepareEpochFence => stats.skipped += 1,
                    _ => {
                        p.entries
                            .insert(id, Entry::new(TxnMetadata::from_value(&v)));
                        stats.applied += 1;
                    }
                },
                Ok(Record::Txn(id, None)) => {
                    p.entries.remove(&id);
                    stats.applied += 1;
                }
                Ok(Record::UnknownKey(_)) | Err(_) => stats.skipped += 1,
            }
        }
        stats.transactional_ids = p.entries.len();
        let preparing: Vec<(String, TxnResult)> = p
            .entries
            .iter()
            .filter_map(|(id, e)| match e.meta.state {
                TxnState::PrepareCommit => Some((id.clone(), TxnResult::Commit)),
                TxnState::PrepareAbort => Some((id.clone(), TxnResult::Abort)),
                _ => None,
            })
            .collect();
        let mut effects = Vec::new();
        for (id, result) in preparing {
            effects.extend(p.start_markers(&id, result, now));
        }
        (p, effects, stats)
    }

    /// The partition index.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The coordinator epoch markers carry.
    pub fn coordinator_epoch(&self) -> i32 {
        self.coordinator_epoch
    }

    /// Number of transactional ids in memory.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no transactional id is in memory.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The current (completed) state of `transactional_id`.
    pub fn metadata(&self, transactional_id: &str) -> Option<&TxnMetadata> {
        self.entries.get(transactional_id).map(|e| &e.meta)
    }

    /// The state `transactional_id` is moving to next, if a transition is pending
    /// (the completion, when the next transaction opens in the same write).
    pub fn pending_state(&self, transactional_id: &str) -> Option<TxnState> {
        self.entries
            .get(transactional_id)?
            .pending
            .as_ref()
            .map(|p| p.via.as_ref().unwrap_or(&p.target).state)
    }

    /// Every transactional id in memory.
    pub fn transactional_ids(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(|k| k.as_str())
    }

    /// DescribeTransactions: TRANSACTIONAL_ID_NOT_FOUND for an unknown id.
    pub fn describe(&self, transactional_id: &str) -> Result<TxnDescription, TxnError> {
        if transactional_id.is_empty() {
            return Err(TxnError::InvalidRequest);
        }
        let e = self
            .entries
            .get(transactional_id)
            .ok_or(TxnError::TransactionalIdNotFound)?;
        let m = &e.meta;
        Ok(TxnDescription {
            state: m.state,
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            timeout_ms: m.timeout_ms,
            start_ms: m.start_ms,
            partitions: m.partitions.iter().cloned().collect(),
        })
    }

    /// ListTransactions over this partition's ids.
    pub fn list(&self, filter: &ListFilter, now: i64) -> Vec<TxnListing> {
        let states: Vec<TxnState> = filter
            .states
            .iter()
            .filter_map(|s| TxnState::from_name(s))
            .collect();
        self.entries
            .iter()
            .filter(|(_, e)| {
                let m = &e.meta;
                m.state != TxnState::Dead
                    && (filter.producer_ids.is_empty()
                        || filter.producer_ids.contains(&m.producer_id))
                    // Unknown state names match nothing (Kafka filters on the names).
                    && (filter.states.is_empty() || states.contains(&m.state))
                    && (filter.min_duration_ms < 0
                        || now.saturating_sub(m.start_ms) > filter.min_duration_ms)
            })
            .map(|(id, e)| TxnListing {
                transactional_id: id.clone(),
                producer_id: e.meta.producer_id,
                state: e.meta.state,
            })
            .collect()
    }

    /// Hands out the write of `target` for `id` and makes it the pending transition.
    pub(crate) fn start_write(
        &mut self,
        id: &str,
        target: TxnMetadata,
        on_done: OnDone,
        fence: bool,
    ) -> Option<Effect> {
        self.start_write_via(id, None, target, on_done, fence)
    }

    /// [`TxnPartition::start_write`] with `via` (a completion) written in the same
    /// batch before `target`.
    pub(crate) fn start_write_via(
        &mut self,
        id: &str,
        via: Option<TxnMetadata>,
        target: TxnMetadata,
        on_done: OnDone,
        fence: bool,
    ) -> Option<Effect> {
        let write = self.next_write;
        self.next_write += 1;
        let entry = self.entries.get_mut(id)?;
        let value = (target.state != TxnState::Dead).then(|| target.to_value().encode());
        let before = via.as_ref().map(|v| v.to_value().encode());
        let durable = via.is_some()
            || on_done != OnDone::Reply(None)
            || !matches!(
                target.state,
                TxnState::CompleteCommit | TxnState::CompleteAbort
            );
        entry.pending = Some(Pending {
            target,
            phase: Phase::Writing(write),
            on_done,
            fence,
            via,
        });
        Some(Effect::Persist {
            transactional_id: id.to_string(),
            write,
            key: encode_key(id),
            value,
            before,
            durable,
        })
    }

    /// After a Prepare* is durable: the pending completion, and the markers to send
    /// (or, with no partitions, the completion's write at once).
    pub(crate) fn start_markers(&mut self, id: &str, result: TxnResult, now: i64) -> Vec<Effect> {
        let Some(entry) = self.entries.get_mut(id) else {
            return Vec::new();
        };
        let m = &entry.meta;
        let mut target = m.clone();
        target.state = result.complete_state();
        target.partitions.clear();
        target.last_update_ms = now.max(m.last_update_ms);
        if m.next_producer_id >= 0 {
            // Transactions v2, the epoch used up: the next producer id takes over at
            // epoch 0 (the markers still carry the old id and its last epoch).
            target.last_producer_id = m.producer_id;
            target.producer_id = m.next_producer_id;
            target.producer_epoch = 0;
            target.next_producer_id = -1;
        }
        if m.partitions.is_empty() {
            return self
                .start_write(id, target, OnDone::Reply(None), false)
                .into_iter()
                .collect();
        }
        let partitions: Vec<TopicPartition> = m.partitions.iter().cloned().collect();
        let effect = Effect::SendMarkers {
            transactional_id: id.to_string(),
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            result,
            coordinator_epoch: self.coordinator_epoch,
            partitions,
        };
        entry.pending = Some(Pending {
            target,
            phase: Phase::Markers(m.partitions.clone()),
            on_done: OnDone::Reply(None),
            fence: false,
            via: None,
        });
        vec![effect]
    }

    /// Reports the outcome of write `write` of `transactional_id` (an
    /// [`Effect::Persist`]). On success the transition completes and its answers go
    /// out; on failure the request gets the error. Stale reports change nothing.
    pub fn persisted(
        &mut self,
        transactional_id: &str,
        write: WriteId,
        result: Result<(), TxnError>,
        now: i64,
    ) -> Vec<Effect> {
        let backoff = self.cfg.retry_backoff_ms;
        let Some(entry) = self.entries.get_mut(transactional_id) else {
            return Vec::new();
        };
        match &entry.pending {
            Some(p) if p.phase == Phase::Writing(write) => {}
            _ => return Vec::new(),
        }
        let Some(pending) = entry.pending.take() else {
            return Vec::new();
        };
        let mut effects = Vec::new();
        match result {
            Ok(()) => {
                debug_assert!(
                    match &pending.via {
                        None => valid_transition(&entry.meta, &pending.target),
                        Some(via) => {
                            valid_transition(&entry.meta, via)
                                && valid_transition(via, &pending.target)
                        }
                    },
                    "{:?} -> {:?} -> {:?}",
                    entry.meta,
                    pending.via,
                    pending.target
                );
                match pending.on_done {
                    OnDone::Remove => {
                        let parked = entry.parked.take();
                        self.entries.remove(transactional_id);
                        effects.extend(self.unpark(transactional_id, parked, now));
                        return effects;
                    }
                    OnDone::Reply(reply) => {
                        entry.meta = pending.target;
                        if let Some((request, r)) = reply {
                            effects.push(Effect::Respond {
                                request,
                                result: Ok(r),
                            });
                        }
                    }
                    OnDone::Markers { result, reply } => {
                        entry.meta = pending.target;
                        entry.failed_fence = false;
                        if let Some((request, r)) = reply {
                            effects.push(Effect::Respond { request, result: r });
                        }
                        effects.extend(self.start_markers(transactional_id, result, now));
                    }
                }
            }
            Err(error) => {
                if pending.fence {
                    entry.failed_fence = true;
                }
                let completing = matches!(
                    pending.target.state,
                    TxnState::CompleteCommit | TxnState::CompleteAbort
                );
                let request = match &pending.on_done {
                    OnDone::Reply(r) => r.as_ref().map(|(id, _)| *id),
                    OnDone::Markers { reply, .. } => reply.as_ref().map(|(id, _)| *id),
                    OnDone::Remove => None,
                };
                if let Some(request) = request {
                    effects.push(Effect::Respond {
                        request,
                        result: Err(error),
                    });
                }
                if let Some(via) = pending.via {
                    // The completion and the next transaction's opening failed
                    // together: the request has its error, the completion is retried.
                    entry.pending = Some(Pending {
                        target: via,
                        phase: Phase::RetryAt(now.saturating_add(backoff)),
                        on_done: OnDone::Reply(None),
                        fence: false,
                        via: None,
                    });
                } else if completing {
                    // The markers are written: only the completion record is missing.
                    entry.pending = Some(Pending {
                        phase: Phase::RetryAt(now.saturating_add(backoff)),
                        ..pending
                    });
                } else {
                    entry.not_before = now.saturating_add(backoff);
                }
            }
        }
        effects.extend(self.unpark(transactional_id, None, now));
        effects
    }

    /// Reports markers of `transactional_id`'s transaction (`producer_id`,
    /// `producer_epoch`) written to `partitions` (or given up on: their topic is
    /// gone). Once every partition is done, the completion is written.
    pub fn markers_written(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[TopicPartition],
        now: i64,
    ) -> Vec<Effect> {
        let Some(entry) = self.entries.get_mut(transactional_id) else {
            return Vec::new();
        };
        if entry.meta.producer_id != producer_id || entry.meta.producer_epoch != producer_epoch {
            return Vec::new();
        }
        let Some(Pending {
            phase: Phase::Markers(remaining),
            target,
            ..
        }) = entry.pending.as_mut()
        else {
            return Vec::new();
        };
        for tp in partitions {
            remaining.remove(tp);
            entry.meta.partitions.remove(tp);
        }
        if !remaining.is_empty() {
            return Vec::new();
        }
        let mut target = target.clone();
        target.last_update_ms = target.last_update_ms.max(now);
        // A waiting AddPartitionsToTxn of the same producer opens the next transaction
        // in the completion's own write: one fsync and one round trip less per
        // transaction for a producer that starts the next one at once.
        // (The completion's producer: under transactions v2 an exhausted epoch hands
        // over to the next producer id.)
        let same_producer =
            |p: &ParkedAdd| p.producer_id == target.producer_id && p.epoch == target.producer_epoch;
        if let Some(parked) = entry.parked.take_if(|p| same_producer(p)) {
            let next = crate::ops::opened(&target, &parked.partitions, parked.tv, now);
            let on_done = OnDone::Reply(Some((parked.request, crate::types::Reply::Done)));
            return self
                .start_write_via(transactional_id, Some(target), next, on_done, false)
                .into_iter()
                .collect();
        }
        self.start_write(transactional_id, target, OnDone::Reply(None), false)
            .into_iter()
            .collect()
    }

    /// The earliest time [`TxnPartition::tick`] has work: a transaction timing out,
    /// an id expiring, a failed write to retry.
    pub fn next_deadline(&self) -> Option<i64> {
        self.entries
            .values()
            .filter_map(|e| self.deadline_of(e))
            .min()
    }

    fn deadline_of(&self, e: &Entry) -> Option<i64> {
        let parked = e.parked.as_ref().map(|p| p.until);
        match (parked, work_deadline(e, self.cfg.id_expiration_ms)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Does what is due at `now`: aborts timed-out transactions (fencing their
    /// producer with an epoch bump), expires idle ids (tombstones), retries failed
    /// completion writes, answers parked requests whose wait is over
    /// CONCURRENT_TRANSACTIONS.
    pub fn tick(&mut self, now: i64) -> Vec<Effect> {
        let due: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| self.deadline_of(e).is_some_and(|d| d <= now))
            .map(|(id, _)| id.clone())
            .collect();
        let mut effects = Vec::new();
        for id in due {
            let Some(entry) = self.entries.get_mut(&id) else {
                continue;
            };
            if entry.parked.as_ref().is_some_and(|p| p.until <= now) {
                if let Some(p) = entry.parked.take() {
                    effects.push(Effect::Respond {
                        request: p.request,
                        result: Err(TxnError::ConcurrentTransactions),
                    });
                }
            }
            if work_deadline(entry, self.cfg.id_expiration_ms).is_none_or(|d| d > now) {
                continue;
            }
            let Some(entry) = self.entries.get_mut(&id) else {
                continue;
            };
            if let Some(p) = entry.pending.take() {
                effects.extend(self.start_write_via(&id, p.via, p.target, p.on_done, p.fence));
            } else if entry.meta.state == TxnState::Ongoing {
                effects.extend(self.fence_and_abort(&id, None, now));
            } else if entry.meta.state.expirable() {
                let target = entry.meta.clone();
                let target = TxnMetadata {
                    state: TxnState::Dead,
                    partitions: Default::default(),
                    ..target
                };
                effects.extend(self.start_write(&id, target, OnDone::Remove, false));
            }
        }
        effects
    }
}

/// When the id's own work is due (without its parked request).
fn work_deadline(e: &Entry, id_expiration_ms: i64) -> Option<i64> {
    match &e.pending {
        Some(Pending {
            phase: Phase::RetryAt(at),
            ..
        }) => Some(*at),
        Some(_) => None,
        None if e.meta.state == TxnState::Ongoing => Some(
            e.meta
                .start_ms
                .saturating_add(i64::from(e.meta.timeout_ms))
                .saturating_add(1)
                .max(e.not_before),
        ),
        None if e.meta.state.expirable() => Some(
            e.meta
                .last_update_ms
                .saturating_add(id_expiration_ms)
                .max(e.not_before),
        ),
        None => None,
    }
}
