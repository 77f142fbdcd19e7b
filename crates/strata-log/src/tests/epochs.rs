//! The leader epoch cache of a real log: maintained by appends across rolls,
//! restarts, unclean recovery, truncation and log-start moves; OffsetForLeaderEpoch.

use std::fs;
use std::path::Path;

use super::helpers::{batch, small_config};
use crate::epoch_file::{self, EPOCH_FILE};
use crate::{EpochEntry, Log, LogError};

fn entries(log: &Log) -> Vec<(i32, i64)> {
    log.epoch_entries()
        .iter()
        .map(|e| (e.epoch, e.start_offset))
        .collect()
}

fn stored(dir: &Path) -> Option<Vec<(i32, i64)>> {
    epoch_file::read(dir).map(|c| {
        c.entries()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect()
    })
}

/// Appends `count` 2-record batches at `epoch`.
fn append_at(log: &mut Log, epoch: i32, count: usize) {
    for _ in 0..count {
        log.append_with_epoch(&batch(2, 1000, 60), 1000, epoch)
            .expect("append");
    }
}

/// Epochs 1 (offsets 0..10), 3 (10..30, assigned as leader first), 6 (30..40).
fn three_epochs(dir: &Path) -> Log {
    let mut log = Log::open(dir, small_config(), false).expect("open");
    append_at(&mut log, 1, 5);
    log.assign_leader_epoch(3).expect("assign");
    append_at(&mut log, 3, 10);
    append_at(&mut log, 6, 5);
    log
}

#[test]
fn appends_maintain_the_cache_across_rolls_and_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = three_epochs(dir.path());
    assert!(log.segment_count() >= 3, "the epochs span several segments");
    let expected = vec![(1, 0), (3, 10), (6, 30)];
    assert_eq!(entries(&log), expected);
    assert_eq!(
        stored(dir.path()),
        Some(expected.clone()),
        "persisted as it changed"
    );
    assert_eq!(log.latest_epoch(), Some(6));
    assert_eq!(log.epoch_start_offset(3), Some(10));
    assert_eq!(log.epoch_start_offset(2), None);
    log.close().expect("close");
    let log = Log::open(dir.path(), small_config(), true).expect("clean reopen");
    assert_eq!(entries(&log), expected);
    drop(log);
    let log = Log::open(dir.path(), small_config(), false).expect("unclean reopen");
    assert_eq!(entries(&log), expected);
}

#[test]
fn batches_without_an_epoch_leave_the_cache_empty() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), small_config(), false).expect("open");
    log.append(&batch(3, 0, 10), 0).expect("append");
    assert_eq!(log.latest_epoch(), None);
    assert_eq!(log.end_offset_for_epoch(0), None);
}

#[test]
fn unclean_recovery_drops_epochs_past_the_recovered_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), small_config(), false).expect("open");
    append_at(&mut log, 1, 4);
    // Epoch 3 writes one batch, which the crash tears.
    append_at(&mut log, 3, 1);
    assert_eq!(entries(&log), vec![(1, 0), (3, 8)]);
    drop(log);
    let mut files: Vec<_> = fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    let last = files.last().expect("segment");
    let len = fs::metadata(last).expect("meta").len();
    fs::OpenOptions::new()
        .write(true)
        .open(last)
        .expect("open segment")
        .set_len(len - 10)
        .expect("tear");
    let mut log = Log::open(dir.path(), small_config(), false).expect("reopen");
    assert_eq!(log.log_end_offset(), 8);
    assert_eq!(entries(&log), vec![(1, 0)]);
    assert_eq!(
        stored(dir.path()),
        Some(vec![(1, 0)]),
        "the file is cut back too"
    );
    // A later leader epoch 2 (the controller never committed 3's data) appends fine.
    append_at(&mut log, 2, 1);
    assert_eq!(entries(&log), vec![(1, 0), (2, 8)]);
}

#[test]
fn missing_or_damaged_file_is_rebuilt_from_the_batches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = three_epochs(dir.path());
    log.close().expect("close");
    // Epoch 3 was assigned at 10 and its first batch is at 10: the scan sees the same.
    let expected = vec![(1, 0), (3, 10), (6, 30)];
    let path = dir.path().join(EPOCH_FILE);
    fs::remove_file(&path).expect("remove");
    let log = Log::open(dir.path(), small_config(), true).expect("reopen");
    assert_eq!(entries(&log), expected);
    assert_eq!(stored(dir.path()), Some(expected.clone()), "rewritten");
    drop(log);
    fs::write(&path, "0\n3\n1 0\n3 10\n6 3").expect("damage");
    let log = Log::open(dir.path(), small_config(), false).expect("reopen");
    assert_eq!(entries(&log), expected);
    assert_eq!(stored(dir.path()), Some(expected));
}

