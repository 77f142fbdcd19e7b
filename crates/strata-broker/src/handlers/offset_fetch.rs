//! OffsetFetch: committed offsets of one group (v1–v7) or several (v8+). With
//! `require_stable` (v7+, KIP-447: read_committed consumers) a partition with pending
//! transactional offsets answers UNSTABLE_OFFSET_COMMIT, which the client retries.

use std::sync::Arc;

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use crate::Broker;

/// One partition's answer: (offset, leader epoch, metadata, error code).
type Found = (i64, i32, Option<StrBytes>, i16);
/// Partitions with their answers, per topic.
type TopicOffsets = Vec<(TopicName, Vec<(i32, Found)>)>;

/// Serves OffsetFetch v1–v8.
pub fn handle(broker: &Arc<Broker>, version: i16, req: OffsetFetchRequest) -> OffsetFetchResponse {
    if version >= 8 {
        let groups = req
            .groups
            .iter()
            .map(|g| {
                let wanted = g.topics.as_ref().map(|ts| {
                    ts.iter()
                        .map(|t| (t.name.clone(), t.partition_indexes.clone()))
                        .collect()
                });
                match lookup(broker, g.group_id.0.as_str(), wanted, req.require_stable) {
                    Ok(topics) => OffsetFetchResponseGroup::default()
                        .with_group_id(g.group_id.clone())
                        .with_topics(
                            topics
                                .into_iter()
                                .map(|(name, parts)| {
                                    OffsetFetchResponseTopics::default()
                                        .with_name(name)
                                        .with_partitions(
                                            parts
                                                .into_iter()
                                                .map(|(p, (off, epoch, meta, code))| {
                                                    OffsetFetchResponsePartitions::default()
                                                        .with_partition_index(p)
                                                        .with_committed_offset(off)
                                                        .with_committed_leader_epoch(epoch)
                                                        .with_metadata(meta)
                                                        .with_error_code(code)
                                                })
                                                .collect(),
                                        )
                                })
                                .collect(),
                        ),
                    Err(code) => OffsetFetchResponseGroup::default()
                        .with_group_id(g.group_id.clone())
                        .with_error_code(code),
                }
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let wanted = req.topics.as_ref().map(|ts| {
        ts.iter()
            .map(|t| (t.name.clone(), t.partition_indexes.clone()))
            .collect()
    });
    // `require_stable` exists from v7 on (the decoder leaves it false before).
    let stable = version >= 7 && req.require_stable;
    match lookup(broker, req.group_id.0.as_str(), wanted.clone(), stable) {
        Ok(topics) => OffsetFetchResponse::default().with_topics(response_topics(
            topics.into_iter().map(|(name, parts)| {
                let parts = parts.into_iter().map(|(p, (off, epoch, meta, code))| {
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(p)
                        .with_committed_offset(off)
                        .with_committed_leader_epoch(if version >= 5 { epoch } else { -1 })
                        .with_metadata(meta)
                        .with_error_code(code)
                });
                (name, parts.collect())
            }),
        )),
        Err(code) if version >= 2 => OffsetFetchResponse::default().with_error_code(code),
        // v1 has no top-level error code: each partition asked for carries it.
        Err(code) => OffsetFetchResponse::default().with_topics(response_topics(
            wanted.unwrap_or_default().into_iter().map(|(name, parts)| {
                let parts = parts.into_iter().map(|p| {
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(p)
                        .with_committed_offset(-1)
                        .with_error_code(code)
                });
                (name, parts.collect())
            }),
        )),
    }
}

fn response_topics(
    topics: impl Iterator<Item = (TopicName, Vec<OffsetFetchResponsePartition>)>,
) -> Vec<OffsetFetchResponseTopic> {
    topics
        .map(|(name, parts)| {
            OffsetFetchResponseTopic::default()
                .with_name(name)
                .with_partitions(parts)
        })
        .collect()
}

/// The committed offsets asked for (`None` = every committed partition); partitions
/// without a commit answer offset -1, as Kafka does. With `require_stable`, a partition
/// with pending transactional offsets answers offset -1 and UNSTABLE_OFFSET_COMMIT.
fn lookup(
    broker: &Arc<Broker>,
    group_id: &str,
    wanted: Option<Vec<(TopicName, Vec<i32>)>>,
    require_stable: bool,
) -> Result<TopicOffsets, i16> {
    let (committed, pending) = broker
        .groups
        .fetch_with_pending(broker, group_id)
        .map_err(|e| e.code())?;
    let found = |t: &str, p: i32| -> Found {
        let key = (t.to_string(), p);
        if require_stable && pending.contains(&key) {
            return (
                -1,
                -1,
                Some(StrBytes::default()),
                ResponseError::UnstableOffsetCommit.code(),
            );
        }
        match committed.get(&key) {
            Some(v) => (
                v.offset,
                v.leader_epoch,
                Some(StrBytes::from_string(v.metadata.clone())),
                0,
            ),
            None => (-1, -1, Some(StrBytes::default()), 0),
        }
    };
    Ok(match wanted {
        Some(list) => list
            .into_iter()
            .map(|(name, parts)| {
                let t = name.0.to_string();
                let parts = parts.into_iter().map(|p| (p, found(&t, p))).collect();
                (name, parts)
            })
            .collect(),
        None => {
            let mut by_topic: std::collections::BTreeMap<String, Vec<(i32, Found)>> =
                Default::default();
            for ((t, p), _) in committed.iter() {
                by_topic
                    .entry(t.clone())
                    .or_default()
                    .push((*p, found(t, *p)));
            }
            by_topic
                .into_iter()
                .map(|(t, mut parts)| {
                    parts.sort_by_key(|(p, _)| *p);
                    (TopicName(StrBytes::from_string(t)), parts)
                })
                .collect()
        }
    })
}
