//! DeleteRecords: move partitions' log start offsets forward, routed to each leader.

use std::collections::BTreeMap;

use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::{DeleteRecordsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::admin::Admin;
use crate::error::{codes, ClientError, Result};
use crate::offsets::TopicPartition;

/// The offset DeleteRecords reads as "the high-water mark" (everything committed).
pub const DELETE_TO_HIGH_WATERMARK: i64 = -1;

/// The per-partition outcome of [`Admin::delete_records`]: the new low watermark (log
/// start offset) or why that partition failed.
pub type DeleteRecordsResult = BTreeMap<TopicPartition, Result<i64>>;

impl Admin {
    /// Deletes the records below `offset` in each partition (DeleteRecords); an offset of
    /// [`DELETE_TO_HIGH_WATERMARK`] deletes up to the high-water mark. Each partition's
    /// result is its new low watermark. Retriable failures (leadership moved) are retried
    /// until the request timeout.
    pub async fn delete_records(
        &self,
        offsets: &BTreeMap<TopicPartition, i64>,
    ) -> Result<DeleteRecordsResult> {
        let cluster = self.cluster();
        let deadline = tokio::time::Instant::now() + cluster.config.request_timeout;
        let mut out = DeleteRecordsResult::new();
        let mut todo: BTreeMap<TopicPartition, i64> = offsets.clone();
        loop {
            let mut by_leader: BTreeMap<i32, BTreeMap<TopicPartition, i64>> = BTreeMap::new();
            let mut retry: BTreeMap<TopicPartition, i64> = BTreeMap::new();
            let mut last: BTreeMap<TopicPartition, ClientError> = BTreeMap::new();
            for (tp, off) in &todo {
                let meta = cluster.topic(&tp.0).await?;
                match meta.partitions.iter().find(|p| p.partition == tp.1) {
                    None => {
                        out.insert(
                            tp.clone(),
                            Err(ClientError::from_code(
                                codes::UNKNOWN_TOPIC_OR_PARTITION,
                                None,
                                &format!("partition {} of topic '{}' does not exist", tp.1, tp.0),
                            )),
                        );
                    }
                    Some(p) if p.leader < 0 => {
                        retry.insert(tp.clone(), *off);
                        last.insert(
                            tp.clone(),
                            ClientError::from_code(
                                codes::LEADER_NOT_AVAILABLE,
                                None,
                                &format!("partition {}-{} has no leader", tp.0, tp.1),
                            ),
                        );
                    }
                    Some(p) => {
                        by_leader
                            .entry(p.leader)
                            .or_default()
                            .insert(tp.clone(), *off);
                    }
                }
            }
            for (leader, group) in by_leader {
                match self.delete_at_leader(leader, &group).await {
                    Ok(results) => {
                        for (tp, r) in results {
                            match r {
                                Err(e) if e.is_retriable() => {
                                    cluster.invalidate(&tp.0);
                                    if let Some(o) = group.get(&tp) {
                                        retry.insert(tp.clone(), *o);
                                    }
                                    last.insert(tp, e);
                                }
                                r => {
                                    out.insert(tp, r);
                                }
                            }
                        }
                    }
                    Err(e) if e.is_retriable() => {
                        for (tp, o) in group {
                            cluster.invalidate(&tp.0);
                            last.insert(tp.clone(), e.clone());
                            retry.insert(tp, o);
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            if retry.is_empty() {
                return Ok(out);
            }
            if tokio::time::Instant::now() >= deadline {
                for (tp, e) in last {
                    out.insert(tp, Err(e));
                }
                return Ok(out);
            }
            todo = retry;
            tokio::time::sleep(cluster.config.retry_backoff).await;
        }
    }

    async fn delete_at_leader(
        &self,
        leader: i32,
        group: &BTreeMap<TopicPartition, i64>,
    ) -> Result<DeleteRecordsResult> {
        let cluster = self.cluster();
        let conn = cluster.broker_connection(leader).await?;
        let version = conn.version_for::<DeleteRecordsRequest>(None)?;
        let mut topics: BTreeMap<&str, Vec<DeleteRecordsPartition>> = BTreeMap::new();
        for ((t, p), off) in group {
            topics.entry(t.as_str()).or_default().push(
                DeleteRecordsPartition::default()
                    .with_partition_index(*p)
                    .with_offset(*off),
            );
        }
        let timeout = cluster.config.request_timeout;
        let req = DeleteRecordsRequest::default()
            .with_topics(
                topics
                    .into_iter()
                    .map(|(t, ps)| {
                        DeleteRecordsTopic::default()
                            .with_name(TopicName(StrBytes::from_string(t.to_string())))
                            .with_partitions(ps)
                    })
                    .collect(),
            )
            .with_timeout_ms(i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX));
        let resp = conn.request(&req, version, timeout).await?;
        let mut out = DeleteRecordsResult::new();
        for t in resp.topics {
            let name = t.name.0.as_str().to_string();
            for p in t.partitions {
                let tp = (name.clone(), p.partition_index);
                let r = if p.error_code == 0 {
                    Ok(p.low_watermark)
                } else {
                    Err(ClientError::from_code(
                        p.error_code,
                        None,
                        &format!("deleting records of {}-{}", tp.0, tp.1),
                    ))
                };
                out.insert(tp, r);
            }
        }
        for tp in group.keys() {
            out.entry(tp.clone()).or_insert_with(|| {
                Err(ClientError::Protocol(format!(
                    "no DeleteRecords result for {}-{}",
                    tp.0, tp.1
                )))
            });
        }
        Ok(out)
    }
}
