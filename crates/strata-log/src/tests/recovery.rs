use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use strata_proto::batch::batches;

use super::helpers::*;
use crate::Log;

/// A batch as found on disk: (segment file index, position, size, base, next offset).
#[derive(Debug, Clone, Copy)]
struct Stored {
    file: usize,
    position: usize,
    size: usize,
    base: i64,
    next: i64,
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    files
}

fn stored_batches(dir: &Path) -> Vec<Stored> {
    let mut out = Vec::new();
    for (file, path) in segment_files(dir).iter().enumerate() {
        let bytes = fs::read(path).expect("read");
        let mut position = 0;
        for item in batches(&bytes) {
            let (header, raw) = item.expect("intact before damage");
            out.push(Stored {
                file,
                position,
                size: raw.len(),
                base: header.base_offset,
                next: header.next_offset(),
            });
            position += raw.len();
        }
    }
    out
}

/// Writes `payloads` and "crashes" (drops the log without closing).
fn write_and_crash(dir: &Path, payloads: &[(usize, usize)]) {
    let mut log = Log::open(dir, small_config(), false).expect("open");
    for &(n, len) in payloads {
        log.append(&batch(n, 1_000, len), 0).expect("append");
    }
    drop(log);
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    Truncate,
    Flip(u8),
}

fn check_recovery(payloads: &[(usize, usize)], file_pick: usize, pos_pick: usize, damage: Damage) {
    let dir = tempfile::tempdir().expect("tempdir");
    write_and_crash(dir.path(), payloads);
    let stored = stored_batches(dir.path());
    let files = segment_files(dir.path());
    let file = file_pick % files.len();
    let len = fs::metadata(&files[file]).expect("meta").len() as usize;
    let pos = pos_pick % len.max(1);
    let mut bytes = fs::read(&files[file]).expect("read");
    match damage {
        Damage::Truncate => bytes.truncate(pos),
        Damage::Flip(mask) => bytes[pos] ^= mask,
    }
    fs::write(&files[file], &bytes).expect("write");

    // Which batches must survive: everything before the damaged batch. A flip in the
    // partition-leader-epoch field (outside the CRC, harmless) damages nothing.
    let hit = stored
        .iter()
        .position(|b| b.file > file || (b.file == file && b.position + b.size > pos));
    let epoch_flip = matches!(damage, Damage::Flip(_))
        && hit.is_some_and(|i| {
            let b = stored[i];
            b.file == file && (12..16).contains(&(pos - b.position))
        });
    let survivors: Vec<Stored> = match hit {
        Some(i) if !epoch_flip => stored[..i].to_vec(),
        _ => stored.clone(),
    };
    let expected_end = survivors.last().map_or(0, |b| b.next);
    let expected_offsets: Vec<i64> = survivors.iter().flat_map(|b| b.base..b.next).collect();

    let mut log = Log::open(dir.path(), small_config(), false).expect("reopen");
    assert_eq!(
        log.log_end_offset(),
        expected_end,
        "damage {damage:?} at file {file} pos {pos}"
    );
    assert_eq!(read_all_offsets(&log), expected_offsets);
    let info = log
        .append(&batch(2, 5, 10), 0)
        .expect("append after recovery");
    assert_eq!(info.base_offset, expected_end);
    let slice = log
        .read(expected_end, 1 << 20, i64::MAX, true)
        .expect("read")
        .expect("new batch");
    let records = decode_records(&slice.read().expect("bytes"));
    assert_eq!(
        records.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![expected_end, expected_end + 1]
    );

    // A second crash and an unclean open find the same state.
    drop(log);
    let log = Log::open(dir.path(), small_config(), false).expect("reopen twice");
    assert_eq!(log.log_end_offset(), expected_end + 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn recovery_after_truncation_keeps_the_prefix(
        payloads in prop::collection::vec((1usize..5, 1usize..120), 1..40),
        file_pick in any::<usize>(),
        pos_pick in any::<usize>(),
    ) {
        check_recovery(&payloads, file_pick, pos_pick, Damage::Truncate);
    }

    #[test]
    fn recovery_after_corruption_keeps_the_prefix(
        payloads in prop::collection::vec((1usize..5, 1usize..120), 1..40),
        file_pick in any::<usize>(),
        pos_pick in any::<usize>(),
        mask in 1u8..=255,
    ) {
        check_recovery(&payloads, file_pick, pos_pick, Damage::Flip(mask));
    }
}

#[test]
fn torn_tail_after_a_flush_is_cut_and_the_flushed_part_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), small_config(), false).expect("open");
    for _ in 0..30 {
        log.append(&batch(2, 0, 50), 0).expect("append");
    }
    let task = log.prepare_flush();
    let flushed = task.sync().expect("sync");
    log.complete_flush(flushed).expect("complete");
    for _ in 0..5 {
        log.append(&batch(2, 0, 50), 0).expect("append");
    }
    drop(log);
    // Tear the last batch in half.
    let files = segment_files(dir.path());
    let last = files.last().expect("segment");
    let len = fs::metadata(last).expect("meta").len();
    let file = fs::OpenOptions::new().write(true).open(last).expect("open");
    file.set_len(len - 20).expect("tear");
    let log = Log::open(dir.path(), small_config(), false).expect("reopen");
    assert_eq!(log.log_end_offset(), 68);
    assert_eq!(read_all_offsets(&log), (0..68).collect::<Vec<_>>());
}

