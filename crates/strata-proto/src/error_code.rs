//! The Kafka error codes Strata reads or writes, defined once (Kafka's names and numbers,
//! <https://kafka.apache.org/protocol#protocol_error_codes>). Every crate compares and
//! answers with these instead of typing numbers; `kafka_protocol::ResponseError::X.code()`
//! is equivalent where a crate already has the enum at hand.
//!
//! Invariant (tested): each constant is the code kafka-protocol's table gives that name,
//! so a wrong number or a misspelt name fails the build's tests. Add a code here, in
//! numeric order, when a crate needs one that is missing.

/// Declares the constants and [`ALL`], the same list as `(name, code)` pairs.
macro_rules! error_codes {
    ($($(#[$doc:meta])* pub const $name:ident: i16 = $code:literal;)*) => {
        $($(#[$doc])* pub const $name: i16 = $code;)*

        /// Every constant of this module with its name, in numeric order.
        pub const ALL: &[(&str, i16)] = &[$((stringify!($name), $name)),*];
    };
}

error_codes! {
    /// An unexpected server error.
    pub const UNKNOWN_SERVER_ERROR: i16 = -1;
    /// No error.
    pub const NONE: i16 = 0;
    /// The requested offset is not within the log's range.
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    /// The message failed its CRC check or is otherwise corrupt.
    pub const CORRUPT_MESSAGE: i16 = 2;
    /// This server does not host this topic-partition.
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    /// The requested fetch size is invalid.
    pub const INVALID_FETCH_SIZE: i16 = 4;
    /// The partition has no leader right now.
    pub const LEADER_NOT_AVAILABLE: i16 = 5;
    /// This broker does not lead (or, for any-replica requests, host) the partition.
    pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
    /// The request timed out.
    pub const REQUEST_TIMED_OUT: i16 = 7;
    /// The replica is not available.
    pub const REPLICA_NOT_AVAILABLE: i16 = 9;
    /// A message is larger than the server accepts.
    pub const MESSAGE_TOO_LARGE: i16 = 10;
    /// The offset's metadata string is too long.
    pub const OFFSET_METADATA_TOO_LARGE: i16 = 12;
    /// The coordinator is still loading its state.
    pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
    /// The coordinator is not available.
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    /// This broker is not the coordinator.
    pub const NOT_COORDINATOR: i16 = 16;
    /// The topic name is invalid.
    pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
    /// A record batch is larger than the segment size.
    pub const RECORD_LIST_TOO_LARGE: i16 = 18;
    /// Fewer in-sync replicas than `min.insync.replicas`; nothing was written.
    pub const NOT_ENOUGH_REPLICAS: i16 = 19;
    /// Written, but the ISR shrank below `min.insync.replicas` while waiting.
    pub const NOT_ENOUGH_REPLICAS_AFTER_APPEND: i16 = 20;
    /// The generation is not the group's current one.
    pub const ILLEGAL_GENERATION: i16 = 22;
    /// The member's protocols do not match the group's.
    pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
    /// The group id is invalid.
    pub const INVALID_GROUP_ID: i16 = 24;
    /// The member id is not known to the coordinator.
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    /// The session timeout is outside the broker's allowed range.
    pub const INVALID_SESSION_TIMEOUT: i16 = 26;
    /// The group is rebalancing.
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    /// The principal may not access the topic.
    pub const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
    /// The principal may not access the group.
    pub const GROUP_AUTHORIZATION_FAILED: i16 = 30;
    /// The principal may not do this to the cluster.
    pub const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
    /// The broker does not enable the SASL mechanism.
    pub const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
    /// The version of the API is not supported.
    pub const UNSUPPORTED_VERSION: i16 = 35;
    /// A topic with this name already exists.
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
    /// The partition count is invalid.
    pub const INVALID_PARTITIONS: i16 = 37;
    /// The replication factor is invalid.
    pub const INVALID_REPLICATION_FACTOR: i16 = 38;
    /// The replica assignment is invalid.
    pub const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
    /// A config is invalid.
    pub const INVALID_CONFIG: i16 = 40;
    /// The request is malformed or inconsistent.
    pub const INVALID_REQUEST: i16 = 42;
    /// The request violates a policy.
    pub const POLICY_VIOLATION: i16 = 44;
    /// The producer's sequence number is not the next one expected.
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
    /// The producer's epoch is older than the current one.
    pub const INVALID_PRODUCER_EPOCH: i16 = 47;
    /// The principal may not use the transactional id.
    pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
    /// The broker cannot use a log directory (a disk failed).
    pub const KAFKA_STORAGE_ERROR: i16 = 56;
    /// The path is not one of the broker's log directories.
    pub const LOG_DIR_NOT_FOUND: i16 = 57;
    /// The group has members (it must be empty for this operation).
    pub const NON_EMPTY_GROUP: i16 = 68;
    /// The group does not exist.
    pub const GROUP_ID_NOT_FOUND: i16 = 69;
    /// The request's leader epoch is older than the broker's.
    pub const FENCED_LEADER_EPOCH: i16 = 74;
    /// The request's leader epoch is newer than the broker's.
    pub const UNKNOWN_LEADER_EPOCH: i16 = 75;
    /// JoinGroup must be repeated with the member id the coordinator returned.
    pub const MEMBER_ID_REQUIRED: i16 = 79;
    /// The group already has the maximum number of members.
    pub const GROUP_MAX_SIZE_REACHED: i16 = 81;
    /// Another member joined with this static instance id.
    pub const FENCED_INSTANCE_ID: i16 = 82;
    /// The partition already has its preferred leader.
    pub const ELECTION_NOT_NEEDED: i16 = 84;
    /// The partition has no reassignment in progress.
    pub const NO_REASSIGNMENT_IN_PROGRESS: i16 = 85;
    /// The group still consumes the topic whose offsets should be deleted.
    pub const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;
    /// A record failed validation on the broker.
    pub const INVALID_RECORD: i16 = 87;
    /// A topic or partition mutation exceeded the controller mutation quota.
    pub const THROTTLING_QUOTA_EXCEEDED: i16 = 89;
    /// The resource does not exist.
    pub const RESOURCE_NOT_FOUND: i16 = 91;
    /// The update is based on an older version of the state.
    pub const INVALID_UPDATE_VERSION: i16 = 95;
    /// The topic id is unknown.
    pub const UNKNOWN_TOPIC_ID: i16 = 100;
    /// A replica may not join the ISR (fenced, unregistered or offline).
    pub const INELIGIBLE_REPLICA: i16 = 107;
}

#[cfg(test)]
mod tests {
    use kafka_protocol::ResponseError;

    use super::*;
    use crate::error_name::error_code_name;

    #[test]
    fn every_code_has_its_kafka_name_and_number() {
        for &(name, code) in ALL {
            assert!(
                !matches!(
                    ResponseError::try_from_code(code),
                    Some(ResponseError::Unknown(_))
                ),
                "{name} = {code} is not a Kafka error code"
            );
            assert_eq!(error_code_name(code), name, "{name} = {code}");
        }
        assert_eq!(ResponseError::try_from_code(NONE), None);
        assert_eq!(
            ResponseError::NotLeaderOrFollower.code(),
            NOT_LEADER_OR_FOLLOWER
        );
    }

    #[test]
    fn codes_are_listed_once_in_numeric_order() {
        assert!(ALL.windows(2).all(|w| w[0].1 < w[1].1), "{ALL:?}");
        assert_eq!(ALL.first(), Some(&("UNKNOWN_SERVER_ERROR", -1)));
    }
}
