//! Logs under a tiny open-file budget: handles are evicted and reopened under appends,
//! reads, flushes, compaction and recovery, and every answer stays the same.

use std::sync::{Arc, Mutex};

use super::helpers::{batch, read_all_offsets, small_config};
use crate::{FileHandles, Log, LogConfig};

fn open(dir: &std::path::Path, files: &FileHandles, clean: bool) -> Log {
    Log::open_with_files(dir, small_config(), clean, files.clone()).expect("open")
}

/// Appends `rounds` batches to each log in turn, so every append needs a file another
/// log's last append left open.
fn fill(logs: &mut [Log], rounds: usize) {
    for round in 0..rounds {
        for log in logs.iter_mut() {
            log.append(&batch(5, round as i64 * 10, 40), 0)
                .expect("append");
        }
    }
}

#[test]
fn many_logs_in_a_budget_of_two_read_flush_and_recover_the_same() {
    let root = tempfile::tempdir().expect("tempdir");
    let files = FileHandles::new(2);
    let dirs: Vec<_> = (0..6).map(|i| root.path().join(format!("t-{i}"))).collect();
    let mut logs: Vec<Log> = dirs.iter().map(|d| open(d, &files, false)).collect();
    fill(&mut logs, 40);
    assert!(
        logs.iter().all(|l| l.segment_count() > 3),
        "segments rolled"
    );
    assert!(files.stats().open <= 2, "{:?}", files.stats());
    assert!(files.stats().evicted_total > 100, "{:?}", files.stats());
    let expected: Vec<Vec<i64>> = logs.iter().map(read_all_offsets).collect();
    assert!(expected.iter().all(|o| o.len() == 200));
    // Offsets by time use the (evicted) time indexes.
    for log in &logs {
        assert_eq!(
            log.offset_for_timestamp(205)
                .expect("lookup")
                .map(|(o, _)| o),
            Some(105)
        );
    }
    // A flush whose files were evicted syncs them by reopening.
    for log in &mut logs {
        let task = log.prepare_flush();
        let done = task.sync().expect("sync");
        log.complete_flush(done).expect("complete");
        assert_eq!(log.recovery_point(), log.log_end_offset());
    }
    assert!(files.stats().open <= 2);

    // Dropped without a clean close (a crash), then recovered under the same budget.
    drop(logs);
    let logs: Vec<Log> = dirs.iter().map(|d| open(d, &files, false)).collect();
    let after: Vec<Vec<i64>> = logs.iter().map(read_all_offsets).collect();
    assert_eq!(after, expected);
    for log in logs {
        log.close().expect("close");
    }
    let logs: Vec<Log> = dirs.iter().map(|d| open(d, &files, true)).collect();
    let after: Vec<Vec<i64>> = logs.iter().map(read_all_offsets).collect();
    assert_eq!(after, expected);
    assert!(files.stats().open <= 2);
}

#[test]
fn compaction_and_retention_work_with_evicted_handles() {
    let root = tempfile::tempdir().expect("tempdir");
    let files = FileHandles::new(1);
    let config = LogConfig {
        cleanup_compact: true,
        cleanup_delete: false,
        min_cleanable_dirty_ratio: 0.0,
        ..small_config()
    };
    let mut logs: Vec<Log> = (0..3)
        .map(|i| {
            Log::open_with_files(
                &root.path().join(format!("c-{i}")),
                config.clone(),
                false,
                files.clone(),
            )
            .expect("open")
        })
        .collect();
    // Every batch uses keys key-0..key-4: compaction keeps one record per key.
    fill(&mut logs, 30);
    for log in &mut logs {
        let stats = log.clean(i64::MAX / 2, &mut |_| {}).expect("clean");
        assert!(stats.records_removed > 0, "{stats:?}");
        let offsets = read_all_offsets(log);
        assert!(offsets.len() < 150, "compacted to {}", offsets.len());
        assert!(offsets.windows(2).all(|w| w[0] < w[1]));
    }
    assert!(files.stats().open <= 1);
    for log in &mut logs {
        log.delete_records_before(100).expect("delete records");
        assert!(read_all_offsets(log).iter().all(|o| *o >= 100));
    }
}

