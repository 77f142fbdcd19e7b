//! Produce: validate and append record batches; acknowledge per `acks`.
//!
//! `acks=0` gets no response; `acks=1` is acknowledged once the batches are in the log
//! (page cache); `acks=-1` additionally waits for an fsync covering them under the
//! `batch` flush policy (one broker: the ISR is this broker).

use crate::auth::authorizer::Access;
use std::sync::Arc;
use strata_auth::acl::AclOperation;

use bytes::Bytes;
use futures::future::join_all;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strata_log::AppendInfo;
use strata_proto::batch::BatchError;

use super::{log_error_code, Turn};
use crate::broker::now_ms;
use crate::config::FlushPolicy;
use crate::replica::Replicated;
use crate::topics::{OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC};
use crate::Broker;
use strata_replication::AckState;

enum Outcome {
    Appended(AppendInfo),
    Failed(ResponseError, Option<String>),
    /// `INVALID_RECORD` naming the offending records by index (KIP-467); the batch's
    /// other records fail with it as collateral.
    InvalidRecords(String, Vec<BatchIndexAndErrorMessage>),
}

/// Serves Produce v3–v11. A batch refused for records without keys (compacted topics)
/// lists them in `record_errors` (v8+, KIP-467).
pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    access: &Access,
    req: ProduceRequest,
    turn: Turn,
) -> Option<ProduceResponse> {
    let acks = req.acks;
    let now = now_ms();
    let transactional_id = req.transactional_id.as_ref().map(|t| t.0.to_string());
    if let Some(refusal) = transactional_refusal(access, transactional_id.as_deref(), &req) {
        return (acks != 0).then(|| refuse_all(req, refusal));
    }
    let replication_deadline = tokio::time::Instant::now()
        + std::time::Duration::from_millis(req.timeout_ms.clamp(0, 300_000) as u64);
    // (topic index in response, partition index, future outcome)
    let mut names = Vec::with_capacity(req.topic_data.len());
    let mut slots: Vec<(usize, i32)> = Vec::new();
    let mut appends = Vec::new();
    let mut immediate: Vec<(usize, i32, Outcome)> = Vec::new();
    for topic in req.topic_data {
        let t = names.len();
        let name = topic.name.0.as_str().to_string();
        let topic_err = if !matches!(acks, -1..=1) {
            Some((
                ResponseError::InvalidRequiredAcks,
                format!("acks must be -1, 0 or 1, not {acks}"),
            ))
        } else if !access.topic(AclOperation::Write, &name) {
            Some((
                ResponseError::TopicAuthorizationFailed,
                format!("not authorized to write to topic {name}"),
            ))
        } else if name == OFFSETS_TOPIC || name == TRANSACTION_STATE_TOPIC {
            Some((
                ResponseError::InvalidTopicException,
                format!("cannot append to internal topic {name}"),
            ))
        } else {
            match broker
                .topic_or_create(
                    &name,
                    broker.config.auto_create_topics && access.may_create_topic(&name),
                )
                .await
            {
                Ok(_) => None,
                Err(e) => Some((e.code(), e.to_string())),
            }
        };
        for pd in topic.partition_data {
            let part = match &topic_err {
                None => broker.led_replica(&name, pd.index).map_err(|code| {
                    let message = match code {
                        ResponseError::UnknownTopicOrPartition => {
                            format!("topic '{name}' has no partition {}", pd.index)
                        }
                        _ => format!("this broker does not lead {name}-{}", pd.index),
                    };
                    (code, message)
                }),
                Some(e) => Err(e.clone()),
            };
            // acks=all needs min.insync.replicas in-sync replicas (DESIGN §4), by the
            // leader's rule (the same one its verdict after the append uses).
            let part = part.and_then(|p| match p.acks_all_refusal() {
                Some(why) if acks == -1 => Err((ResponseError::NotEnoughReplicas, why)),
                _ => Ok(p),
            });
            match (part, pd.records) {
                (Err((code, msg)), records) => {
                    if let (Some(records), Some(p)) =
                        (&records, broker.replicas.get(&name, pd.index))
                    {
                        p.note_refusal(records, code);
                    }
                    immediate.push((t, pd.index, Outcome::Failed(code, Some(msg))))
                }
                (Ok(_), None) => immediate.push((
                    t,
                    pd.index,
                    Outcome::Failed(ResponseError::CorruptMessage, Some("null records".into())),
                )),
                (Ok(p), Some(records)) => {
                    slots.push((t, pd.index));
                    appends.push((p, records));
                }
            }
        }
        names.push(topic.name);
    }
    let tid = transactional_id.as_deref();
    let appends = verified(broker, version, tid, &mut slots, appends, &mut immediate).await;
    let appends = schema_checked(broker, &mut slots, appends, &mut immediate).await;
    let appended = append_all(broker, appends, now).await;
    // Side effects are in place: the next request on this connection may start.
    drop(turn);
    let mut results: Vec<(usize, i32, Outcome)> = immediate;
    let mut durable_waits = Vec::new();
    let mut replication_waits = Vec::new();
    for ((t, index), (p, r)) in slots.into_iter().zip(appended) {
        match r {
            Ok(info) => {
                // flush.messages: fsync once this many records are unflushed (any acks).
                let flush_due = p.unflushed_records() >= p.settings().flush_messages;
                if flush_due || (acks == -1 && broker.config.flush_policy == FlushPolicy::Batch) {
                    durable_waits.push((results.len(), Arc::clone(&p), info.last_offset));
                }
                // A duplicate waits too: its original may not be replicated yet (Kafka
                // waits on the original offsets alike).
                if acks == -1 {
                    replication_waits.push((results.len(), p, info.last_offset));
                }
                results.push((t, index, Outcome::Appended(info)));
            }
            Err((code, message, record_errors)) => {
                tracing::debug!(error = %message, "produce rejected");
                let outcome = if record_errors.is_empty() {
                    Outcome::Failed(code, Some(message))
                } else {
                    Outcome::InvalidRecords(message, record_errors)
                };
                results.push((t, index, outcome));
            }
        }
    }
    // Group commit across the request's partitions (one filesystem sync for many).
    let to_sync: Vec<_> = durable_waits
        .iter()
        .map(|(_, p, last)| (Arc::clone(p), *last))
        .collect();
    let waited = crate::replica::Partition::wait_durable_many(&to_sync).await;
    for ((slot, _, _), w) in durable_waits.iter().zip(waited) {
        if let Err(e) = w {
            tracing::error!(error = %e, "fsync failed");
            broker.replicas.dir_suspected.notify_one();
            results[*slot].2 =
                Outcome::Failed(ResponseError::KafkaStorageError, Some(e.to_string()));
        }
    }
    // acks=all: answered once every in-sync replica has the records (the high
    // watermark covers them), as Kafka does.
    let replicated = join_all(
        replication_waits
            .iter()
            .map(|(_, p, last)| p.wait_replicated(*last, replication_deadline)),
    )
    .await;
    for ((slot, _, _), verdict) in replication_waits.iter().zip(replicated) {
        let failure = match verdict {
            Replicated::Verdict(AckState::Done) => None,
            Replicated::Verdict(AckState::Wait) => Some((
                ResponseError::RequestTimedOut,
                "the in-sync replicas did not all confirm in time",
            )),
            Replicated::Verdict(
                AckState::NotEnoughReplicas | AckState::NotEnoughReplicasAfterAppend,
            ) => Some((
                ResponseError::NotEnoughReplicasAfterAppend,
                "the in-sync replicas shrank below min.insync.replicas",
            )),
            Replicated::NotLeader => Some((
                ResponseError::NotLeaderOrFollower,
                "leadership moved while waiting for the in-sync replicas",
            )),
            Replicated::Deleted => Some((
                ResponseError::UnknownTopicOrPartition,
                "the partition was deleted while waiting for the in-sync replicas",
            )),
        };
        if let (Some((code, msg)), Outcome::Appended(_)) = (failure, &results[*slot].2) {
            results[*slot].2 = Outcome::Failed(code, Some(msg.to_string()));
        }
    }
    if acks == 0 {
        return None;
    }
    let mut topics: Vec<TopicProduceResponse> = names
        .into_iter()
        .map(|n| TopicProduceResponse::default().with_name(n))
        .collect();
    for (t, index, outcome) in results {
        let pr = PartitionProduceResponse::default().with_index(index);
        let pr = match outcome {
            Outcome::Appended(info) => pr
                .with_base_offset(info.base_offset)
                .with_log_append_time_ms(info.log_append_time)
                // log_start_offset is on the wire from v5, error_message from v8.
                .with_log_start_offset(if version >= 5 {
                    info.log_start_offset
                } else {
                    -1
                }),
            Outcome::Failed(code, msg) => {
                count_refusal(broker, &topics[t].name, index, code);
                failed(pr, code, msg, version)
            }
            Outcome::InvalidRecords(msg, record_errors) => {
                let code = ResponseError::InvalidRecord;
                count_refusal(broker, &topics[t].name, index, code);
                // record_errors is on the wire from v8.
                let record_errors = if version >= 8 {
                    record_errors
                } else {
                    Vec::new()
                };
                failed(pr, code, Some(msg), version).with_record_errors(record_errors)
            }
        };
        topics[t].partition_responses.push(pr);
    }
    Some(ProduceResponse::default().with_responses(topics))
}

