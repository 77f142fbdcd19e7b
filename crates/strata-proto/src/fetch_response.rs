//! A hand-written Fetch response encoder (v4–v17) whose records are not in memory: the
//! response is produced as a [`ChunkedFrame`] of encoded bytes and record ranges, so the
//! caller writes the ranges from the segment files.
//!
//! The layout follows Kafka's `FetchResponse.json`: flexible (compact arrays, strings
//! and bytes, tagged fields) from v12, topic ids instead of names from v13. We send no
//! tagged fields (no diverging epoch, current leader, snapshot id or node endpoints), so
//! every tagged-field section is the empty one. The tests check the output byte for byte
//! against the `kafka-protocol` encoder for every version.

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::TopicName;
use uuid::Uuid;

use crate::chunks::{ByteLen, ChunkedFrame, FrameBuilder, FrameTooLarge};

/// Lowest Fetch version this encoder writes.
pub const MIN_VERSION: i16 = 4;
/// Highest Fetch version this encoder writes.
pub const MAX_VERSION: i16 = 17;

/// A Fetch response whose records are ranges of type `R`.
#[derive(Debug, Clone, PartialEq)]
pub struct Response<R> {
    /// `throttle_time_ms`.
    pub throttle_time_ms: i32,
    /// Top-level error (v7+; dropped before, as Kafka does).
    pub error_code: i16,
    /// Fetch session id (v7+; must be 0 before).
    pub session_id: i32,
    /// Topics in response order.
    pub topics: Vec<Topic<R>>,
}

/// One topic of a Fetch response.
#[derive(Debug, Clone, PartialEq)]
pub struct Topic<R> {
    /// Name (written up to v12).
    pub name: TopicName,
    /// Id (written from v13).
    pub topic_id: Uuid,
    /// Partitions in response order.
    pub partitions: Vec<Partition<R>>,
}

/// One partition of a Fetch response.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition<R> {
    /// `partition_index`.
    pub partition_index: i32,
    /// Partition-level error.
    pub error_code: i16,
    /// `high_watermark`.
    pub high_watermark: i64,
    /// `last_stable_offset`.
    pub last_stable_offset: i64,
    /// `log_start_offset` (v5+).
    pub log_start_offset: i64,
    /// `aborted_transactions`; `None` is the null array.
    pub aborted_transactions: Option<Vec<AbortedTransaction>>,
    /// `preferred_read_replica` (v11+; must be -1 before).
    pub preferred_read_replica: i32,
    /// The record batches; `None` (or an empty range) is an empty, non-null field, as
    /// Kafka sends for a partition without records.
    pub records: Option<R>,
}

impl<R> Partition<R> {
    /// A partition with no records and the given offsets.
    pub fn new(partition_index: i32, error_code: i16) -> Self {
        Self {
            partition_index,
            error_code,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            aborted_transactions: Some(Vec::new()),
            preferred_read_replica: -1,
            records: None,
        }
    }
}

/// An aborted transaction in a partition's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTransaction {
    /// `producer_id`.
    pub producer_id: i64,
    /// `first_offset`.
    pub first_offset: i64,
}

