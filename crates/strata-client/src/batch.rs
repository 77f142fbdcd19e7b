//! Record batches: building them for Produce and splitting/decoding them from Fetch.

use bytes::Bytes;
#[cfg(test)]
use bytes::BytesMut;
use kafka_protocol::records::Compression;
use strata_proto::batch::{crc_matches, open_records, BatchHeader, OffsetRule};

use crate::error::{ClientError, Result};
use crate::record_codec::decode_records;

/// Bytes of a v2 batch header (base offset through record count).
pub(crate) const BATCH_HEADER_BYTES: usize = 61;
/// Most bytes the records of one fetched batch may decompress to. A broker's batches
/// are at most its `max.message.bytes` compressed; this bounds what a hostile or broken
/// broker can make the consumer allocate for one batch.
pub(crate) const MAX_DECOMPRESSED_BATCH_BYTES: usize = 64 << 20;
/// Worst-case per-record framing: length, attributes, deltas, key/value lengths, header count.
const RECORD_OVERHEAD_BYTES: usize = 21;

/// A record header: name and optional value.
pub type Header = (String, Option<Bytes>);

/// The upper bound of a record's encoded size, used for batch-size accounting.
pub(crate) fn estimate_record_size(
    key: Option<&Bytes>,
    value: Option<&Bytes>,
    headers: &[Header],
) -> usize {
    RECORD_OVERHEAD_BYTES
        + key.map_or(0, |k| k.len())
        + value.map_or(0, |v| v.len())
        + headers
            .iter()
            .map(|(k, v)| 10 + k.len() + v.as_ref().map_or(0, |v| v.len()))
            .sum::<usize>()
}

/// One record waiting in a batch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PendingRecord {
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
}

/// Encodes `records` as one v2 record batch with offsets 0..n relative to the batch
/// (every header kept, repeated keys included).
pub(crate) fn encode_batch(records: &[PendingRecord], compression: Compression) -> Result<Bytes> {
    crate::record_codec::encode_batch(records, compression)
}

/// A record read back from a fetch response.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedRecord {
    /// Absolute offset.
    pub offset: i64,
    /// Timestamp in ms since the epoch.
    pub timestamp: i64,
    /// Key, if any.
    pub key: Option<Bytes>,
    /// Value, if any (`None` is a tombstone).
    pub value: Option<Bytes>,
    /// Headers in wire order.
    pub headers: Vec<Header>,
}

/// What decoding a partition's fetched bytes produced.
#[derive(Debug, Default)]
pub struct DecodedFetch {
    /// Records at or after the requested offset, in offset order.
    pub records: Vec<DecodedRecord>,
    /// The offset to fetch next: one past the last complete batch, or `None` if no complete
    /// batch was present.
    pub next_offset: Option<i64>,
}

