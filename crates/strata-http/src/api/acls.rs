//! `/api/v1/acls`: list (filtered, paged), create one binding, delete those a filter
//! selects, over `strata_broker::admin::acls` (CreateAcls / DescribeAcls / DeleteAcls'
//! records, checks and ACLs).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use strata_broker::admin::acls::AclSpec;
use strata_broker::Broker;

use super::params::Params;
use super::{body, caller, ok, ApiError, ApiResult};
use crate::Principal;

/// ACLs per page: default and most.
const ACLS_PAGE: (usize, usize) = (100, 1000);

/// Query names of a filter: each field, and its short alias.
const FILTER_FIELDS: &[(&str, Option<&str>)] = &[
    ("resource_type", None),
    ("resource_name", Some("name")),
    ("pattern_type", Some("pattern")),
    ("principal", None),
    ("host", None),
    ("operation", None),
    ("permission", None),
];

/// Every query name a filter may use.
fn filter_names() -> Vec<&'static str> {
    FILTER_FIELDS
        .iter()
        .flat_map(|(f, alias)| std::iter::once(*f).chain(*alias))
        .collect()
}

/// The filter a query names (a field or its alias, not both; empty values are absent).
pub(crate) fn filter_from_query(q: &Params) -> Result<AclSpec, ApiError> {
    let mut spec = AclSpec::default();
    for (field, alias) in FILTER_FIELDS {
        let value = match alias {
            Some(a) if q.has(a) && q.has(field) => {
                return Err(ApiError::bad_request(format!(
                    "give '{field}' or '{a}', not both"
                )))
            }
            Some(a) if q.has(a) => q.text(a),
            _ => q.text(field),
        };
        let value = (!value.is_empty()).then(|| value.to_string());
        match *field {
            "resource_type" => spec.resource_type = value,
            "resource_name" => spec.resource_name = value,
            "pattern_type" => spec.pattern_type = value,
            "principal" => spec.principal = value,
            "host" => spec.host = value,
            "operation" => spec.operation = value,
            _ => spec.permission = value,
        }
    }
    Ok(spec)
}

/// `GET /api/v1/acls?resource_type=&name=&pattern=&principal=&host=&operation=&permission=&offset=&limit=`.
pub(super) async fn list(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let mut names = filter_names();
    names.extend(["offset", "limit"]);
    let q = Params::parse(q.as_deref(), &names)?;
    let page = q.page(ACLS_PAGE.0, ACLS_PAGE.1)?;
    let filter = filter_from_query(&q)?;
    ok(broker.admin_acls(&caller(&who), &filter, page.offset, page.limit)?)
}

/// `POST /api/v1/acls` with one binding: `{"resource_type", "resource_name",
/// "pattern_type"?, "principal", "host"?, "operation", "permission"?}`. 201 when new,
/// 200 when it existed.
pub(super) async fn create(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    RawQuery(q): RawQuery,
    bytes: Bytes,
) -> ApiResult {
    Params::parse(q.as_deref(), &[])?;
    let spec: AclSpec = body(&bytes)?;
    let (acl, new) = broker.admin_create_acl(&caller(&who), &spec).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(serde_json::json!({ "acl": acl, "created": new })),
    )
        .into_response())
}

/// The filter of a deletion: from the body or the query (not both), never empty.
pub(crate) fn deletion_filter(query: Option<&str>, bytes: &Bytes) -> Result<AclSpec, ApiError> {
    let q = Params::parse(query, &filter_names())?;
    let from_query = filter_from_query(&q)?;
    let spec = if bytes.is_empty() {
        from_query
    } else if !from_query.is_empty() {
        return Err(ApiError::bad_request(
            "give the filter in the body or in the query, not both",
        ));
    } else {
        body(bytes)?
    };
    if spec.is_empty() {
        return Err(ApiError::bad_request(
            "give a filter (resource_type, resource_name, pattern_type, principal, host, \
             operation, permission); to delete every ACL, say resource_type=any",
        ));
    }
    spec.filter()?;
    Ok(spec)
}

