//! Writing one response frame: encoded bytes as they are, record ranges (Fetch) read
//! from their segment files in bounded pieces.
//!
//! A range is read piece by piece into one buffer of at most [`PIECE`] bytes per
//! connection, which also gathers the small encoded chunks between ranges, so a response
//! costs at most one piece of memory however large it is, and a slow reader holds only
//! that. Each piece is first read from the page cache on the runtime worker with
//! `preadv2(RWF_NOWAIT)`, which copies what is cached and never waits for the disk; what
//! it could not read (not cached, or a kernel without buffered NOWAIT reads) is read on a
//! blocking thread (`spawn_blocking`). So hot data (consumers and followers near the log
//! end) costs no thread hand-off, and a disk read never blocks a runtime worker. The
//! buffer stays initialized (pieces are read into it without zeroing it first) and goes
//! back to a small per-thread spare list when the connection has nothing to write, so an
//! idle connection holds none and a busy one does not allocate per response.
//! On a plain TCP connection a range whose batches were checked already and whose pages
//! are all cached goes by `sendfile(2)` instead, with no copy through user space
//! (`sendfile.rs`).
//!
//! Every record batch's CRC-32C is checked as its bytes pass (`verify.rs`), before the
//! piece holding its end is sent; a bad batch stops the writer like a short read.
//!
//! The frame's length prefix was computed from the range lengths. A range that reads
//! short (its segment truncated meanwhile) cannot be made good: the writer stops with an
//! error and the connection is closed, never followed by another frame.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use strata_proto::chunks::Chunk;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::sendfile::{self, ZeroCopySink};
use super::verify::{BadBatch, BatchVerifier};
use crate::handlers::ResponseFrame;

/// Most bytes of a response held in memory at once, per connection.
/// 1 MiB: a typical Fetch response (one partition at `max.partition.fetch.bytes`, 1 MiB
/// by default) goes out in one socket write; smaller pieces cost measurably more kernel
/// time per byte (more TCP pushes and receiver wake-ups).
pub const PIECE: usize = 1024 * 1024;

/// Why a response could not be written whole. Either way the connection must close.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The socket failed (the client went away).
    #[error("socket write failed: {0}")]
    Socket(io::Error),
    /// A record range could not be read back from its segment file.
    #[error("reading {len} bytes at {position} of a segment file: {source}")]
    File {
        /// Where the piece starts in the file.
        position: u64,
        /// Bytes wanted.
        len: usize,
        /// What the read said (`UnexpectedEof`: the file is shorter than the range).
        source: io::Error,
    },
    /// A record batch failed its CRC-32C (or framing) check; it was not sent whole.
    #[error("record batch at {} of a segment file (base offset {:?}): {}", bad.position, bad.base_offset, bad.reason)]
    Corrupt {
        /// The segment file, to find the partition and move the batch aside.
        file: Arc<File>,
        /// Which batch and why.
        bad: BadBatch,
    },
}

/// Writes response frames to one connection, reusing its piece buffer.
#[derive(Debug, Default)]
pub struct ResponseWriter {
    /// Empty, or exactly [`PIECE`] initialized bytes (so pieces are read into it without
    /// zeroing it first).
    buf: Vec<u8>,
    /// Record bytes sent with `sendfile`, counted here; `None`: never use it.
    zero_copy: Option<Counter>,
}

/// Piece buffers kept per runtime thread for the next response, so that a connection
/// can give its buffer back between responses (idle connections hold none) without a
/// fresh, page-faulting 1 MiB allocation per response.
const SPARE_PIECES_PER_THREAD: usize = 2;

