//! Wire shapes: Metadata, ApiVersions, DescribeCluster, FindCoordinator, InitProducerId.
//!
//! Derived from kafka-protocol 0.18's generated decoders with
//! `scripts/shape_table_from_kafka_protocol.py`, then reviewed; the round-trip tests in
//! `shape/tests.rs` check every entry against the crate. Field versions are absolute
//! message versions; tagged fields are only read in flexible versions.

/// `MetadataRequest`: versions 0–13, flexible from v9.
pub(crate) mod metadata_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 13, 9, &METADATA_REQUEST);

    static METADATA_REQUEST: Struct = Struct::new(
        "MetadataRequest",
        &[
            field("topics", ALL, array(&METADATA_REQUEST_TOPIC)),
            field("allow_auto_topic_creation", since(4), Ty::Bool),
            field(
                "include_cluster_authorized_operations",
                span(8, 10),
                Ty::Bool,
            ),
            field("include_topic_authorized_operations", since(8), Ty::Bool),
        ],
        &[],
    );

    static METADATA_REQUEST_TOPIC: Struct = Struct::new(
        "MetadataRequestTopic",
        &[
            field("topic_id", since(10), Ty::Uuid),
            field("name", ALL, Ty::String),
        ],
        &[],
    );
}

/// `MetadataResponse`: versions 0–13, flexible from v9.
pub(crate) mod metadata_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 13, 9, &METADATA_RESPONSE);

    static METADATA_RESPONSE: Struct = Struct::new(
        "MetadataResponse",
        &[
            field("throttle_time_ms", since(3), Ty::Int32),
            field("brokers", ALL, array(&METADATA_RESPONSE_BROKER)),
            field("cluster_id", since(2), Ty::String),
            field("controller_id", since(1), Ty::Int32),
            field("topics", ALL, array(&METADATA_RESPONSE_TOPIC)),
            field("cluster_authorized_operations", span(8, 10), Ty::Int32),
            field("error_code", since(13), Ty::Int16),
        ],
        &[],
    );

    static METADATA_RESPONSE_BROKER: Struct = Struct::new(
        "MetadataResponseBroker",
        &[
            field("node_id", ALL, Ty::Int32),
            field("host", ALL, Ty::String),
            field("port", ALL, Ty::Int32),
            field("rack", since(1), Ty::String),
        ],
        &[],
    );

    static METADATA_RESPONSE_TOPIC: Struct = Struct::new(
        "MetadataResponseTopic",
        &[
            field("error_code", ALL, Ty::Int16),
            field("name", ALL, Ty::String),
            field("topic_id", since(10), Ty::Uuid),
            field("is_internal", since(1), Ty::Bool),
            field("partitions", ALL, array(&METADATA_RESPONSE_PARTITION)),
            field("topic_authorized_operations", since(8), Ty::Int32),
        ],
        &[],
    );

    static METADATA_RESPONSE_PARTITION: Struct = Struct::new(
        "MetadataResponsePartition",
        &[
            field("error_code", ALL, Ty::Int16),
            field("partition_index", ALL, Ty::Int32),
            field("leader_id", ALL, Ty::Int32),
            field("leader_epoch", since(7), Ty::Int32),
            field("replica_nodes", ALL, Ty::Array(Elem::Int32)),
            field("isr_nodes", ALL, Ty::Array(Elem::Int32)),
            field("offline_replicas", since(5), Ty::Array(Elem::Int32)),
        ],
        &[],
    );
}

/// `ApiVersionsRequest`: versions 0–4, flexible from v3.
pub(crate) mod api_versions_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 4, 3, &API_VERSIONS_REQUEST);

    static API_VERSIONS_REQUEST: Struct = Struct::new(
        "ApiVersionsRequest",
        &[
            field("client_software_name", since(3), Ty::String),
            field("client_software_version", since(3), Ty::String),
        ],
        &[],
    );
}

/// `ApiVersionsResponse`: versions 0–4, flexible from v3.
pub(crate) mod api_versions_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 4, 3, &API_VERSIONS_RESPONSE);

    static API_VERSIONS_RESPONSE: Struct = Struct::new(
        "ApiVersionsResponse",
        &[
            field("error_code", ALL, Ty::Int16),
            field("api_keys", ALL, array(&API_VERSION)),
            field("throttle_time_ms", since(1), Ty::Int32),
        ],
        &[
            tag(0, "supported_features", ALL, array(&SUPPORTED_FEATURE_KEY)),
            tag(1, "finalized_features_epoch", ALL, Ty::Int64),
            tag(2, "finalized_features", ALL, array(&FINALIZED_FEATURE_KEY)),
            tag(3, "zk_migration_ready", ALL, Ty::Bool),
        ],
    );

    static API_VERSION: Struct = Struct::new(
        "ApiVersion",
        &[
            field("api_key", ALL, Ty::Int16),
            field("min_version", ALL, Ty::Int16),
            field("max_version", ALL, Ty::Int16),
        ],
        &[],
    );

    static SUPPORTED_FEATURE_KEY: Struct = Struct::new(
        "SupportedFeatureKey",
        &[
            field("name", since(3), Ty::String),
            field("min_version", since(3), Ty::Int16),
            field("max_version", since(3), Ty::Int16),
        ],
        &[],
    );

    static FINALIZED_FEATURE_KEY: Struct = Struct::new(
        "FinalizedFeatureKey",
        &[
            field("name", since(3), Ty::String),
            field("max_version_level", since(3), Ty::Int16),
            field("min_version_level", since(3), Ty::Int16),
        ],
        &[],
    );
}

