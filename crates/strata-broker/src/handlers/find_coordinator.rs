//! FindCoordinator: every group's coordinator is the leader of its `__consumer_offsets`
//! partition, every transactional id's the leader of its `__transaction_state`
//! partition, as the metadata image names them (on one node, this broker). Both topics
//! are created on first use, as Kafka does.

use crate::auth::authorizer::Access;
use std::sync::Arc;
use strata_auth::acl::AclOperation;

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::Caller;
use crate::topics::{OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC};
use crate::Broker;

const KEY_TYPE_GROUP: i8 = 0;
const KEY_TYPE_TRANSACTION: i8 = 1;

/// Serves FindCoordinator v0–v4 (v4+ is batched: `coordinator_keys`).
pub async fn handle(
    broker: &Arc<Broker>,
    caller: &Caller,
    access: &Access,
    version: i16,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let keys: Vec<StrBytes> = if version >= 4 {
        req.coordinator_keys.clone()
    } else {
        vec![req.key.clone()]
    };
    let mut coordinators = Vec::with_capacity(keys.len());
    for key in keys {
        let listener = &caller.listener.config.name;
        let found = match req.key_type {
            KEY_TYPE_GROUP => find_group(broker, access, key.as_str(), listener).await,
            KEY_TYPE_TRANSACTION => find_txn(broker, access, key.as_str(), listener).await,
            other => Err((
                ResponseError::InvalidRequest,
                format!("unknown coordinator key type {other}"),
            )),
        };
        let c = Coordinator::default().with_key(key);
        coordinators.push(match found {
            Ok((node_id, host, port)) => c
                .with_node_id(BrokerId(node_id))
                .with_host(StrBytes::from_string(host))
                .with_port(port),
            Err((code, message)) => c
                .with_node_id(BrokerId(-1))
                .with_port(-1)
                .with_error_code(code.code())
                .with_error_message(Some(StrBytes::from_string(message))),
        });
    }
    if version >= 4 {
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let c = coordinators.pop().unwrap_or_default();
    FindCoordinatorResponse::default()
        .with_error_code(c.error_code)
        .with_error_message(if version >= 1 { c.error_message } else { None })
        .with_node_id(c.node_id)
        .with_host(c.host)
        .with_port(c.port)
}

type Found = Result<(i32, String, i32), (ResponseError, String)>;

async fn find_group(broker: &Arc<Broker>, access: &Access, key: &str, listener: &str) -> Found {
    if !access.group(AclOperation::Describe, key) {
        return Err((
            ResponseError::GroupAuthorizationFailed,
            "not authorized to describe this group".to_string(),
        ));
    }
    if key.is_empty() {
        return Err((ResponseError::InvalidGroupId, "empty group id".to_string()));
    }
    match broker.ensure_offsets_topic().await {
        Ok(()) => group_coordinator(broker, key, listener),
        Err(e) => Err((ResponseError::CoordinatorNotAvailable, e.to_string())),
    }
}

/// A transactional id's coordinator (TransactionalId Describe, as Kafka checks).
async fn find_txn(broker: &Arc<Broker>, access: &Access, key: &str, listener: &str) -> Found {
    if !access.transactional_id(AclOperation::Describe, key) {
        return Err((
            ResponseError::TransactionalIdAuthorizationFailed,
            "not authorized to describe this transactional id".to_string(),
        ));
    }
    if key.is_empty() {
        return Err((
            ResponseError::InvalidRequest,
            "empty transactional id".to_string(),
        ));
    }
    if let Err(e) = broker.ensure_transaction_state_topic().await {
        return Err((ResponseError::CoordinatorNotAvailable, e.to_string()));
    }
    broker.txn_coordinator(key, listener).ok_or_else(|| {
        (
            ResponseError::CoordinatorNotAvailable,
            format!("{TRANSACTION_STATE_TOPIC} has no leader for this transactional id yet"),
        )
    })
}

/// The broker leading the group's `__consumer_offsets` partition: (node id, host,
/// port), or COORDINATOR_NOT_AVAILABLE while the partition has no (registered) leader.
fn group_coordinator(
    broker: &Broker,
    group_id: &str,
    listener: &str,
) -> Result<(i32, String, i32), (ResponseError, String)> {
    broker.group_coordinator(group_id, listener).ok_or_else(|| {
        (
            ResponseError::CoordinatorNotAvailable,
            format!("{OFFSETS_TOPIC} has no leader for this group yet"),
        )
    })
}
