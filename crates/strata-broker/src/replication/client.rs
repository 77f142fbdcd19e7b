//! A minimal Kafka client connection for broker-to-broker requests (follower fetches,
//! OffsetForLeaderEpoch): one request at a time, in order.

use std::time::Duration;

use anyhow::{bail, Context};
use bytes::{Buf, BufMut, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Largest response accepted (a fetch is bounded by its max_bytes well below this).
const MAX_RESPONSE: usize = 256 << 20;

/// A connection to another broker's Kafka listener.
pub struct BrokerConnection {
    stream: BufReader<TcpStream>,
    correlation: i32,
    client_id: StrBytes,
}

impl BrokerConnection {
    /// Connects within `timeout`.
    pub async fn connect(addr: &str, node_id: i32, timeout: Duration) -> anyhow::Result<Self> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .with_context(|| format!("connecting to {addr} timed out"))?
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: BufReader::with_capacity(256 * 1024, stream),
            correlation: 0,
            client_id: StrBytes::from_string(format!("strata-replica-{node_id}")),
        })
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
            let mut frame = vec![0u8; len];
            self.stream.read_exact(&mut frame).await?;
            let mut frame = bytes::Bytes::from(frame);
            let header = ResponseHeader::decode(&mut frame, R::Response::header_version(version))?;
            if header.correlation_id != self.correlation {
                bail!(
                    "response for request {} while waiting for {}",
                    header.correlation_id,
                    self.correlation
                );
            }
            let resp = R::Response::decode(&mut frame, version)?;
            if frame.has_remaining() {
                tracing::trace!(left = frame.remaining(), "response bytes left over");
            }
            Ok(resp)
        })
        .await
        .context("broker request timed out")?
    }
}
