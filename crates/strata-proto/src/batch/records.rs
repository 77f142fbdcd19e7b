//! The record walker: checks the framing of every record of a batch, reading its
//! (decompressed) record bytes from a [`Source`]: a slice for uncompressed batches, or
//! a fixed window over a streaming decompressor ([`super::window::Window`]).
//!
//! Record layout (v2), all varints zig-zag:
//!
//! ```text
//! length varint | attributes i8 | timestampDelta varlong | offsetDelta varint |
//! keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value |
//! headerCount varint | headers: keyLength varint (>= 0) | key | valueLength varint (-1 = null) | value
//! ```
//!
//! The walker skips keys, values and headers without looking at them; it keeps no more
//! state than a position per record, and allocates only to note the indexes of keyless
//! records where keys are required (at most one per record the batch declares).

use super::varint;
use super::BatchError;

/// Smallest encoded record: a 1-byte length and six 1-byte fields.
pub(crate) const MIN_RECORD_BYTES: usize = 7;

/// Where the walker reads record bytes from.
pub(crate) trait Source {
    /// Bytes consumed so far.
    fn pos(&self) -> usize;
    /// No record may end past this position: the slice's end, or the output limit.
    fn bound(&self) -> usize;
    fn byte(&mut self) -> Option<u8>;
    fn varint(&mut self) -> Option<i32>;
    fn varlong(&mut self) -> Option<i64>;
    /// Skips `n` bytes; `false` when the input ends first.
    fn skip(&mut self, n: usize) -> bool;
    /// Whether the input has ended (nothing is left to read).
    fn exhausted(&mut self) -> bool;
    /// The error for a read that came up short: the decompressor's, or `reason`.
    fn short(&mut self, reason: String) -> BatchError;
    /// The error for a record claiming `len` bytes past [`Source::bound`].
    fn overrun(&self, index: i32, len: usize) -> BatchError;
    /// Checks that nothing follows the last record (and that a decompressed stream
    /// ends cleanly: trailers, checksums).
    fn finish(&mut self) -> Result<(), BatchError>;
}

/// What the walker checks besides framing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    /// Records the batch declares.
    pub count: i32,
    /// The batch's `lastOffsetDelta`.
    pub last_offset_delta: i32,
    /// Record `i` must have offset delta `i` (as produced); otherwise deltas must only
    /// increase and stay within `0..=last_offset_delta` (as compaction leaves them).
    pub contiguous: bool,
    /// Every record must have a key (non-control batches of compacted topics): the
    /// walk notes the index of each record without one and goes on.
    pub keys_required: bool,
}

fn invalid(reason: String) -> BatchError {
    BatchError::InvalidRecord(reason)
}

/// Walks `rules.count` records from `src` and checks that nothing follows them. Under
/// `rules.keys_required`, the index (within the batch) of every record without a key
/// is pushed onto `keyless`; judging them is the caller's.
pub(crate) fn walk<S: Source>(
    src: &mut S,
    rules: &Rules,
    keyless: &mut Vec<i32>,
) -> Result<(), BatchError> {
    let count = rules.count;
    let room = src.bound().saturating_sub(src.pos());
    if usize::try_from(count).map_or(true, |n| n.saturating_mul(MIN_RECORD_BYTES) > room) {
        return Err(invalid(format!(
            "batch declares {count} records, more than {room} bytes of records can hold"
        )));
    }
    let mut next_delta = 0i32;
    for index in 0..count {
        let Some(len) = src.varint() else {
            let reason = if src.exhausted() {
                format!("batch declares {count} records but holds {index}")
            } else {
                format!("record {index}: truncated or malformed length")
            };
            return Err(src.short(reason));
        };
        let len = usize::try_from(len)
            .map_err(|_| invalid(format!("record {index} has negative length {len}")))?;
        let start = src.pos();
        let end = match start.checked_add(len) {
            Some(end) if end <= src.bound() => end,
            _ => return Err(src.overrun(index, len)),
        };
        if record(src, rules, index, end, &mut next_delta)? == Key::Missing {
            keyless.push(index);
        }
        if src.pos() != end {
            return Err(invalid(format!(
                "record {index} declares {len} bytes but its fields take {}",
                src.pos() - start
            )));
        }
    }
    src.finish()
}

/// Whether a record lacks the key its rules require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Fine,
    Missing,
}

