//! Response frames as an ordered list of chunks: bytes encoded here, and record ranges the
//! caller writes from wherever they live (a segment file). Sans-I/O: a range is the
//! caller's `R`, known here only by its length, so a response can be framed (length
//! prefix included) without its records ever being in memory.

use bytes::{BufMut, Bytes, BytesMut};

/// The length in bytes of a record range.
pub trait ByteLen {
    /// Bytes this range puts on the wire.
    fn byte_len(&self) -> usize;
}

impl ByteLen for Bytes {
    fn byte_len(&self) -> usize {
        self.len()
    }
}

/// One piece of a response frame, in wire order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk<R> {
    /// Encoded bytes.
    Bytes(Bytes),
    /// A record range, written as is.
    Records(R),
}

impl<R: ByteLen> Chunk<R> {
    /// Bytes this chunk puts on the wire.
    pub fn len(&self) -> usize {
        match self {
            Chunk::Bytes(b) => b.len(),
            Chunk::Records(r) => r.byte_len(),
        }
    }

    /// Whether the chunk is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A whole response frame, length prefix included, as chunks in wire order. The prefix
/// equals the sum of the chunk lengths after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedFrame<R> {
    chunks: Vec<Chunk<R>>,
    len: usize,
}

impl<R> ChunkedFrame<R> {
    /// Total bytes on the wire, the 4-byte length prefix included.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the frame is empty (never, for a frame built here).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunks in wire order.
    pub fn chunks(&self) -> &[Chunk<R>] {
        &self.chunks
    }

    /// The chunks in wire order.
    pub fn into_chunks(self) -> Vec<Chunk<R>> {
        self.chunks
    }

    /// The frame as one buffer, reading each record range with `read` (tests, tools).
    pub fn materialize<E>(
        &self,
        mut read: impl FnMut(&R) -> Result<Bytes, E>,
    ) -> Result<Vec<u8>, E> {
        let mut out = Vec::with_capacity(self.len);
        for c in &self.chunks {
            match c {
                Chunk::Bytes(b) => out.extend_from_slice(b),
                Chunk::Records(r) => out.extend_from_slice(&read(r)?),
            }
        }
        Ok(out)
    }
}

/// A frame already encoded whole (length prefix included) is one chunk.
impl<R> From<Bytes> for ChunkedFrame<R> {
    fn from(b: Bytes) -> Self {
        Self {
            len: b.len(),
            chunks: vec![Chunk::Bytes(b)],
        }
    }
}

/// The frame's length would not fit its i32 prefix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("response of {0} bytes does not fit a frame")]
pub struct FrameTooLarge(pub usize);

/// Builds a [`ChunkedFrame`]: encode into [`FrameBuilder::buf`], hand record ranges to
/// [`FrameBuilder::records`], and [`FrameBuilder::finish`] writes the length prefix.
#[derive(Debug)]
pub struct FrameBuilder<R> {
    pieces: Vec<Piece<R>>,
    cur: BytesMut,
    len: usize,
}

#[derive(Debug)]
enum Piece<R> {
    Bytes(BytesMut),
    Records(R),
}

impl<R: ByteLen> Default for FrameBuilder<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: ByteLen> FrameBuilder<R> {
    /// An empty frame (its length prefix reserved).
    pub fn new() -> Self {
        let mut cur = BytesMut::with_capacity(256);
        cur.put_i32(0);
        Self {
            pieces: Vec::new(),
            cur,
            len: 0,
        }
    }

    /// Where encoded bytes go.
    pub fn buf(&mut self) -> &mut BytesMut {
        &mut self.cur
    }

    /// Appends a record range after the bytes encoded so far.
    pub fn records(&mut self, r: R) {
        if r.byte_len() == 0 {
            return;
        }
        self.flush_bytes();
        self.len += r.byte_len();
        self.pieces.push(Piece::Records(r));
    }

    fn flush_bytes(&mut self) {
        if !self.cur.is_empty() {
            self.len += self.cur.len();
            self.pieces.push(Piece::Bytes(self.cur.split()));
        }
    }

    /// Writes the length prefix and returns the frame.
    pub fn finish(mut self) -> Result<ChunkedFrame<R>, FrameTooLarge> {
        self.flush_bytes();
        let body = i32::try_from(self.len - 4).map_err(|_| FrameTooLarge(self.len))?;
        // `new` put the prefix at the start of the first piece, and bytes pieces are
        // only ever pushed non-empty.
        if let Some(Piece::Bytes(first)) = self.pieces.first_mut() {
            first[..4].copy_from_slice(&body.to_be_bytes());
        }
        let chunks = self
            .pieces
            .into_iter()
            .map(|p| match p {
                Piece::Bytes(b) => Chunk::Bytes(b.freeze()),
                Piece::Records(r) => Chunk::Records(r),
            })
            .collect();
        Ok(ChunkedFrame {
            chunks,
            len: self.len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_counts_every_chunk_after_it() {
        let mut b = FrameBuilder::<Bytes>::new();
        b.buf().put_slice(b"head");
        b.records(Bytes::from_static(b"0123456789"));
        b.records(Bytes::new());
        b.buf().put_slice(b"mid");
        b.records(Bytes::from_static(b"abc"));
        let f = b.finish().unwrap();
        assert_eq!(f.chunks().len(), 4);
        assert_eq!(f.len(), 4 + 4 + 10 + 3 + 3);
        let wire = f.materialize(|r| Ok::<_, ()>(r.clone())).unwrap();
        assert_eq!(&wire[..4], &20i32.to_be_bytes());
        assert_eq!(&wire[4..], b"head0123456789midabc");
        let whole: ChunkedFrame<Bytes> = Bytes::from_static(b"\0\0\0\x01x").into();
        assert_eq!(whole.len(), 5);
    }
}
