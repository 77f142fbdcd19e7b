//! Record-level surgery on one stored v2 record batch: decode its records (after
//! decompression), and rebuild the batch with a subset of them.
//!
//! Records are kept byte-for-byte except for their timestamp delta, which is re-encoded
//! when the batch's base timestamp changes (it becomes the delete horizon). The batch
//! keeps its base offset, last offset delta, producer id/epoch, base sequence and
//! partition leader epoch, so every surviving record keeps its offset and sequence and
//! the batch header still tells the producer state what it told it before.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::compression::{self as codec, Compressor};
use strata_proto::batch::{
    compute_crc, open_records, BatchHeader, Compression, OffsetRule, CRC_START, HEADER_SIZE,
};

/// Attribute bit 6: `base_timestamp` holds the delete horizon.
const DELETE_HORIZON_BIT: i16 = 1 << 6;
/// Attribute bits 0-2: the codec.
const CODEC_MASK: i16 = 0x7;

/// One record of a decoded batch; ranges index into [`DecodedBatch::records`].
#[derive(Debug, Clone)]
pub(crate) struct RawRecord {
    /// The record's attributes byte (unused by Kafka, kept as found).
    attributes: i8,
    /// Timestamp relative to the batch's base timestamp.
    timestamp_delta: i64,
    /// Offset relative to the batch's base offset.
    pub offset_delta: i32,
    /// Key bytes, `None` for a null key.
    pub key: Option<std::ops::Range<usize>>,
    /// Whether the value is null (a tombstone).
    pub null_value: bool,
    /// From the offset delta to the end of the record: copied verbatim on rebuild.
    tail: std::ops::Range<usize>,
}

/// The records of one batch, decompressed.
#[derive(Debug)]
pub(crate) struct DecodedBatch {
    /// Uncompressed record bytes.
    pub records: Bytes,
    /// Parsed records in order.
    pub parsed: Vec<RawRecord>,
}

impl DecodedBatch {
    /// Key bytes of `record`.
    pub fn key(&self, record: &RawRecord) -> Option<&[u8]> {
        record.key.clone().map(|r| &self.records[r])
    }
}

/// Decodes the records of `batch` (a whole stored batch, header included), validated
/// and decompressed by `strata_proto` with at most `limit` bytes of output: stored data
/// is as hostile as produced data.
pub(crate) fn decode(
    header: &BatchHeader,
    batch: &[u8],
    limit: usize,
) -> Result<DecodedBatch, String> {
    let records = match open_records(header, batch, limit, OffsetRule::Compacted)
        .map_err(|e| e.to_string())?
    {
        Cow::Borrowed(b) => Bytes::copy_from_slice(b),
        Cow::Owned(v) => Bytes::from(v),
    };
    let count = usize::try_from(header.records_count).map_err(|_| "negative record count")?;
    let mut parsed = Vec::with_capacity(count.min(records.len()));
    let mut pos = 0usize;
    for _ in 0..count {
        let (record, next) = parse_record(&records, pos)?;
        parsed.push(record);
        pos = next;
    }
    if pos != records.len() {
        return Err(format!(
            "{} trailing bytes after {count} records",
            records.len() - pos
        ));
    }
    Ok(DecodedBatch { records, parsed })
}

/// Rebuilds `header`'s batch holding only `kept` (in order), compressed with the
/// original codec. With `delete_horizon`, the batch's base timestamp becomes that
/// horizon and the delete-horizon attribute is set. An empty batch is written
/// uncompressed (an empty compressed stream would still cost bytes and some readers
/// try to inflate it).
pub(crate) fn rebuild(
    header: &BatchHeader,
    decoded: &DecodedBatch,
    kept: &[&RawRecord],
    delete_horizon: Option<i64>,
) -> Result<Vec<u8>, String> {
    let codec = header
        .compression()
        .ok_or_else(|| format!("unknown codec in attributes {}", header.attributes))?;
    let codec = if kept.is_empty() {
        Compression::None
    } else {
        codec
    };
    let base_timestamp = delete_horizon.unwrap_or(header.base_timestamp);
    let mut raw = Vec::new();
    let mut max_timestamp = i64::MIN;
    for record in kept {
        let timestamp = header.base_timestamp.wrapping_add(record.timestamp_delta);
        max_timestamp = max_timestamp.max(timestamp);
        let delta = timestamp.wrapping_sub(base_timestamp);
        let tail = &decoded.records[record.tail.clone()];
        let mut body = Vec::with_capacity(tail.len() + 11);
        body.push(record.attributes as u8);
        put_varlong(&mut body, delta);
        body.extend_from_slice(tail);
        put_varlong(&mut raw, body.len() as i64);
        raw.extend_from_slice(&body);
    }
    // LogAppendTime batches carry the append time as max timestamp; an emptied batch
    // keeps the original one too.
    if header.is_log_append_time() || kept.is_empty() {
        max_timestamp = header.max_timestamp;
    }
    let records = compress(codec, &raw)?;

    let mut attributes = (header.attributes & !CODEC_MASK) | codec.id();
    if delete_horizon.is_some() {
        attributes |= DELETE_HORIZON_BIT;
    }
    let total = HEADER_SIZE + records.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&header.base_offset.to_be_bytes());
    out.extend_from_slice(&((total - 12) as i32).to_be_bytes());
    out.extend_from_slice(&header.partition_leader_epoch.to_be_bytes());
    out.push(header.magic as u8);
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&attributes.to_be_bytes());
    out.extend_from_slice(&header.last_offset_delta.to_be_bytes());
    out.extend_from_slice(&base_timestamp.to_be_bytes());
    out.extend_from_slice(&max_timestamp.to_be_bytes());
    out.extend_from_slice(&header.producer_id.to_be_bytes());
    out.extend_from_slice(&header.producer_epoch.to_be_bytes());
    out.extend_from_slice(&header.base_sequence.to_be_bytes());
    out.extend_from_slice(&(kept.len() as i32).to_be_bytes());
    debug_assert_eq!(out.len(), HEADER_SIZE);
    out.extend_from_slice(&records);
    let crc = compute_crc(&out);
    out[CRC_START - 4..CRC_START].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

