//! DeleteGroups: remove empty groups and their committed offsets.

use crate::auth::authorizer::Access;
use std::sync::Arc;
use strata_auth::acl::AclOperation;

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use crate::Broker;

/// Serves DeleteGroups v0–v2.
pub async fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    req: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let mut results = Vec::with_capacity(req.groups_names.len());
    for gid in req.groups_names {
        let code = match strata_group::validate_group_id(gid.0.as_str()) {
            _ if !access.group(AclOperation::Delete, gid.0.as_str()) => {
                kafka_protocol::ResponseError::GroupAuthorizationFailed.code()
            }
            Err(e) => e.code(),
            Ok(()) => match broker.groups.delete_group(broker, gid.0.as_str()).await {
                Ok(()) => 0,
                Err(e) => e.code(),
            },
        };
        results.push(
            DeletableGroupResult::default()
                .with_group_id(gid)
                .with_error_code(code),
        );
    }
    DeleteGroupsResponse::default().with_results(results)
}
