use std::fs;

use strata_proto::batch::{BatchError, BatchHeader};

use super::helpers::*;
use crate::{Log, LogConfig, LogError, TimestampType};

fn open(dir: &std::path::Path, config: LogConfig) -> Log {
    Log::open(dir, config, true).expect("open")
}

#[test]
fn appends_get_consecutive_offsets_and_read_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), LogConfig::default());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
    let mut expected = 0;
    for i in 0..20 {
        let info = log.append(&batch(3, 1_000 + i, 50), 5_000).expect("append");
        assert_eq!(
            (info.base_offset, info.last_offset),
            (expected, expected + 2)
        );
        assert_eq!(info.record_count, 3);
        assert_eq!(info.log_append_time, -1);
        assert_eq!(info.max_timestamp, 1_002 + i);
        expected += 3;
    }
    assert_eq!(log.log_end_offset(), 60);
    assert_eq!(read_all_offsets(&log), (0..60).collect::<Vec<_>>());
    assert_eq!(
        log.size_bytes(),
        fs::metadata(dir.path().join("00000000000000000000.log"))
            .expect("meta")
            .len()
    );
}

#[test]
fn rolls_into_many_segments_and_every_offset_is_readable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    for i in 0..60 {
        log.append(&batch(1 + i % 4, i as i64, 40), 0)
            .expect("append");
    }
    assert!(log.segment_count() > 5, "segments: {}", log.segment_count());
    let end = log.log_end_offset();
    for offset in 0..end {
        let slice = log
            .read(offset, 300, i64::MAX, true)
            .expect("read")
            .expect("some");
        let records = decode_records(&slice.read().expect("bytes"));
        assert!(records.iter().any(|r| r.0 == offset), "offset {offset}");
        // Whole batches from the one containing `offset`.
        assert!(slice.first_offset <= offset && records[0].0 == slice.first_offset);
        assert!(slice.len as u64 <= small_config().segment_bytes);
    }
    assert!(log.read(end, 100, i64::MAX, true).expect("read").is_none());
    assert!(matches!(
        log.read(end + 1, 100, i64::MAX, true),
        Err(LogError::OffsetOutOfRange { offset, .. }) if offset == end + 1
    ));
    let logs = fs::read_dir(dir.path())
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".log"))
        })
        .count();
    assert_eq!(logs, log.segment_count());
}

#[test]
fn read_inside_a_batch_returns_the_whole_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), LogConfig::default());
    log.append(&batch(5, 0, 10), 0).expect("append");
    let second = batch(7, 0, 10);
    log.append(&second, 0).expect("append");
    let slice = log
        .read(8, 1 << 20, i64::MAX, false)
        .expect("read")
        .expect("some");
    assert_eq!(slice.first_offset, 5);
    assert_eq!(slice.last_offset, 11);
    assert_eq!(slice.len, second.len());
    let bytes = slice.read().expect("bytes");
    let header = BatchHeader::parse(&bytes).expect("header");
    assert_eq!(header.base_offset, 5);
    // Stored bytes are the produced bytes with only the base offset changed.
    assert_eq!(&bytes[8..], &second[8..]);
}

#[test]
fn max_offset_bounds_the_slice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), LogConfig::default());
    for _ in 0..4 {
        log.append(&batch(5, 0, 10), 0).expect("append");
    }
    // High watermark 10: batches [0,4] and [5,9] only.
    let slice = log.read(0, 1 << 20, 10, true).expect("read").expect("some");
    assert_eq!((slice.first_offset, slice.last_offset), (0, 9));
    assert_eq!(decode_records(&slice.read().expect("bytes")).len(), 10);
    // A high watermark inside a batch excludes that batch.
    let slice = log.read(0, 1 << 20, 12, true).expect("read").expect("some");
    assert_eq!(slice.last_offset, 9);
    assert!(log.read(10, 1 << 20, 12, true).expect("read").is_none());
    assert!(log.read(12, 1 << 20, 12, true).expect("read").is_none());
    assert!(log.read(15, 1 << 20, 12, true).expect("read").is_none());
}

