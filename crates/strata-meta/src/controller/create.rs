//! CreateTopics and CreatePartitions decisions.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::names::{collision_key, validate_topic_name};
use super::placement::place_for_image;
use super::{
    check_replicas, duplicated, fresh_topic_id, normalize_brokers, partition_records,
    BrokerDefaults, TopicError, MAX_NEW_PARTITIONS_PER_TOPIC,
};
use crate::image::MetadataImage;
use crate::records::MetadataRecord;
use crate::topic_config::TopicConfig;

/// A manual replica assignment for one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaAssignment {
    /// The partition index.
    pub partition: i32,
    /// The replica broker ids, preferred leader first.
    pub broker_ids: Vec<i32>,
}

/// One topic of a CreateTopics request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateTopicRequest {
    /// Topic name.
    pub name: String,
    /// Number of partitions, or -1 for `num.partitions`.
    pub num_partitions: i32,
    /// Replication factor, or -1 for `default.replication.factor`.
    pub replication_factor: i16,
    /// Manual assignments; when given, the two counts above must both be -1.
    pub assignments: Vec<ReplicaAssignment>,
    /// Config overrides; a `None` value is refused (INVALID_CONFIG).
    pub configs: BTreeMap<String, Option<String>>,
}

impl CreateTopicRequest {
    /// A request with default counts, no assignments and no configs.
    pub fn new(name: impl Into<String>) -> Self {
        CreateTopicRequest {
            name: name.into(),
            num_partitions: -1,
            replication_factor: -1,
            assignments: Vec::new(),
            configs: BTreeMap::new(),
        }
    }
}

/// Decides CreateTopics. Returns one result per request, in order: the records
/// that create the topic (a `CreateTopic` then one `CreatePartition` per
/// partition) or why not. Later topics of the request see the earlier ones (for
/// name clashes and leader rotation). Nothing is applied, so `validate_only`
/// callers simply drop the records.
///
/// `live_brokers` are the brokers replicas may be placed on; `new_id` supplies
/// topic ids (normally [`super::random_topic_id`]).
pub fn create_topics(
    image: &MetadataImage,
    requests: &[CreateTopicRequest],
    defaults: &BrokerDefaults,
    live_brokers: &[i32],
    new_id: &mut dyn FnMut() -> Uuid,
) -> Vec<Result<Vec<MetadataRecord>, TopicError>> {
    let live = normalize_brokers(live_brokers);
    let duplicates = duplicated(requests.iter().map(|r| r.name.as_str()));
    // Each accepted topic is applied here so the next one sees it.
    let mut scratch = image.clone();
    requests
        .iter()
        .map(|request| {
            if duplicates.contains(request.name.as_str()) {
                return Err(TopicError::InvalidRequest(format!(
                    "topic '{}' is listed more than once",
                    request.name
                )));
            }
            let records = create_one(&scratch, request, defaults, &live, new_id)?;
            scratch = scratch.applied(&records).map_err(|e| {
                TopicError::Internal(format!("generated records do not apply: {e}"))
            })?;
            Ok(records)
        })
        .collect()
}

fn create_one(
    image: &MetadataImage,
    request: &CreateTopicRequest,
    defaults: &BrokerDefaults,
    live: &[i32],
    new_id: &mut dyn FnMut() -> Uuid,
) -> Result<Vec<MetadataRecord>, TopicError> {
    let name = request.name.as_str();
    validate_topic_name(name)?;
    if image.topic(name).is_some() {
        return Err(TopicError::TopicAlreadyExists(format!(
            "topic '{name}' already exists"
        )));
    }
    let key = collision_key(name);
    if let Some(other) = image.topics().find(|t| collision_key(&t.name) == key) {
        return Err(TopicError::InvalidTopic(format!(
            "topic '{name}' collides with existing topic '{}' ('.' and '_' are treated alike)",
            other.name
        )));
    }
    let configs = validated_configs(&request.configs)?;
    let assignments = if request.assignments.is_empty() {
        automatic_assignments(image, request, defaults, live)?
    } else {
        manual_assignments(request, live)?
    };
    let topic_id = fresh_topic_id(image, new_id)?;
    let mut records = Vec::with_capacity(assignments.len() + 1);
    records.push(MetadataRecord::CreateTopic {
        name: name.to_string(),
        topic_id,
        configs,
    });
    records.extend(partition_records(topic_id, 0, assignments));
    Ok(records)
}

/// Refuses nulls, unknown keys and bad values; stores values trimmed.
fn validated_configs(
    configs: &BTreeMap<String, Option<String>>,
) -> Result<BTreeMap<String, String>, TopicError> {
    let mut out = BTreeMap::new();
    for (key, value) in configs {
        let value = value.as_ref().ok_or_else(|| {
            TopicError::InvalidConfig(format!("topic config '{key}' has a null value"))
        })?;
        out.insert(key.clone(), value.trim().to_string());
    }
    TopicConfig::from_overrides(&out).map_err(|e| TopicError::InvalidConfig(e.to_string()))?;
    Ok(out)
}

