//! Wire shapes: Topic and config administration: CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs, AlterConfigs, IncrementalAlterConfigs.
//!
//! Derived from kafka-protocol 0.18's generated decoders with
//! `scripts/shape_table_from_kafka_protocol.py`, then reviewed; the round-trip tests in
//! `shape/tests.rs` check every entry against the crate. Field versions are absolute
//! message versions; tagged fields are only read in flexible versions.

/// `CreateTopicsRequest`: versions 2–7, flexible from v5.
pub(crate) mod create_topics_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(2, 7, 5, &CREATE_TOPICS_REQUEST);

    static CREATE_TOPICS_REQUEST: Struct = Struct::new(
        "CreateTopicsRequest",
        &[
            field("topics", ALL, array(&CREATABLE_TOPIC)),
            field("timeout_ms", ALL, Ty::Int32),
            field("validate_only", ALL, Ty::Bool),
        ],
        &[],
    );

    static CREATABLE_TOPIC: Struct = Struct::new(
        "CreatableTopic",
        &[
            field("name", ALL, Ty::String),
            field("num_partitions", ALL, Ty::Int32),
            field("replication_factor", ALL, Ty::Int16),
            field("assignments", ALL, array(&CREATABLE_REPLICA_ASSIGNMENT)),
            field("configs", ALL, array(&CREATABLE_TOPIC_CONFIG)),
        ],
        &[],
    );

    static CREATABLE_REPLICA_ASSIGNMENT: Struct = Struct::new(
        "CreatableReplicaAssignment",
        &[
            field("partition_index", ALL, Ty::Int32),
            field("broker_ids", ALL, Ty::Array(Elem::Int32)),
        ],
        &[],
    );

    static CREATABLE_TOPIC_CONFIG: Struct = Struct::new(
        "CreatableTopicConfig",
        &[
            field("name", ALL, Ty::String),
            field("value", ALL, Ty::String),
        ],
        &[],
    );
}

/// `CreateTopicsResponse`: versions 2–7, flexible from v5.
pub(crate) mod create_topics_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(2, 7, 5, &CREATE_TOPICS_RESPONSE);

    static CREATE_TOPICS_RESPONSE: Struct = Struct::new(
        "CreateTopicsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("topics", ALL, array(&CREATABLE_TOPIC_RESULT)),
        ],
        &[],
    );

    static CREATABLE_TOPIC_RESULT: Struct = Struct::new(
        "CreatableTopicResult",
        &[
            field("name", ALL, Ty::String),
            field("topic_id", since(7), Ty::Uuid),
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
            field("num_partitions", since(5), Ty::Int32),
            field("replication_factor", since(5), Ty::Int16),
            field("configs", since(5), array(&CREATABLE_TOPIC_CONFIGS)),
        ],
        &[tag(0, "topic_config_error_code", ALL, Ty::Int16)],
    );

    static CREATABLE_TOPIC_CONFIGS: Struct = Struct::new(
        "CreatableTopicConfigs",
        &[
            field("name", since(5), Ty::String),
            field("value", since(5), Ty::String),
            field("read_only", since(5), Ty::Bool),
            field("config_source", since(5), Ty::Int8),
            field("is_sensitive", since(5), Ty::Bool),
        ],
        &[],
    );
}

/// `DeleteTopicsRequest`: versions 1–6, flexible from v4.
pub(crate) mod delete_topics_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 6, 4, &DELETE_TOPICS_REQUEST);

    static DELETE_TOPICS_REQUEST: Struct = Struct::new(
        "DeleteTopicsRequest",
        &[
            field("topics", since(6), array(&DELETE_TOPIC_STATE)),
            field("topic_names", until(5), Ty::Array(Elem::String)),
            field("timeout_ms", ALL, Ty::Int32),
        ],
        &[],
    );

    static DELETE_TOPIC_STATE: Struct = Struct::new(
        "DeleteTopicState",
        &[
            field("name", since(6), Ty::String),
            field("topic_id", since(6), Ty::Uuid),
        ],
        &[],
    );
}

