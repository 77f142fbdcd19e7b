//! Kafka's primitive encodings (big-endian ints, int16/varint-prefixed
//! strings and bytes, tagged fields) for the `__consumer_offsets` records.

use bytes::{BufMut, Bytes, BytesMut};

/// A record whose bytes do not follow the expected schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The bytes ended before the schema did.
    #[error("record truncated")]
    Truncated,
    /// A length or version no schema allows.
    #[error("malformed record: {0}")]
    Malformed(&'static str),
    /// A string that is not UTF-8.
    #[error("record string is not UTF-8")]
    InvalidUtf8,
    /// A value schema version this crate does not know.
    #[error("unsupported {what} version {version}")]
    UnsupportedVersion {
        /// Which record part.
        what: &'static str,
        /// The version found.
        version: i16,
    },
}

pub(crate) fn put_string(buf: &mut BytesMut, s: &str) {
    // Kafka strings are at most i16::MAX bytes; longer inputs are a caller bug
    // that we truncate rather than write a corrupt length.
    let b = &s.as_bytes()[..s.len().min(i16::MAX as usize)];
    buf.put_i16(b.len() as i16);
    buf.put_slice(b);
}

pub(crate) fn put_nullable_string(buf: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_string(buf, s),
        None => buf.put_i16(-1),
    }
}

pub(crate) fn put_bytes(buf: &mut BytesMut, b: &[u8]) {
    buf.put_i32(b.len() as i32);
    buf.put_slice(b);
}

/// Reads a record, in either the classic or the flexible (compact + tagged
/// fields) encoding.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    flexible: bool,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            flexible: false,
        }
    }

    pub(crate) fn set_flexible(&mut self, flexible: bool) {
        self.flexible = flexible;
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.buf.len() < n {
            return Err(RecordError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn i16(&mut self) -> Result<i16, RecordError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, RecordError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, RecordError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    fn uvarint(&mut self) -> Result<u32, RecordError> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let b = self.take(1)?[0];
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(RecordError::Malformed("varint longer than 5 bytes"))
    }

    /// Length of a string/bytes/array field; `None` means null.
    fn length(&mut self, wide: bool) -> Result<Option<usize>, RecordError> {
        if self.flexible {
            let n = self.uvarint()?;
            Ok(n.checked_sub(1).map(|n| n as usize))
        } else {
            let n = if wide {
                self.i32()?
            } else {
                i32::from(self.i16()?)
            };
            if n < -1 {
                return Err(RecordError::Malformed("negative length"));
            }
            Ok(usize::try_from(n).ok())
        }
    }

    pub(crate) fn nullable_string(&mut self) -> Result<Option<String>, RecordError> {
        match self.length(false)? {
            None => Ok(None),
            Some(n) => {
                let b = self.take(n)?;
                let s = std::str::from_utf8(b).map_err(|_| RecordError::InvalidUtf8)?;
                Ok(Some(s.to_owned()))
            }
        }
    }

    pub(crate) fn string(&mut self) -> Result<String, RecordError> {
        self.nullable_string()?
            .ok_or(RecordError::Malformed("null in a non-nullable string"))
    }

    pub(crate) fn bytes(&mut self) -> Result<Bytes, RecordError> {
        match self.length(true)? {
            // Kafka writes non-nullable bytes, but tolerate null as empty.
            None => Ok(Bytes::new()),
            Some(n) => Ok(Bytes::copy_from_slice(self.take(n)?)),
        }
    }

    pub(crate) fn array_len(&mut self) -> Result<usize, RecordError> {
        let n = self
            .length(true)?
            .ok_or(RecordError::Malformed("null array"))?;
        // Each element takes at least one byte; rejects absurd counts before allocating.
        if n > self.buf.len() {
            return Err(RecordError::Truncated);
        }
        Ok(n)
    }

    /// Skips a tagged-field section (flexible versions only); this crate
    /// defines no tagged fields of its own.
    pub(crate) fn skip_tagged_fields(&mut self) -> Result<(), RecordError> {
        if !self.flexible {
            return Ok(());
        }
        let count = self.uvarint()?;
        for _ in 0..count {
            let _tag = self.uvarint()?;
            let size = self.uvarint()? as usize;
            self.take(size)?;
        }
        Ok(())
    }
}
