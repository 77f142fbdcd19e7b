//! Wire shapes: Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete, TxnOffsetCommit.
//!
//! Derived from kafka-protocol 0.18's generated decoders with
//! `scripts/shape_table_from_kafka_protocol.py`, then reviewed; the round-trip tests in
//! `shape/tests.rs` check every entry against the crate. Field versions are absolute
//! message versions; tagged fields are only read in flexible versions.

/// `OffsetCommitRequest`: versions 2–9, flexible from v8.
pub(crate) mod offset_commit_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(2, 9, 8, &OFFSET_COMMIT_REQUEST);

    static OFFSET_COMMIT_REQUEST: Struct = Struct::new(
        "OffsetCommitRequest",
        &[
            field("group_id", ALL, Ty::String),
            field("generation_id_or_member_epoch", ALL, Ty::Int32),
            field("member_id", ALL, Ty::String),
            field("group_instance_id", since(7), Ty::String),
            field("retention_time_ms", until(4), Ty::Int64),
            field("topics", ALL, array(&OFFSET_COMMIT_REQUEST_TOPIC)),
        ],
        &[],
    );

    static OFFSET_COMMIT_REQUEST_TOPIC: Struct = Struct::new(
        "OffsetCommitRequestTopic",
        &[
            field("name", ALL, Ty::String),
            field("partitions", ALL, array(&OFFSET_COMMIT_REQUEST_PARTITION)),
        ],
        &[],
    );

    static OFFSET_COMMIT_REQUEST_PARTITION: Struct = Struct::new(
        "OffsetCommitRequestPartition",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("committed_offset", ALL, Ty::Int64),
            field("committed_leader_epoch", since(6), Ty::Int32),
            field("committed_metadata", ALL, Ty::String),
        ],
        &[],
    );
}

/// `OffsetCommitResponse`: versions 2–10, flexible from v8.
pub(crate) mod offset_commit_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(2, 10, 8, &OFFSET_COMMIT_RESPONSE);

    static OFFSET_COMMIT_RESPONSE: Struct = Struct::new(
        "OffsetCommitResponse",
        &[
            field("throttle_time_ms", since(3), Ty::Int32),
            field("topics", ALL, array(&OFFSET_COMMIT_RESPONSE_TOPIC)),
        ],
        &[],
    );

    static OFFSET_COMMIT_RESPONSE_TOPIC: Struct = Struct::new(
        "OffsetCommitResponseTopic",
        &[
            field("name", until(9), Ty::String),
            field("topic_id", since(10), Ty::Uuid),
            field("partitions", ALL, array(&OFFSET_COMMIT_RESPONSE_PARTITION)),
        ],
        &[],
    );

    static OFFSET_COMMIT_RESPONSE_PARTITION: Struct = Struct::new(
        "OffsetCommitResponsePartition",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
        ],
        &[],
    );
}

/// `OffsetFetchRequest`: versions 1–9, flexible from v6.
pub(crate) mod offset_fetch_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 9, 6, &OFFSET_FETCH_REQUEST);

    static OFFSET_FETCH_REQUEST: Struct = Struct::new(
        "OffsetFetchRequest",
        &[
            field("group_id", until(7), Ty::String),
            field("topics", until(7), array(&OFFSET_FETCH_REQUEST_TOPIC)),
            field("groups", since(8), array(&OFFSET_FETCH_REQUEST_GROUP)),
            field("require_stable", since(7), Ty::Bool),
        ],
        &[],
    );

    static OFFSET_FETCH_REQUEST_TOPIC: Struct = Struct::new(
        "OffsetFetchRequestTopic",
        &[
            field("name", until(7), Ty::String),
            field("partition_indexes", until(7), Ty::Array(Elem::Int32)),
        ],
        &[],
    );

    static OFFSET_FETCH_REQUEST_GROUP: Struct = Struct::new(
        "OffsetFetchRequestGroup",
        &[
            field("group_id", since(8), Ty::String),
            field("member_id", since(9), Ty::String),
            field("member_epoch", since(9), Ty::Int32),
            field("topics", since(8), array(&OFFSET_FETCH_REQUEST_TOPICS)),
        ],
        &[],
    );

    static OFFSET_FETCH_REQUEST_TOPICS: Struct = Struct::new(
        "OffsetFetchRequestTopics",
        &[
            field("name", since(8), Ty::String),
            field("partition_indexes", since(8), Ty::Array(Elem::Int32)),
        ],
        &[],
    );
}