/// Reads the fields of record `index`, which must end at `end`.
#[inline(always)]
fn record<S: Source>(
    src: &mut S,
    rules: &Rules,
    index: i32,
    end: usize,
    next_delta: &mut i32,
) -> Result<Key, BatchError> {
    macro_rules! read {
        ($e:expr, $what:literal) => {
            match $e {
                Some(v) => v,
                None => {
                    return Err(src.short(format!(
                        concat!("record {}: truncated or malformed ", $what),
                        index
                    )))
                }
            }
        };
    }
    read!(src.byte(), "attributes");
    read!(src.varlong(), "timestamp delta");
    let delta = read!(src.varint(), "offset delta");
    let highest = if rules.contiguous {
        *next_delta
    } else {
        rules.last_offset_delta
    };
    if delta < *next_delta || delta > highest {
        return Err(invalid(if rules.contiguous {
            format!("record {index} has offset delta {delta}")
        } else {
            format!(
                "record {index} has offset delta {delta}, outside {}..={highest}",
                *next_delta
            )
        }));
    }
    *next_delta = delta.saturating_add(1);

    let key_len = read!(src.varint(), "key length");
    let mut key = Key::Fine;
    if key_len >= 0 {
        field(src, end, key_len, index, "key")?;
    } else if key_len != -1 {
        return Err(invalid(format!("record {index} has key length {key_len}")));
    } else if rules.keys_required {
        key = Key::Missing;
    }
    let value_len = read!(src.varint(), "value length");
    if value_len >= 0 {
        field(src, end, value_len, index, "value")?;
    } else if value_len != -1 {
        return Err(invalid(format!(
            "record {index} has value length {value_len}"
        )));
    }
    let headers = read!(src.varint(), "header count");
    // Each header takes at least two bytes (two lengths).
    let room = end.saturating_sub(src.pos());
    if usize::try_from(headers).map_or(true, |n| n > room / 2) {
        return Err(invalid(format!(
            "record {index} has header count {headers} with {room} bytes left"
        )));
    }
    for _ in 0..headers {
        let key_len = read!(src.varint(), "header key length");
        if key_len < 0 {
            return Err(invalid(format!(
                "record {index} has header key length {key_len}"
            )));
        }
        field(src, end, key_len, index, "header key")?;
        let value_len = read!(src.varint(), "header value length");
        if value_len >= 0 {
            field(src, end, value_len, index, "header value")?;
        } else if value_len != -1 {
            return Err(invalid(format!(
                "record {index} has header value length {value_len}"
            )));
        }
    }
    Ok(key)
}

/// Skips a field of `len >= 0` bytes that must end within the record (ending at `end`).
#[inline(always)]
fn field<S: Source>(
    src: &mut S,
    end: usize,
    len: i32,
    index: i32,
    what: &str,
) -> Result<(), BatchError> {
    let len = len as usize;
    if end.checked_sub(src.pos()).is_none_or(|room| len > room) {
        return Err(invalid(format!(
            "record {index}: {what} of {len} bytes runs past the record"
        )));
    }
    if !src.skip(len) {
        return Err(src.short(format!("record {index}: {what} is truncated")));
    }
    Ok(())
}

/// Record bytes in memory (an uncompressed batch, or decompressed records).
pub(crate) struct Slice<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Slice<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Slice { buf, pos: 0 }
    }
}

impl Source for Slice<'_> {
    #[inline(always)]
    fn pos(&self) -> usize {
        self.pos
    }

    #[inline(always)]
    fn bound(&self) -> usize {
        self.buf.len()
    }

    #[inline(always)]
    fn byte(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    #[inline(always)]
    fn varint(&mut self) -> Option<i32> {
        let (v, n) = varint::read_varint(self.buf, self.pos)?;
        self.pos += n;
        Some(v)
    }

    #[inline(always)]
    fn varlong(&mut self) -> Option<i64> {
        let (v, n) = varint::read_varlong(self.buf, self.pos)?;
        self.pos += n;
        Some(v)
    }

    #[inline(always)]
    fn skip(&mut self, n: usize) -> bool {
        // Past the end, every later read finds nothing.
        self.pos = self.pos.saturating_add(n);
        self.pos <= self.buf.len()
    }

    fn exhausted(&mut self) -> bool {
        self.pos >= self.buf.len()
    }

    fn short(&mut self, reason: String) -> BatchError {
        invalid(reason)
    }

    fn overrun(&self, index: i32, len: usize) -> BatchError {
        invalid(format!(
            "record {index} of {len} bytes runs past the end of the batch"
        ))
    }

    fn finish(&mut self) -> Result<(), BatchError> {
        match self.buf.len().saturating_sub(self.pos) {
            0 => Ok(()),
            n => Err(invalid(format!("{n} bytes follow the last record"))),
        }
    }
}