/// `DeleteTopicsResponse`: versions 1–6, flexible from v4.
pub(crate) mod delete_topics_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 6, 4, &DELETE_TOPICS_RESPONSE);

    static DELETE_TOPICS_RESPONSE: Struct = Struct::new(
        "DeleteTopicsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("responses", ALL, array(&DELETABLE_TOPIC_RESULT)),
        ],
        &[],
    );

    static DELETABLE_TOPIC_RESULT: Struct = Struct::new(
        "DeletableTopicResult",
        &[
            field("name", ALL, Ty::String),
            field("topic_id", since(6), Ty::Uuid),
            field("error_code", ALL, Ty::Int16),
            field("error_message", since(5), Ty::String),
        ],
        &[],
    );
}

/// `CreatePartitionsRequest`: versions 0–3, flexible from v2.
pub(crate) mod create_partitions_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 3, 2, &CREATE_PARTITIONS_REQUEST);

    static CREATE_PARTITIONS_REQUEST: Struct = Struct::new(
        "CreatePartitionsRequest",
        &[
            field("topics", ALL, array(&CREATE_PARTITIONS_TOPIC)),
            field("timeout_ms", ALL, Ty::Int32),
            field("validate_only", ALL, Ty::Bool),
        ],
        &[],
    );

    static CREATE_PARTITIONS_TOPIC: Struct = Struct::new(
        "CreatePartitionsTopic",
        &[
            field("name", ALL, Ty::String),
            field("count", ALL, Ty::Int32),
            field("assignments", ALL, array(&CREATE_PARTITIONS_ASSIGNMENT)),
        ],
        &[],
    );

    static CREATE_PARTITIONS_ASSIGNMENT: Struct = Struct::new(
        "CreatePartitionsAssignment",
        &[field("broker_ids", ALL, Ty::Array(Elem::Int32))],
        &[],
    );
}

/// `CreatePartitionsResponse`: versions 0–3, flexible from v2.
pub(crate) mod create_partitions_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 3, 2, &CREATE_PARTITIONS_RESPONSE);

    static CREATE_PARTITIONS_RESPONSE: Struct = Struct::new(
        "CreatePartitionsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("results", ALL, array(&CREATE_PARTITIONS_TOPIC_RESULT)),
        ],
        &[],
    );

    static CREATE_PARTITIONS_TOPIC_RESULT: Struct = Struct::new(
        "CreatePartitionsTopicResult",
        &[
            field("name", ALL, Ty::String),
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
        ],
        &[],
    );
}

/// `DescribeConfigsRequest`: versions 1–4, flexible from v4.
pub(crate) mod describe_configs_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 4, 4, &DESCRIBE_CONFIGS_REQUEST);

    static DESCRIBE_CONFIGS_REQUEST: Struct = Struct::new(
        "DescribeConfigsRequest",
        &[
            field("resources", ALL, array(&DESCRIBE_CONFIGS_RESOURCE)),
            field("include_synonyms", ALL, Ty::Bool),
            field("include_documentation", since(3), Ty::Bool),
        ],
        &[],
    );

    static DESCRIBE_CONFIGS_RESOURCE: Struct = Struct::new(
        "DescribeConfigsResource",
        &[
            field("resource_type", ALL, Ty::Int8),
            field("resource_name", ALL, Ty::String),
            field("configuration_keys", ALL, Ty::Array(Elem::String)),
        ],
        &[],
    );
}

/// `DescribeConfigsResponse`: versions 1–4, flexible from v4.
pub(crate) mod describe_configs_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 4, 4, &DESCRIBE_CONFIGS_RESPONSE);

    static DESCRIBE_CONFIGS_RESPONSE: Struct = Struct::new(
        "DescribeConfigsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("results", ALL, array(&DESCRIBE_CONFIGS_RESULT)),
        ],
        &[],
    );

    static DESCRIBE_CONFIGS_RESULT: Struct = Struct::new(
        "DescribeConfigsResult",
        &[
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
            field("resource_type", ALL, Ty::Int8),
            field("resource_name", ALL, Ty::String),
            field("configs", ALL, array(&DESCRIBE_CONFIGS_RESOURCE_RESULT)),
        ],
        &[],
    );

    static DESCRIBE_CONFIGS_RESOURCE_RESULT: Struct = Struct::new(
        "DescribeConfigsResourceResult",
        &[
            field("name", ALL, Ty::String),
            field("value", ALL, Ty::String),
            field("read_only", ALL, Ty::Bool),
            field("config_source", ALL, Ty::Int8),
            field("is_sensitive", ALL, Ty::Bool),
            field("synonyms", ALL, array(&DESCRIBE_CONFIGS_SYNONYM)),
            field("config_type", since(3), Ty::Int8),
            field("documentation", since(3), Ty::String),
        ],
        &[],
    );

    static DESCRIBE_CONFIGS_SYNONYM: Struct = Struct::new(
        "DescribeConfigsSynonym",
        &[
            field("name", ALL, Ty::String),
            field("value", ALL, Ty::String),
            field("source", ALL, Ty::Int8),
        ],
        &[],
    );
}

