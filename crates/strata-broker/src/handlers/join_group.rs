//! JoinGroup: park until the group's join phase completes (classic protocol).

use std::sync::Arc;

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};
use kafka_protocol::protocol::StrBytes;
use strata_group::JoinRequest;

use super::RequestContext;
use crate::Broker;

/// Serves JoinGroup v0–v9.
pub async fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    version: i16,
    req: JoinGroupRequest,
    turn: super::Turn,
) -> JoinGroupResponse {
    let group_id = req.group_id.0.to_string();
    let error = |code: i16| {
        JoinGroupResponse::default()
            .with_error_code(code)
            .with_generation_id(-1)
            .with_member_id(req.member_id.clone())
            .with_protocol_name((version < 7).then(StrBytes::default))
    };
    if let Err(e) = strata_group::validate_group_id(&group_id) {
        return error(e.code());
    }
    if broker.ensure_offsets_topic().await.is_err() {
        return error(kafka_protocol::ResponseError::CoordinatorNotAvailable.code());
    }
    let join = JoinRequest {
        request_id: 0,
        member_id: req.member_id.to_string(),
        group_instance_id: req.group_instance_id.as_ref().map(|s| s.to_string()),
        client_id: ctx.client_id.clone(),
        client_host: ctx.client_host.clone(),
        session_timeout_ms: req.session_timeout_ms,
        // v0 has no rebalance timeout: Kafka uses the session timeout.
        rebalance_timeout_ms: if version >= 1 {
            req.rebalance_timeout_ms
        } else {
            req.session_timeout_ms
        },
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), p.metadata.clone()))
            .collect(),
        reason: req.reason.as_ref().map(|r| r.to_string()),
        require_known_member_id: version >= 4,
        supports_skip_assignment: version >= 9,
    };
    let r = broker.groups.join(broker, &group_id, join, turn).await;
    let members = r
        .members
        .into_iter()
        .map(|m| {
            JoinGroupResponseMember::default()
                .with_member_id(StrBytes::from_string(m.member_id))
                .with_group_instance_id(
                    m.group_instance_id
                        .filter(|_| version >= 5)
                        .map(StrBytes::from_string),
                )
                .with_metadata(m.metadata)
        })
        .collect();
    let protocol_name = match (r.protocol_name, version >= 7) {
        (name, true) => name.map(StrBytes::from_string),
        // Before v7 the protocol name is not nullable.
        (name, false) => Some(StrBytes::from_string(name.unwrap_or_default())),
    };
    JoinGroupResponse::default()
        .with_error_code(r.error.map_or(0, |e| e.code()))
        .with_generation_id(r.generation_id)
        .with_protocol_type(
            r.protocol_type
                .filter(|_| version >= 7)
                .map(StrBytes::from_string),
        )
        .with_protocol_name(protocol_name)
        .with_leader(StrBytes::from_string(r.leader))
        .with_skip_assignment(version >= 9 && r.skip_assignment)
        .with_member_id(StrBytes::from_string(r.member_id))
        .with_members(members)
}
