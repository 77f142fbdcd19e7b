//! The high watermark kept by the log: clamped, lowered by truncation, persisted with
//! the recovery point across clean and unclean restarts.

use std::fs;

use super::helpers::{batch, small_config};
use crate::checkpoint::{self, CHECKPOINT_FILE};
use crate::Log;

fn log_with(dir: &std::path::Path, batches: usize) -> Log {
    let mut log = Log::open(dir, small_config(), false).expect("open");
    for _ in 0..batches {
        log.append_with_epoch(&batch(2, 0, 50), 0, 1)
            .expect("append");
    }
    log
}

fn flush(log: &mut Log) {
    let task = log.prepare_flush();
    let flushed = task.sync().expect("sync");
    log.complete_flush(flushed).expect("complete");
}

#[test]
fn fresh_log_reports_zero_and_values_are_clamped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = log_with(dir.path(), 0);
    assert_eq!(log.high_watermark(), 0);
    for _ in 0..5 {
        log.append(&batch(2, 0, 10), 0).expect("append");
    }
    assert_eq!(log.high_watermark(), 0, "appends do not move it");
    assert_eq!(log.set_high_watermark(6), 6);
    assert_eq!(log.set_high_watermark(100), 10);
    assert_eq!(log.set_high_watermark(-3), 0);
    log.set_high_watermark(3);
    log.delete_records_before(4).expect("delete records");
    assert_eq!(log.high_watermark(), 4, "never below the log start");
}

#[test]
fn persisted_across_a_clean_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = log_with(dir.path(), 10);
    log.set_high_watermark(14);
    log.close().expect("close");
    let log = Log::open(dir.path(), small_config(), true).expect("reopen");
    assert_eq!(log.high_watermark(), 14);
}

#[test]
fn unclean_restart_caps_it_at_the_recovered_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = log_with(dir.path(), 10);
    log.set_high_watermark(20);
    flush(&mut log);
    drop(log);
    let log = Log::open(dir.path(), small_config(), false).expect("reopen");
    assert_eq!(log.high_watermark(), 20);
    drop(log);
    // The checkpoint claims 20 but the last batch is torn away.
    let mut segments: Vec<_> = fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    segments.sort();
    let last = segments.last().expect("segment");
    let len = fs::metadata(last).expect("meta").len();
    fs::OpenOptions::new()
        .write(true)
        .open(last)
        .expect("open")
        .set_len(len - 5)
        .expect("tear");
    let log = Log::open(dir.path(), small_config(), false).expect("reopen");
    assert_eq!(log.log_end_offset(), 18);
    assert_eq!(log.high_watermark(), 18);
}

#[test]
fn checkpoint_writes_only_changes_and_survives_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = log_with(dir.path(), 5);
    log.set_high_watermark(7);
    assert!(log.checkpoint_high_watermark().expect("checkpoint"));
    assert!(!log.checkpoint_high_watermark().expect("checkpoint"));
    assert_eq!(checkpoint::read_high_watermark(dir.path()), Some(7));
    log.set_high_watermark(9);
    assert!(log.checkpoint_high_watermark().expect("checkpoint"));
    drop(log);
    let log = Log::open(dir.path(), small_config(), false).expect("reopen");
    assert_eq!(log.high_watermark(), 9);
}

#[test]
fn truncation_lowers_it_durably() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = log_with(dir.path(), 10);
    log.set_high_watermark(20);
    log.checkpoint_high_watermark().expect("checkpoint");
    log.truncate_to(11).expect("truncate");
    assert_eq!(log.log_end_offset(), 10);
    assert_eq!(log.high_watermark(), 10);
    drop(log);
    let mut log = Log::open(dir.path(), small_config(), false).expect("reopen");
    assert_eq!(log.high_watermark(), 10);
    // Appending again leaves it where it was until the broker moves it.
    log.append_with_epoch(&batch(2, 0, 50), 0, 2)
        .expect("append");
    assert_eq!(log.high_watermark(), 10);
    // Restarting the log beyond its end moves everything there.
    log.truncate_fully_and_start_at(50).expect("restart");
    assert_eq!(log.high_watermark(), 50);
    drop(log);
    let log = Log::open(dir.path(), small_config(), false).expect("reopen");
    assert_eq!(
        (
            log.log_start_offset(),
            log.log_end_offset(),
            log.high_watermark()
        ),
        (50, 50, 50)
    );
}

#[test]
fn checkpoint_without_a_high_watermark_means_the_log_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = log_with(dir.path(), 10);
    log.delete_records_before(6).expect("delete records");
    log.set_high_watermark(20);
    log.close().expect("close");
    // What a log written before high watermarks were kept has on disk.
    fs::write(dir.path().join(CHECKPOINT_FILE), "0\n20\n").expect("write");
    let log = Log::open(dir.path(), small_config(), true).expect("reopen");
    assert_eq!(log.high_watermark(), 6);
}
