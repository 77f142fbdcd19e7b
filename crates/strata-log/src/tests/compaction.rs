//! Log compaction: the model property test and behaviour tests.

use kafka_protocol::records::Compression;
use proptest::prelude::*;

use super::compaction_model::*;
use crate::{Log, LogConfig, LogError};

/// A batch to append: records as (key index or none, value length or tombstone), and
/// a codec pick.
type Spec = (Vec<(Option<u8>, Option<u8>)>, usize);

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// Appends `batches` (each: records as (key index or none, value length or tombstone),
/// codec pick) with timestamps 1000, 1001, ...; returns every record appended.
fn append_workload(log: &mut Log, batches: &[Spec], ts: &mut i64) -> Vec<Rec> {
    let mut all = Vec::new();
    for (records, codec) in batches {
        let inputs: Vec<Input> = records
            .iter()
            .map(|(k, v)| {
                *ts += 1;
                let value = v.map(|len| vec![b'a' + (*ts % 26) as u8; usize::from(len)]);
                (k.and_then(key), value, *ts)
            })
            .collect();
        let info = log
            .append(&keyed_batch(&inputs, CODECS[codec % CODECS.len()]), 0)
            .expect("append");
        for (i, (k, v, t)) in inputs.into_iter().enumerate() {
            all.push(Rec {
                offset: info.base_offset + i as i64,
                key: k,
                value: v,
                timestamp: t,
            });
        }
    }
    all
}

fn check_invariants(records: &[Rec]) {
    for pair in records.windows(2) {
        assert!(pair[0].offset < pair[1].offset, "offsets strictly increase");
    }
}

fn check_compaction(
    first: &[Spec],
    second: &[Spec],
    segment_bytes: u64,
    expire: bool,
    probes: &[usize],
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let retention = if expire { 0 } else { 1 << 40 };
    let config = compact_config(segment_bytes, retention);
    let mut log = Log::open(dir.path(), config.clone(), false).expect("open");
    let mut ts = 1_000;
    let mut all = append_workload(&mut log, first, &mut ts);
    log.clean(1_000_000, &mut no_throttle()).expect("clean 1");
    let expected = model(&all, active_base(&log), expire);
    assert_eq!(read_everything(&log), expected, "after the first clean");

    all.extend(append_workload(&mut log, second, &mut ts));
    let mut read_bytes = 0u64;
    let stats = log
        .clean(2_000_000, &mut |b| read_bytes += b)
        .expect("clean 2");
    assert_eq!(
        stats.bytes_read, read_bytes,
        "the throttle sees every byte read"
    );
    let expected = model(&all, active_base(&log), expire);
    let got = read_everything(&log);
    assert_eq!(got, expected, "after the second clean");
    check_invariants(&got);

    // Every key's latest value (or a retained tombstone) is still there.
    for r in &all {
        if let Some(k) = &r.key {
            let latest = all
                .iter()
                .rev()
                .find(|x| x.key.as_ref() == Some(k))
                .expect("latest");
            let found = got.iter().rev().find(|x| x.key.as_ref() == Some(k));
            if latest.value.is_some() || !expire || latest.offset >= active_base(&log) {
                assert_eq!(found, Some(latest), "latest record of {k:?}");
            }
        }
    }
    // Fetching from any offset (gaps included) serves the rest of the compacted log.
    let (start, end) = (log.log_start_offset(), log.log_end_offset());
    for &p in probes {
        let from = start + (p % (end - start + 1) as usize) as i64;
        let want: Vec<Rec> = expected
            .iter()
            .filter(|r| r.offset >= from)
            .cloned()
            .collect();
        assert_eq!(read_from(&log, from), want, "fetch from {from}");
    }

    // A crash (no close) and a clean close both reopen to the same data; a clean right
    // after changes nothing.
    drop(log);
    let mut log = reopen(dir.path(), config.clone(), false);
    assert_eq!(read_everything(&log), expected, "after a crash");
    let stats = log.clean(2_000_000, &mut no_throttle()).expect("clean 3");
    assert_eq!(stats.segments_rewritten, 0);
    assert_eq!(read_everything(&log), expected);
    log.close().expect("close");
    let log = reopen(dir.path(), config, true);
    assert_eq!(read_everything(&log), expected, "after a clean close");
}

