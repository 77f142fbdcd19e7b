//! Wire shapes: Produce, Fetch, ListOffsets, OffsetForLeaderEpoch, DeleteRecords.
//!
//! Derived from kafka-protocol 0.18's generated decoders with
//! `scripts/shape_table_from_kafka_protocol.py`, then reviewed; the round-trip tests in
//! `shape/tests.rs` check every entry against the crate. Field versions are absolute
//! message versions; tagged fields are only read in flexible versions.

/// `ProduceRequest`: versions 3–13, flexible from v9.
pub(crate) mod produce_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(3, 13, 9, &PRODUCE_REQUEST);

    static PRODUCE_REQUEST: Struct = Struct::new(
        "ProduceRequest",
        &[
            field("transactional_id", ALL, Ty::String),
            field("acks", ALL, Ty::Int16),
            field("timeout_ms", ALL, Ty::Int32),
            field("topic_data", ALL, array(&TOPIC_PRODUCE_DATA)),
        ],
        &[],
    );

    static TOPIC_PRODUCE_DATA: Struct = Struct::new(
        "TopicProduceData",
        &[
            field("name", until(12), Ty::String),
            field("topic_id", since(13), Ty::Uuid),
            field("partition_data", ALL, array(&PARTITION_PRODUCE_DATA)),
        ],
        &[],
    );

    static PARTITION_PRODUCE_DATA: Struct = Struct::new(
        "PartitionProduceData",
        &[
            field("index", ALL, Ty::Int32),
            field("records", ALL, Ty::Records),
        ],
        &[],
    );
}

/// `ProduceResponse`: versions 3–13, flexible from v9.
pub(crate) mod produce_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(3, 13, 9, &PRODUCE_RESPONSE);

    static PRODUCE_RESPONSE: Struct = Struct::new(
        "ProduceResponse",
        &[
            field("responses", ALL, array(&TOPIC_PRODUCE_RESPONSE)),
            field("throttle_time_ms", ALL, Ty::Int32),
        ],
        &[tag(0, "node_endpoints", since(10), array(&NODE_ENDPOINT))],
    );

    static TOPIC_PRODUCE_RESPONSE: Struct = Struct::new(
        "TopicProduceResponse",
        &[
            field("name", until(12), Ty::String),
            field("topic_id", since(13), Ty::Uuid),
            field(
                "partition_responses",
                ALL,
                array(&PARTITION_PRODUCE_RESPONSE),
            ),
        ],
        &[],
    );

    static NODE_ENDPOINT: Struct = Struct::new(
        "NodeEndpoint",
        &[
            field("node_id", since(10), Ty::Int32),
            field("host", since(10), Ty::String),
            field("port", since(10), Ty::Int32),
            field("rack", since(10), Ty::String),
        ],
        &[],
    );

    static PARTITION_PRODUCE_RESPONSE: Struct = Struct::new(
        "PartitionProduceResponse",
        &[
            field("index", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
            field("base_offset", ALL, Ty::Int64),
            field("log_append_time_ms", ALL, Ty::Int64),
            field("log_start_offset", since(5), Ty::Int64),
            field(
                "record_errors",
                since(8),
                array(&BATCH_INDEX_AND_ERROR_MESSAGE),
            ),
            field("error_message", since(8), Ty::String),
        ],
        &[tag(
            0,
            "current_leader",
            since(10),
            Ty::Struct(&LEADER_ID_AND_EPOCH),
        )],
    );

    static BATCH_INDEX_AND_ERROR_MESSAGE: Struct = Struct::new(
        "BatchIndexAndErrorMessage",
        &[
            field("batch_index", since(8), Ty::Int32),
            field("batch_index_error_message", since(8), Ty::String),
        ],
        &[],
    );

    static LEADER_ID_AND_EPOCH: Struct = Struct::new(
        "LeaderIdAndEpoch",
        &[
            field("leader_id", since(10), Ty::Int32),
            field("leader_epoch", since(10), Ty::Int32),
        ],
        &[],
    );
}

