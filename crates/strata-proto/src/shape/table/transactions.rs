//! Wire shapes: Transactions at the coordinator: AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, DescribeTransactions, ListTransactions; DescribeProducers.
//!
//! Derived from kafka-protocol 0.18's generated decoders with
//! `scripts/shape_table_from_kafka_protocol.py`, then reviewed; the round-trip tests in
//! `shape/tests.rs` check every entry against the crate. Field versions are absolute
//! message versions; tagged fields are only read in flexible versions.

/// `AddPartitionsToTxnRequest`: versions 0–5, flexible from v3.
pub(crate) mod add_partitions_to_txn_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 5, 3, &ADD_PARTITIONS_TO_TXN_REQUEST);

    static ADD_PARTITIONS_TO_TXN_REQUEST: Struct = Struct::new(
        "AddPartitionsToTxnRequest",
        &[
            field(
                "transactions",
                since(4),
                array(&ADD_PARTITIONS_TO_TXN_TRANSACTION),
            ),
            field("v3_and_below_transactional_id", until(3), Ty::String),
            field("v3_and_below_producer_id", until(3), Ty::Int64),
            field("v3_and_below_producer_epoch", until(3), Ty::Int16),
            field(
                "v3_and_below_topics",
                until(3),
                array(&ADD_PARTITIONS_TO_TXN_TOPIC),
            ),
        ],
        &[],
    );

    static ADD_PARTITIONS_TO_TXN_TRANSACTION: Struct = Struct::new(
        "AddPartitionsToTxnTransaction",
        &[
            field("transactional_id", since(4), Ty::String),
            field("producer_id", since(4), Ty::Int64),
            field("producer_epoch", since(4), Ty::Int16),
            field("verify_only", since(4), Ty::Bool),
            field("topics", since(4), array(&ADD_PARTITIONS_TO_TXN_TOPIC)),
        ],
        &[],
    );

    static ADD_PARTITIONS_TO_TXN_TOPIC: Struct = Struct::new(
        "AddPartitionsToTxnTopic",
        &[
            field("name", ALL, Ty::String),
            field("partitions", ALL, Ty::Array(Elem::Int32)),
        ],
        &[],
    );
}

/// `AddPartitionsToTxnResponse`: versions 0–5, flexible from v3.
pub(crate) mod add_partitions_to_txn_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 5, 3, &ADD_PARTITIONS_TO_TXN_RESPONSE);

    static ADD_PARTITIONS_TO_TXN_RESPONSE: Struct = Struct::new(
        "AddPartitionsToTxnResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("error_code", since(4), Ty::Int16),
            field(
                "results_by_transaction",
                since(4),
                array(&ADD_PARTITIONS_TO_TXN_RESULT),
            ),
            field(
                "results_by_topic_v3_and_below",
                until(3),
                array(&ADD_PARTITIONS_TO_TXN_TOPIC_RESULT),
            ),
        ],
        &[],
    );

    static ADD_PARTITIONS_TO_TXN_RESULT: Struct = Struct::new(
        "AddPartitionsToTxnResult",
        &[
            field("transactional_id", since(4), Ty::String),
            field(
                "topic_results",
                since(4),
                array(&ADD_PARTITIONS_TO_TXN_TOPIC_RESULT),
            ),
        ],
        &[],
    );

    static ADD_PARTITIONS_TO_TXN_TOPIC_RESULT: Struct = Struct::new(
        "AddPartitionsToTxnTopicResult",
        &[
            field("name", ALL, Ty::String),
            field(
                "results_by_partition",
                ALL,
                array(&ADD_PARTITIONS_TO_TXN_PARTITION_RESULT),
            ),
        ],
        &[],
    );

    static ADD_PARTITIONS_TO_TXN_PARTITION_RESULT: Struct = Struct::new(
        "AddPartitionsToTxnPartitionResult",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("partition_error_code", ALL, Ty::Int16),
        ],
        &[],
    );
}

/// `AddOffsetsToTxnRequest`: versions 0–4, flexible from v3.
pub(crate) mod add_offsets_to_txn_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 4, 3, &ADD_OFFSETS_TO_TXN_REQUEST);

    static ADD_OFFSETS_TO_TXN_REQUEST: Struct = Struct::new(
        "AddOffsetsToTxnRequest",
        &[
            field("transactional_id", ALL, Ty::String),
            field("producer_id", ALL, Ty::Int64),
            field("producer_epoch", ALL, Ty::Int16),
            field("group_id", ALL, Ty::String),
        ],
        &[],
    );
}

/// `AddOffsetsToTxnResponse`: versions 0–4, flexible from v3.
pub(crate) mod add_offsets_to_txn_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 4, 3, &ADD_OFFSETS_TO_TXN_RESPONSE);

    static ADD_OFFSETS_TO_TXN_RESPONSE: Struct = Struct::new(
        "AddOffsetsToTxnResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
        ],
        &[],
    );
}

/// `EndTxnRequest`: versions 0–5, flexible from v3.
pub(crate) mod end_txn_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 5, 3, &END_TXN_REQUEST);

    static END_TXN_REQUEST: Struct = Struct::new(
        "EndTxnRequest",
        &[
            field("transactional_id", ALL, Ty::String),
            field("producer_id", ALL, Ty::Int64),
            field("producer_epoch", ALL, Ty::Int16),
            field("committed", ALL, Ty::Bool),
        ],
        &[],
    );
}

