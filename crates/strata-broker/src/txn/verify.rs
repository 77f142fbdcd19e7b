//! KIP-890 part 1, the partition leader's defense: a transactional batch from a
//! producer with no open transaction in the partition is appended only once the
//! producer's transaction coordinator confirms the partition is in its ongoing
//! transaction at the batch's epoch (AddPartitionsToTxn v4 `verify_only`, or a direct
//! call when this broker is the coordinator).
//!
//! Invariants:
//! - A produce with no transactional batch never waits here: [`check_produce`]
//!   answers it without touching a log, the blocking pool or the network.
//! - A producer whose transaction is already open in the partition (same producer id
//!   and epoch) is not verified again: its first batch was.
//! - One coordinator call per produce request: every partition to verify goes in it.
//!   A call that cannot be made or answered in [`CALL_TIMEOUT`] refuses those
//!   partitions with a retriable error (NOT_ENOUGH_REPLICAS), never appends.
//! - The peer connections kept are at most one per broker ([`Peers`]).
//!
//! Not covered (as Kafka's verification guard does): a marker written between the
//! check and the append; the append then opens a new transaction.
//!
//! KIP-890 part 2 (transactions v2): a Produce v12+ is not verified but added
//! implicitly ([`add_implicitly`]): its client sends no AddPartitionsToTxn, so the
//! leader asks the coordinator to add the partition (AddPartitionsToTxn v5 without
//! `verify_only`, or a direct call) before the append, as Kafka's
//! `AddPartitionsToTxnManager` does. The coordinator refuses an epoch an EndTxn v5
//! has bumped past, so a late write of an ended transaction is fenced
//! (INVALID_PRODUCER_EPOCH) instead of opening the next one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, ProducerId, TopicName, TransactionalId};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use parking_lot::Mutex;
use strata_proto::batch::BatchHeader;
use strata_txn::TopicPartition;

use crate::replica::Partition;
use crate::replication::client::BrokerConnection;
use crate::Broker;

/// The AddPartitionsToTxn version sent to verify (the first with `verify_only`).
const VERIFY_VERSION: i16 = 4;
/// The AddPartitionsToTxn version sent to add implicitly (a coordinator runs v4+
/// adds at transaction version 2; v5 answers TRANSACTION_ABORTABLE).
const ADD_VERSION: i16 = 5;
/// The Produce version from which partitions are added implicitly (transactions v2).
const IMPLICIT_ADD_SINCE: i16 = 12;
/// Bound on connecting to and hearing from a remote coordinator.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// The Produce version from which clients understand TRANSACTION_ABORTABLE.
const ABORTABLE_SINCE: i16 = 12;

/// A transactional batch's producer: (producer id, epoch).
pub(crate) type TxnProducer = (i64, i16);

/// The producer of `records`' first batch when it is transactional (Kafka judges a
/// produce by its first batch; the log refuses a mixed or malformed rest).
pub(crate) fn transactional_producer(records: &[u8]) -> Option<TxnProducer> {
    let h = BatchHeader::parse(records).ok()?;
    (h.is_transactional() && !h.is_control()).then_some((h.producer_id, h.producer_epoch))
}

/// Whether a partition's batch must be verified before it is appended: verification
/// is on, the batch is transactional, and its producer has no transaction open in
/// the partition at that epoch.
pub(crate) fn needs_verification(
    enabled: bool,
    producer: Option<TxnProducer>,
    open_epoch: Option<i16>,
) -> bool {
    match producer {
        Some((_, epoch)) if enabled => open_epoch != Some(epoch),
        _ => false,
    }
}

/// The coordinator's word on one partition: `Ok(true)` in the transaction,
/// `Ok(false)` not in it, `Err` it could not say.
pub(crate) type Answer = Result<bool, ResponseError>;

/// Reads a remote coordinator's per-partition error code as an [`Answer`].
pub(crate) fn answer_of_code(code: i16) -> Answer {
    match ResponseError::try_from_code(code) {
        None if code == 0 => Ok(true),
        None | Some(ResponseError::Unknown(_)) => Err(ResponseError::UnknownServerError),
        Some(ResponseError::InvalidTxnState | ResponseError::TransactionAbortable) => Ok(false),
        Some(e) => Err(e),
    }
}

