//! The HTTP listener: `/health`, Prometheus `/metrics`, and (later) the admin REST API,
//! web UI and schema registry.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use strata_broker::Broker;
use tokio::net::TcpListener;

/// The routes, over a running broker.
pub fn router(broker: Arc<Broker>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/groups", get(groups))
        .route("/api/groups/{group}", get(group))
        .fallback(not_found)
        .with_state(broker)
}

/// Serves HTTP on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    broker: Arc<Broker>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(broker))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn health(State(broker): State<Arc<Broker>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "node_id": broker.config.node_id,
        "cluster_id": broker.cluster_id,
    }))
}

async fn metrics(State(broker): State<Arc<Broker>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        broker.render_metrics(),
    )
        .into_response()
}

async fn groups(State(broker): State<Arc<Broker>>) -> Response {
    Json(broker.group_summaries()).into_response()
}

async fn group(State(broker): State<Arc<Broker>>, Path(group): Path<String>) -> Response {
    match broker.group_report(&group) {
        Some(report) => Json(report).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": format!("no group '{group}'")})),
        )
            .into_response(),
    }
}

async fn not_found() -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::NOT_FOUND,
        Json(
            serde_json::json!({"error": "not found", "endpoints": ["/health", "/metrics", "/api/groups", "/api/groups/{group}"]}),
        ),
    )
}
