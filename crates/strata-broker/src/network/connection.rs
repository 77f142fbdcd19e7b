//! One client connection: read frames, run handlers concurrently, write responses in
//! request order.
//!
//! Ordering: the reader takes the connection's turn (FIFO, see `handlers::turn`) before
//! spawning each handler, and a handler gives the turn back once its side effects are
//! in place (a Produce once its appends are queued, a Fetch at once). So side effects
//! happen in request order — as in Kafka, which serves one request per connection at a
//! time — while waiting (appends being written, long-poll fetches, fsync for
//! `acks=all`) overlaps.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use strata_proto::frame::{self, RequestError};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::listener::Endpoint;
use super::reader::{ReadError, Reader};
use super::response::{self, ResponseWriter, WriteError};
use super::sasl::{self, SaslOutcome};
use super::session::{Gate, Session, ANONYMOUS};
use super::shared::{ConnState, Mute};
use super::stream::{self, shutdown_fd, ReadSide, WriteSide};
use crate::handlers::{self, Caller, ResponseFrame, Served};
use crate::metrics::{ApiLabels, ReasonLabels};
use crate::Broker;

/// A TLS handshake must be done within this.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Requests a connection may have in flight before the reader stops reading (backpressure).
const MAX_IN_FLIGHT: usize = 64;

enum Outgoing {
    Ready(Bytes),
    Pending(JoinHandle<anyhow::Result<Served>>),
}

/// Serves one connection until the client closes it, it misbehaves, or shutdown.
pub(crate) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    endpoint: Arc<Endpoint>,
    broker: Arc<Broker>,
    conn: Arc<ConnState>,
    mut shutdown: watch::Receiver<bool>,
) {
    let listener_open = broker
        .metrics
        .connections
        .get_or_create(&crate::metrics::ListenerLabels {
            listener: endpoint.config.name.clone(),
        })
        .clone();
    listener_open.inc();
    broker.metrics.open_connections.inc();
    let fd = stream.as_raw_fd();
    let opened = tokio::select! {
        o = open(stream, peer, &endpoint, &broker) => o,
        _ = shutdown.changed() => None,
    };
    if let Some((rd, wr, session)) = opened {
        serve_requests(rd, wr, fd, session, peer, endpoint, &broker, conn, shutdown).await;
    }
    listener_open.dec();
    broker.metrics.open_connections.dec();
}

/// The TLS handshake (on TLS listeners) and the connection's first principal: the
/// client certificate's with mTLS, else ANONYMOUS until SASL says otherwise.
async fn open(
    stream: TcpStream,
    peer: SocketAddr,
    endpoint: &Endpoint,
    broker: &Broker,
) -> Option<(ReadSide, WriteSide, Session)> {
    let sasl = endpoint.config.protocol.sasl();
    let Some(tls) = &endpoint.tls else {
        let (rd, wr) = stream::plain(stream);
        let session = if sasl {
            Session::sasl()
        } else {
            Session::open(ANONYMOUS.into())
        };
        return Some((rd, wr, session));
    };
    let accepted = tokio::time::timeout(
        TLS_HANDSHAKE_TIMEOUT,
        tls.acceptor()
            .accept(super::read_ahead::ReadAhead::new(stream)),
    )
    .await;
    let tls_stream = match accepted {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            count_closed(broker, "tls_handshake");
            tracing::debug!(%peer, listener = %endpoint.config.name, error = %e, "TLS handshake failed");
            return None;
        }
        Err(_) => {
            count_closed(broker, "tls_handshake");
            tracing::debug!(%peer, listener = %endpoint.config.name, "TLS handshake timed out");
            return None;
        }
    };
    let session = if sasl {
        Session::sasl()
    } else {
        let cert = tls_stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first());
        match cert {
            None => Session::open(ANONYMOUS.into()),
            Some(der) => match sasl::certificate_principal(der.as_ref(), endpoint.mapping.as_ref())
            {
                Ok(p) => Session::open(p.into()),
                Err(e) => {
                    count_closed(broker, "tls_principal");
                    tracing::info!(%peer, listener = %endpoint.config.name, error = %e,
                        "client certificate maps to no principal; connection closed");
                    return None;
                }
            },
        }
    };
    let (rd, wr) = stream::tls(tls_stream);
    Some((rd, wr, session))
}

