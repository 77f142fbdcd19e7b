//! A zero-copy view of Kafka record batches (format v2, "magic 2").
//!
//! Strata stores produced batches exactly as they arrive; the only changes it makes are to
//! header fields (base offset, partition leader epoch, log-append time + CRC). This module
//! parses and validates batch headers, walks the framing of every record (through a
//! fixed window over a streaming decompressor for compressed batches: `codec.rs`,
//! `window.rs`, `records.rs`), and rewrites header fields in place. It performs no I/O.
//!
//! All decompression of record batches in Strata happens here, with an output limit;
//! readers of record contents use [`open_records`] / [`decode_record_set`], which
//! validate first.
//!
//! Layout of the 61-byte header (big-endian):
//!
//! | pos | field | type |
//! | --- | --- | --- |
//! | 0 | baseOffset | i64 |
//! | 8 | batchLength (bytes after this field) | i32 |
//! | 12 | partitionLeaderEpoch | i32 |
//! | 16 | magic | i8 |
//! | 17 | crc (CRC-32C of bytes 21..end) | u32 |
//! | 21 | attributes | i16 |
//! | 23 | lastOffsetDelta | i32 |
//! | 27 | baseTimestamp | i64 |
//! | 35 | maxTimestamp | i64 |
//! | 43 | producerId | i64 |
//! | 51 | producerEpoch | i16 |
//! | 53 | baseSequence | i32 |
//! | 57 | recordsCount | i32 |

mod codec;
pub mod control;
mod decode;
mod header;
mod records;
mod snappy;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_codec;
#[cfg(test)]
mod tests_hostile;
mod varint;
mod window;

use std::borrow::Cow;

use crate::error_code;

pub use codec::{decompress, zstd_window_log_max, ZSTD_MIN_WINDOW_LOG};
pub use decode::decode_record_set;
pub use header::BatchHeader;
use header::*;

/// Size of a v2 batch header, including the 12-byte log overhead.
pub const HEADER_SIZE: usize = 61;
/// Bytes before the part counted by `batchLength`: baseOffset (8) + batchLength (4).
pub const LOG_OVERHEAD: usize = 12;
/// The only record-batch format Strata accepts.
pub const MAGIC_V2: i8 = 2;
/// Smallest legal `batchLength` value: a header with no records.
pub const MIN_BATCH_LENGTH: i32 = (HEADER_SIZE - LOG_OVERHEAD) as i32;
/// The CRC covers everything from the attributes field to the end of the batch.
pub const CRC_START: usize = 21;

/// Why a record batch (or a produce payload of batches) was rejected.
///
/// The variants map one-to-one onto Kafka error codes, see [`BatchError::error_code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Framing, magic or checksum is wrong: the bytes are not a well-formed batch.
    #[error("corrupt message: {0}")]
    CorruptMessage(String),
    /// The batch is well-formed but its records are inconsistent with its header.
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// Records without a key where the topic requires one (compacted): all of them,
    /// by index in the payload (KIP-467's `batch_index` with one batch per payload).
    #[error("invalid record: {message}")]
    KeylessRecords {
        /// What is wrong, naming the first few records.
        message: String,
        /// Every keyless record's index, in payload order.
        records: Vec<i32>,
    },
    /// One batch is larger than the configured maximum (`max.message.bytes`).
    #[error("record batch of {size} bytes exceeds the maximum of {max} bytes")]
    MessageTooLarge {
        /// Size of the offending batch including the log overhead.
        size: usize,
        /// The configured limit.
        max: usize,
    },
}

impl BatchError {
    /// The Kafka protocol error code a broker should answer with.
    pub fn error_code(&self) -> i16 {
        match self {
            BatchError::CorruptMessage(_) => error_code::CORRUPT_MESSAGE,
            BatchError::InvalidRecord(_) | BatchError::KeylessRecords { .. } => {
                error_code::INVALID_RECORD
            }
            BatchError::MessageTooLarge { .. } => error_code::MESSAGE_TOO_LARGE,
        }
    }

    fn corrupt(reason: impl Into<String>) -> Self {
        BatchError::CorruptMessage(reason.into())
    }

    fn invalid(reason: impl Into<String>) -> Self {
        BatchError::InvalidRecord(reason.into())
    }
}

/// Compression codec of a batch (attribute bits 0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Records are stored as-is.
    None,
    /// gzip.
    Gzip,
    /// Snappy (xerial framing).
    Snappy,
    /// LZ4 frame format.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl Compression {
    /// Decodes the codec id used in the attributes field.
    pub fn from_id(id: i16) -> Option<Compression> {
        match id {
            0 => Some(Compression::None),
            1 => Some(Compression::Gzip),
            2 => Some(Compression::Snappy),
            3 => Some(Compression::Lz4),
            4 => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// The codec id used in the attributes field.
    pub fn id(self) -> i16 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }
}

