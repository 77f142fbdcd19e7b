//! Record batches: building them for Produce and splitting/decoding them from Fetch.

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID,
};
use strata_proto::batch::{decode_record_set, OffsetRule};

use crate::error::{ClientError, Result};

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

/// Encodes `records` as one v2 record batch with offsets 0..n relative to the batch.
pub(crate) fn encode_batch(records: &[PendingRecord], compression: Compression) -> Result<Bytes> {
    let recs: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut headers = IndexMap::new();
            for (k, v) in &r.headers {
                headers.insert(StrBytes::from_string(k.clone()), v.clone());
            }
            Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
                producer_id: NO_PRODUCER_ID,
                producer_epoch: NO_PRODUCER_EPOCH,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // The encoder splits batches wherever `offset - sequence` changes and derives the
                // base sequence from the first record; sequence = offset - 1 keeps every record in
                // one batch with base sequence -1, which is what a non-idempotent producer sends.
                sequence: i as i32 - 1,
                timestamp: r.timestamp,
                key: r.key.clone(),
                value: r.value.clone(),
                headers,
            }
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut buf, &recs, &options)
        .map_err(|e| ClientError::Protocol(format!("encoding record batch: {e}")))?;
    Ok(buf.freeze())
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
pub(crate) struct DecodedFetch {
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
pub(crate) fn decode_fetched(mut data: Bytes, from_offset: i64) -> Result<DecodedFetch> {
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
        let next = base_offset + i64::from(last_offset_delta) + 1;
        out.next_offset = Some(next);
        let is_control = attributes & (1 << 5) != 0;
        if is_control || next <= from_offset {
            continue;
        }
        // Validated (framing, counts, bounded decompression) before it is decoded.
        let set = decode_record_set(&batch, MAX_DECOMPRESSED_BATCH_BYTES, OffsetRule::Compacted)
            .map_err(|e| {
                ClientError::Protocol(format!("decoding batch at offset {base_offset}: {e}"))
            })?;
        for r in set.records {
            if r.offset < from_offset {
                continue;
            }
            out.records.push(DecodedRecord {
                offset: r.offset,
                timestamp: r.timestamp,
                key: r.key,
                value: r.value,
                headers: r
                    .headers
                    .into_iter()
                    .map(|(k, v)| (k.as_str().to_string(), v))
                    .collect(),
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
                vec![
                    ("h".to_string(), Some(Bytes::from(format!("{i}")))),
                    ("n".into(), None),
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
}
