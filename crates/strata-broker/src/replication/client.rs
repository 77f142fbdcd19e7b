//! A minimal Kafka client connection for broker-to-broker requests (follower fetches,
//! OffsetForLeaderEpoch): one request at a time, in order.

use std::time::Duration;

use anyhow::{bail, Context};
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::RequestHeader;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use strata_proto::frame;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Largest response accepted (a fetch is bounded by its max_bytes well below this).
const MAX_RESPONSE: usize = 256 << 20;

/// The buffer grows by at most this much per read, so a length prefix alone reserves
/// little: memory follows the bytes that actually arrive.
const READ_CHUNK: usize = 1 << 20;

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
