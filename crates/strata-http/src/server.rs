//! The HTTP accept loop with its limits (`http.*` settings, [`HttpLimits`]):
//!
//! - at most `http.max.connections` connections; one more is answered `503` and closed;
//! - a request head (request line and headers, at most 64 KiB) must arrive within
//!   `http.header.read.timeout.ms` of the connection opening or of the previous response
//!   (so an idle keep-alive connection is closed after it too), else the connection is
//!   closed;
//! - a request must be answered within `http.request.timeout.ms` (else `408` and the
//!   connection closes), and a response the client does not take for that long closes
//!   the connection;
//! - a body announced larger than `http.max.request.bytes` gets `413`; extractors that
//!   read bodies stop at the same limit.
//!
//! HTTP/1.1 only. Garbage gets `400` from the parser and the connection is closed.
//!
//! With HTTPS configured ([`strata_broker::network::HttpTls`]) the TLS handshake comes
//! first, within `http.header.read.timeout.ms`; a client certificate the handshake
//! verified makes the request's [`CertificatePrincipal`].

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::metrics::counter::Counter;
use strata_broker::config::HttpLimits;
use strata_broker::metrics::ReasonLabels;
use strata_broker::Broker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Sleep;
use tower::Service;

/// Largest request head (request line and headers).
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Sent to a connection over `http.max.connections` before it is closed.
const OVER_LIMIT: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\nretry-after: 1\r\n\r\n";

/// Serves `app` on `listener` with the broker's HTTP limits until `shutdown` completes;
/// then lets open connections finish their current request.
///
/// Returns a boxed future so the server (hyper, axum and every route) is compiled once, in
/// this crate, instead of again in each crate that awaits it.
pub fn serve_with_limits(
    listener: TcpListener,
    broker: Arc<Broker>,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Pin<Box<dyn Future<Output = io::Result<()>> + Send>> {
    serve_boxed(listener, broker, app, Box::pin(shutdown))
}

fn serve_boxed(
    listener: TcpListener,
    broker: Arc<Broker>,
    app: Router,
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
) -> Pin<Box<dyn Future<Output = io::Result<()>> + Send>> {
    Box::pin(serve_inner(listener, broker, app, shutdown))
}

async fn serve_inner(
    listener: TcpListener,
    broker: Arc<Broker>,
    app: Router,
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
) -> io::Result<()> {
    let limits = broker.config.http;
    let closed = |reason| {
        broker
            .metrics
            .http_connections_closed
            .get_or_create(&ReasonLabels { reason })
            .clone()
    };
    let counters = Counters {
        header_timeout: closed("header_timeout"),
        request_timeout: closed("request_timeout"),
        write_timeout: closed("write_timeout"),
    };
    let over_limit = closed("over_limit");
    let tls_refused = closed("tls_handshake");
    let app = app.layer(DefaultBodyLimit::max(limits.max_request_bytes));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::debug!(error = %e, "HTTP accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    // A new socket's send buffer is empty: this does not block.
                    let _ = stream.try_write(OVER_LIMIT);
                    over_limit.inc();
                    tracing::debug!("http.max.connections open; connection refused");
                    continue;
                };
                let (app, counters, stopping) = (app.clone(), counters.clone(), stopping.clone());
                let tls = broker.http_tls();
                let refused = tls_refused.clone();
                conns.spawn(async move {
                    let peer = stream.peer_addr().ok();
                    match tls {
                        None => serve_connection(stream, peer, None, app, limits, counters, stopping).await,
                        Some(tls) => {
                            let handshake = tls.acceptor().accept(stream);
                            match tokio::time::timeout(limits.header_read_timeout, handshake).await {
                                Ok(Ok(s)) => {
                                    let principal = s
                                        .get_ref()
                                        .1
                                        .peer_certificates()
                                        .and_then(|chain| tls.principal(chain))
                                        .map(CertificatePrincipal);
                                    serve_connection(s, peer, principal, app, limits, counters, stopping).await
                                }
                                Ok(Err(e)) => {
                                    refused.inc();
                                    tracing::debug!(?peer, error = %e, "HTTPS handshake failed");
                                }
                                Err(_) => {
                                    refused.inc();
                                    tracing::debug!(?peer, "no HTTPS handshake in time");
                                }
                            }
                        }
                    }
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    while conns.join_next().await.is_some() {}
    Ok(())
}

#[derive(Clone)]
struct Counters {
    header_timeout: Counter,
    request_timeout: Counter,
    write_timeout: Counter,
}

/// The principal of the client certificate a TLS connection presented (`User:...`).
#[derive(Clone, Debug)]
pub struct CertificatePrincipal(pub String);

async fn serve_connection<T: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: T,
    peer: Option<std::net::SocketAddr>,
    principal: Option<CertificatePrincipal>,
    app: Router,
    limits: HttpLimits,
    counters: Counters,
    mut stopping: watch::Receiver<bool>,
) {
    let io = TokioIo::new(WriteDeadline {
        io: stream,
        limit: limits.request_timeout,
        timer: None,
        timeouts: counters.write_timeout.clone(),
    });
    let service = hyper::service::service_fn({
        let counter = counters.request_timeout.clone();
        move |mut req: Request<Incoming>| {
            // The client's address, for the authentication middleware.
            if let Some(peer) = peer {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
            }
            if let Some(p) = &principal {
                req.extensions_mut().insert(p.clone());
            }
            let mut app = app.clone();
            let counter = counter.clone();
            async move {
                if let Some(resp) = too_large(&req, limits.max_request_bytes) {
                    return Ok::<_, std::convert::Infallible>(resp);
                }
                match tokio::time::timeout(limits.request_timeout, app.call(req)).await {
                    Ok(resp) => resp,
                    Err(_) => {
                        counter.inc();
                        Ok(plain(StatusCode::REQUEST_TIMEOUT, "request timed out\n"))
                    }
                }
            }
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(MAX_HEAD_BYTES)
        .max_buf_size(MAX_HEAD_BYTES);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = async { let _ = stopping.wait_for(|s| *s).await; } => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        if e.is_timeout() {
            counters.header_timeout.inc();
        }
        tracing::debug!(error = %e, "HTTP connection closed");
    }
}

/// `413` for a body announced larger than the limit.
fn too_large(req: &Request<Incoming>, max: usize) -> Option<Response<Body>> {
    let len = req.headers().get(header::CONTENT_LENGTH)?;
    let len: u64 = len.to_str().ok()?.trim().parse().ok()?;
    (len > max as u64).then(|| {
        plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body larger than http.max.request.bytes\n",
        )
    })
}

/// A short plain-text answer after which the connection closes (the request body may be
/// unread).
fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::from(text));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// A socket whose writes fail with `TimedOut` once they have been blocked (the client
/// not reading) for `limit`.
struct WriteDeadline<T> {
    io: T,
    limit: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    timeouts: Counter,
}

impl<T: AsyncWrite + Unpin> WriteDeadline<T> {
    fn blocked<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let limit = self.limit;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if timer.as_mut().poll(cx).is_ready() {
            self.timeouts.inc();
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "client did not take the response within http.request.timeout.ms",
            )));
        }
        Poll::Pending
    }

    fn progressed<R>(
        &mut self,
        r: Poll<io::Result<R>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<R>> {
        match r {
            Poll::Pending => self.blocked(cx),
            ready => {
                self.timer = None;
                ready
            }
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for WriteDeadline<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.progressed(r, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.progressed(r, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        self.progressed(r, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
