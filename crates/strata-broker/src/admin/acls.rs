//! ACL bindings: list (with a filter), create one, delete those a filter selects. The
//! same records as CreateAcls and DeleteAcls (`CreateAcl`, `DeleteAcl`) through the
//! controller, the same checks (`strata_auth::acl::validate_binding`), the same rights
//! (ALTER on the cluster to change, DESCRIBE to list) and, without an authorizer, the
//! same refusal (Kafka's SECURITY_DISABLED, here 409).
//!
//! Names are Kafka's (`TOPIC`, `PREFIXED`, `DESCRIBE_CONFIGS`, ...) in any case, `-`
//! for `_` accepted; answers give them in lower case.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strata_auth::acl::{
    AccessControlEntryFilter, AclBinding, AclBindingFilter, AclOperation, AclPermission,
    PatternType, ResourcePatternFilter, ResourceType, WILDCARD_HOST,
};
use strata_meta::{MetadataImage, MetadataRecord};

use super::{AdminError, Caller};
use crate::auth::authorizer;
use crate::Broker;

/// Longest resource name, principal or host accepted (characters).
pub const MAX_FIELD_CHARS: usize = 1024;

/// An ACL binding, or a filter over bindings, as the admin API takes it: every field
/// a name. As a binding, `resource_type`, `resource_name`, `principal` and `operation`
/// are needed; `pattern_type` defaults to `literal`, `host` to `*`, `permission` to
/// `allow`. As a filter, an absent field selects everything (`any`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclSpec {
    /// `topic`, `group`, `cluster`, `transactional_id`, `delegation_token`, `user`
    /// (filters also `any`).
    pub resource_type: Option<String>,
    /// The resource name (`*`: every resource of the type, in a literal pattern).
    pub resource_name: Option<String>,
    /// `literal` or `prefixed` (filters also `any` and `match`).
    pub pattern_type: Option<String>,
    /// `Type:name`, e.g. `User:alice`; `User:*` is everyone.
    pub principal: Option<String>,
    /// A client address, or `*`.
    pub host: Option<String>,
    /// `read`, `write`, `create`, `delete`, `alter`, `describe`, `cluster_action`,
    /// `describe_configs`, `alter_configs`, `idempotent_write`, `create_tokens`,
    /// `describe_tokens`, `all` (filters also `any`).
    pub operation: Option<String>,
    /// `allow` or `deny` (filters also `any`).
    pub permission: Option<String>,
}

/// One ACL as answers show it (lower-case names).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AclView {
    /// Resource type.
    pub resource_type: String,
    /// Resource name.
    pub resource_name: String,
    /// `literal` or `prefixed`.
    pub pattern_type: String,
    /// Principal.
    pub principal: String,
    /// Host.
    pub host: String,
    /// Operation.
    pub operation: String,
    /// `allow` or `deny`.
    pub permission: String,
}

impl From<&AclBinding> for AclView {
    fn from(b: &AclBinding) -> Self {
        AclView {
            resource_type: b.pattern.resource_type.kafka_name().to_lowercase(),
            resource_name: b.pattern.name.clone(),
            pattern_type: b.pattern.pattern_type.kafka_name().to_lowercase(),
            principal: b.entry.principal.clone(),
            host: b.entry.host.clone(),
            operation: b.entry.operation.kafka_name().to_lowercase(),
            permission: b.entry.permission.kafka_name().to_lowercase(),
        }
    }
}

/// A page of ACLs.
#[derive(Debug, Serialize)]
pub struct AclPage {
    /// ACLs the filter selects (all pages).
    pub total: usize,
    /// First index of this page.
    pub offset: usize,
    /// Page size asked for.
    pub limit: usize,
    /// This page, sorted by resource, then entry.
    pub acls: Vec<AclView>,
}

/// The value of `field` named `text` among `all` (any case, `-` or `_`); values in
/// `filter_only` only when `filter`.
fn parse_name<T: Copy + PartialEq>(
    field: &str,
    text: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    filter_only: &[T],
    filter: bool,
) -> Result<T, AdminError> {
    let wanted = text.trim().replace('-', "_").to_ascii_uppercase();
    let text: String = text.chars().take(64).collect();
    let allowed = |v: &T| filter || !filter_only.contains(v);
    let known = || {
        all.iter()
            .filter(|v| allowed(v))
            .map(|v| name(*v).to_lowercase())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match all.iter().copied().find(|v| name(*v) == wanted) {
        Some(v) if allowed(&v) => Ok(v),
        Some(_) => Err(AdminError::BadRequest(format!(
            "{field} '{text}' only selects in a filter; an ACL needs one of: {}",
            known()
        ))),
        None => Err(AdminError::BadRequest(format!(
            "unknown {field} '{text}' (known: {})",
            known()
        ))),
    }
}

fn checked_text<'a>(field: &str, v: Option<&'a str>) -> Result<Option<&'a str>, AdminError> {
    match v {
        Some(t) if t.chars().count() > MAX_FIELD_CHARS => Err(AdminError::BadRequest(format!(
            "{field} is longer than {MAX_FIELD_CHARS} characters"
        ))),
        _ => Ok(v),
    }
}

