//! Kafka error codes produced by the group state machine.

use strata_proto::error_code;

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
            GroupError::UnknownServerError => error_code::UNKNOWN_SERVER_ERROR,
            GroupError::CoordinatorNotAvailable => error_code::COORDINATOR_NOT_AVAILABLE,
            GroupError::NotCoordinator => error_code::NOT_COORDINATOR,
            GroupError::IllegalGeneration => error_code::ILLEGAL_GENERATION,
            GroupError::InconsistentGroupProtocol => error_code::INCONSISTENT_GROUP_PROTOCOL,
            GroupError::InvalidGroupId => error_code::INVALID_GROUP_ID,
            GroupError::UnknownMemberId => error_code::UNKNOWN_MEMBER_ID,
            GroupError::InvalidSessionTimeout => error_code::INVALID_SESSION_TIMEOUT,
            GroupError::RebalanceInProgress => error_code::REBALANCE_IN_PROGRESS,
            GroupError::NonEmptyGroup => error_code::NON_EMPTY_GROUP,
            GroupError::GroupIdNotFound => error_code::GROUP_ID_NOT_FOUND,
            GroupError::MemberIdRequired => error_code::MEMBER_ID_REQUIRED,
            GroupError::GroupMaxSizeReached => error_code::GROUP_MAX_SIZE_REACHED,
            GroupError::FencedInstanceId => error_code::FENCED_INSTANCE_ID,
            GroupError::Other(code) => code,
        }
    }

    /// The error for a Kafka code; `None` for 0 (no error). Codes without a
    /// named variant become [`GroupError::Other`].
    pub fn from_code(code: i16) -> Option<GroupError> {
        let e = match code {
            0 => return None,
            error_code::UNKNOWN_SERVER_ERROR => GroupError::UnknownServerError,
            error_code::COORDINATOR_NOT_AVAILABLE => GroupError::CoordinatorNotAvailable,
            error_code::NOT_COORDINATOR => GroupError::NotCoordinator,
            error_code::ILLEGAL_GENERATION => GroupError::IllegalGeneration,
            error_code::INCONSISTENT_GROUP_PROTOCOL => GroupError::InconsistentGroupProtocol,
            error_code::INVALID_GROUP_ID => GroupError::InvalidGroupId,
            error_code::UNKNOWN_MEMBER_ID => GroupError::UnknownMemberId,
            error_code::INVALID_SESSION_TIMEOUT => GroupError::InvalidSessionTimeout,
            error_code::REBALANCE_IN_PROGRESS => GroupError::RebalanceInProgress,
            error_code::NON_EMPTY_GROUP => GroupError::NonEmptyGroup,
            error_code::GROUP_ID_NOT_FOUND => GroupError::GroupIdNotFound,
            error_code::MEMBER_ID_REQUIRED => GroupError::MemberIdRequired,
            error_code::GROUP_MAX_SIZE_REACHED => GroupError::GroupMaxSizeReached,
            error_code::FENCED_INSTANCE_ID => GroupError::FencedInstanceId,
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
            error_code::UNKNOWN_TOPIC_OR_PARTITION
            | error_code::NOT_ENOUGH_REPLICAS
            | error_code::REQUEST_TIMED_OUT => GroupError::CoordinatorNotAvailable,
            error_code::NOT_LEADER_OR_FOLLOWER | error_code::KAFKA_STORAGE_ERROR => {
                GroupError::NotCoordinator
            }
            error_code::MESSAGE_TOO_LARGE
            | error_code::RECORD_LIST_TOO_LARGE
            | error_code::INVALID_FETCH_SIZE => GroupError::UnknownServerError,
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
