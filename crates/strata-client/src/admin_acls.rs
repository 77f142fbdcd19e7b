//! ACL administration: CreateAcls, DescribeAcls, DeleteAcls (v1+, with KIP-290 pattern
//! types), over strata-auth's ACL model.

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use kafka_protocol::protocol::{Request, StrBytes};
use strata_auth::acl::{
    AclBinding, AclBindingFilter, AclOperation, AclPermission, PatternType, ResourceType,
};

use crate::admin::Admin;
use crate::connection::{api_name, Connection};
use crate::error::{ClientError, Result};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn opt(v: &Option<String>) -> Option<StrBytes> {
    v.as_deref().map(s)
}

/// The highest version of `R` both sides speak; v0 predates pattern types.
fn v1_or_later<R: Request>(conn: &Connection) -> Result<i16> {
    let v = conn.version_for::<R>(None)?;
    if v < 1 {
        return Err(ClientError::UnsupportedVersion {
            api: format!("{} v1+", api_name(R::KEY)),
        });
    }
    Ok(v)
}

/// A binding from its wire fields; an undefined code is a protocol error, not a panic.
#[allow(clippy::too_many_arguments)]
pub(crate) fn binding_from_wire(
    resource_type: i8,
    name: &str,
    pattern_type: i8,
    principal: &str,
    host: &str,
    operation: i8,
    permission: i8,
) -> Result<AclBinding> {
    let bad = |what: &str, code: i8| ClientError::Protocol(format!("undefined ACL {what} {code}"));
    Ok(AclBinding::new(
        ResourceType::from_code(resource_type)
            .ok_or_else(|| bad("resource type", resource_type))?,
        name,
        PatternType::from_code(pattern_type).ok_or_else(|| bad("pattern type", pattern_type))?,
        principal,
        host,
        AclOperation::from_code(operation).ok_or_else(|| bad("operation", operation))?,
        AclPermission::from_code(permission).ok_or_else(|| bad("permission", permission))?,
    ))
}

/// The CreateAcls entry for `b`.
pub(crate) fn creation(b: &AclBinding) -> AclCreation {
    AclCreation::default()
        .with_resource_type(b.pattern.resource_type.code())
        .with_resource_name(s(&b.pattern.name))
        .with_resource_pattern_type(b.pattern.pattern_type.code())
        .with_principal(s(&b.entry.principal))
        .with_host(s(&b.entry.host))
        .with_operation(b.entry.operation.code())
        .with_permission_type(b.entry.permission.code())
}

/// The DescribeAcls request for `f`.
pub(crate) fn describe_request(f: &AclBindingFilter) -> DescribeAclsRequest {
    DescribeAclsRequest::default()
        .with_resource_type_filter(f.pattern.resource_type.code())
        .with_resource_name_filter(opt(&f.pattern.name))
        .with_pattern_type_filter(f.pattern.pattern_type.code())
        .with_principal_filter(opt(&f.entry.principal))
        .with_host_filter(opt(&f.entry.host))
        .with_operation(f.entry.operation.code())
        .with_permission_type(f.entry.permission.code())
}

/// The DeleteAcls filter for `f`.
pub(crate) fn delete_filter(f: &AclBindingFilter) -> DeleteAclsFilter {
    DeleteAclsFilter::default()
        .with_resource_type_filter(f.pattern.resource_type.code())
        .with_resource_name_filter(opt(&f.pattern.name))
        .with_pattern_type_filter(f.pattern.pattern_type.code())
        .with_principal_filter(opt(&f.entry.principal))
        .with_host_filter(opt(&f.entry.host))
        .with_operation(f.entry.operation.code())
        .with_permission_type(f.entry.permission.code())
}

fn kafka_error(code: i16, message: Option<&StrBytes>, what: &str) -> ClientError {
    ClientError::from_code(code, message.map(|m| m.as_str()), what)
}

impl Admin {
    /// Creates ACLs; one result per binding, in order (a refused binding does not stop
    /// the others).
    pub async fn create_acls(&self, bindings: &[AclBinding]) -> Result<Vec<Result<()>>> {
        let cluster = self.cluster();
        let conn = cluster.controller_connection().await?;
        let version = v1_or_later::<CreateAclsRequest>(&conn)?;
        let req =
            CreateAclsRequest::default().with_creations(bindings.iter().map(creation).collect());
        let resp = conn
            .request(&req, version, cluster.config.request_timeout)
            .await?;
        if resp.results.len() != bindings.len() {
            return Err(ClientError::Protocol(format!(
                "CreateAcls answered {} results for {} ACLs",
                resp.results.len(),
                bindings.len()
            )));
        }
        Ok(resp
            .results
            .iter()
            .zip(bindings)
            .map(|(r, b)| match r.error_code {
                0 => Ok(()),
                c => Err(kafka_error(
                    c,
                    r.error_message.as_ref(),
                    &format!("creating {b}"),
                )),
            })
            .collect())
    }

