use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use strata_proto::batch::batches;

use super::helpers::*;
use crate::{DamagedRange, Log};

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

    // Which batches must survive. A flip costs the batch it hits (nothing if it hits
    // the partition-leader-epoch field, outside the CRC). A cut costs the cut batch
    // and the rest of its segment; later segments stay.
    let hit = stored
        .iter()
        .position(|b| b.file > file || (b.file == file && b.position + b.size > pos));
    let epoch_flip = matches!(damage, Damage::Flip(_))
        && hit.is_some_and(|i| {
            let b = stored[i];
            b.file == file && (12..16).contains(&(pos - b.position))
        });
    let survivors: Vec<Stored> = match (hit, damage) {
        (None, _) => stored.clone(),
        (Some(_), Damage::Flip(_)) if epoch_flip => stored.clone(),
        (Some(i), Damage::Flip(_)) => {
            let mut kept = stored.clone();
            kept.remove(i);
            kept
        }
        (Some(_), Damage::Truncate) => stored
            .iter()
            .filter(|b| b.file != file || b.position + b.size <= pos)
            .copied()
            .collect(),
    };
    // Only the last batch of the log, if lost, gives its offsets back.
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
    fn recovery_after_truncation_keeps_all_but_the_cut_segment_tail(
        payloads in prop::collection::vec((1usize..5, 1usize..120), 1..40),
        file_pick in any::<usize>(),
        pos_pick in any::<usize>(),
    ) {
        check_recovery(&payloads, file_pick, pos_pick, Damage::Truncate);
    }

    #[test]
    fn recovery_after_corruption_keeps_all_but_the_hit_batch(
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
fn sealed_segment_cut_at_a_batch_boundary_keeps_the_later_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_and_crash(dir.path(), &[(2, 100); 40]);
    let stored = stored_batches(dir.path());
    let files = segment_files(dir.path());
    assert!(files.len() > 2);
    // Cut the first segment right after its third batch: what remains scans clean, but
    // the offsets up to the next segment are lost; they are a recorded gap, and the
    // later segments stay.
    let third = stored[2];
    assert_eq!(third.file, 0);
    let next_base = stored.iter().find(|b| b.file == 1).expect("segment 1").base;
    let file = fs::OpenOptions::new()
        .write(true)
        .open(&files[0])
        .expect("open");
    file.set_len((third.position + third.size) as u64)
        .expect("cut");
    let end = stored.last().expect("batches").next;
    let log = Log::open(dir.path(), small_config(), false).expect("reopen");
    assert_eq!(log.log_end_offset(), end);
    assert_eq!(log.segment_count(), files.len());
    assert_eq!(
        log.damaged_ranges(),
        &[DamagedRange {
            start: third.next,
            end: next_base
        }]
    );
    let expected: Vec<i64> = (0..third.next).chain(next_base..end).collect();
    assert_eq!(read_all_offsets(&log), expected);
}

/// Issue 11: one flipped byte in the middle of a sealed segment, then an unclean
/// restart, cost the four later segments. Now it costs the batch it hits.
#[test]
fn a_flipped_byte_mid_sealed_segment_costs_only_its_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = crate::LogConfig {
        segment_bytes: 10_000,
        index_interval_bytes: 512,
        ..crate::LogConfig::default()
    };
    let mut log = Log::open(dir.path(), config.clone(), false).expect("open");
    let mut i = 0;
    while log.segment_count() < 5 || i % 10 != 0 {
        log.append(&batch(4, i, 40), 0).expect("append");
        i += 1;
    }
    drop(log);
    let files = segment_files(dir.path());
    assert_eq!(files.len(), 5, "five segments");
    let stored = stored_batches(dir.path());
    let in_second: Vec<Stored> = stored.iter().filter(|b| b.file == 1).copied().collect();
    let hit = in_second[in_second.len() / 2];
    let mut bytes = fs::read(&files[1]).expect("read");
    // A byte inside the records (covered by the CRC).
    bytes[hit.position + 70] ^= 0x10;
    fs::write(&files[1], &bytes).expect("write");

    let before = crate::corrupt_batches_total();
    let log = Log::open(dir.path(), config.clone(), false).expect("reopen");
    assert_eq!(crate::corrupt_batches_total(), before + 1);
    let end = stored.last().expect("batches").next;
    assert_eq!(log.log_end_offset(), end);
    assert_eq!(
        log.damaged_ranges(),
        &[DamagedRange {
            start: hit.base,
            end: hit.next
        }]
    );
    let expected: Vec<i64> = (0..end)
        .filter(|o| !(hit.base..hit.next).contains(o))
        .collect();
    assert_eq!(read_all_offsets(&log), expected);
    // Every fetch inside the segment works (the index was rebuilt for the new file).
    for offset in expected.iter().copied() {
        let slice = log
            .read(offset, 200, i64::MAX, true)
            .expect("read")
            .expect("batch");
        assert!(slice.first_offset <= offset && offset <= slice.last_offset);
    }
    // The damaged bytes were moved aside, never to be served.
    let corrupt = dir.path().join(format!(
        "{:020}.log.{}.corrupt",
        in_second[0].base, hit.position
    ));
    assert_eq!(
        fs::read(&corrupt).expect("corrupt file"),
        bytes[hit.position..hit.position + hit.size]
    );
    assert_eq!(
        fs::metadata(&files[1]).expect("meta").len() as usize,
        bytes.len() - hit.size
    );
    drop(log);

    // Another unclean open finds the recorded gap, not new damage.
    let log = Log::open(dir.path(), config.clone(), false).expect("reopen again");
    assert_eq!(crate::corrupt_batches_total(), before + 1);
    assert_eq!(read_all_offsets(&log), expected);
    log.close().expect("close");
    let mut log = Log::open(dir.path(), config, true).expect("clean reopen");
    assert_eq!(read_all_offsets(&log), expected);
    assert_eq!(log.damaged_ranges().len(), 1);
    // The kept bytes go when their segment goes (here by DeleteRecords), not before.
    let third = stored
        .iter()
        .find(|b| b.file == 2)
        .expect("third segment")
        .base;
    log.delete_records_before(third - 1)
        .expect("delete records");
    assert!(
        corrupt.exists(),
        "segment 1 still holds offsets at or above the log start"
    );
    log.delete_records_before(third).expect("delete records");
    assert!(!corrupt.exists(), "removed with its segment");
    assert!(log.damaged_ranges().is_empty());
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

