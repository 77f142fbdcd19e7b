//! Kafka's primitive encodings for the records of its internal topics
//! (`__consumer_offsets`, `__transaction_state`): big-endian integers, `int16`-prefixed
//! strings and `int32`-prefixed bytes and arrays (classic), unsigned varint lengths plus
//! one (compact) and tagged-field sections (flexible). The group and transaction
//! coordinators' record schemas are built from these.
//!
//! Every length read from the bytes is checked against the bytes left before it sizes
//! anything, so a hostile record costs at most its own length.

use bytes::{BufMut, Bytes, BytesMut};

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
    /// A key or value version the reader does not know.
    #[error("unsupported {what} version {version}")]
    UnsupportedVersion {
        /// Which record part.
        what: &'static str,
        /// The version found.
        version: i16,
    },
}

/// The longest prefix of `s` a Kafka string holds (`i16::MAX` bytes), cut at a
/// character boundary. Callers check names before they get here; a longer string is
/// cut rather than written with a corrupt length or split inside a character.
fn kafka_str(s: &str) -> &str {
    let mut end = s.len().min(i16::MAX as usize);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Writes a classic string (see [`Writer::string`]).
pub fn put_string(buf: &mut BytesMut, s: &str) {
    let s = kafka_str(s);
    buf.put_i16(s.len() as i16);
    buf.put_slice(s.as_bytes());
}

/// Writes a classic nullable string.
pub fn put_nullable_string(buf: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_string(buf, s),
        None => buf.put_i16(-1),
    }
}

/// Writes classic bytes (`int32` length).
pub fn put_bytes(buf: &mut BytesMut, b: &[u8]) {
    buf.put_i32(b.len() as i32);
    buf.put_slice(b);
}

/// Writes a record in the classic or the flexible encoding; fixed-size fields go to
/// `buf` directly.
pub struct Writer {
    /// The bytes written so far.
    pub buf: BytesMut,
    flexible: bool,
}

impl Writer {
    /// An empty record in the flexible (`true`) or classic encoding.
    pub fn new(flexible: bool) -> Self {
        Writer {
            buf: BytesMut::with_capacity(64),
            flexible,
        }
    }

    /// An unsigned varint.
    pub fn uvarint(&mut self, mut v: u32) {
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

    /// A string, cut to what a Kafka string holds (see [`put_string`]).
    pub fn string(&mut self, s: &str) {
        let s = kafka_str(s);
        self.length(Some(s.len()), false);
        self.buf.put_slice(s.as_bytes());
    }

    /// An array count (`None`: null array).
    pub fn array_len(&mut self, n: Option<usize>) {
        self.length(n, true);
    }

    /// The record.
    pub fn finish(self) -> Bytes {
        self.buf.freeze()
    }
}

/// Reads a record, in either the classic or the flexible encoding.
pub struct Reader<'a> {
    buf: &'a [u8],
    flexible: bool,
}

impl<'a> Reader<'a> {
    /// A reader of `buf` in the classic encoding.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            flexible: false,
        }
    }

    /// Switches to the flexible (`true`) or classic encoding (a value's version says).
    pub fn set_flexible(&mut self, flexible: bool) {
        self.flexible = flexible;
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.buf.len() < n {
            return Err(RecordError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// An `int8`.
    pub fn i8(&mut self) -> Result<i8, RecordError> {
        Ok(self.take(1)?[0] as i8)
    }

    /// An `int16`.
    pub fn i16(&mut self) -> Result<i16, RecordError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    /// An `int32`.
    pub fn i32(&mut self) -> Result<i32, RecordError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An `int64`.
    pub fn i64(&mut self) -> Result<i64, RecordError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    /// An unsigned varint of at most 32 bits.
    pub fn uvarint(&mut self) -> Result<u32, RecordError> {
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

    /// A length (string, bytes, array) in the current encoding; `None` means null.
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

    /// A nullable string.
    pub fn nullable_string(&mut self) -> Result<Option<String>, RecordError> {
        match self.length(false)? {
            None => Ok(None),
            Some(n) => {
                let b = self.take(n)?;
                let s = std::str::from_utf8(b).map_err(|_| RecordError::InvalidUtf8)?;
                Ok(Some(s.to_owned()))
            }
        }
    }

    /// A string; null is malformed.
    pub fn string(&mut self) -> Result<String, RecordError> {
        self.nullable_string()?
            .ok_or(RecordError::Malformed("null in a non-nullable string"))
    }

    /// Bytes (`int32` length or compact); a null reads as empty, as Kafka writes
    /// non-nullable bytes.
    pub fn bytes(&mut self) -> Result<Bytes, RecordError> {
        match self.length(true)? {
            None => Ok(Bytes::new()),
            Some(n) => Ok(Bytes::copy_from_slice(self.take(n)?)),
        }
    }

    /// An array count (`None`: null), checked against the bytes left given that each
    /// element takes at least `min_elem` bytes.
    pub fn array_len(&mut self, min_elem: usize) -> Result<Option<usize>, RecordError> {
        let n = self.length(true)?;
        if let Some(n) = n {
            if n.saturating_mul(min_elem.max(1)) > self.buf.len() {
                return Err(RecordError::Truncated);
            }
        }
        Ok(n)
    }

    /// Skips a tagged-field section (flexible encoding only; a no-op in the classic).
    pub fn skip_tagged_fields(&mut self) -> Result<(), RecordError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_string_is_cut_at_a_character_boundary() {
        // 'é' is two bytes: i16::MAX falls inside the last one.
        let s = "é".repeat(20_000);
        let mut w = Writer::new(false);
        w.string(&s);
        let mut buf = BytesMut::new();
        put_string(&mut buf, &s);
        assert_eq!(w.finish(), buf.freeze());
        let mut w = Writer::new(false);
        w.string(&s);
        let bytes = w.finish();
        let got = Reader::new(&bytes).string().expect("decodes");
        assert_eq!(got.len(), i16::MAX as usize - 1);
    }

    #[test]
    fn counts_and_lengths_beyond_the_bytes_left_are_refused_before_allocating() {
        let mut w = Writer::new(false);
        w.array_len(Some(1_000_000));
        assert_eq!(
            Reader::new(&w.finish()).array_len(1),
            Err(RecordError::Truncated)
        );
        let mut buf = BytesMut::new();
        buf.put_i32(i32::MAX);
        assert_eq!(Reader::new(&buf).bytes(), Err(RecordError::Truncated));
        assert_eq!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x7f]).uvarint(),
            Err(RecordError::Malformed("varint overflows 32 bits"))
        );
    }

    #[test]
    fn the_flexible_encoding_round_trips() {
        let mut w = Writer::new(true);
        w.string("topic");
        w.array_len(None);
        w.uvarint(0);
        let bytes = w.finish();
        let mut r = Reader::new(&bytes);
        r.set_flexible(true);
        assert_eq!(r.string().as_deref(), Ok("topic"));
        assert_eq!(r.array_len(4), Ok(None));
        r.skip_tagged_fields().expect("no tags");
        assert_eq!(r.remaining(), 0);
    }
}
