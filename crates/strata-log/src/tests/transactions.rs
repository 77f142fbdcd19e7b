//! Transactions in the log: open transactions and the last stable offset, markers and
//! their fencing rules, the aborted-transaction index across rolls, retention,
//! truncation, follower appends, snapshots and recovery.

use std::fs;
use std::path::Path;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType as KTimestampType,
};
use strata_proto::batch::control::{marker_batch, ControlType};

use super::helpers::{batch, idempotent_batch, small_config};
use crate::{Log, LogConfig, LogError};

/// A transactional batch of `n` records from `pid` at `epoch`, sequences from `seq`.
fn txn_batch(pid: i64, epoch: i16, seq: i32, n: usize) -> Vec<u8> {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: true,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: KTimestampType::Creation,
            offset: i as i64,
            sequence: seq + i as i32,
            timestamp: 1_000 + i as i64,
            key: None,
            value: Some(Bytes::from(vec![b'v'; 60])),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode");
    buf.to_vec()
}

fn commit(pid: i64, epoch: i16, coordinator_epoch: i32) -> Vec<u8> {
    marker_batch(pid, epoch, ControlType::Commit, coordinator_epoch, 2_000)
}

fn abort(pid: i64, epoch: i16, coordinator_epoch: i32) -> Vec<u8> {
    marker_batch(pid, epoch, ControlType::Abort, coordinator_epoch, 2_000)
}

/// Appends and moves the high watermark to the log end (a leader alone in its ISR).
fn append_replicated(log: &mut Log, records: &[u8]) -> i64 {
    let info = log.append(records, 5_000).expect("append");
    log.set_high_watermark(log.log_end_offset());
    info.base_offset
}

fn txn_index_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".txnindex"))
        .collect();
    names.sort();
    names
}

#[test]
fn open_transactions_hold_the_lso_until_their_markers_pass_the_high_watermark() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), LogConfig::default(), false).expect("open");
    assert_eq!(log.first_unstable_offset(), None);
    assert_eq!(append_replicated(&mut log, &txn_batch(1, 0, 0, 3)), 0);
    assert_eq!(append_replicated(&mut log, &batch(1, 10, 10)), 3);
    assert_eq!(append_replicated(&mut log, &txn_batch(2, 0, 0, 2)), 4);
    // A second batch of an open transaction does not move its start.
    assert_eq!(append_replicated(&mut log, &txn_batch(1, 0, 3, 1)), 6);
    assert_eq!(log.high_watermark(), 7);
    assert_eq!(log.first_unstable_offset(), Some(0));
    assert_eq!(log.last_stable_offset(), 0);

    // The commit marker is written but not replicated: still unstable.
    log.append(&commit(1, 0, 0), 5_000).expect("commit");
    assert_eq!(log.log_end_offset(), 8);
    assert_eq!(log.last_stable_offset(), 0);
    log.set_high_watermark(8);
    // Offset 7 is below the high watermark 8: producer 1's transaction is stable.
    assert_eq!(log.first_unstable_offset(), Some(4));
    assert_eq!(log.last_stable_offset(), 4);

    log.append(&abort(2, 0, 0), 5_000).expect("abort");
    assert_eq!(log.last_stable_offset(), 4);
    log.set_high_watermark(9);
    assert_eq!(log.first_unstable_offset(), None);
    assert_eq!(log.last_stable_offset(), 9);
    // Producer 2's transaction (offsets 4..=5, marker 8) is the only abort.
    assert_eq!(log.aborted_transactions(0, 9).unwrap(), vec![(2, 4)]);
    assert_eq!(log.aborted_transactions(0, 4).unwrap(), vec![]);
    assert_eq!(log.aborted_transactions(5, 6).unwrap(), vec![(2, 4)]);
    assert_eq!(log.aborted_transactions(9, 20).unwrap(), vec![]);
    assert_eq!(log.producer_state().open_transactions().count(), 0);
}

