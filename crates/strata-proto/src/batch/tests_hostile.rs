//! Compressed batches that must be refused: bombs, lies about counts and sizes,
//! truncated streams, trailing bytes, bad field lengths, huge windows and blocks.

use std::io::Write;

use super::tests_codec::*;
use super::*;

#[test]
fn gzip_of_random_bytes_is_corrupt() {
    corrupt(
        validate(&batch(Compression::Gzip, 1, &noise(5000, 7)), LIMIT),
        "gzip",
    );
    // Random bytes that start like gzip.
    let mut body = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    body.extend(noise(5000, 9));
    corrupt(validate(&batch(Compression::Gzip, 1, &body), LIMIT), "gzip");
}

#[test]
fn random_bytes_are_corrupt_for_every_codec() {
    for codec in CODECS {
        let result = validate(&batch(codec, 3, &noise(3000, 11)), LIMIT);
        assert!(
            matches!(result, Err(BatchError::CorruptMessage(_))),
            "{codec:?}: {result:?}"
        );
    }
}

#[test]
fn count_of_1000_holding_10_is_invalid() {
    let body = gzip(&records(10, 20));
    let b = batch(Compression::Gzip, 1000, &body);
    invalid(validate(&b, LIMIT), "declares 1000 records but holds 10");
    let header = BatchHeader::parse(&b).expect("header");
    assert!(open_records(&header, &b, LIMIT, OffsetRule::Contiguous).is_err());
}

#[test]
fn count_beyond_what_the_bytes_can_hold_is_refused_up_front() {
    let b = batch(Compression::None, i32::MAX, &records(3, 5));
    invalid(validate(&b, LIMIT), "more than");
    let b = batch(Compression::Zstd, 1 << 30, &zstd(&records(3, 5)));
    invalid(validate(&b, LIMIT), "more than");
}

/// Streams 1 GiB of zeros into gzip without holding them.
fn gzip_bomb() -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        e.write_all(&zeros).expect("gzip");
    }
    e.finish().expect("gzip")
}

#[test]
fn gzip_of_a_gibibyte_of_zeros_is_refused() {
    let body = gzip_bomb();
    assert!(body.len() < 8 << 20, "{}", body.len());
    let limit = 16 << 20;
    let b = batch(Compression::Gzip, 1, &body);
    // Zeros are a record of length 0 that still has fields: refused at record 0.
    invalid(validate(&b, limit), "record 0");
    // Opening it stops at the limit instead of inflating a gibibyte.
    let header = BatchHeader::parse(&b).expect("header");
    let err = open_records(&header, &b, limit, OffsetRule::Contiguous).unwrap_err();
    assert!(
        matches!(&err, BatchError::CorruptMessage(m) if m.contains("more than")),
        "{err:?}"
    );
    assert!(decompress(Compression::Gzip, &body, limit).is_err());
}

/// A million valid 1 KiB records (1 GiB decompressed), zstd-compressed as a stream.
fn zstd_bomb() -> Vec<u8> {
    let mut e = zstd::stream::write::Encoder::new(Vec::new(), 1).expect("zstd");
    let value = vec![b'x'; 1060];
    for i in 0..1_000_000i64 {
        e.write_all(&record(i, None, &value, &[])).expect("zstd");
    }
    e.finish().expect("zstd")
}

#[test]
fn zstd_of_a_million_valid_records_is_refused() {
    // About 4 MiB: every record differs from the last in its offset delta.
    let body = zstd_bomb();
    assert!(body.len() < 6 << 20, "{}", body.len());
    let b = batch(Compression::Zstd, 1_000_000, &body);
    // Below 7 MB the count alone is impossible (a record takes at least 7 bytes).
    invalid(validate(&b, 6 << 20), "more than");
    // With a limit the count fits, the stream is cut at the limit.
    let limit = 64 << 20;
    corrupt(validate(&b, limit), "max.message.bytes");
    let header = BatchHeader::parse(&b).expect("header");
    let err = open_records(&header, &b, limit, OffsetRule::Contiguous).unwrap_err();
    assert!(matches!(err, BatchError::CorruptMessage(_)), "{err:?}");
}

#[test]
fn truncated_streams_are_corrupt() {
    let raw = records(200, 300);
    for codec in CODECS {
        let full = compress(codec, &raw);
        for cut in [1, 4, 8, full.len() / 2] {
            let body = &full[..full.len() - cut];
            let result = validate(&batch(codec, 200, body), LIMIT);
            assert!(result.is_err(), "{codec:?} cut {cut}");
            // Cuts inside the records may be reported as missing records too.
            if cut <= 8 {
                assert!(
                    matches!(result, Err(BatchError::CorruptMessage(_))),
                    "{codec:?} cut {cut}: {result:?}"
                );
            }
        }
    }
    // lz4 cut exactly at a block boundary (EndMark and checksum gone).
    let full = lz4_with(
        &raw,
        lz4::BlockSize::Max64KB,
        lz4::ContentChecksum::ChecksumEnabled,
    );
    let b = batch(Compression::Lz4, 200, &full[..full.len() - 8]);
    corrupt(validate(&b, LIMIT), "truncated");
    // Raw snappy, cut.
    let full = raw_snappy(&raw);
    let b = batch(Compression::Snappy, 200, &full[..full.len() - 3]);
    corrupt(validate(&b, LIMIT), "snappy");
}

#[test]
fn trailing_bytes_after_the_last_record_are_invalid() {
    let mut raw = records(5, 10);
    raw.extend_from_slice(b"garbage");
    for codec in CODECS {
        let b = batch(codec, 5, &compress(codec, &raw));
        invalid(validate(&b, LIMIT), "follows the last record");
    }
    invalid(
        validate(&batch(Compression::None, 5, &raw), LIMIT),
        "follow the last record",
    );
}

