//! OffsetForLeaderEpoch: where a leader epoch ends in this leader's log, so a follower
//! (or a consumer after a leader change) can truncate to the right boundary.

use std::sync::Arc;

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
use kafka_protocol::ResponseError;

use super::fetch::check_leader_epoch;
use crate::Broker;

/// Serves OffsetForLeaderEpoch v2–v4 (v3 adds the replica id, v4 is flexible).
pub async fn handle(
    broker: &Arc<Broker>,
    req: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let mut asks = Vec::new();
    for t in &req.topics {
        for p in &t.partitions {
            let replica = broker
                .led_replica(t.topic.0.as_str(), p.partition)
                .and_then(|r| check_leader_epoch(&r, p.current_leader_epoch).map(|()| r));
            asks.push((t.topic.clone(), p.partition, p.leader_epoch, replica));
        }
    }
    // The epoch cache is behind the log's lock: read it off the runtime.
    let answers = tokio::task::spawn_blocking(move || {
        asks.into_iter()
            .map(|(topic, partition, epoch, replica)| {
                let base = EpochEndOffset::default()
                    .with_partition(partition)
                    .with_leader_epoch(-1)
                    .with_end_offset(-1);
                let answer = match replica {
                    Err(code) => base.with_error_code(code.code()),
                    Ok(r) => match r.end_offset_for_epoch_blocking(epoch) {
                        Some((e, end)) => base.with_leader_epoch(e).with_end_offset(end),
                        None => base,
                    },
                };
                (topic, answer)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let mut topics: Vec<OffsetForLeaderTopicResult> = Vec::new();
    for (topic, answer) in answers {
        match topics.iter_mut().find(|t| t.topic == topic) {
            Some(t) => t.partitions.push(answer),
            None => topics.push(
                OffsetForLeaderTopicResult::default()
                    .with_topic(topic)
                    .with_partitions(vec![answer]),
            ),
        }
    }
    if topics.is_empty() && !req.topics.is_empty() {
        tracing::error!("OffsetForLeaderEpoch read task failed");
        for t in req.topics {
            topics.push(failed_topic(t, ResponseError::KafkaStorageError.code()));
        }
    }
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}

/// Every partition of `t` answered with `code` (no epoch, no offset).
pub(super) fn failed_topic(
    t: kafka_protocol::messages::offset_for_leader_epoch_request::OffsetForLeaderTopic,
    code: i16,
) -> OffsetForLeaderTopicResult {
    OffsetForLeaderTopicResult::default()
        .with_topic(t.topic)
        .with_partitions(
            t.partitions
                .iter()
                .map(|p| {
                    EpochEndOffset::default()
                        .with_partition(p.partition)
                        .with_error_code(code)
                        .with_leader_epoch(-1)
                        .with_end_offset(-1)
                })
                .collect(),
        )
}
