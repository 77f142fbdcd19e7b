//! A zero-copy view of Kafka record batches (format v2, "magic 2").
//!
//! Strata stores produced batches exactly as they arrive; the only changes it makes are to
//! header fields (base offset, partition leader epoch, log-append time + CRC). This module
//! parses and validates batch headers, walks uncompressed record framing cheaply, and
//! rewrites header fields in place. It performs no I/O.
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

#[cfg(test)]
mod tests;
mod varint;

/// Size of a v2 batch header, including the 12-byte log overhead.
pub const HEADER_SIZE: usize = 61;
/// Bytes before the part counted by `batchLength`: baseOffset (8) + batchLength (4).
pub const LOG_OVERHEAD: usize = 12;
/// The only record-batch format Strata accepts.
pub const MAGIC_V2: i8 = 2;
/// Smallest legal `batchLength` value: a header with no records.
pub const MIN_BATCH_LENGTH: i32 = (HEADER_SIZE - LOG_OVERHEAD) as i32;

const BASE_OFFSET_POS: usize = 0;
const LENGTH_POS: usize = 8;
const LEADER_EPOCH_POS: usize = 12;
const MAGIC_POS: usize = 16;
const CRC_POS: usize = 17;
/// The CRC covers everything from the attributes field to the end of the batch.
pub const CRC_START: usize = 21;
const ATTRIBUTES_POS: usize = 21;
const LAST_OFFSET_DELTA_POS: usize = 23;
const BASE_TIMESTAMP_POS: usize = 27;
const MAX_TIMESTAMP_POS: usize = 35;
const PRODUCER_ID_POS: usize = 43;
const PRODUCER_EPOCH_POS: usize = 51;
const BASE_SEQUENCE_POS: usize = 53;
const RECORDS_COUNT_POS: usize = 57;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 0x08;
const TRANSACTIONAL_BIT: i16 = 0x10;
const CONTROL_BIT: i16 = 0x20;
const DELETE_HORIZON_BIT: i16 = 0x40;

/// Kafka error code `CORRUPT_MESSAGE`.
pub const ERROR_CORRUPT_MESSAGE: i16 = 2;
/// Kafka error code `MESSAGE_TOO_LARGE`.
pub const ERROR_MESSAGE_TOO_LARGE: i16 = 10;
/// Kafka error code `INVALID_RECORD`.
pub const ERROR_INVALID_RECORD: i16 = 87;

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
            BatchError::CorruptMessage(_) => ERROR_CORRUPT_MESSAGE,
            BatchError::InvalidRecord(_) => ERROR_INVALID_RECORD,
            BatchError::MessageTooLarge { .. } => ERROR_MESSAGE_TOO_LARGE,
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

/// The decoded 61-byte header of a v2 record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Number of bytes following the `batch_length` field.
    pub batch_length: i32,
    /// Leader epoch of the partition leader that appended the batch.
    pub partition_leader_epoch: i32,
    /// Format version; always 2 for a parsed header.
    pub magic: i8,
    /// Stored CRC-32C of bytes `CRC_START..end`.
    pub crc: u32,
    /// Attribute bits: codec, timestamp type, transactional, control, delete horizon.
    pub attributes: i16,
    /// `last_offset - base_offset`.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (or the delete horizon when that bit is set).
    pub base_timestamp: i64,
    /// Largest record timestamp (or the log-append time).
    pub max_timestamp: i64,
    /// Idempotent producer id, -1 if none.
    pub producer_id: i64,
    /// Producer epoch, -1 if none.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 if none.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub records_count: i32,
}

fn be_i64(buf: &[u8], pos: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[pos..pos + 8]);
    i64::from_be_bytes(b)
}

fn be_i32(buf: &[u8], pos: usize) -> i32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[pos..pos + 4]);
    i32::from_be_bytes(b)
}

fn be_u32(buf: &[u8], pos: usize) -> u32 {
    be_i32(buf, pos) as u32
}

fn be_i16(buf: &[u8], pos: usize) -> i16 {
    i16::from_be_bytes([buf[pos], buf[pos + 1]])
}

impl BatchHeader {
    /// Parses the header at the start of `buf`.
    ///
    /// Checks only what is needed to interpret the header safely: at least [`HEADER_SIZE`]
    /// bytes, magic 2 and a `batchLength` of at least [`MIN_BATCH_LENGTH`]. It does not
    /// check that the whole batch is present nor its CRC; see [`validate`] and
    /// [`crc_matches`].
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, BatchError> {
        if buf.len() < LOG_OVERHEAD + 5 {
            return Err(BatchError::corrupt(format!(
                "truncated batch header: {} bytes",
                buf.len()
            )));
        }
        // Magic first: a v0/v1 message set has a different layout, so its other fields
        // would be meaningless.
        let magic = buf[MAGIC_POS] as i8;
        if magic != MAGIC_V2 {
            return Err(BatchError::corrupt(format!(
                "wrong magic {magic}, only record batch v2 is supported"
            )));
        }
        if buf.len() < HEADER_SIZE {
            return Err(BatchError::corrupt(format!(
                "truncated batch header: {} bytes",
                buf.len()
            )));
        }
        let batch_length = be_i32(buf, LENGTH_POS);
        if batch_length < MIN_BATCH_LENGTH {
            return Err(BatchError::corrupt(format!(
                "batch length {batch_length} is smaller than the header"
            )));
        }
        Ok(BatchHeader {
            base_offset: be_i64(buf, BASE_OFFSET_POS),
            batch_length,
            partition_leader_epoch: be_i32(buf, LEADER_EPOCH_POS),
            magic,
            crc: be_u32(buf, CRC_POS),
            attributes: be_i16(buf, ATTRIBUTES_POS),
            last_offset_delta: be_i32(buf, LAST_OFFSET_DELTA_POS),
            base_timestamp: be_i64(buf, BASE_TIMESTAMP_POS),
            max_timestamp: be_i64(buf, MAX_TIMESTAMP_POS),
            producer_id: be_i64(buf, PRODUCER_ID_POS),
            producer_epoch: be_i16(buf, PRODUCER_EPOCH_POS),
            base_sequence: be_i32(buf, BASE_SEQUENCE_POS),
            records_count: be_i32(buf, RECORDS_COUNT_POS),
        })
    }

