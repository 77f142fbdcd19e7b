//! Wire shapes: partition reassignment (KIP-455): AlterPartitionReassignments,
//! ListPartitionReassignments.
//!
//! Derived from kafka-protocol 0.18's generated decoders with
//! `scripts/shape_table_from_kafka_protocol.py` (its `emit`), then reviewed; the round-trip tests in
//! `shape/tests.rs` check every entry against the crate. Field versions are absolute
//! message versions; tagged fields are only read in flexible versions.

/// `AlterPartitionReassignmentsRequest`: versions 0–1, flexible from v0.
pub(crate) mod alter_partition_reassignments_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message =
        Message::new(0, 1, 0, &ALTER_PARTITION_REASSIGNMENTS_REQUEST);

    static ALTER_PARTITION_REASSIGNMENTS_REQUEST: Struct = Struct::new(
        "AlterPartitionReassignmentsRequest",
        &[
            field("timeout_ms", ALL, Ty::Int32),
            field("allow_replication_factor_change", since(1), Ty::Bool),
            field("topics", ALL, array(&REASSIGNABLE_TOPIC)),
        ],
        &[],
    );

    static REASSIGNABLE_TOPIC: Struct = Struct::new(
        "ReassignableTopic",
        &[
            field("name", ALL, Ty::String),
            field("partitions", ALL, array(&REASSIGNABLE_PARTITION)),
        ],
        &[],
    );

    static REASSIGNABLE_PARTITION: Struct = Struct::new(
        "ReassignablePartition",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("replicas", ALL, Ty::Array(Elem::Int32)),
        ],
        &[],
    );
}

/// `AlterPartitionReassignmentsResponse`: versions 0–1, flexible from v0.
pub(crate) mod alter_partition_reassignments_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message =
        Message::new(0, 1, 0, &ALTER_PARTITION_REASSIGNMENTS_RESPONSE);

    static ALTER_PARTITION_REASSIGNMENTS_RESPONSE: Struct = Struct::new(
        "AlterPartitionReassignmentsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("allow_replication_factor_change", since(1), Ty::Bool),
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
            field("responses", ALL, array(&REASSIGNABLE_TOPIC_RESPONSE)),
        ],
        &[],
    );

    static REASSIGNABLE_TOPIC_RESPONSE: Struct = Struct::new(
        "ReassignableTopicResponse",
        &[
            field("name", ALL, Ty::String),
            field("partitions", ALL, array(&REASSIGNABLE_PARTITION_RESPONSE)),
        ],
        &[],
    );

    static REASSIGNABLE_PARTITION_RESPONSE: Struct = Struct::new(
        "ReassignablePartitionResponse",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
        ],
        &[],
    );
}

/// `ListPartitionReassignmentsRequest`: versions 0–0, flexible from v0.
pub(crate) mod list_partition_reassignments_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 0, 0, &LIST_PARTITION_REASSIGNMENTS_REQUEST);

    static LIST_PARTITION_REASSIGNMENTS_REQUEST: Struct = Struct::new(
        "ListPartitionReassignmentsRequest",
        &[
            field("timeout_ms", ALL, Ty::Int32),
            field("topics", ALL, array(&LIST_PARTITION_REASSIGNMENTS_TOPICS)),
        ],
        &[],
    );

    static LIST_PARTITION_REASSIGNMENTS_TOPICS: Struct = Struct::new(
        "ListPartitionReassignmentsTopics",
        &[
            field("name", ALL, Ty::String),
            field("partition_indexes", ALL, Ty::Array(Elem::Int32)),
        ],
        &[],
    );
}

/// `ListPartitionReassignmentsResponse`: versions 0–0, flexible from v0.
pub(crate) mod list_partition_reassignments_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message =
        Message::new(0, 0, 0, &LIST_PARTITION_REASSIGNMENTS_RESPONSE);

    static LIST_PARTITION_REASSIGNMENTS_RESPONSE: Struct = Struct::new(
        "ListPartitionReassignmentsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
            field("topics", ALL, array(&ONGOING_TOPIC_REASSIGNMENT)),
        ],
        &[],
    );

    static ONGOING_TOPIC_REASSIGNMENT: Struct = Struct::new(
        "OngoingTopicReassignment",
        &[
            field("name", ALL, Ty::String),
            field("partitions", ALL, array(&ONGOING_PARTITION_REASSIGNMENT)),
        ],
        &[],
    );

    static ONGOING_PARTITION_REASSIGNMENT: Struct = Struct::new(
        "OngoingPartitionReassignment",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("replicas", ALL, Ty::Array(Elem::Int32)),
            field("adding_replicas", ALL, Ty::Array(Elem::Int32)),
            field("removing_replicas", ALL, Ty::Array(Elem::Int32)),
        ],
        &[],
    );
}