/// `FetchRequest`: versions 4–18, flexible from v12.
pub(crate) mod fetch_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(4, 18, 12, &FETCH_REQUEST);

    static FETCH_REQUEST: Struct = Struct::new(
        "FetchRequest",
        &[
            field("replica_id", until(14), Ty::Int32),
            field("max_wait_ms", ALL, Ty::Int32),
            field("min_bytes", ALL, Ty::Int32),
            field("max_bytes", ALL, Ty::Int32),
            field("isolation_level", ALL, Ty::Int8),
            field("session_id", since(7), Ty::Int32),
            field("session_epoch", since(7), Ty::Int32),
            field("topics", ALL, array(&FETCH_TOPIC)),
            field("forgotten_topics_data", since(7), array(&FORGOTTEN_TOPIC)),
            field("rack_id", since(11), Ty::String),
        ],
        &[
            tag(0, "cluster_id", ALL, Ty::String),
            tag(1, "replica_state", since(15), Ty::Struct(&REPLICA_STATE)),
        ],
    );

    static FETCH_TOPIC: Struct = Struct::new(
        "FetchTopic",
        &[
            field("topic", until(12), Ty::String),
            field("topic_id", since(13), Ty::Uuid),
            field("partitions", ALL, array(&FETCH_PARTITION)),
        ],
        &[],
    );

    static FORGOTTEN_TOPIC: Struct = Struct::new(
        "ForgottenTopic",
        &[
            field("topic", span(7, 12), Ty::String),
            field("topic_id", since(13), Ty::Uuid),
            field("partitions", since(7), Ty::Array(Elem::Int32)),
        ],
        &[],
    );

    static REPLICA_STATE: Struct = Struct::new(
        "ReplicaState",
        &[
            field("replica_id", since(15), Ty::Int32),
            field("replica_epoch", since(15), Ty::Int64),
        ],
        &[],
    );

    static FETCH_PARTITION: Struct = Struct::new(
        "FetchPartition",
        &[
            field("partition", ALL, Ty::Int32),
            field("current_leader_epoch", since(9), Ty::Int32),
            field("fetch_offset", ALL, Ty::Int64),
            field("last_fetched_epoch", since(12), Ty::Int32),
            field("log_start_offset", since(5), Ty::Int64),
            field("partition_max_bytes", ALL, Ty::Int32),
        ],
        &[
            tag(0, "replica_directory_id", since(17), Ty::Uuid),
            tag(1, "high_watermark", since(18), Ty::Int64),
        ],
    );
}

/// `FetchResponse`: versions 4–18, flexible from v12.
pub(crate) mod fetch_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(4, 18, 12, &FETCH_RESPONSE);

    static FETCH_RESPONSE: Struct = Struct::new(
        "FetchResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("error_code", since(7), Ty::Int16),
            field("session_id", since(7), Ty::Int32),
            field("responses", ALL, array(&FETCHABLE_TOPIC_RESPONSE)),
        ],
        &[tag(0, "node_endpoints", since(16), array(&NODE_ENDPOINT))],
    );

    static FETCHABLE_TOPIC_RESPONSE: Struct = Struct::new(
        "FetchableTopicResponse",
        &[
            field("topic", until(12), Ty::String),
            field("topic_id", since(13), Ty::Uuid),
            field("partitions", ALL, array(&PARTITION_DATA)),
        ],
        &[],
    );

    static NODE_ENDPOINT: Struct = Struct::new(
        "NodeEndpoint",
        &[
            field("node_id", since(16), Ty::Int32),
            field("host", since(16), Ty::String),
            field("port", since(16), Ty::Int32),
            field("rack", since(16), Ty::String),
        ],
        &[],
    );

    static PARTITION_DATA: Struct = Struct::new(
        "PartitionData",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
            field("high_watermark", ALL, Ty::Int64),
            field("last_stable_offset", ALL, Ty::Int64),
            field("log_start_offset", since(5), Ty::Int64),
            field("aborted_transactions", ALL, array(&ABORTED_TRANSACTION)),
            field("preferred_read_replica", since(11), Ty::Int32),
            field("records", ALL, Ty::Records),
        ],
        &[
            tag(0, "diverging_epoch", ALL, Ty::Struct(&EPOCH_END_OFFSET)),
            tag(1, "current_leader", ALL, Ty::Struct(&LEADER_ID_AND_EPOCH)),
            tag(2, "snapshot_id", ALL, Ty::Struct(&SNAPSHOT_ID)),
        ],
    );

    static ABORTED_TRANSACTION: Struct = Struct::new(
        "AbortedTransaction",
        &[
            field("producer_id", ALL, Ty::Int64),
            field("first_offset", ALL, Ty::Int64),
        ],
        &[],
    );

    static EPOCH_END_OFFSET: Struct = Struct::new(
        "EpochEndOffset",
        &[
            field("epoch", since(12), Ty::Int32),
            field("end_offset", since(12), Ty::Int64),
        ],
        &[],
    );

    static LEADER_ID_AND_EPOCH: Struct = Struct::new(
        "LeaderIdAndEpoch",
        &[
            field("leader_id", since(12), Ty::Int32),
            field("leader_epoch", since(12), Ty::Int32),
        ],
        &[],
    );

    static SNAPSHOT_ID: Struct = Struct::new(
        "SnapshotId",
        &[
            field("end_offset", ALL, Ty::Int64),
            field("epoch", ALL, Ty::Int32),
        ],
        &[],
    );
}