fn missing(field: &str) -> AdminError {
    AdminError::BadRequest(format!("'{field}' is required and must not be empty"))
}

fn required<'a>(field: &str, v: Option<&'a str>) -> Result<&'a str, AdminError> {
    match checked_text(field, v)? {
        Some(t) if !t.trim().is_empty() => Ok(t),
        _ => Err(missing(field)),
    }
}

/// A name field's value; blank counts as absent.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|t| !t.trim().is_empty())
}

impl AclSpec {
    /// Whether no field is given (a filter that would select every ACL).
    pub fn is_empty(&self) -> bool {
        *self == AclSpec::default()
    }

    fn resource_type(&self, filter: bool) -> Result<ResourceType, AdminError> {
        let t = match given(&self.resource_type) {
            Some(t) => t,
            None if filter => "any",
            None => return Err(missing("resource_type")),
        };
        parse_name(
            "resource_type",
            t,
            ResourceType::ALL,
            ResourceType::kafka_name,
            &[ResourceType::Any],
            filter,
        )
    }

    fn pattern_type(&self, filter: bool) -> Result<PatternType, AdminError> {
        let default = if filter { "any" } else { "literal" };
        parse_name(
            "pattern_type",
            given(&self.pattern_type).unwrap_or(default),
            PatternType::ALL,
            PatternType::kafka_name,
            &[PatternType::Any, PatternType::Match],
            filter,
        )
    }

    fn operation(&self, filter: bool) -> Result<AclOperation, AdminError> {
        let op = match given(&self.operation) {
            Some(op) => op,
            None if filter => "any",
            None => return Err(missing("operation")),
        };
        parse_name(
            "operation",
            op,
            AclOperation::ALL,
            AclOperation::kafka_name,
            &[AclOperation::Any],
            filter,
        )
    }

    fn permission(&self, filter: bool) -> Result<AclPermission, AdminError> {
        let default = if filter { "any" } else { "allow" };
        parse_name(
            "permission",
            given(&self.permission).unwrap_or(default),
            AclPermission::ALL,
            AclPermission::kafka_name,
            &[AclPermission::Any],
            filter,
        )
    }

    /// The binding to create, checked as CreateAcls checks it.
    pub fn binding(&self) -> Result<AclBinding, AdminError> {
        let resource_type = self.resource_type(false)?;
        let name = required("resource_name", self.resource_name.as_deref())?;
        let principal = required("principal", self.principal.as_deref())?;
        let host = match checked_text("host", self.host.as_deref())? {
            Some(h) if !h.trim().is_empty() => h.trim(),
            _ => WILDCARD_HOST,
        };
        let b = AclBinding::new(
            resource_type,
            name,
            self.pattern_type(false)?,
            principal.trim(),
            host,
            self.operation(false)?,
            self.permission(false)?,
        );
        strata_auth::acl::validate_binding(&b)
            .map_err(|e| AdminError::BadRequest(e.to_string()))?;
        Ok(b)
    }

    /// The filter (DescribeAcls / DeleteAcls): absent or empty fields select all.
    pub fn filter(&self) -> Result<AclBindingFilter, AdminError> {
        let text = |field: &str, v: &Option<String>| -> Result<Option<String>, AdminError> {
            Ok(checked_text(field, v.as_deref())?
                .filter(|t| !t.is_empty())
                .map(String::from))
        };
        Ok(AclBindingFilter {
            pattern: ResourcePatternFilter {
                resource_type: self.resource_type(true)?,
                name: text("resource_name", &self.resource_name)?,
                pattern_type: self.pattern_type(true)?,
            },
            entry: AccessControlEntryFilter {
                principal: text("principal", &self.principal)?,
                host: text("host", &self.host)?,
                operation: self.operation(true)?,
                permission: self.permission(true)?,
            },
        })
    }
}

/// The records deleting every ACL of `image` that `filter` selects, with their views;
/// refused when none matches.
fn deletions(
    image: &MetadataImage,
    filter: &AclBindingFilter,
) -> Result<(Vec<AclView>, Vec<MetadataRecord>), AdminError> {
    let mut views = Vec::new();
    let mut records = Vec::new();
    for r in image.acls() {
        let Some(b) = authorizer::binding(r) else {
            continue;
        };
        if filter.matches(&b) {
            views.push(AclView::from(&b));
            records.push(MetadataRecord::DeleteAcl { acl: r.clone() });
        }
    }
    if records.is_empty() {
        return Err(AdminError::NotFound("no ACL matches the filter".into()));
    }
    Ok((views, records))
}