/// `OffsetFetchResponse`: versions 1–10, flexible from v6.
pub(crate) mod offset_fetch_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 10, 6, &OFFSET_FETCH_RESPONSE);

    static OFFSET_FETCH_RESPONSE: Struct = Struct::new(
        "OffsetFetchResponse",
        &[
            field("throttle_time_ms", since(3), Ty::Int32),
            field("topics", until(7), array(&OFFSET_FETCH_RESPONSE_TOPIC)),
            field("error_code", span(2, 7), Ty::Int16),
            field("groups", since(8), array(&OFFSET_FETCH_RESPONSE_GROUP)),
        ],
        &[],
    );

    static OFFSET_FETCH_RESPONSE_TOPIC: Struct = Struct::new(
        "OffsetFetchResponseTopic",
        &[
            field("name", until(7), Ty::String),
            field(
                "partitions",
                until(7),
                array(&OFFSET_FETCH_RESPONSE_PARTITION),
            ),
        ],
        &[],
    );

    static OFFSET_FETCH_RESPONSE_GROUP: Struct = Struct::new(
        "OffsetFetchResponseGroup",
        &[
            field("group_id", since(8), Ty::String),
            field("topics", since(8), array(&OFFSET_FETCH_RESPONSE_TOPICS)),
            field("error_code", since(8), Ty::Int16),
        ],
        &[],
    );

    static OFFSET_FETCH_RESPONSE_PARTITION: Struct = Struct::new(
        "OffsetFetchResponsePartition",
        &[
            field("partition_index", until(7), Ty::Int32),
            field("committed_offset", until(7), Ty::Int64),
            field("committed_leader_epoch", span(5, 7), Ty::Int32),
            field("metadata", until(7), Ty::String),
            field("error_code", until(7), Ty::Int16),
        ],
        &[],
    );

    static OFFSET_FETCH_RESPONSE_TOPICS: Struct = Struct::new(
        "OffsetFetchResponseTopics",
        &[
            field("name", span(8, 9), Ty::String),
            field("topic_id", since(10), Ty::Uuid),
            field(
                "partitions",
                since(8),
                array(&OFFSET_FETCH_RESPONSE_PARTITIONS),
            ),
        ],
        &[],
    );

    static OFFSET_FETCH_RESPONSE_PARTITIONS: Struct = Struct::new(
        "OffsetFetchResponsePartitions",
        &[
            field("partition_index", since(8), Ty::Int32),
            field("committed_offset", since(8), Ty::Int64),
            field("committed_leader_epoch", since(8), Ty::Int32),
            field("metadata", since(8), Ty::String),
            field("error_code", since(8), Ty::Int16),
        ],
        &[],
    );
}

/// `OffsetDeleteRequest`: versions 0–0, never flexible.
pub(crate) mod offset_delete_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 0, NEVER, &OFFSET_DELETE_REQUEST);

    static OFFSET_DELETE_REQUEST: Struct = Struct::new(
        "OffsetDeleteRequest",
        &[
            field("group_id", ALL, Ty::String),
            field("topics", ALL, array(&OFFSET_DELETE_REQUEST_TOPIC)),
        ],
        &[],
    );

    static OFFSET_DELETE_REQUEST_TOPIC: Struct = Struct::new(
        "OffsetDeleteRequestTopic",
        &[
            field("name", ALL, Ty::String),
            field("partitions", ALL, array(&OFFSET_DELETE_REQUEST_PARTITION)),
        ],
        &[],
    );

    static OFFSET_DELETE_REQUEST_PARTITION: Struct = Struct::new(
        "OffsetDeleteRequestPartition",
        &[field("partition_index", ALL, Ty::Int32)],
        &[],
    );
}