#[allow(clippy::too_many_arguments)]
async fn serve_requests(
    rd: ReadSide,
    wr: WriteSide,
    fd: RawFd,
    mut session: Session,
    peer: SocketAddr,
    endpoint: Arc<Endpoint>,
    broker: &Arc<Broker>,
    conn: Arc<ConnState>,
    mut shutdown: watch::Receiver<bool>,
) {
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
    let mut order: Option<handlers::Order> = None;
    let mut exchange: Option<sasl::Exchange> = None;
    let mute = Arc::new(Mute::new());
    loop {
        // A throttled client (KIP-219) is not read from until its throttle time is over.
        if !wait_unmuted(&mute, &mut shutdown).await {
            break;
        }
        let read = tokio::select! {
            r = rd.next_frame(&conn) => r,
            _ = shutdown.changed() => break,
        };
        let f = match read {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                read_failed(broker, peer, e);
                break;
            }
        };
        // A mute set while the reader was waiting for this frame (its predecessor's
        // handler finished meanwhile) holds the frame until it is over.
        if !wait_unmuted(&mute, &mut shutdown).await {
            break;
        }
        let size = f.body.len();
        broker.metrics.bytes_in.inc_by(size as u64 + 4);
        let mut close_after = false;
        let out = if session.expects_raw_token() {
            match sasl::raw_token(broker, &mut session, &mut exchange, f.body, peer).await {
                SaslOutcome::Reply(bytes) => Outgoing::Ready(bytes),
                SaslOutcome::ReplyAndClose(bytes) => {
                    close_after = true;
                    Outgoing::Ready(bytes)
                }
                SaslOutcome::Close => break,
            }
        } else {
            match frame::decode_request(f.body) {
                Ok(req) => match session.gate(req.api_key, std::time::Instant::now()) {
                    Gate::Serve => {
                        let order = order.get_or_insert_with(Default::default);
                        let my_turn = order.take(req.api_key).await;
                        let b = Arc::clone(broker);
                        let (permit, received) = (f.permit, f.received);
                        let caller = Caller {
                            peer,
                            principal: Arc::clone(session.principal()),
                            listener: Arc::clone(&endpoint),
                        };
                        let arrival =
                            handlers::throttle_on_arrival(broker, &req, &caller.principal, size);
                        mute.mute_for(arrival);
                        let mute = Arc::clone(&mute);
                        Outgoing::Pending(tokio::spawn(async move {
                            // The request's budget is given back when its handler is done.
                            let _permit = permit;
                            let served =
                                handlers::handle(&b, req, my_turn, received, caller, arrival).await;
                            if let Ok(s) = &served {
                                mute.mute_for(s.throttle);
                            }
                            served
                        }))
                    }
                    Gate::Sasl => match sasl::request(
                        broker,
                        &endpoint,
                        &mut session,
                        &mut exchange,
                        req,
                        peer,
                    )
                    .await
                    {
                        SaslOutcome::Reply(bytes) => Outgoing::Ready(bytes),
                        SaslOutcome::ReplyAndClose(bytes) => {
                            close_after = true;
                            Outgoing::Ready(bytes)
                        }
                        SaslOutcome::Close => break,
                    },
                    Gate::Refuse(why) => {
                        count_closed(broker, "unauthenticated");
                        tracing::debug!(%peer, api = ?req.api_key, why, "closing connection");
                        break;
                    }
                },
                Err(RequestError::UnsupportedVersion {
                    key,
                    version,
                    correlation_id,
                    frame,
                }) => match handlers::reject_version(broker, key, version, correlation_id, frame) {
                    Some(bytes) => Outgoing::Ready(bytes),
                    None => {
                        malformed(broker, Some(key));
                        tracing::debug!(%peer, ?key, version, "unsupported request version; closing connection");
                        break;
                    }
                },
                Err(e) => {
                    let key = match &e {
                        RequestError::Malformed { key, .. } => Some(*key),
                        _ => None,
                    };
                    malformed(broker, key);
                    tracing::debug!(%peer, error = %e, "malformed request; closing connection");
                    break;
                }
            }
        };
        let (tx, _) = writer.get_or_insert_with(|| {
            let (tx, rx) = mpsc::channel::<Outgoing>(MAX_IN_FLIGHT);
            let wr = wr.take().expect("the writer starts once");
            (
                tx,
                tokio::spawn(write_responses(
                    wr,
                    fd,
                    rx,
                    Arc::clone(broker),
                    Arc::clone(&mute),
                )),
            )
        });
        if tx.send(out).await.is_err() || close_after {
            break;
        }
    }
    if let Some((tx, handle)) = writer {
        drop(tx);
        let _ = handle.await;
    }
}

/// Waits out the connection's quota mute; false if the broker stops meanwhile.
async fn wait_unmuted(mute: &Mute, shutdown: &mut watch::Receiver<bool>) -> bool {
    while let Some(wait) = mute.remaining() {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return false,
        }
    }
    true
}

