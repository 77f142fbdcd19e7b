//! Wire shapes: cluster operations: ElectLeaders, DescribeTopicPartitions, DescribeQuorum.
//!
//! Derived from kafka-protocol 0.18's generated decoders with
//! `scripts/shape_table_from_kafka_protocol.py`, then reviewed; the round-trip tests in
//! `shape/tests.rs` check every entry against the crate. Field versions are absolute
//! message versions; tagged fields are only read in flexible versions.

/// `ElectLeadersRequest`: versions 0–2, flexible from v2.
pub(crate) mod elect_leaders_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 2, 2, &ELECT_LEADERS_REQUEST);

    static ELECT_LEADERS_REQUEST: Struct = Struct::new(
        "ElectLeadersRequest",
        &[
            field("election_type", since(1), Ty::Int8),
            field("topic_partitions", ALL, array(&TOPIC_PARTITIONS)),
            field("timeout_ms", ALL, Ty::Int32),
        ],
        &[],
    );

    static TOPIC_PARTITIONS: Struct = Struct::new(
        "TopicPartitions",
        &[
            field("topic", ALL, Ty::String),
            field("partitions", ALL, Ty::Array(Elem::Int32)),
        ],
        &[],
    );
}

/// `ElectLeadersResponse`: versions 0–2, flexible from v2.
pub(crate) mod elect_leaders_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 2, 2, &ELECT_LEADERS_RESPONSE);

    static ELECT_LEADERS_RESPONSE: Struct = Struct::new(
        "ElectLeadersResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("error_code", since(1), Ty::Int16),
            field(
                "replica_election_results",
                ALL,
                array(&REPLICA_ELECTION_RESULT),
            ),
        ],
        &[],
    );

    static REPLICA_ELECTION_RESULT: Struct = Struct::new(
        "ReplicaElectionResult",
        &[
            field("topic", ALL, Ty::String),
            field("partition_result", ALL, array(&PARTITION_RESULT)),
        ],
        &[],
    );

    static PARTITION_RESULT: Struct = Struct::new(
        "PartitionResult",
        &[
            field("partition_id", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
        ],
        &[],
    );
}

/// `DescribeTopicPartitionsRequest`: versions 0–0, flexible from v0.
pub(crate) mod describe_topic_partitions_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 0, 0, &DESCRIBE_TOPIC_PARTITIONS_REQUEST);

    static DESCRIBE_TOPIC_PARTITIONS_REQUEST: Struct = Struct::new(
        "DescribeTopicPartitionsRequest",
        &[
            field("topics", ALL, array(&TOPIC_REQUEST)),
            field("response_partition_limit", ALL, Ty::Int32),
            field("cursor", ALL, Ty::OptionStruct(&CURSOR)),
        ],
        &[],
    );

    static TOPIC_REQUEST: Struct =
        Struct::new("TopicRequest", &[field("name", ALL, Ty::String)], &[]);

    static CURSOR: Struct = Struct::new(
        "Cursor",
        &[
            field("topic_name", ALL, Ty::String),
            field("partition_index", ALL, Ty::Int32),
        ],
        &[],
    );
}

