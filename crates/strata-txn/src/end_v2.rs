//! EndTxn for clients of transactions v2 (KIP-890 part 2, EndTxn v5): every end bumps
//! the producer epoch, so a late write of the ended transaction (at the old epoch) is
//! fenced everywhere, and the answer carries the producer id and epoch to use next.
//!
//! Kafka's rules (`TransactionCoordinator.endTransaction` at transaction version 2):
//! - PrepareCommit / PrepareAbort is written with the epoch + 1 (and the previous
//!   epoch kept as the last one); its markers carry the new epoch; the completion keeps
//!   it. When the current epoch is used up ([`EPOCH_EXHAUSTED`]), the Prepare* record
//!   carries the bump to `i16::MAX` and a fresh producer id (`next_producer_id`), and
//!   the completion hands over to that id at epoch 0: the answer is (new id, 0).
//! - A retry of an EndTxn that was answered (the request's epoch one below the current
//!   one, or the old id at the used-up epoch after a handover) is answered with the
//!   current producer id and epoch when its result matches, INVALID_TXN_STATE when not.
//! - An abort with no transaction open (Empty, or the last one complete) is allowed: it
//!   bumps the epoch too, with no markers to write.
//! - While a transition is in progress (its record, or the markers) the answer is
//!   CONCURRENT_TRANSACTIONS, checked before the epoch (KAFKA-18464: a client that
//!   commits and aborts at once must not fence itself).

use crate::metadata::{OnDone, EPOCH_EXHAUSTED, TV2};
use crate::ops::InitStep;
use crate::partition::TxnPartition;
use crate::types::{Effect, ProducerIdAndEpoch, Reply, RequestId, TxnError, TxnResult, TxnState};

/// An EndTxn v5 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndTxnV2 {
    /// Echoed in the answer.
    pub request: RequestId,
    /// The transactional id.
    pub transactional_id: String,
    /// The producer id the client holds.
    pub producer_id: i64,
    /// Its epoch.
    pub epoch: i16,
    /// Commit or abort.
    pub result: TxnResult,
    /// A fresh producer id from the allocator, when the previous call asked for one
    /// (the epoch is used up).
    pub fresh_producer_id: Option<i64>,
}

fn respond(request: RequestId, result: Result<Reply, TxnError>) -> InitStep {
    InitStep::Effects(vec![Effect::Respond { request, result }])
}

impl TxnPartition {
    /// EndTxn at transaction version 2 (see the module docs). The answer is
    /// [`Reply::Producer`] with the producer id and epoch the client continues with;
    /// [`InitStep::NeedProducerId`] asks for the call again with a fresh producer id.
    pub fn end_txn_v2(&mut self, req: &EndTxnV2, now: i64) -> InitStep {
        let id = req.transactional_id.as_str();
        let request = req.request;
        if id.is_empty() {
            return respond(request, Err(TxnError::InvalidRequest));
        }
        let Some(entry) = self.entries.get(id) else {
            return respond(request, Err(TxnError::InvalidProducerIdMapping));
        };
        let m = &entry.meta;
        let commit = req.result == TxnResult::Commit;
        // A retry of an answered EndTxn: the epoch it bumped, or the handover to the
        // next producer id it caused.
        // (Never to i16::MAX: only a fence of the last usable epoch reaches it, and
        // that producer must start over with InitProducerId, which hands over to a
        // fresh producer id; Kafka's KAFKA-20090 rotates in the fence instead.)
        let retry_on_bump = req.producer_id == m.producer_id
            && i32::from(m.producer_epoch) == i32::from(req.epoch) + 1
            && m.producer_epoch < i16::MAX;
        let retry_on_overflow = req.producer_id == m.last_producer_id
            && req.producer_id != m.producer_id
            && req.epoch == EPOCH_EXHAUSTED
            && m.producer_epoch == 0;
        if req.producer_id != m.producer_id && !retry_on_overflow {
            return respond(request, Err(TxnError::InvalidProducerIdMapping));
        }
        if entry.pending.is_some() {
            return respond(request, Err(TxnError::ConcurrentTransactions));
        }
        let current = req.epoch == m.producer_epoch && req.producer_id == m.producer_id;
        let valid_epoch = match m.state {
            TxnState::Ongoing | TxnState::Empty => current,
            TxnState::PrepareCommit | TxnState::PrepareAbort => retry_on_bump,
            TxnState::CompleteCommit | TxnState::CompleteAbort => {
                current || retry_on_bump || retry_on_overflow
            }
            TxnState::Dead | TxnState::PrepareEpochFence => current,
        };
        if !valid_epoch {
            return respond(request, Err(TxnError::ProducerFenced));
        }
        let retry = retry_on_bump || retry_on_overflow;
        let now_holds = Ok(Reply::Producer(ProducerIdAndEpoch {
            producer_id: m.producer_id,
            epoch: m.producer_epoch,
        }));
        match (m.state, commit) {
            (TxnState::Ongoing, _) => self.prepare_end(req, false, now),
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) if retry => {
                respond(request, now_holds)
            }
            (TxnState::CompleteCommit | TxnState::CompleteAbort | TxnState::Empty, false)
                if !retry =>
            {
                self.prepare_end(req, true, now)
            }
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                respond(request, Err(TxnError::ConcurrentTransactions))
            }
            (TxnState::Dead | TxnState::PrepareEpochFence, _) => {
                respond(request, Err(TxnError::UnknownServerError))
            }
            _ => respond(request, Err(TxnError::InvalidTxnState)),
        }
    }

    /// Writes PrepareCommit / PrepareAbort with the epoch bumped (and, the epoch used
    /// up, the next producer id); answered once durable, then the markers.
    /// `no_partition_added`: an abort with no transaction open.
    fn prepare_end(&mut self, req: &EndTxnV2, no_partition_added: bool, now: i64) -> InitStep {
        let id = req.transactional_id.as_str();
        let Some(entry) = self.entries.get(id) else {
            return InitStep::Effects(Vec::new());
        };
        let m = &entry.meta;
        let next_producer_id = if m.epoch_exhausted() {
            match req.fresh_producer_id {
                Some(fresh) => fresh,
                None => return InitStep::NeedProducerId,
            }
        } else {
            -1
        };
        let Some(epoch) = m.producer_epoch.checked_add(1) else {
            // Only a fence reaches i16::MAX, and it never hands it out.
            return respond(req.request, Err(TxnError::ProducerFenced));
        };
        let mut target = m.clone();
        target.state = req.result.prepare_state();
        target.producer_epoch = epoch;
        target.last_producer_epoch = m.producer_epoch;
        target.last_producer_id = m.producer_id;
        target.next_producer_id = next_producer_id;
        target.client_tv = TV2;
        target.last_update_ms = now.max(m.last_update_ms);
        if no_partition_added {
            // Kafka: the start time of a transaction with nothing in it is its end.
            target.start_ms = target.last_update_ms;
        }
        let next = if next_producer_id >= 0 {
            ProducerIdAndEpoch {
                producer_id: next_producer_id,
                epoch: 0,
            }
        } else {
            ProducerIdAndEpoch {
                producer_id: m.producer_id,
                epoch,
            }
        };
        let on_done = OnDone::Markers {
            result: req.result,
            reply: Some((req.request, Ok(Reply::Producer(next)))),
        };
        InitStep::Effects(
            self.start_write(id, target, on_done, false)
                .into_iter()
                .collect(),
        )
    }
}
