//! Compressed batches as real clients write them, the compacted offset rule, and the
//! builders the hostile cases (`tests_hostile.rs`) share.

use std::io::Write;

pub(super) use super::varint::write_varlong;
use super::*;
use proptest::prelude::*;

/// Kafka's default `max.message.bytes`.
pub(super) const LIMIT: usize = 1_048_588;

/// One encoded record (length prefix included) with offset delta `delta`.
pub(super) fn record(
    delta: i64,
    key: Option<&[u8]>,
    value: &[u8],
    headers: &[(&[u8], Option<&[u8]>)],
) -> Vec<u8> {
    let mut body = vec![0u8];
    write_varlong(&mut body, delta); // timestamp delta
    write_varlong(&mut body, delta);
    match key {
        Some(k) => {
            write_varlong(&mut body, k.len() as i64);
            body.extend_from_slice(k);
        }
        None => write_varlong(&mut body, -1),
    }
    write_varlong(&mut body, value.len() as i64);
    body.extend_from_slice(value);
    write_varlong(&mut body, headers.len() as i64);
    for (k, v) in headers {
        write_varlong(&mut body, k.len() as i64);
        body.extend_from_slice(k);
        match v {
            Some(v) => {
                write_varlong(&mut body, v.len() as i64);
                body.extend_from_slice(v);
            }
            None => write_varlong(&mut body, -1),
        }
    }
    let mut out = Vec::new();
    write_varlong(&mut out, body.len() as i64);
    out.extend_from_slice(&body);
    out
}

/// `n` records with keys, values of `size` bytes and a header on every other one.
pub(super) fn records(n: usize, size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let key = format!("key-{i}");
        let value = vec![b'a' + (i % 26) as u8; size];
        let headers: &[(&[u8], Option<&[u8]>)] = if i % 2 == 0 {
            &[(b"h", Some(b"v")), (b"n", None)]
        } else {
            &[]
        };
        out.extend(record(i as i64, Some(key.as_bytes()), &value, headers));
    }
    out
}

pub(super) fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(raw).expect("gzip");
    e.finish().expect("gzip")
}

/// xerial-framed snappy, as snappy-java and kafka-python write it.
pub(super) fn xerial(raw: &[u8], block: usize) -> Vec<u8> {
    let mut out = b"\x82SNAPPY\0\0\0\0\x01\0\0\0\x01".to_vec();
    for chunk in raw.chunks(block) {
        let c = snap::raw::Encoder::new()
            .compress_vec(chunk)
            .expect("snappy");
        out.extend_from_slice(&(c.len() as u32).to_be_bytes());
        out.extend_from_slice(&c);
    }
    out
}

/// Raw snappy, as librdkafka writes it.
pub(super) fn raw_snappy(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(raw).expect("snappy")
}

pub(super) fn lz4_with(
    raw: &[u8],
    size: lz4::BlockSize,
    checksum: lz4::ContentChecksum,
) -> Vec<u8> {
    let mut e = lz4::EncoderBuilder::new()
        .block_size(size)
        .checksum(checksum)
        .build(Vec::new())
        .expect("lz4");
    e.write_all(raw).expect("lz4");
    let (out, result) = e.finish();
    result.expect("lz4");
    out
}

pub(super) fn lz4(raw: &[u8]) -> Vec<u8> {
    lz4_with(
        raw,
        lz4::BlockSize::Max64KB,
        lz4::ContentChecksum::NoChecksum,
    )
}

pub(super) fn zstd(raw: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(raw, 3).expect("zstd")
}

pub(super) fn compress(codec: Compression, raw: &[u8]) -> Vec<u8> {
    match codec {
        Compression::None => raw.to_vec(),
        Compression::Gzip => gzip(raw),
        Compression::Snappy => xerial(raw, 32 * 1024),
        Compression::Lz4 => lz4(raw),
        Compression::Zstd => zstd(raw),
    }
}

