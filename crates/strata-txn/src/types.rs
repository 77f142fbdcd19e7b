//! The values the coordinator takes and hands back.

use bytes::Bytes;
use kafka_protocol::ResponseError;

/// Kafka error codes, as `kafka-protocol` names them.
pub type TxnError = ResponseError;

/// Identifies one client request; chosen by the caller, echoed in its
/// [`Effect::Respond`].
pub type RequestId = u64;

/// Identifies one record write; handed out by the coordinator in
/// [`Effect::Persist`] and given back to [`crate::TxnPartition::persisted`].
pub type WriteId = u64;

/// A partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// `topic`-`partition`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

/// A producer id and its epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerIdAndEpoch {
    /// The producer id.
    pub producer_id: i64,
    /// Its epoch.
    pub epoch: i16,
}

/// Kafka's transaction states, with the ids they have in `__transaction_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TxnState {
    /// No transaction in progress (new id, or after InitProducerId).
    Empty,
    /// Partitions were added; the transaction is open.
    Ongoing,
    /// Commit decided and persisted; markers being written.
    PrepareCommit,
    /// Abort decided and persisted; markers being written.
    PrepareAbort,
    /// Commit markers written everywhere.
    CompleteCommit,
    /// Abort markers written everywhere.
    CompleteAbort,
    /// Expired; only ever a pending target (persisted as a tombstone).
    Dead,
    /// Fencing an open transaction (never persisted: becomes PrepareAbort at once).
    PrepareEpochFence,
}

impl TxnState {
    /// Every state, in id order.
    pub const ALL: [TxnState; 8] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
        TxnState::PrepareEpochFence,
    ];

    /// The id Kafka stores (`TransactionStatus`).
    pub fn id(self) -> i8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::Dead => 6,
            TxnState::PrepareEpochFence => 7,
        }
    }

    /// The state with stored id `id`.
    pub fn from_id(id: i8) -> Option<TxnState> {
        TxnState::ALL.into_iter().find(|s| s.id() == id)
    }

    /// The name DescribeTransactions / ListTransactions use.
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// The state named `name`.
    pub fn from_name(name: &str) -> Option<TxnState> {
        TxnState::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The states this one may follow (Kafka's transition table).
    pub fn valid_previous(self) -> &'static [TxnState] {
        use TxnState::*;
        match self {
            Empty => &[Empty, CompleteCommit, CompleteAbort],
            Ongoing => &[Ongoing, Empty, CompleteCommit, CompleteAbort],
            PrepareCommit => &[Ongoing],
            PrepareAbort => &[Ongoing, PrepareEpochFence],
            CompleteCommit => &[PrepareCommit],
            CompleteAbort => &[PrepareAbort],
            Dead => &[Empty, CompleteAbort, CompleteCommit],
            PrepareEpochFence => &[Ongoing],
        }
    }

    /// Whether an id in this state may expire (`transactional.id.expiration.ms`).
    pub fn expirable(self) -> bool {
        matches!(
            self,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        )
    }
}

/// How a transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnResult {
    /// Committed.
    Commit,
    /// Aborted.
    Abort,
}

impl TxnResult {
    /// The state that decides this result.
    pub fn prepare_state(self) -> TxnState {
        match self {
            TxnResult::Commit => TxnState::PrepareCommit,
            TxnResult::Abort => TxnState::PrepareAbort,
        }
    }

    /// The state that records this result done.
    pub fn complete_state(self) -> TxnState {
        match self {
            TxnResult::Commit => TxnState::CompleteCommit,
            TxnResult::Abort => TxnState::CompleteAbort,
        }
    }
}

/// Coordinator settings (Kafka's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnConfig {
    /// `transaction.max.timeout.ms`: larger client timeouts are refused.
    pub max_timeout_ms: i32,
    /// `transactional.id.expiration.ms`: an idle id (no transaction open) is
    /// forgotten after this.
    pub id_expiration_ms: i64,
    /// How long a failed background write (an expiry, a timeout abort, a completion)
    /// waits before it is tried again.
    pub retry_backoff_ms: i64,
    /// How long an AddPartitionsToTxn / AddOffsetsToTxn waits for the id's previous
    /// transaction (or other transition) to complete before it is answered
    /// CONCURRENT_TRANSACTIONS. Clients start the next transaction the moment EndTxn
    /// answers, while its markers are still being written; answering at once makes
    /// them back off (librdkafka and the Java client sleep about 20 ms), waiting lets
    /// the next transaction start the moment the last one completes.
    pub busy_wait_ms: i64,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            max_timeout_ms: 900_000,
            id_expiration_ms: 604_800_000,
            retry_backoff_ms: 1_000,
            busy_wait_ms: 1_000,
        }
    }
}

/// A successful answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// The operation is done (AddPartitions / AddOffsets / EndTxn).
    Done,
    /// InitProducerId's answer.
    Producer(ProducerIdAndEpoch),
}

/// What the caller must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Write this record to the partition's log (`acks=all`) and report the outcome
    /// with [`crate::TxnPartition::persisted`]. `value: None` is a tombstone.
    Persist {
        /// Whose record.
        transactional_id: String,
        /// Echoed back in `persisted`.
        write: WriteId,
        /// The encoded key.
        key: Bytes,
        /// The encoded value.
        value: Option<Bytes>,
        /// A record of the same key to write just before it, in the same batch (one
        /// atomic append): the completion of the last transaction when the next one
        /// opens in the same write.
        before: Option<Bytes>,
        /// Whether `persisted` must wait until the write is durable (fsynced and on
        /// every in-sync replica). `false` for a bare completion (CompleteCommit /
        /// CompleteAbort nobody waits for): in the log is enough, because a reload
        /// that does not find it redoes it from its Prepare* record (the markers again,
        /// which partitions accept twice), and any later durable write of the
        /// partition makes it durable too (the log is a prefix). One fsync less per
        /// transaction.
        durable: bool,
    },
    /// Write transaction markers to these partitions' leaders (WriteTxnMarkers) and
    /// report each partition done with [`crate::TxnPartition::markers_written`].
    SendMarkers {
        /// Whose transaction.
        transactional_id: String,
        /// The marker's producer id.
        producer_id: i64,
        /// The marker's producer epoch.
        producer_epoch: i16,
        /// Commit or abort.
        result: TxnResult,
        /// This coordinator's epoch (the partition's leader epoch).
        coordinator_epoch: i32,
        /// Where markers go.
        partitions: Vec<TopicPartition>,
    },
    /// Answer request `request`.
    Respond {
        /// The request.
        request: RequestId,
        /// The answer.
        result: Result<Reply, TxnError>,
    },
}

/// DescribeTransactions' view of one transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnDescription {
    /// The state.
    pub state: TxnState,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// Transaction timeout.
    pub timeout_ms: i32,
    /// When the open transaction started, `-1` if none.
    pub start_ms: i64,
    /// Partitions of the open transaction.
    pub partitions: Vec<TopicPartition>,
}

/// ListTransactions' filters (empty: no filter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only these states (names as Kafka spells them; unknown names match nothing).
    pub states: Vec<String>,
    /// Only these producer ids.
    pub producer_ids: Vec<i64>,
    /// Only transactions running longer than this (v1; negative: no filter).
    pub min_duration_ms: i64,
}

/// One ListTransactions row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnListing {
    /// The transactional id.
    pub transactional_id: String,
    /// Its producer id.
    pub producer_id: i64,
    /// Its state.
    pub state: TxnState,
}