#[test]
fn marker_rules_fence_old_epochs_and_coordinators() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), LogConfig::default(), false).expect("open");
    append_replicated(&mut log, &txn_batch(1, 3, 0, 2));
    // Non-transactional data while the transaction is open.
    let end = log.log_end_offset();
    match log.append(&idempotent_batch(1, 3, 2, 1, 0), 5_000) {
        Err(e @ LogError::InvalidTxnState { producer_id: 1 }) => {
            assert_eq!(
                e.error_code(),
                kafka_protocol::ResponseError::InvalidTxnState.code()
            )
        }
        other => panic!("expected INVALID_TXN_STATE, got {other:?}"),
    }
    // A transactional batch of an older epoch is fenced.
    assert!(matches!(
        log.append(&txn_batch(1, 2, 2, 1), 5_000),
        Err(LogError::InvalidProducerEpoch { .. })
    ));
    // A marker of an older producer epoch is fenced.
    assert!(matches!(
        log.append(&commit(1, 2, 5), 5_000),
        Err(LogError::InvalidProducerEpoch { .. })
    ));
    assert_eq!(log.log_end_offset(), end, "nothing written");
    // Coordinator epoch 5 commits; a zombie coordinator (epoch 4) is fenced after.
    append_replicated(&mut log, &commit(1, 3, 5));
    append_replicated(&mut log, &txn_batch(1, 3, 2, 1));
    let end = log.log_end_offset();
    match log.append(&abort(1, 3, 4), 5_000) {
        Err(e @ LogError::CoordinatorFenced { .. }) => assert_eq!(
            e.error_code(),
            kafka_protocol::ResponseError::TransactionCoordinatorFenced.code()
        ),
        other => panic!("expected TRANSACTION_COORDINATOR_FENCED, got {other:?}"),
    }
    assert_eq!(log.log_end_offset(), end);
    assert_eq!(log.first_unstable_offset(), Some(end - 1));
    // A marker with a newer producer epoch (the coordinator bumped it) ends it.
    append_replicated(&mut log, &abort(1, 4, 5));
    assert_eq!(log.first_unstable_offset(), None);
    assert_eq!(
        log.aborted_transactions(0, i64::MAX).unwrap(),
        vec![(1, end - 1)]
    );
    // A marker for a producer with nothing open is written and changes nothing.
    let before = txn_index_files(dir.path());
    let at = append_replicated(&mut log, &abort(9, 0, 0));
    assert_eq!(log.log_end_offset(), at + 1);
    assert_eq!(log.first_unstable_offset(), None);
    assert_eq!(log.last_stable_offset(), log.high_watermark());
    assert_eq!(
        log.aborted_transactions(0, i64::MAX).unwrap(),
        vec![(1, end - 1)]
    );
    assert_eq!(txn_index_files(dir.path()), before);
    // A control batch that is not a marker is refused.
    let mut bad = abort(9, 0, 0);
    bad[61 + 8] = 7; // marker type 7
    let crc = strata_proto::batch::compute_crc(&bad);
    bad[17..21].copy_from_slice(&crc.to_be_bytes());
    assert!(matches!(log.append(&bad, 5_000), Err(LogError::Batch(_))));
}

/// Appends, on small segments, 12 transactions of producers 100.. (every third one
/// aborted) interleaved with plain batches; returns the (producer, first offset) of
/// the aborted ones.
fn many_transactions(log: &mut Log) -> Vec<(i64, i64)> {
    let mut aborted = Vec::new();
    for t in 0..12i64 {
        let pid = 100 + t;
        let first = append_replicated(log, &txn_batch(pid, 0, 0, 2));
        append_replicated(log, &batch(2, 10, 40));
        append_replicated(log, &txn_batch(pid, 0, 2, 1));
        if t % 3 == 0 {
            append_replicated(log, &abort(pid, 0, 1));
            aborted.push((pid, first));
        } else {
            append_replicated(log, &commit(pid, 0, 1));
        }
    }
    aborted
}

#[test]
fn aborted_index_across_rolls_retention_and_truncation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        retention_bytes: 3_000,
        ..small_config()
    };
    let mut log = Log::open(dir.path(), config, false).expect("open");
    let aborted = many_transactions(&mut log);
    assert!(log.segment_count() > 2, "{}", log.segment_count());
    assert_eq!(log.aborted_transactions(0, i64::MAX).unwrap(), aborted);
    // A range from the middle of one aborted transaction to the next one's start.
    let (_, second) = aborted[1];
    assert_eq!(
        log.aborted_transactions(second + 1, second + 2).unwrap(),
        vec![aborted[1]]
    );
    // Files only where an abort marker landed, one per such segment at most.
    let files = txn_index_files(dir.path());
    assert!(
        !files.is_empty() && files.len() <= aborted.len(),
        "{files:?}"
    );

    // Truncating just before the last abort marker reopens that transaction.
    let (last_pid, last_first) = *aborted.last().unwrap();
    let marker = last_first + 5;
    log.truncate_to(marker).expect("truncate");
    assert_eq!(log.log_end_offset(), marker);
    assert_eq!(log.first_unstable_offset(), Some(last_first));
    assert_eq!(
        log.aborted_transactions(0, i64::MAX).unwrap(),
        aborted[..aborted.len() - 1]
    );
    assert_eq!(
        log.producer_state().open_transactions().collect::<Vec<_>>(),
        vec![(last_first, last_pid)]
    );
    // The abort comes back (as a follower would fetch it again).
    append_replicated(&mut log, &abort(last_pid, 0, 1));
    assert_eq!(log.aborted_transactions(0, i64::MAX).unwrap(), aborted);

    // Retention drops old segments and their index files.
    let outcome = log.apply_retention(i64::MAX / 2).expect("retention");
    assert!(outcome.deleted_segments > 0);
    let start = log.log_start_offset();
    let left: Vec<(i64, i64)> = aborted
        .iter()
        .copied()
        .filter(|(_, first)| first + 5 >= start)
        .collect();
    assert_eq!(log.aborted_transactions(start, i64::MAX).unwrap(), left);
    assert!(txn_index_files(dir.path()).len() <= left.len());
}