/// `ListOffsetsRequest`: versions 1–10, flexible from v6.
pub(crate) mod list_offsets_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 10, 6, &LIST_OFFSETS_REQUEST);

    static LIST_OFFSETS_REQUEST: Struct = Struct::new(
        "ListOffsetsRequest",
        &[
            field("replica_id", ALL, Ty::Int32),
            field("isolation_level", since(2), Ty::Int8),
            field("topics", ALL, array(&LIST_OFFSETS_TOPIC)),
            field("timeout_ms", since(10), Ty::Int32),
        ],
        &[],
    );

    static LIST_OFFSETS_TOPIC: Struct = Struct::new(
        "ListOffsetsTopic",
        &[
            field("name", ALL, Ty::String),
            field("partitions", ALL, array(&LIST_OFFSETS_PARTITION)),
        ],
        &[],
    );

    static LIST_OFFSETS_PARTITION: Struct = Struct::new(
        "ListOffsetsPartition",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("current_leader_epoch", since(4), Ty::Int32),
            field("timestamp", ALL, Ty::Int64),
        ],
        &[],
    );
}

/// `ListOffsetsResponse`: versions 1–10, flexible from v6.
pub(crate) mod list_offsets_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 10, 6, &LIST_OFFSETS_RESPONSE);

    static LIST_OFFSETS_RESPONSE: Struct = Struct::new(
        "ListOffsetsResponse",
        &[
            field("throttle_time_ms", since(2), Ty::Int32),
            field("topics", ALL, array(&LIST_OFFSETS_TOPIC_RESPONSE)),
        ],
        &[],
    );

    static LIST_OFFSETS_TOPIC_RESPONSE: Struct = Struct::new(
        "ListOffsetsTopicResponse",
        &[
            field("name", ALL, Ty::String),
            field("partitions", ALL, array(&LIST_OFFSETS_PARTITION_RESPONSE)),
        ],
        &[],
    );

    static LIST_OFFSETS_PARTITION_RESPONSE: Struct = Struct::new(
        "ListOffsetsPartitionResponse",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
            field("timestamp", ALL, Ty::Int64),
            field("offset", ALL, Ty::Int64),
            field("leader_epoch", since(4), Ty::Int32),
        ],
        &[],
    );
}