pub(super) const CODECS: [Compression; 4] = [
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// A batch of `count` records (per its header) whose record area is `body`.
pub(super) fn batch(codec: Compression, count: i32, body: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(HEADER_SIZE + body.len());
    b.extend_from_slice(&0i64.to_be_bytes());
    b.extend_from_slice(&((HEADER_SIZE - LOG_OVERHEAD + body.len()) as i32).to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b.push(2);
    b.extend_from_slice(&0u32.to_be_bytes());
    b.extend_from_slice(&codec.id().to_be_bytes());
    b.extend_from_slice(&(count - 1).to_be_bytes());
    b.extend_from_slice(&1_000i64.to_be_bytes());
    b.extend_from_slice(&2_000i64.to_be_bytes());
    b.extend_from_slice(&(-1i64).to_be_bytes());
    b.extend_from_slice(&(-1i16).to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b.extend_from_slice(&count.to_be_bytes());
    b.extend_from_slice(body);
    let crc = compute_crc(&b);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

pub(super) fn corrupt(result: Result<Vec<BatchHeader>, BatchError>, needle: &str) {
    match result {
        Err(BatchError::CorruptMessage(m)) => assert!(m.contains(needle), "{m}"),
        other => panic!("expected CORRUPT_MESSAGE with {needle:?}, got {other:?}"),
    }
}

/// The keyless records `validate_with` refuses in `payload` under `keys_required`
/// (none when it accepts it; another refusal as an error).
fn keyless_records(payload: &[u8]) -> Result<Vec<i32>, BatchError> {
    let checks = Checks {
        max_batch_bytes: LIMIT,
        keys_required: true,
    };
    match validate_with(payload, &checks) {
        Ok(_) => Ok(Vec::new()),
        Err(BatchError::KeylessRecords { records, .. }) => Ok(records),
        Err(e) => Err(e),
    }
}

pub(super) fn invalid(result: Result<Vec<BatchHeader>, BatchError>, needle: &str) {
    match result {
        Err(BatchError::InvalidRecord(m) | BatchError::KeylessRecords { message: m, .. }) => {
            assert!(m.contains(needle), "{m}")
        }
        other => panic!("expected INVALID_RECORD with {needle:?}, got {other:?}"),
    }
}

/// Small deterministic noise (no rand dependency).
pub(super) fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

#[test]
fn every_codec_validates_and_opens() {
    let raw = records(50, 100);
    for codec in CODECS.into_iter().chain([Compression::None]) {
        let b = batch(codec, 50, &compress(codec, &raw));
        let headers = validate(&b, LIMIT).unwrap_or_else(|e| panic!("{codec:?}: {e}"));
        assert_eq!(headers[0].records_count, 50);
        let header = headers[0];
        let opened = open_records(&header, &b, LIMIT, OffsetRule::Contiguous).expect("open");
        assert_eq!(&opened[..], &raw[..], "{codec:?}");
        let set = decode_record_set(&bytes::Bytes::from(b), LIMIT, OffsetRule::Contiguous)
            .expect("decode");
        assert_eq!(set.records.len(), 50);
        assert_eq!(set.records[7].key.as_deref(), Some(&b"key-7"[..]));
        assert_eq!(set.records[8].headers.len(), 2);
    }
}

#[test]
fn real_client_framings_are_accepted() {
    let raw = records(300, 500);
    let bodies = [
        (
            "raw snappy (librdkafka)",
            Compression::Snappy,
            raw_snappy(&raw),
        ),
        (
            "xerial, small blocks",
            Compression::Snappy,
            xerial(&raw, 1000),
        ),
        (
            "lz4 4 MiB blocks + checksum (franz-go)",
            Compression::Lz4,
            {
                lz4_with(
                    &raw,
                    lz4::BlockSize::Max4MB,
                    lz4::ContentChecksum::ChecksumEnabled,
                )
            },
        ),
        ("gzip, two members", Compression::Gzip, {
            let (a, b) = raw.split_at(raw.len() / 3);
            [gzip(a), gzip(b)].concat()
        }),
        ("zstd, two frames", Compression::Zstd, {
            let (a, b) = raw.split_at(raw.len() / 2);
            [zstd(a), zstd(b)].concat()
        }),
        ("lz4, two frames", Compression::Lz4, {
            let (a, b) = raw.split_at(raw.len() / 2);
            [lz4(a), lz4(b)].concat()
        }),
        ("xerial, concatenated streams", Compression::Snappy, {
            let (a, b) = raw.split_at(raw.len() / 2);
            [xerial(a, 4096), xerial(b, 4096)].concat()
        }),
    ];
    for (what, codec, body) in bodies {
        let b = batch(codec, 300, &body);
        validate(&b, LIMIT).unwrap_or_else(|e| panic!("{what}: {e}"));
    }
}

#[test]
fn compacted_topics_require_keys() {
    let raw = [record(0, Some(b"k"), b"v", &[]), record(1, None, b"v", &[])].concat();
    let checks = Checks {
        max_batch_bytes: LIMIT,
        keys_required: true,
    };
    for codec in CODECS.into_iter().chain([Compression::None]) {
        let b = batch(codec, 2, &compress(codec, &raw));
        invalid(
            validate_with(&b, &checks),
            "1 of 2 records have no key, which a compacted topic requires (record 1)",
        );
        assert!(validate(&b, LIMIT).is_ok());
        assert_eq!(keyless_records(&b), Ok(vec![1]));
    }
}

#[test]
fn keyless_records_are_all_named_across_batches() {
    // Batch one: records 0..12, every third keyless; batch two: 3 records, the last
    // keyless (payload index 14).
    let first: Vec<u8> = (0..12)
        .flat_map(|i| record(i, (i % 3 != 0).then_some(b"k".as_slice()), b"v", &[]))
        .collect();
    let second = [
        record(0, Some(b"k"), b"v", &[]),
        record(1, Some(b"k"), b"v", &[]),
        record(2, None, b"v", &[]),
    ]
    .concat();
    let checks = Checks {
        max_batch_bytes: LIMIT,
        keys_required: true,
    };
    for codec in CODECS.into_iter().chain([Compression::None]) {
        let payload = [
            batch(codec, 12, &compress(codec, &first)),
            batch(codec, 3, &compress(codec, &second)),
        ]
        .concat();
        assert_eq!(keyless_records(&payload), Ok(vec![0, 3, 6, 9, 14]));
        invalid(
            validate_with(&payload, &checks),
            "5 of 15 records have no key, which a compacted topic requires \
             (record 0, 3, 6, 9, 14)",
        );
    }
    // More than ten are counted, and the message names the first ten.
    let many: Vec<u8> = (0..30).flat_map(|i| record(i, None, b"", &[])).collect();
    let b = batch(Compression::None, 30, &many);
    assert_eq!(keyless_records(&b).map(|k| k.len()), Ok(30));
    invalid(
        validate_with(&b, &checks),
        "30 of 30 records have no key, which a compacted topic requires \
         (record 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ...)",
    );
    // A malformed payload is its own error, not a list.
    assert!(keyless_records(&b[..b.len() - 1]).is_err());
}

#[test]
fn compacted_offsets_open_only_under_the_compacted_rule() {
    // Offsets 0, 3, 7 of a batch with last offset delta 9 (what the cleaner leaves).
    let raw = [
        record(0, Some(b"a"), b"1", &[]),
        record(3, Some(b"b"), b"2", &[]),
        record(7, Some(b"c"), b"3", &[]),
    ]
    .concat();
    for codec in CODECS.into_iter().chain([Compression::None]) {
        let mut b = batch(codec, 3, &compress(codec, &raw));
        b[23..27].copy_from_slice(&9i32.to_be_bytes());
        let crc = compute_crc(&b);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        let header = BatchHeader::parse(&b).expect("header");
        assert!(validate(&b, LIMIT).is_err());
        open_records(&header, &b, LIMIT, OffsetRule::Compacted).expect("compacted");
        assert!(open_records(&header, &b, LIMIT, OffsetRule::Contiguous).is_err());
        let set = decode_record_set(&bytes::Bytes::from(b), LIMIT, OffsetRule::Compacted)
            .expect("decode");
        let offsets: Vec<i64> = set.records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, vec![0, 3, 7]);
    }
    // Deltas past the last offset delta, or going backwards, are refused.
    for deltas in [[0, 3, 10], [0, 3, 3]] {
        let raw: Vec<u8> = deltas
            .iter()
            .flat_map(|&d| record(d, Some(b"k"), b"", &[]))
            .collect();
        let mut b = batch(Compression::None, 3, &raw);
        b[23..27].copy_from_slice(&9i32.to_be_bytes());
        let header = BatchHeader::parse(&b).expect("header");
        assert!(open_records(&header, &b, LIMIT, OffsetRule::Compacted).is_err());
    }
}

#[test]
fn decompress_is_bounded_by_the_limit() {
    let raw = vec![7u8; 100_000];
    for codec in CODECS {
        let body = compress(codec, &raw);
        assert_eq!(
            decompress(codec, &body, 100_000).expect("fits").len(),
            100_000
        );
        let err = decompress(codec, &body, 99_999).unwrap_err();
        assert!(
            matches!(err, BatchError::CorruptMessage(_)),
            "{codec:?}: {err:?}"
        );
    }
}

proptest! {
    #[test]
    fn damaged_compressed_batches_never_panic(
        codec_index in 0usize..4,
        n in 1usize..20,
        pick in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        cut in any::<prop::sample::Index>(),
    ) {
        let codec = CODECS[codec_index];
        let raw = records(n, 30);
        let mut body = compress(codec, &raw);
        let at = pick.index(body.len());
        body[at] ^= flip;
        let keep = cut.index(body.len() + 1);
        body.truncate(keep.max(at));
        let b = batch(codec, n as i32, &body);
        let _ = validate(&b, LIMIT);
        let header = BatchHeader::parse(&b).expect("header");
        let _ = open_records(&header, &b, LIMIT, OffsetRule::Compacted);
    }
}
