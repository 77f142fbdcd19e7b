//! DescribeGroups: state, protocol and members with their assignments.

use crate::auth::authorizer::Access;
use std::sync::Arc;
use strata_auth::acl::AclOperation;

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use crate::Broker;

/// Serves DescribeGroups v0–v5. An unknown group is described as `Dead` (as Kafka
/// does before v6).
pub fn handle(
    broker: &Arc<Broker>,
    version: i16,
    access: &Access,
    req: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let groups = req
        .groups
        .into_iter()
        .map(|gid| {
            if !access.group(AclOperation::Describe, gid.0.as_str()) {
                return DescribedGroup::default()
                    .with_group_id(gid)
                    .with_error_code(ResponseError::GroupAuthorizationFailed.code());
            }
            if let Err(e) = strata_group::validate_group_id(gid.0.as_str()) {
                return DescribedGroup::default()
                    .with_group_id(gid)
                    .with_error_code(e.code());
            }
            let described = match broker.groups.describe(broker, gid.0.as_str()) {
                Ok(d) => d,
                Err(e) => {
                    return DescribedGroup::default()
                        .with_group_id(gid)
                        .with_error_code(e.code())
                }
            };
            let Some(d) = described else {
                // v6 (KIP-1043): an unknown group is an error with a message.
                let missing = version >= 6;
                let message = format!("group '{}' does not exist", gid.0.as_str());
                return DescribedGroup::default()
                    .with_group_id(gid)
                    .with_group_state(StrBytes::from_static_str("Dead"))
                    .with_error_code(if missing {
                        ResponseError::GroupIdNotFound.code()
                    } else {
                        0
                    })
                    .with_error_message(missing.then(|| StrBytes::from_string(message)));
            };
            DescribedGroup::default()
                .with_group_id(gid)
                .with_group_state(StrBytes::from_static_str(d.state))
                .with_protocol_type(StrBytes::from_string(d.protocol_type))
                .with_protocol_data(StrBytes::from_string(d.protocol))
                .with_members(
                    d.members
                        .into_iter()
                        .map(|m| {
                            DescribedGroupMember::default()
                                .with_member_id(StrBytes::from_string(m.member_id))
                                .with_group_instance_id(
                                    m.group_instance_id
                                        .filter(|_| version >= 4)
                                        .map(StrBytes::from_string),
                                )
                                .with_client_id(StrBytes::from_string(m.client_id))
                                .with_client_host(StrBytes::from_string(m.client_host))
                                .with_member_metadata(m.metadata)
                                .with_member_assignment(m.assignment)
                        })
                        .collect(),
                )
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}
