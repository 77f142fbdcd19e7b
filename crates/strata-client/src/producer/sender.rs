//! The per-partition send loop and the Produce request itself.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::Notify;

use super::{Inner, RecordMetadata, TopicPartition};
use crate::accumulator::{Batch, Readiness};
use crate::batch::{encode_batch, PendingRecord};
use crate::error::{ClientError, Result};

/// Produce v13 addresses topics by id instead of name.
const FIRST_PRODUCE_VERSION_WITH_TOPIC_IDS: i16 = 13;

/// Sends the partition's batches, oldest first, one at a time, until the queue is empty.
pub(super) async fn run_worker(inner: Arc<Inner>, tp: TopicPartition, notify: Arc<Notify>) {
    let linger = inner.config.linger;
    loop {
        let next = {
            let mut st = inner.state.lock();
            let Some(ps) = st.partitions.get_mut(&tp) else {
                return;
            };
            let now = Instant::now();
            match ps.queue.readiness(now, linger) {
                Readiness::Empty => {
                    ps.worker_running = false;
                    return;
                }
                Readiness::Ready => match ps.queue.pop_ready(now, linger) {
                    Some(b) => Ok(b),
                    None => continue,
                },
                Readiness::WaitUntil(t) => Err(t),
            }
        };
        match next {
            Err(deadline) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {}
                    _ = notify.notified() => {}
                }
            }
            Ok(batch) => {
                let result = send_with_retries(&inner, &tp, &batch.records).await;
                complete(&tp, batch, result);
                if let Some(ps) = inner.state.lock().partitions.get_mut(&tp) {
                    ps.batches_done += 1;
                }
                inner.progress.notify_waiters();
            }
        }
    }
}

fn complete(tp: &TopicPartition, batch: Batch<super::Waiter>, result: Result<(i64, i64)>) {
    match result {
        Ok((base_offset, log_append_time)) => {
            for (i, w) in batch.waiters.into_iter().enumerate() {
                let offset = if base_offset < 0 {
                    -1
                } else {
                    base_offset + i as i64
                };
                let timestamp = if log_append_time >= 0 {
                    log_append_time
                } else {
                    w.timestamp
                };
                let _ = w.tx.send(Ok(RecordMetadata {
                    topic: tp.0.clone(),
                    partition: tp.1,
                    offset,
                    timestamp,
                }));
            }
        }
        Err(e) => {
            for w in batch.waiters {
                let _ = w.tx.send(Err(e.clone()));
            }
        }
    }
}

async fn send_with_retries(
    inner: &Inner,
    tp: &TopicPartition,
    records: &[PendingRecord],
) -> Result<(i64, i64)> {
    // Encode once; retries resend the same bytes.
    let data = encode_batch(records, inner.config.compression)?;
    let mut attempt = 0;
    loop {
        match produce_once(inner, tp, data.clone()).await {
            Ok(r) => return Ok(r),
            Err(e) if e.is_retriable() && attempt < inner.config.retries => {
                attempt += 1;
                tracing::debug!(topic = %tp.0, partition = tp.1, attempt, error = %e, "retrying produce");
                if e.invalidates_metadata() {
                    inner.cluster.invalidate(&tp.0);
                }
                tokio::time::sleep(inner.cluster.config.retry_backoff).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// One Produce attempt; returns (base offset, log-append time).
async fn produce_once(inner: &Inner, tp: &TopicPartition, data: Bytes) -> Result<(i64, i64)> {
    let (topic, partition) = (&tp.0, tp.1);
    let (meta, conn) = inner.cluster.leader_connection(topic, partition).await?;
    let cap = meta
        .id
        .is_nil()
        .then_some(FIRST_PRODUCE_VERSION_WITH_TOPIC_IDS - 1);
    let version = conn.version_for::<ProduceRequest>(cap)?;
    let mut topic_data =
        TopicProduceData::default().with_partition_data(vec![PartitionProduceData::default()
            .with_index(partition)
            .with_records(Some(data))]);
    if version >= FIRST_PRODUCE_VERSION_WITH_TOPIC_IDS {
        topic_data.topic_id = meta.id;
    } else {
        topic_data.name = TopicName(StrBytes::from_string(topic.clone()));
    }
    let timeout = inner.cluster.config.request_timeout;
    let req = ProduceRequest::default()
        .with_acks(inner.config.acks.wire())
        .with_timeout_ms(i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX))
        .with_topic_data(vec![topic_data]);
    if inner.config.acks.wire() == 0 {
        conn.send_oneway(&req, version).await?;
        return Ok((-1, -1));
    }
    // The broker may legitimately take the full produce timeout; allow a little slack on top.
    let resp = conn
        .request(&req, version, timeout + std::time::Duration::from_secs(5))
        .await?;
    let p = resp
        .responses
        .iter()
        .flat_map(|t| t.partition_responses.iter())
        .find(|p| p.index == partition)
        .ok_or_else(|| {
            ClientError::Protocol(format!(
                "produce response lacks partition {topic}-{partition}"
            ))
        })?;
    if p.error_code != 0 {
        return Err(ClientError::from_code(
            p.error_code,
            p.error_message.as_ref().map(|m| m.as_str()),
            &format!("producing to {topic}-{partition} failed"),
        ));
    }
    Ok((p.base_offset, p.log_append_time_ms))
}
