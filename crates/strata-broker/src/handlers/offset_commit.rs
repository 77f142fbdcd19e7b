//! OffsetCommit: validate the committer against its group, store durably.

use std::sync::Arc;

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
use kafka_protocol::ResponseError;
use strata_group::OffsetCommitValue;

use super::Turn;
use crate::broker::now_ms;
use crate::group::offsets::{Committer, MAX_METADATA_BYTES};
use crate::Broker;

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
            let decided = if let Some(code) = group_error {
                Err(code)
            } else if known.and_then(|k| k.partition(p.partition_index)).is_none() {
                Err(ResponseError::UnknownTopicOrPartition.code())
            } else if p
                .committed_metadata
                .as_ref()
                .is_some_and(|m| m.len() > MAX_METADATA_BYTES)
            {
                Err(ResponseError::OffsetMetadataTooLarge.code())
            } else {
                Ok(OffsetCommitValue {
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p
                        .committed_metadata
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_default(),
                    commit_timestamp: now,
                    expire_timestamp: None,
                })
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
