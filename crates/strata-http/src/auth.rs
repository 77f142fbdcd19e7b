//! HTTP authentication: when the broker's security is on (SASL listeners, required
//! client certificates or an authorizer), every path but `http.auth.exempt.paths`
//! (default `/health`) needs HTTP basic credentials of a SCRAM user, or (over HTTPS) a
//! client certificate the cluster's truststore verifies. The principal goes to the
//! handlers as a request extension.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use strata_broker::Broker;

/// Who made an HTTP request: the authenticated principal (`None` when security is off
/// or the path is exempt) and the client's address.
#[derive(Clone, Debug)]
pub struct Principal(pub Option<String>, pub std::net::IpAddr);

/// The middleware.
pub async fn require(State(broker): State<Arc<Broker>>, mut req: Request, next: Next) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip())
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    // A client certificate the TLS handshake verified identifies the caller.
    if let Some(cert) = req
        .extensions()
        .get::<crate::server::CertificatePrincipal>()
    {
        let principal = cert.0.clone();
        req.extensions_mut().insert(Principal(Some(principal), ip));
        return next.run(req).await;
    }
    if !broker.security_enabled() || broker.http_path_exempt(req.uri().path()) {
        req.extensions_mut().insert(Principal(None, ip));
        return next.run(req).await;
    }
    let Some((user, password)) = basic_credentials(&req) else {
        return unauthorized("this endpoint needs HTTP basic credentials of a SCRAM user");
    };
    match broker.http_authenticate(&user, &password, ip).await {
        Some(principal) => {
            req.extensions_mut().insert(Principal(Some(principal), ip));
            next.run(req).await
        }
        None => unauthorized("authentication failed"),
    }
}

fn basic_credentials(req: &Request) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    if encoded.len() > 4096 {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn unauthorized(message: &str) -> Response {
    let mut r = (
        StatusCode::UNAUTHORIZED,
        Json(serde_json::json!({ "error": message })),
    )
        .into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"strata\""),
    );
    r
}

/// 403 for an authenticated principal without the ACL.
pub fn forbidden(message: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}