/// The produce error for a partition given the coordinator's answer (`None`: append),
/// as Kafka answers a Produce of `version`: outside the transaction
/// INVALID_TXN_STATE (TRANSACTION_ABORTABLE from v12); coordinator trouble
/// NOT_ENOUGH_REPLICAS, which every client retries without a metadata refresh; a
/// fenced producer INVALID_PRODUCER_EPOCH; anything else as is.
pub(crate) fn produce_error(answer: Answer, version: i16) -> Option<ResponseError> {
    let outside = if version >= ABORTABLE_SINCE {
        ResponseError::TransactionAbortable
    } else {
        ResponseError::InvalidTxnState
    };
    match answer {
        Ok(true) => None,
        Ok(false) | Err(ResponseError::InvalidTxnState | ResponseError::TransactionAbortable) => {
            Some(outside)
        }
        Err(ResponseError::ProducerFenced) => Some(ResponseError::InvalidProducerEpoch),
        Err(
            ResponseError::ConcurrentTransactions
            | ResponseError::NetworkException
            | ResponseError::CoordinatorLoadInProgress
            | ResponseError::CoordinatorNotAvailable
            | ResponseError::NotCoordinator
            | ResponseError::RequestTimedOut,
        ) => Some(ResponseError::NotEnoughReplicas),
        Err(e) => Some(e),
    }
}

/// The TxnOffsetCommit v5 error for its implicit add given the coordinator's answer
/// (`None`: commit): outside the transaction TRANSACTION_ABORTABLE; coordinator
/// trouble COORDINATOR_LOAD_IN_PROGRESS, which the client retries as is; a fenced
/// producer INVALID_PRODUCER_EPOCH; anything else as is.
pub(crate) fn offset_commit_error(answer: Answer) -> Option<ResponseError> {
    match produce_error(answer, ABORTABLE_SINCE)? {
        ResponseError::NotEnoughReplicas => Some(ResponseError::CoordinatorLoadInProgress),
        e => Some(e),
    }
}

/// Whether a produce holds a transactional batch (it then needs WRITE on its
/// transactional id, as Kafka).
pub(crate) fn has_transactional_records<'a>(records: impl IntoIterator<Item = &'a Bytes>) -> bool {
    records
        .into_iter()
        .any(|r| transactional_producer(r).is_some())
}

/// Verifies the transactional batches among `items` (the partitions about to be
/// appended); per item `None` (append) or the refusal. Without any transactional
/// batch, returns at once.
pub(crate) async fn check_produce(
    broker: &Arc<Broker>,
    version: i16,
    transactional_id: Option<&str>,
    items: &[(Arc<Partition>, Bytes)],
) -> Vec<Option<(ResponseError, String)>> {
    let mut out = vec![None; items.len()];
    let producers: Vec<Option<TxnProducer>> = items
        .iter()
        .map(|(_, r)| transactional_producer(r))
        .collect();
    // Transactions v2 rely on the implicit add: it runs whatever the verification
    // setting (its clients send no AddPartitionsToTxn).
    let enabled =
        broker.config.transaction_partition_verification_enable || version >= IMPLICIT_ADD_SINCE;
    if !enabled || producers.iter().all(Option::is_none) {
        return out;
    }
    let Some(id) = transactional_id else {
        return out;
    };
    let opens = open_epochs(items, &producers).await;
    // (item index, producer) of the partitions to verify.
    let mut todo: Vec<(usize, TxnProducer)> = Vec::new();
    for (i, (producer, open)) in producers.iter().zip(opens).enumerate() {
        match open {
            Err(e) => out[i] = Some((ResponseError::KafkaStorageError, e)),
            Ok(open) if needs_verification(enabled, *producer, open) => {
                if let Some(p) = producer {
                    todo.push((i, *p));
                }
            }
            Ok(_) => {}
        }
    }
    // One producer per request (the log refuses others); group by it anyway.
    let mut by_producer: BTreeMap<TxnProducer, Vec<usize>> = BTreeMap::new();
    for (i, p) in todo {
        by_producer.entry(p).or_default().push(i);
    }
    for ((pid, epoch), idx) in by_producer {
        let tps: Vec<TopicPartition> = idx
            .iter()
            .map(|&i| TopicPartition {
                topic: items[i].0.topic.to_string(),
                partition: items[i].0.index,
            })
            .collect();
        let answers = if version >= IMPLICIT_ADD_SINCE {
            add_implicitly(broker, id, pid, epoch, &tps).await
        } else {
            ask(broker, id, pid, epoch, &tps).await
        };
        for (&i, answer) in idx.iter().zip(answers) {
            out[i] = produce_error(answer, version).map(|code| {
                (
                    code,
                    format!(
                        "transactional id {id} (producer {pid} epoch {epoch}): \
                         {}-{} could not be verified in (or added to) its transaction \
                         ({code:?})",
                        items[i].0.topic, items[i].0.index
                    ),
                )
            });
        }
    }
    out
}