    /// The ACLs `filter` selects.
    pub async fn describe_acls(&self, filter: &AclBindingFilter) -> Result<Vec<AclBinding>> {
        let cluster = self.cluster();
        let conn = cluster.any_connection().await?;
        let version = v1_or_later::<DescribeAclsRequest>(&conn)?;
        let resp = conn
            .request(
                &describe_request(filter),
                version,
                cluster.config.request_timeout,
            )
            .await?;
        if resp.error_code != 0 {
            return Err(kafka_error(
                resp.error_code,
                resp.error_message.as_ref(),
                "describing ACLs",
            ));
        }
        let mut out = Vec::new();
        for r in &resp.resources {
            for a in &r.acls {
                out.push(binding_from_wire(
                    r.resource_type,
                    r.resource_name.as_str(),
                    r.pattern_type,
                    a.principal.as_str(),
                    a.host.as_str(),
                    a.operation,
                    a.permission_type,
                )?);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Deletes the ACLs each filter selects; per filter, the deleted ACLs or the error.
    pub async fn delete_acls(
        &self,
        filters: &[AclBindingFilter],
    ) -> Result<Vec<Result<Vec<AclBinding>>>> {
        let cluster = self.cluster();
        let conn = cluster.controller_connection().await?;
        let version = v1_or_later::<DeleteAclsRequest>(&conn)?;
        let req =
            DeleteAclsRequest::default().with_filters(filters.iter().map(delete_filter).collect());
        let resp = conn
            .request(&req, version, cluster.config.request_timeout)
            .await?;
        if resp.filter_results.len() != filters.len() {
            return Err(ClientError::Protocol(format!(
                "DeleteAcls answered {} results for {} filters",
                resp.filter_results.len(),
                filters.len()
            )));
        }
        let mut out = Vec::with_capacity(filters.len());
        for r in &resp.filter_results {
            if r.error_code != 0 {
                out.push(Err(kafka_error(
                    r.error_code,
                    r.error_message.as_ref(),
                    "deleting ACLs",
                )));
                continue;
            }
            let mut deleted = Vec::with_capacity(r.matching_acls.len());
            let mut failed = None;
            for m in &r.matching_acls {
                let b = binding_from_wire(
                    m.resource_type,
                    m.resource_name.as_str(),
                    m.pattern_type,
                    m.principal.as_str(),
                    m.host.as_str(),
                    m.operation,
                    m.permission_type,
                )?;
                if m.error_code != 0 && failed.is_none() {
                    failed = Some(kafka_error(
                        m.error_code,
                        m.error_message.as_ref(),
                        &format!("deleting {b}"),
                    ));
                }
                deleted.push(b);
            }
            out.push(match failed {
                Some(e) => Err(e),
                None => Ok(deleted),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_auth::acl::{AccessControlEntryFilter, ResourcePatternFilter};

    #[test]
    fn creation_carries_every_field() {
        let b = AclBinding::new(
            ResourceType::Topic,
            "orders",
            PatternType::Prefixed,
            "User:alice",
            "*",
            AclOperation::Read,
            AclPermission::Allow,
        );
        let c = creation(&b);
        assert_eq!(
            (
                c.resource_type,
                c.resource_pattern_type,
                c.operation,
                c.permission_type
            ),
            (2, 4, 3, 3)
        );
        assert_eq!(c.resource_name.as_str(), "orders");
        assert_eq!(c.principal.as_str(), "User:alice");
        let back = binding_from_wire(2, "orders", 4, "User:alice", "*", 3, 3).expect("valid");
        assert_eq!(back, b);
    }

    #[test]
    fn filters_encode_any_as_null_and_codes() {
        let f = AclBindingFilter {
            pattern: ResourcePatternFilter {
                resource_type: ResourceType::Group,
                name: Some("g".into()),
                pattern_type: PatternType::Match,
            },
            entry: AccessControlEntryFilter {
                principal: None,
                host: None,
                operation: AclOperation::Any,
                permission: AclPermission::Deny,
            },
        };
        let d = describe_request(&f);
        assert_eq!(d.resource_type_filter, 3);
        assert_eq!(d.pattern_type_filter, 2);
        assert_eq!(
            d.resource_name_filter.as_ref().map(|n| n.as_str()),
            Some("g")
        );
        assert!(d.principal_filter.is_none() && d.host_filter.is_none());
        assert_eq!((d.operation, d.permission_type), (1, 2));
        let del = delete_filter(&f);
        assert_eq!(del.pattern_type_filter, 2);
        assert_eq!(del.permission_type, 2);
    }

    #[test]
    fn undefined_codes_from_the_broker_are_errors() {
        assert!(binding_from_wire(0, "t", 3, "User:a", "*", 3, 3).is_err());
        assert!(binding_from_wire(2, "t", 9, "User:a", "*", 3, 3).is_err());
        assert!(binding_from_wire(2, "t", 3, "User:a", "*", -1, 3).is_err());
        assert!(binding_from_wire(2, "t", 3, "User:a", "*", 3, 0).is_err());
    }
}
