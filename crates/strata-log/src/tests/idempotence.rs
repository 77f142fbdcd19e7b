//! Idempotent producers through `Log::append`: duplicates, fencing, ordering, and
//! producer state surviving reopen and truncation.

use super::helpers::{batch, idempotent_batch, read_all_offsets, small_config};
use crate::producer_snapshot::SNAPSHOT_FILE;
use crate::{AppendInfo, Log, LogConfig, LogError, TimestampType};
use strata_proto::error_code::{INVALID_PRODUCER_EPOCH, OUT_OF_ORDER_SEQUENCE_NUMBER};

const PID: i64 = 4242;
const RECORDS_PER_BATCH: usize = 3;

/// Appends `batches` batches of `PID` at `epoch` with sequences 0, 3, 6, ...; returns
/// the payloads and what each append reported.
fn append_sequence(log: &mut Log, epoch: i16, batches: usize) -> Vec<(Vec<u8>, AppendInfo)> {
    (0..batches)
        .map(|i| {
            let seq = (i * RECORDS_PER_BATCH) as i32;
            let payload = idempotent_batch(PID, epoch, seq, RECORDS_PER_BATCH, 1_000 + i as i64);
            let info = log.append(&payload, 5_000).expect("append in order");
            assert!(!info.duplicate);
            (payload, info)
        })
        .collect()
}

/// Asserts that appending `payload` is answered as a duplicate of `original` and writes
/// nothing.
fn assert_duplicate(log: &mut Log, payload: &[u8], original: &AppendInfo) {
    let end = log.log_end_offset();
    let size = log.size_bytes();
    let info = log
        .append(payload, 9_000)
        .expect("duplicate is not an error");
    assert!(info.duplicate);
    assert_eq!(info.base_offset, original.base_offset);
    assert_eq!(info.last_offset, original.last_offset);
    assert_eq!(info.max_timestamp, original.max_timestamp);
    assert_eq!(info.record_count, original.record_count);
    assert_eq!(info.bytes, 0);
    assert_eq!(log.log_end_offset(), end);
    assert_eq!(log.size_bytes(), size);
}

/// Asserts that appending `payload` fails with `code` and writes nothing.
fn assert_rejected(log: &mut Log, payload: &[u8], code: i16) {
    let end = log.log_end_offset();
    let size = log.size_bytes();
    let err = log.append(payload, 9_000).expect_err("must be rejected");
    assert_eq!(err.error_code(), code, "{err}");
    assert_eq!(log.log_end_offset(), end);
    assert_eq!(log.size_bytes(), size);
}

#[test]
fn retried_batch_is_a_duplicate_with_original_offsets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), small_config(), false).expect("open");
    log.append(&batch(2, 500, 10), 5_000).expect("plain batch");
    let written = append_sequence(&mut log, 0, 30);
    assert!(log.segment_count() > 1, "batches should span segments");
    assert_eq!(written[0].1.base_offset, 2);
    // The last five batches are remembered; the newest and oldest of them are retried.
    for (payload, original) in [&written[25], &written[29], &written[27]] {
        assert_duplicate(&mut log, payload, original);
    }
    // An older one can no longer be told apart from a rewind.
    assert_rejected(&mut log, &written[24].0, OUT_OF_ORDER_SEQUENCE_NUMBER);
    // Records were stored once: 2 plain + 30 * 3 idempotent.
    assert_eq!(read_all_offsets(&log), (0..92).collect::<Vec<_>>());
    // The producer continues normally after the retries.
    let next = idempotent_batch(PID, 0, 90, 2, 2_000);
    let info = log.append(&next, 6_000).expect("next in order");
    assert_eq!((info.base_offset, info.last_offset), (92, 93));
}

#[test]
fn out_of_order_and_fenced_batches_write_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), small_config(), false).expect("open");
    append_sequence(&mut log, 2, 3);
    // Gap: 9 is next.
    let gap = idempotent_batch(PID, 2, 10, 2, 1_000);
    assert_rejected(&mut log, &gap, OUT_OF_ORDER_SEQUENCE_NUMBER);
    // Overlaps the last batch without matching it.
    let overlap = idempotent_batch(PID, 2, 7, 3, 1_000);
    assert_rejected(&mut log, &overlap, OUT_OF_ORDER_SEQUENCE_NUMBER);
    // Older epoch.
    let old = idempotent_batch(PID, 1, 9, 1, 1_000);
    assert_rejected(&mut log, &old, INVALID_PRODUCER_EPOCH);
    // Newer epoch not starting at 0.
    let bumped = idempotent_batch(PID, 3, 9, 1, 1_000);
    assert_rejected(&mut log, &bumped, OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_eq!(read_all_offsets(&log), (0..9).collect::<Vec<_>>());
    // A payload whose second batch is out of order is refused whole.
    let mut payload = idempotent_batch(PID, 2, 9, 2, 1_000);
    payload.extend(idempotent_batch(PID, 2, 12, 2, 1_000));
    assert_rejected(&mut log, &payload, OUT_OF_ORDER_SEQUENCE_NUMBER);
    // The new epoch from 0 is fine, and then fences epoch 2.
    let fresh = idempotent_batch(PID, 3, 0, 1, 1_000);
    assert_eq!(log.append(&fresh, 5_000).expect("new epoch").base_offset, 9);
    let stale = idempotent_batch(PID, 2, 9, 1, 1_000);
    assert_rejected(&mut log, &stale, INVALID_PRODUCER_EPOCH);
}

