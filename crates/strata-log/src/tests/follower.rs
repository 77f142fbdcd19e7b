//! Follower appends: the leader's batches stored byte for byte, offsets and epochs
//! checked, compacted gaps accepted where they can come from the leader's cleaner.

use std::fs;
use std::path::Path;

use kafka_protocol::records::Compression;
use strata_proto::batch;

use super::compaction_model::{compact_config, key, keyed_batch, no_throttle, read_everything};
use super::helpers::{batch, batch_with_timestamps, idempotent_batch, small_config};
use crate::{Log, LogConfig, LogError, TimestampType};

/// Every `.log` file of `dir` as (name, bytes), by name.
fn segment_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .expect("list")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, fs::read(e.path()).expect("read segment"))
        })
        .collect();
    files.sort();
    files
}

/// Copies the leader's log into the follower through fetches of at most `max_bytes`
/// (at least one batch each), as a follower's fetcher would.
fn replicate(leader: &Log, follower: &mut Log, max_bytes: usize, now_ms: i64) {
    while let Some(slice) = leader
        .read(follower.log_end_offset(), max_bytes, i64::MAX, true)
        .expect("leader read")
    {
        let bytes = slice.read().expect("slice read");
        follower
            .append_as_follower(&bytes, now_ms)
            .expect("follower append");
    }
}

/// The leader's payload for the batch holding `offset`.
fn leader_batch(leader: &Log, offset: i64) -> Vec<u8> {
    let slice = leader
        .read(offset, 1, i64::MAX, true)
        .expect("read")
        .expect("a batch");
    slice.read().expect("slice read").to_vec()
}

/// A leader log over epochs 0 (offsets 0..60, batches of 3), 2 (60..76, idempotent
/// batches of 2) and 5 (76..100, gzip batches of 4); stamped at `now_ms = 5000` when
/// the config says LogAppendTime.
fn leader_log(dir: &Path, config: LogConfig) -> Log {
    let mut log = Log::open(dir, config, false).expect("open leader");
    for i in 0..20 {
        log.append_with_epoch(&batch(3, 100 + i, 40), 5000, 0)
            .expect("append");
    }
    log.assign_leader_epoch(2).expect("assign");
    for seq in 0..8 {
        log.append_with_epoch(&idempotent_batch(7, 0, seq * 2, 2, 200), 5000, 2)
            .expect("append");
    }
    for i in 0..6 {
        let ts: Vec<i64> = (0..4).map(|k| 300 + i * 4 + k).collect();
        log.append_with_epoch(&batch_with_timestamps(&ts, 30, Compression::Gzip), 5000, 5)
            .expect("append");
    }
    log
}

fn log_append_time_config() -> LogConfig {
    LogConfig {
        timestamp_type: TimestampType::LogAppendTime,
        ..small_config()
    }
}

#[test]
fn follower_copy_is_byte_identical() {
    let leader_dir = tempfile::tempdir().expect("tempdir");
    let leader = leader_log(leader_dir.path(), log_append_time_config());
    assert!(leader.segment_count() > 2);

    // One batch per fetch: the follower rolls exactly where the leader did. Its clock
    // differs, yet nothing is restamped.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut follower = Log::open(dir.path(), log_append_time_config(), false).expect("open");
    replicate(&leader, &mut follower, 1, 999_999);
    assert_eq!(segment_bytes(dir.path()), segment_bytes(leader_dir.path()));
    assert_eq!(follower.log_end_offset(), leader.log_end_offset());
    assert_eq!(follower.epoch_entries(), leader.epoch_entries());
    assert_eq!(follower.producer_state(), leader.producer_state());

    // Large fetches: the same bytes in the same order (segment boundaries may differ).
    let dir2 = tempfile::tempdir().expect("tempdir");
    let mut follower2 = Log::open(dir2.path(), log_append_time_config(), false).expect("open");
    replicate(&leader, &mut follower2, 1 << 20, 1);
    let concat = |files: Vec<(String, Vec<u8>)>| -> Vec<u8> {
        files.into_iter().flat_map(|(_, bytes)| bytes).collect()
    };
    assert_eq!(
        concat(segment_bytes(dir2.path())),
        concat(segment_bytes(leader_dir.path()))
    );
    assert_eq!(follower2.epoch_entries(), leader.epoch_entries());

    // Everything survives an unclean restart of the follower.
    drop(follower);
    let follower = Log::open(dir.path(), log_append_time_config(), false).expect("reopen");
    assert_eq!(segment_bytes(dir.path()), segment_bytes(leader_dir.path()));
    assert_eq!(follower.epoch_entries(), leader.epoch_entries());
    assert_eq!(follower.producer_state(), leader.producer_state());
}