#[test]
fn clean_open_with_a_torn_active_segment_falls_back_to_the_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), small_config(), true).expect("open");
    for _ in 0..10 {
        log.append(&batch(2, 0, 50), 0).expect("append");
    }
    log.close().expect("close");
    let files = segment_files(dir.path());
    let last = files.last().expect("segment");
    let mut bytes = fs::read(last).expect("read");
    bytes.extend_from_slice(&[1, 2, 3]);
    fs::write(last, &bytes).expect("write");
    let log = Log::open(dir.path(), small_config(), true).expect("reopen");
    assert_eq!(log.log_end_offset(), 20);
    assert_eq!(read_all_offsets(&log), (0..20).collect::<Vec<_>>());
}

#[test]
fn sealed_segment_cut_at_a_batch_boundary_drops_the_later_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_and_crash(dir.path(), &[(2, 100); 40]);
    let stored = stored_batches(dir.path());
    assert!(segment_files(dir.path()).len() > 2);
    // Cut the first segment right after its third batch: what remains scans clean, but
    // the offsets after it are lost, so the later segments cannot be kept.
    let third = stored[2];
    assert_eq!(third.file, 0);
    let files = segment_files(dir.path());
    let file = fs::OpenOptions::new()
        .write(true)
        .open(&files[0])
        .expect("open");
    file.set_len((third.position + third.size) as u64)
        .expect("cut");
    let log = Log::open(dir.path(), small_config(), false).expect("reopen");
    assert_eq!(log.log_end_offset(), third.next);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(read_all_offsets(&log), (0..third.next).collect::<Vec<_>>());
}

/// Found by the `segment_recovery` fuzz target: a stored log start with no segment (or
/// past the recovered end) was clamped in memory only, so the start moved at the next
/// open once appends had passed it.
#[test]
fn a_stored_log_start_past_the_recovered_end_is_rewritten() {
    for with_segment in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        if with_segment {
            let mut log = Log::open(dir.path(), small_config(), false).expect("open");
            log.append(&batch(2, 1_000, 10), 1_000).expect("append");
            log.close().expect("close");
        }
        fs::write(dir.path().join("log-start-offset"), "0\n40\n").expect("write");
        let mut log = Log::open(dir.path(), small_config(), false).expect("open");
        let (start, end) = (log.log_start_offset(), log.log_end_offset());
        assert_eq!(start, end);
        log.append(&batch(3, 2_000, 10), 2_000).expect("append");
        log.close().expect("close");
        let log = Log::open(dir.path(), small_config(), true).expect("reopen");
        assert_eq!(
            log.log_start_offset(),
            start,
            "with segment: {with_segment}"
        );
        assert_eq!(log.log_end_offset(), end + 3);
    }
}

/// Found by the `segment_recovery` fuzz target: in the cleaner's range a sealed segment
/// is stretched to the next segment's base (its compacted tail), but a segment recovery
/// cut short was stretched too, after the later segments were dropped: the log end was
/// past every batch and reads from the start found nothing.
#[test]
fn a_damaged_segment_in_the_compacted_range_is_not_stretched_to_a_dropped_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join(format!("{:020}.log", 0)), [0x5au8; 100]).expect("write");
    fs::write(dir.path().join(format!("{:020}.log", 1)), b"").expect("write");
    fs::write(dir.path().join(format!("{:020}.log", 2)), b"").expect("write");
    fs::write(dir.path().join("cleaner-offset-checkpoint"), "0\n3\n3\n").expect("write");
    let mut log = Log::open(dir.path(), small_config(), false).expect("open");
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(read_all_offsets(&log), Vec::<i64>::new());
    log.append(&batch(2, 1_000, 10), 1_000).expect("append");
    assert_eq!(read_all_offsets(&log), vec![0, 1]);
}