/// `OffsetDeleteResponse`: versions 0–0, never flexible.
pub(crate) mod offset_delete_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 0, NEVER, &OFFSET_DELETE_RESPONSE);

    static OFFSET_DELETE_RESPONSE: Struct = Struct::new(
        "OffsetDeleteResponse",
        &[
            field("error_code", ALL, Ty::Int16),
            field("throttle_time_ms", ALL, Ty::Int32),
            field("topics", ALL, array(&OFFSET_DELETE_RESPONSE_TOPIC)),
        ],
        &[],
    );

    static OFFSET_DELETE_RESPONSE_TOPIC: Struct = Struct::new(
        "OffsetDeleteResponseTopic",
        &[
            field("name", ALL, Ty::String),
            field("partitions", ALL, array(&OFFSET_DELETE_RESPONSE_PARTITION)),
        ],
        &[],
    );

    static OFFSET_DELETE_RESPONSE_PARTITION: Struct = Struct::new(
        "OffsetDeleteResponsePartition",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
        ],
        &[],
    );
}

/// `TxnOffsetCommitRequest`: versions 0–5, flexible from v3.
pub(crate) mod txn_offset_commit_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 5, 3, &TXN_OFFSET_COMMIT_REQUEST);

    static TXN_OFFSET_COMMIT_REQUEST: Struct = Struct::new(
        "TxnOffsetCommitRequest",
        &[
            field("transactional_id", ALL, Ty::String),
            field("group_id", ALL, Ty::String),
            field("producer_id", ALL, Ty::Int64),
            field("producer_epoch", ALL, Ty::Int16),
            field("generation_id", since(3), Ty::Int32),
            field("member_id", since(3), Ty::String),
            field("group_instance_id", since(3), Ty::String),
            field("topics", ALL, array(&TXN_OFFSET_COMMIT_REQUEST_TOPIC)),
        ],
        &[],
    );

    static TXN_OFFSET_COMMIT_REQUEST_TOPIC: Struct = Struct::new(
        "TxnOffsetCommitRequestTopic",
        &[
            field("name", ALL, Ty::String),
            field(
                "partitions",
                ALL,
                array(&TXN_OFFSET_COMMIT_REQUEST_PARTITION),
            ),
        ],
        &[],
    );

    static TXN_OFFSET_COMMIT_REQUEST_PARTITION: Struct = Struct::new(
        "TxnOffsetCommitRequestPartition",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("committed_offset", ALL, Ty::Int64),
            field("committed_leader_epoch", since(2), Ty::Int32),
            field("committed_metadata", ALL, Ty::String),
        ],
        &[],
    );
}

/// `TxnOffsetCommitResponse`: versions 0–5, flexible from v3.
pub(crate) mod txn_offset_commit_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 5, 3, &TXN_OFFSET_COMMIT_RESPONSE);

    static TXN_OFFSET_COMMIT_RESPONSE: Struct = Struct::new(
        "TxnOffsetCommitResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("topics", ALL, array(&TXN_OFFSET_COMMIT_RESPONSE_TOPIC)),
        ],
        &[],
    );

    static TXN_OFFSET_COMMIT_RESPONSE_TOPIC: Struct = Struct::new(
        "TxnOffsetCommitResponseTopic",
        &[
            field("name", ALL, Ty::String),
            field(
                "partitions",
                ALL,
                array(&TXN_OFFSET_COMMIT_RESPONSE_PARTITION),
            ),
        ],
        &[],
    );

    static TXN_OFFSET_COMMIT_RESPONSE_PARTITION: Struct = Struct::new(
        "TxnOffsetCommitResponsePartition",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
        ],
        &[],
    );
}