fn workload() -> impl Strategy<Value = Vec<Spec>> {
    let record = (
        prop::option::weighted(0.9, 0u8..6),
        prop::option::weighted(0.8, 1u8..60),
    );
    prop::collection::vec((prop::collection::vec(record, 1..6), 0usize..10), 1..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn compaction_matches_the_model(
        first in workload(),
        second in workload(),
        segment_bytes in 300u64..1500,
        expire in any::<bool>(),
        probes in prop::collection::vec(any::<usize>(), 4),
    ) {
        check_compaction(&first, &second, segment_bytes, expire, &probes);
    }
}

/// Ten records over five keys in many small segments, then a roll.
fn small_keyed_log(dir: &std::path::Path, config: LogConfig) -> Log {
    let mut log = Log::open(dir, config, false).expect("open");
    for i in 0..20u8 {
        let value = if i == 12 { None } else { Some(vec![i; 30]) };
        log.append(
            &keyed_batch(
                &[(key(i % 5), value, 1_000 + i64::from(i))],
                Compression::None,
            ),
            0,
        )
        .expect("append");
    }
    log.roll().expect("roll");
    log
}

#[test]
fn tombstones_survive_until_their_delete_horizon() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = compact_config(300, 1_000);
    let mut log = small_keyed_log(dir.path(), config.clone());
    // Offset 12 is a tombstone for key 2; offset 17 later writes key 2 again, so 12 is
    // superseded. Write a final tombstone for key 3 (latest for it).
    log.append(&keyed_batch(&[(key(3), None, 2_000)], Compression::Gzip), 0)
        .expect("append");
    log.roll().expect("roll");
    let stats = log.clean(10_000, &mut no_throttle()).expect("clean");
    assert_eq!(stats.tombstones_removed, 0);
    let tomb = |log: &Log| {
        read_everything(log)
            .into_iter()
            .find(|r| r.key == key(3) && r.value.is_none())
    };
    assert_eq!(
        tomb(&log).map(|r| (r.offset, r.timestamp)),
        Some((20, 2_000))
    );
    assert!(!log.needs_cleaning(10_999), "horizon 11000 not reached");
    assert!(log.needs_cleaning(11_000), "horizon reached");
    // The horizon is stored in the batch: it holds across a crash.
    drop(log);
    let mut log = reopen(dir.path(), config, false);
    log.clean(10_999, &mut no_throttle())
        .expect("clean before horizon");
    assert!(tomb(&log).is_some(), "kept before the horizon");
    let stats = log
        .clean(11_000, &mut no_throttle())
        .expect("clean at horizon");
    assert_eq!(stats.tombstones_removed, 1);
    assert!(tomb(&log).is_none(), "removed at the horizon");
    // No older value of key 3 came back.
    assert!(read_everything(&log).iter().all(|r| r.key != key(3)));
}

#[test]
fn min_compaction_lag_holds_back_recent_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        min_compaction_lag_ms: 500,
        ..compact_config(300, 0)
    };
    let mut log = small_keyed_log(dir.path(), config);
    let all = read_everything(&log);
    // Records have timestamps 1000..1019. At now = 1510 segments whose newest record
    // is newer than 1010 must stay as they are.
    let stats = log.clean(1_510, &mut no_throttle()).expect("clean");
    assert!(stats.records_removed > 0);
    let held_back = log
        .segments
        .iter()
        .find(|s| s.max_timestamp > 1_010)
        .map(|s| s.base_offset)
        .expect("a recent segment");
    let got = read_everything(&log);
    assert_eq!(got, model(&all, held_back, true));
    assert!(
        got.iter().filter(|r| r.offset >= held_back).count()
            == all.iter().filter(|r| r.offset >= held_back).count()
    );
    // Later, everything sealed is cleaned.
    log.clean(5_000, &mut no_throttle()).expect("clean later");
    assert_eq!(read_everything(&log), model(&all, active_base(&log), true));
}

#[test]
fn the_active_segment_is_never_touched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), compact_config(1 << 20, 0), false).expect("open");
    for i in 0..10u8 {
        log.append(
            &keyed_batch(&[(key(0), Some(vec![i; 10]), 1_000)], Compression::None),
            0,
        )
        .expect("append");
    }
    let path = dir.path().join(format!("{:020}.log", 0));
    let before = std::fs::read(&path).expect("read");
    let stats = log.clean(1_000_000, &mut no_throttle()).expect("clean");
    assert_eq!(stats.segments_rewritten, 0);
    assert_eq!(stats.bytes_read, 0);
    assert_eq!(std::fs::read(&path).expect("read"), before);
    assert_eq!(read_everything(&log).len(), 10);
    assert_eq!(log.cleanable_ratio(1_000_000), None, "nothing sealed");
}

#[test]
fn fetch_inside_a_gap_returns_the_next_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = small_keyed_log(dir.path(), compact_config(300, 0));
    log.clean(10_000, &mut no_throttle()).expect("clean");
    // Keys 0..4 latest at 15..19 (key 2's tombstone at 12 is superseded by 17).
    let got: Vec<i64> = read_everything(&log).iter().map(|r| r.offset).collect();
    assert_eq!(got, vec![15, 16, 17, 18, 19]);
    for gap in [0, 3, 14] {
        let slice = log
            .read(gap, 1 << 20, i64::MAX, false)
            .expect("read")
            .expect("data");
        let first = read_from(&log, gap);
        assert_eq!(first[0].offset, 15);
        assert!(slice.first_offset >= gap || slice.last_offset >= gap);
    }
    assert_eq!(
        log.log_start_offset(),
        0,
        "compaction does not move the log start"
    );
}

