//! One transactional id's state and the transition it may have in progress.

use std::collections::BTreeSet;

use crate::records::TxnLogValue;
use crate::types::{RequestId, TopicPartition, TxnError, TxnResult, TxnState, WriteId};

/// The epoch from which a producer id is used up: clients never get `i16::MAX`, so
/// the coordinator can always fence one more time (Kafka's rule).
pub const EPOCH_EXHAUSTED: i16 = i16::MAX - 1;

/// The `transaction.version` level of KIP-890 part 2 (an epoch bump at every EndTxn).
pub const TV2: i16 = 2;

/// A transactional id's state: what its last persisted record says (plus, after a
/// fence whose write failed, the bumped epoch, which is never handed out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    /// Producer id.
    pub producer_id: i64,
    /// The producer id before the last transition (the old one right after a
    /// rotation), `-1` if unknown.
    pub last_producer_id: i64,
    /// Current epoch (`-1` before the first InitProducerId completes).
    pub producer_epoch: i16,
    /// The epoch before the last InitProducerId bump, when that bump came from a
    /// KIP-360 request (so its retry gets the same answer); `-1` otherwise.
    pub last_producer_epoch: i16,
    /// Transaction timeout.
    pub timeout_ms: i32,
    /// State.
    pub state: TxnState,
    /// Partitions of the open transaction.
    pub partitions: BTreeSet<TopicPartition>,
    /// When the open transaction started (`-1` when none has).
    pub start_ms: i64,
    /// Last update (drives `transactional.id.expiration.ms`).
    pub last_update_ms: i64,
    /// Transactions v2 (KIP-890 part 2): the producer id that takes over once the
    /// PrepareCommit / PrepareAbort in progress completes, because its epoch bump
    /// used up the current one; `-1` otherwise.
    pub next_producer_id: i64,
    /// The `transaction.version` the id's last transaction was run at: 2 when it was
    /// opened or ended by a client of transactions v2 (its epoch is bumped at every
    /// end), 0 otherwise.
    pub client_tv: i16,
}

impl TxnMetadata {
    /// The record for this state.
    pub fn to_value(&self) -> TxnLogValue {
        TxnLogValue {
            producer_id: self.producer_id,
            previous_producer_id: if self.last_producer_id != self.producer_id {
                self.last_producer_id
            } else {
                -1
            },
            next_producer_id: self.next_producer_id,
            producer_epoch: self.producer_epoch,
            timeout_ms: self.timeout_ms,
            state: self.state,
            partitions: self.partitions.iter().cloned().collect(),
            last_update_ms: self.last_update_ms,
            start_ms: self.start_ms,
            client_transaction_version: self.client_tv,
        }
    }

    /// The state a replayed record describes.
    pub fn from_value(v: &TxnLogValue) -> TxnMetadata {
        TxnMetadata {
            producer_id: v.producer_id,
            last_producer_id: v.previous_producer_id,
            producer_epoch: v.producer_epoch,
            // Not in the record (as in Kafka): a KIP-360 retry across a failover is
            // answered as a fresh request.
            last_producer_epoch: -1,
            timeout_ms: v.timeout_ms,
            state: v.state,
            partitions: v.partitions.iter().cloned().collect(),
            start_ms: v.start_ms,
            last_update_ms: v.last_update_ms,
            next_producer_id: v.next_producer_id,
            client_tv: v.client_transaction_version,
        }
    }

    /// Whether the id's transactions follow transactions v2 (an epoch bump at every
    /// EndTxn).
    pub fn tv2(&self) -> bool {
        self.client_tv >= TV2
    }

    /// Whether the epoch is used up (InitProducerId then rotates the producer id).
    pub fn epoch_exhausted(&self) -> bool {
        self.producer_epoch >= EPOCH_EXHAUSTED
    }
}

