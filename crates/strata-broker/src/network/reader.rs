//! Reads request frames off a socket, holding no buffer while the connection is idle.
//!
//! Between requests the reader only waits for readiness: the staging buffer is allocated
//! when bytes arrive and freed once everything read has been handed out. Small frames are
//! copied out of the staging buffer (many per read when pipelined); a frame larger than
//! what is staged is read straight into its own buffer, which is never longer than the
//! frame. A frame's length is taken from `queued.max.request.bytes` before its body is
//! read, so waiting for the budget is waiting without reading (backpressure).
//!
//! Waking: while the rest of a large frame is on its way, the socket's receive low-water
//! mark is raised to the bytes still due (at most [`LOW_WATER_MAX`]), so the kernel wakes
//! the reader once per that much instead of once per segment (a TLS client that writes
//! each record by itself sends a segment per kilobyte). The mark is never more than the
//! bytes certain to arrive, is lowered as they do, and is back at one byte before the
//! next frame's length prefix is waited for.
//!
//! Deadlines: once a request's first byte is in, the whole request must arrive within
//! `socket.request.read.timeout.ms` (time spent waiting for the budget does not count: the
//! broker, not the client, is slow then). With no request arriving for
//! `connections.max.idle.ms` and none in flight, the connection is idle and closed. One
//! timer per connection serves both; it is re-armed only when it fires or has to fire
//! sooner, so a busy connection does not touch the timer wheel per request.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use strata_proto::frame::{self, FrameError};
use tokio::time::{Instant, Sleep};

use super::shared::{ConnState, Permit};
use super::stream::ReadSide;

/// The staging buffer: what one read takes in while frames are small.
const STAGE: usize = 16 * 1024;

/// The reader raises the low-water mark only for at least this many bytes still due.
const LOW_WATER_MIN: usize = 32 * 1024;

/// The highest low-water mark: a larger frame is taken in (and, under TLS, decrypted)
/// in steps of this much while the rest arrives.
const LOW_WATER_MAX: usize = 256 * 1024;

/// Why a connection stops being read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// `connections.max.idle.ms` passed with no request.
    #[error("idle for longer than connections.max.idle.ms")]
    Idle,
    /// A request was not complete within `socket.request.read.timeout.ms`.
    #[error("request incomplete after socket.request.read.timeout.ms ({got} of {want} bytes)")]
    Timeout {
        /// Bytes of the frame (length prefix included) received.
        got: usize,
        /// Bytes the frame has (0 while its length prefix is incomplete).
        want: usize,
    },
    /// The length prefix was not acceptable.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The client closed the connection in the middle of a frame.
    #[error("connection closed mid-frame")]
    Truncated,
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A request frame as read.
pub(crate) struct Frame {
    /// The frame without its length prefix.
    pub(crate) body: Bytes,
    /// Its bytes of `queued.max.request.bytes`, held until its handler is done.
    pub(crate) permit: Permit,
    /// When it was complete (for a frame already staged: when its reading began).
    pub(crate) received: std::time::Instant,
}

/// The read half of a connection.
pub(crate) struct Reader {
    rd: ReadSide,
    /// Bytes read but not handed out are `stage[pos..]`; no allocation while idle.
    stage: Vec<u8>,
    pos: usize,
    timer: std::pin::Pin<Box<Sleep>>,
    /// The connection is idle at this instant unless a request arrives or is in flight.
    idle_at: Instant,
    idle: Duration,
    read_timeout: Duration,
    max: usize,
    /// The socket's receive low-water mark as last set (1 is the kernel's default).
    low_water: usize,
}

impl Reader {
    /// A reader enforcing `socket.request.max.bytes` (`max`), the idle time and the
    /// partial-request deadline.
    pub(crate) fn new(rd: ReadSide, max: usize, idle: Duration, read_timeout: Duration) -> Self {
        let idle_at = Instant::now() + idle;
        Self {
            rd,
            stage: Vec::new(),
            pos: 0,
            timer: Box::pin(tokio::time::sleep_until(idle_at)),
            idle_at,
            idle,
            read_timeout,
            max,
            low_water: 1,
        }
    }

    fn staged(&self) -> usize {
        self.stage.len() - self.pos
    }