#[test]
fn misplaced_or_damaged_payloads_are_refused_and_nothing_is_written() {
    let leader_dir = tempfile::tempdir().expect("tempdir");
    let leader = leader_log(leader_dir.path(), small_config());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut follower = Log::open(dir.path(), small_config(), false).expect("open");
    replicate(&leader, &mut follower, 1, 0);
    follower.truncate_to(66).expect("truncate");
    let before = segment_bytes(dir.path());
    let entries = follower.epoch_entries().to_vec();

    // Not at the log end: ahead of it, and behind it.
    let ahead = leader_batch(&leader, 70);
    assert!(matches!(
        follower.append_as_follower(&ahead, 0),
        Err(LogError::UnexpectedAppendOffset {
            expected: 66,
            first_offset: 70,
            ..
        })
    ));
    let behind = leader_batch(&leader, 64);
    assert!(matches!(
        follower.append_as_follower(&behind, 0),
        Err(LogError::UnexpectedAppendOffset { expected: 66, .. })
    ));
    // A hole inside the payload.
    let mut holey = leader_batch(&leader, 66);
    holey.extend(leader_batch(&leader, 70));
    assert!(matches!(
        follower.append_as_follower(&holey, 0),
        Err(LogError::NonContiguousOffsets {
            expected: 68,
            actual: 70
        })
    ));
    // A flipped bit in the records.
    let mut damaged = leader_batch(&leader, 66);
    let last = damaged.len() - 1;
    damaged[last] ^= 0x40;
    assert!(matches!(
        follower.append_as_follower(&damaged, 0),
        Err(LogError::Batch(_))
    ));
    // Half a batch.
    let whole = leader_batch(&leader, 66);
    assert!(follower
        .append_as_follower(&whole[..whole.len() / 2], 0)
        .is_err());
    assert!(follower.append_as_follower(&[], 0).is_err());
    // An epoch older than the log's latest (2 at offset 66).
    let mut stale = batch(2, 0, 10);
    batch::set_base_offset(&mut stale, 66).expect("rewrite");
    batch::set_partition_leader_epoch(&mut stale, 1).expect("rewrite");
    assert!(matches!(
        follower.append_as_follower(&stale, 0),
        Err(LogError::EpochRegression {
            epoch: 1,
            latest: 2
        })
    ));

    assert_eq!(segment_bytes(dir.path()), before);
    assert_eq!(follower.epoch_entries(), &entries[..]);
    assert_eq!(follower.log_end_offset(), 66);
    // The right batch still goes in.
    follower
        .append_as_follower(&leader_batch(&leader, 66), 0)
        .expect("append");
    assert_eq!(follower.log_end_offset(), 68);
}

#[test]
fn producer_state_takes_the_leaders_batches_unchecked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut follower = Log::open(dir.path(), small_config(), false).expect("open");
    let mut first = idempotent_batch(9, 0, 0, 2, 0);
    batch::set_partition_leader_epoch(&mut first, 1).expect("rewrite");
    follower.append_as_follower(&first, 0).expect("append");
    // Sequence 10 after 1 would be out of order for a producer, but the leader
    // accepted it (say, after the producer's state expired there).
    let mut jump = idempotent_batch(9, 0, 10, 1, 0);
    batch::set_base_offset(&mut jump, 2).expect("rewrite");
    batch::set_partition_leader_epoch(&mut jump, 1).expect("rewrite");
    follower.append_as_follower(&jump, 0).expect("append");
    let entry = follower.producer_state().get(9).expect("producer 9");
    assert_eq!(entry.last_seq(), 10);
    assert_eq!(entry.batches.len(), 2);
    assert_eq!(entry.batches[1].first_offset, 2);
}