#[test]
fn unclean_restart_rebuilds_open_transactions_and_the_aborted_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), small_config(), false).expect("open");
    let aborted = many_transactions(&mut log);
    let open_at = append_replicated(&mut log, &txn_batch(500, 1, 0, 2));
    drop(log); // no close: a crash
               // Every index file is lost, and a stray one holds garbage.
    for name in txn_index_files(dir.path()) {
        fs::remove_file(dir.path().join(name)).unwrap();
    }
    fs::write(dir.path().join("00000000000000000000.txnindex"), b"garbage").unwrap();
    let mut log = Log::open(dir.path(), small_config(), false).expect("reopen");
    assert_eq!(log.aborted_transactions(0, i64::MAX).unwrap(), aborted);
    // The high watermark came back from an old checkpoint (or the log start): every
    // transaction whose marker it has not passed counts as unstable again.
    assert!(log.high_watermark() < open_at);
    assert_eq!(log.last_stable_offset(), log.high_watermark());
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(log.first_unstable_offset(), Some(open_at));
    assert_eq!(log.last_stable_offset(), open_at);
    let files = txn_index_files(dir.path());
    assert!(!files.is_empty());
    log.close().expect("close");

    // A damaged index found on a clean open is rebuilt too (the snapshot is not used).
    let name = &files[0];
    let mut bytes = fs::read(dir.path().join(name)).unwrap();
    bytes.truncate(bytes.len() - 3);
    fs::write(dir.path().join(name), bytes).unwrap();
    let log = Log::open(dir.path(), small_config(), true).expect("reopen clean");
    assert_eq!(log.aborted_transactions(0, i64::MAX).unwrap(), aborted);
    assert_eq!(log.first_unstable_offset(), Some(open_at));
}

#[test]
fn snapshot_round_trip_keeps_transactions_and_an_old_snapshot_falls_back_to_the_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), small_config(), false).expect("open");
    let aborted = many_transactions(&mut log);
    let open_at = append_replicated(&mut log, &txn_batch(500, 1, 0, 2));
    // A completed transaction whose marker the high watermark has not passed.
    let late = append_replicated(&mut log, &txn_batch(600, 0, 0, 1));
    log.append(&commit(600, 0, 2), 5_000).expect("commit");
    log.append(&commit(500, 1, 2), 5_000).expect("commit");
    let hw = log.high_watermark();
    let expected_table = log.producer_state().clone();
    assert_eq!(log.first_unstable_offset(), Some(open_at));
    log.close().expect("close");

    let log = Log::open(dir.path(), small_config(), true).expect("reopen");
    assert_eq!(log.producer_state(), &expected_table);
    assert_eq!(log.high_watermark(), hw);
    assert_eq!(log.first_unstable_offset(), Some(open_at));
    assert_eq!(
        log.producer_state()
            .unreplicated_transactions()
            .collect::<Vec<_>>(),
        vec![(open_at, late + 1 + 1), (late, late + 1)]
    );
    assert_eq!(log.aborted_transactions(0, i64::MAX).unwrap(), aborted);
    log.close().expect("close");

    // A version-1 snapshot is not trusted: the scan gives the same state.
    let snapshot = dir.path().join("producer-state.snapshot");
    let mut bytes = fs::read(&snapshot).expect("snapshot");
    bytes[..4].copy_from_slice(b"SPS1");
    fs::write(&snapshot, bytes).unwrap();
    let mut log = Log::open(dir.path(), small_config(), true).expect("reopen");
    assert_eq!(log.producer_state(), &expected_table);
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(log.first_unstable_offset(), None);
}

#[test]
fn a_follower_tracks_transactions_like_its_leader() {
    let leader_dir = tempfile::tempdir().expect("tempdir");
    let follower_dir = tempfile::tempdir().expect("tempdir");
    let mut leader = Log::open(leader_dir.path(), small_config(), false).expect("open");
    let mut follower = Log::open(follower_dir.path(), small_config(), false).expect("open");
    let aborted = many_transactions(&mut leader);
    let open_at = append_replicated(&mut leader, &txn_batch(500, 1, 0, 2));
    while let Some(slice) = leader
        .read(follower.log_end_offset(), 700, i64::MAX, true)
        .expect("read")
    {
        let bytes = slice.read().expect("slice");
        follower
            .append_as_follower(&bytes, 5_000)
            .expect("follower append");
    }
    follower.set_high_watermark(follower.log_end_offset());
    assert_eq!(follower.aborted_transactions(0, i64::MAX).unwrap(), aborted);
    assert_eq!(follower.first_unstable_offset(), Some(open_at));
    assert_eq!(follower.producer_state(), leader.producer_state());
    assert_eq!(
        txn_index_files(follower_dir.path()),
        txn_index_files(leader_dir.path())
    );
    // The follower becomes leader and ends the open transaction.
    follower
        .append_with_epoch(&abort(500, 1, 3), 5_000, 1)
        .expect("abort");
    follower.set_high_watermark(follower.log_end_offset());
    assert_eq!(follower.first_unstable_offset(), None);
    assert_eq!(
        follower.aborted_transactions(open_at, open_at + 1).unwrap(),
        vec![(500, open_at)]
    );
}