    /// Reads the next frame: its body, its share of the budget and when it began to be
    /// read. `Ok(None)` on a clean end of stream between frames.
    pub(crate) async fn next_frame(
        &mut self,
        conn: &Arc<ConnState>,
    ) -> Result<Option<Frame>, ReadError> {
        if self.staged() == 0 && !self.first_bytes(conn).await? {
            return Ok(None);
        }
        let started = Instant::now();
        self.idle_at = started + self.idle;
        let mut deadline = started + self.read_timeout;
        while self.staged() < 4 {
            self.stage_more(deadline).await?;
        }
        let prefix = self.stage[self.pos..self.pos + 4]
            .try_into()
            .expect("4 bytes");
        let len = frame::frame_length(prefix, self.max)?;
        self.pos += 4;
        let budget = &conn.shared.budget;
        if !budget.try_acquire(len) {
            let waiting = Instant::now();
            budget.acquire(len).await;
            deadline += waiting.elapsed();
        }
        let permit = Permit::new(conn, len);
        if self.staged() >= len {
            let body = Bytes::copy_from_slice(&self.stage[self.pos..self.pos + len]);
            self.pos += len;
            return Ok(Some(Frame {
                body,
                permit,
                received: started.into_std(),
            }));
        }
        let mut buf = BytesMut::with_capacity(len);
        buf.extend_from_slice(&self.stage[self.pos..]);
        // Drained: a large or trickling request does not also pin the staging buffer.
        self.stage = Vec::new();
        self.pos = 0;
        while buf.len() < len {
            let room = len - buf.len();
            match self.rd.try_read_buf(&mut (&mut buf).limit(room)) {
                Ok(0) => return Err(ReadError::Truncated),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.low_water_for(len - buf.len())?;
                    if !self.readable_by(deadline).await? {
                        let (got, want) = (buf.len() + 4, len + 4);
                        return Err(ReadError::Timeout { got, want });
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.set_low_water(1)?;
        Ok(Some(Frame {
            body: buf.freeze(),
            permit,
            received: std::time::Instant::now(),
        }))
    }

    /// Sets the low-water mark for a wait with `room` bytes of the frame still to read:
    /// the bytes that must still arrive for them, capped, or one byte when that is few.
    fn low_water_for(&mut self, room: usize) -> std::io::Result<()> {
        let due = self.rd.wire_bytes_for(room);
        let mark = if due >= LOW_WATER_MIN {
            due.min(LOW_WATER_MAX)
        } else {
            1
        };
        self.set_low_water(mark)
    }

    fn set_low_water(&mut self, mark: usize) -> std::io::Result<()> {
        if mark != self.low_water {
            self.rd.set_low_water(mark)?;
            self.low_water = mark;
        }
        Ok(())
    }

    /// With nothing staged: reads what is there, or frees the staging buffer and waits
    /// for the next request's first bytes. `false` on end of stream.
    async fn first_bytes(&mut self, conn: &Arc<ConnState>) -> Result<bool, ReadError> {
        self.pos = 0;
        self.stage.clear();
        // A pipelining client has usually sent more already: reuse the buffer for it.
        if self.stage.capacity() > 0 {
            match self.try_stage() {
                Ok(n) => return Ok(n > 0),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.stage = Vec::new();
                }
                Err(e) => return Err(e.into()),
            }
        }
        loop {
            if !self.readable_by(self.idle_at).await? {
                if conn.in_flight() == 0 {
                    return Err(ReadError::Idle);
                }
                // A request outlasted the idle time: count idleness from now.
                self.idle_at = Instant::now() + self.idle;
                continue;
            }
            match self.try_stage() {
                Ok(n) => return Ok(n > 0),
                // Spurious readiness: do not keep the buffer for it.
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.stage = Vec::new();
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Stages more bytes of a frame's length prefix, by `deadline`.
    async fn stage_more(&mut self, deadline: Instant) -> Result<(), ReadError> {
        if self.pos > 0 {
            self.stage.drain(..self.pos);
            self.pos = 0;
        }
        loop {
            match self.try_stage() {
                Ok(0) => return Err(ReadError::Truncated),
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if !self.readable_by(deadline).await? {
                        let got = self.staged();
                        return Err(ReadError::Timeout { got, want: 0 });
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// One non-blocking read into the staging buffer (allocated here if needed).
    fn try_stage(&mut self) -> std::io::Result<usize> {
        if self.stage.capacity() == self.stage.len() {
            self.stage.reserve_exact(STAGE);
        }
        let room = self.stage.capacity() - self.stage.len();
        self.rd.try_read_buf(&mut (&mut self.stage).limit(room))
    }

    /// Waits until the socket is readable (`true`) or `deadline` passes (`false`).
    async fn readable_by(&mut self, deadline: Instant) -> std::io::Result<bool> {
        if self.timer.deadline() > deadline {
            self.timer.as_mut().reset(deadline);
        }
        loop {
            tokio::select! {
                biased;
                r = self.rd.wait_readable() => {
                    r?;
                    return Ok(true);
                }
                _ = self.timer.as_mut() => {
                    if Instant::now() >= deadline {
                        return Ok(false);
                    }
                    self.timer.as_mut().reset(deadline);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