/// Splits fetched bytes into whole batches (dropping a truncated trailing one, which the broker
/// may send when it cuts a response at `max_bytes`), decodes them (any codec), skips control
/// batches and records before `from_offset` (the broker returns whole batches). Every batch
/// is validated by `strata_proto` first: bytes from the network are not trusted.
///
/// Public (re-exported at the crate root) so the `client_fetched` fuzz target calls the code
/// the consumer runs on every fetched partition.
pub fn decode_fetched(mut data: Bytes, from_offset: i64) -> Result<DecodedFetch> {
    let mut out = DecodedFetch::default();
    // base offset (8) + batch length (4) precede the part the length counts.
    while data.len() >= 12 {
        let base_offset = i64::from_be_bytes(slice8(&data[0..8]));
        let batch_len = i32::from_be_bytes(slice4(&data[8..12]));
        let Ok(batch_len) = usize::try_from(batch_len) else {
            return Err(ClientError::Protocol(format!(
                "negative batch length {batch_len} at offset {base_offset}"
            )));
        };
        let total = 12 + batch_len;
        if data.len() < total || batch_len < BATCH_HEADER_BYTES - 12 {
            break;
        }
        let batch = data.split_to(total);
        let magic = batch[16];
        if magic != 2 {
            return Err(ClientError::Protocol(format!(
                "unsupported record batch magic {magic} at offset {base_offset}"
            )));
        }
        let attributes = i16::from_be_bytes([batch[21], batch[22]]);
        let last_offset_delta = i32::from_be_bytes(slice4(&batch[23..27]));
        let next = u32::try_from(last_offset_delta)
            .ok()
            .and_then(|d| base_offset.checked_add(i64::from(d) + 1))
            .ok_or_else(|| {
                ClientError::Protocol(format!(
                    "batch at offset {base_offset} has last offset delta {last_offset_delta}"
                ))
            })?;
        // Batches come in offset order (compaction leaves gaps, never steps back).
        if out.next_offset.is_some_and(|prev| base_offset < prev) {
            return Err(ClientError::Protocol(format!(
                "batch at offset {base_offset} starts before the previous batch's end"
            )));
        }
        out.next_offset = Some(next);
        let is_control = attributes & (1 << 5) != 0;
        if is_control || next <= from_offset {
            continue;
        }
        // Validated (framing, counts, bounded decompression) before it is decoded.
        let fail = |e: &dyn std::fmt::Display| {
            ClientError::Protocol(format!("decoding batch at offset {base_offset}: {e}"))
        };
        let header = BatchHeader::parse(&batch).map_err(|e| fail(&e))?;
        if !crc_matches(&batch) {
            return Err(fail(&"CRC mismatch"));
        }
        let records = open_records(
            &header,
            &batch,
            MAX_DECOMPRESSED_BATCH_BYTES,
            OffsetRule::Compacted,
        )
        .map_err(|e| fail(&e))?;
        let records = match records {
            std::borrow::Cow::Borrowed(b) => batch.slice_ref(b),
            std::borrow::Cow::Owned(v) => Bytes::from(v),
        };
        let count = usize::try_from(header.records_count).unwrap_or(0);
        for r in decode_records(&records, count).map_err(|e| fail(&e))? {
            let offset = base_offset.saturating_add(r.offset_delta);
            if offset < from_offset {
                continue;
            }
            let timestamp = if header.is_log_append_time() {
                header.max_timestamp
            } else {
                header.base_timestamp.wrapping_add(r.timestamp_delta)
            };
            out.records.push(DecodedRecord {
                offset,
                timestamp,
                key: r.key,
                value: r.value,
                headers: r.headers,
            });
        }
    }
    Ok(out)
}

fn slice8(s: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    a
}

fn slice4(s: &[u8]) -> [u8; 4] {
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    a
}