#[test]
fn max_bytes_and_min_one_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), LogConfig::default());
    let one = batch(4, 0, 100);
    for _ in 0..5 {
        log.append(&one, 0).expect("append");
    }
    let size = one.len();
    assert!(log
        .read(0, size - 1, i64::MAX, false)
        .expect("read")
        .is_none());
    let slice = log
        .read(0, size - 1, i64::MAX, true)
        .expect("read")
        .expect("some");
    assert_eq!(slice.len, size);
    let slice = log
        .read(4, size * 5 / 2, i64::MAX, false)
        .expect("read")
        .expect("some");
    assert_eq!(slice.len, 2 * size);
    assert_eq!((slice.first_offset, slice.last_offset), (4, 11));
    let slice = log
        .read(4, usize::MAX, i64::MAX, false)
        .expect("read")
        .expect("some");
    assert_eq!(slice.len, 4 * size);
}

/// Batches larger than the header scanner's chunk between runs of small ones: every
/// byte limit ends the slice at the last whole batch it holds, whichever way the scan
/// read the headers (a chunk at a time, or a header on its own after a large batch).
#[test]
fn byte_limits_end_at_whole_batches_across_large_and_small_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        index_interval_bytes: 1 << 30,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config);
    let mut ends = vec![0u64];
    for i in 0..24 {
        let value_len = if (6..14).contains(&i) { 40_000 } else { 30 };
        let b = batch(2, i, value_len);
        log.append(&b, 0).expect("append");
        ends.push(ends.last().unwrap() + b.len() as u64);
    }
    let total = *ends.last().unwrap();
    for limit in (1..total as usize + 100).step_by(997) {
        let slice = log.read(0, limit, i64::MAX, false).expect("read");
        let want = ends
            .iter()
            .copied()
            .filter(|e| *e <= limit as u64)
            .max()
            .unwrap();
        assert_eq!(slice.map_or(0, |s| s.len as u64), want, "limit {limit}");
    }
    let slice = log
        .read(0, usize::MAX, i64::MAX, false)
        .expect("read")
        .expect("some");
    assert_eq!(slice.len as u64, total);
    let offsets: Vec<i64> = decode_records(&slice.read().expect("bytes"))
        .iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(offsets, (0..48).collect::<Vec<_>>());
}

#[test]
fn a_bad_batch_among_good_ones_stores_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), LogConfig::default());
    log.append(&batch(2, 0, 10), 0).expect("append");
    let size_before = log.size_bytes();
    let mut bad = batch(3, 0, 10);
    let last = bad.len() - 1;
    bad[last] ^= 0x55;
    let mut payload = batch(2, 0, 10);
    payload.extend_from_slice(&bad);
    payload.extend(batch(2, 0, 10));
    let err = log.append(&payload, 0).expect_err("must fail");
    assert!(
        matches!(err, LogError::Batch(BatchError::CorruptMessage(_))),
        "{err:?}"
    );
    assert_eq!(err.error_code(), 2);
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(log.size_bytes(), size_before);
    let file = dir.path().join("00000000000000000000.log");
    assert_eq!(fs::metadata(file).expect("meta").len(), size_before);
    // The log keeps working.
    assert_eq!(
        log.append(&batch(1, 0, 10), 0).expect("append").base_offset,
        2
    );
}

#[test]
fn multi_batch_payload_is_appended_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), LogConfig::default());
    let mut payload = batch(2, 0, 10);
    payload.extend(batch(3, 0, 10));
    let info = log.append(&payload, 0).expect("append");
    assert_eq!(
        (info.base_offset, info.last_offset, info.record_count),
        (0, 4, 5)
    );
    assert_eq!(read_all_offsets(&log), vec![0, 1, 2, 3, 4]);
}

#[test]
fn oversized_batch_is_message_too_large() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        max_message_bytes: 500,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config);
    let err = log.append(&batch(10, 0, 100), 0).expect_err("too large");
    assert!(
        matches!(err, LogError::MessageTooLarge { max: 500, .. }),
        "{err:?}"
    );
    assert_eq!(err.error_code(), 10);
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn log_append_time_and_leader_epoch_are_stamped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        timestamp_type: TimestampType::LogAppendTime,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config);
    let info = log
        .append_with_epoch(&batch(3, 10, 10), 777_000, 4)
        .expect("append");
    assert_eq!(
        (info.log_append_time, info.max_timestamp),
        (777_000, 777_000)
    );
    let slice = log
        .read(0, 1 << 20, i64::MAX, true)
        .expect("read")
        .expect("some");
    let bytes = slice.read().expect("bytes");
    let header = strata_proto::batch::validate(&bytes, 1 << 20).expect("valid")[0];
    assert!(header.is_log_append_time());
    assert_eq!(header.max_timestamp, 777_000);
    assert_eq!(header.partition_leader_epoch, 4);
    assert_eq!(decode_records(&bytes).len(), 3);
}