#[test]
fn appends_and_reads_from_threads_share_a_tiny_budget() {
    let root = tempfile::tempdir().expect("tempdir");
    let files = FileHandles::new(3);
    let logs: Vec<Arc<Mutex<Log>>> = (0..8)
        .map(|i| {
            Arc::new(Mutex::new(open(
                &root.path().join(format!("m-{i}")),
                &files,
                false,
            )))
        })
        .collect();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let logs = logs.clone();
            std::thread::spawn(move || {
                for round in 0..60 {
                    let log = &logs[(round * 3 + t) % logs.len()];
                    let slice = {
                        let mut log = log.lock().expect("lock");
                        log.append(&batch(3, round as i64, 30), 0).expect("append");
                        log.read(0, 1 << 20, i64::MAX, true).expect("read")
                    };
                    // Read outside the lock while other threads evict its handle.
                    let bytes = slice.expect("slice").read().expect("slice read");
                    assert!(!bytes.is_empty());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let total: usize = logs
        .iter()
        .map(|l| read_all_offsets(&l.lock().expect("lock")).len())
        .sum();
    assert_eq!(total, 4 * 60 * 3);
    assert!(files.stats().open <= 3, "{:?}", files.stats());
}

/// A read in no-wait mode (a Fetch trying its lookups on a runtime worker) answers the
/// same as a blocking one, or `WouldBlock` without opening anything: always when the
/// log's handles were evicted, never with an error of another kind.
#[test]
fn no_wait_reads_answer_the_same_or_would_block_without_opening_files() {
    use crate::no_wait::{is_would_block, without_waiting};
    let root = tempfile::tempdir().expect("tempdir");
    let files = FileHandles::new(2);
    let dirs: Vec<_> = (0..4).map(|i| root.path().join(format!("t-{i}"))).collect();
    let mut logs: Vec<Log> = dirs.iter().map(|d| open(d, &files, false)).collect();
    fill(&mut logs, 40);
    let key = |s: &crate::FileSlice| (s.position, s.len, s.first_offset, s.last_offset);
    let offsets = [0, 7, 55, 120, 199];

    // The first log's files were closed to make room for the later logs' appends.
    let opened = files.stats().opened_total;
    let evicted = without_waiting(|| logs[0].read(55, 1 << 20, i64::MAX, true))
        .expect_err("its handles are closed");
    assert!(is_would_block(&evicted), "{evicted}");
    assert_eq!(
        files.stats().opened_total,
        opened,
        "no-wait mode opened a file"
    );

    let (mut same, mut would_block) = (0, 0);
    for log in &logs {
        for &offset in &offsets {
            let blocking = log
                .read(offset, 700, i64::MAX, true)
                .expect("read")
                .expect("records");
            // Right after the blocking read its files are open and its pages cached.
            let opened = files.stats().opened_total;
            match without_waiting(|| log.read(offset, 700, i64::MAX, true)) {
                Ok(slice) => {
                    assert_eq!(slice.map(|s| key(&s)), Some(key(&blocking)));
                    same += 1;
                }
                Err(e) => {
                    assert!(is_would_block(&e), "offset {offset}: {e}");
                    would_block += 1;
                }
            }
            assert_eq!(files.stats().opened_total, opened);
        }
    }
    // Unless this file system has no buffered NOWAIT reads (then every attempt says
    // `WouldBlock`), reads right after a blocking one find everything cached.
    let probe_path = root.path().join("probe");
    std::fs::write(&probe_path, [5u8; 4096]).expect("probe");
    let probe = std::fs::File::open(&probe_path).expect("probe");
    let mut buf = [0u8; 4096];
    if without_waiting(|| crate::no_wait::read_exact_at(&probe, &mut buf, 0)).is_ok() {
        assert_eq!(would_block, 0, "{same} answered, {would_block} would block");
    } else {
        assert_eq!(same, 0);
    }
    // Blocking reads are unaffected after no-wait ones.
    let after: Vec<Vec<i64>> = logs.iter().map(read_all_offsets).collect();
    assert!(after.iter().all(|o| o.len() == 200));
}

/// A lookup that would read a lot (no index entry near the offset: a scan of batch
/// headers from the segment's start) gives up in no-wait mode after its read budget
/// instead of holding a runtime worker, and answers in blocking mode.
#[test]
fn a_long_scan_is_not_tried_without_waiting() {
    use crate::no_wait::{is_would_block, without_waiting, MAX_READS};
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        index_interval_bytes: u32::MAX,
        ..LogConfig::default()
    };
    let mut log = Log::open(dir.path(), config, false).expect("open");
    let one = batch(1, 0, 8);
    // Enough one-record batches that a scan to the last needs more than the budget of
    // 16 KiB chunk reads.
    let batches = (MAX_READS as usize + 8) * (16 * 1024) / one.len() + 1;
    for _ in 0..batches {
        log.append(&one, 0).expect("append");
    }
    let last = log.log_end_offset() - 1;
    let blocking = log
        .read(last, 1 << 20, i64::MAX, true)
        .expect("read")
        .expect("records");
    assert_eq!(blocking.first_offset, last);
    // Near the start the same scan is short enough.
    let early = without_waiting(|| log.read(3, 1 << 20, i64::MAX, true));
    let far = without_waiting(|| log.read(last, 1 << 20, i64::MAX, true)).expect_err("too long");
    assert!(is_would_block(&far), "{far}");
    if let Ok(Some(s)) = early {
        assert_eq!(s.first_offset, 3);
    } else {
        let e = early.expect_err("no records?");
        assert!(is_would_block(&e), "{e}");
    }
}
