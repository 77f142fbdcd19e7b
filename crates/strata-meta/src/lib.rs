//! strata-meta: cluster metadata for Strata.
//!
//! - [`records`]: the records of the metadata log (plain serde types).
//! - [`image`]: the in-memory image the records are applied to, shared as `Arc` snapshots.
//! - [`topic_config`]: the topic configs we support, their validation and effective values.
//! - [`controller`]: sans-I/O decisions (create/delete topics, partitions, configs) that
//!   produce records.
//! - [`snapshot`]: the records that rebuild an image (the Raft snapshot format).
//!
//! The metadata log itself is replicated by `strata-raft`.

pub mod controller;
pub mod image;
pub mod records;
pub mod snapshot;
pub mod topic_config;

pub use controller::{BrokerDefaults, TopicError};
pub use image::{
    ApplyError, BatchApplyError, BrokerImage, MetadataImage, PartitionImage, TopicImage,
};
pub use records::MetadataRecord;
pub use topic_config::{ConfigError, TopicConfig};
