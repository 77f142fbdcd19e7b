//! SyncGroup: the leader hands out assignments; everyone waits for theirs.

use std::sync::Arc;

use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};
use kafka_protocol::protocol::StrBytes;
use strata_group::SyncRequest;

use crate::Broker;

/// Serves SyncGroup v0–v5.
pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    req: SyncGroupRequest,
    turn: super::Turn,
) -> SyncGroupResponse {
    let group_id = req.group_id.0.to_string();
    if let Err(e) = strata_group::validate_group_id(&group_id) {
        return SyncGroupResponse::default().with_error_code(e.code());
    }
    let sync = SyncRequest {
        request_id: 0,
        member_id: req.member_id.to_string(),
        group_instance_id: req.group_instance_id.as_ref().map(|s| s.to_string()),
        generation_id: req.generation_id,
        protocol_type: req.protocol_type.as_ref().map(|s| s.to_string()),
        protocol_name: req.protocol_name.as_ref().map(|s| s.to_string()),
        assignments: req
            .assignments
            .into_iter()
            .map(|a| (a.member_id.to_string(), a.assignment))
            .collect(),
    };
    let r = broker.groups.sync(broker, &group_id, sync, turn).await;
    SyncGroupResponse::default()
        .with_error_code(r.error.map_or(0, |e| e.code()))
        .with_protocol_type(
            r.protocol_type
                .filter(|_| version >= 5)
                .map(StrBytes::from_string),
        )
        .with_protocol_name(
            r.protocol_name
                .filter(|_| version >= 5)
                .map(StrBytes::from_string),
        )
        .with_assignment(r.assignment)
}