thread_local! {
    static SPARE_PIECES: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn take_piece() -> Vec<u8> {
    SPARE_PIECES
        .with(|s| s.borrow_mut().pop())
        .unwrap_or_else(|| vec![0; PIECE])
}

fn give_back_piece(buf: Vec<u8>) {
    if buf.len() == PIECE {
        SPARE_PIECES.with(|s| {
            let mut spare = s.borrow_mut();
            if spare.len() < SPARE_PIECES_PER_THREAD {
                spare.push(buf);
            }
        });
    }
}

/// Largest encoded frame [`ResponseWriter::write_gathered`] takes: the small answers
/// (Produce, commits, metadata) a pipelining client gets many of at once.
pub const GATHER_MAX_FRAME: usize = 16 * 1024;

/// Whether `frame` may go out gathered with others: one encoded chunk (no record
/// ranges to read) of at most [`GATHER_MAX_FRAME`] bytes.
pub fn gathers(frame: &ResponseFrame) -> bool {
    frame.len() <= GATHER_MAX_FRAME && matches!(frame.chunks(), [Chunk::Bytes(_)])
}

impl ResponseWriter {
    /// A writer that sends verified, cached record ranges to a plain TCP socket with
    /// `sendfile` (counting their bytes in `zero_copy_bytes`) when `sendfile` is set.
    pub fn new(sendfile: bool, zero_copy_bytes: Counter) -> Self {
        Self {
            buf: Vec::new(),
            zero_copy: sendfile.then_some(zero_copy_bytes),
        }
    }

    /// Gives the piece buffer back (the connection has nothing more to write for now).
    pub fn release(&mut self) {
        give_back_piece(std::mem::take(&mut self.buf));
    }

    /// Writes frames that [`gathers`] accepted in one write (one system call and, on
    /// TCP, as few segments as their bytes need), counting them in `bytes_out`.
    pub async fn write_gathered<W: AsyncWrite + Unpin>(
        &mut self,
        wr: &mut W,
        frames: &[ResponseFrame],
        bytes_out: &Counter,
    ) -> Result<(), WriteError> {
        let total: usize = frames.iter().map(|f| f.len()).sum();
        let mut out = Vec::with_capacity(total);
        for f in frames {
            for c in f.chunks() {
                if let Chunk::Bytes(b) = c {
                    out.extend_from_slice(b);
                }
            }
        }
        debug_assert_eq!(out.len(), total, "only encoded frames are gathered");
        wr.write_all(&out).await.map_err(WriteError::Socket)?;
        bytes_out.inc_by(out.len() as u64);
        Ok(())
    }

    /// Writes one frame whole, counting the bytes sent in `bytes_out` as they go.
    pub async fn write<W: AsyncWrite + ZeroCopySink + Unpin>(
        &mut self,
        wr: &mut W,
        frame: ResponseFrame,
        bytes_out: &Counter,
    ) -> Result<(), WriteError> {
        let chunks = frame.into_chunks();
        // An encoded response (every API but Fetch) goes out as it is.
        if let [Chunk::Bytes(b)] = chunks.as_slice() {
            wr.write_all(b).await.map_err(WriteError::Socket)?;
            bytes_out.inc_by(b.len() as u64);
            return Ok(());
        }
        if self.buf.len() != PIECE {
            self.buf = take_piece();
        }
        let mut buf = std::mem::take(&mut self.buf);
        let result = write_chunks(wr, chunks, &mut buf, bytes_out, self.zero_copy.as_ref()).await;
        self.buf = buf;
        result
    }
}

/// Gathers bytes chunks and range pieces into `buf` (all of it usable, `PIECE` bytes),
/// flushing to the socket whenever it is full; ranges that may go by `sendfile` go so
/// when `zero_copy` counts them.
async fn write_chunks<W: AsyncWrite + ZeroCopySink + Unpin>(
    wr: &mut W,
    chunks: Vec<Chunk<strata_log::FileSlice>>,
    buf: &mut Vec<u8>,
    bytes_out: &Counter,
    zero_copy: Option<&Counter>,
) -> Result<(), WriteError> {
    let cap = buf.len();
    let mut filled = 0;
    for chunk in chunks {
        match chunk {
            Chunk::Bytes(b) => {
                if b.len() > cap - filled {
                    flush(wr, &buf[..filled], bytes_out).await?;
                    filled = 0;
                }
                if b.len() < cap {
                    buf[filled..filled + b.len()].copy_from_slice(&b);
                    filled += b.len();
                } else {
                    wr.write_all(&b).await.map_err(WriteError::Socket)?;
                    bytes_out.inc_by(b.len() as u64);
                }
            }
            Chunk::Records(slice) => {
                let mark = slice.verified_below();
                if let (Some(counter), Some(tcp)) = (zero_copy, wr.plain_socket()) {
                    let checked = slice.position + slice.len as u64 <= mark;
                    if checked && sendfile::all_cached(&slice.file, slice.position, slice.len) {
                        sendfile::send_more(tcp, &buf[..filled], bytes_out).await?;
                        filled = 0;
                        sendfile::send_range(
                            tcp,
                            &slice.file,
                            slice.position,
                            slice.len,
                            bytes_out,
                        )
                        .await?;
                        counter.inc_by(slice.len as u64);
                        continue;
                    }
                }
                let mut position = slice.position;
                let mut left = slice.len;
                let mut verifier = BatchVerifier::new(slice.position, slice.len, mark);
                let corrupt = |bad| WriteError::Corrupt {
                    file: Arc::clone(&slice.file),
                    bad,
                };
                while left > 0 {
                    if filled == cap {
                        flush(wr, &buf[..filled], bytes_out).await?;
                        filled = 0;
                    }
                    let n = left.min(cap - filled);
                    *buf = fill(
                        &slice.file,
                        position,
                        std::mem::take(buf),
                        filled..filled + n,
                    )
                    .await?;
                    // Checked before the piece goes out: a bad batch is never sent
                    // whole (its last bytes stay here, and the connection closes).
                    verifier.feed(&buf[filled..filled + n]).map_err(corrupt)?;
                    filled += n;
                    position += n as u64;
                    left -= n;
                }
                verifier.finish().map_err(corrupt)?;
                if slice.position <= mark {
                    slice.mark_verified(mark, slice.position + slice.len as u64);
                }
            }
        }
    }
    flush(wr, &buf[..filled], bytes_out).await
}

async fn flush<W: AsyncWrite + Unpin>(
    wr: &mut W,
    bytes: &[u8],
    bytes_out: &Counter,
) -> Result<(), WriteError> {
    if bytes.is_empty() {
        return Ok(());
    }
    wr.write_all(bytes).await.map_err(WriteError::Socket)?;
    bytes_out.inc_by(bytes.len() as u64);
    Ok(())
}

/// Fills `buf[range]` with the bytes of `file` at `position`: what the page cache
/// holds on this thread, the rest on a blocking thread.
async fn fill(
    file: &Arc<File>,
    position: u64,
    mut buf: Vec<u8>,
    range: std::ops::Range<usize>,
) -> Result<Vec<u8>, WriteError> {
    let cached = read_cached(file, &mut buf[range.clone()], position);
    if cached == range.len() {
        return Ok(buf);
    }
    let (position, range) = (position + cached as u64, range.start + cached..range.end);
    let len = range.len();
    let file = Arc::clone(file);
    tokio::task::spawn_blocking(move || read_blocking(&file, position, buf, range))
        .await
        .map_err(|e| WriteError::File {
            position,
            len,
            source: io::Error::other(e),
        })?
}

/// Reads into `buf` only what the page cache holds (`strata_log::no_wait::pread_cached`,
/// which never waits for the disk); 0 when nothing could be read that way.
fn read_cached(file: &File, buf: &mut [u8], position: u64) -> usize {
    // Err: EAGAIN (not cached), EOPNOTSUPP (no NOWAIT reads here), ...: read it blocking.
    strata_log::no_wait::pread_cached(file, buf, position)
        .unwrap_or(0)
        .min(buf.len())
}

/// Fills `buf[range]` from `file` at `position` (blocking). A file shorter than that
/// is `UnexpectedEof`.
fn read_blocking(
    file: &File,
    position: u64,
    mut buf: Vec<u8>,
    range: std::ops::Range<usize>,
) -> Result<Vec<u8>, WriteError> {
    let len = range.len();
    file.read_exact_at(&mut buf[range], position)
        .map(|()| buf)
        .map_err(|source| WriteError::File {
            position,
            len,
            source,
        })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use strata_log::FileSlice;
    use strata_proto::chunks::FrameBuilder;

    use super::*;
    use crate::network::verify::raw_batch;

    fn slice(file: &Arc<File>, position: u64, len: usize) -> FileSlice {
        crate::network::verify::test_slice(file, position, len, 0)
    }

    fn segment(len: usize) -> (tempfile::NamedTempFile, Arc<File>, Vec<u8>) {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), &data).unwrap();
        let file = Arc::new(File::open(tmp.path()).unwrap());
        (tmp, file, data)
    }

    /// A segment file of valid batches (sizes cycling from 61 bytes to 700 KB) of at
    /// least `len` bytes, with the batch boundaries.
    fn batch_segment(len: usize) -> (tempfile::NamedTempFile, Arc<File>, Vec<u8>, Vec<usize>) {
        let sizes = [61usize, 700_000, 4_000, 100, 300_000, 61, 123_456];
        let mut data = Vec::new();
        let mut bounds = vec![0];
        let mut i = 0;
        while data.len() < len {
            data.extend(raw_batch(i as i64, sizes[i % sizes.len()]));
            bounds.push(data.len());
            i += 1;
        }
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), &data).unwrap();
        let file = Arc::new(File::open(tmp.path()).unwrap());
        (tmp, file, data, bounds)
    }

    #[tokio::test]
    async fn writes_bytes_and_ranges_in_order_in_bounded_pieces() {
        let (_tmp, file, data, b) = batch_segment(3 * PIECE + 123);
        let mut f = FrameBuilder::new();
        f.buf().extend_from_slice(b"header");
        // Batches spanning several pieces, then small ones.
        let big = b.iter().position(|x| *x > 3 * PIECE).unwrap();
        f.records(slice(&file, b[1] as u64, b[big] - b[1]));
        f.buf().extend_from_slice(b"between");
        f.records(slice(&file, b[2] as u64, b[4] - b[2]));
        f.buf().extend_from_slice(&vec![7u8; PIECE + 1]);
        f.records(slice(&file, 0, b[1]));
        let frame: ResponseFrame = f.finish().unwrap();
        let expected = frame
            .materialize(|s| {
                Ok::<_, ()>(Bytes::copy_from_slice(
                    &data[s.position as usize..][..s.len],
                ))
            })
            .unwrap();
        let mut out = Vec::new();
        let counter = Counter::default();
        let mut w = ResponseWriter::default();
        w.write(&mut out, frame, &counter).await.unwrap();
        assert_eq!(out, expected);
        assert_eq!(counter.get(), expected.len() as u64);
        assert_eq!(w.buf.capacity(), PIECE, "one piece of memory");
        w.release();
        assert!(w.buf.is_empty(), "given back");
        // An encoded response is written as is.
        let mut out = Vec::new();
        let plain: ResponseFrame = Bytes::from_static(b"\0\0\0\x02ok").into();
        w.write(&mut out, plain, &counter).await.unwrap();
        assert_eq!(out, b"\0\0\0\x02ok");
    }

    /// A flipped byte in a batch that spans pieces: the writer stops before the piece
    /// holding the batch's end goes out, and says which batch.
    #[tokio::test]
    async fn a_batch_failing_its_crc_is_never_sent_whole() {
        let (tmp, _, mut data, b) = batch_segment(2 * PIECE);
        // Inside batch 6, which starts in the first piece and ends in the second.
        assert!(b[6] < PIECE && b[7] > PIECE);
        let at = b[6] + 100_000;
        assert!(at > PIECE);
        data[at] ^= 0x20;
        std::fs::write(tmp.path(), &data).unwrap();
        let file = Arc::new(File::open(tmp.path()).unwrap());
        let mut f = FrameBuilder::new();
        f.buf().extend_from_slice(b"header");
        f.records(slice(&file, 0, b[7]));
        let frame: ResponseFrame = f.finish().unwrap();
        let mut out = Vec::new();
        let err = ResponseWriter::default()
            .write(&mut out, frame, &Counter::default())
            .await
            .unwrap_err();
        let WriteError::Corrupt {
            bad,
            file: bad_file,
        } = err
        else {
            panic!("{err}");
        };
        assert!(Arc::ptr_eq(&bad_file, &file));
        assert_eq!(bad.position, b[6] as u64);
        assert_eq!(bad.base_offset, Some(6));
        // The first piece went out (it held only a good part); the batch's end did not.
        assert_eq!(out.len(), PIECE);
    }

    #[test]
    fn cached_and_blocking_reads_fill_the_same_bytes() {
        let (_tmp, file, data) = segment(10_000);
        let mut a = vec![0u8; 3000];
        let n = read_cached(&file, &mut a[1000..], 500);
        // Just written, so cached (unless this kernel has no NOWAIT reads: then 0).
        assert!(n == 2000 || n == 0, "{n}");
        let a = read_blocking(&file, 500 + n as u64, a, 1000 + n..3000).unwrap();
        assert_eq!(&a[1000..], &data[500..2500]);
        let err = read_blocking(&file, 9_500, vec![0u8; 1000], 0..1000).unwrap_err();
        assert!(
            matches!(err, WriteError::File { source, .. } if source.kind() == io::ErrorKind::UnexpectedEof)
        );
        assert_eq!(
            read_cached(&file, &mut [0u8; 10], 20_000),
            0,
            "past the end"
        );
    }

    #[tokio::test]
    async fn a_range_past_the_end_of_its_file_is_an_error() {
        let (_tmp, file, _) = segment(1000);
        let mut f = FrameBuilder::new();
        f.buf().extend_from_slice(b"header");
        f.records(slice(&file, 500, 1000));
        let frame: ResponseFrame = f.finish().unwrap();
        let len = frame.len();
        let mut out = Vec::new();
        let err = ResponseWriter::default()
            .write(&mut out, frame, &Counter::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, WriteError::File { source, .. } if source.kind() == io::ErrorKind::UnexpectedEof),
            "{err}"
        );
        assert!(out.len() < len);
    }
}