/// Rewrites the base offset of an encoded batch; the broker does this on append, tests use it
/// to build what a fetch would return.
#[cfg(test)]
pub(crate) fn with_base_offset(batch: &Bytes, base: i64) -> Bytes {
    let mut b = BytesMut::from(&batch[..]);
    b[0..8].copy_from_slice(&base.to_be_bytes());
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: usize) -> PendingRecord {
        PendingRecord {
            timestamp: 1_700_000_000_000 + i as i64,
            key: (!i.is_multiple_of(3)).then(|| Bytes::from(format!("k{i}"))),
            value: (i % 5 != 4).then(|| Bytes::from(format!("value number {i} ").repeat(4))),
            headers: if i.is_multiple_of(2) {
                // A repeated key stays a separate header, in order.
                vec![
                    ("h".to_string(), Some(Bytes::from(format!("{i}")))),
                    ("n".into(), None),
                    ("h".into(), Some(Bytes::from_static(b"again"))),
                ]
            } else {
                vec![]
            },
        }
    }

    const CODECS: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    #[test]
    fn batch_round_trips_with_every_codec_as_one_batch() {
        let records: Vec<_> = (0..50).map(rec).collect();
        for codec in CODECS {
            let enc = encode_batch(&records, codec).expect("encode");
            let infos =
                kafka_protocol::records::RecordBatchDecoder::decode_batch_info(&mut enc.clone())
                    .expect("info");
            assert_eq!(infos.len(), 1, "{codec:?} split the batch");
            assert_eq!(infos[0].record_count, 50);
            assert_eq!(infos[0].base_sequence, -1);
            assert_eq!(infos[0].producer_id, -1);
            assert_eq!(infos[0].compression, codec);
            let dec = decode_fetched(with_base_offset(&enc, 1000), 0).expect("decode");
            assert_eq!(dec.next_offset, Some(1050));
            assert_eq!(dec.records.len(), 50);
            for (i, (r, want)) in dec.records.iter().zip(&records).enumerate() {
                assert_eq!(r.offset, 1000 + i as i64);
                assert_eq!(r.timestamp, want.timestamp);
                assert_eq!(r.key, want.key);
                assert_eq!(r.value, want.value);
                assert_eq!(r.headers, want.headers);
            }
        }
    }

    #[test]
    fn compression_shrinks_repetitive_data() {
        let records: Vec<_> = (0..200).map(rec).collect();
        let plain = encode_batch(&records, Compression::None)
            .expect("encode")
            .len();
        for codec in &CODECS[1..] {
            let c = encode_batch(&records, *codec).expect("encode").len();
            assert!(c < plain / 2, "{codec:?}: {c} vs {plain}");
        }
    }

    #[test]
    fn estimate_is_an_upper_bound() {
        let records: Vec<_> = (0..100).map(rec).collect();
        let est: usize = BATCH_HEADER_BYTES
            + records
                .iter()
                .map(|r| estimate_record_size(r.key.as_ref(), r.value.as_ref(), &r.headers))
                .sum::<usize>();
        let real = encode_batch(&records, Compression::None)
            .expect("encode")
            .len();
        assert!(est >= real, "estimate {est} < real {real}");
    }

    #[test]
    fn skips_records_before_requested_offset_and_truncated_tail() {
        let a =
            encode_batch(&(0..10).map(rec).collect::<Vec<_>>(), Compression::Lz4).expect("encode");
        let b = encode_batch(&(10..20).map(rec).collect::<Vec<_>>(), Compression::None)
            .expect("encode");
        let c = encode_batch(&(20..30).map(rec).collect::<Vec<_>>(), Compression::Zstd)
            .expect("encode");
        let mut all = BytesMut::new();
        all.extend_from_slice(&with_base_offset(&a, 100));
        all.extend_from_slice(&with_base_offset(&b, 110));
        let c = with_base_offset(&c, 120);
        all.extend_from_slice(&c[..c.len() - 7]);
        let dec = decode_fetched(all.freeze(), 105).expect("decode");
        let offsets: Vec<i64> = dec.records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, (105..120).collect::<Vec<_>>());
        assert_eq!(dec.next_offset, Some(120));
    }

    #[test]
    fn fragments_smaller_than_a_header_yield_nothing() {
        let a = encode_batch(&[rec(1)], Compression::None).expect("encode");
        for cut in [0, 5, 11, 12, 40] {
            let dec = decode_fetched(a.slice(..cut), 0).expect("decode");
            assert!(dec.records.is_empty());
            assert_eq!(dec.next_offset, None);
        }
    }

    #[test]
    fn corrupt_batch_is_an_error_not_a_panic() {
        let a = encode_batch(&[rec(1), rec(2)], Compression::Gzip).expect("encode");
        let mut bad = BytesMut::from(&a[..]);
        let n = bad.len();
        bad[n - 3] ^= 0xff;
        assert!(decode_fetched(bad.freeze(), 0).is_err());
        let mut bad_magic = BytesMut::from(&a[..]);
        bad_magic[16] = 7;
        assert!(decode_fetched(bad_magic.freeze(), 0).is_err());
    }

    /// A record count the bytes do not hold (which `kafka_protocol`'s decoder would
    /// reserve room for) and a compacted batch with gaps in its offsets.
    #[test]
    fn batches_are_validated_before_decoding() {
        let fix_crc = |b: &mut BytesMut| {
            let crc = strata_proto::batch::compute_crc(b);
            b[17..21].copy_from_slice(&crc.to_be_bytes());
        };
        let a =
            encode_batch(&(0..5).map(rec).collect::<Vec<_>>(), Compression::Gzip).expect("encode");
        let mut lie = BytesMut::from(&a[..]);
        lie[23..27].copy_from_slice(&(i32::MAX - 1).to_be_bytes());
        lie[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        fix_crc(&mut lie);
        let err = decode_fetched(lie.freeze(), 0).unwrap_err().to_string();
        assert!(err.contains("records"), "{err}");
        // What a compacted log serves: 5 records spread over offsets 0..=9.
        let mut gaps = BytesMut::from(&a[..]);
        gaps[23..27].copy_from_slice(&9i32.to_be_bytes());
        fix_crc(&mut gaps);
        let dec = decode_fetched(gaps.freeze(), 0).expect("compacted batch");
        assert_eq!(dec.records.len(), 5);
        assert_eq!(dec.next_offset, Some(10));
    }

    /// An uncompressed-looking batch around `records` (already encoded) with a right CRC.
    fn raw_batch(base: i64, attributes: i16, last_delta: i32, count: i32, records: &[u8]) -> Bytes {
        let mut b = Vec::new();
        b.extend_from_slice(&base.to_be_bytes());
        b.extend_from_slice(&((49 + records.len()) as i32).to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes());
        b.push(2);
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&attributes.to_be_bytes());
        b.extend_from_slice(&last_delta.to_be_bytes());
        b.extend_from_slice(&[0; 16]); // timestamps
        b.extend_from_slice(&(-1i64).to_be_bytes());
        b.extend_from_slice(&(-1i16).to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes());
        b.extend_from_slice(&count.to_be_bytes());
        b.extend_from_slice(records);
        let crc = strata_proto::batch::compute_crc(&b);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        Bytes::from(b)
    }

    // Regression inputs found by the `client_fetched` fuzz target: counts and sizes taken
    // from the peer used to size allocations (kafka-protocol's decoder reserves
    // `record_count` records and `header_count` headers, and inflates without a limit).

    #[test]
    fn huge_record_count_is_refused_before_allocating() {
        // One real 8-byte record, a header claiming 2^31 - 1.
        let rec = [14u8, 0, 0, 0, 1, 2, b'x', 0];
        let b = raw_batch(0, 0, i32::MAX - 1, i32::MAX, &rec);
        assert!(decode_fetched(b, 0).is_err());
    }

    #[test]
    fn huge_header_count_is_refused_before_allocating() {
        // header count varint 0xfffffffe zigzag = 2^31 - 1
        let rec = [18u8, 0, 0, 0, 1, 2, b'x', 0xfe, 0xff, 0xff, 0xff, 0x0f];
        let mut with_len = rec.to_vec();
        with_len[0] = ((rec.len() - 1) * 2) as u8;
        let b = raw_batch(0, 0, 0, 1, &with_len);
        assert!(decode_fetched(b, 0).is_err());
    }

    #[test]
    fn decompression_bombs_are_refused() {
        use std::io::Write;
        let zeros = vec![0u8; MAX_DECOMPRESSED_BATCH_BYTES + 1];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&zeros).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let zs = zstd::encode_all(&zeros[..], 19).expect("zstd");
        for (codec, data) in [(1i16, gz), (4, zs)] {
            let b = raw_batch(0, codec, 0, 1, &data);
            let e = decode_fetched(b, 0).expect_err("bomb");
            assert!(e.to_string().contains("decoding batch"), "{codec}: {e}");
        }
        // Raw snappy whose preamble claims 4 GiB: refused from the length alone.
        let b = raw_batch(0, 2, 0, 1, &[0xff, 0xff, 0xff, 0xff, 0x0f, 0]);
        assert!(decode_fetched(b, 0).is_err());
    }

    #[test]
    fn offsets_at_the_end_of_the_range_do_not_overflow() {
        let rec = [14u8, 0, 0, 0, 1, 2, b'x', 0];
        assert!(decode_fetched(raw_batch(i64::MAX, 0, 0, 1, &rec), 0).is_err());
        assert!(decode_fetched(raw_batch(0, 0, -1, 1, &rec), 0).is_err());
        // A record offset delta past i64::MAX.
        let rec = [14u8, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0x0f, 1, 2, b'x', 0];
        let mut r = rec.to_vec();
        r[0] = ((rec.len() - 1) * 2) as u8;
        assert!(decode_fetched(raw_batch(i64::MAX - 5, 0, 0, 1, &r), 0).is_err());
    }

    #[test]
    fn record_offsets_outside_the_batch_are_refused() {
        // Found by client_fetched: a record whose offset delta (12) is past the batch's last
        // offset delta (0) was returned at an offset beyond the batch's next offset.
        let rec = [14u8, 0, 0, 24, 1, 2, b'x', 0];
        assert!(decode_fetched(raw_batch(0, 0, 0, 1, &rec), 0).is_err());
        // Two records with the same delta.
        let rec = [14u8, 0, 0, 0, 1, 2, b'x', 0, 14, 0, 0, 0, 1, 2, b'y', 0];
        assert!(decode_fetched(raw_batch(0, 0, 1, 2, &rec), 0).is_err());
        // A gap left by compaction is fine.
        let rec = [14u8, 0, 0, 0, 1, 2, b'x', 0, 14, 0, 0, 6, 1, 2, b'y', 0];
        let dec = decode_fetched(raw_batch(10, 0, 3, 2, &rec), 0).expect("decode");
        let offsets: Vec<i64> = dec.records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, vec![10, 13]);
        assert_eq!(dec.next_offset, Some(14));
    }

    #[test]
    fn batches_going_back_are_refused() {
        // Found by client_fetched: a batch below the previous one's end made the records
        // returned run past next_offset.
        let rec = [14u8, 0, 0, 0, 1, 2, b'x', 0];
        let mut data = BytesMut::new();
        data.extend_from_slice(&raw_batch(10, 0, 0, 1, &rec));
        data.extend_from_slice(&raw_batch(5, 0, 0, 1, &rec));
        assert!(decode_fetched(data.freeze(), 0).is_err());
    }
}
