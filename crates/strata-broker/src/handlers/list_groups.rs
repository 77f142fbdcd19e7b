//! ListGroups: the groups this broker coordinates (those of the `__consumer_offsets`
//! partitions it leads), optionally filtered by state and (v5, KIP-848) by type. Admin
//! clients ask every broker. Every group here is a classic group.

use crate::auth::authorizer::Access;
use std::sync::Arc;
use strata_auth::acl::AclOperation;

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::Broker;

/// The KIP-848 type of every group this broker coordinates.
const CLASSIC: &str = "classic";

/// Serves ListGroups v0–v5.
pub fn handle(
    broker: &Arc<Broker>,
    version: i16,
    access: &Access,
    req: ListGroupsRequest,
) -> ListGroupsResponse {
    // DESCRIBE on the cluster lists every group; else those the principal may describe.
    let all = access.cluster(AclOperation::Describe);
    let filter: Vec<String> = req
        .states_filter
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    // A type filter without "classic" matches none of our groups.
    let type_matches = req.types_filter.is_empty()
        || req
            .types_filter
            .iter()
            .any(|t| t.trim().eq_ignore_ascii_case(CLASSIC));
    if !type_matches {
        return ListGroupsResponse::default();
    }
    let (error, listed) = broker.groups.list(broker);
    let groups = listed
        .into_iter()
        .filter(|(_, state, _)| filter.is_empty() || filter.contains(&state.to_ascii_lowercase()))
        .filter(|(id, _, _)| all || access.group(AclOperation::Describe, id))
        .map(|(id, state, protocol_type)| {
            ListedGroup::default()
                .with_group_id(GroupId(StrBytes::from_string(id)))
                .with_protocol_type(StrBytes::from_string(protocol_type))
                .with_group_state(if version >= 4 {
                    StrBytes::from_static_str(state)
                } else {
                    StrBytes::default()
                })
                .with_group_type(if version >= 5 {
                    StrBytes::from_static_str(CLASSIC)
                } else {
                    StrBytes::default()
                })
        })
        .collect();
    ListGroupsResponse::default()
        .with_error_code(error.map_or(0, |e| e.code()))
        .with_groups(groups)
}
