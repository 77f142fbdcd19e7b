//! Outgoing connections to peers' controller ports: request/response over
//! length-prefixed JSON frames, one request at a time per connection, idle
//! connections kept per address for reuse.
//!
//! A connection is returned to the pool only after a complete exchange; a call that
//! fails or is cancelled (timeout, dropped future) drops its connection, so a late
//! response can never be read as the answer to the next request.

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use std::sync::Arc;

use parking_lot::Mutex;

use super::frame::{read_frame, write_frame};
use super::messages::{Request, Response};
use super::stream::{ControllerTls, PeerStream};

/// Idle connections kept per peer address.
const MAX_IDLE_PER_PEER: usize = 4;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    /// No connection could be made: the request was certainly not delivered.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The peer address.
        addr: String,
        /// The connect error.
        source: io::Error,
    },
    /// The exchange failed after the request may have been sent.
    #[error("connection to {addr} failed: {source}")]
    Io {
        /// The peer address.
        addr: String,
        /// The I/O error.
        source: io::Error,
    },
    /// No answer in time.
    #[error("no answer from {0} in time")]
    Timeout(String),
    /// The request could not be encoded, or the answer decoded.
    #[error("bad message from or to {addr}: {why}")]
    Codec {
        /// The peer address.
        addr: String,
        /// What went wrong.
        why: String,
    },
}

/// Idle connections by peer address.
pub(crate) struct Pool {
    idle: Mutex<HashMap<String, Vec<PeerStream>>>,
    /// TLS for every connection, when configured.
    tls: Option<Arc<dyn ControllerTls>>,
}

impl Pool {
    /// An empty pool; connections use `tls` when set.
    pub(crate) fn new(tls: Option<Arc<dyn ControllerTls>>) -> Self {
        Pool {
            idle: Mutex::default(),
            tls,
        }
    }

    /// Sends `request` to `addr` and waits for the response, all within `timeout`.
    pub(crate) async fn call(
        &self,
        addr: &str,
        request: &Request,
        timeout: Duration,
    ) -> Result<Response, CallError> {
        let payload = serde_json::to_vec(request).map_err(|e| CallError::Codec {
            addr: addr.to_string(),
            why: e.to_string(),
        })?;
        match tokio::time::timeout(timeout, self.exchange(addr, &payload)).await {
            Ok(result) => result,
            Err(_) => Err(CallError::Timeout(addr.to_string())),
        }
    }

    async fn exchange(&self, addr: &str, payload: &[u8]) -> Result<Response, CallError> {
        let mut stream = match self.checkout(addr) {
            Some(s) => s,
            // A failed TLS handshake also means the request was not delivered.
            None => PeerStream::connect(addr, self.tls.as_ref())
                .await
                .map_err(|source| CallError::Connect {
                    addr: addr.to_string(),
                    source,
                })?,
        };
        let io_err = |source| CallError::Io {
            addr: addr.to_string(),
            source,
        };
        write_frame(&mut stream, payload).await.map_err(io_err)?;
        let frame = read_frame(&mut stream)
            .await
            .map_err(io_err)?
            .ok_or_else(|| {
                io_err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed the connection",
                ))
            })?;
        let response = serde_json::from_slice(&frame).map_err(|e| CallError::Codec {
            addr: addr.to_string(),
            why: e.to_string(),
        })?;
        self.checkin(addr, stream);
        Ok(response)
    }

    /// An idle connection to `addr` that still looks alive.
    fn checkout(&self, addr: &str) -> Option<PeerStream> {
        let mut idle = self.idle.lock();
        let conns = idle.get_mut(addr)?;
        while let Some(stream) = conns.pop() {
            // An idle connection has nothing to read: end-of-stream means the peer
            // closed it (e.g. restarted), and stray bytes mean it is out of step (with
            // TLS, a close alert or anything else unread: the connection is dropped).
            let mut probe = [0u8; 1];
            match stream.tcp().try_read(&mut probe) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Some(stream),
                _ => continue,
            }
        }
        None
    }

    fn checkin(&self, addr: &str, stream: PeerStream) {
        let mut idle = self.idle.lock();
        let conns = idle.entry(addr.to_string()).or_default();
        if conns.len() < MAX_IDLE_PER_PEER {
            conns.push(stream);
        }
    }

    /// Drops every idle connection.
    pub(crate) fn clear(&self) {
        self.idle.lock().clear();
    }
}