#[test]
fn reopen_after_clean_close_keeps_everything() {
    reopen_after_close_keeps_everything(Log::close);
}

/// The unsynced close (the broker syncs the filesystem once after closing every log)
/// writes the same files: a clean reopen finds everything, with indexes and snapshot.
#[test]
fn reopen_after_unsynced_close_keeps_everything() {
    reopen_after_close_keeps_everything(Log::close_unsynced);
}

fn reopen_after_close_keeps_everything(close: fn(Log) -> Result<(), LogError>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    for i in 0..40 {
        log.append(&batch(1 + i % 3, i as i64 * 100, 30), 0)
            .expect("append");
    }
    let (end, segments, size) = (log.log_end_offset(), log.segment_count(), log.size_bytes());
    let max_ts = log.max_timestamp().expect("max ts");
    let before = read_all_offsets(&log);
    close(log).expect("close");
    let mut log = open(dir.path(), small_config());
    assert_eq!(
        (log.log_end_offset(), log.segment_count(), log.size_bytes()),
        (end, segments, size)
    );
    assert_eq!(log.recovery_point(), end);
    assert_eq!(log.max_timestamp().expect("max ts"), max_ts);
    assert_eq!(read_all_offsets(&log), before);
    assert_eq!(
        log.append(&batch(2, 0, 10), 0).expect("append").base_offset,
        end
    );
}

#[test]
fn missing_or_damaged_indexes_are_rebuilt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    for i in 0..40 {
        log.append(&batch(2, i, 30), 0).expect("append");
    }
    let before = read_all_offsets(&log);
    log.close().expect("close");
    let mut indexes: Vec<_> = fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "index"))
        .collect();
    indexes.sort();
    fs::remove_file(&indexes[0]).expect("remove");
    fs::write(&indexes[1], [0xffu8; 13]).expect("damage");
    let last = indexes.last().expect("last").clone();
    fs::write(&last, [0x7fu8; 16]).expect("damage");
    let log = open(dir.path(), small_config());
    assert_eq!(read_all_offsets(&log), before);
    assert!(fs::metadata(&indexes[0]).is_ok());
}

#[test]
fn flush_advances_the_recovery_point() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    for _ in 0..30 {
        log.append(&batch(2, 0, 30), 0).expect("append");
    }
    let task = log.prepare_flush();
    assert_eq!(task.target_offset(), 60);
    assert!(!task.is_empty());
    // Appends continue while the task runs without the lock.
    log.append(&batch(2, 0, 30), 0).expect("append");
    let flushed = task.sync().expect("sync");
    log.complete_flush(flushed).expect("complete");
    assert_eq!(log.recovery_point(), 60);
    assert_eq!(crate::checkpoint::read(dir.path()), Some(60));
    let task = log.prepare_flush();
    let flushed = task.sync().expect("sync");
    log.complete_flush(flushed).expect("complete");
    assert_eq!(log.recovery_point(), 62);
    assert!(log.prepare_flush().is_empty());
}

#[test]
fn segment_ms_rolls_non_empty_active_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        segment_ms: 1_000,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config);
    log.maybe_roll(10_000).expect("roll");
    assert_eq!(log.segment_count(), 1, "an empty segment never rolls");
    log.append(&batch(1, 0, 10), 10_000).expect("append");
    log.maybe_roll(10_500).expect("roll");
    assert_eq!(log.segment_count(), 1);
    log.maybe_roll(11_001).expect("roll");
    assert_eq!(log.segment_count(), 2);
    log.append(&batch(1, 0, 10), 11_002).expect("append");
    log.append(&batch(1, 0, 10), 12_500).expect("append");
    assert_eq!(log.segment_count(), 3, "append rolls an old segment first");
    assert_eq!(read_all_offsets(&log), vec![0, 1, 2]);
}