/// `DescribeClusterRequest`: versions 0–2, flexible from v0.
pub(crate) mod describe_cluster_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 2, 0, &DESCRIBE_CLUSTER_REQUEST);

    static DESCRIBE_CLUSTER_REQUEST: Struct = Struct::new(
        "DescribeClusterRequest",
        &[
            field("include_cluster_authorized_operations", ALL, Ty::Bool),
            field("endpoint_type", since(1), Ty::Int8),
            field("include_fenced_brokers", since(2), Ty::Bool),
        ],
        &[],
    );
}

/// `DescribeClusterResponse`: versions 0–2, flexible from v0.
pub(crate) mod describe_cluster_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 2, 0, &DESCRIBE_CLUSTER_RESPONSE);

    static DESCRIBE_CLUSTER_RESPONSE: Struct = Struct::new(
        "DescribeClusterResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
            field("endpoint_type", since(1), Ty::Int8),
            field("cluster_id", ALL, Ty::String),
            field("controller_id", ALL, Ty::Int32),
            field("brokers", ALL, array(&DESCRIBE_CLUSTER_BROKER)),
            field("cluster_authorized_operations", ALL, Ty::Int32),
        ],
        &[],
    );

    static DESCRIBE_CLUSTER_BROKER: Struct = Struct::new(
        "DescribeClusterBroker",
        &[
            field("broker_id", ALL, Ty::Int32),
            field("host", ALL, Ty::String),
            field("port", ALL, Ty::Int32),
            field("rack", ALL, Ty::String),
            field("is_fenced", since(2), Ty::Bool),
        ],
        &[],
    );
}

/// `FindCoordinatorRequest`: versions 0–6, flexible from v3.
pub(crate) mod find_coordinator_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 6, 3, &FIND_COORDINATOR_REQUEST);

    static FIND_COORDINATOR_REQUEST: Struct = Struct::new(
        "FindCoordinatorRequest",
        &[
            field("key", until(3), Ty::String),
            field("key_type", since(1), Ty::Int8),
            field("coordinator_keys", since(4), Ty::Array(Elem::String)),
        ],
        &[],
    );
}

/// `FindCoordinatorResponse`: versions 0–6, flexible from v3.
pub(crate) mod find_coordinator_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 6, 3, &FIND_COORDINATOR_RESPONSE);

    static FIND_COORDINATOR_RESPONSE: Struct = Struct::new(
        "FindCoordinatorResponse",
        &[
            field("throttle_time_ms", since(1), Ty::Int32),
            field("error_code", until(3), Ty::Int16),
            field("error_message", span(1, 3), Ty::String),
            field("node_id", until(3), Ty::Int32),
            field("host", until(3), Ty::String),
            field("port", until(3), Ty::Int32),
            field("coordinators", since(4), array(&COORDINATOR)),
        ],
        &[],
    );

    static COORDINATOR: Struct = Struct::new(
        "Coordinator",
        &[
            field("key", since(4), Ty::String),
            field("node_id", since(4), Ty::Int32),
            field("host", since(4), Ty::String),
            field("port", since(4), Ty::Int32),
            field("error_code", since(4), Ty::Int16),
            field("error_message", since(4), Ty::String),
        ],
        &[],
    );
}

/// `InitProducerIdRequest`: versions 0–5, flexible from v2.
pub(crate) mod init_producer_id_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 5, 2, &INIT_PRODUCER_ID_REQUEST);

    static INIT_PRODUCER_ID_REQUEST: Struct = Struct::new(
        "InitProducerIdRequest",
        &[
            field("transactional_id", ALL, Ty::String),
            field("transaction_timeout_ms", ALL, Ty::Int32),
            field("producer_id", since(3), Ty::Int64),
            field("producer_epoch", since(3), Ty::Int16),
        ],
        &[],
    );
}

/// `InitProducerIdResponse`: versions 0–6, flexible from v2.
pub(crate) mod init_producer_id_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 6, 2, &INIT_PRODUCER_ID_RESPONSE);

    static INIT_PRODUCER_ID_RESPONSE: Struct = Struct::new(
        "InitProducerIdResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
            field("producer_id", ALL, Ty::Int64),
            field("producer_epoch", ALL, Ty::Int16),
            field("ongoing_txn_producer_id", since(6), Ty::Int64),
            field("ongoing_txn_producer_epoch", since(6), Ty::Int16),
        ],
        &[],
    );
}
