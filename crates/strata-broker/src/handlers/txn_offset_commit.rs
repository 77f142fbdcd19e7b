//! TxnOffsetCommit (v0–v5): a transactional producer commits a group's offsets as part
//! of its transaction (KIP-98; v3+ carries the consumer's generation for KIP-447
//! fencing). The offsets stay pending until the transaction's marker; see
//! `group/txn_offsets.rs`. v5 is transactions v2 (KIP-890 part 2): its client sends
//! no AddOffsetsToTxn, so the group's `__consumer_offsets` partition is added to the
//! transaction here before the commit, as Kafka's group coordinator does.
//!
//! Steps: the transactional id and the group are authorized in `gate.rs` (WRITE,
//! READ); here topics the principal may not READ are refused, then each partition is
//! checked (unknown, metadata too large), then the rest go to the coordinator as one
//! write.

use std::sync::Arc;

use kafka_protocol::messages::txn_offset_commit_request::TxnOffsetCommitRequestTopic;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TopicName, TxnOffsetCommitRequest, TxnOffsetCommitResponse};
use kafka_protocol::ResponseError;
use strata_auth::acl::AclOperation;
use strata_group::OffsetCommitValue;

use super::Turn;
use crate::auth::authorizer::Access;
use crate::broker::now_ms;
use crate::group::TxnCommitter;
use crate::Broker;

/// One partition of the request: its topic's index in the request, its index, and the
/// value to commit or the error decided before the coordinator is asked.
type Slot = (usize, i32, Result<OffsetCommitValue, i16>);

/// TxnOffsetCommit v5 is the first of transactions v2.
const IMPLICIT_ADD_SINCE: i16 = 5;

/// Serves TxnOffsetCommit v0–v5.
pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    access: &Access,
    req: TxnOffsetCommitRequest,
    turn: Turn,
) -> TxnOffsetCommitResponse {
    let slots = check_partitions(broker, access, &req).await;
    let to_commit: Vec<(String, i32, OffsetCommitValue)> = slots
        .iter()
        .filter_map(|(t, p, d)| {
            d.as_ref()
                .ok()
                .map(|v| (req.topics[*t].name.0.to_string(), *p, v.clone()))
        })
        .collect();
    let refused = if version >= IMPLICIT_ADD_SINCE && !to_commit.is_empty() {
        add_offsets_partition(broker, &req).await
    } else {
        None
    };
    let outcomes = if to_commit.is_empty() {
        Vec::new()
    } else if let Some(code) = refused {
        vec![Err(strata_group::GroupError::Other(code.code())); to_commit.len()]
    } else {
        let who = TxnCommitter {
            producer_id: req.producer_id.0,
            producer_epoch: req.producer_epoch,
            member_id: req.member_id.as_str(),
            instance_id: req.group_instance_id.as_ref().map(|s| s.as_str()),
            generation: req.generation_id,
        };
        broker
            .groups
            .commit_transactional(broker, req.group_id.0.as_str(), who, to_commit, turn)
            .await
    };
    respond(version, &req.topics, slots, outcomes)
}

/// Transactions v2: adds the group's `__consumer_offsets` partition to the producer's
/// transaction; the error for every partition if that fails.
async fn add_offsets_partition(
    broker: &Arc<Broker>,
    req: &TxnOffsetCommitRequest,
) -> Option<ResponseError> {
    let group = req.group_id.0.as_str();
    let n = broker
        .meta
        .image()
        .topic(crate::topics::OFFSETS_TOPIC)
        .map_or(0, |t| t.partitions.len() as i32);
    if n == 0 {
        return Some(ResponseError::CoordinatorNotAvailable);
    }
    let tp = strata_txn::TopicPartition::new(
        crate::topics::OFFSETS_TOPIC,
        strata_group::partition_for(group, n),
    );
    let answers = crate::txn::verify::add_implicitly(
        broker,
        req.transactional_id.0.as_str(),
        req.producer_id.0,
        req.producer_epoch,
        &[tp],
    )
    .await;
    let answer = answers
        .into_iter()
        .next()
        .unwrap_or(Err(ResponseError::UnknownServerError));
    crate::txn::verify::offset_commit_error(answer)
}

