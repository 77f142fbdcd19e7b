//! The client operations: InitProducerId, AddPartitionsToTxn (and AddOffsetsToTxn,
//! which adds one `__consumer_offsets` partition), its KIP-890 verify-only form, and
//! EndTxn. Each returns effects; its answer is an [`Effect::Respond`] with the
//! caller's request id, at once for refusals and after the write otherwise.

use crate::metadata::{Entry, OnDone, ParkedAdd, TxnMetadata, EPOCH_EXHAUSTED, TV2};
use crate::partition::TxnPartition;
use crate::types::{
    Effect, ProducerIdAndEpoch, Reply, RequestId, TopicPartition, TxnError, TxnResult, TxnState,
};

/// An InitProducerId request with a transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitProducerId {
    /// Echoed in the answer.
    pub request: RequestId,
    /// The transactional id.
    pub transactional_id: String,
    /// `transaction.timeout.ms` of the client.
    pub timeout_ms: i32,
    /// KIP-360: the producer id and epoch the client has (v3+), if any.
    pub expected: Option<ProducerIdAndEpoch>,
    /// A fresh producer id from the allocator, when the previous call asked for one.
    pub fresh_producer_id: Option<i64>,
}

/// The outcome of [`TxnPartition::init_producer_id`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum InitStep {
    /// Carry these out (the answer is among them or follows a write).
    Effects(Vec<Effect>),
    /// Nothing changed: call again with `fresh_producer_id` set (a new id, or an
    /// epoch that would overflow). The state is checked afresh on that call; an id it
    /// does not need is simply not used.
    NeedProducerId,
}

fn respond(request: RequestId, result: Result<Reply, TxnError>) -> Vec<Effect> {
    vec![Effect::Respond { request, result }]
}

