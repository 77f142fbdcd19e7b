//! Wire shapes: WriteTxnMarkers (the coordinator sends it and reads the responses).
//!
//! Derived from kafka-protocol 0.18's generated decoders with
//! `scripts/shape_table_from_kafka_protocol.py`, then reviewed; the round-trip tests in
//! `shape/tests.rs` check every entry against the crate. Field versions are absolute
//! message versions; tagged fields are only read in flexible versions.

/// `WriteTxnMarkersRequest`: versions 1–1, flexible from v1.
pub(crate) mod write_txn_markers_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 1, 1, &WRITE_TXN_MARKERS_REQUEST);

    static WRITE_TXN_MARKERS_REQUEST: Struct = Struct::new(
        "WriteTxnMarkersRequest",
        &[field("markers", ALL, array(&WRITABLE_TXN_MARKER))],
        &[],
    );

    static WRITABLE_TXN_MARKER: Struct = Struct::new(
        "WritableTxnMarker",
        &[
            field("producer_id", ALL, Ty::Int64),
            field("producer_epoch", ALL, Ty::Int16),
            field("transaction_result", ALL, Ty::Bool),
            field("topics", ALL, array(&WRITABLE_TXN_MARKER_TOPIC)),
            field("coordinator_epoch", ALL, Ty::Int32),
        ],
        &[],
    );

    static WRITABLE_TXN_MARKER_TOPIC: Struct = Struct::new(
        "WritableTxnMarkerTopic",
        &[
            field("name", ALL, Ty::String),
            field("partition_indexes", ALL, Ty::Array(Elem::Int32)),
        ],
        &[],
    );
}

/// `WriteTxnMarkersResponse`: versions 1–1, flexible from v1.
pub(crate) mod write_txn_markers_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 1, 1, &WRITE_TXN_MARKERS_RESPONSE);

    static WRITE_TXN_MARKERS_RESPONSE: Struct = Struct::new(
        "WriteTxnMarkersResponse",
        &[field("markers", ALL, array(&WRITABLE_TXN_MARKER_RESULT))],
        &[],
    );

    static WRITABLE_TXN_MARKER_RESULT: Struct = Struct::new(
        "WritableTxnMarkerResult",
        &[
            field("producer_id", ALL, Ty::Int64),
            field("topics", ALL, array(&WRITABLE_TXN_MARKER_TOPIC_RESULT)),
        ],
        &[],
    );

    static WRITABLE_TXN_MARKER_TOPIC_RESULT: Struct = Struct::new(
        "WritableTxnMarkerTopicResult",
        &[
            field("name", ALL, Ty::String),
            field(
                "partitions",
                ALL,
                array(&WRITABLE_TXN_MARKER_PARTITION_RESULT),
            ),
        ],
        &[],
    );

    static WRITABLE_TXN_MARKER_PARTITION_RESULT: Struct = Struct::new(
        "WritableTxnMarkerPartitionResult",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
        ],
        &[],
    );
}