/// Computes the CRC-32C a batch should carry (over `batch[CRC_START..]`).
///
/// `batch` must hold at least [`HEADER_SIZE`] bytes; shorter input yields the CRC of
/// whatever follows the CRC field (or of nothing).
pub fn compute_crc(batch: &[u8]) -> u32 {
    crate::crc::crc32c(batch.get(CRC_START..).unwrap_or(&[]))
}

/// Whether the stored CRC of a complete batch matches its contents.
pub fn crc_matches(batch: &[u8]) -> bool {
    batch.len() >= HEADER_SIZE && be_u32(batch, CRC_POS) == compute_crc(batch)
}

/// Parses the batch at the start of `buf` and checks that it is complete and its CRC is
/// right; returns the header. Trailing bytes after the batch are ignored.
///
/// This is the check used when scanning stored data (recovery); it does not look at
/// the records themselves.
pub fn check_stored_batch(buf: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = BatchHeader::parse(buf)?;
    let size = header.total_size();
    if size > buf.len() {
        return Err(BatchError::corrupt(format!(
            "batch of {size} bytes is truncated to {}",
            buf.len()
        )));
    }
    if !crc_matches(&buf[..size]) {
        return Err(BatchError::corrupt("CRC-32C mismatch"));
    }
    if header.last_offset_delta < 0 {
        return Err(BatchError::corrupt("negative last offset delta"));
    }
    Ok(header)
}

/// What [`validate_with`] checks besides framing, sizes and CRCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    /// The topic's `max.message.bytes`: the largest batch, and the most its records
    /// may decompress to.
    pub max_batch_bytes: usize,
    /// Every record of a non-control batch must have a key (compacted topics).
    pub keys_required: bool,
}

/// Validates a produce payload holding one or more concatenated batches.
///
/// Same as [`validate_with`] with no key requirement.
pub fn validate(records: &[u8], max_batch_bytes: usize) -> Result<Vec<BatchHeader>, BatchError> {
    validate_with(
        records,
        &Checks {
            max_batch_bytes,
            keys_required: false,
        },
    )
}

/// Validates a produce payload holding one or more concatenated batches.
///
/// Checks every batch: magic 2, a sane length that lies inside `records` (no trailing
/// partial batch), size at most `max_batch_bytes` (else [`BatchError::MessageTooLarge`]),
/// CRC-32C, a known codec, `records_count >= 1` with `last_offset_delta ==
/// records_count - 1`, and the framing of every record (compressed batches are
/// decompressed as a stream, at most `max_batch_bytes` of output): offset deltas run
/// 0..n-1, key, value and header lengths fit their record, each record's fields fill
/// exactly its declared length, and nothing follows the last record.
///
/// Bytes that are not a well-formed or decompressible batch are a
/// [`BatchError::CorruptMessage`]; well-formed but inconsistent records a
/// [`BatchError::InvalidRecord`]. Returns the headers in payload order. An empty
/// payload is an [`BatchError::InvalidRecord`].
pub fn validate_with(records: &[u8], checks: &Checks) -> Result<Vec<BatchHeader>, BatchError> {
    validate_sized(records, checks).map(|v| v.headers)
}

/// A payload [`validate_sized`] accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    /// The batches' headers, in payload order.
    pub headers: Vec<BatchHeader>,
    /// What the payload would take uncompressed: each batch's header plus its records
    /// as the walk read them (decompressed where compressed). Over the payload's length,
    /// the compression ratio.
    pub uncompressed_bytes: u64,
}

/// [`validate_with`], also measuring the payload's uncompressed size (the walk reads
/// every record anyway, so this costs nothing more).
///
/// Under [`Checks::keys_required`], every record is walked before keyless ones are
/// refused: [`BatchError::KeylessRecords`] lists every one of them by index in the
/// payload (counting records across its batches, control batches skipped) and its
/// message names the first few.
pub fn validate_sized(records: &[u8], checks: &Checks) -> Result<Validated, BatchError> {
    let mut keyless = Vec::new();
    let (validated, total) = walk_payload(records, checks, &mut keyless)?;
    if keyless.is_empty() {
        Ok(validated)
    } else {
        Err(keyless_error(&keyless, total))
    }
}

/// How many indexes the keyless error message names.
const KEYLESS_NAMED: usize = 10;

