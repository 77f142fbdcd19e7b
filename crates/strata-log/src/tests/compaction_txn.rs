//! Compaction of transactional data: aborted records go, committed records are compacted
//! like any others, markers go a delete horizon after their transaction emptied (an
//! ABORT marker with its aborted-index entry, also across a crash at any step of the
//! clean), and a clean stops at the first unstable offset.

use kafka_protocol::records::{Compression, RecordBatchDecoder};
use strata_proto::batch::control::{marker_batch, ControlType};

use super::compaction_model::*;
use crate::{CleanStep, Log};

/// A transactional batch of producer `pid` (epoch 0) with sequences from `seq`: one
/// record per (key, value).
fn txn_keyed(pid: i64, seq: i32, records: &[(u8, &str)]) -> Vec<u8> {
    let records: Vec<(Option<Vec<u8>>, &[u8])> = records
        .iter()
        .map(|(k, v)| (key(*k), v.as_bytes()))
        .collect();
    producer_batch(pid, seq, true, &records)
}

fn plain(k: u8, v: &str) -> Vec<u8> {
    keyed_batch(
        &[(key(k), Some(v.as_bytes().to_vec()), 1_000)],
        Compression::None,
    )
}

fn marker(pid: i64, control: ControlType) -> Vec<u8> {
    marker_batch(pid, 0, control, 0, 2_000)
}

/// Appends as the only replica: the high watermark follows the log end.
fn put(log: &mut Log, records: &[u8]) {
    log.append(records, 5_000).expect("append");
    log.set_high_watermark(log.log_end_offset());
}

/// (key, value) of every data record served, in offset order.
fn contents(log: &Log) -> Vec<(String, String)> {
    read_everything(log)
        .into_iter()
        .map(|r| {
            (
                String::from_utf8(r.key.unwrap_or_default()).unwrap(),
                String::from_utf8(r.value.unwrap_or_default()).unwrap(),
            )
        })
        .collect()
}

/// Offset, producer id and whether it carries a delete horizon, of every control batch.
fn markers(log: &Log) -> Vec<(i64, i64, bool)> {
    let mut out = Vec::new();
    let mut next = log.log_start_offset();
    while let Some(slice) = log.read(next, 1 << 20, i64::MAX, true).expect("read") {
        let mut bytes = slice.read().expect("slice read");
        for set in RecordBatchDecoder::decode_all(&mut bytes).expect("decode") {
            for r in set.records.iter().filter(|r| r.control && r.offset >= next) {
                out.push((r.offset, r.producer_id, r.delete_horizon));
            }
        }
        next = slice.last_offset + 1;
    }
    out
}

#[test]
fn aborted_records_go_and_committed_ones_are_compacted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), compact_config(300, 1_000), false).expect("open");
    // Producer 1 commits k1=a, k2=b; producer 2 aborts k1=bad, k3=bad (interleaved).
    put(&mut log, &txn_keyed(1, 0, &[(1, "a"), (2, "b")])); // 0, 1
    put(&mut log, &txn_keyed(2, 0, &[(1, "bad"), (3, "bad")])); // 2, 3
    put(&mut log, &marker(1, ControlType::Commit)); // 4
    put(&mut log, &marker(2, ControlType::Abort)); // 5
    put(&mut log, &plain(2, "c")); // 6: supersedes the committed k2
    log.roll().expect("roll");
    assert_eq!(
        log.aborted_transactions(0, 7).expect("aborts"),
        vec![(2, 2)]
    );

    let stats = log.clean(10_000, &mut no_throttle()).expect("clean");
    assert_eq!(stats.aborted_records_removed, 2);
    assert_eq!(stats.records_removed, 3, "two aborted, one superseded");
    // The aborted k1 did not supersede the committed one.
    assert_eq!(
        contents(&log),
        vec![("key-1".into(), "a".into()), ("key-2".into(), "c".into())]
    );
    // Producer 1's transaction kept k1: its marker stays; the abort marker stays with
    // its index entry, which read_committed fetches still get.
    assert_eq!(markers(&log), vec![(4, 1, false), (5, 2, false)]);
    assert_eq!(
        log.aborted_transactions(0, 7).expect("aborts"),
        vec![(2, 2)]
    );

    // The same after a crash: the producer state rebuilt from the cleaned log has no
    // open transaction.
    drop(log);
    let mut log = reopen(dir.path(), compact_config(300, 1_000), false);
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(log.first_unstable_offset(), None);
    assert_eq!(contents(&log).len(), 2);
}