/// Decides every partition that does not reach the coordinator: topics the principal
/// may not READ, an invalid group id or producer, no `__consumer_offsets`, unknown
/// topics or partitions, metadata over `offset.metadata.max.bytes`.
async fn check_partitions(
    broker: &Arc<Broker>,
    access: &Access,
    req: &TxnOffsetCommitRequest,
) -> Vec<Slot> {
    let group_error = request_error(broker, req).await;
    let image = broker.meta.image();
    let now = now_ms();
    let mut slots = Vec::new();
    for (t, topic) in req.topics.iter().enumerate() {
        let name = topic.name.0.as_str();
        let readable = access.topic(AclOperation::Read, name);
        let known = image.topic(name);
        for p in &topic.partitions {
            let decided = if !readable {
                Err(ResponseError::TopicAuthorizationFailed.code())
            } else if let Some(code) = group_error {
                Err(code)
            } else {
                super::offset_commit::commit_value(
                    known.map(|k| &**k),
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.committed_metadata.as_deref(),
                    now,
                )
            };
            slots.push((t, p.partition_index, decided));
        }
    }
    slots
}

/// The error every partition gets, if the request as a whole cannot be served.
async fn request_error(broker: &Arc<Broker>, req: &TxnOffsetCommitRequest) -> Option<i16> {
    if let Err(e) = strata_group::validate_group_id(req.group_id.0.as_str()) {
        return Some(e.code());
    }
    if req.producer_id.0 < 0 {
        return Some(ResponseError::InvalidProducerIdMapping.code());
    }
    if req.producer_epoch < 0 {
        return Some(ResponseError::InvalidProducerEpoch.code());
    }
    broker
        .ensure_offsets_topic()
        .await
        .err()
        .map(|_| ResponseError::CoordinatorNotAvailable.code())
}

/// The response: one entry per partition of the request, in request order.
fn respond(
    version: i16,
    request_topics: &[TxnOffsetCommitRequestTopic],
    slots: Vec<Slot>,
    outcomes: Vec<Result<(), strata_group::GroupError>>,
) -> TxnOffsetCommitResponse {
    let mut outcomes = outcomes.into_iter();
    let mut topics: Vec<TxnOffsetCommitResponseTopic> = request_topics
        .iter()
        .map(|t| TxnOffsetCommitResponseTopic::default().with_name(t.name.clone()))
        .collect();
    for (t, p, decided) in slots {
        let mut code = match decided {
            Err(code) => code,
            Ok(_) => match outcomes.next() {
                Some(Ok(())) => 0,
                Some(Err(e)) => e.code(),
                None => ResponseError::UnknownServerError.code(),
            },
        };
        // Producers before v2 (Kafka 0.11 to 2.0) do not retry a loading coordinator.
        if version < 2 && code == ResponseError::CoordinatorLoadInProgress.code() {
            code = ResponseError::CoordinatorNotAvailable.code();
        }
        topics[t].partitions.push(
            TxnOffsetCommitResponsePartition::default()
                .with_partition_index(p)
                .with_error_code(code),
        );
    }
    TxnOffsetCommitResponse::default().with_topics(topics)
}

/// The answer when the whole request is refused (`gate.rs`): every partition gets
/// `code`.
pub(crate) fn refused(req: &TxnOffsetCommitRequest, code: i16) -> TxnOffsetCommitResponse {
    let topics = req
        .topics
        .iter()
        .map(|t| {
            TxnOffsetCommitResponseTopic::default()
                .with_name(TopicName(t.name.0.clone()))
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            TxnOffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(code)
                        })
                        .collect(),
                )
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}
