//! Kafka's primitive encodings for the `__transaction_state` records: big-endian
//! integers, `int16`-prefixed strings and `int32`-counted arrays (classic), unsigned
//! varint lengths plus one (compact) and tagged-field sections (flexible).
//!
//! Every length read from the bytes is checked against the bytes left before it sizes
//! anything, so a hostile record costs at most its own length.

use bytes::{BufMut, BytesMut};

/// A record whose bytes do not follow the expected schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The bytes ended before the schema did.
    #[error("record truncated")]
    Truncated,
    /// A length, count or value no schema allows.
    #[error("malformed record: {0}")]
    Malformed(&'static str),
    /// A string that is not UTF-8.
    #[error("record string is not UTF-8")]
    InvalidUtf8,
    /// A key or value version this crate does not know.
    #[error("unsupported {what} version {version}")]
    UnsupportedVersion {
        /// Which record part.
        what: &'static str,
        /// The version found.
        version: i16,
    },
}

/// Writes a record in the classic or the flexible encoding.
pub(crate) struct Writer {
    pub(crate) buf: BytesMut,
    flexible: bool,
}

impl Writer {
    pub(crate) fn new(flexible: bool) -> Self {
        Writer {
            buf: BytesMut::with_capacity(64),
            flexible,
        }
    }

    pub(crate) fn uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.buf.put_u8((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.buf.put_u8(v as u8);
    }

    /// A length (string, array) in the current encoding; `None` is null.
    fn length(&mut self, n: Option<usize>, wide: bool) {
        if self.flexible {
            self.uvarint(n.map_or(0, |n| n as u32 + 1));
        } else if wide {
            self.buf.put_i32(n.map_or(-1, |n| n as i32));
        } else {
            self.buf.put_i16(n.map_or(-1, |n| n as i16));
        }
    }

    /// A string. Kafka strings hold at most `i16::MAX` bytes; callers check names
    /// before they get here, so a longer one is cut at a character boundary rather
    /// than written with a corrupt length.
    pub(crate) fn string(&mut self, s: &str) {
        let mut end = s.len().min(i16::MAX as usize);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.length(Some(end), false);
        self.buf.put_slice(&s.as_bytes()[..end]);
    }

    /// An array count (`None`: null array).
    pub(crate) fn array_len(&mut self, n: Option<usize>) {
        self.length(n, true);
    }
}

/// Reads a record, in either the classic or the flexible encoding.
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

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.buf.len() < n {
            return Err(RecordError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn i8(&mut self) -> Result<i8, RecordError> {
        Ok(self.take(1)?[0] as i8)
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

    pub(crate) fn uvarint(&mut self) -> Result<u32, RecordError> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let b = self.take(1)?[0];
            if i == 4 && b > 0x0f {
                return Err(RecordError::Malformed("varint overflows 32 bits"));
            }
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(RecordError::Malformed("varint longer than 5 bytes"))
    }

    /// A length (string, array) in the current encoding; `None` means null.
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

    pub(crate) fn string(&mut self) -> Result<String, RecordError> {
        let n = self
            .length(false)?
            .ok_or(RecordError::Malformed("null in a non-nullable string"))?;
        let b = self.take(n)?;
        let s = std::str::from_utf8(b).map_err(|_| RecordError::InvalidUtf8)?;
        Ok(s.to_owned())
    }

    /// An array count (`None`: null), checked against the bytes left given that each
    /// element takes at least `min_elem` bytes.
    pub(crate) fn array_len(&mut self, min_elem: usize) -> Result<Option<usize>, RecordError> {
        let n = self.length(true)?;
        if let Some(n) = n {
            if n.saturating_mul(min_elem.max(1)) > self.buf.len() {
                return Err(RecordError::Truncated);
            }
        }
        Ok(n)
    }
}
