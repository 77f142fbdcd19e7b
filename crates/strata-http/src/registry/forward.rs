//! Sends a registry request on to the broker that can answer it (the writer, or a
//! broker with a copy) and relays its answer: clients may use any broker's registry.
//!
//! With HTTPS on (the HTTP listener's `HTTP:SSL`, which the registry listener shares) the
//! request goes over TLS, verified against the truststore, presenting this node's
//! certificate when asked.
//!
//! A forwarded request carries [`FORWARDED_BY`]; a broker never forwards such a request
//! again (the writer moved meanwhile: the client retries), so requests cannot loop.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{failure, Call, CONTENT_TYPE};

/// Marks a forwarded request with the node that sent it.
pub const FORWARDED_BY: &str = "x-strata-registry-forwarded-by";
/// The whole exchange with the other broker must end within this.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer relayed.
const MAX_ANSWER_BYTES: usize = 64 << 20;

/// Forwards `call` to the registry of broker `node_id` at `host:port`.
pub(super) async fn send(call: &Call, node_id: i32, host: &str, port: i32) -> Response {
    let refuse = |why: String| failure(StatusCode::INTERNAL_SERVER_ERROR, 50003, &why);
    if call.headers.contains_key(FORWARDED_BY) {
        return refuse(format!(
            "Error while forwarding the request: broker {node_id} now serves it and a forwarded request is not forwarded again; retry"
        ));
    }
    let addr = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    match tokio::time::timeout(TIMEOUT, exchange(call, host, &addr)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => refuse(format!(
            "Error while forwarding the request to broker {node_id} at {addr}: {e}"
        )),
        Err(_) => refuse(format!(
            "Error while forwarding the request to broker {node_id} at {addr}: no answer within {}s",
            TIMEOUT.as_secs()
        )),
    }
}

/// Connects (over TLS when this broker's HTTP listeners use it: then so does the other
/// broker's registry) and relays the exchange.
async fn exchange(call: &Call, host: &str, addr: &str) -> Result<Response, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    match call.broker.http_tls() {
        None => relay(call, addr, stream).await,
        Some(tls) => match tls.connect(host, stream).await {
            Some(Ok(stream)) => relay(call, addr, stream).await,
            Some(Err(e)) => Err(format!("TLS handshake failed: {e}")),
            None => Err(
                "HTTPS is on but there is no truststore (ssl.truststore.location) to verify the other broker with"
                    .to_string(),
            ),
        },
    }
}

async fn relay<S>(call: &Call, addr: &str, stream: S) -> Result<Response, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let path = call
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let mut req = Request::builder()
        .method(call.method.clone())
        .uri(path)
        .header(header::HOST, addr)
        .header(header::CONTENT_TYPE, CONTENT_TYPE)
        .header(FORWARDED_BY, call.broker.config.node_id.to_string());
    if let Some(auth) = call.headers.get(header::AUTHORIZATION) {
        req = req.header(header::AUTHORIZATION, auth.clone());
    }
    let req = req
        .body(Body::from(call.body.clone()))
        .map_err(|e| e.to_string())?;
    let answer = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let (parts, body) = answer.into_parts();
    let bytes = axum::body::to_bytes(Body::new(body), MAX_ANSWER_BYTES)
        .await
        .map_err(|e| format!("reading the answer: {e}"))?;
    let mut out = Response::new(Body::from(bytes));
    *out.status_mut() = parts.status;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(HeaderValue::from_static(CONTENT_TYPE));
    out.headers_mut().insert(header::CONTENT_TYPE, content_type);
    Ok(out)
}