impl Broker {
    /// Kafka's order: no authorizer (SECURITY_DISABLED), then the right on the cluster.
    fn acls_allowed(&self, caller: &Caller, op: AclOperation) -> Result<(), AdminError> {
        let access = self.admin_access(caller);
        if !access.enabled() {
            return Err(AdminError::Conflict(
                "security is disabled: no authorizer is configured on this broker \
                 (authorizer.class.name), so there are no ACLs"
                    .into(),
            ));
        }
        if !access.cluster(op) {
            return Err(AdminError::Forbidden(format!(
                "not authorized: {} ACLs needs {} on the cluster",
                if op == AclOperation::Describe {
                    "listing"
                } else {
                    "changing"
                },
                op.kafka_name()
            )));
        }
        Ok(())
    }

    /// The ACLs `filter` selects, `limit` of them from `offset` (DescribeAcls:
    /// DESCRIBE on the cluster).
    pub fn admin_acls(
        &self,
        caller: &Caller,
        filter: &AclSpec,
        offset: usize,
        limit: usize,
    ) -> Result<AclPage, AdminError> {
        let filter = filter.filter()?;
        self.acls_allowed(caller, AclOperation::Describe)?;
        let Some(authz) = self.authorizer_now() else {
            return Err(AdminError::Conflict(
                "no authorizer is configured on this broker".into(),
            ));
        };
        let all = authz.describe(&filter);
        Ok(AclPage {
            total: all.len(),
            offset,
            limit,
            acls: all
                .iter()
                .skip(offset)
                .take(limit)
                .map(AclView::from)
                .collect(),
        })
    }

    /// Creates one ACL (CreateAcls: ALTER on the cluster). Returns it and whether it
    /// is new (creating an existing ACL changes nothing, as in Kafka).
    pub async fn admin_create_acl(
        self: &Arc<Self>,
        caller: &Caller,
        spec: &AclSpec,
    ) -> Result<(AclView, bool), AdminError> {
        let binding = spec.binding()?;
        self.acls_allowed(caller, AclOperation::Alter)?;
        let record = authorizer::record(&binding);
        let new = !self.meta.image().acls().any(|r| *r == record);
        self.meta
            .commit(vec![MetadataRecord::CreateAcl { acl: record }])
            .await?;
        Ok((AclView::from(&binding), new))
    }

