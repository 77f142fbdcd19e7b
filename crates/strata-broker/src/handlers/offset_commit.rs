//! OffsetCommit: validate the committer against its group, store durably.

use std::sync::Arc;

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
use kafka_protocol::ResponseError;
use strata_group::OffsetCommitValue;
use strata_meta::TopicImage;

use super::Turn;
use crate::broker::now_ms;
use crate::group::offsets::{Committer, MAX_METADATA_BYTES};
use crate::Broker;

/// The value to store for one partition's commit (OffsetCommit and TxnOffsetCommit), or
/// the error code refusing it: the partition must exist and its metadata fit.
pub(super) fn commit_value(
    topic: Option<&TopicImage>,
    partition: i32,
    offset: i64,
    leader_epoch: i32,
    metadata: Option<&str>,
    now: i64,
) -> Result<OffsetCommitValue, i16> {
    if topic.and_then(|t| t.partition(partition)).is_none() {
        return Err(ResponseError::UnknownTopicOrPartition.code());
    }
    if metadata.is_some_and(|m| m.len() > MAX_METADATA_BYTES) {
        return Err(ResponseError::OffsetMetadataTooLarge.code());
    }
    Ok(OffsetCommitValue {
        offset,
        leader_epoch,
        metadata: metadata.unwrap_or_default().to_string(),
        commit_timestamp: now,
        expire_timestamp: None,
    })
}

/// Serves OffsetCommit v2–v8.
pub async fn handle(
    broker: &Arc<Broker>,
    req: OffsetCommitRequest,
    turn: Turn,
) -> OffsetCommitResponse {
    let group_id = req.group_id.0.to_string();
    let now = now_ms();
    let image = broker.meta.image();
    // (topic index, partition, Some(value) to commit | Err(code) decided up front)
    let mut slots: Vec<(usize, i32, Result<OffsetCommitValue, i16>)> = Vec::new();
    let group_error = match strata_group::validate_group_id(&group_id) {
        Err(e) => Some(e.code()),
        Ok(()) => broker
            .ensure_offsets_topic()
            .await
            .err()
            .map(|_| ResponseError::CoordinatorNotAvailable.code()),
    };
    for (t, topic) in req.topics.iter().enumerate() {
        let known = image.topic(topic.name.0.as_str());
        for p in &topic.partitions {
            let decided = match group_error {
                Some(code) => Err(code),
                None => commit_value(
                    known.map(|k| &**k),
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.committed_metadata.as_deref(),
                    now,
                ),
            };
            slots.push((t, p.partition_index, decided));
        }
    }
    let to_commit: Vec<(String, i32, OffsetCommitValue)> = slots
        .iter()
        .filter_map(|(t, p, d)| {
            d.as_ref()
                .ok()
                .map(|v| (req.topics[*t].name.0.to_string(), *p, v.clone()))
        })
        .collect();
    let mut outcomes = if to_commit.is_empty() {
        Vec::new()
    } else {
        let who = Committer {
            member_id: req.member_id.as_str(),
            instance_id: req.group_instance_id.as_ref().map(|s| s.as_str()),
            generation: req.generation_id_or_member_epoch,
        };
        broker
            .groups
            .commit(broker, &group_id, who, to_commit, turn)
            .await
    }
    .into_iter();
    let mut topics: Vec<OffsetCommitResponseTopic> = req
        .topics
        .iter()
        .map(|t| OffsetCommitResponseTopic::default().with_name(t.name.clone()))
        .collect();
    for (t, p, decided) in slots {
        let code = match decided {
            Err(code) => code,
            Ok(_) => match outcomes.next() {
                Some(Ok(())) => 0,
                Some(Err(e)) => e.code(),
                None => ResponseError::UnknownServerError.code(),
            },
        };
        topics[t].partitions.push(
            OffsetCommitResponsePartition::default()
                .with_partition_index(p)
                .with_error_code(code),
        );
    }
    OffsetCommitResponse::default().with_topics(topics)
}