#[test]
fn end_offset_for_epoch_follows_kafka() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = three_epochs(dir.path());
    assert_eq!(log.log_end_offset(), 40);
    // The latest epoch ends at the log end.
    assert_eq!(log.end_offset_for_epoch(6), Some((6, 40)));
    // Known epochs end where the next one starts.
    assert_eq!(log.end_offset_for_epoch(3), Some((3, 30)));
    assert_eq!(log.end_offset_for_epoch(1), Some((1, 10)));
    // Unknown epochs between known ones answer the floor epoch.
    assert_eq!(log.end_offset_for_epoch(2), Some((1, 10)));
    assert_eq!(log.end_offset_for_epoch(5), Some((3, 30)));
    // Older than every known epoch: itself, ending at the first start.
    assert_eq!(log.end_offset_for_epoch(0), Some((0, 0)));
    // Undefined: newer than anything, or -1.
    assert_eq!(log.end_offset_for_epoch(7), None);
    assert_eq!(log.end_offset_for_epoch(-1), None);
    // A new leader's epoch with no data yet ends at the log end.
    log.assign_leader_epoch(8).expect("assign");
    assert_eq!(log.end_offset_for_epoch(8), Some((8, 40)));
    assert_eq!(log.end_offset_for_epoch(6), Some((6, 40)));
    // After DeleteRecords inside epoch 3, epoch 1 is gone: it answers the old epoch
    // itself ending at the new log start, where epoch 3 now starts.
    log.delete_records_before(14).expect("delete records");
    assert_eq!(entries(&log)[0], (3, 14));
    assert_eq!(log.end_offset_for_epoch(1), Some((1, 14)));
    assert_eq!(log.epoch_start_offset(3), Some(14));
}

#[test]
fn retention_clamps_the_first_epoch_to_the_log_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = small_config();
    config.retention_bytes = 2_500;
    let mut log = Log::open(dir.path(), config, false).expect("open");
    append_at(&mut log, 1, 20);
    append_at(&mut log, 2, 20);
    let outcome = log.apply_retention(1000).expect("retention");
    assert!(outcome.deleted_segments > 0);
    let start = log.log_start_offset();
    assert!(start > 0);
    let first = log.epoch_entries()[0];
    if start < 40 {
        assert_eq!(first, EpochEntry::new(1, start));
        assert_eq!(log.epoch_start_offset(2), Some(40));
    } else {
        assert_eq!(first, EpochEntry::new(2, start));
    }
    assert_eq!(
        stored(dir.path()).map(|s| s[0]),
        Some((first.epoch, first.start_offset))
    );
}

#[test]
fn truncation_forgets_later_epochs_and_appends_continue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = three_epochs(dir.path());
    log.truncate_to(21).expect("truncate");
    // Batches hold 2 records: the one holding 20 and 21 goes whole.
    assert_eq!(log.log_end_offset(), 20);
    assert_eq!(entries(&log), vec![(1, 0), (3, 10)]);
    assert_eq!(stored(dir.path()), Some(vec![(1, 0), (3, 10)]));
    // An epoch this replica started as leader but never wrote is dropped by a
    // truncation at the log end (it becomes a follower of a leader that never had it).
    log.assign_leader_epoch(7).expect("assign");
    assert_eq!(log.latest_epoch(), Some(7));
    log.truncate_to(20).expect("truncate at the end");
    assert_eq!(entries(&log), vec![(1, 0), (3, 10)]);
    append_at(&mut log, 4, 3);
    assert_eq!(entries(&log), vec![(1, 0), (3, 10), (4, 20)]);
    drop(log);
    let log = Log::open(dir.path(), small_config(), false).expect("reopen");
    assert_eq!(entries(&log), vec![(1, 0), (3, 10), (4, 20)]);
    assert_eq!(log.log_end_offset(), 26);
}

#[test]
fn truncating_everything_empties_the_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = three_epochs(dir.path());
    log.truncate_to(0).expect("truncate");
    assert_eq!(log.latest_epoch(), None);
    assert_eq!(stored(dir.path()), Some(vec![]));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = three_epochs(dir.path());
    log.truncate_fully_and_start_at(100).expect("restart");
    assert_eq!(log.latest_epoch(), None);
    assert_eq!(log.log_start_offset(), 100);
    assert_eq!(log.log_end_offset(), 100);
}

#[test]
fn assign_leader_epoch_refuses_older_epochs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), small_config(), false).expect("open");
    log.assign_leader_epoch(5).expect("assign");
    log.assign_leader_epoch(5)
        .expect("same epoch again is a no-op");
    assert_eq!(entries(&log), vec![(5, 0)]);
    assert!(matches!(
        log.assign_leader_epoch(3),
        Err(LogError::EpochRegression {
            epoch: 3,
            latest: 5
        })
    ));
    assert!(log.assign_leader_epoch(-1).is_err());
    append_at(&mut log, 5, 1);
    log.assign_leader_epoch(6).expect("assign");
    assert_eq!(entries(&log), vec![(5, 0), (6, 2)]);
}

