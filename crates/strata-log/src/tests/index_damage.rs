//! Damaged `.index` entries: found on open (every entry checked) or on lookup, and
//! never turned into failing fetches.

use std::fs;
use std::path::{Path, PathBuf};

use super::helpers::*;
use crate::Log;

fn first_index(dir: &Path) -> PathBuf {
    dir.join(format!("{:020}.index", 0))
}

/// A cleanly closed log of several segments with a few index entries each.
fn closed_log(dir: &Path) -> i64 {
    let mut log = Log::open(dir, small_config(), false).expect("open");
    for i in 0..60 {
        log.append(&batch(3, 1_000 + 10 * i, 40), 0)
            .expect("append");
    }
    assert!(log.segment_count() > 3);
    let end = log.log_end_offset();
    log.close().expect("close");
    end
}

/// Rewrites entry `i` of the offset index with `f(relative offset, position)`.
fn damage_entry(path: &Path, i: usize, f: impl Fn(u32, u32) -> (u32, u32)) {
    let mut bytes = fs::read(path).expect("read index");
    assert!(
        bytes.len() >= 8 * (i + 2),
        "index too short: {}",
        bytes.len()
    );
    let at = i * 8;
    let rel = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4"));
    let pos = u32::from_be_bytes(bytes[at + 4..at + 8].try_into().expect("4"));
    let (rel, pos) = f(rel, pos);
    bytes[at..at + 4].copy_from_slice(&rel.to_be_bytes());
    bytes[at + 4..at + 8].copy_from_slice(&pos.to_be_bytes());
    fs::write(path, bytes).expect("write index");
}

/// Every offset can be fetched and the fetch starts with the batch holding it.
fn assert_every_offset_reads(log: &Log, end: i64) {
    for offset in 0..end {
        let slice = log
            .read(offset, 300, i64::MAX, true)
            .unwrap_or_else(|e| panic!("read at {offset}: {e}"))
            .unwrap_or_else(|| panic!("nothing at {offset}"));
        let records = decode_records(&slice.read().expect("bytes"));
        assert!(
            records.iter().any(|r| r.0 == offset),
            "fetch at {offset} starts at {}",
            slice.first_offset
        );
    }
    assert_eq!(read_all_offsets(log), (0..end).collect::<Vec<_>>());
}

#[test]
fn an_index_entry_out_of_order_is_rebuilt_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let end = closed_log(dir.path());
    let path = first_index(dir.path());
    let original = fs::read(&path).expect("read");
    let entries = original.len() / 8;
    // The middle entry now points further than the next one: not monotonic.
    damage_entry(&path, entries / 2, |rel, pos| (rel, pos + 700));
    let log = Log::open(dir.path(), small_config(), true).expect("reopen");
    assert_every_offset_reads(&log, end);
    drop(log);
    assert_eq!(fs::read(&path).expect("read"), original, "index rebuilt");
}

#[test]
fn an_index_entry_shifted_inside_its_range_is_scanned_around() {
    let dir = tempfile::tempdir().expect("tempdir");
    let end = closed_log(dir.path());
    let path = first_index(dir.path());
    let entries = fs::read(&path).expect("read").len() / 8;
    // Still monotonic and inside the file, but no longer at a batch boundary.
    damage_entry(&path, entries / 2, |rel, pos| (rel, pos + 3));
    let log = Log::open(dir.path(), small_config(), true).expect("reopen");
    assert_every_offset_reads(&log, end);
}

#[test]
fn an_index_entry_naming_the_wrong_offset_is_scanned_around() {
    let dir = tempfile::tempdir().expect("tempdir");
    let end = closed_log(dir.path());
    let path = first_index(dir.path());
    let entries = fs::read(&path).expect("read").len() / 8;
    // Points at a real batch, but claims it starts one offset earlier: a lookup of
    // that offset would start past it.
    damage_entry(&path, entries / 2, |rel, pos| (rel - 1, pos));
    let log = Log::open(dir.path(), small_config(), true).expect("reopen");
    assert_every_offset_reads(&log, end);
}

#[test]
fn a_time_index_entry_out_of_order_is_rebuilt_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    closed_log(dir.path());
    let path = dir.path().join(format!("{:020}.timeindex", 0));
    let original = fs::read(&path).expect("read");
    let mut bytes = original.clone();
    assert!(bytes.len() >= 36, "a few time index entries");
    // The middle entry's relative offset far past the segment's end.
    let middle = (bytes.len() / 12 / 2) * 12;
    bytes[middle + 8..middle + 12].copy_from_slice(&u32::MAX.to_be_bytes());
    fs::write(&path, bytes).expect("write");
    drop(Log::open(dir.path(), small_config(), true).expect("reopen"));
    assert_eq!(
        fs::read(&path).expect("read"),
        original,
        "time index rebuilt"
    );
}
