//! One TCP connection to one broker: framing, request headers, pipelining and ApiVersions
//! negotiation.
//!
//! Requests may be issued concurrently from many tasks; each gets a fresh correlation id and
//! a oneshot slot, and a single reader task routes every response frame to the slot with the
//! matching id. Kafka answers in request order per connection, but matching by id keeps us
//! correct without relying on that and lets timed-out requests be forgotten.
//!
//! With security on, a connection starts with a TLS handshake and/or authenticates with
//! SASL (`sasl.rs`) right after ApiVersions, before it is handed out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Message, Request, StrBytes};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use crate::cluster::ClientConfig;
use crate::error::{codes, io_reason, ClientError, Result};
use crate::security::SecurityConfig;

/// The read side of a connection: a TCP half, or a TLS stream's.
type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
/// The write side of a connection.
type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

/// How connections are made: the security settings and, for TLS, the connector built
/// from them once per client (so every connection verifies the same way).
pub(crate) struct Transport {
    pub(crate) security: SecurityConfig,
    tls: Option<tokio_rustls::TlsConnector>,
}

impl Transport {
    /// Checks the settings and reads the TLS files.
    pub(crate) fn new(security: &SecurityConfig) -> Result<Transport> {
        security.validate()?;
        let tls = if security.protocol.uses_tls() {
            if !security.ssl_verify {
                tracing::warn!(
                    "enable.ssl.certificate.verification=false: broker certificates are NOT \
                     verified; anyone on the path can impersonate the brokers"
                );
            }
            Some(crate::tls::connector(security)?)
        } else {
            None
        };
        Ok(Transport {
            security: security.clone(),
            tls,
        })
    }
}

/// Frames larger than this are treated as a protocol violation rather than allocated.
const MAX_RESPONSE_BYTES: usize = 512 * 1024 * 1024;

type Slot = oneshot::Sender<Result<Bytes>>;

#[derive(Default)]
struct Pending {
    slots: HashMap<i32, Slot>,
    /// Set once the reader has stopped; later requests fail fast with this reason.
    closed: Option<String>,
}

/// A live connection to one broker.
pub(crate) struct Connection {
    addr: String,
    client_id: StrBytes,
    writer: tokio::sync::Mutex<WriteHalf>,
    pending: Arc<Mutex<Pending>>,
    next_correlation: AtomicI32,
    /// Broker-supported version range per API key, from ApiVersions.
    versions: HashMap<i16, (i16, i16)>,
    closed: Arc<AtomicBool>,
    /// When the SASL session should be renewed (KIP-368): the connection counts as closed
    /// from then on, so the next user opens (and authenticates) a new one.
    renew_at: Option<Instant>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Connection {
    /// Connects (TLS handshake included), starts the reader, negotiates API versions and
    /// authenticates.
    pub(crate) async fn connect(
        addr: &str,
        config: &ClientConfig,
        transport: &Transport,
    ) -> Result<Connection> {
        let client_id = config.client_id.as_str();
        let request_timeout = config.request_timeout;
        let connect_err = |reason: String| ClientError::Connect {
            addr: addr.to_string(),
            reason,
        };
        let dial = async {
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|e| connect_err(io_reason(&e)))?;
            // Small requests (metadata, acks) must not wait for Nagle.
            let _ = stream.set_nodelay(true);
            let Some(tls) = &transport.tls else {
                let (read, write) = stream.into_split();
                return Ok::<_, ClientError>((
                    Box::new(read) as ReadHalf,
                    Box::new(write) as WriteHalf,
                ));
            };
            let name = crate::tls::server_name(addr)?;
            let stream =
                tls.connect(name, stream).await.map_err(
                    |e| match crate::tls::handshake_failure(&e) {
                        Some(reason) => ClientError::Tls {
                            addr: addr.to_string(),
                            reason,
                        },
                        None => connect_err(format!("TLS handshake: {}", io_reason(&e))),
                    },
                )?;
            let (read, write) = tokio::io::split(stream);
            Ok((Box::new(read) as ReadHalf, Box::new(write) as WriteHalf))
        };
        let (read, write) = match tokio::time::timeout(config.connect_timeout, dial).await {
            Err(_) => return Err(connect_err("timed out".into())),
            Ok(r) => r?,
        };
        let pending = Arc::new(Mutex::new(Pending::default()));
        let closed = Arc::new(AtomicBool::new(false));
        let reader = tokio::spawn(read_loop(
            read,
            addr.to_string(),
            pending.clone(),
            closed.clone(),
        ));
        let mut conn = Connection {
            addr: addr.to_string(),
            client_id: StrBytes::from_string(client_id.to_string()),
            writer: tokio::sync::Mutex::new(write),
            pending,
            next_correlation: AtomicI32::new(1),
            versions: HashMap::new(),
            closed,
            renew_at: None,
            reader,
        };
        conn.versions = conn.negotiate(request_timeout).await?;
        if transport.security.protocol.uses_sasl() {
            let lifetime =
                crate::sasl::authenticate(&conn, &transport.security, request_timeout).await?;
            // Renew well before the broker's deadline, as the Java client does (85-95 %).
            conn.renew_at = lifetime.map(|l| Instant::now() + l.mul_f64(0.85));
        }
        Ok(conn)
    }

