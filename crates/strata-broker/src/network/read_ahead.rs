//! Large socket reads under TLS.
//!
//! rustls asks its transport for at most about 4 KiB at a time, so a TLS connection
//! reading a 1 MiB produce request would make some 256 `recv` calls where a plain one
//! makes a handful (the same holds for a follower fetching over TLS). [`ReadAhead`]
//! reads up to [`CHUNK`] per call and hands rustls what
//! it asks for from memory. The buffer exists only while bytes keep arriving: it is
//! freed when it is drained and the socket has nothing more, so idle connections hold
//! none.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes asked of the socket per read.
pub(crate) const CHUNK: usize = 64 * 1024;

/// A transport that reads ahead in [`CHUNK`]s; writes pass through.
pub(crate) struct ReadAhead<T> {
    io: T,
    /// Read but not yet handed out: `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
}

impl<T> ReadAhead<T> {
    pub(crate) fn new(io: T) -> Self {
        ReadAhead {
            io,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// The transport underneath.
    pub(crate) fn get_ref(&self) -> &T {
        &self.io
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ReadAhead<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pos == this.buf.len() {
            if out.remaining() >= CHUNK {
                // A large read needs no buffer of ours.
                return Pin::new(&mut this.io).poll_read(cx, out);
            }
            this.buf.clear();
            this.pos = 0;
            this.buf.reserve_exact(CHUNK);
            let mut rb = ReadBuf::uninit(&mut this.buf.spare_capacity_mut()[..CHUNK]);
            match Pin::new(&mut this.io).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    // SAFETY: `ReadBuf` guarantees its first `n` (filled) bytes were
                    // initialized, and they are the first `n` of `buf`'s spare capacity.
                    unsafe { this.buf.set_len(n) };
                }
                Poll::Ready(Err(e)) => {
                    this.buf = Vec::new();
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => {
                    // Idle: hold no memory while waiting.
                    this.buf = Vec::new();
                    return Poll::Pending;
                }
            }
        }
        let n = (this.buf.len() - this.pos).min(out.remaining());
        out.put_slice(&this.buf[this.pos..this.pos + n]);
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ReadAhead<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn small_reads_come_from_one_large_read() {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        b.write_all(&data).await.unwrap();
        drop(b);
        let mut r = ReadAhead::new(a);
        let mut got = Vec::new();
        let mut small = [0u8; 4096];
        loop {
            let n = r.read(&mut small).await.unwrap();
            if n == 0 {
                break;
            }
            assert!(n <= small.len());
            got.extend_from_slice(&small[..n]);
            // Whatever was read ahead is never more than one chunk.
            assert!(r.buf.len() <= CHUNK);
        }
        assert_eq!(got, data);
    }

    #[tokio::test]
    async fn idle_reader_holds_no_buffer_and_writes_pass_through() {
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let mut r = ReadAhead::new(a);
        b.write_all(b"hello").await.unwrap();
        let mut small = [0u8; 3];
        assert_eq!(r.read(&mut small).await.unwrap(), 3);
        assert_eq!(r.read(&mut small).await.unwrap(), 2);
        // Nothing more: the pending read frees the buffer.
        let pending =
            tokio::time::timeout(std::time::Duration::from_millis(20), r.read(&mut small)).await;
        assert!(pending.is_err());
        assert_eq!(r.buf.capacity(), 0);
        r.write_all(b"back").await.unwrap();
        let mut back = [0u8; 4];
        b.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"back");
    }
}