impl TxnPartition {
    /// InitProducerId for a transactional id (Kafka's rules): a new id gets a fresh
    /// producer id at epoch 0; an idle one gets its epoch bumped (or a fresh producer
    /// id when the epoch is used up); an open transaction is aborted first, with an
    /// epoch bump that fences its producer, and the client told CONCURRENT_TRANSACTIONS
    /// so it retries once the abort is done.
    pub fn init_producer_id(&mut self, req: &InitProducerId, now: i64) -> InitStep {
        let id = req.transactional_id.as_str();
        if id.is_empty() {
            return InitStep::Effects(respond(req.request, Err(TxnError::InvalidRequest)));
        }
        if req.timeout_ms <= 0 || req.timeout_ms > self.cfg.max_timeout_ms {
            return InitStep::Effects(respond(
                req.request,
                Err(TxnError::InvalidTransactionTimeout),
            ));
        }
        if !self.entries.contains_key(id) {
            let Some(fresh) = req.fresh_producer_id else {
                return InitStep::NeedProducerId;
            };
            // Kafka keeps the new id in memory from here (even if the write fails).
            self.entries.insert(
                id.to_string(),
                Entry::new(TxnMetadata {
                    producer_id: fresh,
                    last_producer_id: -1,
                    producer_epoch: -1,
                    last_producer_epoch: -1,
                    timeout_ms: req.timeout_ms,
                    state: TxnState::Empty,
                    partitions: Default::default(),
                    start_ms: -1,
                    last_update_ms: now,
                    next_producer_id: -1,
                    client_tv: 0,
                }),
            );
        }
        let Some(entry) = self.entries.get(id) else {
            return InitStep::Effects(Vec::new());
        };
        let m = &entry.meta;
        if entry.pending.is_some() {
            return InitStep::Effects(respond(req.request, Err(TxnError::ConcurrentTransactions)));
        }
        if let Some(e) = req.expected {
            // KIP-360: a just-created id, the current producer id, or a retry of a
            // rotation (the old id with its used-up epoch).
            let valid = m.producer_epoch == -1
                || e.producer_id == m.producer_id
                || (e.producer_id == m.last_producer_id && e.epoch >= EPOCH_EXHAUSTED);
            if !valid {
                return InitStep::Effects(respond(req.request, Err(TxnError::ProducerFenced)));
            }
        }
        let target = match m.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort => {
                return InitStep::Effects(respond(
                    req.request,
                    Err(TxnError::ConcurrentTransactions),
                ))
            }
            TxnState::Ongoing => {
                return InitStep::Effects(self.fence_and_abort(id, Some(req.request), now))
            }
            TxnState::Dead | TxnState::PrepareEpochFence => {
                return InitStep::Effects(respond(req.request, Err(TxnError::UnknownServerError)))
            }
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
                let rotate =
                    m.epoch_exhausted() && req.expected.is_none_or(|e| e.epoch == m.producer_epoch);
                if rotate {
                    let Some(fresh) = req.fresh_producer_id else {
                        return InitStep::NeedProducerId;
                    };
                    TxnMetadata {
                        producer_id: fresh,
                        last_producer_id: m.producer_id,
                        producer_epoch: 0,
                        last_producer_epoch: if req.expected.is_some() {
                            m.producer_epoch
                        } else {
                            -1
                        },
                        timeout_ms: req.timeout_ms,
                        state: TxnState::Empty,
                        partitions: Default::default(),
                        start_ms: -1,
                        last_update_ms: now.max(m.last_update_ms),
                        next_producer_id: -1,
                        client_tv: m.client_tv,
                    }
                } else {
                    match bumped_epochs(m, req.expected) {
                        Ok((epoch, last_epoch)) => TxnMetadata {
                            producer_id: m.producer_id,
                            last_producer_id: m.producer_id,
                            producer_epoch: epoch,
                            last_producer_epoch: last_epoch,
                            timeout_ms: req.timeout_ms,
                            state: TxnState::Empty,
                            partitions: Default::default(),
                            start_ms: -1,
                            last_update_ms: now.max(m.last_update_ms),
                            next_producer_id: -1,
                            client_tv: m.client_tv,
                        },
                        Err(e) => return InitStep::Effects(respond(req.request, Err(e))),
                    }
                }
            }
        };
        let reply = Reply::Producer(ProducerIdAndEpoch {
            producer_id: target.producer_id,
            epoch: target.producer_epoch,
        });
        InitStep::Effects(
            self.start_write(id, target, OnDone::Reply(Some((req.request, reply))), false)
                .into_iter()
                .collect(),
        )
    }

    /// Aborts `id`'s open transaction with a bumped epoch (fencing its producer):
    /// PrepareAbort is written, then markers, then CompleteAbort. `reply` (an
    /// InitProducerId) is answered CONCURRENT_TRANSACTIONS once PrepareAbort is durable.
    pub(crate) fn fence_and_abort(
        &mut self,
        id: &str,
        reply: Option<RequestId>,
        now: i64,
    ) -> Vec<Effect> {
        let Some(entry) = self.entries.get_mut(id) else {
            return Vec::new();
        };
        if entry.meta.state != TxnState::Ongoing || entry.pending.is_some() {
            return reply
                .map(|r| respond(r, Err(TxnError::ConcurrentTransactions)))
                .unwrap_or_default();
        }
        let epoch = if entry.failed_fence {
            entry.meta.producer_epoch
        } else {
            match entry.meta.producer_epoch.checked_add(1) {
                Some(e) => e,
                // Clients never hold i16::MAX, so an open transaction never has it.
                None => {
                    return reply
                        .map(|r| respond(r, Err(TxnError::UnknownServerError)))
                        .unwrap_or_default()
                }
            }
        };
        // As Kafka: the bump is in memory before the write, so the fenced producer is
        // refused from now on, and kept if the write fails (never handed out).
        entry.meta.producer_epoch = epoch;
        entry.meta.last_producer_epoch = -1;
        let mut target = entry.meta.clone();
        target.state = TxnState::PrepareAbort;
        target.last_update_ms = now.max(entry.meta.last_update_ms);
        let on_done = OnDone::Markers {
            result: TxnResult::Abort,
            reply: reply.map(|r| (r, Err(TxnError::ConcurrentTransactions))),
        };
        self.start_write(id, target, on_done, true)
            .into_iter()
            .collect()
    }

    /// Checks an operation's producer against `id`'s current one (Kafka's order).
    fn check_producer(&self, id: &str, producer_id: i64, epoch: i16) -> Result<&Entry, TxnError> {
        if id.is_empty() {
            return Err(TxnError::InvalidRequest);
        }
        let entry = self
            .entries
            .get(id)
            .ok_or(TxnError::InvalidProducerIdMapping)?;
        if entry.meta.producer_id != producer_id {
            return Err(TxnError::InvalidProducerIdMapping);
        }
        if entry.meta.producer_epoch != epoch {
            return Err(TxnError::ProducerFenced);
        }
        Ok(entry)
    }

    /// AddPartitionsToTxn (and AddOffsetsToTxn with the group's `__consumer_offsets`
    /// partition): opens the transaction or widens it. Partitions already in the
    /// open transaction are answered at once. While the id is busy (its last
    /// transaction completing) the request waits for it, see [`TxnConfig::busy_wait_ms`].
    pub fn add_partitions(
        &mut self,
        request: RequestId,
        id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[TopicPartition],
        now: i64,
    ) -> Vec<Effect> {
        self.add_partitions_at(request, id, producer_id, epoch, partitions, 0, now)
    }

    /// [`TxnPartition::add_partitions`] for a client of `transaction.version` `tv`:
    /// 2 for the implicit add of transactions v2 (a partition leader's AddPartitionsToTxn
    /// v5 for a Produce v12, or TxnOffsetCommit v5), which records the transaction as
    /// one of transactions v2 and, as Kafka, waits for a busy id before checking the
    /// producer (whose id may be the one the completion in progress hands over to).
    #[allow(clippy::too_many_arguments)]
    pub fn add_partitions_at(
        &mut self,
        request: RequestId,
        id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[TopicPartition],
        tv: i16,
        now: i64,
    ) -> Vec<Effect> {
        let add = ParkedAdd {
            request,
            producer_id,
            epoch,
            partitions: partitions.to_vec(),
            until: now.saturating_add(self.cfg.busy_wait_ms),
            tv,
        };
        if tv >= TV2 && self.entries.get(id).is_some_and(|e| e.busy()) {
            return self.park(id, add);
        }
        let entry = match self.check_producer(id, producer_id, epoch) {
            Ok(e) => e,
            Err(e) => return respond(request, Err(e)),
        };
        if entry.busy() {
            return self.park(id, add);
        }
        let m = &entry.meta;
        if m.state == TxnState::Ongoing && partitions.iter().all(|p| m.partitions.contains(p)) {
            return respond(request, Ok(Reply::Done));
        }
        if !matches!(
            m.state,
            TxnState::Empty
                | TxnState::CompleteCommit
                | TxnState::CompleteAbort
                | TxnState::Ongoing
        ) {
            return respond(request, Err(TxnError::UnknownServerError));
        }
        let target = opened(m, partitions, tv, now);
        self.start_write(
            id,
            target,
            OnDone::Reply(Some((request, Reply::Done))),
            false,
        )
        .into_iter()
        .collect()
    }

    /// An AddPartitionsToTxn for a busy id waits (one per id, up to
    /// `busy_wait_ms`) instead of being answered CONCURRENT_TRANSACTIONS.
    fn park(&mut self, id: &str, add: ParkedAdd) -> Vec<Effect> {
        let wait = self.cfg.busy_wait_ms > 0;
        match self.entries.get_mut(id) {
            Some(entry) if entry.parked.is_none() && wait => {
                entry.parked = Some(add);
                Vec::new()
            }
            _ => respond(add.request, Err(TxnError::ConcurrentTransactions)),
        }
    }

    /// Runs `id`'s parked request once the id is idle (or gone: it is then answered
    /// as any request for an unknown id).
    pub(crate) fn unpark(&mut self, id: &str, parked: Option<ParkedAdd>, now: i64) -> Vec<Effect> {
        let parked = match parked {
            Some(p) => p,
            None => match self.entries.get_mut(id) {
                Some(e) if !e.busy() => match e.parked.take() {
                    Some(p) => p,
                    None => return Vec::new(),
                },
                _ => return Vec::new(),
            },
        };
        self.add_partitions_at(
            parked.request,
            id,
            parked.producer_id,
            parked.epoch,
            &parked.partitions,
            parked.tv,
            now,
        )
    }

    /// KIP-890 verify-only AddPartitionsToTxn (from a partition leader): whether each
    /// partition is in `id`'s open transaction with this producer id and epoch.
    pub fn verify_partitions(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[TopicPartition],
    ) -> Result<Vec<(TopicPartition, bool)>, TxnError> {
        let entry = self.check_producer(id, producer_id, epoch)?;
        let m = &entry.meta;
        if matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort) {
            return Err(TxnError::ConcurrentTransactions);
        }
        Ok(partitions
            .iter()
            .map(|p| {
                let inside = m.state == TxnState::Ongoing && m.partitions.contains(p);
                (p.clone(), inside)
            })
            .collect())
    }

    /// EndTxn: commits or aborts the open transaction (PrepareX written, answered,
    /// markers, CompleteX). A retry after completion is answered OK; a retry while the
    /// markers are written CONCURRENT_TRANSACTIONS; anything else INVALID_TXN_STATE.
    pub fn end_txn(
        &mut self,
        request: RequestId,
        id: &str,
        producer_id: i64,
        epoch: i16,
        result: TxnResult,
        now: i64,
    ) -> Vec<Effect> {
        let entry = match self.check_producer(id, producer_id, epoch) {
            Ok(e) => e,
            Err(e) => return respond(request, Err(e)),
        };
        if entry.pending.is_some() {
            return respond(request, Err(TxnError::ConcurrentTransactions));
        }
        let m = &entry.meta;
        let commit = result == TxnResult::Commit;
        let answer = match m.state {
            TxnState::Ongoing => {
                let mut target = m.clone();
                target.state = result.prepare_state();
                target.last_update_ms = now.max(m.last_update_ms);
                target.last_producer_id = m.producer_id;
                target.client_tv = 0;
                let on_done = OnDone::Markers {
                    result,
                    reply: Some((request, Ok(Reply::Done))),
                };
                return self
                    .start_write(id, target, on_done, false)
                    .into_iter()
                    .collect();
            }
            TxnState::CompleteCommit if commit => Ok(Reply::Done),
            TxnState::CompleteAbort if !commit => Ok(Reply::Done),
            TxnState::PrepareCommit if commit => Err(TxnError::ConcurrentTransactions),
            TxnState::PrepareAbort if !commit => Err(TxnError::ConcurrentTransactions),
            TxnState::Dead | TxnState::PrepareEpochFence => Err(TxnError::UnknownServerError),
            _ => Err(TxnError::InvalidTxnState),
        };
        respond(request, answer)
    }
}