    /// Whether the connection has failed (or its SASL session is due for renewal); a
    /// closed connection is replaced on next use.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire) || self.renew_at.is_some_and(|t| Instant::now() >= t)
    }

    /// The broker's address.
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// The highest version of `R` that both we and the broker support, but not above `cap`.
    pub(crate) fn version_for<R: Request>(&self, cap: Option<i16>) -> Result<i16> {
        let unsupported = || ClientError::UnsupportedVersion {
            api: api_name(R::KEY),
        };
        let (bmin, bmax) = *self.versions.get(&R::KEY).ok_or_else(unsupported)?;
        let max = R::VERSIONS.max.min(bmax).min(cap.unwrap_or(i16::MAX));
        let min = R::VERSIONS.min.max(bmin);
        if min > max {
            return Err(unsupported());
        }
        Ok(max)
    }

    /// Sends `req` at `version` and waits for its response.
    pub(crate) async fn request<R: Request>(
        &self,
        req: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response> {
        let (correlation_id, rx) = self.submit(req, version, true).await?;
        let rx = rx.ok_or_else(|| ClientError::Protocol("no response slot".into()))?;
        let frame = match tokio::time::timeout(timeout, rx).await {
            Err(_) => {
                self.pending.lock().slots.remove(&correlation_id);
                return Err(ClientError::Timeout(format!(
                    "{} to {} after {} ms",
                    api_name(R::KEY),
                    self.addr,
                    timeout.as_millis()
                )));
            }
            Ok(Err(_)) => return Err(self.network_error("connection closed")),
            Ok(Ok(r)) => r?,
        };
        decode_response::<R>(frame, version)
    }

    /// Sends `req` without waiting for (or expecting) a response; used for `acks=0` produce.
    pub(crate) async fn send_oneway<R: Request>(&self, req: &R, version: i16) -> Result<()> {
        self.submit(req, version, false).await.map(|_| ())
    }

    async fn submit<R: Request>(
        &self,
        req: &R,
        version: i16,
        expect_response: bool,
    ) -> Result<(i32, Option<oneshot::Receiver<Result<Bytes>>>)> {
        let correlation_id = self.next_correlation.fetch_add(1, Ordering::Relaxed);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(self.client_id.clone()));
        let mut buf = BytesMut::with_capacity(64);
        buf.put_i32(0); // length placeholder, patched below
        header
            .encode(&mut buf, R::header_version(version))
            .map_err(|e| ClientError::Protocol(format!("encoding request header: {e}")))?;
        req.encode(&mut buf, version).map_err(|e| {
            ClientError::Protocol(format!("encoding {} v{version}: {e}", api_name(R::KEY)))
        })?;
        let len = i32::try_from(buf.len() - 4)
            .map_err(|_| ClientError::Protocol("request too large".into()))?;
        buf[..4].copy_from_slice(&len.to_be_bytes());

        let rx = if expect_response {
            let (tx, rx) = oneshot::channel();
            let mut pending = self.pending.lock();
            if let Some(reason) = &pending.closed {
                return Err(self.network_error(reason));
            }
            pending.slots.insert(correlation_id, tx);
            Some(rx)
        } else {
            None
        };
        let mut writer = self.writer.lock().await;
        // TLS holds written bytes until flushed; for TCP the flush is a no-op.
        let written = match writer.write_all(&buf).await {
            Ok(()) => writer.flush().await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            drop(writer);
            self.pending.lock().slots.remove(&correlation_id);
            self.closed.store(true, Ordering::Release);
            return Err(self.network_error(&io_reason(&e)));
        }
        Ok((correlation_id, rx))
    }

    fn network_error(&self, reason: &str) -> ClientError {
        ClientError::Network {
            addr: self.addr.clone(),
            reason: reason.to_string(),
        }
    }

    /// ApiVersions handshake. We ask with our highest version; a broker that does not know it
    /// answers UNSUPPORTED_VERSION in the v0 body layout, listing its own range, and we retry.
    async fn negotiate(&self, timeout: Duration) -> Result<HashMap<i16, (i16, i16)>> {
        let mut version = ApiVersionsRequest::VERSIONS.max;
        for _ in 0..2 {
            let mut req = ApiVersionsRequest::default();
            if version >= 3 {
                req.client_software_name = StrBytes::from_static_str("strata-client");
                req.client_software_version = StrBytes::from_static_str(env!("CARGO_PKG_VERSION"));
            }
            let (cid, rx) = self.submit(&req, version, true).await?;
            let rx = rx.ok_or_else(|| ClientError::Protocol("no response slot".into()))?;
            let frame = match tokio::time::timeout(timeout, rx).await {
                Err(_) => {
                    self.pending.lock().slots.remove(&cid);
                    return Err(ClientError::Timeout(format!(
                        "ApiVersions to {}",
                        self.addr
                    )));
                }
                Ok(Err(_)) => return Err(self.network_error("connection closed")),
                Ok(Ok(r)) => r?,
            };
            // The header alone (a correlation id, no counts) tells where the body starts.
            let mut body = frame.clone();
            ResponseHeader::decode(&mut body, ApiVersionsResponse::header_version(version))
                .map_err(|e| ClientError::Protocol(format!("ApiVersions header: {e}")))?;
            if body.len() >= 2
                && i16::from_be_bytes([body[0], body[1]]) == codes::UNSUPPORTED_VERSION
            {
                let resp = decode_response::<ApiVersionsRequest>(frame, 0)?;
                let theirs = resp
                    .api_keys
                    .iter()
                    .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                    .map(|k| k.max_version)
                    .unwrap_or(0);
                if theirs >= version {
                    return Err(ClientError::Protocol(
                        "broker rejected ApiVersions at a version it claims to support".into(),
                    ));
                }
                version = theirs;
                continue;
            }
            let resp = decode_response::<ApiVersionsRequest>(frame, version)?;
            if resp.error_code != 0 {
                return Err(ClientError::from_code(
                    resp.error_code,
                    None,
                    &format!("ApiVersions rejected by {}", self.addr),
                ));
            }
            return Ok(resp
                .api_keys
                .iter()
                .map(|k| (k.api_key, (k.min_version, k.max_version)))
                .collect());
        }
        Err(ClientError::Protocol(format!(
            "could not agree on an ApiVersions version with {}",
            self.addr
        )))
    }
}

