//! Partition replicas hosted by this broker, kept in step with the metadata image.

mod coalesce;
mod log_config;
mod manager;
mod partition;
mod prepare;
mod role;

pub use log_config::{log_config_for, TopicSettings};
pub use manager::ReplicaManager;
pub use partition::{Partition, QueuedAppend, ReadResult, SyncWait};
pub use role::{IsrRequest, Replicated, Role};

#[cfg(test)]
mod wait_tests;