fn keyless_error(keyless: &[i32], total: i64) -> BatchError {
    let mut named: Vec<String> = keyless
        .iter()
        .take(KEYLESS_NAMED)
        .map(i32::to_string)
        .collect();
    if keyless.len() > KEYLESS_NAMED {
        named.push("...".to_string());
    }
    BatchError::KeylessRecords {
        message: format!(
            "{} of {total} records have no key, which a compacted topic requires (record {})",
            keyless.len(),
            named.join(", ")
        ),
        records: keyless.to_vec(),
    }
}

/// The walk behind [`validate_sized`], also counting the payload's records. Keyless
/// records (under `keys_required`) are noted in `keyless` by payload index, not
/// refused.
fn walk_payload(
    records: &[u8],
    checks: &Checks,
    keyless: &mut Vec<i32>,
) -> Result<(Validated, i64), BatchError> {
    if records.is_empty() {
        return Err(BatchError::invalid("produce payload holds no record batch"));
    }
    let max_batch_bytes = checks.max_batch_bytes;
    let mut headers = Vec::new();
    let mut uncompressed_bytes = 0u64;
    let mut total = 0i64;
    let mut pos = 0usize;
    while pos < records.len() {
        let rest = &records[pos..];
        let header = BatchHeader::parse(rest)?;
        let size = header.total_size();
        if size > rest.len() {
            return Err(BatchError::corrupt(format!(
                "batch at byte {pos} claims {size} bytes but only {} remain",
                rest.len()
            )));
        }
        if size > max_batch_bytes {
            return Err(BatchError::MessageTooLarge {
                size,
                max: max_batch_bytes,
            });
        }
        let batch = &rest[..size];
        if !crc_matches(batch) {
            return Err(BatchError::corrupt(format!(
                "CRC-32C mismatch in batch at byte {pos}"
            )));
        }
        let rules = rules_for(&header, OffsetRule::Contiguous)?;
        let rules = records::Rules {
            keys_required: checks.keys_required && !header.is_control(),
            ..rules
        };
        let codec = codec_of(&header)?;
        let body = &batch[HEADER_SIZE..];
        let noted = keyless.len();
        let body_bytes = if codec == Compression::None {
            records::walk(&mut records::Slice::new(body), &rules, keyless)?;
            body.len()
        } else {
            let reader = codec::reader(codec, body, max_batch_bytes)?;
            let mut window = window::Window::new(reader, codec, max_batch_bytes);
            records::walk(&mut window, &rules, keyless)?;
            records::Source::pos(&window)
        };
        // The walk noted indexes within this batch; make them payload indexes.
        let base = i32::try_from(total).unwrap_or(i32::MAX);
        for index in &mut keyless[noted..] {
            *index = index.saturating_add(base);
        }
        total += i64::from(rules.count);
        uncompressed_bytes += (HEADER_SIZE + body_bytes) as u64;
        headers.push(header);
        pos += size;
    }
    let validated = Validated {
        headers,
        uncompressed_bytes,
    };
    Ok((validated, total))
}

/// How the offset deltas of a batch's records must run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetRule {
    /// As a producer writes them: at least one record, `lastOffsetDelta + 1` of them,
    /// record `i` with offset delta `i`.
    Contiguous,
    /// As a log may hold them after compaction: at most `lastOffsetDelta + 1` records
    /// (possibly none), offset deltas increasing within `0..=lastOffsetDelta`.
    Compacted,
}

fn codec_of(header: &BatchHeader) -> Result<Compression, BatchError> {
    header.compression().ok_or_else(|| {
        BatchError::corrupt(format!(
            "unknown compression codec {}",
            header.attributes & COMPRESSION_MASK
        ))
    })
}

fn rules_for(header: &BatchHeader, rule: OffsetRule) -> Result<records::Rules, BatchError> {
    let count = header.records_count;
    let last = header.last_offset_delta;
    match rule {
        OffsetRule::Contiguous => {
            if count < 1 {
                return Err(BatchError::invalid(format!(
                    "batch record count {count} must be at least 1"
                )));
            }
            if i64::from(last) != i64::from(count) - 1 {
                return Err(BatchError::invalid(format!(
                    "last offset delta {last} does not match record count {count}"
                )));
            }
        }
        OffsetRule::Compacted => {
            if count < 0 || last < 0 || i64::from(count) > i64::from(last) + 1 {
                return Err(BatchError::invalid(format!(
                    "batch has {count} records for last offset delta {last}"
                )));
            }
        }
    }
    Ok(records::Rules {
        count,
        last_offset_delta: last,
        contiguous: rule == OffsetRule::Contiguous,
        keys_required: false,
    })
}