#[test]
fn empty_follower_restarts_at_the_batch_holding_its_start() {
    let leader_dir = tempfile::tempdir().expect("tempdir");
    let leader = leader_log(leader_dir.path(), small_config());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut follower = Log::open(dir.path(), small_config(), false).expect("open");
    // The leader's log start was moved to 4 (inside batch 3..5); the follower starts
    // there and fetches at 4.
    follower.truncate_fully_and_start_at(4).expect("restart");
    let payload = leader_batch(&leader, 4);
    let info = follower.append_as_follower(&payload, 0).expect("append");
    assert_eq!(info.base_offset, 3);
    assert_eq!(follower.log_start_offset(), 3);
    assert_eq!(follower.log_end_offset(), 6);
    assert_eq!(follower.delete_records_before(4).expect("raise"), 4);
    // Not on a log that already holds data.
    follower.truncate_fully_and_start_at(7).expect("restart");
    follower
        .append_as_follower(&leader_batch(&leader, 6), 0)
        .expect("batch 6..8 at 7 restarts the empty log at 6");
    assert!(matches!(
        follower.append_as_follower(&leader_batch(&leader, 6), 0),
        Err(LogError::UnexpectedAppendOffset { expected: 9, .. })
    ));
}

/// A compacted leader: keyed batches where later keys supersede earlier ones, cleaned,
/// then more data in the active segment.
fn compacted_leader(dir: &Path) -> Log {
    let config = compact_config(600, 1 << 40);
    let mut log = Log::open(dir, config, false).expect("open");
    let mut ts = 0;
    for round in 0..12u8 {
        let inputs: Vec<_> = (0..3u8)
            .map(|k| {
                ts += 1;
                // Keys 0..3 repeat every round, so older batches go entirely.
                (key(k + (round % 2) * 3), Some(vec![b'v'; 20]), ts)
            })
            .collect();
        log.append_with_epoch(&keyed_batch(&inputs, Compression::None), 0, 1)
            .expect("append");
    }
    log.clean(1_000_000, &mut no_throttle()).expect("clean");
    log.append_with_epoch(
        &keyed_batch(&[(key(9), Some(vec![1]), 99)], Compression::None),
        0,
        2,
    )
    .expect("append");
    log
}

#[test]
fn compacted_gaps_replicate_and_survive_unclean_recovery() {
    let leader_dir = tempfile::tempdir().expect("tempdir");
    let leader = compacted_leader(leader_dir.path());
    let dir = tempfile::tempdir().expect("tempdir");
    let config = compact_config(600, 1 << 40);
    let mut follower = Log::open(dir.path(), config.clone(), false).expect("open");
    replicate(&leader, &mut follower, 1, 0);
    assert_eq!(follower.log_end_offset(), leader.log_end_offset());
    let records = read_everything(&leader);
    assert!(
        (records.len() as i64) < leader.log_end_offset(),
        "the leader's log has gaps"
    );
    assert_eq!(read_everything(&follower), records);
    drop(follower);
    let follower = Log::open(dir.path(), config, false).expect("unclean reopen");
    assert_eq!(follower.log_end_offset(), leader.log_end_offset());
    assert_eq!(read_everything(&follower), records);
    // The follower's epoch 1 starts at the first batch the cleaner left (the leader
    // knew it from offset 0); every OffsetForLeaderEpoch answer about epochs the
    // follower has still agrees.
    assert_eq!(follower.latest_epoch(), leader.latest_epoch());
    for epoch in 1..=3 {
        assert_eq!(
            follower.end_offset_for_epoch(epoch),
            leader.end_offset_for_epoch(epoch),
            "epoch {epoch}"
        );
    }

    // A topic that is not compacted never has gaps: refused.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut strict = Log::open(dir.path(), small_config(), false).expect("open");
    let first_batch_base = leader_batch(&leader, 0);
    let header = batch::BatchHeader::parse(&first_batch_base).expect("header");
    if header.base_offset > 0 {
        assert!(matches!(
            strict.append_as_follower(&first_batch_base, 0),
            Err(LogError::UnexpectedAppendOffset { expected: 0, .. })
        ));
    } else {
        let mut gap = None;
        let mut next = 0;
        while let Some(slice) = leader.read(next, 1, i64::MAX, true).expect("read") {
            if slice.first_offset > next {
                gap = Some(next);
                break;
            }
            next = slice.last_offset + 1;
        }
        let at = gap.expect("a gap somewhere in the leader's log");
        replicate_until(&leader, &mut strict, at);
        assert!(strict
            .append_as_follower(&leader_batch(&leader, at), 0)
            .is_err());
    }
}

/// Replicates one batch at a time until the follower's log end reaches `offset`.
fn replicate_until(leader: &Log, follower: &mut Log, offset: i64) {
    while follower.log_end_offset() < offset {
        let payload = leader_batch(leader, follower.log_end_offset());
        follower.append_as_follower(&payload, 0).expect("append");
    }
}
