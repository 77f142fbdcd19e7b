//! Kafka error codes produced by the group state machine.

/// An error a group operation answers with, carrying Kafka's numeric code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum GroupError {
    /// The coordinator cannot serve the group right now (e.g. the group is `Dead`).
    #[error("COORDINATOR_NOT_AVAILABLE")]
    CoordinatorNotAvailable,
    /// This broker is not the coordinator of the group.
    #[error("NOT_COORDINATOR")]
    NotCoordinator,
    /// The generation in the request is not the group's current one.
    #[error("ILLEGAL_GENERATION")]
    IllegalGeneration,
    /// Protocol type or protocol names do not match the group's.
    #[error("INCONSISTENT_GROUP_PROTOCOL")]
    InconsistentGroupProtocol,
    /// The group id is empty or otherwise invalid.
    #[error("INVALID_GROUP_ID")]
    InvalidGroupId,
    /// The member id is not a member of the group.
    #[error("UNKNOWN_MEMBER_ID")]
    UnknownMemberId,
    /// The requested session timeout is outside the broker's allowed range.
    #[error("INVALID_SESSION_TIMEOUT")]
    InvalidSessionTimeout,
    /// A rebalance is in progress; the member must rejoin.
    #[error("REBALANCE_IN_PROGRESS")]
    RebalanceInProgress,
    /// The group still has members, so it cannot be deleted (or its offsets removed).
    #[error("NON_EMPTY_GROUP")]
    NonEmptyGroup,
    /// The group does not exist.
    #[error("GROUP_ID_NOT_FOUND")]
    GroupIdNotFound,
    /// The JoinGroup must be retried with the member id carried in the response.
    #[error("MEMBER_ID_REQUIRED")]
    MemberIdRequired,
    /// The group already has the configured maximum number of members.
    #[error("GROUP_MAX_SIZE_REACHED")]
    GroupMaxSizeReached,
    /// Another member id now owns this `group.instance.id`.
    #[error("FENCED_INSTANCE_ID")]
    FencedInstanceId,
    /// An unexpected condition.
    #[error("UNKNOWN_SERVER_ERROR")]
    UnknownServerError,
    /// Any other Kafka error code, e.g. a storage error passed back through
    /// [`crate::Group::persisted`].
    #[error("kafka error code {0}")]
    Other(i16),
}

impl GroupError {
    /// Kafka's numeric error code.
    pub fn code(self) -> i16 {
        match self {
            GroupError::UnknownServerError => -1,
            GroupError::CoordinatorNotAvailable => 15,
            GroupError::NotCoordinator => 16,
            GroupError::IllegalGeneration => 22,
            GroupError::InconsistentGroupProtocol => 23,
            GroupError::InvalidGroupId => 24,
            GroupError::UnknownMemberId => 25,
            GroupError::InvalidSessionTimeout => 26,
            GroupError::RebalanceInProgress => 27,
            GroupError::NonEmptyGroup => 68,
            GroupError::GroupIdNotFound => 69,
            GroupError::MemberIdRequired => 79,
            GroupError::GroupMaxSizeReached => 81,
            GroupError::FencedInstanceId => 82,
            GroupError::Other(code) => code,
        }
    }

    /// The error for a Kafka code; `None` for 0 (no error). Codes without a
    /// named variant become [`GroupError::Other`].
    pub fn from_code(code: i16) -> Option<GroupError> {
        let e = match code {
            0 => return None,
            -1 => GroupError::UnknownServerError,
            15 => GroupError::CoordinatorNotAvailable,
            16 => GroupError::NotCoordinator,
            22 => GroupError::IllegalGeneration,
            23 => GroupError::InconsistentGroupProtocol,
            24 => GroupError::InvalidGroupId,
            25 => GroupError::UnknownMemberId,
            26 => GroupError::InvalidSessionTimeout,
            27 => GroupError::RebalanceInProgress,
            68 => GroupError::NonEmptyGroup,
            69 => GroupError::GroupIdNotFound,
            79 => GroupError::MemberIdRequired,
            81 => GroupError::GroupMaxSizeReached,
            82 => GroupError::FencedInstanceId,
            other => GroupError::Other(other),
        };
        Some(e)
    }

    /// Maps the error code of a failed append of group metadata to
    /// `__consumer_offsets` to the error the waiting members should see, as
    /// Kafka's coordinator does: the clients only understand coordinator-level
    /// errors here, not log-level ones.
    pub fn from_append_error(code: i16) -> GroupError {
        match code {
            // UNKNOWN_TOPIC_OR_PARTITION, NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT
            3 | 19 | 7 => GroupError::CoordinatorNotAvailable,
            // NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR
            6 | 56 => GroupError::NotCoordinator,
            // MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE, INVALID_FETCH_SIZE
            10 | 18 | 4 => GroupError::UnknownServerError,
            other => GroupError::from_code(other).unwrap_or(GroupError::UnknownServerError),
        }
    }
}

/// Checks a group id the way Kafka's coordinator does before any group
/// operation: the empty id is `INVALID_GROUP_ID`.
pub fn validate_group_id(group_id: &str) -> Result<(), GroupError> {
    if group_id.is_empty() {
        Err(GroupError::InvalidGroupId)
    } else {
        Ok(())
    }
}