/// Decodes a response frame after the wire-shape check (kafka-protocol sizes allocations
/// from the frame's counts; the check makes sure they fit in the frame first).
fn decode_response<R: Request>(frame: Bytes, version: i16) -> Result<R::Response> {
    strata_proto::frame::decode_response::<R>(version, frame)
        .map(|(_, body)| body)
        .map_err(|e| ClientError::Protocol(e.to_string()))
}

/// Human name of an API key, e.g. `Produce`.
pub(crate) fn api_name(key: i16) -> String {
    match ApiKey::try_from(key) {
        Ok(k) => format!("{k:?}"),
        Err(_) => format!("api key {key}"),
    }
}

/// The buffer grows by at most this much per read, so a length prefix alone reserves
/// little: memory follows the bytes that actually arrive.
const READ_CHUNK: usize = 1 << 20;

/// Reads a `len`-byte frame body, growing the buffer as bytes arrive.
async fn read_body(read: &mut ReadHalf, len: usize) -> std::io::Result<Bytes> {
    let mut buf = BytesMut::with_capacity(len.min(READ_CHUNK));
    while buf.len() < len {
        let want = (len - buf.len()).min(READ_CHUNK);
        buf.reserve(want);
        let n = (&mut *read).take(want as u64).read_buf(&mut buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(buf.freeze())
}

async fn read_loop(
    mut read: ReadHalf,
    addr: String,
    pending: Arc<Mutex<Pending>>,
    closed: Arc<AtomicBool>,
) {
    // (reason, whether the peer is not a Kafka listener at all)
    let (reason, not_kafka) = loop {
        let mut head = [0u8; 4];
        if let Err(e) = read.read_exact(&mut head).await {
            break (io_reason(&e), false);
        }
        let len = i32::from_be_bytes(head);
        if let Some(detail) = not_kafka_detail(head, &mut read).await {
            break (detail, true);
        }
        let Ok(len) = usize::try_from(len) else {
            break (format!("negative frame length {len}"), false);
        };
        let mut frame = match read_body(&mut read, len).await {
            Ok(f) => f,
            Err(e) => break (io_reason(&e), false),
        };
        // Peek the correlation id; the header is decoded fully by the requester, which knows
        // the header version.
        let correlation_id = (&frame[..4]).get_i32();
        let slot = pending.lock().slots.remove(&correlation_id);
        match slot {
            Some(tx) => {
                let _ = tx.send(Ok(std::mem::take(&mut frame)));
            }
            None => {
                tracing::debug!(%addr, correlation_id, "response for unknown or expired request")
            }
        }
    };
    closed.store(true, Ordering::Release);
    let mut p = pending.lock();
    p.closed = Some(if not_kafka {
        format!("not a Kafka listener ({reason})")
    } else {
        reason.clone()
    });
    for (_, tx) in p.slots.drain() {
        let e = if not_kafka {
            ClientError::NotKafka {
                addr: addr.clone(),
                detail: reason.clone(),
            }
        } else {
            ClientError::Network {
                addr: addr.clone(),
                reason: reason.clone(),
            }
        };
        let _ = tx.send(Err(e));
    }
}

/// Says what the peer sent when the first 4 bytes of a response cannot be a Kafka frame
/// length: printable text (an HTTP server's `HTTP/1.1 400 ...`: its first line is shown), a
/// TLS record (a TLS listener reached without TLS), or any length below 4 or above the
/// maximum. `None` for a plausible length.
async fn not_kafka_detail(head: [u8; 4], read: &mut ReadHalf) -> Option<String> {
    let len = i32::from_be_bytes(head);
    // A TLS record header: content type 20..=24, then version 3.x.
    if (20..=24).contains(&head[0]) && head[1] == 3 && head[2] <= 4 {
        return Some("got a TLS record: the listener expects TLS (security.protocol=SSL)".into());
    }
    let plausible = usize::try_from(len).is_ok_and(|l| (4..=MAX_RESPONSE_BYTES).contains(&l));
    if plausible {
        return None;
    }
    let printable = |b: &u8| b.is_ascii_graphic() || *b == b' ';
    if head.iter().all(printable) {
        // Text: show the rest of its first line (briefly waiting for it).
        let mut text = head.to_vec();
        let mut more = [0u8; 96];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(300), read.read(&mut more)).await
        {
            text.extend_from_slice(&more[..n]);
        }
        let line: String = text
            .iter()
            .take_while(|b| printable(b))
            .map(|b| char::from(*b))
            .collect();
        return Some(format!("got '{line}'"));
    }
    Some(format!(
        "unexpected bytes {:02x} {:02x} {:02x} {:02x}: a frame length of {len} is not possible",
        head[0], head[1], head[2], head[3]
    ))
}
