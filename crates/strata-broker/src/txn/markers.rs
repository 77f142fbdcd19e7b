//! Sends transaction markers (WriteTxnMarkers) to partition leaders, this broker
//! included, over the inter-broker listener (TLS / SASL as the follower fetchers).
//!
//! One task per destination broker drains its queue, at most one marker per producer
//! id per request (the response is keyed by producer id). Per partition: written →
//! reported to the coordinator; retriable errors and leader moves → routed again by
//! the current image after a backoff (doubling to 5 s, reset on success); topic gone
//! → reported done (given up, as Kafka does); the producer or coordinator epoch moved
//! on (INVALID_PRODUCER_EPOCH, TRANSACTION_COORDINATOR_FENCED) → dropped. Jobs of a
//! coordinator epoch no longer served are dropped before sending. A destination that
//! fails is logged once when it starts failing and once when it recovers.
//!
//! The queues hold at most the markers of the transactions in PrepareCommit /
//! PrepareAbort, each once: a job is in exactly one queue or in flight.
//!
//! Markers for partitions this broker leads are written directly (the handler's
//! own code, without a request to itself).
//!
//! A destination keeps its connection when its queue runs dry (one idle connection
//! per broker), so a transaction's markers do not pay a connect and handshake; a kept
//! connection that fails on reuse (closed by the peer meanwhile) is replaced at once,
//! without a backoff or a warning.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{ProducerId, TopicName, WriteTxnMarkersRequest};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use parking_lot::Mutex;
use strata_txn::{TopicPartition, TxnResult};

use crate::replication::client::BrokerConnection;
use crate::Broker;

/// The WriteTxnMarkers version sent (the only one `kafka-protocol` encodes).
const VERSION: i16 = 1;
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Markers per request.
const MAX_PER_REQUEST: usize = 500;

/// Markers of one transaction for some of its partitions.
#[derive(Debug, Clone)]
pub(crate) struct MarkerJob {
    pub(crate) txn_partition: i32,
    pub(crate) coordinator_epoch: i32,
    pub(crate) transactional_id: String,
    pub(crate) producer_id: i64,
    pub(crate) producer_epoch: i16,
    pub(crate) result: TxnResult,
    pub(crate) partitions: Vec<TopicPartition>,
}

#[derive(Default)]
struct Destination {
    queue: Vec<MarkerJob>,
    /// A task is draining this queue.
    running: bool,
    /// The connection of the last task, kept for the next.
    idle: Option<BrokerConnection>,
}

/// The per-destination queues.
#[derive(Default)]
pub(crate) struct MarkerSender {
    destinations: Arc<Mutex<HashMap<i32, Destination>>>,
}

impl MarkerSender {
    /// Queues `job` (never blocks, never calls back into the coordinator: it may be
    /// called under the coordinator's lock).
    pub(crate) fn send(&self, broker: &Arc<Broker>, job: MarkerJob) {
        let b = Arc::clone(broker);
        let destinations = Arc::clone(&self.destinations);
        tokio::spawn(async move { dispatch(&b, &destinations, job) });
    }
}

/// Splits `job` by the partitions' current leaders and queues each part; partitions
/// whose topic is gone are reported done; those without a leader wait and retry.
fn dispatch(
    broker: &Arc<Broker>,
    destinations: &Arc<Mutex<HashMap<i32, Destination>>>,
    job: MarkerJob,
) {
    if !broker.txn.serves(job.txn_partition, job.coordinator_epoch) {
        return;
    }
    let image = broker.meta.image();
    let mut by_leader: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
    let mut gone = Vec::new();
    let mut leaderless = Vec::new();
    for tp in &job.partitions {
        match image.partition(&tp.topic, tp.partition) {
            None => gone.push(tp.clone()),
            Some(p) if p.leader < 0 => leaderless.push(tp.clone()),
            Some(p) => by_leader.entry(p.leader).or_default().push(tp.clone()),
        }
    }
    if !gone.is_empty() {
        tracing::info!(transactional_id = %job.transactional_id, partitions = ?gone,
            "transaction markers given up: topic deleted");
        broker.txn.on_markers_written(broker, &job, &gone);
    }
    if !leaderless.is_empty() {
        let retry = MarkerJob {
            partitions: leaderless,
            ..job.clone()
        };
        let (b, d) = (Arc::clone(broker), Arc::clone(destinations));
        tokio::spawn(async move {
            tokio::time::sleep(BACKOFF_MAX).await;
            dispatch(&b, &d, retry);
        });
    }
    let mut dests = destinations.lock();
    for (leader, partitions) in by_leader {
        let d = dests.entry(leader).or_default();
        d.queue.push(MarkerJob {
            partitions,
            ..job.clone()
        });
        if !d.running {
            d.running = true;
            let (b, ds) = (Arc::clone(broker), Arc::clone(destinations));
            tokio::spawn(async move { run_destination(b, ds, leader).await });
        }
    }
}

