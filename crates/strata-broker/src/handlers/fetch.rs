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
    // A follower broker fetching to replicate (v15+ carries it in the replica state).
    let replica_id = if version >= 15 {
        req.replica_state.replica_id.0
    } else {
        req.replica_id.0
    };
    let from_replica = replica_id >= 0;
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
                Some(n) => broker.led_replica(n.0.as_str(), fp.partition),
            };
            let replica = replica.and_then(|p| {
                check_leader_epoch(&p, fp.current_leader_epoch)?;
                if from_replica {
                    let (_, isr) = p.on_follower_fetch(replica_id, fp.fetch_offset)?;
                    if let Some(isr) = isr {
                        crate::replication::request_isr_change(broker, &p, isr);
                    }
                }
                Ok(p)
            });
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
        let results = read_all(Arc::clone(&wanted), max_bytes, from_replica).await;
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
async fn read_all(
    wanted: Arc<Vec<Wanted>>,
    max_bytes: usize,
    from_replica: bool,
) -> Vec<PartitionResult> {
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
                // Followers copy everything the leader has; consumers see only what
                // every in-sync replica has.
                Ok(p) => match p.read_blocking_upto(
                    w.offset,
                    w.max_bytes.min(budget),
                    first,
                    from_replica.then(|| p.log_end_offset()),
                ) {
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

/// FENCED_LEADER_EPOCH for a request from an older leadership, UNKNOWN_LEADER_EPOCH for
/// one from a newer one this broker has not seen yet; -1 skips the check.
pub(crate) fn check_leader_epoch(p: &Partition, current: i32) -> Result<(), ResponseError> {
    match p.leading_epoch() {
        Some(epoch) if current >= 0 && current < epoch => Err(ResponseError::FencedLeaderEpoch),
        Some(epoch) if current > epoch => Err(ResponseError::UnknownLeaderEpoch),
        Some(_) => Ok(()),
        None => Err(ResponseError::NotLeaderOrFollower),
    }
}
