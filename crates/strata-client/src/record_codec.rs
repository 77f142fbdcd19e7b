//! Record batch v2 encoding and record decoding with headers as a list.
//!
//! `kafka_protocol`'s `Record` keeps headers in a map, which collapses repeated keys
//! (`trace=a`, `trace=b`); Kafka keeps every header in order. So records are written and
//! read here; batches are still validated by `strata_proto` before any record is read,
//! and compression uses `kafka_protocol`'s codecs (Kafka's framing for each).
//!
//! Batch layout: baseOffset i64 | batchLength i32 | partitionLeaderEpoch i32 | magic i8 |
//! crc u32 (CRC-32C of everything after it) | attributes i16 | lastOffsetDelta i32 |
//! baseTimestamp i64 | maxTimestamp i64 | producerId i64 | producerEpoch i16 |
//! baseSequence i32 | recordsCount i32 | records (compressed as the attributes say).

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::compression::{Compressor, Gzip, Lz4, Snappy, Zstd};
use kafka_protocol::records::Compression;
use strata_proto::batch::{compute_crc, HEADER_SIZE};

use crate::batch::{Header, PendingRecord};
use crate::error::{ClientError, Result};

fn put_varlong(out: &mut BytesMut, v: i64) {
    let mut zz = ((v << 1) ^ (v >> 63)) as u64;
    while zz >= 0x80 {
        out.put_u8((zz as u8 & 0x7f) | 0x80);
        zz >>= 7;
    }
    out.put_u8(zz as u8);
}

fn put_bytes(out: &mut BytesMut, b: Option<&[u8]>) {
    match b {
        None => put_varlong(out, -1),
        Some(b) => {
            put_varlong(out, b.len() as i64);
            out.put_slice(b);
        }
    }
}

fn encode_records(records: &[PendingRecord], base_timestamp: i64, out: &mut BytesMut) {
    let mut body = BytesMut::new();
    for (i, r) in records.iter().enumerate() {
        body.clear();
        body.put_u8(0); // attributes: unused in v2 records
        put_varlong(&mut body, r.timestamp.wrapping_sub(base_timestamp));
        put_varlong(&mut body, i as i64);
        put_bytes(&mut body, r.key.as_deref());
        put_bytes(&mut body, r.value.as_deref());
        put_varlong(&mut body, r.headers.len() as i64);
        for (k, v) in &r.headers {
            put_bytes(&mut body, Some(k.as_bytes()));
            put_bytes(&mut body, v.as_deref());
        }
        put_varlong(out, body.len() as i64);
        out.put_slice(&body);
    }
}

fn compression_id(c: Compression) -> i16 {
    match c {
        Compression::None => 0,
        Compression::Gzip => 1,
        Compression::Snappy => 2,
        Compression::Lz4 => 3,
        Compression::Zstd => 4,
    }
}

/// Encodes `records` as one v2 batch (offsets 0..n, no producer id, create time).
pub(crate) fn encode_batch(records: &[PendingRecord], compression: Compression) -> Result<Bytes> {
    let count = i32::try_from(records.len())
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ClientError::Protocol("a batch needs 1 to 2^31-1 records".into()))?;
    let base_ts = records.first().map_or(0, |r| r.timestamp);
    let max_ts = records.iter().map(|r| r.timestamp).max().unwrap_or(base_ts);
    let mut out = BytesMut::with_capacity(HEADER_SIZE);
    out.put_i64(0);
    out.put_i32(0); // batch length, set below
    out.put_i32(-1);
    out.put_i8(2);
    out.put_u32(0); // CRC, set below
    out.put_i16(compression_id(compression));
    out.put_i32(count - 1);
    out.put_i64(base_ts);
    out.put_i64(max_ts);
    out.put_i64(-1);
    out.put_i16(-1);
    out.put_i32(-1);
    out.put_i32(count);
    let fill = |buf: &mut BytesMut| {
        encode_records(records, base_ts, buf);
        Ok(())
    };
    let compressed = match compression {
        Compression::None => fill(&mut out),
        Compression::Gzip => Gzip::compress(&mut out, fill),
        Compression::Snappy => Snappy::compress(&mut out, fill),
        Compression::Lz4 => Lz4::compress(&mut out, fill),
        Compression::Zstd => Zstd::compress(&mut out, fill),
    };
    compressed.map_err(|e| ClientError::Protocol(format!("compressing record batch: {e}")))?;
    let length = i32::try_from(out.len() - 12)
        .map_err(|_| ClientError::Protocol("record batch over 2 GiB".into()))?;
    out[8..12].copy_from_slice(&length.to_be_bytes());
    let crc = compute_crc(&out);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(out.freeze())
}

/// One record as read from a batch's (decompressed) records.
pub(crate) struct RawRecord {
    pub offset_delta: i64,
    pub timestamp_delta: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
}

struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
}

impl Reader<'_> {
    fn varlong(&mut self) -> Result<i64> {
        let mut v: u64 = 0;
        for shift in (0..70).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| corrupt("a record ends inside a varint"))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok((v >> 1) as i64 ^ -((v & 1) as i64));
            }
        }
        Err(corrupt("a varint is too long"))
    }

    fn bytes(&mut self) -> Result<Option<Bytes>> {
        let len = self.varlong()?;
        if len < 0 {
            return Ok(None);
        }
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| self.pos.checked_add(l))
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| corrupt("a field runs past its record"))?;
        let b = self.buf.slice(self.pos..end);
        self.pos = end;
        Ok(Some(b))
    }
}

fn corrupt(what: &str) -> ClientError {
    ClientError::Protocol(format!("corrupt record: {what}"))
}

/// Reads `count` records from `records` (validated by `strata_proto::batch::open_records`,
/// so the count and every length are known to fit; still checked, never trusted blindly).
pub(crate) fn decode_records(records: &Bytes, count: usize) -> Result<Vec<RawRecord>> {
    let mut r = Reader {
        buf: records,
        pos: 0,
    };
    let mut out = Vec::with_capacity(count.min(records.len() / 7 + 1));
    for _ in 0..count {
        let len = r.varlong()?;
        let start = r.pos;
        r.pos += 1; // attributes
        let timestamp_delta = r.varlong()?;
        let offset_delta = r.varlong()?;
        let key = r.bytes()?;
        let value = r.bytes()?;
        let n = r.varlong()?;
        let mut headers = Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(64));
        for _ in 0..n {
            let k = r
                .bytes()?
                .ok_or_else(|| corrupt("a header has a null key"))?;
            let k = String::from_utf8_lossy(&k).into_owned();
            headers.push((k, r.bytes()?));
        }
        if usize::try_from(len).ok() != Some(r.pos - start) {
            return Err(corrupt("a record's fields do not fill its length"));
        }
        out.push(RawRecord {
            offset_delta,
            timestamp_delta,
            key,
            value,
            headers,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varlongs_round_trip() {
        for v in [0i64, 1, -1, 63, -64, 64, 300, -300, i64::MAX, i64::MIN] {
            let mut b = BytesMut::new();
            put_varlong(&mut b, v);
            let b = b.freeze();
            let mut r = Reader { buf: &b, pos: 0 };
            assert_eq!(r.varlong().expect("decode"), v);
            assert_eq!(r.pos, b.len());
        }
        let bad = Bytes::from_static(&[0x80]);
        assert!(Reader { buf: &bad, pos: 0 }.varlong().is_err());
    }
}