/// A partition's refusal: no offsets, the message from v8.
fn failed(
    pr: PartitionProduceResponse,
    code: ResponseError,
    msg: Option<String>,
    version: i16,
) -> PartitionProduceResponse {
    pr.with_error_code(code.code())
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1)
        .with_error_message(msg.filter(|_| version >= 8).map(StrBytes::from_string))
}

fn keyless_record_error(batch_index: i32) -> BatchIndexAndErrorMessage {
    BatchIndexAndErrorMessage::default()
        .with_batch_index(batch_index)
        .with_batch_index_error_message(Some(StrBytes::from_static_str(
            "the record has no key, which a compacted topic requires",
        )))
}

/// Counts a refused produce by reason on the partition's own counters (only partitions
/// this broker holds: a name a client made up creates no series).
fn count_refusal(broker: &Broker, topic: &TopicName, index: i32, code: ResponseError) {
    if let Some(p) = broker.replicas.get(topic.0.as_str(), index) {
        p.stats.refused(code);
    }
}

/// KIP-890: keeps of `appends` (and their `slots`) the batches that may be appended;
/// a transactional batch outside its producer's transaction is answered in
/// `immediate` with the refusal instead.
async fn verified(
    broker: &Arc<Broker>,
    version: i16,
    transactional_id: Option<&str>,
    slots: &mut Vec<(usize, i32)>,
    appends: Vec<(Arc<crate::replica::Partition>, Bytes)>,
    immediate: &mut Vec<(usize, i32, Outcome)>,
) -> Vec<(Arc<crate::replica::Partition>, Bytes)> {
    let verdicts =
        crate::txn::verify::check_produce(broker, version, transactional_id, &appends).await;
    if verdicts.iter().all(Option::is_none) {
        return appends;
    }
    let mut kept = Vec::with_capacity(appends.len());
    let all = std::mem::take(slots).into_iter().zip(appends).zip(verdicts);
    for ((slot, item), verdict) in all {
        match verdict {
            None => {
                slots.push(slot);
                kept.push(item);
            }
            Some((code, msg)) => immediate.push((slot.0, slot.1, Outcome::Failed(code, Some(msg)))),
        }
    }
    kept
}

