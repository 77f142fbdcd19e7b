//! FindCoordinator: every group's coordinator is the leader of its `__consumer_offsets`
//! partition — on one node, this broker. The offsets topic is created on first use, as
//! Kafka does.

use std::sync::Arc;

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use crate::Broker;

const KEY_TYPE_GROUP: i8 = 0;

/// Serves FindCoordinator v0–v4 (v4+ is batched: `coordinator_keys`).
pub async fn handle(
    broker: &Arc<Broker>,
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
        let (code, message) = if req.key_type != KEY_TYPE_GROUP {
            (
                ResponseError::CoordinatorNotAvailable.code(),
                Some("transactions are not supported".to_string()),
            )
        } else if key.is_empty() {
            (
                ResponseError::InvalidGroupId.code(),
                Some("empty group id".to_string()),
            )
        } else {
            match broker.ensure_offsets_topic().await {
                Ok(()) => (0, None),
                Err(e) => (
                    ResponseError::CoordinatorNotAvailable.code(),
                    Some(e.to_string()),
                ),
            }
        };
        let ok = code == 0;
        coordinators.push(
            Coordinator::default()
                .with_key(key)
                .with_node_id(BrokerId(if ok { broker.config.node_id } else { -1 }))
                .with_host(if ok {
                    StrBytes::from_string(broker.config.advertise_host.clone())
                } else {
                    StrBytes::default()
                })
                .with_port(if ok { broker.config.advertise_port } else { -1 })
                .with_error_code(code)
                .with_error_message(message.map(StrBytes::from_string)),
        );
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
