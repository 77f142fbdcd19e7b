//! The schema registry's REST API (Confluent's), a thin layer over the broker's
//! registry driver (`strata_broker::registry`) and the rules of `strata-registry`.
//!
//! Every answer is JSON with Confluent's content type; every failure is Confluent's
//! `{"error_code": ..., "message": ...}` with the status its code implies. Request bodies
//! are read as JSON whatever their content type (clients send
//! `application/vnd.schemaregistry.v1+json`, `application/json` or nothing), unknown
//! fields are ignored (`Confluent-Accept-Unknown-Properties`), and their size is capped
//! by `http.max.request.bytes`.
//!
//! A request this broker cannot answer (a write while it does not lead `_schemas`; a
//! read on a broker without a replica whose tailed copy cannot be shown current) is sent
//! on once to the broker that can ([`forward`]); a forwarded request is never sent on
//! again.

// A failure here is the HTTP response itself, built once per request and sent as is:
// boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

mod config;
mod forward;
mod schemas;
mod subjects;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use strata_broker::registry::{RegistryFailure, Route};
use strata_broker::Broker;
use strata_registry::{Effect, Registry, RegistryError};
use tokio::net::TcpListener;

/// Confluent's response content type.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// The registry routes, over a running broker.
pub fn router(broker: Arc<Broker>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/subjects", get(subjects::list))
        .route(
            "/subjects/{subject}",
            post(subjects::lookup).delete(subjects::delete_subject),
        )
        .route(
            "/subjects/{subject}/versions",
            get(subjects::versions).post(subjects::register),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(subjects::version).delete(subjects::delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(subjects::version_schema),
        )
        .route(
            "/subjects/{subject}/versions/{version}/referencedby",
            get(subjects::referenced_by),
        )
        .route("/schemas/types", get(schemas::types))
        .route("/schemas/ids/{id}", get(schemas::by_id))
        .route("/schemas/ids/{id}/schema", get(schemas::by_id_schema))
        .route("/schemas/ids/{id}/subjects", get(schemas::id_subjects))
        .route("/schemas/ids/{id}/versions", get(schemas::id_versions))
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(schemas::compatibility_all),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(schemas::compatibility_one),
        )
        .route(
            "/config",
            get(config::get_global)
                .put(config::put_global)
                .delete(config::delete_global),
        )
        .route(
            "/config/{subject}",
            get(config::get_subject)
                .put(config::put_subject)
                .delete(config::delete_subject),
        )
        .route(
            "/mode",
            get(config::get_global_mode)
                .put(config::put_global_mode)
                .delete(config::delete_global_mode),
        )
        .route(
            "/mode/{subject}",
            get(config::get_subject_mode)
                .put(config::put_subject_mode)
                .delete(config::delete_subject_mode),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&broker),
            crate::auth::require,
        ))
        .with_state(broker)
}

