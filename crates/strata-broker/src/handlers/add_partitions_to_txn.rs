//! AddPartitionsToTxn v0–v5: adds partitions to the caller's transaction. v0–v3 come
//! from producers (one transaction); v4+ from brokers (ClusterAction), batched, and
//! may only verify (KIP-890: is each partition in that producer's open transaction?).
//! Per transaction, as Kafka: TransactionalId Write first; then every partition must
//! exist and be writable by the principal, else those get their error and the rest
//! OPERATION_NOT_ATTEMPTED; otherwise the coordinator's answer goes to every partition.
//! An adding (not verify-only) v4+ request is a partition leader's implicit add for a
//! client of transactions v2 (KIP-890 part 2), run at that transaction version.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, TransactionalId,
};
use kafka_protocol::ResponseError;
use strata_auth::acl::AclOperation;
use strata_txn::TopicPartition;

use crate::auth::authorizer::Access;
use crate::txn::fenced_for_version;
use crate::Broker;

/// v2 added PRODUCER_FENCED.
const FENCED_SINCE: i16 = 2;
/// v4 is the batched, broker-to-broker form.
const BATCHED_SINCE: i16 = 4;
/// v5 added TRANSACTION_ABORTABLE.
const ABORTABLE_SINCE: i16 = 5;

/// The `transaction.version` of an adding request (Kafka's
/// `transactionVersionForAddPartitionsToTxn`): v4+ come from partition leaders adding
/// a partition implicitly for a client of transactions v2 (Produce v12,
/// TxnOffsetCommit v5); v0–v3 from producers of the classic protocol.
fn tv_of(version: i16) -> i16 {
    if version >= BATCHED_SINCE {
        strata_txn::TV2
    } else {
        0
    }
}

/// One transaction of the request.
struct Txn<'a> {
    id: &'a str,
    producer_id: i64,
    epoch: i16,
    verify_only: bool,
    topics: &'a [AddPartitionsToTxnTopic],
}

/// Serves AddPartitionsToTxn v0–v5.
pub async fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    version: i16,
    req: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    if version < BATCHED_SINCE {
        let txn = Txn {
            id: req.v3_and_below_transactional_id.0.as_str(),
            producer_id: req.v3_and_below_producer_id.0,
            epoch: req.v3_and_below_producer_epoch,
            verify_only: false,
            topics: &req.v3_and_below_topics,
        };
        let results = one(broker, access, version, &txn).await;
        return AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results);
    }
    if !access.cluster(AclOperation::ClusterAction) {
        return AddPartitionsToTxnResponse::default()
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code());
    }
    let mut results = Vec::with_capacity(req.transactions.len());
    for t in &req.transactions {
        let txn = Txn {
            id: t.transactional_id.0.as_str(),
            producer_id: t.producer_id.0,
            epoch: t.producer_epoch,
            verify_only: t.verify_only,
            topics: &t.topics,
        };
        results.push(
            AddPartitionsToTxnResult::default()
                .with_transactional_id(TransactionalId(t.transactional_id.0.clone()))
                .with_topic_results(one(broker, access, version, &txn).await),
        );
    }
    AddPartitionsToTxnResponse::default().with_results_by_transaction(results)
}

/// The answer for one transaction, per partition.
async fn one(
    broker: &Arc<Broker>,
    access: &Access,
    version: i16,
    txn: &Txn<'_>,
) -> Vec<AddPartitionsToTxnTopicResult> {
    let partitions: Vec<TopicPartition> = txn
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| TopicPartition::new(t.name.0.as_str(), *p))
        })
        .collect();
    let errors = match refusals(broker, access, txn.id, &partitions) {
        Some(refused) => refused,
        None if txn.verify_only => verify(broker, version, txn, &partitions),
        None => {
            let outcome = broker
                .txn
                .add_partitions(
                    broker,
                    txn.id,
                    txn.producer_id,
                    txn.epoch,
                    partitions.clone(),
                    tv_of(version),
                )
                .await;
            let code = outcome
                .err()
                .map(|e| fenced_for_version(e, version, FENCED_SINCE));
            partitions.iter().map(|p| (p.clone(), code)).collect()
        }
    };
    results(errors)
}

/// Per-partition refusals before the coordinator is asked, if any.
fn refusals(
    broker: &Broker,
    access: &Access,
    id: &str,
    partitions: &[TopicPartition],
) -> Option<Vec<(TopicPartition, Option<ResponseError>)>> {
    if !access.transactional_id(AclOperation::Write, id) {
        let e = Some(ResponseError::TransactionalIdAuthorizationFailed);
        return Some(partitions.iter().map(|p| (p.clone(), e)).collect());
    }
    let image = broker.meta.image();
    let errors: Vec<_> = partitions
        .iter()
        .map(|p| {
            let e = if !access.topic(AclOperation::Write, &p.topic) {
                Some(ResponseError::TopicAuthorizationFailed)
            } else if image.partition(&p.topic, p.partition).is_none() {
                Some(ResponseError::UnknownTopicOrPartition)
            } else {
                None
            };
            (p.clone(), e)
        })
        .collect();
    if errors.iter().all(|(_, e)| e.is_none()) {
        return None;
    }
    Some(
        errors
            .into_iter()
            .map(|(p, e)| (p, e.or(Some(ResponseError::OperationNotAttempted))))
            .collect(),
    )
}

/// KIP-890 verification: partitions outside the open transaction get
/// TRANSACTION_ABORTABLE (INVALID_TXN_STATE before v5).
fn verify(
    broker: &Broker,
    version: i16,
    txn: &Txn<'_>,
    partitions: &[TopicPartition],
) -> Vec<(TopicPartition, Option<ResponseError>)> {
    let outside = if version >= ABORTABLE_SINCE {
        ResponseError::TransactionAbortable
    } else {
        ResponseError::InvalidTxnState
    };
    match broker
        .txn
        .verify_partitions(broker, txn.id, txn.producer_id, txn.epoch, partitions)
    {
        Ok(found) => found
            .into_iter()
            .map(|(p, inside)| (p, (!inside).then_some(outside)))
            .collect(),
        Err(e) => {
            let e = Some(fenced_for_version(e, version, FENCED_SINCE));
            partitions.iter().map(|p| (p.clone(), e)).collect()
        }
    }
}

fn results(
    errors: Vec<(TopicPartition, Option<ResponseError>)>,
) -> Vec<AddPartitionsToTxnTopicResult> {
    let mut by_topic: BTreeMap<String, Vec<AddPartitionsToTxnPartitionResult>> = BTreeMap::new();
    for (p, e) in errors {
        by_topic.entry(p.topic).or_default().push(
            AddPartitionsToTxnPartitionResult::default()
                .with_partition_index(p.partition)
                .with_partition_error_code(e.map_or(0, |e| e.code())),
        );
    }
    by_topic
        .into_iter()
        .map(|(topic, parts)| {
            AddPartitionsToTxnTopicResult::default()
                .with_name(kafka_protocol::messages::TopicName(
                    kafka_protocol::protocol::StrBytes::from_string(topic),
                ))
                .with_results_by_partition(parts)
        })
        .collect()
}