#[test]
fn truncate_to_drops_later_batches_and_appends_continue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    for _ in 0..40 {
        log.append(&batch(3, 0, 30), 0).expect("append");
    }
    let segments = log.segment_count();
    log.truncate_to(50).expect("truncate"); // inside batch [48, 50]
    assert_eq!(log.log_end_offset(), 48);
    assert!(log.segment_count() < segments);
    assert_eq!(read_all_offsets(&log), (0..48).collect::<Vec<_>>());
    assert!(log.read(50, 100, i64::MAX, true).is_err());
    assert_eq!(
        log.append(&batch(1, 0, 10), 0).expect("append").base_offset,
        48
    );
    log.close().expect("close");
    let mut log = open(dir.path(), small_config());
    assert_eq!(log.log_end_offset(), 49);
    log.truncate_to(0).expect("truncate all");
    assert_eq!(
        (
            log.log_start_offset(),
            log.log_end_offset(),
            log.size_bytes()
        ),
        (0, 0, 0)
    );
    assert_eq!(log.segment_count(), 1);
}

#[test]
fn delete_removes_the_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("topic-0");
    let mut log = open(&path, LogConfig::default());
    log.append(&batch(1, 0, 10), 0).expect("append");
    log.delete().expect("delete");
    assert!(!path.exists());
}

#[test]
fn log_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Log>();
    assert_send::<crate::FileSlice>();
    assert_send::<crate::FlushTask>();
}

/// Found by the `segment_recovery` fuzz target: a segment file whose batch claims the
/// largest offsets (the base offset is outside the CRC) made the next append overflow.
/// The append is refused with an error instead, and nothing is written.
#[test]
fn an_append_past_the_largest_offset_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = i64::MAX - 1;
    let mut bytes = batch(1, 1_000, 10);
    bytes[..8].copy_from_slice(&base.to_be_bytes());
    fs::write(dir.path().join(format!("{base:020}.log")), &bytes).expect("write");
    let mut log = Log::open(dir.path(), small_config(), false).expect("open");
    assert_eq!(log.log_end_offset(), i64::MAX);
    let err = log
        .append(&batch(1, 2_000, 10), 2_000)
        .expect_err("no offset left");
    assert!(matches!(err, LogError::OffsetOverflow { .. }), "{err:?}");
    assert_eq!(err.error_code(), 56, "KAFKA_STORAGE_ERROR");
    assert_eq!(log.size_bytes(), bytes.len() as u64);
}

/// The active segment's offset and time index writes fail (read-only handles: EBADF) or
/// work again.
fn set_indexes_writable(log: &mut Log, writable: bool) {
    let active = log.segments.last_mut().expect("active segment");
    for (index_path, is_time) in [
        (active.index.path().to_path_buf(), false),
        (active.time_index.path().to_path_buf(), true),
    ] {
        let file = fs::OpenOptions::new()
            .read(true)
            .write(writable)
            .open(&index_path)
            .expect("index file");
        if is_time {
            active.time_index.set_handle(file);
        } else {
            active.index.set_handle(file);
        }
    }
}

#[test]
fn appends_stay_counted_when_their_index_entries_cannot_be_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        index_interval_bytes: 1,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config.clone());
    log.append(&batch(2, 1_000, 20), 5_000).expect("append");
    // Every batch is indexed, so index writes (every 32 entries) fail under these
    // appends, as on a full disk where the log file's last page still had room.
    set_indexes_writable(&mut log, false);
    for i in 0..100 {
        let info = log.append(&batch(2, 1_001 + i, 20), 5_000).expect("append");
        assert_eq!(info.base_offset, 2 + 2 * i);
    }
    assert_eq!(log.log_end_offset(), 202);
    assert_eq!(read_all_offsets(&log), (0..202).collect::<Vec<_>>());
    // The entries that could not be written wait in memory for the next write.
    set_indexes_writable(&mut log, true);
    log.append(&batch(2, 2_000, 20), 5_000).expect("append");
    log.close().expect("close writes the indexes");
    for clean in [true, false] {
        let log = Log::open(dir.path(), config.clone(), clean).expect("reopen");
        assert_eq!(log.log_end_offset(), 204);
        assert_eq!(read_all_offsets(&log), (0..204).collect::<Vec<_>>());
    }
}
