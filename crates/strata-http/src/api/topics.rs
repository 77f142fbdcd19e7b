//! `/api/v1/topics`: list (search, paging), create, describe, delete, configs.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use strata_broker::admin::topics::{ConfigChanges, NewTopic};
use strata_broker::Broker;

use super::params::Params;
use super::{body, caller, ok, path, ApiError, ApiResult};
use crate::Principal;

/// Topics per page: default and most.
const TOPICS_PAGE: (usize, usize) = (50, 500);
/// Partitions per page of a topic: default and most.
const PARTITIONS_PAGE: (usize, usize) = (100, 1000);
/// Most partitions a topic may be created with here.
const MAX_PARTITIONS: i32 = 100_000;
/// Most configs given at creation.
const MAX_CREATE_CONFIGS: usize = 100;

/// `GET /api/v1/topics?search=&offset=&limit=`.
pub(super) async fn list(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Params::parse(q.as_deref(), &["search", "offset", "limit"])?;
    let page = q.page(TOPICS_PAGE.0, TOPICS_PAGE.1)?;
    ok(broker.admin_topics(&caller(&who), q.text("search"), page.offset, page.limit))
}

/// `POST /api/v1/topics` with `{"name", "partitions"?, "replication_factor"?, "configs"?}`.
pub(super) async fn create(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    RawQuery(q): RawQuery,
    bytes: Bytes,
) -> ApiResult {
    Params::parse(q.as_deref(), &[])?;
    let req: NewTopic = body(&bytes)?;
    validate_new_topic(&req)?;
    let created = broker.admin_create_topic(&caller(&who), req).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Bounds of a creation request (the controller checks the rest).
pub(crate) fn validate_new_topic(req: &NewTopic) -> Result<(), ApiError> {
    if req.name.is_empty() {
        return Err(ApiError::bad_request("'name' must not be empty"));
    }
    if let Some(p) = req.partitions {
        if !(1..=MAX_PARTITIONS).contains(&p) {
            return Err(ApiError::bad_request(format!(
                "'partitions' must be between 1 and {MAX_PARTITIONS}"
            )));
        }
    }
    if let Some(r) = req.replication_factor {
        if r < 1 {
            return Err(ApiError::bad_request(
                "'replication_factor' must be at least 1",
            ));
        }
    }
    if req.configs.len() > MAX_CREATE_CONFIGS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_CREATE_CONFIGS} configs"
        )));
    }
    Ok(())
}

/// `GET /api/v1/topics/{topic}?offset=&limit=` (a page of partitions).
pub(super) async fn describe(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    p: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let topic = path(p)?;
    let q = Params::parse(q.as_deref(), &["offset", "limit"])?;
    let page = q.page(PARTITIONS_PAGE.0, PARTITIONS_PAGE.1)?;
    ok(broker.admin_topic(&caller(&who), &topic, page.offset, page.limit)?)
}

/// `DELETE /api/v1/topics/{topic}`.
pub(super) async fn delete(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    p: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let topic = path(p)?;
    Params::parse(q.as_deref(), &[])?;
    broker.admin_delete_topic(&caller(&who), &topic).await?;
    ok(serde_json::json!({ "deleted": topic }))
}

/// `GET /api/v1/topics/{topic}/configs`.
pub(super) async fn configs(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    p: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let topic = path(p)?;
    Params::parse(q.as_deref(), &[])?;
    ok(serde_json::json!({
        "topic": topic,
        "configs": broker.admin_topic_configs(&caller(&who), &topic)?,
    }))
}

/// `PATCH /api/v1/topics/{topic}/configs` with `{"set": {k: v}, "delete": [k]}`;
/// answers the configs after the change.
pub(super) async fn alter_configs(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    p: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
    bytes: Bytes,
) -> ApiResult {
    let topic = path(p)?;
    Params::parse(q.as_deref(), &[])?;
    let changes: ConfigChanges = body(&bytes)?;
    let who = caller(&who);
    broker
        .admin_alter_topic_configs(&who, &topic, changes)
        .await?;
    ok(serde_json::json!({
        "topic": topic,
        "configs": broker.admin_topic_configs(&who, &topic)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_bounds() {
        let t = |partitions, rf| NewTopic {
            name: "t".into(),
            partitions,
            replication_factor: rf,
            ..NewTopic::default()
        };
        assert!(validate_new_topic(&t(None, None)).is_ok());
        assert!(validate_new_topic(&t(Some(3), Some(1))).is_ok());
        assert!(validate_new_topic(&t(Some(0), None)).is_err());
        assert!(validate_new_topic(&t(Some(MAX_PARTITIONS + 1), None)).is_err());
        assert!(validate_new_topic(&t(None, Some(0))).is_err());
        assert!(validate_new_topic(&NewTopic::default()).is_err());
    }
}