#[test]
fn a_commit_marker_goes_a_delete_horizon_after_its_transaction_emptied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = compact_config(300, 1_000);
    let mut log = Log::open(dir.path(), config.clone(), false).expect("open");
    put(&mut log, &txn_keyed(1, 0, &[(1, "a")])); // 0
    put(&mut log, &marker(1, ControlType::Commit)); // 1
    put(&mut log, &txn_keyed(1, 1, &[(2, "b")])); // 2: producer 1's last data batch
    put(&mut log, &marker(1, ControlType::Commit)); // 3
    put(&mut log, &plain(1, "z")); // 4: supersedes the first transaction's only record
    log.roll().expect("roll");

    let stats = log.clean(10_000, &mut no_throttle()).expect("clean");
    assert_eq!(stats.records_removed, 1);
    assert_eq!(stats.markers_removed, 0, "a horizon first");
    assert_eq!(markers(&log), vec![(1, 1, true), (3, 1, false)]);
    assert!(!log.needs_cleaning(10_999), "horizon 11000 not reached");
    assert!(
        log.needs_cleaning(11_000),
        "the marker's horizon makes a clean due"
    );

    // The horizon is stored in the batch: it holds across a crash.
    drop(log);
    let mut log = reopen(dir.path(), config, false);
    log.set_high_watermark(log.log_end_offset());
    let stats = log.clean(10_999, &mut no_throttle()).expect("clean");
    assert_eq!(stats.markers_removed, 0);
    let stats = log.clean(11_000, &mut no_throttle()).expect("clean");
    assert_eq!(stats.markers_removed, 1);
    assert_eq!(markers(&log), vec![(3, 1, false)]);
    assert_eq!(
        contents(&log),
        vec![("key-2".into(), "b".into()), ("key-1".into(), "z".into())]
    );
    assert_eq!(log.first_unstable_offset(), None);
}

#[test]
fn a_clean_stops_at_the_first_unstable_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), compact_config(300, 1_000), false).expect("open");
    put(&mut log, &plain(1, "old")); // 0
    log.roll().expect("roll");
    put(&mut log, &txn_keyed(1, 0, &[(1, "open")])); // 1: no marker yet
    log.roll().expect("roll");
    put(&mut log, &plain(1, "new")); // 2
    log.roll().expect("roll");
    assert_eq!(log.first_unstable_offset(), Some(1));

    let stats = log.clean(10_000, &mut no_throttle()).expect("clean");
    assert_eq!(
        stats.records_removed, 0,
        "nothing at or past the open transaction"
    );
    assert_eq!(contents(&log).len(), 3);

    put(&mut log, &marker(1, ControlType::Commit)); // 3
    log.roll().expect("roll");
    let stats = log.clean(10_000, &mut no_throttle()).expect("clean");
    assert_eq!(
        stats.records_removed, 2,
        "old and the committed value superseded"
    );
    assert_eq!(contents(&log), vec![("key-1".into(), "new".into())]);
}

#[test]
fn a_damaged_aborted_index_stops_the_clean_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), compact_config(300, 1_000), false).expect("open");
    put(&mut log, &txn_keyed(1, 0, &[(1, "committed")])); // 0
    put(&mut log, &marker(1, ControlType::Commit)); // 1
    put(&mut log, &txn_keyed(2, 0, &[(1, "aborted")])); // 2
    put(&mut log, &marker(2, ControlType::Abort)); // 3
    log.roll().expect("roll");
    let before = contents(&log);
    // Damage the index under the open log: its only entry no longer decodes.
    let index = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "txnindex"))
        .expect("an aborted index");
    std::fs::write(&index, [0xffu8; 34]).expect("damage");
    match log.clean(10_000, &mut no_throttle()) {
        Err(crate::LogError::Corrupt(why)) => {
            assert!(why.contains("aborted-transaction index"), "{why}")
        }
        other => panic!("expected a refused clean, got {other:?}"),
    }
    assert_eq!(contents(&log), before, "nothing was cleaned");
}