/// The records of one whole batch (`batch` = header and records, as [`batches`]
/// yields them), decompressed with at most `limit` bytes of output and checked as
/// [`validate`] checks them, offsets per `rule`. The CRC is not checked.
///
/// Every reader of record contents goes through this (or [`validate`]) first: the
/// returned bytes hold exactly `records_count` well-framed records, so a decoder may
/// trust the count and header counts for its allocations.
pub fn open_records<'a>(
    header: &BatchHeader,
    batch: &'a [u8],
    limit: usize,
    rule: OffsetRule,
) -> Result<Cow<'a, [u8]>, BatchError> {
    let body = batch
        .get(HEADER_SIZE..header.total_size())
        .ok_or_else(|| BatchError::corrupt("batch is shorter than its length"))?;
    let rules = rules_for(header, rule)?;
    let records = codec::records(codec_of(header)?, body, limit)?;
    // No key rule here: nothing is noted.
    records::walk(&mut records::Slice::new(&records), &rules, &mut Vec::new())?;
    Ok(records)
}

fn require_header(buf: &[u8]) -> Result<(), BatchError> {
    if buf.len() < HEADER_SIZE {
        return Err(BatchError::corrupt(format!(
            "buffer of {} bytes is shorter than a batch header",
            buf.len()
        )));
    }
    Ok(())
}

/// Rewrites the base offset of the batch at the start of `buf`.
///
/// The base offset is outside the CRC, so the CRC stays valid.
pub fn set_base_offset(buf: &mut [u8], base_offset: i64) -> Result<(), BatchError> {
    require_header(buf)?;
    buf[BASE_OFFSET_POS..BASE_OFFSET_POS + 8].copy_from_slice(&base_offset.to_be_bytes());
    Ok(())
}

/// Rewrites the partition leader epoch of the batch at the start of `buf`.
///
/// The epoch is outside the CRC, so the CRC stays valid.
pub fn set_partition_leader_epoch(buf: &mut [u8], epoch: i32) -> Result<(), BatchError> {
    require_header(buf)?;
    buf[LEADER_EPOCH_POS..LEADER_EPOCH_POS + 4].copy_from_slice(&epoch.to_be_bytes());
    Ok(())
}

/// Stamps a complete batch (`buf` = exactly one batch) with a log-append time: sets the
/// timestamp-type bit and `maxTimestamp`, then recomputes the CRC.
pub fn set_log_append_time(buf: &mut [u8], timestamp: i64) -> Result<(), BatchError> {
    require_header(buf)?;
    let (header, body) = buf.split_at_mut(HEADER_SIZE);
    set_log_append_time_split(header, body, timestamp)
}

/// Like [`set_log_append_time`] for a batch whose header and records live in separate
/// buffers: `header` is the first [`HEADER_SIZE`] bytes, `body` the rest of the batch.
///
/// This lets a writer stamp a small copy of the header and write the unmodified
/// records straight from the request buffer (vectored I/O).
pub fn set_log_append_time_split(
    header: &mut [u8],
    body: &[u8],
    timestamp: i64,
) -> Result<(), BatchError> {
    if header.len() != HEADER_SIZE {
        return Err(BatchError::corrupt(format!(
            "header buffer has {} bytes, expected {HEADER_SIZE}",
            header.len()
        )));
    }
    let attributes = be_i16(header, ATTRIBUTES_POS) | TIMESTAMP_TYPE_BIT;
    header[ATTRIBUTES_POS..ATTRIBUTES_POS + 2].copy_from_slice(&attributes.to_be_bytes());
    header[MAX_TIMESTAMP_POS..MAX_TIMESTAMP_POS + 8].copy_from_slice(&timestamp.to_be_bytes());
    let crc = crate::crc::crc32c_append(crate::crc::crc32c(&header[CRC_START..]), body);
    header[CRC_POS..CRC_POS + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// Iterates over the complete batches at the start of a buffer, yielding each header
/// with its bytes. Stops (yielding one error) at the first malformed or truncated batch.
/// CRCs are not checked; use [`crc_matches`] per batch when needed.
pub fn batches(buf: &[u8]) -> Batches<'_> {
    Batches {
        buf,
        pos: 0,
        failed: false,
    }
}

/// Iterator returned by [`batches`].
#[derive(Debug, Clone)]
pub struct Batches<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Batches<'a> {
    /// Byte position of the next batch within the buffer.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Batches<'a> {
    type Item = Result<(BatchHeader, &'a [u8]), BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let rest = &self.buf[self.pos..];
        let result = BatchHeader::parse(rest).and_then(|header| {
            let size = header.total_size();
            if size > rest.len() {
                Err(BatchError::corrupt(format!(
                    "batch of {size} bytes is truncated to {}",
                    rest.len()
                )))
            } else {
                Ok((header, &rest[..size]))
            }
        });
        match &result {
            Ok((_, bytes)) => self.pos += bytes.len(),
            Err(_) => self.failed = true,
        }
        Some(result)
    }
}
