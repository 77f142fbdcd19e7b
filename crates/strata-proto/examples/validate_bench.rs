//! Cost of produce validation per record, before and after the full record walk with
//! streaming decompression, and peak memory while refusing decompression bombs.
//!
//! `cargo run --release -p strata-proto --example validate_bench [-- --no-memory]`
//! (the memory figures are only meaningful in a fresh process: run it without
//! `--no-memory`)
//!
//! "before" is the validation as it was: header, CRC-32C, and for uncompressed batches
//! a walk of record lengths and offset deltas; compressed batches were not opened.
//! "after" is `strata_proto::batch::validate` (every field of every record, every codec
//! decompressed through a fixed window, at most `max.message.bytes` of output).

use std::io::Write;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression as KCompression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use strata_proto::batch::{self, BatchError, BatchHeader, Compression, HEADER_SIZE};

const LIMIT: usize = 1_048_588;
const RECORDS: usize = 1000;

/// Values that compress about as well as typical payloads (roughly 2-4x).
fn value(i: usize, size: usize) -> Bytes {
    let words = [
        &b"alpha "[..],
        b"beta ",
        b"gamma ",
        b"delta ",
        b"7f3a",
        b"-42 ",
        b"{\"id\":",
    ];
    let mut seed = i as u64 * 0x9E37_79B9_7F4A_7C15 + 1;
    let mut v = Vec::with_capacity(size);
    while v.len() < size {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.extend_from_slice(words[(seed % words.len() as u64) as usize]);
        v.push(b'0' + (seed >> 32) as u8 % 10);
    }
    v.truncate(size);
    v.into()
}

/// An uncompressed batch as librdkafka sends it: null keys, no headers.
fn plain_batch(size: usize) -> Vec<u8> {
    let records: Vec<Record> = (0..RECORDS)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
            timestamp: 1_700_000_000_000 + i as i64 / 10,
            key: None,
            value: Some(value(i, size)),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: KCompression::None,
        },
    )
    .expect("encode");
    buf.to_vec()
}

/// `plain` with its record area compressed by `compress`, codec bits and CRC fixed.
fn recompress(plain: &[u8], codec: Compression, compress: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut b = plain[..HEADER_SIZE].to_vec();
    b.extend(compress(&plain[HEADER_SIZE..]));
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    b[22] = (b[22] & !7) | codec.id() as u8;
    let crc = batch::compute_crc(&b);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(raw).expect("gzip");
    e.finish().expect("gzip")
}

fn xerial(raw: &[u8]) -> Vec<u8> {
    let mut out = b"\x82SNAPPY\0\0\0\0\x01\0\0\0\x01".to_vec();
    for chunk in raw.chunks(32 * 1024) {
        let c = snap::raw::Encoder::new()
            .compress_vec(chunk)
            .expect("snappy");
        out.extend_from_slice(&(c.len() as u32).to_be_bytes());
        out.extend(c);
    }
    out
}

fn lz4(raw: &[u8]) -> Vec<u8> {
    let mut e = lz4::EncoderBuilder::new().build(Vec::new()).expect("lz4");
    e.write_all(raw).expect("lz4");
    let (out, r) = e.finish();
    r.expect("lz4");
    out
}

/// The validation before this change, kept here to measure against.
fn old_validate(records: &[u8], max: usize) -> Result<(), BatchError> {
    let header = BatchHeader::parse(records)?;
    let size = header.total_size();
    if size > records.len() || size > max || !batch::crc_matches(&records[..size]) {
        return Err(BatchError::CorruptMessage("bad".into()));
    }
    if header.compression() != Some(Compression::None) {
        return Ok(());
    }
    let batch = &records[..size];
    let mut pos = HEADER_SIZE;
    for expected in 0..header.records_count {
        let (len, n) = varint(batch, pos).ok_or_else(|| BatchError::InvalidRecord("len".into()))?;
        pos += n;
        let end = pos + len as usize;
        let record = batch
            .get(pos..end)
            .ok_or_else(|| BatchError::InvalidRecord("past".into()))?;
        let (_, ts) = varint(record, 1).ok_or_else(|| BatchError::InvalidRecord("ts".into()))?;
        let (delta, _) =
            varint(record, 1 + ts).ok_or_else(|| BatchError::InvalidRecord("d".into()))?;
        if delta != i64::from(expected) {
            return Err(BatchError::InvalidRecord("delta".into()));
        }
        pos = end;
    }
    Ok(())
}