fn automatic_assignments(
    image: &MetadataImage,
    request: &CreateTopicRequest,
    defaults: &BrokerDefaults,
    live: &[i32],
) -> Result<Vec<Vec<i32>>, TopicError> {
    let partitions = match request.num_partitions {
        -1 => defaults.num_partitions,
        n => n,
    };
    if partitions <= 0 {
        return Err(TopicError::InvalidPartitions(format!(
            "number of partitions must be at least 1, got {partitions}"
        )));
    }
    if partitions > MAX_NEW_PARTITIONS_PER_TOPIC {
        return Err(TopicError::PolicyViolation(format!(
            "{partitions} partitions requested; at most {MAX_NEW_PARTITIONS_PER_TOPIC} \
             can be created at once"
        )));
    }
    let replication = match request.replication_factor {
        -1 => defaults.default_replication_factor,
        r => r,
    };
    let replication = replication_factor(replication, live)?;
    let start = image.partition_count();
    Ok(place_for_image(
        image,
        live,
        partitions as usize,
        replication,
        start,
    ))
}

/// Checks a replication factor against the live brokers.
fn replication_factor(replication: i16, live: &[i32]) -> Result<usize, TopicError> {
    if replication <= 0 {
        return Err(TopicError::InvalidReplicationFactor(format!(
            "replication factor must be at least 1, got {replication}"
        )));
    }
    let replication = replication as usize;
    if replication > live.len() {
        return Err(TopicError::InvalidReplicationFactor(format!(
            "replication factor {replication} is larger than the {} live broker(s)",
            live.len()
        )));
    }
    Ok(replication)
}

fn manual_assignments(
    request: &CreateTopicRequest,
    live: &[i32],
) -> Result<Vec<Vec<i32>>, TopicError> {
    if request.num_partitions != -1 || request.replication_factor != -1 {
        return Err(TopicError::InvalidRequest(
            "with a manual replica assignment, num_partitions and replication_factor \
             must both be -1"
                .into(),
        ));
    }
    let count = request.assignments.len();
    if count > MAX_NEW_PARTITIONS_PER_TOPIC as usize {
        return Err(TopicError::PolicyViolation(format!(
            "{count} partitions requested; at most {MAX_NEW_PARTITIONS_PER_TOPIC} \
             can be created at once"
        )));
    }
    let mut by_partition = BTreeMap::new();
    for a in &request.assignments {
        if by_partition.insert(a.partition, &a.broker_ids).is_some() {
            return Err(TopicError::InvalidReplicaAssignment(format!(
                "partition {} is assigned twice",
                a.partition
            )));
        }
    }
    // The assigned partitions must be exactly 0..count.
    if let Some((index, (&partition, _))) = by_partition
        .iter()
        .enumerate()
        .find(|(i, (&p, _))| i64::from(p) != *i as i64)
    {
        return Err(TopicError::InvalidReplicaAssignment(format!(
            "partitions must be numbered 0..{count} without gaps; found {partition} \
             where {index} was expected"
        )));
    }
    let rf = request.assignments[0].broker_ids.len();
    let mut out = Vec::with_capacity(count);
    for (&partition, replicas) in &by_partition {
        check_replicas(partition, replicas, live)?;
        if replicas.len() != rf {
            return Err(TopicError::InvalidReplicaAssignment(format!(
                "partition {partition} has {} replicas but other partitions have {rf}",
                replicas.len()
            )));
        }
        out.push(replicas.to_vec());
    }
    Ok(out)
}

/// Decides CreatePartitions for one topic: grow it to `new_total` partitions.
/// `assignments` (one replica list per new partition) is optional; without it
/// replicas are placed like at creation, with the replication factor of the
/// topic's existing partitions.
pub fn create_partitions(
    image: &MetadataImage,
    topic: &str,
    new_total: i32,
    assignments: Option<&[Vec<i32>]>,
    live_brokers: &[i32],
) -> Result<Vec<MetadataRecord>, TopicError> {
    let live = normalize_brokers(live_brokers);
    let t = image.topic(topic).ok_or_else(|| {
        TopicError::UnknownTopicOrPartition(format!("topic '{topic}' does not exist"))
    })?;
    super::internal::refuse(topic, super::internal::Change::AddPartitions)?;
    let current = i32::try_from(t.partitions.len()).unwrap_or(i32::MAX);
    if new_total <= current {
        return Err(TopicError::InvalidPartitions(if new_total == current {
            format!("topic '{topic}' already has {current} partitions")
        } else {
            format!(
                "topic '{topic}' has {current} partitions; the count can only grow, \
                 not shrink to {new_total}"
            )
        }));
    }
    let added = new_total - current;
    if added > MAX_NEW_PARTITIONS_PER_TOPIC {
        return Err(TopicError::PolicyViolation(format!(
            "{added} new partitions requested; at most {MAX_NEW_PARTITIONS_PER_TOPIC} \
             can be created at once"
        )));
    }
    let rf = t.partitions.first().map_or(1, |p| p.replicas.len());
    let new = match assignments {
        Some(lists) => {
            if lists.len() != added as usize {
                return Err(TopicError::InvalidReplicaAssignment(format!(
                    "{} assignments given for {added} new partitions",
                    lists.len()
                )));
            }
            for (partition, replicas) in (current..).zip(lists) {
                check_replicas(partition, replicas, &live)?;
                if replicas.len() != rf {
                    return Err(TopicError::InvalidReplicaAssignment(format!(
                        "partition {partition} has {} replicas but the topic's \
                         partitions have {rf}",
                        replicas.len()
                    )));
                }
            }
            lists.to_vec()
        }
        None => {
            let rf = replication_factor(i16::try_from(rf).unwrap_or(i16::MAX), &live)?;
            place_for_image(image, &live, added as usize, rf, image.partition_count())
        }
    };
    Ok(partition_records(t.topic_id, current, new).collect())
}
