//! A fixed-size window over a streaming decompressor, as a record [`Source`].
//!
//! The decompressor writes into the window; the walker reads varints from it and skips
//! keys, values and headers by discarding through it. Memory is the window plus the
//! decompressor's own state, whatever the stream claims or holds. Output past `limit`
//! bytes is cut off and reported as an error.

use std::io::{ErrorKind, Read};

use super::records::Source;
use super::{varint, BatchError, Compression};

/// Size of the window: enough for any varint plus a good read size.
pub(crate) const WINDOW: usize = 32 * 1024;

/// Longest varlong.
const MAX_VARINT: usize = 10;

pub(crate) struct Window<R> {
    reader: R,
    codec: Compression,
    buf: Box<[u8]>,
    /// Unread bytes are `buf[head..tail]`.
    head: usize,
    tail: usize,
    /// Stream position of `buf[0]`.
    base: usize,
    /// Bytes the decompressor has produced.
    produced: usize,
    limit: usize,
    /// The stream has ended (or failed, or passed the limit).
    done: bool,
    error: Option<BatchError>,
}

pub(crate) fn codec_name(codec: Compression) -> &'static str {
    match codec {
        Compression::None => "uncompressed",
        Compression::Gzip => "gzip",
        Compression::Snappy => "snappy",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
    }
}

/// The error for output past the limit.
pub(crate) fn over_limit(limit: usize) -> BatchError {
    BatchError::CorruptMessage(format!(
        "records decompress to more than {limit} bytes (max.message.bytes)"
    ))
}

impl<R: Read> Window<R> {
    pub(crate) fn new(reader: R, codec: Compression, limit: usize) -> Self {
        Window {
            reader,
            codec,
            buf: vec![0u8; WINDOW].into_boxed_slice(),
            head: 0,
            tail: 0,
            base: 0,
            produced: 0,
            limit,
            done: false,
            error: None,
        }
    }

    /// Tries to have at least `want` (<= WINDOW) unread bytes; returns whether it has.
    #[inline]
    fn fill(&mut self, want: usize) -> bool {
        if self.tail - self.head >= want {
            return true;
        }
        self.refill(want)
    }

    #[cold]
    fn refill(&mut self, want: usize) -> bool {
        if self.done {
            return false;
        }
        if self.head > 0 {
            self.buf.copy_within(self.head..self.tail, 0);
            self.base += self.head;
            self.tail -= self.head;
            self.head = 0;
        }
        while self.tail < want {
            match self.reader.read(&mut self.buf[self.tail..]) {
                Ok(0) => {
                    self.done = true;
                    break;
                }
                Ok(n) => {
                    self.tail += n;
                    self.produced += n;
                    if self.produced > self.limit {
                        // Keep what is within the limit; the rest does not exist.
                        self.tail -= self.produced - self.limit;
                        self.fail(over_limit(self.limit));
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    let reason = format!("{} decompression failed: {e}", codec_name(self.codec));
                    self.fail(BatchError::CorruptMessage(reason));
                    break;
                }
            }
        }
        self.tail - self.head >= want
    }

    fn fail(&mut self, error: BatchError) {
        self.done = true;
        self.error.get_or_insert(error);
    }
}

impl<R: Read> Source for Window<R> {
    #[inline]
    fn pos(&self) -> usize {
        self.base + self.head
    }

    #[inline]
    fn bound(&self) -> usize {
        self.limit
    }

    #[inline]
    fn byte(&mut self) -> Option<u8> {
        if !self.fill(1) {
            return None;
        }
        let b = self.buf[self.head];
        self.head += 1;
        Some(b)
    }

    #[inline]
    fn varint(&mut self) -> Option<i32> {
        self.fill(MAX_VARINT);
        let (v, n) = varint::read_varint(&self.buf[..self.tail], self.head)?;
        self.head += n;
        Some(v)
    }

    #[inline]
    fn varlong(&mut self) -> Option<i64> {
        self.fill(MAX_VARINT);
        let (v, n) = varint::read_varlong(&self.buf[..self.tail], self.head)?;
        self.head += n;
        Some(v)
    }

    fn skip(&mut self, mut n: usize) -> bool {
        loop {
            let available = self.tail - self.head;
            if n <= available {
                self.head += n;
                return true;
            }
            n -= available;
            self.head = self.tail;
            if !self.fill(1) {
                return false;
            }
        }
    }

    fn exhausted(&mut self) -> bool {
        !self.fill(1)
    }

    fn short(&mut self, reason: String) -> BatchError {
        self.error
            .take()
            .unwrap_or(BatchError::InvalidRecord(reason))
    }

    fn overrun(&self, index: i32, len: usize) -> BatchError {
        BatchError::CorruptMessage(format!(
            "record {index} of {len} bytes would take the records past {} bytes \
             (max.message.bytes)",
            self.limit
        ))
    }

    fn finish(&mut self) -> Result<(), BatchError> {
        // Drive the decompressor to its end: trailers and checksums are checked there.
        let trailing = self.fill(1);
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        if trailing {
            return Err(BatchError::InvalidRecord(format!(
                "decompressed data follows the last record (at byte {})",
                self.pos()
            )));
        }
        Ok(())
    }
}