/// The Ongoing state AddPartitionsToTxn moves `m` to (Empty, CompleteCommit,
/// CompleteAbort or Ongoing): `partitions` added, the start time kept while Ongoing.
pub(crate) fn opened(
    m: &TxnMetadata,
    partitions: &[TopicPartition],
    tv: i16,
    now: i64,
) -> TxnMetadata {
    let mut target = m.clone();
    target.start_ms = if m.state == TxnState::Ongoing {
        m.start_ms
    } else {
        now
    };
    target.state = TxnState::Ongoing;
    target.partitions.extend(partitions.iter().cloned());
    target.last_update_ms = now.max(m.last_update_ms);
    target.last_producer_id = m.producer_id;
    target.client_tv = tv;
    target
}

/// The epoch (and last epoch) InitProducerId moves an idle id to (Kafka's rules): no
/// expected epoch bumps; the current one (or none yet) bumps and remembers it; the
/// previous one is a retry answered with the current epoch; any other is fenced.
fn bumped_epochs(
    m: &TxnMetadata,
    expected: Option<ProducerIdAndEpoch>,
) -> Result<(i16, i16), TxnError> {
    let (epoch, last) = match expected {
        None => (m.producer_epoch.saturating_add(1), -1),
        Some(e) if m.producer_epoch == -1 || e.epoch == m.producer_epoch => {
            (m.producer_epoch.saturating_add(1), m.producer_epoch)
        }
        Some(e) if e.epoch == m.last_producer_epoch => {
            return Ok((m.producer_epoch, m.last_producer_epoch))
        }
        Some(_) => return Err(TxnError::ProducerFenced),
    };
    if m.epoch_exhausted() {
        return Err(TxnError::ProducerFenced);
    }
    Ok((epoch, last))
}
