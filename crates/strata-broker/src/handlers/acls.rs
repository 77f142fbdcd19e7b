//! CreateAcls, DescribeAcls, DeleteAcls (Kafka's semantics, `strata-auth`'s rules).
//! ACLs are metadata records (`CreateAcl`, `DeleteAcl`); every broker's authorizer is
//! rebuilt from its image. Creating and deleting need ALTER on the cluster, describing
//! DESCRIBE; without an authorizer these APIs answer SECURITY_DISABLED, as Kafka does.

use std::sync::Arc;

use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strata_auth::acl::{
    AccessControlEntryFilter, AclBinding, AclBindingFilter, AclOperation, AclPermission,
    PatternType, ResourcePatternFilter, ResourceType,
};
use strata_meta::MetadataRecord;

use crate::auth::authorizer::{self, Access};
use crate::Broker;

type Failure = (ResponseError, String);

fn disabled() -> Failure {
    (
        ResponseError::SecurityDisabled,
        "no authorizer is configured on this broker (authorizer.class.name)".into(),
    )
}

fn denied() -> Failure {
    (
        ResponseError::ClusterAuthorizationFailed,
        "cluster authorization failed".into(),
    )
}

/// Why `access` may not do `op` on the ACLs: no authorizer, or no right on the cluster.
fn refusal(access: &Access, op: AclOperation) -> Option<Failure> {
    if !access.enabled() {
        Some(disabled())
    } else if !access.cluster(op) {
        Some(denied())
    } else {
        None
    }
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Serves CreateAcls v1–v3.
pub async fn handle_create(
    broker: &Arc<Broker>,
    access: &Access,
    req: CreateAclsRequest,
) -> CreateAclsResponse {
    let refusal = refusal(access, AclOperation::Alter);
    let mut results = Vec::with_capacity(req.creations.len());
    let mut records = Vec::new();
    let mut slots = Vec::new();
    for c in &req.creations {
        let outcome = match &refusal {
            Some(f) => Err(f.clone()),
            None => creation(c),
        };
        match outcome {
            Ok(b) => {
                slots.push(results.len());
                records.push(MetadataRecord::CreateAcl {
                    acl: authorizer::record(&b),
                });
                results.push(AclCreationResult::default());
            }
            Err((code, msg)) => results.push(
                AclCreationResult::default()
                    .with_error_code(code.code())
                    .with_error_message(Some(StrBytes::from_string(msg))),
            ),
        }
    }
    if !records.is_empty() {
        if let Err(e) = broker.meta.commit(records).await {
            let code = crate::topics::commit_error_code(&e);
            for i in slots {
                results[i] = AclCreationResult::default()
                    .with_error_code(code)
                    .with_error_message(Some(StrBytes::from_string(e.to_string())));
            }
        }
    }
    CreateAclsResponse::default().with_results(results)
}

fn creation(
    c: &kafka_protocol::messages::create_acls_request::AclCreation,
) -> Result<AclBinding, Failure> {
    let invalid = |what: &str| (ResponseError::InvalidRequest, what.to_string());
    let b = AclBinding::new(
        ResourceType::from_code(c.resource_type).ok_or_else(|| invalid("unknown resource type"))?,
        c.resource_name.to_string(),
        PatternType::from_code(c.resource_pattern_type)
            .ok_or_else(|| invalid("unknown pattern type"))?,
        c.principal.to_string(),
        c.host.to_string(),
        AclOperation::from_code(c.operation).ok_or_else(|| invalid("unknown operation"))?,
        AclPermission::from_code(c.permission_type)
            .ok_or_else(|| invalid("unknown permission type"))?,
    );
    strata_auth::acl::validate_binding(&b)
        .map_err(|e| (ResponseError::InvalidRequest, e.to_string()))?;
    Ok(b)
}

/// A filter from the wire fields DescribeAcls and DeleteAcls share.
#[allow(clippy::too_many_arguments)]
fn filter(
    resource_type: i8,
    name: Option<&StrBytes>,
    pattern_type: i8,
    principal: Option<&StrBytes>,
    host: Option<&StrBytes>,
    operation: i8,
    permission: i8,
) -> Result<AclBindingFilter, Failure> {
    let invalid = |what: &str| (ResponseError::InvalidRequest, what.to_string());
    Ok(AclBindingFilter {
        pattern: ResourcePatternFilter {
            resource_type: ResourceType::from_code(resource_type)
                .ok_or_else(|| invalid("unknown resource type filter"))?,
            name: name.map(|n| n.to_string()),
            pattern_type: PatternType::from_code(pattern_type)
                .ok_or_else(|| invalid("unknown pattern type filter"))?,
        },
        entry: AccessControlEntryFilter {
            principal: principal.map(|p| p.to_string()),
            host: host.map(|h| h.to_string()),
            operation: AclOperation::from_code(operation)
                .ok_or_else(|| invalid("unknown operation filter"))?,
            permission: AclPermission::from_code(permission)
                .ok_or_else(|| invalid("unknown permission filter"))?,
        },
    })
}

/// Serves DescribeAcls v1–v3.
pub fn handle_describe(
    broker: &Arc<Broker>,
    access: &Access,
    req: DescribeAclsRequest,
) -> DescribeAclsResponse {
    let fail = |(code, msg): Failure| {
        DescribeAclsResponse::default()
            .with_error_code(code.code())
            .with_error_message(Some(StrBytes::from_string(msg)))
    };
    if let Some(f) = refusal(access, AclOperation::Describe) {
        return fail(f);
    }
    let f = match filter(
        req.resource_type_filter,
        req.resource_name_filter.as_ref(),
        req.pattern_type_filter,
        req.principal_filter.as_ref(),
        req.host_filter.as_ref(),
        req.operation,
        req.permission_type,
    ) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let Some(authz) = broker.authorizer_now() else {
        return fail(disabled());
    };
    // Grouped by resource pattern, as Kafka answers.
    let mut resources: Vec<DescribeAclsResource> = Vec::new();
    for b in authz.describe(&f) {
        let acl = AclDescription::default()
            .with_principal(str_bytes(&b.entry.principal))
            .with_host(str_bytes(&b.entry.host))
            .with_operation(b.entry.operation.code())
            .with_permission_type(b.entry.permission.code());
        let p = &b.pattern;
        match resources.last_mut() {
            Some(r)
                if r.resource_type == p.resource_type.code()
                    && r.resource_name.as_str() == p.name
                    && r.pattern_type == p.pattern_type.code() =>
            {
                r.acls.push(acl)
            }
            _ => resources.push(
                DescribeAclsResource::default()
                    .with_resource_type(p.resource_type.code())
                    .with_resource_name(str_bytes(&p.name))
                    .with_pattern_type(p.pattern_type.code())
                    .with_acls(vec![acl]),
            ),
        }
    }
    DescribeAclsResponse::default().with_resources(resources)
}

/// Serves DeleteAcls v1–v3.
pub async fn handle_delete(
    broker: &Arc<Broker>,
    access: &Access,
    req: DeleteAclsRequest,
) -> DeleteAclsResponse {
    let refusal = refusal(access, AclOperation::Alter);
    let authz = broker.authorizer_now();
    let mut results = Vec::with_capacity(req.filters.len());
    let mut records = Vec::new();
    let mut deleted_any = Vec::new();
    for f in &req.filters {
        let parsed = match &refusal {
            Some(r) => Err(r.clone()),
            None => filter(
                f.resource_type_filter,
                f.resource_name_filter.as_ref(),
                f.pattern_type_filter,
                f.principal_filter.as_ref(),
                f.host_filter.as_ref(),
                f.operation,
                f.permission_type,
            ),
        };
        let filter = match (parsed, &authz) {
            (Ok(filter), Some(a)) => (filter, a),
            (Err((code, msg)), _) => {
                results.push(
                    DeleteAclsFilterResult::default()
                        .with_error_code(code.code())
                        .with_error_message(Some(StrBytes::from_string(msg))),
                );
                continue;
            }
            // Unreachable: with an authorizer configured there is one.
            (Ok(_), None) => {
                let (code, msg) = disabled();
                results.push(
                    DeleteAclsFilterResult::default()
                        .with_error_code(code.code())
                        .with_error_message(Some(StrBytes::from_string(msg))),
                );
                continue;
            }
        };
        let (filter, a) = filter;
        let matching = a.describe(&filter);
        let mut out = Vec::with_capacity(matching.len());
        for b in matching {
            let r = authorizer::record(&b);
            if !records
                .iter()
                .any(|x| matches!(x, MetadataRecord::DeleteAcl { acl } if *acl == r))
            {
                records.push(MetadataRecord::DeleteAcl { acl: r });
            }
            out.push(
                DeleteAclsMatchingAcl::default()
                    .with_resource_type(b.pattern.resource_type.code())
                    .with_resource_name(str_bytes(&b.pattern.name))
                    .with_pattern_type(b.pattern.pattern_type.code())
                    .with_principal(str_bytes(&b.entry.principal))
                    .with_host(str_bytes(&b.entry.host))
                    .with_operation(b.entry.operation.code())
                    .with_permission_type(b.entry.permission.code()),
            );
        }
        deleted_any.push(results.len());
        results.push(DeleteAclsFilterResult::default().with_matching_acls(out));
    }
    if !records.is_empty() {
        if let Err(e) = broker.meta.commit(records).await {
            let code = crate::topics::commit_error_code(&e);
            for i in deleted_any {
                results[i] = DeleteAclsFilterResult::default()
                    .with_error_code(code)
                    .with_error_message(Some(StrBytes::from_string(e.to_string())));
            }
        }
    }
    DeleteAclsResponse::default().with_filter_results(results)
}