/// Producer 2 aborts a transaction, then commits one; producer 1 commits one between.
/// The aborted batch is not producer 2's newest, so nothing keeps its ABORT marker once
/// the aborted records are gone. Ends with a roll: everything is in sealed segments.
fn abort_then_commit(dir: &std::path::Path, config: crate::LogConfig) -> Log {
    let mut log = Log::open(dir, config, false).expect("open");
    put(&mut log, &txn_keyed(2, 0, &[(1, "bad"), (2, "bad")])); // 0, 1
    put(&mut log, &marker(2, ControlType::Abort)); // 2
    put(&mut log, &txn_keyed(1, 0, &[(3, "a")])); // 3
    put(&mut log, &marker(1, ControlType::Commit)); // 4
    log.roll().expect("roll");
    put(&mut log, &txn_keyed(2, 2, &[(1, "good")])); // 5
    put(&mut log, &marker(2, ControlType::Commit)); // 6
    put(&mut log, &plain(4, "x")); // 7
    log.roll().expect("roll");
    log
}

#[test]
fn an_abort_marker_goes_with_its_index_entry_a_delete_horizon_after_its_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = compact_config(1 << 20, 1_000);
    let mut log = abort_then_commit(dir.path(), config.clone());
    assert_eq!(
        log.aborted_transactions(0, 8).expect("aborts"),
        vec![(2, 0)]
    );

    let stats = log.clean(10_000, &mut no_throttle()).expect("clean");
    assert_eq!(stats.aborted_records_removed, 2);
    assert_eq!(stats.markers_removed, 0, "a horizon first");
    assert_eq!(
        markers(&log),
        vec![(2, 2, true), (4, 1, false), (6, 2, false)]
    );
    // A consumer reading now still gets the entry, and the marker that ends it.
    assert_eq!(
        log.aborted_transactions(0, 8).expect("aborts"),
        vec![(2, 0)]
    );

    let stats = log.clean(11_000, &mut no_throttle()).expect("clean");
    assert_eq!(stats.markers_removed, 1);
    assert_eq!(markers(&log), vec![(4, 1, false), (6, 2, false)]);
    assert_eq!(log.aborted_transactions(0, 8).expect("aborts"), vec![]);
    let committed = vec![
        ("key-3".into(), "a".into()),
        ("key-1".into(), "good".into()),
        ("key-4".into(), "x".into()),
    ];
    assert_eq!(contents(&log), committed);

    // A restart after a crash rebuilds the producer state and the indexes from the
    // cleaned log: the same, and no transaction open.
    drop(log);
    let mut log = reopen(dir.path(), config, false);
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(log.aborted_transactions(0, 8).expect("aborts"), vec![]);
    assert_eq!(log.first_unstable_offset(), None);
    assert_eq!(contents(&log), committed);
}

/// What a reader of the whole log sees: every record, every marker and the aborted
/// transactions.
type View = (Vec<Rec>, Vec<(i64, i64, bool)>, Vec<(i64, i64)>);

fn view(log: &Log) -> View {
    let end = log.log_end_offset();
    (
        read_everything(log),
        markers(log),
        log.aborted_transactions(0, end).expect("aborts"),
    )
}

#[test]
fn a_crash_at_any_step_of_a_clean_that_removes_an_abort_marker_recovers_to_before_or_after() {
    // delete.retention.ms = 0: the marker goes in the same clean as its records.
    let config = compact_config(1 << 20, 0);
    let reference = tempfile::tempdir().expect("tempdir");
    let mut log = abort_then_commit(reference.path(), config.clone());
    let before = view(&log);
    let mut steps = Vec::new();
    log.clean_with_hook(10_000, i64::MAX, &mut no_throttle(), &mut |step| {
        steps.push(step);
        Ok(())
    })
    .expect("clean");
    let after = view(&log);
    assert_eq!(before.2, vec![(2, 0)]);
    assert_eq!(after.2, vec![], "the abort and its entry are gone");
    assert!(
        steps.contains(&CleanStep::Installed {
            base_offset: 0,
            ext: "txnindex"
        }),
        "{steps:?}"
    );

    for (crash_at, step) in steps.iter().enumerate() {
        for clean_shutdown in [false, true] {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut log = abort_then_commit(dir.path(), config.clone());
            let result = clean_crashing_after(&mut log, 10_000, crash_at);
            assert!(result.is_err(), "crash injected at {step:?}");
            drop(log);
            let mut log = reopen(dir.path(), config.clone(), clean_shutdown);
            log.set_high_watermark(log.log_end_offset());
            let got = view(&log);
            assert!(
                got == before || got == after,
                "crash after {step:?} (open clean={clean_shutdown}): {got:?}"
            );
            if got == before {
                // An interrupted clean that rolled back is simply done again.
                log.clean(10_000, &mut no_throttle()).expect("clean again");
                assert_eq!(view(&log), after);
            }
            assert_eq!(log.first_unstable_offset(), None);
        }
    }
}