/// `DescribeTopicPartitionsResponse`: versions 0–0, flexible from v0.
pub(crate) mod describe_topic_partitions_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 0, 0, &DESCRIBE_TOPIC_PARTITIONS_RESPONSE);

    static DESCRIBE_TOPIC_PARTITIONS_RESPONSE: Struct = Struct::new(
        "DescribeTopicPartitionsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field(
                "topics",
                ALL,
                array(&DESCRIBE_TOPIC_PARTITIONS_RESPONSE_TOPIC),
            ),
            field("next_cursor", ALL, Ty::OptionStruct(&CURSOR)),
        ],
        &[],
    );

    static DESCRIBE_TOPIC_PARTITIONS_RESPONSE_TOPIC: Struct = Struct::new(
        "DescribeTopicPartitionsResponseTopic",
        &[
            field("error_code", ALL, Ty::Int16),
            field("name", ALL, Ty::String),
            field("topic_id", ALL, Ty::Uuid),
            field("is_internal", ALL, Ty::Bool),
            field(
                "partitions",
                ALL,
                array(&DESCRIBE_TOPIC_PARTITIONS_RESPONSE_PARTITION),
            ),
            field("topic_authorized_operations", ALL, Ty::Int32),
        ],
        &[],
    );

    static CURSOR: Struct = Struct::new(
        "Cursor",
        &[
            field("topic_name", ALL, Ty::String),
            field("partition_index", ALL, Ty::Int32),
        ],
        &[],
    );

    static DESCRIBE_TOPIC_PARTITIONS_RESPONSE_PARTITION: Struct = Struct::new(
        "DescribeTopicPartitionsResponsePartition",
        &[
            field("error_code", ALL, Ty::Int16),
            field("partition_index", ALL, Ty::Int32),
            field("leader_id", ALL, Ty::Int32),
            field("leader_epoch", ALL, Ty::Int32),
            field("replica_nodes", ALL, Ty::Array(Elem::Int32)),
            field("isr_nodes", ALL, Ty::Array(Elem::Int32)),
            field("eligible_leader_replicas", ALL, Ty::Array(Elem::Int32)),
            field("last_known_elr", ALL, Ty::Array(Elem::Int32)),
            field("offline_replicas", ALL, Ty::Array(Elem::Int32)),
        ],
        &[],
    );
}

/// `DescribeQuorumRequest`: versions 0–2, flexible from v0.
pub(crate) mod describe_quorum_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 2, 0, &DESCRIBE_QUORUM_REQUEST);

    static DESCRIBE_QUORUM_REQUEST: Struct = Struct::new(
        "DescribeQuorumRequest",
        &[field("topics", ALL, array(&TOPIC_DATA))],
        &[],
    );

    static TOPIC_DATA: Struct = Struct::new(
        "TopicData",
        &[
            field("topic_name", ALL, Ty::String),
            field("partitions", ALL, array(&PARTITION_DATA)),
        ],
        &[],
    );

    static PARTITION_DATA: Struct = Struct::new(
        "PartitionData",
        &[field("partition_index", ALL, Ty::Int32)],
        &[],
    );
}

/// `DescribeQuorumResponse`: versions 0–2, flexible from v0.
pub(crate) mod describe_quorum_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 2, 0, &DESCRIBE_QUORUM_RESPONSE);

    static DESCRIBE_QUORUM_RESPONSE: Struct = Struct::new(
        "DescribeQuorumResponse",
        &[
            field("error_code", ALL, Ty::Int16),
            field("error_message", since(2), Ty::String),
            field("topics", ALL, array(&TOPIC_DATA)),
            field("nodes", since(2), array(&NODE)),
        ],
        &[],
    );

    static TOPIC_DATA: Struct = Struct::new(
        "TopicData",
        &[
            field("topic_name", ALL, Ty::String),
            field("partitions", ALL, array(&PARTITION_DATA)),
        ],
        &[],
    );

    static NODE: Struct = Struct::new(
        "Node",
        &[
            field("node_id", since(2), Ty::Int32),
            field("listeners", since(2), array(&LISTENER)),
        ],
        &[],
    );

    static PARTITION_DATA: Struct = Struct::new(
        "PartitionData",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
            field("error_message", since(2), Ty::String),
            field("leader_id", ALL, Ty::Int32),
            field("leader_epoch", ALL, Ty::Int32),
            field("high_watermark", ALL, Ty::Int64),
            field("current_voters", ALL, array(&REPLICA_STATE)),
            field("observers", ALL, array(&REPLICA_STATE)),
        ],
        &[],
    );

    static LISTENER: Struct = Struct::new(
        "Listener",
        &[
            field("name", since(2), Ty::String),
            field("host", since(2), Ty::String),
            field("port", since(2), Ty::UInt16),
        ],
        &[],
    );

    static REPLICA_STATE: Struct = Struct::new(
        "ReplicaState",
        &[
            field("replica_id", ALL, Ty::Int32),
            field("replica_directory_id", since(2), Ty::Uuid),
            field("log_end_offset", ALL, Ty::Int64),
            field("last_fetch_timestamp", since(1), Ty::Int64),
            field("last_caught_up_timestamp", since(1), Ty::Int64),
        ],
        &[],
    );
}