/// `OffsetForLeaderEpochRequest`: versions 2–4, flexible from v4.
pub(crate) mod offset_for_leader_epoch_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(2, 4, 4, &OFFSET_FOR_LEADER_EPOCH_REQUEST);

    static OFFSET_FOR_LEADER_EPOCH_REQUEST: Struct = Struct::new(
        "OffsetForLeaderEpochRequest",
        &[
            field("replica_id", since(3), Ty::Int32),
            field("topics", ALL, array(&OFFSET_FOR_LEADER_TOPIC)),
        ],
        &[],
    );

    static OFFSET_FOR_LEADER_TOPIC: Struct = Struct::new(
        "OffsetForLeaderTopic",
        &[
            field("topic", ALL, Ty::String),
            field("partitions", ALL, array(&OFFSET_FOR_LEADER_PARTITION)),
        ],
        &[],
    );

    static OFFSET_FOR_LEADER_PARTITION: Struct = Struct::new(
        "OffsetForLeaderPartition",
        &[
            field("partition", ALL, Ty::Int32),
            field("current_leader_epoch", ALL, Ty::Int32),
            field("leader_epoch", ALL, Ty::Int32),
        ],
        &[],
    );
}

/// `OffsetForLeaderEpochResponse`: versions 2–4, flexible from v4.
pub(crate) mod offset_for_leader_epoch_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(2, 4, 4, &OFFSET_FOR_LEADER_EPOCH_RESPONSE);

    static OFFSET_FOR_LEADER_EPOCH_RESPONSE: Struct = Struct::new(
        "OffsetForLeaderEpochResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("topics", ALL, array(&OFFSET_FOR_LEADER_TOPIC_RESULT)),
        ],
        &[],
    );

    static OFFSET_FOR_LEADER_TOPIC_RESULT: Struct = Struct::new(
        "OffsetForLeaderTopicResult",
        &[
            field("topic", ALL, Ty::String),
            field("partitions", ALL, array(&EPOCH_END_OFFSET)),
        ],
        &[],
    );

    static EPOCH_END_OFFSET: Struct = Struct::new(
        "EpochEndOffset",
        &[
            field("error_code", ALL, Ty::Int16),
            field("partition", ALL, Ty::Int32),
            field("leader_epoch", ALL, Ty::Int32),
            field("end_offset", ALL, Ty::Int64),
        ],
        &[],
    );
}

/// `DeleteRecordsRequest`: versions 0–2, flexible from v2.
pub(crate) mod delete_records_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 2, 2, &DELETE_RECORDS_REQUEST);

    static DELETE_RECORDS_REQUEST: Struct = Struct::new(
        "DeleteRecordsRequest",
        &[
            field("topics", ALL, array(&DELETE_RECORDS_TOPIC)),
            field("timeout_ms", ALL, Ty::Int32),
        ],
        &[],
    );

    static DELETE_RECORDS_TOPIC: Struct = Struct::new(
        "DeleteRecordsTopic",
        &[
            field("name", ALL, Ty::String),
            field("partitions", ALL, array(&DELETE_RECORDS_PARTITION)),
        ],
        &[],
    );

    static DELETE_RECORDS_PARTITION: Struct = Struct::new(
        "DeleteRecordsPartition",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("offset", ALL, Ty::Int64),
        ],
        &[],
    );
}

/// `DeleteRecordsResponse`: versions 0–2, flexible from v2.
pub(crate) mod delete_records_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 2, 2, &DELETE_RECORDS_RESPONSE);

    static DELETE_RECORDS_RESPONSE: Struct = Struct::new(
        "DeleteRecordsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("topics", ALL, array(&DELETE_RECORDS_TOPIC_RESULT)),
        ],
        &[],
    );

    static DELETE_RECORDS_TOPIC_RESULT: Struct = Struct::new(
        "DeleteRecordsTopicResult",
        &[
            field("name", ALL, Ty::String),
            field("partitions", ALL, array(&DELETE_RECORDS_PARTITION_RESULT)),
        ],
        &[],
    );

    static DELETE_RECORDS_PARTITION_RESULT: Struct = Struct::new(
        "DeleteRecordsPartitionResult",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("low_watermark", ALL, Ty::Int64),
            field("error_code", ALL, Ty::Int16),
        ],
        &[],
    );
}
