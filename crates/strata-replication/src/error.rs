//! Errors of the replication state machines.

use strata_proto::error_code;

/// A call the state machine refused; its state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicationError {
    /// A fetch came from a broker that is not a follower of this partition.
    #[error("broker {0} is not a follower replica of this partition")]
    UnknownReplica(i32),
    /// A follower fetched from beyond the leader's log end offset (its log diverged or
    /// it has not truncated yet).
    #[error("fetch offset {offset} is outside the leader's log [0, {log_end_offset}]")]
    FetchOffsetOutOfRange {
        /// The follower's fetch offset.
        offset: i64,
        /// The leader's log end offset.
        log_end_offset: i64,
    },
    /// The leader's log end offset may not move backwards while it leads.
    #[error("leader log end offset cannot move back from {current} to {requested}")]
    LogEndWentBack {
        /// The known log end offset.
        current: i64,
        /// The offset passed in.
        requested: i64,
    },
    /// A replica set or ISR that breaks the rules (leader missing from the ISR, ISR
    /// member not a replica, duplicates, ...).
    #[error("invalid partition assignment: {0}")]
    InvalidAssignment(String),
}

impl ReplicationError {
    /// The Kafka protocol error code that fits best.
    pub fn error_code(&self) -> i16 {
        match self {
            ReplicationError::UnknownReplica(_) => error_code::NOT_LEADER_OR_FOLLOWER,
            ReplicationError::FetchOffsetOutOfRange { .. } => error_code::OFFSET_OUT_OF_RANGE,
            ReplicationError::LogEndWentBack { .. } | ReplicationError::InvalidAssignment(_) => {
                error_code::INVALID_REQUEST
            }
        }
    }
}
