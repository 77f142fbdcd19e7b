//! Wire shapes: log directories: DescribeLogDirs, AlterReplicaLogDirs.
//!
//! Derived from kafka-protocol 0.18's generated decoders with
//! `scripts/shape_table_from_kafka_protocol.py`, then reviewed; the round-trip tests in
//! `shape/tests.rs` check every entry against the crate. Field versions are absolute
//! message versions; tagged fields are only read in flexible versions.

/// `DescribeLogDirsRequest`: versions 1–4, flexible from v2.
pub(crate) mod describe_log_dirs_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 4, 2, &DESCRIBE_LOG_DIRS_REQUEST);

    static DESCRIBE_LOG_DIRS_REQUEST: Struct = Struct::new(
        "DescribeLogDirsRequest",
        &[field("topics", ALL, array(&DESCRIBABLE_LOG_DIR_TOPIC))],
        &[],
    );

    static DESCRIBABLE_LOG_DIR_TOPIC: Struct = Struct::new(
        "DescribableLogDirTopic",
        &[
            field("topic", ALL, Ty::String),
            field("partitions", ALL, Ty::Array(Elem::Int32)),
        ],
        &[],
    );
}

/// `DescribeLogDirsResponse`: versions 1–4, flexible from v2.
pub(crate) mod describe_log_dirs_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 4, 2, &DESCRIBE_LOG_DIRS_RESPONSE);

    static DESCRIBE_LOG_DIRS_RESPONSE: Struct = Struct::new(
        "DescribeLogDirsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("error_code", since(3), Ty::Int16),
            field("results", ALL, array(&DESCRIBE_LOG_DIRS_RESULT)),
        ],
        &[],
    );

    static DESCRIBE_LOG_DIRS_RESULT: Struct = Struct::new(
        "DescribeLogDirsResult",
        &[
            field("error_code", ALL, Ty::Int16),
            field("log_dir", ALL, Ty::String),
            field("topics", ALL, array(&DESCRIBE_LOG_DIRS_TOPIC)),
            field("total_bytes", since(4), Ty::Int64),
            field("usable_bytes", since(4), Ty::Int64),
        ],
        &[],
    );

    static DESCRIBE_LOG_DIRS_TOPIC: Struct = Struct::new(
        "DescribeLogDirsTopic",
        &[
            field("name", ALL, Ty::String),
            field("partitions", ALL, array(&DESCRIBE_LOG_DIRS_PARTITION)),
        ],
        &[],
    );

    static DESCRIBE_LOG_DIRS_PARTITION: Struct = Struct::new(
        "DescribeLogDirsPartition",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("partition_size", ALL, Ty::Int64),
            field("offset_lag", ALL, Ty::Int64),
            field("is_future_key", ALL, Ty::Bool),
        ],
        &[],
    );
}

/// `AlterReplicaLogDirsRequest`: versions 1–2, flexible from v2.
pub(crate) mod alter_replica_log_dirs_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 2, 2, &ALTER_REPLICA_LOG_DIRS_REQUEST);

    static ALTER_REPLICA_LOG_DIRS_REQUEST: Struct = Struct::new(
        "AlterReplicaLogDirsRequest",
        &[field("dirs", ALL, array(&ALTER_REPLICA_LOG_DIR))],
        &[],
    );

    static ALTER_REPLICA_LOG_DIR: Struct = Struct::new(
        "AlterReplicaLogDir",
        &[
            field("path", ALL, Ty::String),
            field("topics", ALL, array(&ALTER_REPLICA_LOG_DIR_TOPIC)),
        ],
        &[],
    );

    static ALTER_REPLICA_LOG_DIR_TOPIC: Struct = Struct::new(
        "AlterReplicaLogDirTopic",
        &[
            field("name", ALL, Ty::String),
            field("partitions", ALL, Ty::Array(Elem::Int32)),
        ],
        &[],
    );
}

/// `AlterReplicaLogDirsResponse`: versions 1–2, flexible from v2.
pub(crate) mod alter_replica_log_dirs_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 2, 2, &ALTER_REPLICA_LOG_DIRS_RESPONSE);

    static ALTER_REPLICA_LOG_DIRS_RESPONSE: Struct = Struct::new(
        "AlterReplicaLogDirsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("results", ALL, array(&ALTER_REPLICA_LOG_DIR_TOPIC_RESULT)),
        ],
        &[],
    );

    static ALTER_REPLICA_LOG_DIR_TOPIC_RESULT: Struct = Struct::new(
        "AlterReplicaLogDirTopicResult",
        &[
            field("topic_name", ALL, Ty::String),
            field(
                "partitions",
                ALL,
                array(&ALTER_REPLICA_LOG_DIR_PARTITION_RESULT),
            ),
        ],
        &[],
    );

    static ALTER_REPLICA_LOG_DIR_PARTITION_RESULT: Struct = Struct::new(
        "AlterReplicaLogDirPartitionResult",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
        ],
        &[],
    );
}
