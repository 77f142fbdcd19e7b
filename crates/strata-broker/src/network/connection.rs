//! One client connection: read frames, run handlers concurrently, write responses in
//! request order.
//!
//! Ordering: the reader takes the connection's turn lock (FIFO) before spawning each
//! handler, and a handler gives the turn back once its side effects are in place (a
//! Produce after its appends, a Fetch at once). So side effects happen in request order
//! — as in Kafka, which serves one request per connection at a time — while waiting
//! (long-poll fetches, fsync for `acks=all`) overlaps.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use strata_proto::frame::{self, RequestError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::response::{self, ResponseWriter, WriteError};
use crate::handlers::{self, ResponseFrame};
use crate::Broker;

/// Requests a connection may have in flight before the reader stops reading (backpressure).
const MAX_IN_FLIGHT: usize = 64;
/// Frames are read in pieces of at most this much, so a client that announces a huge
/// frame and sends nothing cannot make us allocate it.
const READ_CHUNK: usize = 1 << 20;

enum Outgoing {
    Ready(Bytes),
    Pending(JoinHandle<anyhow::Result<Option<ResponseFrame>>>),
}

/// Serves one connection until the client closes it, it misbehaves, or shutdown.
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    broker: Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
) {
    broker.metrics.connections.inc();
    let (rd, wr) = stream.into_split();
    let mut rd = BufReader::with_capacity(64 * 1024, rd);
    let (tx, rx) = mpsc::channel::<Outgoing>(MAX_IN_FLIGHT);
    let writer = tokio::spawn(write_responses(wr, rx, Arc::clone(&broker)));
    let turn = Arc::new(tokio::sync::Mutex::new(()));
    let max = broker.config.socket_request_max_bytes;
    loop {
        let frame = tokio::select! {
            r = read_frame(&mut rd, max) => r,
            _ = shutdown.changed() => break,
        };
        let frame = match frame {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing connection");
                break;
            }
        };
        broker.metrics.bytes_in.inc_by(frame.len() as u64 + 4);
        let received = Instant::now();
        let out = match frame::decode_request(frame) {
            Ok(req) => {
                let my_turn = Arc::clone(&turn).lock_owned().await;
                let b = Arc::clone(&broker);
                Outgoing::Pending(tokio::spawn(async move {
                    handlers::handle(&b, req, my_turn, received, peer).await
                }))
            }
            Err(RequestError::UnsupportedVersion {
                key,
                version,
                correlation_id,
                frame,
            }) => match handlers::reject_version(&broker, key, version, correlation_id, frame) {
                Some(bytes) => Outgoing::Ready(bytes),
                None => {
                    tracing::warn!(%peer, ?key, version, "unsupported request version; closing connection");
                    break;
                }
            },
            Err(e) => {
                tracing::warn!(%peer, error = %e, "unservable request; closing connection");
                break;
            }
        };
        if tx.send(out).await.is_err() {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
    broker.metrics.connections.dec();
}

#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error(transparent)]
    Frame(#[from] frame::FrameError),
    #[error("connection closed mid-frame")]
    Truncated,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads one frame body; `Ok(None)` on a clean end of stream between frames.
async fn read_frame<R: AsyncRead + Unpin>(
    rd: &mut R,
    max: usize,
) -> Result<Option<Bytes>, ReadError> {
    let mut prefix = [0u8; 4];
    match rd.read_exact(&mut prefix).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = frame::frame_length(prefix, max)?;
    let mut buf = BytesMut::with_capacity(len.min(READ_CHUNK));
    while buf.len() < len {
        let want = (len - buf.len()).min(READ_CHUNK);
        buf.reserve(want);
        let n = (&mut *rd).take(want as u64).read_buf(&mut buf).await?;
        if n == 0 {
            return Err(ReadError::Truncated);
        }
    }
    Ok(Some(buf.freeze()))
}

/// Writes responses in request order; a Fetch response's records are read from their
/// segment files piece by piece (see `response.rs`).
async fn write_responses(
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Outgoing>,
    broker: Arc<Broker>,
) {
    let mut writer = ResponseWriter::default();
    while let Some(out) = rx.recv().await {
        let frame = match out {
            Outgoing::Ready(b) => Some(ResponseFrame::from(b)),
            Outgoing::Pending(h) => match h.await {
                Ok(Ok(f)) => f,
                // A response we cannot produce must not leave the client waiting forever.
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "request failed; closing connection");
                    response::close(wr.as_ref());
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "request handler panicked; closing connection");
                    response::close(wr.as_ref());
                    return;
                }
            },
        };
        if let Some(f) = frame {
            match writer.write(&mut wr, f, &broker.metrics.bytes_out).await {
                Ok(()) => {}
                Err(WriteError::Socket(e)) => {
                    tracing::debug!(error = %e, "write failed; dropping connection");
                    return;
                }
                // Part of the frame may be out: only closing keeps the client from
                // reading a short frame as the start of the next.
                Err(e) => {
                    tracing::error!(error = %e, "fetch response cut short (segment truncated?); closing connection");
                    response::close(wr.as_ref());
                    return;
                }
            }
        }
        if rx.is_empty() {
            writer.release();
        }
    }
    let _ = wr.shutdown().await;
}
