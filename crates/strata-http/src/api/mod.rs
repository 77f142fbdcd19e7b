//! The admin API, `/api/v1`: JSON over the broker's admin helpers
//! (`strata_broker::admin`), described by `api/openapi.yaml` (served at
//! `/api/v1/openapi.yaml`). Every failure is an HTTP 4xx/5xx with `{"error": "..."}`;
//! every query parameter is checked ([`params`]: unknown, repeated, malformed or out of
//! range ones are refused) and every page is bounded. With `http.ui.read.only` every
//! change answers 403. Authentication is the HTTP listener's (`auth.rs`); the ACLs are
//! those of the matching Kafka APIs.

mod acls;
mod groups;
mod messages;
mod overview;
pub(crate) mod params;
mod schemas;
mod topics;
mod users;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::de::DeserializeOwned;
use strata_broker::admin::{AdminError, Caller, RateSampler};
use strata_broker::Broker;

use crate::Principal;

/// The OpenAPI document.
const OPENAPI: &str = include_str!("../../api/openapi.yaml");

/// State of the API shared by its handlers.
pub(crate) struct ApiState {
    /// Throughput samples for the overview.
    pub sampler: RateSampler,
}

/// The `/api/v1` routes.
pub(crate) fn router(broker: &Arc<Broker>) -> Router<Arc<Broker>> {
    Router::new()
        .route("/api/v1/overview", get(overview::get))
        .route("/api/v1/topics", get(topics::list).post(topics::create))
        .route(
            "/api/v1/topics/{topic}",
            get(topics::describe).delete(topics::delete),
        )
        .route(
            "/api/v1/topics/{topic}/configs",
            get(topics::configs).patch(topics::alter_configs),
        )
        .route(
            "/api/v1/topics/{topic}/partitions/{partition}/messages",
            get(messages::get),
        )
        .route("/api/v1/groups", get(groups::list))
        .route("/api/v1/groups/{group}", get(groups::describe))
        .route(
            "/api/v1/groups/{group}/reset-offsets",
            axum::routing::post(groups::reset),
        )
        .route("/api/v1/schemas", get(schemas::list))
        .route("/api/v1/schemas/{subject}", get(schemas::describe))
        .route("/api/v1/users", get(users::list))
        .route(
            "/api/v1/users/{user}",
            get(users::describe).put(users::put).delete(users::delete),
        )
        .route(
            "/api/v1/acls",
            get(acls::list).post(acls::create).delete(acls::delete),
        )
        .route("/api/v1/openapi.yaml", get(openapi))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(broker),
            read_only,
        ))
        .layer(Extension(Arc::new(ApiState {
            sampler: RateSampler::new(),
        })))
}

/// Every endpoint, for the listener's 404 answer.
pub(crate) const ENDPOINTS: &[&str] = &[
    "/api/v1/overview",
    "/api/v1/topics",
    "/api/v1/topics/{topic}",
    "/api/v1/topics/{topic}/configs",
    "/api/v1/topics/{topic}/partitions/{partition}/messages",
    "/api/v1/groups",
    "/api/v1/groups/{group}",
    "/api/v1/groups/{group}/reset-offsets",
    "/api/v1/schemas",
    "/api/v1/schemas/{subject}",
    "/api/v1/users",
    "/api/v1/users/{user}",
    "/api/v1/acls",
    "/api/v1/openapi.yaml",
];

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        OPENAPI,
    )
        .into_response()
}

/// Under `http.ui.read.only`, anything but a read answers 403.
async fn read_only(State(broker): State<Arc<Broker>>, req: Request, next: Next) -> Response {
    let read = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if broker.config.http_ui_read_only && !read {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "this broker's admin API is read-only (http.ui.read.only=true): changes are refused",
        )
        .into_response();
    }
    next.run(req).await
}

/// An error answer: a status and `{"error": message}` (plus what else helps).
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: serde_json::Value,
}

impl ApiError {
    /// `status` with `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            body: serde_json::json!({ "error": message.into() }),
        }
    }

    /// 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// The status.
    #[cfg(test)]
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        let status = match &e {
            AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::Forbidden(_) => StatusCode::FORBIDDEN,
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::Conflict(_) => StatusCode::CONFLICT,
            AdminError::Misdirected { .. } => StatusCode::MISDIRECTED_REQUEST,
            AdminError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AdminError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut out = Self::new(status, e.to_string());
        if let AdminError::Misdirected { node: Some(n), .. } = e {
            out.body["node"] = serde_json::json!(n);
        }
        out
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        r
    }
}

/// A handler's result.
pub(crate) type ApiResult = Result<Response, ApiError>;

/// `value` as a 200 JSON answer.
pub(crate) fn ok<T: serde::Serialize>(value: T) -> ApiResult {
    Ok(Json(value).into_response())
}

/// The caller of a request.
pub(crate) fn caller(who: &Principal) -> Caller {
    Caller::new(who.0.clone(), who.1)
}

/// A JSON request body (the listener caps its size at `http.max.request.bytes`).
pub(crate) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::bad_request("a JSON request body is required"));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
}

/// A path segment that must be a partition index.
pub(crate) fn partition_index(s: &str) -> Result<i32, ApiError> {
    s.parse::<i32>()
        .ok()
        .filter(|p| *p >= 0)
        .ok_or_else(|| ApiError::bad_request(format!("'{s}' is not a partition index")))
}

/// Path parameters, with a JSON 400 when they do not decode.
pub(crate) fn path<T>(
    p: Result<axum::extract::Path<T>, axum::extract::rejection::PathRejection>,
) -> Result<T, ApiError> {
    p.map(|axum::extract::Path(v)| v)
        .map_err(|e| ApiError::bad_request(format!("invalid path: {}", e.body_text())))
}

/// The API's shared state.
pub(crate) type ApiExt = Extension<Arc<ApiState>>;