/// Per item with a transactional batch, the epoch of its producer's open transaction
/// in the partition (`None`: none open). One blocking-pool hop for all.
async fn open_epochs(
    items: &[(Arc<Partition>, Bytes)],
    producers: &[Option<TxnProducer>],
) -> Vec<Result<Option<i16>, String>> {
    let work: Vec<(Arc<Partition>, Option<i64>)> = items
        .iter()
        .zip(producers)
        .map(|((p, _), prod)| (Arc::clone(p), prod.map(|(pid, _)| pid)))
        .collect();
    let n = work.len();
    let joined = tokio::task::spawn_blocking(move || {
        work.iter()
            .map(|(p, pid)| match pid {
                None => Ok(None),
                Some(pid) => p
                    .run_blocking(|log| {
                        Ok(log
                            .producer_state()
                            .get(*pid)
                            .filter(|e| e.current_txn_first_offset.is_some())
                            .map(|e| e.epoch))
                    })
                    .map_err(|e| e.to_string()),
            })
            .collect::<Vec<_>>()
    })
    .await;
    joined.unwrap_or_else(|e| vec![Err(e.to_string()); n])
}

/// The coordinator's answer for each of `tps`: this broker's own coordinator, or the
/// remote one over the inter-broker listener.
async fn ask(
    broker: &Arc<Broker>,
    id: &str,
    producer_id: i64,
    epoch: i16,
    tps: &[TopicPartition],
) -> Vec<Answer> {
    let everywhere = |e: ResponseError| vec![Err(e); tps.len()];
    let Some(node) = coordinator_node(broker, id) else {
        return everywhere(ResponseError::CoordinatorNotAvailable);
    };
    if node == broker.config.node_id {
        return match broker
            .txn
            .verify_partitions(broker, id, producer_id, epoch, tps)
        {
            Ok(found) => found.into_iter().map(|(_, inside)| Ok(inside)).collect(),
            Err(e) => everywhere(e),
        };
    }
    match ask_remote(broker, node, id, producer_id, epoch, tps, true).await {
        Ok(answers) => answers,
        Err(e) => {
            tracing::debug!(node, error = %format!("{e:#}"), "KIP-890 verification call failed");
            everywhere(ResponseError::NetworkException)
        }
    }
}

/// Transactions v2: adds `tps` to `id`'s transaction at the producer's epoch (opening
/// it if none is), at this broker's coordinator or the remote one; per partition
/// `Ok(true)` once added, else the coordinator's refusal (PRODUCER_FENCED for an
/// epoch an EndTxn has bumped past).
pub(crate) async fn add_implicitly(
    broker: &Arc<Broker>,
    id: &str,
    producer_id: i64,
    epoch: i16,
    tps: &[TopicPartition],
) -> Vec<Answer> {
    let everywhere = |a: Answer| vec![a; tps.len()];
    let Some(node) = coordinator_node(broker, id) else {
        return everywhere(Err(ResponseError::CoordinatorNotAvailable));
    };
    if node == broker.config.node_id {
        let added = broker
            .txn
            .add_partitions(
                broker,
                id,
                producer_id,
                epoch,
                tps.to_vec(),
                strata_txn::TV2,
            )
            .await;
        return everywhere(added.map(|()| true));
    }
    match ask_remote(broker, node, id, producer_id, epoch, tps, false).await {
        Ok(answers) => answers,
        Err(e) => {
            tracing::debug!(node, error = %format!("{e:#}"), "KIP-890 implicit add failed");
            everywhere(Err(ResponseError::NetworkException))
        }
    }
}

