//! strata-client: an async Rust client for Strata and other Kafka-protocol brokers.
//!
//! - [`Producer`]: batching per partition with linger and size limits, any codec, Java-compatible
//!   partitioning (murmur2 for keys, sticky for unkeyed records), retries, in-order delivery.
//! - [`Consumer`]: manual assignment, seeking, Fetch long-polls, decompression.
//! - [`Admin`]: create/describe/delete/list topics, list offsets.
//!
//! Built on the `kafka-protocol` crate for message encoding; connection handling (framing,
//! pipelining, version negotiation) and the metadata cache live here.

mod accumulator;
mod admin;
mod batch;
mod cluster;
mod connection;
mod consumer;
pub mod error;
mod offsets;
pub mod partitioner;
mod producer;

pub use admin::{Admin, ConfigEntry, PartitionDescription, TopicDescription, TopicListing};
pub use batch::Header;
pub use cluster::{parse_bootstrap, ClientConfig, PartitionMetadata, TopicMetadata};
pub use consumer::{Consumer, ConsumerConfig, ConsumerRecord, OffsetReset};
pub use error::{ClientError, Result};
pub use kafka_protocol::records::Compression;
pub use offsets::{OffsetSpec, TopicPartition};
pub use producer::{
    parse_compression, Acks, DeliveryFuture, Producer, ProducerBuilder, ProducerConfig,
    ProducerRecord, RecordMetadata,
};
