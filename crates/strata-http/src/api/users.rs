//! `/api/v1/users`: SCRAM users (list, one, set a password, delete), over
//! `strata_broker::admin::users` (AlterUserScramCredentials' records and ACLs).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use strata_broker::admin::users::ScramUpsert;
use strata_broker::Broker;

use super::params::Params;
use super::{body, caller, ok, path, ApiError, ApiResult};
use crate::Principal;

/// Users per page: default and most.
const USERS_PAGE: (usize, usize) = (100, 1000);

/// `GET /api/v1/users?search=&offset=&limit=`: users with their mechanisms and
/// iteration counts (never a salt or a key).
pub(super) async fn list(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Params::parse(q.as_deref(), &["search", "offset", "limit"])?;
    let page = q.page(USERS_PAGE.0, USERS_PAGE.1)?;
    ok(broker.admin_users(&caller(&who), q.text("search"), page.offset, page.limit)?)
}

/// `GET /api/v1/users/{user}`.
pub(super) async fn describe(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    p: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let user = path(p)?;
    Params::parse(q.as_deref(), &[])?;
    ok(broker.admin_user(&caller(&who), &user)?)
}

/// The body of a password change for `user`, checked (Kafka's rules).
pub(crate) fn upsert_body(bytes: &Bytes, user: &str) -> Result<ScramUpsert, ApiError> {
    let req: ScramUpsert = body(bytes)?;
    req.check(user)?;
    Ok(req)
}

/// `PUT /api/v1/users/{user}` with `{"mechanism", "password", "iterations"?}`: 201
/// when the user had no credential for the mechanism, else 200.
pub(super) async fn put(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    p: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
    bytes: Bytes,
) -> ApiResult {
    let user = path(p)?;
    Params::parse(q.as_deref(), &[])?;
    let req = upsert_body(&bytes, &user)?;
    let change = broker.admin_set_user(&caller(&who), &user, req).await?;
    let status = if change.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(change)).into_response())
}

/// `DELETE /api/v1/users/{user}?mechanism=`: one mechanism's credential, or all.
pub(super) async fn delete(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    p: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let user = path(p)?;
    let q = Params::parse(q.as_deref(), &["mechanism"])?;
    let mechanism = q.has("mechanism").then(|| q.text("mechanism"));
    let deleted = broker
        .admin_delete_user(&caller(&who), &user, mechanism)
        .await?;
    ok(serde_json::json!({ "user": user, "deleted": deleted }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str, user: &str) -> String {
        let e = upsert_body(&Bytes::from(body.to_string()), user).unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST, "{body}");
        e.body["error"].as_str().unwrap_or_default().to_string()
    }

    #[test]
    fn password_changes_are_checked() {
        let ok = upsert_body(
            &Bytes::from_static(
                br#"{"mechanism":"SCRAM-SHA-512","password":"pw","iterations":4096}"#,
            ),
            "alice",
        )
        .unwrap();
        assert_eq!(ok.iterations, Some(4096));
        assert!(upsert_body(
            &Bytes::from_static(br#"{"mechanism":"scram-sha-256","password":"pw"}"#),
            "alice"
        )
        .is_ok());
        assert!(err("", "a").contains("body is required"));
        assert!(err("{", "a").contains("invalid request body"));
        assert!(err(r#"{"password":"pw"}"#, "a").contains("mechanism"));
        assert!(err(
            r#"{"mechanism":"SCRAM-SHA-512","password":"pw","salt":"x"}"#,
            "a"
        )
        .contains("unknown field"));
        assert!(err(r#"{"mechanism":"MD5","password":"pw"}"#, "a").contains("unknown mechanism"));
        assert!(err(r#"{"mechanism":"SCRAM-SHA-512","password":""}"#, "a").contains("empty"));
        for n in [0, 4095, 16385, -5] {
            let m = err(
                &format!(r#"{{"mechanism":"SCRAM-SHA-512","password":"pw","iterations":{n}}}"#),
                "a",
            );
            assert!(m.contains("between 4096 and 16384"), "{m}");
        }
        assert!(err(r#"{"mechanism":"SCRAM-SHA-512","password":"pw"}"#, "").contains("user name"));
    }
}
