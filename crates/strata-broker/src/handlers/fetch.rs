//! Fetch: read whole batches below the high-water mark, long-polling until `min_bytes`
//! are available or `max_wait_ms` passes.
//!
//! The response is capped at `fetch.max.bytes` whatever the client asks, and carries the
//! records as file ranges (`FileSlice`s): it is encoded as chunks
//! (`strata_proto::fetch_response`) and the connection writes the ranges from the
//! segment files in bounded pieces, so a response is never whole in memory.
//!
//! `read_committed` (isolation level 1) reads stop at the last stable offset and carry
//! the aborted transactions overlapping the returned batches, so the consumer can drop
//! their records; every response carries the partition's real last stable offset.
//!
//! Fetch sessions (KIP-227) are declined as the protocol allows: a request to open one
//! gets `session_id = 0`, so clients keep sending full requests; an incremental request
//! naming a session gets `FETCH_SESSION_ID_NOT_FOUND`.

use crate::auth::authorizer::Access;
use std::sync::Arc;
use std::time::{Duration, Instant};
use strata_auth::acl::AclOperation;

use futures::future::select_all;
use kafka_protocol::messages::{ApiKey, FetchRequest, FetchResponse, ResponseKind, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strata_log::FileSlice;
use strata_proto::fetch_response as wire;
use strata_proto::frame;
use uuid::Uuid;

use super::{log_error_code, ResponseFrame};
use crate::replica::Partition;
use crate::replication::throttle;
use crate::Broker;

/// Upper bound on a long poll, whatever the client asks.
const MAX_WAIT_CAP: Duration = Duration::from_secs(30);

/// Most partitions a Fetch may name for its lookups to be tried on the runtime worker
/// (a few microseconds each when cached); a larger one (a follower fetching many
/// partitions) goes straight to a blocking thread, so no worker is held for long.
const WORKER_LOOKUPS_MAX_PARTITIONS: usize = 64;

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

/// Serves Fetch v4–v16: the encoded response frame.
pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    access: &Access,
    req: FetchRequest,
    received: Instant,
    correlation_id: i32,
) -> anyhow::Result<ResponseFrame> {
    if req.session_id != 0 {
        let body = FetchResponse::default()
            .with_error_code(ResponseError::FetchSessionIdNotFound.code())
            .with_session_id(0);
        let bytes = frame::encode_response(
            ApiKey::Fetch,
            version,
            correlation_id,
            &ResponseKind::Fetch(body),
        )?;
        return Ok(bytes.into());
    }
    let image = broker.meta.image();
    // A follower broker fetching to replicate (v15+ carries it in the replica state).
    let replica_id = if version >= 15 {
        req.replica_state.replica_id.0
    } else {
        req.replica_id.0
    };
    let from_replica = replica_id >= 0;
    // Replication needs CLUSTER_ACTION; consumers READ on each topic.
    let replica_allowed = !from_replica || access.cluster(AclOperation::ClusterAction);
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
        let allowed = replica_allowed
            && name
                .as_ref()
                .is_none_or(|n| from_replica || access.topic(AclOperation::Read, n.0.as_str()));
        for fp in ft.partitions {
            let replica = match &name {
                _ if !allowed => Err(if from_replica {
                    ResponseError::ClusterAuthorizationFailed
                } else {
                    ResponseError::TopicAuthorizationFailed
                }),
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
    // Leader-side replication throttle: its rate and, per partition, whether it is
    // held back (listed, follower out of sync) and whether its bytes count (listed).
    let node = broker.config.node_id;
    let throttled: Option<(f64, Vec<(bool, bool)>)> = from_replica
        .then(|| throttle::leader_rate(&image, node))
        .flatten()
        .map(|rate| {
            let flags = wanted
                .iter()
                .map(|w| {
                    let name = topics[w.topic].name.0.as_str();
                    throttle::leader_throttles(&image, name, w.partition, node, replica_id)
                })
                .collect();
            (rate, flags)
        });
    let wanted = Arc::new(wanted);
    // The broker's cap applies to every fetch, followers' included.
    let max_bytes = (req.max_bytes.max(0) as usize).min(broker.config.fetch_max_bytes);
    let min_bytes = req.min_bytes.max(0) as usize;
    let wait = Duration::from_millis(req.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
    let deadline = tokio::time::Instant::from_std(received + wait);
    let mut stopping = broker.stopping.subscribe();
    // Followers copy everything; only consumers choose an isolation level.
    let read_committed = !from_replica && req.isolation_level == 1;
    let results = loop {
        // Register for wake-ups before reading so a change in between is not missed:
        // followers copy up to the log end, consumers read below the high watermark.
        let mut wakeups: Vec<_> = wanted
            .iter()
            .filter_map(|w| w.replica.as_ref().ok())
            .map(|p| {
                Box::pin(if from_replica {
                    p.appended()
                } else {
                    p.visible_changed()
                })
            })
            .collect();
        for w in wakeups.iter_mut() {
            w.as_mut().enable();
        }
        let mut results = read_all(
            broker,
            Arc::clone(&wanted),
            max_bytes,
            from_replica,
            read_committed,
        )
        .await;
        if let Some((rate, flags)) = &throttled {
            // An empty bucket: throttled partitions send nothing (the fetch waits).
            if !broker.replication_throttle.may_send(*rate, Instant::now()) {
                for (r, _) in results.iter_mut().zip(flags).filter(|(_, f)| f.0) {
                    r.records = None;
                }
            }
        }
        let bytes: usize = results.iter().map(PartitionResult::len).sum();
        let any_error = results.iter().any(|r| r.error != 0);
        if bytes >= min_bytes.max(1)
            || any_error
            || tokio::time::Instant::now() >= deadline
            || wakeups.is_empty()
            || *stopping.borrow()
        {
            break results;
        }
        tokio::select! {
            _ = select_all(wakeups) => {}
            _ = tokio::time::sleep_until(deadline) => {}
            // A stopping broker answers with what it has.
            _ = stopping.changed() => {}
        }
    };
    let served: usize = results.iter().map(PartitionResult::len).sum();
    if let Some((rate, flags)) = &throttled {
        let spent: usize = results
            .iter()
            .zip(flags)
            .filter(|(_, f)| f.1)
            .map(|(r, _)| r.len())
            .sum();
        if spent > 0 {
            broker
                .replication_throttle
                .spend(*rate, spent, Instant::now());
        }
    }
    broker.metrics.fetch_bytes.inc_by(served as u64);
    let mut responses: Vec<wire::Topic<FileSlice>> = topics
        .into_iter()
        .map(|t| wire::Topic {
            name: t.name,
            topic_id: t.id,
            partitions: Vec::new(),
        })
        .collect();
    for (w, r) in wanted.iter().zip(results) {
        if let (false, Ok(replica), Some(slice)) = (from_replica, &w.replica, &r.records) {
            // Records spanned from the asked offset (a compacted log's gaps included).
            let first = slice.first_offset.max(w.offset);
            let records = (slice.last_offset + 1 - first).max(0) as u64;
            replica.stats.served(slice.len as u64, records);
            broker.metrics.records_out.inc_by(records);
        }
        if r.error != 0 {
            broker.metrics.count_error("Fetch", r.error);
        }
        let mut p = wire::Partition::new(w.partition, r.error);
        p.high_watermark = r.high_watermark;
        p.last_stable_offset = r.last_stable_offset;
        p.aborted_transactions = Some(r.aborted);
        p.log_start_offset = if version >= 5 { r.log_start_offset } else { -1 };
        p.records = r.records;
        responses[w.topic].partitions.push(p);
    }
    let response = wire::Response {
        throttle_time_ms: 0,
        error_code: 0,
        session_id: 0,
        topics: responses,
    };
    Ok(wire::encode(version, correlation_id, response)?)
}

struct PartitionResult {
    error: i16,
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
    /// Aborted transactions among the records (`read_committed` only).
    aborted: Vec<wire::AbortedTransaction>,
    /// The batches to send, left in their segment file.
    records: Option<FileSlice>,
}

impl PartitionResult {
    fn len(&self) -> usize {
        self.records.as_ref().map_or(0, |s| s.len)
    }

    fn failed(
        error: i16,
        high_watermark: i64,
        last_stable_offset: i64,
        log_start_offset: i64,
    ) -> Self {
        Self {
            error,
            high_watermark,
            last_stable_offset,
            log_start_offset,
            aborted: Vec::new(),
            records: None,
        }
    }
}

/// Finds every wanted partition's file range within the response budget. Nothing is
/// read: the connection writes the ranges. The index lookups are tried first on this
/// thread from the page cache alone (`strata_log::no_wait`), which spares a consumer
/// near the log end two thread hand-offs per Fetch; if any of them would wait for the
/// disk (or for the log lock), all of them run again on a blocking thread, as do those
/// of a Fetch naming more than [`WORKER_LOOKUPS_MAX_PARTITIONS`] partitions.
async fn read_all(
    broker: &Broker,
    wanted: Arc<Vec<Wanted>>,
    max_bytes: usize,
    from_replica: bool,
    read_committed: bool,
) -> Vec<PartitionResult> {
    let read = move |w: &[Wanted]| read_partitions(w, max_bytes, from_replica, read_committed);
    if wanted.len() <= WORKER_LOOKUPS_MAX_PARTITIONS {
        if let Some(results) = strata_log::no_wait::without_waiting(|| read(&wanted)) {
            return results;
        }
    }
    broker.metrics.fetch_lookups_blocking.inc();
    let n = wanted.len();
    let joined = tokio::task::spawn_blocking(move || read(&wanted)).await;
    match joined {
        Ok(Some(results)) => results,
        // Off no-wait mode nothing reports `WouldBlock`; should a file system do it
        // anyway, the partitions fail with a retriable storage error, not a panic.
        Ok(None) => {
            tracing::error!("a blocking fetch read reported WouldBlock");
            storage_errors(n)
        }
        Err(e) => {
            tracing::error!(error = %e, "fetch read task failed");
            storage_errors(n)
        }
    }
}

fn storage_errors(n: usize) -> Vec<PartitionResult> {
    (0..n)
        .map(|_| PartitionResult::failed(ResponseError::KafkaStorageError.code(), -1, -1, -1))
        .collect()
}

/// Every wanted partition's read, in order, within `max_bytes`; `None` when one of
/// them would have waited (no-wait mode only).
fn read_partitions(
    wanted: &[Wanted],
    max_bytes: usize,
    from_replica: bool,
    read_committed: bool,
) -> Option<Vec<PartitionResult>> {
    let mut budget = max_bytes;
    // KIP-74: the first batch of the first non-empty partition is returned even if it
    // exceeds the limits, so a large batch can never block a consumer.
    let mut first = true;
    wanted
        .iter()
        .map(|w| {
            let p = match &w.replica {
                Ok(p) => p,
                Err(e) => return Some(PartitionResult::failed(e.code(), -1, -1, -1)),
            };
            let max = w.max_bytes.min(budget);
            match read_one(p, w.offset, max, first, from_replica, read_committed) {
                Ok(r) => {
                    if let Some(s) = &r.records {
                        first = false;
                        budget = budget.saturating_sub(s.len);
                    }
                    Some(r)
                }
                Err(e) if strata_log::no_wait::is_would_block(&e) => None,
                Err(e) => Some(PartitionResult::failed(
                    log_error_code(&e).code(),
                    p.high_watermark(),
                    p.last_stable_offset(),
                    p.log_start_offset(),
                )),
            }
        })
        .collect()
}

/// One partition's read: followers copy everything the leader has; consumers see what
/// every in-sync replica has (`read_uncommitted`), or what is also stable
/// (`read_committed`, with the aborted transactions among it). Blocking.
fn read_one(
    p: &Partition,
    offset: i64,
    max_bytes: usize,
    min_one_batch: bool,
    from_replica: bool,
    read_committed: bool,
) -> Result<PartitionResult, strata_log::LogError> {
    if read_committed {
        let c = p.slice_committed_blocking(offset, max_bytes, min_one_batch)?;
        let aborted =
            c.aborted
                .into_iter()
                .map(|(producer_id, first_offset)| wire::AbortedTransaction {
                    producer_id,
                    first_offset,
                });
        return Ok(PartitionResult {
            error: 0,
            high_watermark: c.read.high_watermark,
            last_stable_offset: c.last_stable_offset,
            log_start_offset: c.read.log_start_offset,
            aborted: aborted.collect(),
            records: c.read.records,
        });
    }
    let upto = from_replica.then(|| p.log_end_offset());
    let r = p.slice_blocking_upto(offset, max_bytes, min_one_batch, upto)?;
    Ok(PartitionResult {
        error: 0,
        high_watermark: r.high_watermark,
        last_stable_offset: p.last_stable_offset(),
        log_start_offset: r.log_start_offset,
        aborted: Vec::new(),
        records: r.records,
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
