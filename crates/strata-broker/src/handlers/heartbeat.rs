//! Heartbeat: keeps a member's session alive and tells it when to rejoin.

use std::sync::Arc;

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use crate::Broker;

/// Serves Heartbeat v0–v4.
pub fn handle(broker: &Arc<Broker>, req: HeartbeatRequest) -> HeartbeatResponse {
    let instance = req.group_instance_id.as_ref().map(|s| s.as_str());
    let code = match broker.groups.heartbeat(
        broker,
        req.group_id.0.as_str(),
        req.member_id.as_str(),
        instance,
        req.generation_id,
    ) {
        Ok(()) => 0,
        Err(e) => e.code(),
    };
    HeartbeatResponse::default().with_error_code(code)
}