/// `header`'s batch with no records left (uncompressed, header fields kept), built
/// without reading the records.
pub(crate) fn emptied(header: &BatchHeader) -> Result<Vec<u8>, String> {
    let none = DecodedBatch {
        records: Bytes::new(),
        parsed: Vec::new(),
    };
    rebuild(header, &none, &[], None)
}

fn compress(codec: Compression, raw: &[u8]) -> Result<Vec<u8>, String> {
    fn run<C: Compressor<BytesMut>>(raw: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = BytesMut::new();
        C::compress(&mut out, |buf| {
            buf.put_slice(raw);
            Ok(())
        })
        .map_err(|e| format!("cannot compress batch: {e}"))?;
        Ok(out.to_vec())
    }
    match codec {
        Compression::None => Ok(raw.to_vec()),
        Compression::Gzip => run::<codec::Gzip>(raw),
        Compression::Snappy => run::<codec::Snappy>(raw),
        Compression::Lz4 => run::<codec::Lz4>(raw),
        Compression::Zstd => run::<codec::Zstd>(raw),
    }
}

/// Parses the record starting at `pos`; returns it and the position after it.
fn parse_record(buf: &[u8], pos: usize) -> Result<(RawRecord, usize), String> {
    let (len, mut at) = get_varlong(buf, pos)?;
    let len = usize::try_from(len).map_err(|_| format!("negative record length at {pos}"))?;
    let end = at
        .checked_add(len)
        .filter(|e| *e <= buf.len())
        .ok_or_else(|| format!("record at {pos} runs past the batch"))?;
    let rec = &buf[..end];
    let attributes = *rec.get(at).ok_or("empty record")? as i8;
    at += 1;
    let (timestamp_delta, next) = get_varlong(rec, at)?;
    at = next;
    let tail_start = at;
    let (offset_delta, next) = get_varlong(rec, at)?;
    at = next;
    let offset_delta =
        i32::try_from(offset_delta).map_err(|_| format!("offset delta {offset_delta}"))?;
    let (key_len, next) = get_varlong(rec, at)?;
    at = next;
    let key = if key_len < 0 {
        None
    } else {
        let key_end = at + key_len as usize;
        if key_end > end {
            return Err(format!("key of record at {pos} runs past it"));
        }
        let range = at..key_end;
        at = key_end;
        Some(range)
    };
    let (value_len, _) = get_varlong(rec, at)?;
    Ok((
        RawRecord {
            attributes,
            timestamp_delta,
            offset_delta,
            key,
            null_value: value_len < 0,
            tail: tail_start..end,
        },
        end,
    ))
}

/// Reads a zigzag varint (up to 64 bits) at `pos`.
fn get_varlong(buf: &[u8], pos: usize) -> Result<(i64, usize), String> {
    let mut value: u64 = 0;
    let mut shift = 0u32;
    let mut at = pos;
    loop {
        let byte = *buf
            .get(at)
            .ok_or_else(|| format!("varint at {pos} is cut"))?;
        at += 1;
        if shift >= 64 {
            return Err(format!("varint at {pos} is too long"));
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    Ok((((value >> 1) as i64) ^ -((value & 1) as i64), at))
}

/// Writes a zigzag varint.
fn put_varlong(out: &mut Vec<u8>, value: i64) {
    let mut v = ((value << 1) ^ (value >> 63)) as u64;
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varlong_round_trip() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            300,
            -300,
            i64::MAX,
            i64::MIN,
            1 << 40,
        ] {
            let mut out = Vec::new();
            put_varlong(&mut out, v);
            assert_eq!(get_varlong(&out, 0), Ok((v, out.len())), "value {v}");
        }
        assert!(get_varlong(&[0x80, 0x80], 0).is_err());
    }
}
