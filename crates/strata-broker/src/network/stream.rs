//! A connection's two halves, plain TCP or TLS.
//!
//! The reader of a plain connection waits for readability and reads without a buffer
//! of its own while idle; a TLS connection has no such readiness (rustls may hold
//! decrypted bytes the socket no longer signals), so its "wait" is the read itself.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::FutureExt;
use tokio::io::{AsyncReadExt, AsyncWrite, ReadHalf, WriteHalf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream as RustlsStream;

use super::read_ahead::ReadAhead;

/// A server-side TLS connection over a read-ahead socket.
pub(crate) type TlsStream = RustlsStream<ReadAhead<TcpStream>>;

/// The read half.
pub(crate) enum ReadSide {
    /// Plain TCP.
    Tcp(OwnedReadHalf),
    /// TLS, with the bytes a wait read and no read has taken yet, and the socket.
    Tls(ReadHalf<TlsStream>, Pending, RawFd),
}

/// Bytes a TLS wait read ahead (`buf[pos..]`); no allocation while empty.
#[derive(Default)]
pub(crate) struct Pending {
    buf: Vec<u8>,
    pos: usize,
}

/// A TLS wait reads at most one TLS record's worth ahead.
const TLS_READ_AHEAD: usize = 16 * 1024;

/// The most bytes one TLS record takes on the wire: its 5-byte header and up to
/// 2^14 + 256 bytes of ciphertext (RFC 8446 §5.2, RFC 5246 §6.2.3).
const TLS_RECORD_WIRE_MAX: usize = 5 + (1 << 14) + 256;

/// The write half.
pub(crate) enum WriteSide {
    /// Plain TCP.
    Tcp(OwnedWriteHalf),
    /// TLS.
    Tls(WriteHalf<TlsStream>),
}

/// Splits a plain connection.
pub(crate) fn plain(stream: TcpStream) -> (ReadSide, WriteSide) {
    let (r, w) = stream.into_split();
    (ReadSide::Tcp(r), WriteSide::Tcp(w))
}

/// Splits a TLS connection.
pub(crate) fn tls(stream: TlsStream) -> (ReadSide, WriteSide) {
    let fd = stream.get_ref().0.get_ref().as_raw_fd();
    let (r, w) = tokio::io::split(stream);
    (ReadSide::Tls(r, Pending::default(), fd), WriteSide::Tls(w))
}

impl ReadSide {
    /// One read that does not wait: `WouldBlock` when nothing is there.
    pub(crate) fn try_read_buf(&mut self, buf: &mut impl bytes::BufMut) -> io::Result<usize> {
        match self {
            Self::Tcp(r) => r.try_read_buf(buf),
            Self::Tls(r, pending, _) => {
                if pending.pos < pending.buf.len() {
                    let n = (pending.buf.len() - pending.pos).min(buf.remaining_mut());
                    buf.put_slice(&pending.buf[pending.pos..pending.pos + n]);
                    pending.pos += n;
                    if pending.pos == pending.buf.len() {
                        *pending = Pending::default();
                    }
                    return Ok(n);
                }
                match r.read_buf(buf).now_or_never() {
                    Some(res) => res,
                    None => Err(io::ErrorKind::WouldBlock.into()),
                }
            }
        }
    }

    /// Waits until bytes can be read (or the stream ended). A TLS connection has to
    /// read them to know: it keeps them for the next [`Self::try_read_buf`].
    pub(crate) async fn wait_readable(&mut self) -> io::Result<()> {
        match self {
            Self::Tcp(r) => r.readable().await,
            Self::Tls(r, pending, _) => {
                if pending.pos < pending.buf.len() {
                    return Ok(());
                }
                let mut buf = Vec::with_capacity(TLS_READ_AHEAD);
                // Cancel safe: if the wait is abandoned, nothing was read.
                r.read_buf(&mut buf).await?;
                *pending = Pending { buf, pos: 0 };
                Ok(())
            }
        }
    }
}

impl ReadSide {
    /// How many bytes at least must still come off the socket before `plaintext` more
    /// bytes can be read, once a read found nothing: all of them on plain TCP. Under TLS,
    /// a read that found nothing has drained the read-ahead buffer and every whole
    /// record, so at most one partial record is held: its bytes may decrypt to part of
    /// what is wanted, the rest has to arrive.
    pub(crate) fn wire_bytes_for(&self, plaintext: usize) -> usize {
        match self {
            Self::Tcp(_) => plaintext,
            Self::Tls(..) => plaintext.saturating_sub(TLS_RECORD_WIRE_MAX),
        }
    }

    /// Sets the socket's receive low-water mark (`SO_RCVLOWAT`): the kernel signals it
    /// readable only once `bytes` are queued (or its receive buffer is under pressure),
    /// so a large request arriving in small segments wakes the reader a few times
    /// instead of once per segment. Never more than the bytes sure to come: a mark that
    /// waits for bytes the client will not send holds the request until its read
    /// timeout.
    pub(crate) fn set_low_water(&self, bytes: usize) -> io::Result<()> {
        let fd = match self {
            Self::Tcp(r) => r.as_ref().as_raw_fd(),
            Self::Tls(_, _, fd) => *fd,
        };
        let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        // SAFETY: the read half keeps the socket open; the option value is a c_int that
        // outlives the call, and its size is passed with it.
        let r = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVLOWAT,
                std::ptr::addr_of!(value).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

impl AsyncWrite for WriteSide {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(w) => Pin::new(w).poll_write(cx, buf),
            Self::Tls(w) => Pin::new(w).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(w) => Pin::new(w).poll_write_vectored(cx, bufs),
            Self::Tls(w) => Pin::new(w).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Tcp(w) => w.is_write_vectored(),
            Self::Tls(w) => w.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(w) => Pin::new(w).poll_flush(cx),
            Self::Tls(w) => Pin::new(w).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(w) => Pin::new(w).poll_shutdown(cx),
            Self::Tls(w) => Pin::new(w).poll_shutdown(cx),
        }
    }
}

/// Fails a connection whose response could not be written whole: shuts its socket
/// down both ways, so the client sees the end at once and the reader stops too.
pub(crate) fn shutdown_fd(fd: RawFd) {
    // SAFETY: the caller holds a half of the connection, so the descriptor is open;
    // shutdown(2) neither closes nor frees it, and its result needs no handling.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}
