//! Crash injection into the cleaner, and the idempotent-producer batches it keeps.

use std::path::Path;

use kafka_protocol::records::Compression;

use super::compaction_model::*;
use crate::{CleanStep, Log, LogConfig, LogError};

fn config() -> LogConfig {
    compact_config(400, 0)
}

/// A deterministic keyed workload over several segments, with tombstones and
/// compressed batches; ends with a roll so every record is in a sealed segment except
/// the last batch.
fn build(dir: &Path) -> Log {
    let mut log = Log::open(dir, config(), false).expect("open");
    let codecs = [Compression::None, Compression::Lz4, Compression::Gzip];
    for i in 0..30u8 {
        let records: Vec<Input> = (0..3u8)
            .map(|j| {
                let k = (i * 3 + j) % 7;
                let value = if (i + j) % 5 == 0 {
                    None
                } else {
                    Some(vec![i; 20])
                };
                (key(k), value, 1_000 + i64::from(i))
            })
            .collect();
        log.append(&keyed_batch(&records, codecs[usize::from(i) % 3]), 0)
            .expect("append");
    }
    log
}

/// The latest value of every key whose latest record is not a tombstone.
fn latest_values(records: &[Rec]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut latest = std::collections::BTreeMap::new();
    for r in records {
        if let Some(k) = &r.key {
            latest.insert(k.clone(), r.value.clone());
        }
    }
    latest
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
}

#[test]
fn a_crash_at_any_clean_step_recovers_to_before_or_after() {
    let reference = tempfile::tempdir().expect("tempdir");
    let mut log = build(reference.path());
    let before = read_everything(&log);
    let mut steps = Vec::new();
    log.clean_with_hook(10_000, i64::MAX, &mut no_throttle(), &mut |step| {
        steps.push(step);
        Ok(())
    })
    .expect("clean");
    let after = read_everything(&log);
    assert_ne!(before, after, "the workload must give the cleaner work");
    assert_eq!(latest_values(&before), latest_values(&after));
    assert!(
        steps
            .iter()
            .filter(|s| matches!(s, CleanStep::Installed { .. }))
            .count()
            >= 6
    );

    for (crash_at, step) in steps.iter().enumerate() {
        for clean_shutdown in [false, true] {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut log = build(dir.path());
            let result = clean_crashing_after(&mut log, 10_000, crash_at);
            assert!(result.is_err(), "crash injected at {step:?}");
            drop(log);
            let mut log = reopen(dir.path(), config(), clean_shutdown);
            let got = read_everything(&log);
            let committed = !matches!(
                step,
                CleanStep::CleanedWritten
                    | CleanStep::GapsAllowed
                    | CleanStep::RenamedToSwap { .. }
            ) || step_is_last_rename(&steps, crash_at);
            let want = if committed { &after } else { &before };
            assert_eq!(
                &got, want,
                "crash after {step:?} (open clean={clean_shutdown})"
            );
            assert_eq!(latest_values(&got), latest_values(&before));
            // Nothing of the interrupted clean is left, and cleaning again converges.
            let leftovers = std::fs::read_dir(dir.path())
                .expect("dir")
                .filter_map(|e| e.ok())
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.ends_with(".cleaned") || name.ends_with(".swap")
                })
                .count();
            assert_eq!(leftovers, 0);
            log.clean(10_000, &mut no_throttle()).expect("clean again");
            assert_eq!(read_everything(&log), after);
        }
    }
}

/// Whether step `i` is the rename of the last `.cleaned` file (the commit point).
fn step_is_last_rename(steps: &[CleanStep], i: usize) -> bool {
    matches!(steps[i], CleanStep::RenamedToSwap { .. })
        && !steps[i + 1..]
            .iter()
            .any(|s| matches!(s, CleanStep::RenamedToSwap { .. }))
}

#[test]
fn a_producers_newest_batch_survives_as_an_empty_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = compact_config(1 << 20, 0);
    let mut log = Log::open(dir.path(), config.clone(), false).expect("open");
    // Producer 7's only batch (offsets 0-1) is entirely superseded by offsets 2-3.
    log.append(&keyed_idempotent_batch(7, 0, &[0, 1]), 0)
        .expect("append");
    let newer: Vec<Input> = vec![
        (key(0), Some(b"v".to_vec()), 1_001),
        (key(1), Some(b"v".to_vec()), 1_001),
    ];
    log.append(&keyed_batch(&newer, Compression::None), 0)
        .expect("append");
    log.roll().expect("roll");
    let stats = log.clean(10_000, &mut no_throttle()).expect("clean");
    assert_eq!(stats.records_removed, 2);
    let got: Vec<i64> = read_everything(&log).iter().map(|r| r.offset).collect();
    assert_eq!(got, vec![2, 3]);
    let (_, header) = log.segments[0]
        .find_batch(0)
        .expect("find")
        .expect("the producer's batch header is kept");
    assert_eq!(
        (
            header.base_offset,
            header.last_offset(),
            header.records_count
        ),
        (0, 1, 0)
    );
    assert_eq!((header.producer_id, header.base_sequence), (7, 0));

    // After a crash the producer state is rebuilt from headers: a retry of the
    // producer's batch is still recognised, a gap in its sequence still refused, and
    // its next sequence accepted.
    drop(log);
    let mut log = reopen(dir.path(), config, false);
    let retry = log
        .append(&keyed_idempotent_batch(7, 0, &[0, 1]), 0)
        .expect("retry");
    assert!(retry.duplicate);
    assert_eq!((retry.base_offset, retry.last_offset), (0, 1));
    assert!(matches!(
        log.append(&keyed_idempotent_batch(7, 5, &[0]), 0),
        Err(LogError::OutOfOrderSequence { .. })
    ));
    let next = log
        .append(&keyed_idempotent_batch(7, 2, &[0]), 0)
        .expect("next sequence");
    assert_eq!(next.base_offset, 4);
}