/// Drains one destination's queue until it is empty.
async fn run_destination(
    broker: Arc<Broker>,
    destinations: Arc<Mutex<HashMap<i32, Destination>>>,
    node: i32,
) {
    let mut conn: Option<BrokerConnection> = destinations
        .lock()
        .get_mut(&node)
        .and_then(|d| d.idle.take());
    // The connection came from an earlier task and has not answered since.
    let mut reused = conn.is_some();
    let mut backoff = BACKOFF_MIN;
    let mut failing = false;
    loop {
        if *broker.stopping.borrow() {
            return;
        }
        let batch = {
            let mut dests = destinations.lock();
            let Some(d) = dests.get_mut(&node) else {
                return;
            };
            let batch = take_batch(&mut d.queue);
            if batch.is_empty() {
                d.running = false;
                d.idle = conn;
                return;
            }
            batch
        };
        let batch: Vec<MarkerJob> = batch
            .into_iter()
            .filter(|j| broker.txn.serves(j.txn_partition, j.coordinator_epoch))
            .collect();
        if batch.is_empty() {
            continue;
        }
        let mut sent = send_batch(&broker, &mut conn, node, &batch).await;
        if sent.is_err() && std::mem::take(&mut reused) {
            // A kept connection may have been closed meanwhile: once more, afresh.
            conn = None;
            sent = send_batch(&broker, &mut conn, node, &batch).await;
        }
        reused = false;
        match sent {
            Ok(retry) => {
                if failing {
                    tracing::info!(node, "transaction markers are reaching this broker again");
                    failing = false;
                }
                if retry.is_empty() {
                    backoff = BACKOFF_MIN;
                } else {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    for job in retry {
                        dispatch(&broker, &destinations, job);
                    }
                }
            }
            Err(e) => {
                conn = None;
                if !failing {
                    tracing::warn!(node, error = %format!("{e:#}"),
                        "cannot write transaction markers to this broker; retrying");
                    failing = true;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                for job in batch {
                    dispatch(&broker, &destinations, job);
                }
            }
        }
    }
}

/// Up to [`MAX_PER_REQUEST`] jobs, at most one per producer id; the rest stay queued.
fn take_batch(queue: &mut Vec<MarkerJob>) -> Vec<MarkerJob> {
    let mut seen = HashSet::new();
    let mut batch = Vec::new();
    let mut rest = Vec::new();
    for job in queue.drain(..) {
        if batch.len() < MAX_PER_REQUEST && seen.insert(job.producer_id) {
            batch.push(job);
        } else {
            rest.push(job);
        }
    }
    *queue = rest;
    batch
}

/// Sends one WriteTxnMarkers request; reports what was written and returns the parts
/// to try again. `Err`: the request itself failed (connection, decoding).
async fn send_batch(
    broker: &Arc<Broker>,
    conn: &mut Option<BrokerConnection>,
    node: i32,
    batch: &[MarkerJob],
) -> anyhow::Result<Vec<MarkerJob>> {
    let req = WriteTxnMarkersRequest::default().with_markers(
        batch
            .iter()
            .map(|j| {
                let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
                for tp in &j.partitions {
                    topics.entry(&tp.topic).or_default().push(tp.partition);
                }
                WritableTxnMarker::default()
                    .with_producer_id(ProducerId(j.producer_id))
                    .with_producer_epoch(j.producer_epoch)
                    .with_transaction_result(j.result == TxnResult::Commit)
                    .with_coordinator_epoch(j.coordinator_epoch)
                    .with_topics(
                        topics
                            .into_iter()
                            .map(|(t, ps)| {
                                WritableTxnMarkerTopic::default()
                                    .with_name(TopicName(StrBytes::from_string(t.to_string())))
                                    .with_partition_indexes(ps)
                            })
                            .collect(),
                    )
            })
            .collect(),
    );
    let resp = if node == broker.config.node_id {
        crate::handlers::write_txn_markers::write_local(broker, req).await
    } else {
        if conn.as_ref().is_some_and(|c| c.session_expiring()) {
            *conn = None;
        }
        let c = match conn {
            Some(c) => c,
            None => {
                let c = super::connect_to_node(broker, node, CALL_TIMEOUT).await?;
                conn.insert(c)
            }
        };
        c.call(&req, VERSION, CALL_TIMEOUT).await?
    };
    // (producer id, topic, partition) → error code.
    let mut errors: HashMap<(i64, &str, i32), i16> = HashMap::new();
    for m in &resp.markers {
        for t in &m.topics {
            for p in &t.partitions {
                errors.insert(
                    (m.producer_id.0, t.name.0.as_str(), p.partition_index),
                    p.error_code,
                );
            }
        }
    }
    let mut retry = Vec::new();
    for job in batch {
        let mut done = Vec::new();
        let mut again = Vec::new();
        let mut abandoned = false;
        for tp in &job.partitions {
            let code = errors
                .get(&(job.producer_id, tp.topic.as_str(), tp.partition))
                .copied();
            match code.map(ResponseError::try_from_code) {
                Some(None) => done.push(tp.clone()),
                Some(Some(
                    ResponseError::UnsupportedForMessageFormat | ResponseError::UnsupportedVersion,
                )) => done.push(tp.clone()),
                Some(Some(
                    ResponseError::InvalidProducerEpoch
                    | ResponseError::TransactionCoordinatorFenced,
                )) => abandoned = true,
                _ => again.push(tp.clone()),
            }
        }
        if abandoned {
            tracing::info!(transactional_id = %job.transactional_id, node,
                "transaction markers no longer needed: the producer or coordinator moved on");
            continue;
        }
        if !done.is_empty() {
            broker.txn.on_markers_written(broker, job, &done);
        }
        if !again.is_empty() {
            tracing::debug!(transactional_id = %job.transactional_id, node, partitions = ?again,
                "transaction markers to retry");
            retry.push(MarkerJob {
                partitions: again,
                ..job.clone()
            });
        }
    }
    Ok(retry)
}