#[test]
fn error_variants_carry_producer_details() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), LogConfig::default(), false).expect("open");
    append_sequence(&mut log, 5, 1);
    let err = log
        .append(&idempotent_batch(PID, 4, 3, 1, 0), 0)
        .expect_err("fenced");
    assert!(matches!(
        err,
        LogError::InvalidProducerEpoch {
            producer_id: PID,
            epoch: 4,
            current: 5
        }
    ));
    let err = log
        .append(&idempotent_batch(PID, 5, 4, 1, 0), 0)
        .expect_err("gap");
    assert!(matches!(
        err,
        LogError::OutOfOrderSequence {
            producer_id: PID,
            epoch: 5,
            first_seq: 4,
            ..
        }
    ));
}

#[test]
fn multi_batch_payload_is_checked_in_order_and_retried_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), LogConfig::default(), false).expect("open");
    let mut payload = idempotent_batch(PID, 0, 0, 2, 1_000);
    payload.extend(idempotent_batch(PID, 0, 2, 3, 1_010));
    let info = log.append(&payload, 5_000).expect("two batches in order");
    assert_eq!((info.base_offset, info.last_offset), (0, 4));
    assert_duplicate(&mut log, &payload, &info);
}

#[test]
fn duplicate_detected_after_clean_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), small_config(), false).expect("open");
    let written = append_sequence(&mut log, 1, 6);
    log.close().expect("close");

    let mut log = Log::open(dir.path(), small_config(), true).expect("reopen");
    assert_eq!(
        log.producer_state().get(PID).map(|e| e.last_seq()),
        Some(17)
    );
    assert_duplicate(&mut log, &written[5].0, &written[5].1);
    assert_duplicate(&mut log, &written[1].0, &written[1].1);
    let gap = idempotent_batch(PID, 1, 19, 1, 0);
    assert_rejected(&mut log, &gap, OUT_OF_ORDER_SEQUENCE_NUMBER);
}

#[test]
fn duplicate_detected_after_unclean_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), small_config(), false).expect("open");
    let written = append_sequence(&mut log, 0, 6);
    // No close: no checkpoint at the end, so the reopen runs recovery.
    drop(log);

    let mut log = Log::open(dir.path(), small_config(), false).expect("reopen");
    assert_eq!(log.log_end_offset(), 18);
    assert_duplicate(&mut log, &written[4].0, &written[4].1);
    let old = idempotent_batch(PID, -1, 18, 1, 0);
    assert_rejected(&mut log, &old, INVALID_PRODUCER_EPOCH);
    let next = idempotent_batch(PID, 0, 18, 1, 0);
    assert_eq!(log.append(&next, 0).expect("in order").base_offset, 18);
}

#[test]
fn sequence_wraps_to_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), LogConfig::default(), false).expect("open");
    // An unknown producer may start anywhere, here just below the wrap.
    let last = idempotent_batch(PID, 0, i32::MAX - 2, 3, 1_000);
    let info = log.append(&last, 5_000).expect("ends at i32::MAX");
    assert_eq!(
        log.producer_state().get(PID).map(|e| e.last_seq()),
        Some(i32::MAX)
    );
    let wrapped = idempotent_batch(PID, 0, 0, 2, 1_000);
    assert_eq!(log.append(&wrapped, 5_000).expect("wraps").base_offset, 3);
    assert_duplicate(&mut log, &last, &info);
    let skipped = idempotent_batch(PID, 0, 3, 1, 1_000);
    assert_rejected(&mut log, &skipped, OUT_OF_ORDER_SEQUENCE_NUMBER);
}

#[test]
fn truncation_forgets_removed_batches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), small_config(), false).expect("open");
    let written = append_sequence(&mut log, 0, 6);
    let cut = written[4].1.base_offset;
    log.truncate_to(cut).expect("truncate");
    assert_eq!(log.log_end_offset(), cut);
    // Batch 3 is still there; batch 4 is gone, so resending it is new data.
    assert_duplicate(&mut log, &written[3].0, &written[3].1);
    let info = log
        .append(&written[4].0, 5_000)
        .expect("resend after truncation");
    assert!(!info.duplicate);
    assert_eq!(info.base_offset, cut);
    // Emptying the log forgets the producer entirely.
    log.truncate_to(0).expect("truncate all");
    assert!(log.producer_state().is_empty());
    assert!(
        !log.append(&written[2].0, 5_000)
            .expect("accepted")
            .duplicate
    );
}