fn varint(buf: &[u8], pos: usize) -> Option<(i64, usize)> {
    let mut v = 0u64;
    for i in 0..10 {
        let b = *buf.get(pos + i)?;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((((v >> 1) as i64) ^ -((v & 1) as i64), i + 1));
        }
    }
    None
}

/// Nanoseconds per record of each of `fs` over `batch`: the best of 15 rounds of ~40 ms
/// each, the functions taking turns so that load from elsewhere hits them alike.
type Check<'a> = &'a dyn Fn(&[u8]) -> bool;

fn ns_per_record(batch: &[u8], fs: &[Check<'_>]) -> Vec<f64> {
    for f in fs {
        assert!(f(batch), "batch must validate");
    }
    let mut best = vec![f64::MAX; fs.len()];
    for _ in 0..15 {
        for (f, best) in fs.iter().zip(best.iter_mut()) {
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < Duration::from_millis(40) {
                for _ in 0..10 {
                    std::hint::black_box(f(std::hint::black_box(batch)));
                }
                n += 10;
            }
            let ns = start.elapsed().as_nanos() as f64 / (n as f64 * RECORDS as f64);
            *best = best.min(ns);
        }
    }
    best
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn bombs() -> Vec<(&'static str, Vec<u8>)> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        gz.write_all(&zeros).expect("gzip");
    }
    let gz = gz.finish().expect("gzip");
    let mut zs = zstd::stream::write::Encoder::new(Vec::new(), 1).expect("zstd");
    let value = vec![b'x'; 1060];
    for i in 0..1_000_000i64 {
        let mut body = vec![0u8, 0];
        let mut rest = Vec::new();
        for v in [i, -1, value.len() as i64] {
            let mut z = ((v << 1) ^ (v >> 63)) as u64;
            while z >= 0x80 {
                rest.push(z as u8 | 0x80);
                z >>= 7;
            }
            rest.push(z as u8);
        }
        body.extend(rest);
        body.extend_from_slice(&value);
        body.push(0);
        let mut rec = vec![];
        let mut z = (body.len() as u64) << 1;
        while z >= 0x80 {
            rec.push(z as u8 | 0x80);
            z >>= 7;
        }
        rec.push(z as u8);
        rec.extend(body);
        zs.write_all(&rec).expect("zstd");
    }
    let zs = zs.finish().expect("zstd");
    let mut zz = zstd::stream::write::Encoder::new(Vec::new(), 3).expect("zstd");
    for _ in 0..1024 {
        zz.write_all(&zeros).expect("zstd");
    }
    let zz = zz.finish().expect("zstd");
    let mut l4 = lz4::EncoderBuilder::new()
        .block_size(lz4::BlockSize::Max4MB)
        .build(Vec::new())
        .expect("lz4");
    for _ in 0..1024 {
        l4.write_all(&zeros).expect("lz4");
    }
    let (l4, r) = l4.finish();
    r.expect("lz4");
    // Raw snappy cannot stream: one block, as large as the 8 MiB limit allows.
    let sn = snap::raw::Encoder::new()
        .compress_vec(&vec![0u8; 8 << 20])
        .expect("snappy");
    let with = |codec: Compression, body: Vec<u8>, count: i32| {
        let mut b = plain_batch(1)[..HEADER_SIZE].to_vec();
        b[23..27].copy_from_slice(&(count - 1).to_be_bytes());
        b[57..61].copy_from_slice(&count.to_be_bytes());
        recompress(&[b, body].concat(), codec, |r| r.to_vec())
    };
    vec![
        ("gzip, 1 GiB of zeros", with(Compression::Gzip, gz, 1)),
        ("zstd, 1 GiB of zeros", with(Compression::Zstd, zz, 1)),
        (
            "lz4 4 MiB blocks, 1 GiB of zeros",
            with(Compression::Lz4, l4, 1),
        ),
        (
            "raw snappy, 8 MiB of zeros",
            with(Compression::Snappy, sn, 1),
        ),
        (
            "zstd, 1M valid records (1 GiB)",
            with(Compression::Zstd, zs, 1_000_000),
        ),
    ]
}

fn main() {
    // Memory first: the throughput runs below raise the peak RSS on their own.
    if !std::env::args().any(|a| a == "--no-memory") {
        memory();
    }
    throughput();
}

fn throughput() {
    println!("validation cost, ns/record ({RECORDS} records per batch, max.message.bytes {LIMIT})");
    println!("(inflate: batch::decompress alone, the codec's floor; bytes: batch size)");
    println!(
        "{:<28} {:>9} {:>9} {:>9} {:>9}",
        "batch", "before", "after", "inflate", "bytes"
    );
    for size in [100usize, 1024] {
        let plain = plain_batch(size);
        let cases = [
            ("uncompressed", plain.clone()),
            ("gzip", recompress(&plain, Compression::Gzip, gzip)),
            (
                "snappy (xerial, Java)",
                recompress(&plain, Compression::Snappy, xerial),
            ),
            ("snappy (raw, librdkafka)", {
                recompress(&plain, Compression::Snappy, |r| {
                    snap::raw::Encoder::new().compress_vec(r).expect("snappy")
                })
            }),
            ("lz4", recompress(&plain, Compression::Lz4, lz4)),
            (
                "zstd",
                recompress(&plain, Compression::Zstd, |r| {
                    zstd::stream::encode_all(r, 3).expect("zstd")
                }),
            ),
        ];
        for (name, b) in cases {
            let header = BatchHeader::parse(&b).expect("header");
            let codec = header.compression().expect("codec");
            let old = |b: &[u8]| old_validate(b, LIMIT).is_ok();
            let new = |b: &[u8]| batch::validate(b, LIMIT).is_ok();
            let inflate = |b: &[u8]| batch::decompress(codec, &b[HEADER_SIZE..], LIMIT).is_ok();
            let t = ns_per_record(&b, &[&old, &new, &inflate]);
            let (before, after, inflate) = (t[0], t[1], t[2]);
            println!(
                "{:<28} {before:>9.1} {after:>9.1} {inflate:>9.1} {:>9}",
                format!("{size} B {name}"),
                b.len()
            );
        }
    }
}

/// Peak RSS while refusing three of each bomb at once (after building them).
fn memory() {
    let bombs = bombs();
    // Limits that let every bomb through the batch-size check, so each is decompressed.
    let limits = [8 << 20, 64 << 20];
    for (name, b) in &bombs {
        println!("{name}: {} bytes compressed", b.len());
    }
    // Forget the peak of building the bombs (Linux: 5 > clear_refs resets VmHWM).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let base = peak_rss_kib();
    println!("RSS before refusing: {base} KiB");
    for limit in limits {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let base = peak_rss_kib();
        std::thread::scope(|s| {
            for (name, b) in &bombs {
                for _ in 0..3 {
                    s.spawn(move || {
                        let start = Instant::now();
                        let r = batch::validate(b, limit);
                        assert!(r.is_err());
                        if limit == 8 << 20 {
                            println!(
                                "  refused {name} in {:?}: {}",
                                start.elapsed(),
                                r.unwrap_err()
                            );
                        }
                    });
                }
            }
        });
        println!(
            "limit {limit}: peak RSS grew by {} KiB refusing 3 of each at once",
            peak_rss_kib().saturating_sub(base)
        );
    }
}