/// Why a response could not be encoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EncodeError {
    /// Outside [`MIN_VERSION`]..=[`MAX_VERSION`].
    #[error("Fetch v{0} responses are not written by this encoder")]
    UnsupportedVersion(i16),
    /// A field with a non-default value that the version cannot carry.
    #[error("{field} cannot be sent in Fetch v{version}")]
    FieldNotInVersion {
        /// The field.
        field: &'static str,
        /// The version.
        version: i16,
    },
    /// An array or string longer than the format allows.
    #[error("{0} is too long to encode")]
    TooLong(&'static str),
    /// The frame does not fit its i32 length prefix.
    #[error(transparent)]
    TooLarge(#[from] FrameTooLarge),
}

/// Encodes a Fetch response frame (length prefix and response header included) for
/// request `version` and `correlation_id`.
pub fn encode<R: ByteLen>(
    version: i16,
    correlation_id: i32,
    response: Response<R>,
) -> Result<ChunkedFrame<R>, EncodeError> {
    if !(MIN_VERSION..=MAX_VERSION).contains(&version) {
        return Err(EncodeError::UnsupportedVersion(version));
    }
    let flexible = version >= 12;
    let mut f = FrameBuilder::new();
    let b = f.buf();
    // Response header: v1 (with its tagged fields) for flexible versions.
    b.put_i32(correlation_id);
    if flexible {
        tags(b);
    }
    b.put_i32(response.throttle_time_ms);
    if version >= 7 {
        b.put_i16(response.error_code);
        b.put_i32(response.session_id);
    } else if response.session_id != 0 {
        return Err(not_in(version, "session_id"));
    }
    array_len(b, flexible, Some(response.topics.len()), "responses")?;
    for topic in response.topics {
        let b = f.buf();
        if version <= 12 {
            string(b, flexible, topic.name.0.as_str())?;
        } else {
            b.put_slice(topic.topic_id.as_bytes());
        }
        array_len(b, flexible, Some(topic.partitions.len()), "partitions")?;
        for p in topic.partitions {
            partition(&mut f, version, p)?;
        }
        if flexible {
            tags(f.buf());
        }
    }
    if flexible {
        // No node endpoints (tag 0, v16+) and no unknown tags.
        tags(f.buf());
    }
    Ok(f.finish()?)
}

fn partition<R: ByteLen>(
    f: &mut FrameBuilder<R>,
    version: i16,
    p: Partition<R>,
) -> Result<(), EncodeError> {
    let flexible = version >= 12;
    let b = f.buf();
    b.put_i32(p.partition_index);
    b.put_i16(p.error_code);
    b.put_i64(p.high_watermark);
    b.put_i64(p.last_stable_offset);
    if version >= 5 {
        b.put_i64(p.log_start_offset);
    }
    let aborted = p.aborted_transactions.as_deref();
    array_len(b, flexible, aborted.map(<[_]>::len), "aborted_transactions")?;
    for t in aborted.unwrap_or_default() {
        b.put_i64(t.producer_id);
        b.put_i64(t.first_offset);
        if flexible {
            tags(b);
        }
    }
    if version >= 11 {
        b.put_i32(p.preferred_read_replica);
    } else if p.preferred_read_replica != -1 {
        return Err(not_in(version, "preferred_read_replica"));
    }
    let len = p.records.as_ref().map_or(0, ByteLen::byte_len);
    if flexible {
        let n = u32::try_from(len)
            .ok()
            .and_then(|n| n.checked_add(1))
            .ok_or(EncodeError::TooLong("records"))?;
        uvarint(b, n);
    } else {
        b.put_i32(i32::try_from(len).map_err(|_| EncodeError::TooLong("records"))?);
    }
    if let Some(r) = p.records {
        f.records(r);
    }
    if flexible {
        // No diverging epoch, current leader or snapshot id (tags 0–2).
        tags(f.buf());
    }
    Ok(())
}

fn not_in(version: i16, field: &'static str) -> EncodeError {
    EncodeError::FieldNotInVersion { field, version }
}

/// An empty tagged-field section.
fn tags(b: &mut BytesMut) {
    uvarint(b, 0);
}

fn uvarint(b: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        b.put_u8((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    b.put_u8(v as u8);
}

/// An array length: `None` is the null array.
fn array_len(
    b: &mut BytesMut,
    flexible: bool,
    len: Option<usize>,
    what: &'static str,
) -> Result<(), EncodeError> {
    let too_long = || EncodeError::TooLong(what);
    match (flexible, len) {
        (true, None) => uvarint(b, 0),
        (true, Some(n)) => uvarint(
            b,
            u32::try_from(n)
                .ok()
                .and_then(|n| n.checked_add(1))
                .ok_or_else(too_long)?,
        ),
        (false, None) => b.put_i32(-1),
        (false, Some(n)) => b.put_i32(i32::try_from(n).map_err(|_| too_long())?),
    }
    Ok(())
}

fn string(b: &mut BytesMut, flexible: bool, s: &str) -> Result<(), EncodeError> {
    if flexible {
        let n = u32::try_from(s.len())
            .ok()
            .and_then(|n| n.checked_add(1))
            .ok_or(EncodeError::TooLong("topic name"))?;
        uvarint(b, n);
    } else {
        b.put_i16(i16::try_from(s.len()).map_err(|_| EncodeError::TooLong("topic name"))?);
    }
    b.put_slice(s.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests;
