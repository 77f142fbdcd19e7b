//! Controller decisions, sans-I/O: given the current image and a request, produce
//! the metadata records that carry it out (or the Kafka error that refuses it).
//!
//! Nothing here applies or writes the records. That is the caller's job, and it is
//! also how `validate_only` requests are served: decide, then drop the records.
//! Deciding is kept apart from applying so that the same decisions can later be
//! made by the Raft leader and replicated, while every node only applies.

mod configs;
mod create;
pub mod election;
mod internal;
mod names;
mod placement;
pub mod reassign;

use std::collections::BTreeSet;

use strata_proto::error_code;
use thiserror::Error;
use uuid::Uuid;

use crate::image::MetadataImage;
use crate::records::MetadataRecord;

pub use configs::{alter_topic_config, replace_topic_configs, AlterConfigOp, ConfigOpKind};
pub use create::{create_partitions, create_topics, CreateTopicRequest, ReplicaAssignment};
pub use internal::{is_internal, INTERNAL_TOPICS, OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC};
pub use names::validate_topic_name;
pub use placement::place_replicas;

/// Most partitions one request may create for one topic; keeps a single batch
/// (and the memory to build it: a few MB) bounded, while one topic of 100,000
/// partitions, which a broker holds (`bench/scale.sh`), can be made in one request.
pub const MAX_NEW_PARTITIONS_PER_TOPIC: i32 = 100_000;

/// Why a topic operation was refused. Each kind maps to a Kafka error code; the
/// message is meant for the response's error message field.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TopicError {
    /// UNKNOWN_TOPIC_OR_PARTITION (3).
    #[error("{0}")]
    UnknownTopicOrPartition(String),
    /// INVALID_TOPIC_EXCEPTION (17).
    #[error("{0}")]
    InvalidTopic(String),
    /// TOPIC_ALREADY_EXISTS (36).
    #[error("{0}")]
    TopicAlreadyExists(String),
    /// INVALID_PARTITIONS (37).
    #[error("{0}")]
    InvalidPartitions(String),
    /// INVALID_REPLICATION_FACTOR (38).
    #[error("{0}")]
    InvalidReplicationFactor(String),
    /// INVALID_REPLICA_ASSIGNMENT (39).
    #[error("{0}")]
    InvalidReplicaAssignment(String),
    /// INVALID_CONFIG (40).
    #[error("{0}")]
    InvalidConfig(String),
    /// INVALID_REQUEST (42).
    #[error("{0}")]
    InvalidRequest(String),
    /// POLICY_VIOLATION (44).
    #[error("{0}")]
    PolicyViolation(String),
    /// UNKNOWN_TOPIC_ID (100).
    #[error("{0}")]
    UnknownTopicId(String),
    /// REQUEST_TIMED_OUT (7): the controller did not answer in time; the change may
    /// still be applied (a client should look before it retries).
    #[error("{0}")]
    RequestTimedOut(String),
    /// UNKNOWN_SERVER_ERROR (-1): the controller itself failed (a bug).
    #[error("{0}")]
    Internal(String),
    /// TOPIC_AUTHORIZATION_FAILED (29): the principal may not do this to the topic.
    #[error("{0}")]
    TopicAuthorizationFailed(String),
    /// CLUSTER_AUTHORIZATION_FAILED (31): the principal may not do this to the cluster.
    #[error("{0}")]
    ClusterAuthorizationFailed(String),
}

impl TopicError {
    /// Kafka's numeric error code for this error.
    pub fn kafka_code(&self) -> i16 {
        match self {
            TopicError::UnknownTopicOrPartition(_) => error_code::UNKNOWN_TOPIC_OR_PARTITION,
            TopicError::InvalidTopic(_) => error_code::INVALID_TOPIC_EXCEPTION,
            TopicError::TopicAlreadyExists(_) => error_code::TOPIC_ALREADY_EXISTS,
            TopicError::InvalidPartitions(_) => error_code::INVALID_PARTITIONS,
            TopicError::InvalidReplicationFactor(_) => error_code::INVALID_REPLICATION_FACTOR,
            TopicError::InvalidReplicaAssignment(_) => error_code::INVALID_REPLICA_ASSIGNMENT,
            TopicError::InvalidConfig(_) => error_code::INVALID_CONFIG,
            TopicError::InvalidRequest(_) => error_code::INVALID_REQUEST,
            TopicError::PolicyViolation(_) => error_code::POLICY_VIOLATION,
            TopicError::UnknownTopicId(_) => error_code::UNKNOWN_TOPIC_ID,
            TopicError::RequestTimedOut(_) => error_code::REQUEST_TIMED_OUT,
            TopicError::Internal(_) => error_code::UNKNOWN_SERVER_ERROR,
            TopicError::TopicAuthorizationFailed(_) => error_code::TOPIC_AUTHORIZATION_FAILED,
            TopicError::ClusterAuthorizationFailed(_) => error_code::CLUSTER_AUTHORIZATION_FAILED,
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        match self {
            TopicError::UnknownTopicOrPartition(m)
            | TopicError::InvalidTopic(m)
            | TopicError::TopicAlreadyExists(m)
            | TopicError::InvalidPartitions(m)
            | TopicError::InvalidReplicationFactor(m)
            | TopicError::InvalidReplicaAssignment(m)
            | TopicError::InvalidConfig(m)
            | TopicError::InvalidRequest(m)
            | TopicError::PolicyViolation(m)
            | TopicError::UnknownTopicId(m)
            | TopicError::RequestTimedOut(m)
            | TopicError::Internal(m)
            | TopicError::TopicAuthorizationFailed(m)
            | TopicError::ClusterAuthorizationFailed(m) => m,
        }
    }
}

/// Broker-level defaults that topic creation falls back to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerDefaults {
    /// `num.partitions`: used when a request asks for -1 partitions.
    pub num_partitions: i32,
    /// `default.replication.factor`: used when a request asks for -1.
    pub default_replication_factor: i16,
}

