use kafka_protocol::records::Compression;

use super::helpers::*;
use crate::{Log, LogConfig, LogError, TimestampType};

/// Appends batches of every codec; record k (global) gets timestamp 1000 + 10k.
fn log_with_timestamps(dir: &std::path::Path) -> (Log, Vec<(i64, i64)>) {
    let config = LogConfig {
        segment_bytes: 600,
        index_interval_bytes: 128,
        ..small_config()
    };
    let mut log = Log::open(dir, config, false).expect("open");
    let codecs = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    let mut all = Vec::new();
    let mut k = 0i64;
    for i in 0..30 {
        let n = 1 + i % 4;
        let ts: Vec<i64> = (0..n as i64).map(|j| 1_000 + 10 * (k + j)).collect();
        let info = log
            .append(&batch_with_timestamps(&ts, 40, codecs[i % codecs.len()]), 0)
            .expect("append");
        for (j, t) in ts.iter().enumerate() {
            all.push((info.base_offset + j as i64, *t));
        }
        k += n as i64;
    }
    (log, all)
}

#[test]
fn offset_for_timestamp_finds_exact_records_in_compressed_batches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, all) = log_with_timestamps(dir.path());
    assert!(log.segment_count() > 3);
    for &(offset, ts) in &all {
        assert_eq!(
            log.offset_for_timestamp(ts).expect("lookup"),
            Some((offset, ts))
        );
        // Between two records: the next one.
        assert_eq!(
            log.offset_for_timestamp(ts - 5).expect("lookup"),
            Some((offset, ts))
        );
    }
    let last_ts = all.last().expect("records").1;
    assert_eq!(log.offset_for_timestamp(last_ts + 1).expect("lookup"), None);
    assert_eq!(log.offset_for_timestamp(0).expect("lookup"), Some(all[0]));
    assert_eq!(
        log.max_timestamp().expect("max"),
        Some((last_ts, all.last().expect("records").0))
    );
}

#[test]
fn offset_for_timestamp_with_out_of_order_timestamps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), LogConfig::default(), false).expect("open");
    log.append(
        &batch_with_timestamps(&[100, 300, 200], 10, Compression::Gzip),
        0,
    )
    .expect("append");
    log.append(&batch_with_timestamps(&[50], 10, Compression::None), 0)
        .expect("append");
    log.append(&batch_with_timestamps(&[400], 10, Compression::None), 0)
        .expect("append");
    assert_eq!(
        log.offset_for_timestamp(60).expect("lookup"),
        Some((0, 100))
    );
    assert_eq!(
        log.offset_for_timestamp(150).expect("lookup"),
        Some((1, 300))
    );
    assert_eq!(
        log.offset_for_timestamp(350).expect("lookup"),
        Some((4, 400))
    );
    // The max is the middle record of the compressed batch... until 400 arrives.
    assert_eq!(log.max_timestamp().expect("max"), Some((400, 4)));
    let dir2 = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir2.path(), LogConfig::default(), false).expect("open");
    log.append(
        &batch_with_timestamps(&[100, 300, 200], 10, Compression::Lz4),
        0,
    )
    .expect("append");
    assert_eq!(log.max_timestamp().expect("max"), Some((300, 1)));
}

#[test]
fn log_append_time_lookup_uses_the_stamp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        timestamp_type: TimestampType::LogAppendTime,
        ..LogConfig::default()
    };
    let mut log = Log::open(dir.path(), config, false).expect("open");
    log.append(&batch(3, 5, 10), 1_000).expect("append");
    log.append(&batch(3, 5, 10), 2_000).expect("append");
    assert_eq!(
        log.offset_for_timestamp(1_500).expect("lookup"),
        Some((3, 2_000))
    );
    assert_eq!(
        log.offset_for_timestamp(6).expect("lookup"),
        Some((0, 1_000))
    );
}

#[test]
fn retention_by_time_deletes_old_sealed_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        retention_ms: 10_000,
        ..small_config()
    };
    let mut log = Log::open(dir.path(), config, false).expect("open");
    // Old data, then new data.
    for i in 0..20 {
        log.append(&batch(2, 1_000 + i, 40), 0).expect("append");
    }
    let old_end = log.log_end_offset();
    log.maybe_roll(i64::MAX).expect("roll");
    for i in 0..20 {
        log.append(&batch(2, 100_000 + i, 40), 0).expect("append");
    }
    let segments = log.segment_count();
    let outcome = log.apply_retention(105_000).expect("retention");
    assert!(outcome.deleted_segments > 0);
    assert_eq!(log.segment_count(), segments - outcome.deleted_segments);
    assert_eq!(outcome.log_start_offset, old_end);
    assert_eq!(log.log_start_offset(), old_end);
    assert!(matches!(
        log.read(0, 100, i64::MAX, true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(
        read_all_offsets(&log),
        (old_end..log.log_end_offset()).collect::<Vec<_>>()
    );
    // Far in the future everything but the active segment goes.
    log.apply_retention(10_000_000).expect("retention");
    assert_eq!(log.segment_count(), 1);
    assert!(log.log_end_offset() > log.log_start_offset());
    // Start offset survives a reopen (the first segment's base offset).
    let start = log.log_start_offset();
    log.close().expect("close");
    let log = Log::open(dir.path(), small_config(), true).expect("open");
    assert_eq!(log.log_start_offset(), start);
}

#[test]
fn retention_by_size_keeps_the_newest_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        retention_ms: -1,
        retention_bytes: 5_000,
        ..small_config()
    };
    let mut log = Log::open(dir.path(), config, false).expect("open");
    for i in 0..80 {
        log.append(&batch(2, i, 40), 0).expect("append");
    }
    let before = log.size_bytes();
    let outcome = log.apply_retention(0).expect("retention");
    assert!(outcome.deleted_segments > 0);
    assert_eq!(log.size_bytes(), before - outcome.deleted_bytes);
    assert!(log.size_bytes() >= 5_000);
    // One more segment deleted would go below the limit.
    assert!(log.size_bytes() - log.segments[0].size < 5_000);
    // With retention off nothing is deleted.
    log.set_config(LogConfig {
        retention_ms: -1,
        retention_bytes: -1,
        ..small_config()
    });
    assert_eq!(
        log.apply_retention(i64::MAX)
            .expect("retention")
            .deleted_segments,
        0
    );
}