    /// Deletes every ACL `filter` selects (DeleteAcls: ALTER on the cluster); 404 when
    /// none does. Returns those deleted.
    pub async fn admin_delete_acls(
        self: &Arc<Self>,
        caller: &Caller,
        filter: &AclSpec,
    ) -> Result<Vec<AclView>, AdminError> {
        let filter = filter.filter()?;
        self.acls_allowed(caller, AclOperation::Alter)?;
        self.meta
            .decide_and_commit(|image| deletions(image, &filter))
            .await
            .map_err(AdminError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(fields: &[(&str, &str)]) -> AclSpec {
        let mut s = AclSpec::default();
        for (k, v) in fields {
            let v = Some(v.to_string());
            match *k {
                "resource_type" => s.resource_type = v,
                "resource_name" => s.resource_name = v,
                "pattern_type" => s.pattern_type = v,
                "principal" => s.principal = v,
                "host" => s.host = v,
                "operation" => s.operation = v,
                "permission" => s.permission = v,
                _ => panic!("{k}"),
            }
        }
        s
    }

    fn bad(r: Result<impl std::fmt::Debug, AdminError>) -> String {
        match r {
            Err(AdminError::BadRequest(m)) => m,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    const READ_T: &[(&str, &str)] = &[
        ("resource_type", "topic"),
        ("resource_name", "t"),
        ("principal", "User:bob"),
        ("operation", "read"),
    ];

    #[test]
    fn a_binding_takes_names_in_any_case_with_defaults() {
        let b = spec(READ_T).binding().unwrap();
        assert_eq!(
            b,
            AclBinding::new(
                ResourceType::Topic,
                "t",
                PatternType::Literal,
                "User:bob",
                "*",
                AclOperation::Read,
                AclPermission::Allow
            )
        );
        let mut s = spec(READ_T);
        s.resource_type = Some("Transactional-Id".into());
        s.pattern_type = Some("PREFIXED".into());
        s.operation = Some("describe_configs".into());
        s.permission = Some("Deny".into());
        s.host = Some("10.0.0.1".into());
        let b = s.binding().unwrap();
        assert_eq!(b.pattern.resource_type, ResourceType::TransactionalId);
        assert_eq!(b.pattern.pattern_type, PatternType::Prefixed);
        assert_eq!(b.entry.operation, AclOperation::DescribeConfigs);
        assert_eq!(b.entry.permission, AclPermission::Deny);
        assert_eq!(b.entry.host, "10.0.0.1");
        let v = AclView::from(&b);
        assert_eq!(
            (v.resource_type.as_str(), v.operation.as_str()),
            ("transactional_id", "describe_configs")
        );
    }

    #[test]
    fn a_binding_is_refused_with_a_clear_message() {
        let with = |k: &str, v: &str| {
            let mut f: Vec<(&str, &str)> =
                READ_T.iter().filter(|(x, _)| *x != k).copied().collect();
            if !v.is_empty() {
                f.push((k, v));
            }
            spec(&f)
        };
        let m = bad(with("resource_type", "queue").binding());
        assert!(
            m.contains("unknown resource_type 'queue'") && m.contains("topic, group"),
            "{m}"
        );
        let m = bad(with("resource_type", "any").binding());
        assert!(m.contains("only selects in a filter"), "{m}");
        let m = bad(with("operation", "fly").binding());
        assert!(
            m.contains("unknown operation 'fly'") && m.contains("describe_configs"),
            "{m}"
        );
        assert!(bad(with("operation", "any").binding()).contains("filter"));
        assert!(bad(with("pattern_type", "match").binding()).contains("filter"));
        assert!(bad(with("permission", "maybe").binding()).contains("(known: deny, allow)"));
        for field in ["resource_type", "resource_name", "principal", "operation"] {
            let m = bad(with(field, "").binding());
            assert!(m.contains(&format!("'{field}' is required")), "{m}");
            assert!(bad(with(field, "  ").binding()).contains("required"));
        }
        let m = bad(with("principal", "bob").binding());
        assert!(m.contains("no colon"), "{m}");
        let m = bad(with("resource_type", "cluster").binding());
        assert!(m.contains("kafka-cluster"), "{m}");
        let long = "x".repeat(MAX_FIELD_CHARS + 1);
        assert!(bad(with("resource_name", &long).binding()).contains("longer than"));
        assert!(bad(with("host", &long).binding()).contains("longer than"));
    }

    #[test]
    fn a_filter_selects_everything_it_does_not_name() {
        assert!(AclSpec::default().is_empty() && !spec(READ_T).is_empty());
        assert_eq!(
            AclSpec::default().filter().unwrap(),
            AclBindingFilter::any()
        );
        let f = spec(&[
            ("resource_type", "any"),
            ("pattern_type", "match"),
            ("resource_name", "t1"),
        ])
        .filter()
        .unwrap();
        assert_eq!(f.pattern.pattern_type, PatternType::Match);
        assert_eq!(f.pattern.name.as_deref(), Some("t1"));
        assert_eq!(f.entry, AccessControlEntryFilter::any());
        let f = spec(&[("principal", ""), ("operation", "ANY")])
            .filter()
            .unwrap();
        assert_eq!(f, AclBindingFilter::any());
        assert!(bad(spec(&[("operation", "fly")]).filter()).contains("unknown operation"));
        assert!(bad(spec(&[("resource_type", "x")]).filter()).contains("any, topic"));
    }

    #[test]
    fn deletions_take_what_the_filter_selects() {
        let mut image = MetadataImage::new();
        let mk = |name: &str, principal: &str| {
            spec(&[
                ("resource_type", "topic"),
                ("resource_name", name),
                ("principal", principal),
                ("operation", "read"),
            ])
            .binding()
            .unwrap()
        };
        for b in [mk("a", "User:x"), mk("b", "User:x"), mk("a", "User:y")] {
            image
                .apply(&MetadataRecord::CreateAcl {
                    acl: authorizer::record(&b),
                })
                .unwrap();
        }
        let exact = AclSpec {
            resource_name: Some("a".into()),
            principal: Some("User:x".into()),
            ..spec(READ_T)
        };
        let (views, records) = deletions(&image, &exact.filter().unwrap()).unwrap();
        assert_eq!(views.len(), 1);
        assert_eq!(views[0].principal, "User:x");
        assert_eq!(records.len(), 1);
        let by_principal = spec(&[("principal", "User:x")]).filter().unwrap();
        assert_eq!(deletions(&image, &by_principal).unwrap().0.len(), 2);
        let none = spec(&[("principal", "User:z")]).filter().unwrap();
        assert!(matches!(
            deletions(&image, &none),
            Err(AdminError::NotFound(_))
        ));
    }
}