/// `DELETE /api/v1/acls` with a filter (body or query): deletes every ACL it selects
/// and answers them; 404 when none.
pub(super) async fn delete(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    RawQuery(q): RawQuery,
    bytes: Bytes,
) -> ApiResult {
    let spec = deletion_filter(q.as_deref(), &bytes)?;
    let deleted = broker.admin_delete_acls(&caller(&who), &spec).await?;
    ok(serde_json::json!({ "deleted": deleted }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(e: ApiError) -> String {
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        e.body["error"].as_str().unwrap_or_default().to_string()
    }

    fn query(raw: &str) -> Result<AclSpec, ApiError> {
        let mut names = filter_names();
        names.extend(["offset", "limit"]);
        filter_from_query(&Params::parse(Some(raw), &names)?)
    }

    #[test]
    fn list_filters_take_fields_or_their_aliases() {
        let s = query("resource_type=topic&name=t1&pattern=prefixed&principal=User%3Abob").unwrap();
        assert_eq!(s.resource_type.as_deref(), Some("topic"));
        assert_eq!(s.resource_name.as_deref(), Some("t1"));
        assert_eq!(s.pattern_type.as_deref(), Some("prefixed"));
        assert_eq!(s.principal.as_deref(), Some("User:bob"));
        assert!(s.host.is_none() && s.operation.is_none());
        assert!(s.filter().is_ok());
        let s = query("resource_name=t2&pattern_type=literal&host=&limit=5").unwrap();
        assert_eq!(s.resource_name.as_deref(), Some("t2"));
        assert!(s.host.is_none());
        assert!(query("").unwrap().is_empty());
        assert!(msg(query("name=a&resource_name=b").unwrap_err()).contains("not both"));
        assert!(msg(query("bogus=1").unwrap_err()).contains("unknown query parameter"));
        let bad = query("operation=fly").unwrap().filter().unwrap_err();
        assert!(msg(bad.into()).contains("unknown operation 'fly'"));
    }

    #[test]
    fn deletions_need_one_filter() {
        let none = Bytes::new();
        let s =
            deletion_filter(Some("resource_type=topic&name=t&principal=User%3Ab"), &none).unwrap();
        assert_eq!(s.resource_name.as_deref(), Some("t"));
        let body = Bytes::from_static(br#"{"resource_type":"topic","resource_name":"t"}"#);
        assert_eq!(
            deletion_filter(None, &body)
                .unwrap()
                .resource_type
                .as_deref(),
            Some("topic")
        );
        assert!(msg(deletion_filter(None, &none).unwrap_err()).contains("give a filter"));
        assert!(msg(deletion_filter(Some("host="), &none).unwrap_err()).contains("give a filter"));
        assert!(deletion_filter(Some("resource_type=any"), &none).is_ok());
        assert!(msg(deletion_filter(Some("name=t"), &body).unwrap_err()).contains("not both"));
        let extra = Bytes::from_static(br#"{"resource":"topic"}"#);
        assert!(msg(deletion_filter(None, &extra).unwrap_err()).contains("unknown field"));
        assert!(msg(deletion_filter(Some("offset=1"), &none).unwrap_err()).contains("offset"));
        let bad = Bytes::from_static(br#"{"permission":"perhaps"}"#);
        assert!(msg(deletion_filter(None, &bad).unwrap_err()).contains("unknown permission"));
    }

    #[test]
    fn a_binding_to_create_is_checked_before_the_broker() {
        let spec: AclSpec = body(&Bytes::from_static(
            br#"{"resource_type":"topic","resource_name":"t","principal":"User:a","operation":"read"}"#,
        ))
        .unwrap();
        assert!(spec.binding().is_ok());
        let spec: AclSpec = body(&Bytes::from_static(
            br#"{"resource_type":"topic","resource_name":""}"#,
        ))
        .unwrap();
        let e: ApiError = spec.binding().unwrap_err().into();
        assert!(msg(e).contains("'resource_name' is required"));
    }
}
