//! AddOffsetsToTxn: adds the group's `__consumer_offsets` partition to the caller's
//! transaction (its TxnOffsetCommit then goes to the group coordinator).

use std::sync::Arc;

use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};
use kafka_protocol::ResponseError;
use strata_auth::acl::AclOperation;
use strata_txn::TopicPartition;

use crate::auth::authorizer::Access;
use crate::topics::OFFSETS_TOPIC;
use crate::txn::fenced_for_version;
use crate::Broker;

/// AddOffsetsToTxn v2 added PRODUCER_FENCED.
const FENCED_SINCE: i16 = 2;

/// Serves AddOffsetsToTxn v0–v4.
pub async fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    version: i16,
    req: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let code = match add(broker, access, &req).await {
        Ok(()) => 0,
        Err(e) => fenced_for_version(e, version, FENCED_SINCE).code(),
    };
    AddOffsetsToTxnResponse::default().with_error_code(code)
}

async fn add(
    broker: &Arc<Broker>,
    access: &Access,
    req: &AddOffsetsToTxnRequest,
) -> Result<(), ResponseError> {
    let id = req.transactional_id.0.as_str();
    let group = req.group_id.0.as_str();
    if !access.transactional_id(AclOperation::Write, id) {
        return Err(ResponseError::TransactionalIdAuthorizationFailed);
    }
    if !access.group(AclOperation::Read, group) {
        return Err(ResponseError::GroupAuthorizationFailed);
    }
    // The partition the group's offsets (and so its transactional commits) live in.
    broker
        .ensure_offsets_topic()
        .await
        .map_err(|_| ResponseError::CoordinatorNotAvailable)?;
    let n = broker
        .meta
        .image()
        .topic(OFFSETS_TOPIC)
        .map_or(0, |t| t.partitions.len() as i32);
    let partition = strata_group::partition_for(group, n);
    broker
        .txn
        .add_partitions(
            broker,
            id,
            req.producer_id.0,
            req.producer_epoch,
            vec![TopicPartition::new(OFFSETS_TOPIC, partition)],
            // Kafka runs AddOffsetsToTxn at transaction version 0 whatever its version.
            0,
        )
        .await
}