#[test]
fn duplicate_on_log_append_time_topic_reports_the_original_append_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        timestamp_type: TimestampType::LogAppendTime,
        ..LogConfig::default()
    };
    let mut log = Log::open(dir.path(), config, false).expect("open");
    let payload = idempotent_batch(PID, 0, 0, 2, 1_000);
    let info = log.append(&payload, 77_000).expect("append");
    assert_eq!(info.log_append_time, 77_000);
    let retry = log.append(&payload, 88_000).expect("retry");
    assert!(retry.duplicate);
    assert_eq!(retry.log_append_time, 77_000);
    assert_eq!(retry.max_timestamp, 77_000);
}

#[test]
fn clean_close_snapshot_restores_state_and_is_consumed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), small_config(), false).expect("open");
    let written = append_sequence(&mut log, 0, 7);
    let other = idempotent_batch(PID + 1, 3, 50, 2, 0);
    log.append(&other, 0).expect("second producer");
    let state = log.producer_state().clone();
    log.close().expect("close");
    let snapshot = dir.path().join(SNAPSHOT_FILE);
    assert!(snapshot.exists());

    let mut log = Log::open(dir.path(), small_config(), true).expect("reopen");
    assert!(!snapshot.exists(), "an open consumes the snapshot");
    assert_eq!(log.producer_state(), &state);
    assert_duplicate(&mut log, &written[6].0, &written[6].1);
    assert!(log.append(&other, 0).expect("retry").duplicate);
}

#[test]
fn stale_or_corrupt_snapshot_falls_back_to_the_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let snapshot = dir.path().join(SNAPSHOT_FILE);
    let mut log = Log::open(dir.path(), small_config(), false).expect("open");
    append_sequence(&mut log, 0, 2);
    log.close().expect("close");
    let stale = std::fs::read(&snapshot).expect("snapshot");

    let mut log = Log::open(dir.path(), small_config(), true).expect("reopen");
    let more = idempotent_batch(PID, 0, 6, 2, 0);
    let info = log.append(&more, 0).expect("append");
    log.close().expect("close");
    // A snapshot taken at an older log end must not be believed.
    std::fs::write(&snapshot, &stale).expect("plant stale snapshot");
    let mut log = Log::open(dir.path(), small_config(), true).expect("reopen");
    assert_eq!(log.producer_state().get(PID).map(|e| e.last_seq()), Some(7));
    assert_duplicate(&mut log, &more, &info);
    log.close().expect("close");

    let mut bytes = std::fs::read(&snapshot).expect("snapshot");
    bytes[10] ^= 0x40;
    std::fs::write(&snapshot, &bytes).expect("corrupt snapshot");
    let mut log = Log::open(dir.path(), small_config(), true).expect("reopen");
    assert_eq!(log.producer_state().get(PID).map(|e| e.last_seq()), Some(7));
    assert_duplicate(&mut log, &more, &info);
}

/// Makes the active segment's writes fail (a read-only handle: EBADF) or work again.
fn set_active_writable(log: &mut Log, writable: bool) {
    let active = log.segments.last_mut().expect("active segment");
    let path = crate::segment::segment_path(&log.dir, active.base_offset, "log");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .append(writable)
        .open(&path)
        .expect("segment file");
    active.log.replace_handle(file);
}

#[test]
fn a_batch_behind_a_failed_write_gets_the_storage_error_not_a_sequence_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), LogConfig::default(), false).expect("open");
    append_sequence(&mut log, 0, 2);
    // The producer pipelines seq 6 and seq 9; the disk fails under seq 6.
    let first = idempotent_batch(PID, 0, 6, RECORDS_PER_BATCH, 1_000);
    let second = idempotent_batch(PID, 0, 9, RECORDS_PER_BATCH, 1_000);
    set_active_writable(&mut log, false);
    let err = log.append(&first, 5_000).expect_err("the write fails");
    assert_eq!(err.error_code(), 56, "{err}");
    // Seq 9 now leaves a gap, but the gap is the failed write's: same retriable error,
    // so the client retries both in order instead of resetting its producer epoch.
    let err = log
        .append(&second, 5_000)
        .expect_err("behind a failed write");
    assert_eq!(err.error_code(), 56, "{err}");
    assert!(err.to_string().contains("earlier batch"), "{err}");
    // The disk works again: the retries land in order and the exception is over.
    set_active_writable(&mut log, true);
    assert_eq!(log.append(&first, 5_000).expect("retry").base_offset, 6);
    assert_eq!(log.append(&second, 5_000).expect("retry").base_offset, 9);
    let gap = idempotent_batch(PID, 0, 20, 1, 1_000);
    assert_rejected(&mut log, &gap, OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_eq!(read_all_offsets(&log), (0..12).collect::<Vec<_>>());
}