#[test]
fn unclean_recovery_completes_a_file_that_lags_the_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = three_epochs(dir.path());
    drop(log);
    // Nothing was flushed, so recovery scans every segment: their epochs are folded
    // into a file that (somehow) only knows the first epoch.
    let mut behind = crate::EpochCache::new();
    behind.assign(1, 0);
    epoch_file::write(dir.path(), &behind).expect("write");
    let log = Log::open(dir.path(), small_config(), false).expect("reopen");
    assert_eq!(entries(&log), vec![(1, 0), (3, 10), (6, 30)]);
    // A clean open trusts the file.
    log.close().expect("close");
    epoch_file::write(dir.path(), &behind).expect("write");
    let log = Log::open(dir.path(), small_config(), true).expect("reopen");
    assert_eq!(entries(&log), vec![(1, 0)]);
}

#[test]
fn older_epochs_from_producers_do_not_disturb_the_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = three_epochs(dir.path());
    // A producer-supplied epoch through the unstamped path, older than the latest.
    let mut stale = batch(2, 0, 10);
    strata_proto::batch::set_partition_leader_epoch(&mut stale, 2).expect("rewrite");
    log.append(&stale, 0).expect("append");
    assert_eq!(entries(&log), vec![(1, 0), (3, 10), (6, 30)]);
    // A rebuild from the batches applies the same rule.
    log.close().expect("close");
    fs::remove_file(dir.path().join(EPOCH_FILE)).expect("remove");
    let log = Log::open(dir.path(), small_config(), true).expect("reopen");
    assert_eq!(entries(&log), vec![(1, 0), (3, 10), (6, 30)]);
}

#[test]
fn an_unwritten_leader_epoch_gives_way_to_the_next_append() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = three_epochs(dir.path());
    log.assign_leader_epoch(9).expect("assign");
    // As a follower, without a truncation first, it appends the new leader's epoch 7.
    let mut replicated = batch(2, 0, 10);
    strata_proto::batch::set_base_offset(&mut replicated, 40).expect("rewrite");
    strata_proto::batch::set_partition_leader_epoch(&mut replicated, 7).expect("rewrite");
    log.append_as_follower(&replicated, 0).expect("append");
    assert_eq!(entries(&log), vec![(1, 0), (3, 10), (6, 30), (7, 40)]);
    assert_eq!(stored(dir.path()), Some(entries(&log)));
}

#[test]
fn a_new_leaders_epoch_is_made_durable_by_the_next_flush() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), crate::LogConfig::default(), false).expect("open");
    assert!(log.prepare_flush().is_empty());
    log.assign_leader_epoch(3).expect("assign");
    // Written, not yet synced: the next flush carries it even with no data to sync.
    let task = log.prepare_flush();
    assert!(!task.is_empty());
    let done = task.sync().expect("sync");
    log.complete_flush(done).expect("complete");
    assert!(log.prepare_flush().is_empty());
    let on_disk = epoch_file::read(dir.path()).expect("epoch file");
    assert_eq!(on_disk.latest_epoch(), Some(3));
}

#[test]
fn a_clean_restart_keeps_a_leader_epoch_at_the_log_end_without_rewriting_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = three_epochs(dir.path());
    // A leader's epoch with no batch yet, as an idle led partition has it at a stop.
    log.assign_leader_epoch(9).expect("assign");
    let with_new = vec![(1, 0), (3, 10), (6, 30), (9, 40)];
    assert_eq!(entries(&log), with_new);
    log.close().expect("close");
    let file = dir.path().join(EPOCH_FILE);
    let before = fs::read(&file).expect("epoch file");
    let mut log = Log::open(dir.path(), small_config(), true).expect("clean reopen");
    assert_eq!(entries(&log), with_new);
    assert_eq!(
        fs::read(&file).expect("epoch file"),
        before,
        "not rewritten"
    );
    assert!(log.prepare_flush().is_empty(), "nothing to make durable");
    log.assign_leader_epoch(9).expect("same leader again");
    assert_eq!(fs::read(&file).expect("epoch file"), before);
    log.close().expect("close");
    // After an unclean stop the entry at the end goes, as in Kafka; the shorter file
    // is written in place and made durable by the next flush.
    let mut log = Log::open(dir.path(), small_config(), false).expect("unclean reopen");
    assert_eq!(entries(&log), with_new[..3].to_vec());
    assert_eq!(stored(dir.path()), Some(with_new[..3].to_vec()));
    let task = log.prepare_flush();
    assert!(!task.is_empty(), "the cut file is synced by the next flush");
    let done = task.sync().expect("sync");
    log.complete_flush(done).expect("complete");
    assert!(log.prepare_flush().is_empty());
}