#[test]
fn trailing_garbage_after_the_compressed_stream_is_corrupt() {
    let raw = records(5, 10);
    for codec in [Compression::Gzip, Compression::Lz4, Compression::Zstd] {
        let mut body = compress(codec, &raw);
        body.extend_from_slice(b"\x01\x02garbage!");
        let result = validate(&batch(codec, 5, &body), LIMIT);
        assert!(
            matches!(result, Err(BatchError::CorruptMessage(_))),
            "{codec:?}: {result:?}"
        );
    }
}

#[test]
fn record_running_past_the_batch_is_refused() {
    let mut raw = records(3, 10);
    let last = record(3, None, b"0123456789", &[]);
    // Same record but its length claims 100 bytes more.
    let mut long = Vec::new();
    write_varlong(&mut long, (last.len() - 1 + 100) as i64);
    long.extend_from_slice(&last[1..]);
    raw.extend_from_slice(&long);
    invalid(
        validate(&batch(Compression::None, 4, &raw), LIMIT),
        "runs past the end",
    );
    for codec in CODECS {
        let result = validate(&batch(codec, 4, &compress(codec, &raw)), LIMIT);
        invalid(result, "record 3");
    }
    // A length beyond the limit: refused before reading on.
    let mut raw = records(1, 10);
    write_varlong(&mut raw, 1 << 30);
    for codec in CODECS {
        corrupt(
            validate(&batch(codec, 2, &compress(codec, &raw)), LIMIT),
            "record 1",
        );
    }
}

#[test]
fn bad_field_lengths_are_invalid() {
    // (description, record body after the length prefix, expected message)
    let cases: [(&str, Vec<u8>, &str); 6] = [
        (
            "negative header count",
            vec![0, 0, 0, 1, 2, b'v', 3],
            "header count -2",
        ),
        (
            "huge header count",
            vec![0, 0, 0, 1, 2, b'v', 40],
            "header count 20",
        ),
        (
            "negative header key",
            vec![0, 0, 0, 1, 0, 2, 3, 0],
            "header key length -2",
        ),
        ("key length -2", vec![0, 0, 0, 3, 0, 0], "key length -2"),
        (
            "value past record",
            vec![0, 0, 0, 1, 40, 0],
            "value of 20 bytes",
        ),
        (
            "short fields",
            vec![0, 0, 0, 1, 0, 0, 9, 9],
            "declares 8 bytes",
        ),
    ];
    for (what, body, needle) in cases {
        let mut raw = vec![];
        write_varlong(&mut raw, body.len() as i64);
        raw.extend_from_slice(&body);
        for codec in CODECS.into_iter().chain([Compression::None]) {
            let b = batch(codec, 1, &compress(codec, &raw));
            match validate(&b, LIMIT) {
                Err(BatchError::InvalidRecord(m)) => assert!(m.contains(needle), "{what}: {m}"),
                other => panic!("{what} {codec:?}: {other:?}"),
            }
        }
    }
}

/// A zstd frame with a raw block holding `raw`, declaring window 2^`log`.
fn zstd_frame_with_window(raw: &[u8], log: u8) -> Vec<u8> {
    let mut f = 0xFD2F_B528u32.to_le_bytes().to_vec();
    f.push(0x00); // no content size, not single segment, no checksum, no dictionary
    f.push((log - 10) << 3); // window descriptor: exponent, mantissa 0
    let header = 1u32 | ((raw.len() as u32) << 3); // last block, raw
    f.extend_from_slice(&header.to_le_bytes()[..3]);
    f.extend_from_slice(raw);
    f
}

#[test]
fn zstd_window_is_bounded() {
    let raw = records(3, 10);
    let ok = batch(Compression::Zstd, 3, &zstd_frame_with_window(&raw, 24));
    validate(&ok, LIMIT).expect("2^24 window");
    for log in [25, 27, 31] {
        let b = batch(Compression::Zstd, 3, &zstd_frame_with_window(&raw, log));
        corrupt(validate(&b, LIMIT), "zstd");
    }
    // A limit above 2^24 raises the cap to the limit.
    assert_eq!(zstd_window_log_max(LIMIT), 24);
    assert_eq!(zstd_window_log_max(100 << 20), 27);
    // A single-segment frame claiming more content than the limit.
    let mut f = 0xFD2F_B528u32.to_le_bytes().to_vec();
    f.push(0b1010_0000); // 4-byte content size, single segment
    f.extend_from_slice(&(64u32 << 20).to_le_bytes());
    f.extend_from_slice(&[1, 0, 0]);
    corrupt(
        validate(&batch(Compression::Zstd, 1, &f), LIMIT),
        "declares",
    );
}

#[test]
fn snappy_block_claims_are_checked_before_allocating() {
    // A raw block whose preamble claims 1 GiB (varint) over a few bytes.
    let mut body = vec![0x80, 0x80, 0x80, 0x80, 0x04];
    body.extend_from_slice(&[0; 8]);
    corrupt(
        validate(&batch(Compression::Snappy, 1, &body), LIMIT),
        "declares",
    );
    // Within the limit but beyond what the block could expand to.
    let mut body = vec![0x80, 0x80, 0x20]; // 512 KiB
    body.extend_from_slice(&[0; 8]);
    corrupt(
        validate(&batch(Compression::Snappy, 1, &body), LIMIT),
        "more than snappy",
    );
    // xerial block length past the end.
    let mut body = xerial(&records(2, 5), 1 << 15);
    body[16..20].copy_from_slice(&1_000_000u32.to_be_bytes());
    corrupt(
        validate(&batch(Compression::Snappy, 2, &body), LIMIT),
        "xerial",
    );
}