/// Topics with `confluent.*.schema.validation` on: batches whose records do not carry
/// a schema id registered under the topic's subject are refused (`INVALID_RECORD`).
async fn schema_checked(
    broker: &Arc<Broker>,
    slots: &mut Vec<(usize, i32)>,
    appends: Vec<(Arc<crate::replica::Partition>, Bytes)>,
    immediate: &mut Vec<(usize, i32, Outcome)>,
) -> Vec<(Arc<crate::replica::Partition>, Bytes)> {
    use crate::registry::validation;
    if !appends.iter().any(|(p, _)| validation::wanted(p)) {
        return appends;
    }
    let mut kept = Vec::with_capacity(appends.len());
    for (slot, (p, records)) in std::mem::take(slots).into_iter().zip(appends) {
        let verdict = if validation::wanted(&p) {
            validation::check(broker, &p, records.clone()).await
        } else {
            Ok(())
        };
        match verdict {
            Ok(()) => {
                slots.push(slot);
                kept.push((p, records));
            }
            Err((_, msg, records)) if !records.is_empty() => {
                let errors = records
                    .into_iter()
                    .map(|(i, m)| {
                        BatchIndexAndErrorMessage::default()
                            .with_batch_index(i)
                            .with_batch_index_error_message(m.map(StrBytes::from_string))
                    })
                    .collect();
                immediate.push((slot.0, slot.1, Outcome::InvalidRecords(msg, errors)))
            }
            Err((code, msg, _)) => {
                immediate.push((slot.0, slot.1, Outcome::Failed(code, Some(msg))))
            }
        }
    }
    kept
}

