//! LeaveGroup: one member (v0–v2) or a batch of members by id or instance id (v3+).

use std::sync::Arc;

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use crate::Broker;

/// Serves LeaveGroup v0–v5.
pub fn handle(broker: &Arc<Broker>, version: i16, req: LeaveGroupRequest) -> LeaveGroupResponse {
    let group_id = req.group_id.0.to_string();
    let members: Vec<(Option<String>, Option<String>)> = if version >= 3 {
        req.members
            .iter()
            .map(|m| {
                let id = m.member_id.to_string();
                (
                    (!id.is_empty()).then_some(id),
                    m.group_instance_id.as_ref().map(|s| s.to_string()),
                )
            })
            .collect()
    } else {
        vec![(Some(req.member_id.to_string()), None)]
    };
    let n = members.len();
    // As Kafka: an unknown group answers every leaving member UNKNOWN_MEMBER_ID.
    let outcome = broker
        .groups
        .leave(broker, &group_id, members)
        .or_else(|e| {
            if version >= 3 && e == strata_group::GroupError::UnknownMemberId {
                Ok(vec![Err(e); n])
            } else {
                Err(e)
            }
        });
    match outcome {
        Err(e) => LeaveGroupResponse::default().with_error_code(e.code()),
        Ok(results) if version < 3 => LeaveGroupResponse::default().with_error_code(
            results
                .first()
                .and_then(|r| r.err())
                .map_or(0, |e| e.code()),
        ),
        Ok(results) => LeaveGroupResponse::default().with_members(
            req.members
                .into_iter()
                .zip(results)
                .map(|(m, r)| {
                    MemberResponse::default()
                        .with_member_id(m.member_id)
                        .with_group_instance_id(m.group_instance_id)
                        .with_error_code(r.err().map_or(0, |e| e.code()))
                })
                .collect(),
        ),
    }
}