/// Found by the `segment_recovery` fuzz target (when damage still dropped the later
/// segments): a junk segment in the cleaner's range was stretched to the base of a
/// segment that had just been deleted, so the log end pointed past every batch. Now the
/// later segments stay; the junk is a compacted-range gap up to them, and appends
/// continue after the last segment's base.
#[test]
fn a_junk_segment_in_the_compacted_range_keeps_the_later_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join(format!("{:020}.log", 0)), [0x5au8; 100]).expect("write");
    fs::write(dir.path().join(format!("{:020}.log", 1)), b"").expect("write");
    fs::write(dir.path().join(format!("{:020}.log", 2)), b"").expect("write");
    fs::write(dir.path().join("cleaner-offset-checkpoint"), "0\n3\n3\n").expect("write");
    let mut log = Log::open(dir.path(), small_config(), false).expect("open");
    assert_eq!(log.log_end_offset(), 2);
    // Nothing to serve below the end: a read finds no batch (a consumer waits there).
    assert!(log
        .read(0, 1 << 20, i64::MAX, true)
        .expect("read")
        .is_none());
    log.append(&batch(2, 1_000, 10), 1_000).expect("append");
    assert_eq!(read_all_offsets(&log), vec![2, 3]);
}

/// Found by the `segment_recovery` fuzz target: `damaged-offsets` forgets ranges below
/// the log start, so after damage at the head of a log whose start had moved (here by
/// DeleteRecords) the next full scan saw the first good batch as a gap nobody knew of,
/// and moved every good batch of the segment aside as damage. Offsets below the log
/// start are deleted: a gap there is no damage, however often the log is scanned.
#[test]
fn damage_below_the_log_start_costs_nothing_on_later_scans() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), small_config(), false).expect("open");
    for _ in 0..3 {
        log.append(&batch(10, 1_000, 10), 1_000).expect("append");
    }
    assert_eq!(log.delete_records_before(5).expect("delete records"), 5);
    drop(log); // a crash: the next open scans everything
    let first = segment_files(dir.path())[0].clone();
    let mut bytes = fs::read(&first).expect("read");
    bytes[40] ^= 0x55; // inside the first batch (offsets 0..10)
    fs::write(&first, &bytes).expect("write");

    let mut log = Log::open(dir.path(), small_config(), false).expect("open after damage");
    assert_eq!(log.log_start_offset(), 5);
    assert_eq!(log.damaged_ranges(), &[DamagedRange { start: 5, end: 10 }]);
    assert_eq!(read_all_offsets(&log), (10..30).collect::<Vec<_>>());
    log.append(&batch(2, 2_000, 10), 2_000).expect("append");
    let size = log.size_bytes();
    drop(log);
    let corrupt_files = |d: &Path| {
        fs::read_dir(d)
            .expect("dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".corrupt"))
            })
            .count()
    };
    assert_eq!(corrupt_files(dir.path()), 1);

    // Scanned again (another crash), then a clean close and a clean reopen: the same log.
    let log = Log::open(dir.path(), small_config(), false).expect("second unclean open");
    assert_eq!(log.size_bytes(), size);
    assert_eq!(read_all_offsets(&log), (10..32).collect::<Vec<_>>());
    assert_eq!(log.damaged_ranges(), &[DamagedRange { start: 5, end: 10 }]);
    log.close().expect("close");
    let log = Log::open(dir.path(), small_config(), true).expect("clean reopen");
    assert_eq!(log.size_bytes(), size);
    assert_eq!(read_all_offsets(&log), (10..32).collect::<Vec<_>>());
    assert_eq!(corrupt_files(dir.path()), 1, "no good batch moved aside");
}

/// Found by the `segment_recovery` fuzz target: a stored batch holding offset
/// `i64::MAX` has no offset after it, so the log end saturated inside the batch and a
/// read served past the end. Recovery treats such a batch as damage.
#[test]
fn a_batch_holding_the_largest_offset_is_damage() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A good batch, junk, then (where recovery resynchronises) a batch at i64::MAX.
    let mut bytes = batch(1, 1_000, 10);
    bytes.extend_from_slice(&[0x5a; 40]);
    let mut last = batch(1, 1_001, 10);
    last[..8].copy_from_slice(&i64::MAX.to_be_bytes());
    bytes.extend_from_slice(&last);
    fs::write(dir.path().join(format!("{:020}.log", 0)), &bytes).expect("write");
    let mut log = Log::open(dir.path(), small_config(), false).expect("open");
    assert_eq!(log.log_end_offset(), 1);
    assert_eq!(read_all_offsets(&log), vec![0]);
    log.append(&batch(1, 2_000, 10), 2_000).expect("append");
    assert_eq!(read_all_offsets(&log), vec![0, 1]);
}
