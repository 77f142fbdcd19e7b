use openraft::{CommittedLeaderId, EntryPayload};
use strata_meta::MetadataRecord;

use super::*;
use crate::types::LogId;

fn entry(term: u64, index: u64) -> Entry {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
        payload: EntryPayload::Normal(vec![MetadataRecord::ProducerIdsAllocated {
            next_producer_id: index as i64,
        }]),
    }
}

fn entries(term: u64, range: std::ops::Range<u64>) -> Vec<Entry> {
    range.map(|i| entry(term, i)).collect()
}

fn ids(entries: &[Entry]) -> Vec<(u64, u64)> {
    entries
        .iter()
        .map(|e| (e.log_id.leader_id.term, e.log_id.index))
        .collect()
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|d| d.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    files
}

#[test]
fn appended_entries_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, loaded) = SegmentLog::open(dir.path(), None, SEGMENT_BYTES).unwrap();
    assert!(loaded.is_empty());
    log.append(&entries(1, 0..3)).unwrap();
    log.append(&entries(2, 3..5)).unwrap();
    drop(log);
    let (_, loaded) = SegmentLog::open(dir.path(), None, SEGMENT_BYTES).unwrap();
    assert_eq!(ids(&loaded), vec![(1, 0), (1, 1), (1, 2), (2, 3), (2, 4)]);
    assert_eq!(loaded, {
        let mut all = entries(1, 0..3);
        all.extend(entries(2, 3..5));
        all
    });
}

#[test]
fn torn_tail_is_truncated_on_open_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = SegmentLog::open(dir.path(), None, SEGMENT_BYTES).unwrap();
    log.append(&entries(1, 0..5)).unwrap();
    drop(log);
    let file = segment_files(dir.path()).pop().unwrap();
    let full = fs::read(&file).unwrap();
    // Cut the last entry in half.
    fs::write(&file, &full[..full.len() - 7]).unwrap();

    let (mut log, loaded) = SegmentLog::open(dir.path(), None, SEGMENT_BYTES).unwrap();
    assert_eq!(loaded.len(), 4);
    assert!(fs::metadata(&file).unwrap().len() < full.len() as u64 - 7);
    log.append(&entries(3, 4..6)).unwrap();
    drop(log);
    let (_, loaded) = SegmentLog::open(dir.path(), None, SEGMENT_BYTES).unwrap();
    assert_eq!(
        ids(&loaded),
        vec![(1, 0), (1, 1), (1, 2), (1, 3), (3, 4), (3, 5)]
    );
}

#[test]
fn flipped_bits_in_the_tail_are_truncated_too() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = SegmentLog::open(dir.path(), None, SEGMENT_BYTES).unwrap();
    log.append(&entries(1, 0..3)).unwrap();
    drop(log);
    let file = segment_files(dir.path()).pop().unwrap();
    let mut bytes = fs::read(&file).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0xff;
    fs::write(&file, &bytes).unwrap();
    let (_, loaded) = SegmentLog::open(dir.path(), None, SEGMENT_BYTES).unwrap();
    assert_eq!(ids(&loaded), vec![(1, 0), (1, 1)]);
}

#[test]
fn segments_roll_and_truncation_crosses_them() {
    let dir = tempfile::tempdir().unwrap();
    // Tiny segments: every append after the first fills one.
    let (mut log, _) = SegmentLog::open(dir.path(), None, 1).unwrap();
    for i in 0..6 {
        log.append(&entries(1, i..i + 1)).unwrap();
    }
    assert_eq!(log.segment_count(), 6);
    log.truncate(3).unwrap();
    assert_eq!(log.segment_count(), 3);
    log.append(&entries(2, 3..5)).unwrap();
    drop(log);
    let (mut log, loaded) = SegmentLog::open(dir.path(), None, 1).unwrap();
    assert_eq!(ids(&loaded), vec![(1, 0), (1, 1), (1, 2), (2, 3), (2, 4)]);
    // Truncating inside a segment keeps its head.
    log.truncate(4).unwrap();
    drop(log);
    let (_, loaded) = SegmentLog::open(dir.path(), None, 1).unwrap();
    assert_eq!(ids(&loaded), vec![(1, 0), (1, 1), (1, 2), (2, 3)]);
}

#[test]
fn truncate_inside_one_big_segment() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = SegmentLog::open(dir.path(), None, SEGMENT_BYTES).unwrap();
    log.append(&entries(1, 0..10)).unwrap();
    log.truncate(6).unwrap();
    log.append(&entries(4, 6..8)).unwrap();
    drop(log);
    let (_, loaded) = SegmentLog::open(dir.path(), None, SEGMENT_BYTES).unwrap();
    assert_eq!(loaded.len(), 8);
    assert_eq!(ids(&loaded[5..]), vec![(1, 5), (4, 6), (4, 7)]);
}

#[test]
fn purge_removes_whole_segments_and_open_skips_purged_entries() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = SegmentLog::open(dir.path(), None, 1).unwrap();
    log.append(&entries(1, 0..2)).unwrap();
    log.append(&entries(1, 2..4)).unwrap();
    log.append(&entries(1, 4..6)).unwrap();
    assert_eq!(log.segment_count(), 3);
    // 2 is inside the second segment: only the first can go.
    log.purge(2).unwrap();
    assert_eq!(log.segment_count(), 2);
    drop(log);
    let (mut log, loaded) = SegmentLog::open(dir.path(), Some(2), 1).unwrap();
    assert_eq!(ids(&loaded), vec![(1, 3), (1, 4), (1, 5)]);
    // Purging past the end (a snapshot installed far ahead) empties the log, and
    // appends continue after the purge point.
    log.purge(9).unwrap();
    assert_eq!(log.segment_count(), 0);
    log.append(&entries(2, 10..12)).unwrap();
    drop(log);
    let (_, loaded) = SegmentLog::open(dir.path(), Some(9), 1).unwrap();
    assert_eq!(ids(&loaded), vec![(2, 10), (2, 11)]);
}

#[test]
fn damage_in_a_sealed_segment_is_an_error_not_a_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = SegmentLog::open(dir.path(), None, 1).unwrap();
    log.append(&entries(1, 0..2)).unwrap();
    log.append(&entries(1, 2..4)).unwrap();
    drop(log);
    let first = segment_files(dir.path()).remove(0);
    let mut bytes = fs::read(&first).unwrap();
    bytes[10] ^= 0xff;
    fs::write(&first, &bytes).unwrap();
    let err = SegmentLog::open(dir.path(), None, 1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    // The files are left alone.
    assert_eq!(fs::read(&first).unwrap(), bytes);
}

#[test]
fn appends_must_continue_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = SegmentLog::open(dir.path(), None, SEGMENT_BYTES).unwrap();
    log.append(&entries(1, 0..2)).unwrap();
    assert_eq!(
        log.append(&entries(1, 5..6)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let mut gappy = entries(1, 2..3);
    gappy.push(entry(1, 9));
    assert!(log.append(&gappy).is_err());
    log.append(&entries(1, 2..3)).unwrap();
}