#[test]
fn cleanable_ratio_and_max_compaction_lag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        max_compaction_lag_ms: 5_000,
        ..compact_config(300, 0)
    };
    let mut log = small_keyed_log(dir.path(), config.clone());
    assert_eq!(
        log.cleanable_ratio(2_000),
        Some(1.0),
        "everything sealed is dirty"
    );
    assert!(log.needs_cleaning(2_000));
    assert!(
        !log.must_clean(2_000),
        "first batch (ts 1000) is not 5s old yet"
    );
    assert!(log.must_clean(6_001));
    log.clean(2_000, &mut no_throttle()).expect("clean");
    assert_eq!(log.cleanable_ratio(2_000), Some(0.0));
    assert!(!log.needs_cleaning(2_000));
    assert!(!log.must_clean(100_000), "nothing dirty");
    // New dirty data: ratio is its share of the cleanable bytes.
    for i in 0..10u8 {
        log.append(
            &keyed_batch(&[(key(i % 5), Some(vec![i; 30]), 3_000)], Compression::None),
            0,
        )
        .expect("append");
    }
    log.roll().expect("roll");
    let clean: u64 = log
        .segments
        .iter()
        .filter(|s| s.next_offset <= 20)
        .map(|s| s.size)
        .sum();
    let dirty: u64 = log
        .segments
        .iter()
        .filter(|s| s.base_offset >= 20)
        .map(|s| s.size)
        .sum();
    let ratio = log.cleanable_ratio(4_000).expect("ratio");
    assert!((ratio - dirty as f64 / (clean + dirty) as f64).abs() < 1e-9);
    // The checkpoint survives a restart.
    drop(log);
    let log = reopen(dir.path(), config.clone(), false);
    assert_eq!(log.first_dirty_offset(), 20);
    // A compacted log rolls by max.compaction.lag.ms even with a longer segment.ms.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(
        dir2.path(),
        LogConfig {
            segment_bytes: 1 << 20,
            ..config
        },
        false,
    )
    .expect("open");
    log.append(
        &keyed_batch(&[(key(0), Some(vec![1]), 0)], Compression::None),
        0,
    )
    .expect("append");
    log.maybe_roll(5_001).expect("roll");
    assert_eq!(log.segment_count(), 2);
}

#[test]
fn retention_deletes_nothing_without_the_delete_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        retention_ms: 1,
        retention_bytes: 1,
        ..compact_config(300, 0)
    };
    let mut log = small_keyed_log(dir.path(), config.clone());
    let segments = log.segment_count();
    let out = log.apply_retention(1_000_000).expect("retention");
    assert_eq!(out.deleted_segments, 0);
    assert_eq!(log.segment_count(), segments);
    log.set_config(LogConfig {
        cleanup_delete: true,
        ..config
    });
    let out = log.apply_retention(1_000_000).expect("retention");
    assert_eq!(out.deleted_segments, segments - 1);
}

#[test]
fn delete_records_before_moves_the_log_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = compact_config(300, 0);
    let mut log = small_keyed_log(dir.path(), config.clone());
    let segments = log.segment_count();
    let second_base = log.segments[1].base_offset;
    assert_eq!(
        log.delete_records_before(second_base + 1).expect("delete"),
        second_base + 1
    );
    assert_eq!(
        log.segment_count(),
        segments - 1,
        "the first segment is gone"
    );
    assert_eq!(log.log_start_offset(), second_base + 1);
    assert!(matches!(
        log.read(second_base, 1 << 20, i64::MAX, true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(read_everything(&log)[0].offset, second_base + 1);
    // Lower offsets do nothing; past the end is out of range.
    assert_eq!(log.delete_records_before(1).expect("noop"), second_base + 1);
    assert!(matches!(
        log.delete_records_before(21),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(
        log.offset_for_timestamp(0).expect("lookup").map(|x| x.0),
        Some(second_base + 1)
    );
    // Persisted: a crash and a clean close keep it.
    drop(log);
    let mut log = reopen(dir.path(), config.clone(), false);
    assert_eq!(log.log_start_offset(), second_base + 1);
    assert!(log.read(second_base, 1 << 20, i64::MAX, true).is_err());
    // Compaction after DeleteRecords keeps serving from the log start.
    log.clean(10_000, &mut no_throttle()).expect("clean");
    assert!(read_everything(&log).iter().all(|r| r.offset > second_base));
    assert_eq!(log.delete_records_before(20).expect("delete all"), 20);
    log.close().expect("close");
    let log = reopen(dir.path(), config, true);
    assert_eq!(log.log_start_offset(), 20);
    assert_eq!(read_everything(&log), vec![]);
}

#[test]
fn truncation_below_a_persisted_log_start_resets_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = compact_config(300, 0);
    let mut log = small_keyed_log(dir.path(), config.clone());
    log.delete_records_before(10).expect("delete");
    log.truncate_to(2).expect("truncate");
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(log.log_start_offset(), 2);
    drop(log);
    let log = reopen(dir.path(), config, false);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (2, 2));
}