    /// Size of the whole batch in bytes, log overhead included.
    pub fn total_size(&self) -> usize {
        // parse() guarantees batch_length >= MIN_BATCH_LENGTH > 0.
        LOG_OVERHEAD + self.batch_length.max(0) as usize
    }

    /// Offset of the last record (`base_offset + last_offset_delta`).
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    /// The offset after this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// The compression codec, or `None` when the codec id is unknown.
    pub fn compression(&self) -> Option<Compression> {
        Compression::from_id(self.attributes & COMPRESSION_MASK)
    }

    /// Whether timestamps are log-append times (attribute bit 3).
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }

    /// Whether the batch belongs to a transaction (attribute bit 4).
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    /// Whether the batch holds control records such as commit/abort markers (bit 5).
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// Whether `base_timestamp` holds a compaction delete horizon (bit 6).
    pub fn has_delete_horizon(&self) -> bool {
        self.attributes & DELETE_HORIZON_BIT != 0
    }

    /// Whether the producer is idempotent (has a producer id).
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }
}

/// Computes the CRC-32C a batch should carry (over `batch[CRC_START..]`).
///
/// `batch` must hold at least [`HEADER_SIZE`] bytes; shorter input yields the CRC of
/// whatever follows the CRC field (or of nothing).
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(batch.get(CRC_START..).unwrap_or(&[]))
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

/// Validates a produce payload holding one or more concatenated batches.
///
/// Checks every batch: magic 2, a sane length that lies inside `records` (no trailing
/// partial batch), size at most `max_batch_bytes` (else [`BatchError::MessageTooLarge`]),
/// CRC-32C, a known codec, `records_count >= 1` with `last_offset_delta ==
/// records_count - 1`, and for uncompressed batches that record framing is consistent
/// and record offset deltas run 0..n-1. Compressed payloads are not decompressed.
///
/// Returns the headers in payload order. An empty payload is an
/// [`BatchError::InvalidRecord`].
pub fn validate(records: &[u8], max_batch_bytes: usize) -> Result<Vec<BatchHeader>, BatchError> {
    if records.is_empty() {
        return Err(BatchError::invalid("produce payload holds no record batch"));
    }
    let mut headers = Vec::new();
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
        check_records(&header, batch)?;
        headers.push(header);
        pos += size;
    }
    Ok(headers)
}

fn check_records(header: &BatchHeader, batch: &[u8]) -> Result<(), BatchError> {
    let count = header.records_count;
    if count < 1 {
        return Err(BatchError::invalid(format!(
            "batch record count {count} must be at least 1"
        )));
    }
    if i64::from(header.last_offset_delta) != i64::from(count) - 1 {
        return Err(BatchError::invalid(format!(
            "last offset delta {} does not match record count {count}",
            header.last_offset_delta
        )));
    }
    let Some(codec) = header.compression() else {
        return Err(BatchError::corrupt(format!(
            "unknown compression codec {}",
            header.attributes & COMPRESSION_MASK
        )));
    };
    if codec == Compression::None {
        check_uncompressed_records(batch, count)?;
    }
    Ok(())
}

/// Walks the length-prefixed records of an uncompressed batch without allocating.
fn check_uncompressed_records(batch: &[u8], count: i32) -> Result<(), BatchError> {
    let mut pos = HEADER_SIZE;
    for expected in 0..count {
        let (len, n) = varint::read_varint(batch, pos)
            .ok_or_else(|| BatchError::invalid("truncated record length"))?;
        pos += n;
        let len = usize::try_from(len)
            .map_err(|_| BatchError::invalid(format!("negative record length {len}")))?;
        let end = pos
            .checked_add(len)
            .filter(|end| *end <= batch.len())
            .ok_or_else(|| BatchError::invalid("record extends past the end of the batch"))?;
        let record = &batch[pos..end];
        // attributes (1 byte), then timestampDelta (varlong), then offsetDelta (varint).
        let (_, ts_len) = varint::read_varlong(record, 1)
            .ok_or_else(|| BatchError::invalid("truncated record timestamp delta"))?;
        let (delta, _) = varint::read_varint(record, 1 + ts_len)
            .ok_or_else(|| BatchError::invalid("truncated record offset delta"))?;
        if delta != expected {
            return Err(BatchError::invalid(format!(
                "record {expected} has offset delta {delta}"
            )));
        }
        pos = end;
    }
    if pos != batch.len() {
        return Err(BatchError::invalid(format!(
            "{} bytes follow the last record",
            batch.len() - pos
        )));
    }
    Ok(())
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
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header[CRC_START..]), body);
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
