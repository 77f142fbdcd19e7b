//! The HTTP listener: `/health` (`/live`, `/ready`), Prometheus `/metrics`, and (later) the admin REST API
//! and web UI; and the schema registry's own listener ([`registry`]). Its limits (connections, timeouts, body size) are in
//! [`server`].

use std::future::Future;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use strata_broker::Broker;
use strata_proto::error_code;
use tokio::net::TcpListener;

mod api;
mod auth;
pub mod registry;
mod server;
mod ui;

pub use auth::Principal;

pub use server::serve_with_limits;

/// The routes, over a running broker.
pub fn router(broker: Arc<Broker>) -> Router {
    Router::new()
        .route("/health", get(ready))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/api/groups", get(groups))
        .route("/api/groups/{group}", get(group))
        .merge(api::router(&broker))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&broker),
            auth::require,
        ))
        // The UI's assets need no credentials (its data comes from /api/v1, which does).
        .merge(ui::router())
        .with_state(broker)
}

/// Serves HTTP on `listener` until `shutdown` completes, within the broker's `http.*`
/// limits.
pub fn serve(
    listener: TcpListener,
    broker: Arc<Broker>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::pin::Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>> {
    let app = router(Arc::clone(&broker));
    server::serve_with_limits(listener, broker, app, shutdown)
}

/// The process runs and serves HTTP.
async fn live(State(broker): State<Arc<Broker>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "live",
        "node_id": broker.config.node_id,
        "cluster_id": broker.cluster_id,
    }))
}

/// Registered, unfenced, quorum reachable, data dir writable: 200; else 503 with the
/// reasons. `/health` answers the same.
async fn ready(State(broker): State<Arc<Broker>>) -> Response {
    let r = broker.readiness().await;
    let status = if r.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if r.ready { "ready" } else { "not ready" },
        "node_id": broker.config.node_id,
        "cluster_id": broker.cluster_id,
        "reasons": r.reasons,
    });
    (status, Json(body)).into_response()
}

/// `/metrics`: OpenMetrics to a scraper that asks for it (`Accept:
/// application/openmetrics-text`, as Prometheus does), else the classic text format.
/// Gathered on a blocking thread (it walks every partition and reads batch headers).
async fn metrics(State(broker): State<Arc<Broker>>, headers: axum::http::HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let content_type = if openmetrics {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        "text/plain; version=0.0.4; charset=utf-8"
    };
    match tokio::task::spawn_blocking(move || broker.render_metrics(openmetrics)).await {
        Ok(body) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("gathering metrics failed: {e}"),
        )
            .into_response(),
    }
}

/// The groups this broker coordinates (in a cluster each broker lists its own share).
async fn groups(
    State(broker): State<Arc<Broker>>,
    axum::Extension(who): axum::Extension<Principal>,
) -> Response {
    if let Some(p) = &who.0 {
        if !broker.http_may_describe_group(p, who.1, None) {
            return auth::forbidden("listing groups needs DESCRIBE on the cluster");
        }
    }
    Json(broker.group_summaries()).into_response()
}

/// One group. A group lives on the broker leading its `__consumer_offsets` partition;
/// asked elsewhere, the answer is 421 naming that broker (its Kafka address: the image
/// does not hold HTTP addresses).
async fn group(
    State(broker): State<Arc<Broker>>,
    Path(group): Path<String>,
    axum::Extension(who): axum::Extension<Principal>,
) -> Response {
    if let Some(p) = &who.0 {
        if !broker.http_may_describe_group(p, who.1, Some(&group)) {
            return auth::forbidden("this group needs DESCRIBE on it");
        }
    }
    let error = |status: StatusCode, body: serde_json::Value| (status, Json(body)).into_response();
    match broker.group_report(&group) {
        Ok(Some(report)) => Json(report).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": format!("no group '{group}'")}),
        ),
        Err(e) if e.code() == error_code::NOT_COORDINATOR => {
            match broker.group_coordinator(&group, &broker.inter_broker_listener) {
                Some((node_id, host, port)) => error(
                    StatusCode::MISDIRECTED_REQUEST,
                    serde_json::json!({
                        "error": format!(
                            "group '{group}' is coordinated by broker {node_id} ({host}:{port}); ask that broker"
                        ),
                        "coordinator": {"node_id": node_id, "host": host, "port": port},
                    }),
                ),
                None => unavailable(&group),
            }
        }
        Err(_) => unavailable(&group),
    }
}

fn unavailable(group: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
        Json(serde_json::json!({
            "error": format!("the coordinator of group '{group}' is not available yet (loading or electing); retry")
        })),
    )
        .into_response()
}

async fn not_found() -> (StatusCode, Json<serde_json::Value>) {
    let mut endpoints = vec![
        "/health",
        "/health/live",
        "/health/ready",
        "/metrics",
        "/api/groups",
        "/api/groups/{group}",
        "/ui",
    ];
    endpoints.extend_from_slice(api::ENDPOINTS);
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"error": "not found", "endpoints": endpoints})),
    )
}