/// `EndTxnResponse`: versions 0–5, flexible from v3.
pub(crate) mod end_txn_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 5, 3, &END_TXN_RESPONSE);

    static END_TXN_RESPONSE: Struct = Struct::new(
        "EndTxnResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
            field("producer_id", since(5), Ty::Int64),
            field("producer_epoch", since(5), Ty::Int16),
        ],
        &[],
    );
}

/// `DescribeTransactionsRequest`: versions 0–0, flexible from v0.
pub(crate) mod describe_transactions_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 0, 0, &DESCRIBE_TRANSACTIONS_REQUEST);

    static DESCRIBE_TRANSACTIONS_REQUEST: Struct = Struct::new(
        "DescribeTransactionsRequest",
        &[field("transactional_ids", ALL, Ty::Array(Elem::String))],
        &[],
    );
}

/// `DescribeTransactionsResponse`: versions 0–0, flexible from v0.
pub(crate) mod describe_transactions_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 0, 0, &DESCRIBE_TRANSACTIONS_RESPONSE);

    static DESCRIBE_TRANSACTIONS_RESPONSE: Struct = Struct::new(
        "DescribeTransactionsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("transaction_states", ALL, array(&TRANSACTION_STATE)),
        ],
        &[],
    );

    static TRANSACTION_STATE: Struct = Struct::new(
        "TransactionState",
        &[
            field("error_code", ALL, Ty::Int16),
            field("transactional_id", ALL, Ty::String),
            field("transaction_state", ALL, Ty::String),
            field("transaction_timeout_ms", ALL, Ty::Int32),
            field("transaction_start_time_ms", ALL, Ty::Int64),
            field("producer_id", ALL, Ty::Int64),
            field("producer_epoch", ALL, Ty::Int16),
            field("topics", ALL, array(&TOPIC_DATA)),
        ],
        &[],
    );

    static TOPIC_DATA: Struct = Struct::new(
        "TopicData",
        &[
            field("topic", ALL, Ty::String),
            field("partitions", ALL, Ty::Array(Elem::Int32)),
        ],
        &[],
    );
}

/// `ListTransactionsRequest`: versions 0–2, flexible from v0.
pub(crate) mod list_transactions_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 2, 0, &LIST_TRANSACTIONS_REQUEST);

    static LIST_TRANSACTIONS_REQUEST: Struct = Struct::new(
        "ListTransactionsRequest",
        &[
            field("state_filters", ALL, Ty::Array(Elem::String)),
            field("producer_id_filters", ALL, Ty::Array(Elem::Int64)),
            field("duration_filter", since(1), Ty::Int64),
            field("transactional_id_pattern", since(2), Ty::String),
        ],
        &[],
    );
}

/// `ListTransactionsResponse`: versions 0–2, flexible from v0.
pub(crate) mod list_transactions_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 2, 0, &LIST_TRANSACTIONS_RESPONSE);

    static LIST_TRANSACTIONS_RESPONSE: Struct = Struct::new(
        "ListTransactionsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
            field("unknown_state_filters", ALL, Ty::Array(Elem::String)),
            field("transaction_states", ALL, array(&TRANSACTION_STATE)),
        ],
        &[],
    );

    static TRANSACTION_STATE: Struct = Struct::new(
        "TransactionState",
        &[
            field("transactional_id", ALL, Ty::String),
            field("producer_id", ALL, Ty::Int64),
            field("transaction_state", ALL, Ty::String),
        ],
        &[],
    );
}

/// `DescribeProducersRequest`: versions 0–0, flexible from v0.
pub(crate) mod describe_producers_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 0, 0, &DESCRIBE_PRODUCERS_REQUEST);

    static DESCRIBE_PRODUCERS_REQUEST: Struct = Struct::new(
        "DescribeProducersRequest",
        &[field("topics", ALL, array(&TOPIC_REQUEST))],
        &[],
    );

    static TOPIC_REQUEST: Struct = Struct::new(
        "TopicRequest",
        &[
            field("name", ALL, Ty::String),
            field("partition_indexes", ALL, Ty::Array(Elem::Int32)),
        ],
        &[],
    );
}

/// `DescribeProducersResponse`: versions 0–0, flexible from v0.
pub(crate) mod describe_producers_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 0, 0, &DESCRIBE_PRODUCERS_RESPONSE);

    static DESCRIBE_PRODUCERS_RESPONSE: Struct = Struct::new(
        "DescribeProducersResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("topics", ALL, array(&TOPIC_RESPONSE)),
        ],
        &[],
    );

    static TOPIC_RESPONSE: Struct = Struct::new(
        "TopicResponse",
        &[
            field("name", ALL, Ty::String),
            field("partitions", ALL, array(&PARTITION_RESPONSE)),
        ],
        &[],
    );

    static PARTITION_RESPONSE: Struct = Struct::new(
        "PartitionResponse",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
            field("active_producers", ALL, array(&PRODUCER_STATE)),
        ],
        &[],
    );

    static PRODUCER_STATE: Struct = Struct::new(
        "ProducerState",
        &[
            field("producer_id", ALL, Ty::Int64),
            field("producer_epoch", ALL, Ty::Int32),
            field("last_sequence", ALL, Ty::Int32),
            field("last_timestamp", ALL, Ty::Int64),
            field("coordinator_epoch", ALL, Ty::Int32),
            field("current_txn_start_offset", ALL, Ty::Int64),
        ],
        &[],
    );
}