/// Serves the registry on `listener` until `shutdown` completes, within the broker's
/// `http.*` limits (and over HTTPS when the HTTP listener is).
pub fn serve(
    listener: TcpListener,
    broker: Arc<Broker>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::pin::Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>> {
    let app = router(Arc::clone(&broker));
    let serving = crate::server::serve_with_limits(listener, Arc::clone(&broker), app, shutdown);
    Box::pin(async move {
        // A broker without a replica of `_schemas` answers reads from a copy it tails.
        broker.start_registry_tail();
        serving.await
    })
}

/// Confluent answers `{}` at the root.
async fn root() -> Response {
    json(StatusCode::OK, &serde_json::json!({}))
}

async fn not_found(uri: Uri) -> Response {
    failure(
        StatusCode::NOT_FOUND,
        404,
        &format!("HTTP 404 Not Found: no route {}", uri.path()),
    )
}

/// One request: what a handler needs to answer it here or send it on.
pub(crate) struct Call {
    broker: Arc<Broker>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    query: HashMap<String, String>,
}

impl Call {
    /// Reads the request (its body within the listener's limit).
    async fn read(broker: Arc<Broker>, req: Request) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let limit = broker.config.http.max_request_bytes;
        let body = axum::body::to_bytes(body, limit).await.map_err(|_| {
            failure(
                StatusCode::PAYLOAD_TOO_LARGE,
                413,
                &format!("the request body is larger than http.max.request.bytes ({limit})"),
            )
        })?;
        let query = axum::extract::Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .map(|q| q.0)
            .map_err(|e| {
                failure(
                    StatusCode::BAD_REQUEST,
                    400,
                    &format!("bad query string: {e}"),
                )
            })?;
        Ok(Self {
            broker,
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
            query,
        })
    }

    /// A boolean query flag (`true`/`True`/`1`; absent is false).
    fn flag(&self, name: &str) -> bool {
        self.query
            .get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
    }

    /// The body as a JSON object; 400 when it is not one.
    fn json_body(&self) -> Result<serde_json::Map<String, serde_json::Value>, Response> {
        match serde_json::from_slice::<serde_json::Value>(&self.body) {
            Ok(serde_json::Value::Object(m)) => Ok(m),
            Ok(_) => Err(failure(
                StatusCode::BAD_REQUEST,
                400,
                "the request body must be a JSON object",
            )),
            Err(e) => Err(failure(
                StatusCode::BAD_REQUEST,
                400,
                &format!("the request body is not valid JSON: {e}"),
            )),
        }
    }

    /// Answers a read from this broker's copy (or from the broker that has one).
    async fn read_registry<T>(
        &self,
        f: impl FnOnce(&Registry) -> Result<T, RegistryError>,
    ) -> Result<T, Response> {
        match self.broker.registry_read(f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) | Err(RegistryFailure::Registry(e)) => Err(error(&e)),
            Err(RegistryFailure::Route(r)) => Err(self.route(r).await),
        }
    }

    /// Like [`Call::read_registry`] for reads that parse schemas (run on a blocking
    /// thread).
    async fn parse_registry<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Registry) -> Result<T, RegistryError> + Send + 'static,
    ) -> Result<T, Response> {
        match self.broker.registry_read_blocking(f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) | Err(RegistryFailure::Registry(e)) => Err(error(&e)),
            Err(RegistryFailure::Route(r)) => Err(self.route(r).await),
        }
    }

    /// Makes a write here (as the single writer) or sends it to the writer.
    async fn write_registry<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Registry) -> Result<Effect<T>, RegistryError> + Send + 'static,
    ) -> Result<T, Response> {
        match self.broker.registry_write(op).await {
            Ok(v) => Ok(v),
            Err(RegistryFailure::Registry(e)) => Err(error(&e)),
            Err(RegistryFailure::Route(r)) => Err(self.route(r).await),
        }
    }

    async fn route(&self, route: Route) -> Response {
        match route {
            Route::Forward {
                node_id,
                host,
                port,
            } => forward::send(self, node_id, &host, port).await,
            Route::Unavailable(why) => failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                50004,
                &format!("the registry cannot serve this now: {why}; retry"),
            ),
        }
    }
}

/// A JSON answer with Confluent's content type.
pub(crate) fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    r
}

/// 200 with `value`.
pub(crate) fn ok<T: Serialize + ?Sized>(value: &T) -> Response {
    json(StatusCode::OK, value)
}

/// Confluent's error body with `status`.
pub(crate) fn failure(status: StatusCode, code: u32, message: &str) -> Response {
    json(
        status,
        &serde_json::json!({"error_code": code, "message": message}),
    )
}

/// A registry error as Confluent answers it.
pub(crate) fn error(e: &RegistryError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(status, &e.body())
}

/// Handler glue: reads the call, runs `f`, answers its response or its failure.
pub(crate) async fn handle<F, Fut>(broker: Arc<Broker>, req: Request, f: F) -> Response
where
    F: FnOnce(Call) -> Fut,
    Fut: Future<Output = Result<Response, Response>>,
{
    match Call::read(broker, req).await {
        Ok(call) => f(call).await.unwrap_or_else(|r| r),
        Err(r) => r,
    }
}

/// The state extractor handlers take.
pub(crate) type Shared = State<Arc<Broker>>;