impl Default for BrokerDefaults {
    fn default() -> Self {
        BrokerDefaults {
            num_partitions: 1,
            default_replication_factor: 1,
        }
    }
}

/// A fresh random (v4) topic id. Pass `&mut random_topic_id` where an id
/// supplier is asked for; tests pass a deterministic one.
pub fn random_topic_id() -> Uuid {
    Uuid::new_v4()
}

/// Draws ids until one is usable: not nil, not taken, and not one whose base64
/// form starts with '-' (such ids read as options on command lines, so Kafka
/// never hands them out either).
fn fresh_topic_id(
    image: &MetadataImage,
    new_id: &mut dyn FnMut() -> Uuid,
) -> Result<Uuid, TopicError> {
    for _ in 0..64 {
        let id = new_id();
        let dash_first = (id.as_bytes()[0] >> 2) == 62;
        if !id.is_nil() && !dash_first && image.topic_by_id(&id).is_none() {
            return Ok(id);
        }
    }
    Err(TopicError::Internal(
        "the topic id supplier keeps returning unusable ids".into(),
    ))
}

/// Decides DeleteTopics by name. One result per requested name, in order; a name
/// given twice fails with INVALID_REQUEST for every occurrence.
pub fn delete_topics(
    image: &MetadataImage,
    names: &[String],
) -> Vec<Result<Vec<MetadataRecord>, TopicError>> {
    let duplicates = duplicated(names.iter().map(String::as_str));
    names
        .iter()
        .map(|name| {
            if duplicates.contains(name.as_str()) {
                return Err(TopicError::InvalidRequest(format!(
                    "topic '{name}' is listed more than once"
                )));
            }
            let topic = image.topic(name).ok_or_else(|| {
                TopicError::UnknownTopicOrPartition(format!("topic '{name}' does not exist"))
            })?;
            internal::refuse(name, internal::Change::Delete)?;
            Ok(vec![MetadataRecord::DeleteTopic {
                topic_id: topic.topic_id,
            }])
        })
        .collect()
}

/// Decides the deletion of one topic by id (DeleteTopics v6+).
pub fn delete_topic_by_id(
    image: &MetadataImage,
    topic_id: Uuid,
) -> Result<Vec<MetadataRecord>, TopicError> {
    let Some(topic) = image.topic_by_id(&topic_id) else {
        return Err(TopicError::UnknownTopicId(format!(
            "no topic with id {topic_id}"
        )));
    };
    internal::refuse(&topic.name, internal::Change::Delete)?;
    Ok(vec![MetadataRecord::DeleteTopic { topic_id }])
}

/// The items that occur more than once.
fn duplicated<'a>(items: impl Iterator<Item = &'a str>) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut dup = BTreeSet::new();
    for item in items {
        if !seen.insert(item) {
            dup.insert(item);
        }
    }
    dup
}

/// Checks a manual assignment for one partition: non-empty, no broker twice,
/// every broker live.
fn check_replicas(partition: i32, replicas: &[i32], live: &[i32]) -> Result<(), TopicError> {
    let bad =
        |why: String| TopicError::InvalidReplicaAssignment(format!("partition {partition}: {why}"));
    if replicas.is_empty() {
        return Err(bad("the replica list is empty".into()));
    }
    let mut seen = BTreeSet::new();
    for &b in replicas {
        if !seen.insert(b) {
            return Err(bad(format!("broker {b} is listed twice")));
        }
        if !live.contains(&b) {
            return Err(bad(format!("broker {b} is not a live broker")));
        }
    }
    Ok(())
}

/// Sorted, de-duplicated, non-negative broker ids.
fn normalize_brokers(live_brokers: &[i32]) -> Vec<i32> {
    let set: BTreeSet<i32> = live_brokers.iter().copied().filter(|&b| b >= 0).collect();
    set.into_iter().collect()
}

/// The records for new partitions: leader = first replica, ISR = all replicas.
fn partition_records(
    topic_id: Uuid,
    first_partition: i32,
    assignments: Vec<Vec<i32>>,
) -> impl Iterator<Item = MetadataRecord> {
    (first_partition..)
        .zip(assignments)
        .map(
            move |(partition, replicas)| MetadataRecord::CreatePartition {
                topic_id,
                partition,
                // Assignments are checked non-empty before this point; -1 (no leader)
                // keeps the record valid even if that ever changes.
                leader: replicas.first().copied().unwrap_or(-1),
                isr: replicas.clone(),
                replicas,
                leader_epoch: 0,
            },
        )
}

#[cfg(test)]
mod config_tests;
#[cfg(test)]
mod tests;
