//! Fetch: read whole batches below the high-water mark, long-polling until `min_bytes`
//! are available or `max_wait_ms` passes.
//!
//! Fetch sessions (KIP-227) are declined as the protocol allows: a request to open one
//! gets `session_id = 0`, so clients keep sending full requests; an incremental request
//! naming a session gets `FETCH_SESSION_ID_NOT_FOUND`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::select_all;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::log_error_code;
use crate::replica::Partition;
use crate::Broker;

/// Upper bound on a long poll, whatever the client asks.
const MAX_WAIT_CAP: Duration = Duration::from_secs(30);

struct Wanted {
    topic: usize,
    partition: i32,
    offset: i64,
    max_bytes: usize,
    replica: Result<Arc<Partition>, ResponseError>,
}

struct TopicKey {
    name: TopicName,
    id: Uuid,
}

/// Serves Fetch v4–v16.
pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    req: FetchRequest,
    received: Instant,
) -> FetchResponse {
    if req.session_id != 0 {
        return FetchResponse::default()
            .with_error_code(ResponseError::FetchSessionIdNotFound.code())
            .with_session_id(0);
    }
    let image = broker.meta.image();
    let mut topics = Vec::with_capacity(req.topics.len());
    let mut wanted = Vec::new();
    for ft in req.topics {
        // v13+ names topics by id only.
        let name = if version >= 13 {
            image
                .topic_by_id(&ft.topic_id)
                .map(|t| TopicName(StrBytes::from_string(t.name.clone())))
        } else {
            Some(ft.topic.clone())
        };
        let t = topics.len();
        topics.push(TopicKey {
            name: name.clone().unwrap_or_default(),
            id: ft.topic_id,
        });
        for fp in ft.partitions {
            let replica = match &name {
                None => Err(ResponseError::UnknownTopicId),
                Some(n) => broker
                    .replicas
                    .get(n.0.as_str(), fp.partition)
                    .ok_or(ResponseError::UnknownTopicOrPartition),
            };
            wanted.push(Wanted {
                topic: t,
                partition: fp.partition,
                offset: fp.fetch_offset,
                max_bytes: fp.partition_max_bytes.max(0) as usize,
                replica,
            });
        }
    }
    let wanted = Arc::new(wanted);
    let max_bytes = if version >= 3 {
        req.max_bytes.max(0) as usize
    } else {
        usize::MAX
    };
    let min_bytes = req.min_bytes.max(0) as usize;
    let wait = Duration::from_millis(req.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
    let deadline = tokio::time::Instant::from_std(received + wait);
    let results = loop {
        // Register for wake-ups before reading so an append in between is not missed.
        let mut wakeups: Vec<_> = wanted
            .iter()
            .filter_map(|w| w.replica.as_ref().ok())
            .map(|p| Box::pin(p.appended()))
            .collect();
        for w in wakeups.iter_mut() {
            w.as_mut().enable();
        }
        let results = read_all(Arc::clone(&wanted), max_bytes).await;
        let bytes: usize = results.iter().map(|r| r.records.len()).sum();
        let any_error = results.iter().any(|r| r.error != 0);
        if bytes >= min_bytes.max(1)
            || any_error
            || tokio::time::Instant::now() >= deadline
            || wakeups.is_empty()
        {
            break results;
        }
        tokio::select! {
            _ = select_all(wakeups) => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    };
    let served: usize = results.iter().map(|r| r.records.len()).sum();
    broker.metrics.fetch_bytes.inc_by(served as u64);
    let mut responses: Vec<FetchableTopicResponse> = topics
        .into_iter()
        .map(|t| {
            // v13+ names topics by id only.
            if version >= 13 {
                FetchableTopicResponse::default().with_topic_id(t.id)
            } else {
                FetchableTopicResponse::default().with_topic(t.name)
            }
        })
        .collect();
    for (w, r) in wanted.iter().zip(results) {
        responses[w.topic].partitions.push(
            PartitionData::default()
                .with_partition_index(w.partition)
                .with_error_code(r.error)
                .with_high_watermark(r.high_watermark)
                .with_last_stable_offset(r.high_watermark)
                .with_log_start_offset(if version >= 5 { r.log_start_offset } else { -1 })
                .with_aborted_transactions(Some(Vec::new()))
                .with_preferred_read_replica(BrokerId(-1))
                .with_records(Some(r.records)),
        );
    }
    FetchResponse::default()
        .with_session_id(0)
        .with_responses(responses)
}

struct PartitionResult {
    error: i16,
    high_watermark: i64,
    log_start_offset: i64,
    records: Bytes,
}

/// Reads every wanted partition on one blocking thread, within the response budget.
async fn read_all(wanted: Arc<Vec<Wanted>>, max_bytes: usize) -> Vec<PartitionResult> {
    let n = wanted.len();
    let joined = tokio::task::spawn_blocking(move || {
        let mut budget = max_bytes;
        // KIP-74: the first batch of the first non-empty partition is returned even if
        // it exceeds the limits, so a large batch can never block a consumer.
        let mut first = true;
        wanted
            .iter()
            .map(|w| match &w.replica {
                Err(e) => PartitionResult {
                    error: e.code(),
                    high_watermark: -1,
                    log_start_offset: -1,
                    records: Bytes::new(),
                },
                Ok(p) => match p.read_blocking(w.offset, w.max_bytes.min(budget), first) {
                    Ok(r) => {
                        if !r.records.is_empty() {
                            first = false;
                            budget = budget.saturating_sub(r.records.len());
                        }
                        PartitionResult {
                            error: 0,
                            high_watermark: r.high_watermark,
                            log_start_offset: r.log_start_offset,
                            records: r.records,
                        }
                    }
                    Err(e) => PartitionResult {
                        error: log_error_code(&e).code(),
                        high_watermark: p.high_watermark(),
                        log_start_offset: p.log_start_offset(),
                        records: Bytes::new(),
                    },
                },
            })
            .collect::<Vec<_>>()
    })
    .await;
    joined.unwrap_or_else(|e| {
        tracing::error!(error = %e, "fetch read task failed");
        (0..n)
            .map(|_| PartitionResult {
                error: ResponseError::KafkaStorageError.code(),
                high_watermark: -1,
                log_start_offset: -1,
                records: Bytes::new(),
            })
            .collect()
    })
}
