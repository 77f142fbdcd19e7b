//! strata-client: an async Rust client for Strata and other Kafka-protocol brokers.
//!
//! - [`Producer`]: batching per partition with linger and size limits, any codec, Java-compatible
//!   partitioning (murmur2 for keys, sticky for unkeyed records), retries, in-order delivery.
//! - [`Consumer`]: manual assignment or consumer-group subscription (classic protocol,
//!   range and cooperative-sticky assignors, static membership), seeking, Fetch long-polls,
//!   decompression, sync/async/auto commits.
//! - [`Admin`]: the cluster (brokers, controller, partition placement), topics
//!   (create/describe/delete/list, offsets), topic and broker configs (describe with sources
//!   and synonyms, incremental alter), consumer groups (list, describe, delete, offsets),
//!   ACLs, SCRAM users, client quotas and brokers' log directories.
//!
//! Security: TLS (rustls; CA file, mutual TLS) and SASL PLAIN / SCRAM-SHA-256/512 on
//! every connection, set with librdkafka's names ([`SecurityConfig::set`]).
//!
//! Built on the `kafka-protocol` crate for message encoding; connection handling (framing,
//! pipelining, version negotiation) and the metadata cache live here.

mod accumulator;
mod admin;
mod admin_acls;
mod admin_cluster;
mod admin_configs;
mod admin_elect;
mod admin_groups;
mod admin_log_dirs;
mod admin_quotas;
mod admin_reassign;
mod admin_records;
mod admin_scram;
mod batch;
mod cluster;
mod connection;
mod consumer;
pub mod error;
pub mod group;
mod offsets;
pub mod partitioner;
mod producer;
mod record_codec;
mod sasl;
pub mod security;
mod tls;

pub use admin::{Admin, PartitionDescription, TopicDescription, TopicListing};
pub use admin_cluster::{BrokerDescription, ClusterDescription, ClusterMetadata};
pub use admin_configs::{
    ConfigAction, ConfigEntry, ConfigOp, ConfigResource, ConfigSource, ConfigSynonym,
};
pub use admin_elect::{ElectionKind, ElectionResult, QuorumInfo, QuorumReplica};
pub use admin_groups::{GroupDescription, GroupListing, GroupMemberDescription};
pub use admin_log_dirs::{LogDirDescription, ReplicaDirMove, ReplicaLogDir};
pub use admin_quotas::{
    entity_label, QuotaEntity, QuotaEntry, QuotaFilter, QuotaMatch, QuotaOp, QUOTA_CLIENT_ID,
    QUOTA_IP, QUOTA_USER,
};
pub use admin_reassign::{OngoingReassignment, PartitionMove};
pub use admin_records::{DeleteRecordsResult, DELETE_TO_HIGH_WATERMARK};
pub use admin_scram::{ScramChange, UserScramCredentials};
pub use batch::{decode_fetched, DecodedFetch, DecodedRecord, Header};
pub use cluster::{parse_bootstrap, ClientConfig, PartitionMetadata, TopicMetadata};
pub use consumer::{
    CommitFuture, CommitResult, Consumer, ConsumerConfig, ConsumerRecord, Listener, OffsetReset,
    RebalanceListener,
};
pub use error::{ClientError, Result};
pub use group::{AssignmentStrategy, OffsetAndMetadata};
pub use kafka_protocol::records::Compression;
pub use offsets::{OffsetSpec, TopicPartition};
pub use producer::{
    parse_compression, Acks, DeliveryFuture, Producer, ProducerBuilder, ProducerConfig,
    ProducerRecord, RecordMetadata,
};
pub use security::{SaslMechanism, SecurityConfig, SecurityProtocol};
/// The ACL model and SCRAM mechanisms the admin calls take.
pub use strata_auth::{acl, scram::ScramMechanism};