/// `AlterConfigsRequest`: versions 0–2, flexible from v2.
pub(crate) mod alter_configs_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 2, 2, &ALTER_CONFIGS_REQUEST);

    static ALTER_CONFIGS_REQUEST: Struct = Struct::new(
        "AlterConfigsRequest",
        &[
            field("resources", ALL, array(&ALTER_CONFIGS_RESOURCE)),
            field("validate_only", ALL, Ty::Bool),
        ],
        &[],
    );

    static ALTER_CONFIGS_RESOURCE: Struct = Struct::new(
        "AlterConfigsResource",
        &[
            field("resource_type", ALL, Ty::Int8),
            field("resource_name", ALL, Ty::String),
            field("configs", ALL, array(&ALTERABLE_CONFIG)),
        ],
        &[],
    );

    static ALTERABLE_CONFIG: Struct = Struct::new(
        "AlterableConfig",
        &[
            field("name", ALL, Ty::String),
            field("value", ALL, Ty::String),
        ],
        &[],
    );
}

/// `AlterConfigsResponse`: versions 0–2, flexible from v2.
pub(crate) mod alter_configs_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 2, 2, &ALTER_CONFIGS_RESPONSE);

    static ALTER_CONFIGS_RESPONSE: Struct = Struct::new(
        "AlterConfigsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("responses", ALL, array(&ALTER_CONFIGS_RESOURCE_RESPONSE)),
        ],
        &[],
    );

    static ALTER_CONFIGS_RESOURCE_RESPONSE: Struct = Struct::new(
        "AlterConfigsResourceResponse",
        &[
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
            field("resource_type", ALL, Ty::Int8),
            field("resource_name", ALL, Ty::String),
        ],
        &[],
    );
}

/// `IncrementalAlterConfigsRequest`: versions 0–1, flexible from v1.
pub(crate) mod incremental_alter_configs_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 1, 1, &INCREMENTAL_ALTER_CONFIGS_REQUEST);

    static INCREMENTAL_ALTER_CONFIGS_REQUEST: Struct = Struct::new(
        "IncrementalAlterConfigsRequest",
        &[
            field("resources", ALL, array(&ALTER_CONFIGS_RESOURCE)),
            field("validate_only", ALL, Ty::Bool),
        ],
        &[],
    );

    static ALTER_CONFIGS_RESOURCE: Struct = Struct::new(
        "AlterConfigsResource",
        &[
            field("resource_type", ALL, Ty::Int8),
            field("resource_name", ALL, Ty::String),
            field("configs", ALL, array(&ALTERABLE_CONFIG)),
        ],
        &[],
    );

    static ALTERABLE_CONFIG: Struct = Struct::new(
        "AlterableConfig",
        &[
            field("name", ALL, Ty::String),
            field("config_operation", ALL, Ty::Int8),
            field("value", ALL, Ty::String),
        ],
        &[],
    );
}

/// `IncrementalAlterConfigsResponse`: versions 0–1, flexible from v1.
pub(crate) mod incremental_alter_configs_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 1, 1, &INCREMENTAL_ALTER_CONFIGS_RESPONSE);

    static INCREMENTAL_ALTER_CONFIGS_RESPONSE: Struct = Struct::new(
        "IncrementalAlterConfigsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("responses", ALL, array(&ALTER_CONFIGS_RESOURCE_RESPONSE)),
        ],
        &[],
    );

    static ALTER_CONFIGS_RESOURCE_RESPONSE: Struct = Struct::new(
        "AlterConfigsResourceResponse",
        &[
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
            field("resource_type", ALL, Ty::Int8),
            field("resource_name", ALL, Ty::String),
        ],
        &[],
    );
}