/// Whether completing `from` → `to` respects Kafka's rules: a legal state change; the
/// epoch kept, bumped by one, or reset to 0 with a new producer id (InitProducerId);
/// partitions only grow while Ongoing and are kept by Prepare*; time never goes back.
pub fn valid_transition(from: &TxnMetadata, to: &TxnMetadata) -> bool {
    // Transactions v2 may abort with no transaction open (EndTxn v5 abort of an idle id).
    let empty_abort = to.tv2()
        && to.state == TxnState::PrepareAbort
        && matches!(
            from.state,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        );
    if !to.state.valid_previous().contains(&from.state) && !empty_abort {
        return false;
    }
    if to.last_update_ms < from.last_update_ms {
        return false;
    }
    let same_producer =
        to.producer_id == from.producer_id && to.producer_epoch == from.producer_epoch;
    let bumped = to.producer_id == from.producer_id
        && i32::from(to.producer_epoch) == i32::from(from.producer_epoch) + 1;
    match to.state {
        TxnState::Empty => {
            let rotation = to.producer_id != from.producer_id && to.producer_epoch == 0;
            (same_producer || bumped || rotation) && to.partitions.is_empty() && to.start_ms == -1
        }
        TxnState::Ongoing => {
            same_producer
                && from.partitions.is_subset(&to.partitions)
                && to.timeout_ms == from.timeout_ms
        }
        TxnState::PrepareCommit | TxnState::PrepareAbort => {
            // An epoch fence bumps the epoch on its way to PrepareAbort; transactions
            // v2 bump it at every end.
            let fenced = to.state == TxnState::PrepareAbort
                && to.producer_id == from.producer_id
                && to.producer_epoch >= from.producer_epoch;
            (same_producer || fenced || (to.tv2() && bumped))
                && to.partitions == from.partitions
                && to.timeout_ms == from.timeout_ms
                && (to.start_ms == from.start_ms || empty_abort)
        }
        TxnState::CompleteCommit | TxnState::CompleteAbort => {
            // Transactions v2: an end that used up the epoch hands over to the next
            // producer id, at epoch 0.
            let rotated = from.next_producer_id >= 0
                && to.producer_id == from.next_producer_id
                && to.producer_epoch == 0
                && to.last_producer_id == from.producer_id;
            (same_producer || rotated)
                && to.next_producer_id == -1
                && to.timeout_ms == from.timeout_ms
                && to.start_ms != -1
        }
        TxnState::Dead => same_producer,
        TxnState::PrepareEpochFence => false,
    }
}

/// What happens once a pending write is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OnDone {
    /// Install the target, then answer (if there is a request).
    Reply(Option<(RequestId, crate::types::Reply)>),
    /// Install the Prepare* target, answer, then write markers for `result`.
    Markers {
        result: TxnResult,
        reply: Option<(RequestId, Result<crate::types::Reply, TxnError>)>,
    },
    /// Forget the id (a tombstone was written).
    Remove,
}

/// Where a pending transition stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Its record is being written.
    Writing(WriteId),
    /// Markers are being written; the partitions still to confirm.
    Markers(BTreeSet<TopicPartition>),
    /// Its record's write failed; written again at this time.
    RetryAt(i64),
}

/// A transition prepared but not completed: while one exists, other requests for the
/// id get CONCURRENT_TRANSACTIONS (or, for EndTxn retries, their Kafka answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pending {
    /// The state once complete.
    pub(crate) target: TxnMetadata,
    pub(crate) phase: Phase,
    pub(crate) on_done: OnDone,
    /// An epoch fence (its failure leaves the bumped epoch in memory).
    pub(crate) fence: bool,
    /// The completion (CompleteCommit / CompleteAbort) written in the same batch just
    /// before `target`, when a waiting AddPartitionsToTxn opens the next transaction
    /// the moment the last one's markers are written.
    pub(crate) via: Option<TxnMetadata>,
}

/// An AddPartitionsToTxn / AddOffsetsToTxn that came while its id was busy, run
/// again once the id is idle, or answered CONCURRENT_TRANSACTIONS at `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParkedAdd {
    pub(crate) request: RequestId,
    pub(crate) producer_id: i64,
    pub(crate) epoch: i16,
    pub(crate) partitions: Vec<TopicPartition>,
    pub(crate) until: i64,
    /// The `transaction.version` of the request (see `add_partitions_at`).
    pub(crate) tv: i16,
}

/// One transactional id in memory.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) meta: TxnMetadata,
    pub(crate) pending: Option<Pending>,
    /// At most one request waiting for `pending` (or a Prepare* state) to end.
    pub(crate) parked: Option<ParkedAdd>,
    /// A fence's write failed: the epoch in memory is already bumped and is not
    /// bumped again by the next fence (Kafka's `hasFailedEpochFence`).
    pub(crate) failed_fence: bool,
    /// Background work (timeout abort, expiry) waits until this time after a failure.
    pub(crate) not_before: i64,
}

impl Entry {
    /// A transition is in progress (a write, or a Prepare* state's markers): a
    /// request that would start another must wait.
    pub(crate) fn busy(&self) -> bool {
        self.pending.is_some()
            || matches!(
                self.meta.state,
                TxnState::PrepareCommit | TxnState::PrepareAbort
            )
    }

    pub(crate) fn new(meta: TxnMetadata) -> Self {
        Entry {
            meta,
            pending: None,
            parked: None,
            failed_fence: false,
            not_before: i64::MIN,
        }
    }
}