/// The node leading `id`'s `__transaction_state` partition, if any.
fn coordinator_node(broker: &Broker, id: &str) -> Option<i32> {
    let image = broker.meta.image();
    let topic = image.topic(crate::topics::TRANSACTION_STATE_TOPIC)?;
    let partition = strata_txn::partition_for(id, topic.partitions.len() as i32);
    let leader = topic.partition(partition)?.leader;
    (leader >= 0).then_some(leader)
}

/// Connections to other brokers' coordinators, at most one idle per broker; a call
/// takes it out and puts it back when done (concurrent calls open their own).
#[derive(Default)]
pub(crate) struct Peers {
    idle: Mutex<HashMap<i32, BrokerConnection>>,
}

async fn ask_remote(
    broker: &Arc<Broker>,
    node: i32,
    id: &str,
    producer_id: i64,
    epoch: i16,
    tps: &[TopicPartition],
    verify_only: bool,
) -> anyhow::Result<Vec<Answer>> {
    let peers = &broker.txn.verify_peers;
    let cached = peers.idle.lock().remove(&node);
    let mut conn = match cached.filter(|c| !c.session_expiring()) {
        Some(c) => c,
        None => super::connect_to_node(broker, node, CALL_TIMEOUT).await?,
    };
    let resp = conn
        .call(
            &verify_request(id, producer_id, epoch, tps, verify_only),
            if verify_only {
                VERIFY_VERSION
            } else {
                ADD_VERSION
            },
            CALL_TIMEOUT,
        )
        .await?;
    peers.idle.lock().entry(node).or_insert(conn);
    if resp.error_code != 0 {
        return Ok(vec![answer_of_code(resp.error_code); tps.len()]);
    }
    let mut codes: HashMap<(&str, i32), i16> = HashMap::new();
    for t in resp
        .results_by_transaction
        .iter()
        .filter(|t| t.transactional_id.0.as_str() == id)
    {
        for topic in &t.topic_results {
            for p in &topic.results_by_partition {
                codes.insert(
                    (topic.name.0.as_str(), p.partition_index),
                    p.partition_error_code,
                );
            }
        }
    }
    Ok(tps
        .iter()
        .map(|tp| match codes.get(&(tp.topic.as_str(), tp.partition)) {
            Some(&code) => answer_of_code(code),
            // An answer that leaves a partition out says nothing about it.
            None => Err(ResponseError::UnknownServerError),
        })
        .collect())
}

/// AddPartitionsToTxn (v4+ form) for one transaction: verify-only, or an implicit add.
fn verify_request(
    id: &str,
    producer_id: i64,
    epoch: i16,
    tps: &[TopicPartition],
    verify_only: bool,
) -> AddPartitionsToTxnRequest {
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in tps {
        topics.entry(&tp.topic).or_default().push(tp.partition);
    }
    AddPartitionsToTxnRequest::default().with_transactions(vec![
        AddPartitionsToTxnTransaction::default()
            .with_transactional_id(TransactionalId(StrBytes::from_string(id.to_string())))
            .with_producer_id(ProducerId(producer_id))
            .with_producer_epoch(epoch)
            .with_verify_only(verify_only)
            .with_topics(
                topics
                    .into_iter()
                    .map(|(t, ps)| {
                        AddPartitionsToTxnTopic::default()
                            .with_name(TopicName(StrBytes::from_string(t.to_string())))
                            .with_partitions(ps)
                    })
                    .collect(),
            ),
    ])
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
