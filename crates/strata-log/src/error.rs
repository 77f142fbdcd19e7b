//! Errors of the storage engine.

use std::io;

use strata_proto::batch::BatchError;
use strata_proto::error_code;

use crate::producer_state::ProducerError;

/// Failure of a log operation.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The produce payload is not a valid set of record batches; nothing was stored.
    #[error(transparent)]
    Batch(BatchError),
    /// A batch of the produce payload exceeds `max.message.bytes`; nothing was stored.
    #[error("record batch of {size} bytes exceeds max.message.bytes {max}")]
    MessageTooLarge {
        /// Size of the offending batch, log overhead included.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// The requested offset is outside `[log_start, log_end]`.
    #[error("offset {offset} is out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        /// The offset asked for.
        offset: i64,
        /// First offset still in the log.
        log_start: i64,
        /// Offset the next appended record will get.
        log_end: i64,
    },
    /// A batch's producer epoch is older than the producer's current one (the producer
    /// is fenced); nothing was stored.
    #[error("producer {producer_id} epoch {epoch} is older than the current epoch {current}")]
    InvalidProducerEpoch {
        /// The producer id.
        producer_id: i64,
        /// The batch's epoch.
        epoch: i16,
        /// The newest epoch seen for this producer.
        current: i16,
    },
    /// A batch's sequence number does not continue the producer's last written batch;
    /// nothing was stored.
    #[error("out of order sequence for producer {producer_id} epoch {epoch}: first sequence {first_seq}, {detail}")]
    OutOfOrderSequence {
        /// The producer id.
        producer_id: i64,
        /// The batch's epoch.
        epoch: i16,
        /// The batch's first sequence.
        first_seq: i32,
        /// What was expected instead.
        detail: String,
    },
    /// A non-transactional batch from a producer with an open transaction; nothing
    /// was stored (`INVALID_TXN_STATE`).
    #[error(
        "producer {producer_id} has an open transaction: a non-transactional batch is not allowed"
    )]
    InvalidTxnState {
        /// The producer id.
        producer_id: i64,
    },
    /// A transaction marker from an older coordinator than one already seen for the
    /// producer; nothing was stored (`TRANSACTION_COORDINATOR_FENCED`).
    #[error("marker for producer {producer_id} from coordinator epoch {coordinator_epoch}, older than {current}")]
    CoordinatorFenced {
        /// The producer id.
        producer_id: i64,
        /// The marker's coordinator epoch.
        coordinator_epoch: i32,
        /// The newest coordinator epoch seen for this producer.
        current: i32,
    },
    /// A replicated payload does not start at the log end offset (the follower must
    /// truncate or fetch from elsewhere); nothing was stored.
    #[error("replicated batches start at offset {first_offset} (last {last_offset}), expected the log end offset {expected}")]
    UnexpectedAppendOffset {
        /// The log end offset.
        expected: i64,
        /// Base offset of the first batch.
        first_offset: i64,
        /// Last offset of the first batch.
        last_offset: i64,
    },
    /// A batch of a replicated payload does not start where the previous one ended;
    /// nothing was stored.
    #[error("replicated batch starts at offset {actual}, expected {expected}")]
    NonContiguousOffsets {
        /// Where the batch should have started.
        expected: i64,
        /// Where it starts.
        actual: i64,
    },
    /// A leader's append arrived when this replica no longer leads the partition
    /// (it would be written without a leader epoch); nothing was stored.
    #[error("this replica does not lead the partition (leadership moved)")]
    NotLeader,
    /// A leader epoch lower than the log's latest (or negative where one is
    /// required); nothing was stored.
    #[error("leader epoch {epoch} is older than the log's latest epoch {latest}")]
    EpochRegression {
        /// The epoch offered.
        epoch: i32,
        /// The log's latest epoch (-1 if none).
        latest: i32,
    },
    /// The records would take offsets past the largest one (`i64::MAX`); only a log
    /// whose stored offsets were tampered with gets there. Nothing was stored.
    #[error("the log ends at offset {end}: {records} more records would pass the largest offset")]
    OffsetOverflow {
        /// The log end offset.
        end: i64,
        /// Records in the payload.
        records: i64,
    },
    /// Stored data is not what the log wrote (e.g. damaged after open).
    #[error("log data is corrupt: {0}")]
    Corrupt(String),
    /// An operating-system I/O failure.
    #[error("log I/O error: {0}")]
    Io(#[from] io::Error),
}

impl From<BatchError> for LogError {
    fn from(err: BatchError) -> Self {
        match err {
            BatchError::MessageTooLarge { size, max } => LogError::MessageTooLarge { size, max },
            other => LogError::Batch(other),
        }
    }
}

impl From<ProducerError> for LogError {
    fn from(err: ProducerError) -> Self {
        match err {
            ProducerError::InvalidProducerEpoch {
                producer_id,
                epoch,
                current,
            } => LogError::InvalidProducerEpoch {
                producer_id,
                epoch,
                current,
            },
            ProducerError::OutOfOrderSequence {
                producer_id,
                epoch,
                first_seq,
                detail,
            } => LogError::OutOfOrderSequence {
                producer_id,
                epoch,
                first_seq,
                detail,
            },
            ProducerError::InvalidTxnState { producer_id } => {
                LogError::InvalidTxnState { producer_id }
            }
            ProducerError::CoordinatorFenced {
                producer_id,
                coordinator_epoch,
                current,
            } => LogError::CoordinatorFenced {
                producer_id,
                coordinator_epoch,
                current,
            },
        }
    }
}

impl LogError {
    /// The Kafka protocol error code a broker should answer with.
    pub fn error_code(&self) -> i16 {
        match self {
            LogError::Batch(err) => err.error_code(),
            LogError::MessageTooLarge { .. } => error_code::MESSAGE_TOO_LARGE,
            LogError::OffsetOutOfRange { .. } => error_code::OFFSET_OUT_OF_RANGE,
            LogError::InvalidProducerEpoch { .. } => error_code::INVALID_PRODUCER_EPOCH,
            LogError::OutOfOrderSequence { .. } => error_code::OUT_OF_ORDER_SEQUENCE_NUMBER,
            LogError::InvalidTxnState { .. } => {
                kafka_protocol::ResponseError::InvalidTxnState.code()
            }
            LogError::CoordinatorFenced { .. } => {
                kafka_protocol::ResponseError::TransactionCoordinatorFenced.code()
            }
            LogError::UnexpectedAppendOffset { .. } => error_code::OFFSET_OUT_OF_RANGE,
            LogError::NonContiguousOffsets { .. } | LogError::EpochRegression { .. } => {
                error_code::CORRUPT_MESSAGE
            }
            LogError::NotLeader => error_code::NOT_LEADER_OR_FOLLOWER,
            LogError::OffsetOverflow { .. } | LogError::Corrupt(_) | LogError::Io(_) => {
                error_code::KAFKA_STORAGE_ERROR
            }
        }
    }
}