/// A produce holding transactional batches needs a transactional id with WRITE on it
/// (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED for the whole request, as Kafka).
fn transactional_refusal(
    access: &Access,
    transactional_id: Option<&str>,
    req: &ProduceRequest,
) -> Option<ResponseError> {
    let records = req
        .topic_data
        .iter()
        .flat_map(|t| t.partition_data.iter().filter_map(|p| p.records.as_ref()));
    if !crate::txn::verify::has_transactional_records(records) {
        return None;
    }
    match transactional_id {
        Some(id) if access.transactional_id(AclOperation::Write, id) => None,
        _ => Some(ResponseError::TransactionalIdAuthorizationFailed),
    }
}

/// Every partition of `req` answered `code`.
fn refuse_all(req: ProduceRequest, code: ResponseError) -> ProduceResponse {
    let topics = req
        .topic_data
        .into_iter()
        .map(|t| {
            let parts = t
                .partition_data
                .iter()
                .map(|p| {
                    PartitionProduceResponse::default()
                        .with_index(p.index)
                        .with_error_code(code.code())
                        .with_base_offset(-1)
                        .with_log_append_time_ms(-1)
                        .with_log_start_offset(-1)
                })
                .collect();
            TopicProduceResponse::default()
                .with_name(t.name)
                .with_partition_responses(parts)
        })
        .collect();
    ProduceResponse::default().with_responses(topics)
}

type Appended = (
    Arc<crate::replica::Partition>,
    Result<AppendInfo, (ResponseError, String, Vec<BatchIndexAndErrorMessage>)>,
);

/// Appends each partition's records (one blocking-pool hop per group of partitions,
/// see [`crate::replica::Partition::append_many`]), then judges each result. A batch
/// a compacted topic refused for keyless records comes back with each one's index, as
/// the validation walk found them (KIP-467's per-record errors).
async fn append_all(
    broker: &Arc<Broker>,
    items: Vec<(Arc<crate::replica::Partition>, Bytes)>,
    now: i64,
) -> Vec<Appended> {
    let results = crate::replica::Partition::append_many(&items, now).await;
    let mut out = Vec::with_capacity(items.len());
    for ((p, records), result) in items.into_iter().zip(results) {
        // The walk that refused keyless records (compacted topics) names each one.
        let keyless = match &result {
            Err(strata_log::LogError::Batch(BatchError::KeylessRecords { records, .. })) => {
                records.iter().copied().map(keyless_record_error).collect()
            }
            _ => Vec::new(),
        };
        let (p, judged) = judge_append(broker, p, &records, result);
        out.push((
            p,
            judged.map_err(|(code, message)| (code, message, keyless)),
        ));
    }
    out
}

/// Counts one partition's append; a refusal is answered with its error code and a
/// message (a sequence gap that an earlier refusal here explains with that refusal's
/// error, see `replica/refusals.rs`).
fn judge_append(
    broker: &Arc<Broker>,
    p: Arc<crate::replica::Partition>,
    records: &Bytes,
    appended: Result<AppendInfo, strata_log::LogError>,
) -> (
    Arc<crate::replica::Partition>,
    Result<AppendInfo, (ResponseError, String)>,
) {
    let len = records.len() as u64;
    let result = match appended {
        Ok(info) => {
            // A retried idempotent batch is answered with its original offsets, not
            // stored again.
            if !info.duplicate {
                broker.metrics.records_in.inc_by(info.record_count as u64);
                broker.metrics.produce_bytes.inc_by(len);
                p.stats
                    .appended(len, info.record_count as u64, info.uncompressed_bytes);
                p.note_written(records);
            }
            Ok(info)
        }
        Err(e) => match p.explained_gap(&e) {
            Some(code) => Err((
                code,
                format!("an earlier batch of this producer was refused here ({code:?}); it goes first: {e}"),
            )),
            None => {
                let code = log_error_code(&e);
                p.note_refusal(records, code);
                Err((code, e.to_string()))
            }
        },
    };
    (p, result)
}
