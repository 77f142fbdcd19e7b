//! A minimal Kafka client connection for broker-to-broker requests (follower fetches,
//! OffsetForLeaderEpoch): one request at a time, in order; in TLS and logged in with
//! SASL when the inter-broker listener says so (see `login.rs`).

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::RequestHeader;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use strata_proto::frame;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::login::{sasl_login, PeerSecurity};
use crate::network::read_ahead::ReadAhead;

/// A byte stream to another broker: TCP or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The leader could not be reached (down, restarting, no route).
    #[error("{0:#}")]
    Unreachable(anyhow::Error),
    /// The leader was reached but refused this broker: TLS or SASL failed. Loud: it
    /// will not fix itself.
    #[error("{0:#}")]
    Refused(anyhow::Error),
}

/// Largest response accepted (a fetch is bounded by its max_bytes well below this).
const MAX_RESPONSE: usize = 256 << 20;

/// The buffer grows by at most this much per read, so a length prefix alone reserves
/// little: memory follows the bytes that actually arrive.
const READ_CHUNK: usize = 1 << 20;

/// The TLS handshake with the leader, whose certificate must chain to the truststore
/// and name `addr`'s host (unless `ssl.endpoint.identification.algorithm` is empty).
async fn handshake(
    addr: &str,
    tcp: TcpStream,
    tls: &crate::network::tls::Tls,
    timeout: Duration,
) -> Result<tokio_rustls::client::TlsStream<ReadAhead<TcpStream>>, ConnectError> {
    let refused = |e: anyhow::Error| ConnectError::Refused(e.context(format!("TLS to {addr}")));
    let connector = tls.connector().ok_or_else(|| {
        refused(anyhow::anyhow!(
            "the inter-broker listener has no truststore to verify the leader with"
        ))
    })?;
    let host = addr
        .rsplit_once(':')
        .map_or(addr, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|_| refused(anyhow::anyhow!("'{host}' is not a valid host name")))?;
    let tcp = ReadAhead::new(tcp);
    match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(refused(e.into())),
        Err(_) => Err(ConnectError::Unreachable(anyhow::anyhow!(
            "TLS handshake with {addr} timed out"
        ))),
    }
}

/// Reads a `len`-byte frame body, growing the buffer as bytes arrive.
async fn read_body<R: AsyncRead + Unpin>(rd: &mut R, len: usize) -> anyhow::Result<Bytes> {
    let mut buf = BytesMut::with_capacity(len.min(READ_CHUNK));
    while buf.len() < len {
        let want = (len - buf.len()).min(READ_CHUNK);
        buf.reserve(want);
        let n = (&mut *rd).take(want as u64).read_buf(&mut buf).await?;
        if n == 0 {
            bail!(
                "connection closed mid-response ({} of {len} bytes)",
                buf.len()
            );
        }
    }
    Ok(buf.freeze())
}

/// A connection to another broker's Kafka listener.
pub struct BrokerConnection {
    stream: BufReader<Box<dyn Io>>,
    correlation: i32,
    client_id: StrBytes,
    /// When a SASL session should be renewed by reconnecting (before the leader's
    /// `connections.max.reauth.ms` runs out).
    renew_at: Option<Instant>,
}

impl BrokerConnection {
    /// Connects (TLS handshake and SASL login included) within `timeout`.
    pub(crate) async fn connect(
        addr: &str,
        node_id: i32,
        timeout: Duration,
        security: &PeerSecurity,
    ) -> Result<Self, ConnectError> {
        let tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                ConnectError::Unreachable(anyhow::anyhow!("connecting to {addr} timed out"))
            })?
            .with_context(|| format!("connecting to {addr}"))
            .map_err(ConnectError::Unreachable)?;
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Io> = match &security.tls {
            None => Box::new(tcp),
            Some(tls) => Box::new(handshake(addr, tcp, tls, timeout).await?),
        };
        let mut conn = Self {
            stream: BufReader::with_capacity(256 * 1024, stream),
            correlation: 0,
            client_id: StrBytes::from_string(format!("strata-replica-{node_id}")),
            renew_at: None,
        };
        if let Some(login) = &security.sasl {
            let started = Instant::now();
            let life = sasl_login(&mut conn, login, timeout)
                .await
                .with_context(|| format!("logging in to {addr} as {}", login.user))
                .map_err(ConnectError::Refused)?;
            // Renew at four fifths of the lifetime, as clients do.
            conn.renew_at = life.map(|l| started + l.mul_f64(0.8));
        }
        Ok(conn)
    }

    /// Whether the SASL session is due for renewal (the caller reconnects).
    pub fn session_expiring(&self) -> bool {
        self.renew_at.is_some_and(|t| Instant::now() >= t)
    }

    /// Sends `req` at `version` and waits (at most `timeout`) for its response.
    pub async fn call<R: Request>(
        &mut self,
        req: &R,
        version: i16,
        timeout: Duration,
    ) -> anyhow::Result<R::Response>
    where
        R::Response: Decodable + HeaderVersion,
    {
        self.correlation = self.correlation.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(self.client_id.clone()));
        let mut buf = BytesMut::with_capacity(256);
        buf.put_i32(0);
        header.encode(&mut buf, R::header_version(version))?;
        req.encode(&mut buf, version)?;
        let len = i32::try_from(buf.len() - 4)?;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        tokio::time::timeout(timeout, async {
            self.stream.get_mut().write_all(&buf).await?;
            let len = self.stream.read_i32().await?;
            let len = usize::try_from(len).context("negative response length")?;
            if len > MAX_RESPONSE {
                bail!("response of {len} bytes");
            }
            let frame = read_body(&mut self.stream, len).await?;
            // The shape check runs before the decoder sizes anything from the frame's counts.
            let (header, resp) = frame::decode_response::<R>(version, frame)?;
            if header.correlation_id != self.correlation {
                bail!(
                    "response for request {} while waiting for {}",
                    header.correlation_id,
                    self.correlation
                );
            }
            Ok(resp)
        })
        .await
        .context("broker request timed out")?
    }
}
