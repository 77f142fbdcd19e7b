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

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use strata_proto::frame::{self, RequestError};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::reader::{ReadError, Reader};
use super::response::{self, ResponseWriter, WriteError};
use super::shared::ConnState;
use crate::handlers::{self, ResponseFrame};
use crate::metrics::{ApiLabels, ReasonLabels};
use crate::Broker;

/// Requests a connection may have in flight before the reader stops reading (backpressure).
const MAX_IN_FLIGHT: usize = 64;

enum Outgoing {
    Ready(Bytes),
    Pending(JoinHandle<anyhow::Result<Option<ResponseFrame>>>),
}

/// Serves one connection until the client closes it, it misbehaves, or shutdown.
pub(crate) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    broker: Arc<Broker>,
    conn: Arc<ConnState>,
    mut shutdown: watch::Receiver<bool>,
) {
    broker.metrics.connections.inc();
    let (rd, wr) = stream.into_split();
    let mut wr = Some(wr);
    let c = &broker.config;
    let mut rd = Reader::new(
        rd,
        c.socket_request_max_bytes,
        c.connections_max_idle,
        c.socket_request_read_timeout,
    );
    // The writer and the ordering turn come with the first request: an idle connection
    // is one task and no buffers.
    let mut writer: Option<(mpsc::Sender<Outgoing>, JoinHandle<()>)> = None;
    let mut turn: Option<Arc<tokio::sync::Mutex<()>>> = None;
    loop {
        let read = tokio::select! {
            r = rd.next_frame(&conn) => r,
            _ = shutdown.changed() => break,
        };
        let f = match read {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                read_failed(&broker, peer, e);
                break;
            }
        };
        broker.metrics.bytes_in.inc_by(f.body.len() as u64 + 4);
        let out = match frame::decode_request(f.body) {
            Ok(req) => {
                let turn = turn.get_or_insert_with(Default::default);
                let my_turn = Arc::clone(turn).lock_owned().await;
                let b = Arc::clone(&broker);
                let (permit, received) = (f.permit, f.received);
                Outgoing::Pending(tokio::spawn(async move {
                    // The request's budget is given back when its handler is done.
                    let _permit = permit;
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
                    malformed(&broker, Some(key));
                    tracing::debug!(%peer, ?key, version, "unsupported request version; closing connection");
                    break;
                }
            },
            Err(e) => {
                let key = match &e {
                    RequestError::Malformed { key, .. } => Some(*key),
                    _ => None,
                };
                malformed(&broker, key);
                tracing::debug!(%peer, error = %e, "malformed request; closing connection");
                break;
            }
        };
        let (tx, _) = writer.get_or_insert_with(|| {
            let (tx, rx) = mpsc::channel::<Outgoing>(MAX_IN_FLIGHT);
            let wr = wr.take().expect("the writer starts once");
            (
                tx,
                tokio::spawn(write_responses(wr, rx, Arc::clone(&broker))),
            )
        });
        if tx.send(out).await.is_err() {
            break;
        }
    }
    if let Some((tx, handle)) = writer {
        drop(tx);
        let _ = handle.await;
    }
    broker.metrics.connections.dec();
}

/// Counts and logs why reading stopped (debug: a misbehaving client must not flood the
/// log).
fn read_failed(broker: &Broker, peer: SocketAddr, e: ReadError) {
    let reason = match &e {
        ReadError::Idle => "idle",
        ReadError::Timeout { .. } => "request_timeout",
        ReadError::Frame(_) => {
            malformed(broker, None);
            tracing::debug!(%peer, error = %e, "bad frame; closing connection");
            return;
        }
        ReadError::Truncated | ReadError::Io(_) => {
            tracing::debug!(%peer, error = %e, "connection lost");
            return;
        }
    };
    broker
        .metrics
        .connections_closed
        .get_or_create(&ReasonLabels { reason })
        .inc();
    tracing::debug!(%peer, error = %e, "closing connection");
}

/// Counts a request that did not decode and the close it causes.
fn malformed(broker: &Broker, key: Option<ApiKey>) {
    let api = key.map_or("unknown", handlers::api_name);
    let m = &broker.metrics;
    m.malformed_requests.get_or_create(&ApiLabels { api }).inc();
    let reason = "malformed";
    m.connections_closed
        .get_or_create(&ReasonLabels { reason })
        .inc();
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
                // Never completed on the wire: the client discards the partial frame,
                // reconnects and fetches again, by then past the damaged batch.
                Err(WriteError::Corrupt { file, bad }) => {
                    tracing::error!(
                        position = bad.position,
                        base_offset = ?bad.base_offset,
                        reason = bad.reason,
                        "a fetched record batch failed its check; not served, closing the connection and moving it aside"
                    );
                    response::close(wr.as_ref());
                    crate::replica::repair_fetched_file(Arc::clone(&broker), file);
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