fn count_closed(broker: &Broker, reason: &'static str) {
    broker
        .metrics
        .connections_closed
        .get_or_create(&ReasonLabels { reason })
        .inc();
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

/// Most answers one write gathers (see [`gather`]).
const GATHER_MAX_FRAMES: usize = 32;

/// An answer whose handler is done, or that needs none.
fn is_done(out: &Outgoing) -> bool {
    match out {
        Outgoing::Ready(_) => true,
        Outgoing::Pending(h) => h.is_finished(),
    }
}

/// The answer `out` will give: waits for its handler. `None` (logged) when there is
/// none to give, which must close the connection rather than leave the client waiting.
async fn resolve(out: Outgoing) -> Option<Served> {
    match out {
        Outgoing::Ready(b) => Some(Served {
            frame: Some(ResponseFrame::from(b)),
            throttle: Duration::ZERO,
            timing: None,
        }),
        Outgoing::Pending(h) => match h.await {
            Ok(Ok(s)) => Some(s),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "request failed; closing connection");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "request handler panicked; closing connection");
                None
            }
        },
    }
}

/// After `first`, the answers queued behind it that are done already and small,
/// to go out in the same write: a client pipelining Produce requests gets their
/// answers in one segment instead of one each. Stops at the first that is not done (it
/// is kept in `next`) or that cannot be gathered (it is the last one returned).
async fn gather(
    first: Served,
    rx: &mut mpsc::Receiver<Outgoing>,
    next: &mut Option<Outgoing>,
) -> Option<Vec<Served>> {
    let mut answers = vec![first];
    let gathers = |s: &Served| s.frame.as_ref().is_none_or(response::gathers);
    while answers.len() < GATHER_MAX_FRAMES && answers.last().is_some_and(gathers) {
        match rx.try_recv() {
            Ok(out) if is_done(&out) => answers.push(resolve(out).await?),
            Ok(out) => {
                *next = Some(out);
                break;
            }
            Err(_) => break,
        }
    }
    Some(answers)
}

/// Writes responses in request order; a Fetch response's records are read from their
/// segment files piece by piece (see `response.rs`); small answers already done go out
/// in one write (see [`gather`]). A throttled response mutes the connection for its
/// throttle time from when it is written (KIP-219).
async fn write_responses(
    mut wr: WriteSide,
    fd: RawFd,
    mut rx: mpsc::Receiver<Outgoing>,
    broker: Arc<Broker>,
    mute: Arc<Mute>,
) {
    let mut writer = ResponseWriter::new(
        broker.config.fetch_sendfile,
        broker.metrics.fetch_zero_copy_bytes.clone(),
    );
    let mut next = None;
    loop {
        let Some(out) = (match next.take() {
            Some(out) => Some(out),
            None => rx.recv().await,
        }) else {
            break;
        };
        let Some(first) = resolve(out).await else {
            shutdown_fd(fd);
            return;
        };
        let Some(mut answers) = gather(first, &mut rx, &mut next).await else {
            shutdown_fd(fd);
            return;
        };
        let Some(last) = answers.pop() else {
            continue;
        };
        if !answers.is_empty() {
            let frames: Vec<ResponseFrame> =
                answers.iter_mut().filter_map(|s| s.frame.take()).collect();
            if let Err(e) = writer
                .write_gathered(&mut wr, &frames, &broker.metrics.bytes_out)
                .await
            {
                tracing::debug!(error = %e, "write failed; dropping connection");
                return;
            }
            for s in answers {
                if let Some((response_time, done)) = &s.timing {
                    response_time.observe(done.elapsed().as_secs_f64());
                }
                mute.mute_for(s.throttle);
            }
        }
        let Served {
            frame,
            throttle,
            timing,
        } = last;
        if let Some(f) = frame {
            match writer.write(&mut wr, f, &broker.metrics.bytes_out).await {
                Ok(()) => {
                    if let Some((response_time, done)) = &timing {
                        response_time.observe(done.elapsed().as_secs_f64());
                    }
                }
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
                    shutdown_fd(fd);
                    crate::replica::repair_fetched_file(Arc::clone(&broker), file);
                    return;
                }
                // Part of the frame may be out: only closing keeps the client from
                // reading a short frame as the start of the next.
                Err(e) => {
                    tracing::error!(error = %e, "fetch response cut short (segment truncated?); closing connection");
                    shutdown_fd(fd);
                    return;
                }
            }
        }
        mute.mute_for(throttle);
        if rx.is_empty() {
            writer.release();
        }
    }
    let _ = wr.shutdown().await;
}
