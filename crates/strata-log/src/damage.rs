//! Damage found in a log: the offset ranges it cost, persisted in `damaged-offsets`,
//! and the process-wide count of damaged batch ranges (`strata_log_corrupt_batches_total`).
//!
//! A damaged range is an offset gap the log did not choose: recovery or the scrubber
//! moved unreadable bytes aside (see `quarantine.rs`). It is kept on disk so that a
//! reopen knows the gap is not new damage, and so the broker can repair it: a follower
//! truncates to the start of its first damaged range and fetches the rest again from
//! the leader; a leader keeps the gap (consumers skip it as they skip compaction gaps).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::checkpoint::sync_dir;
use crate::error::LogError;
use crate::log::Log;

/// File name of the damaged ranges inside the partition directory.
pub(crate) const DAMAGE_FILE: &str = "damaged-offsets";
const FORMAT_VERSION: &str = "0";
/// The file is never read past this (a damaged file must not size an allocation).
const MAX_FILE_BYTES: u64 = 1 << 20;

static CORRUPT_BATCHES: AtomicU64 = AtomicU64::new(0);

/// Damaged batch ranges found by this process so far, in every log (one per
/// contiguous run of bytes that failed their checks, or per lost offset range without
/// bytes). Exposed by the broker as `strata_log_corrupt_batches_total`.
pub fn corrupt_batches_total() -> u64 {
    CORRUPT_BATCHES.load(Ordering::Relaxed)
}

pub(crate) fn count_corrupt(ranges: u64) {
    CORRUPT_BATCHES.fetch_add(ranges, Ordering::Relaxed);
}

/// Offsets `[start, end)` lost to damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DamagedRange {
    /// First lost offset.
    pub start: i64,
    /// Offset after the last lost one.
    pub end: i64,
}

/// Sorts and merges overlapping or touching ranges; drops empty ones.
pub(crate) fn normalize(ranges: &mut Vec<DamagedRange>) {
    ranges.retain(|r| r.start < r.end);
    ranges.sort_unstable_by_key(|r| r.start);
    let mut merged: Vec<DamagedRange> = Vec::with_capacity(ranges.len());
    for r in ranges.drain(..) {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    *ranges = merged;
}

/// Whether `[from, to)` lies inside the union of `ranges` (normalized or not).
pub(crate) fn covered(ranges: &[DamagedRange], from: i64, to: i64) -> bool {
    let mut sorted: Vec<DamagedRange> = ranges.to_vec();
    normalize(&mut sorted);
    let mut at = from;
    for r in &sorted {
        if at >= to {
            break;
        }
        if r.start <= at && r.end > at {
            at = r.end;
        }
    }
    at >= to
}

/// Reads the damaged ranges of `dir`; empty when absent or unreadable (a lost file
/// only makes the next unclean open report the gaps again).
pub(crate) fn read(dir: &Path) -> Vec<DamagedRange> {
    let Ok(file) = File::open(dir.join(DAMAGE_FILE)) else {
        return Vec::new();
    };
    let mut text = String::new();
    if file.take(MAX_FILE_BYTES).read_to_string(&mut text).is_err() {
        return Vec::new();
    }
    let mut lines = text.lines();
    if lines.next() != Some(FORMAT_VERSION) {
        return Vec::new();
    }
    let mut ranges: Vec<DamagedRange> = lines
        .filter_map(|line| {
            let (a, b) = line.trim().split_once(' ')?;
            let (start, end) = (a.parse().ok()?, b.parse().ok()?);
            (0 <= start && start < end).then_some(DamagedRange { start, end })
        })
        .collect();
    normalize(&mut ranges);
    ranges
}

/// Replaces the damaged ranges of `dir` durably (temp file, fsync, rename); removes the
/// file when there are none.
pub(crate) fn write(dir: &Path, ranges: &[DamagedRange]) -> io::Result<()> {
    let path = dir.join(DAMAGE_FILE);
    if ranges.is_empty() {
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            Err(_) => return Ok(()),
            Ok(()) => return sync_dir(dir),
        }
    }
    let tmp = dir.join(format!("{DAMAGE_FILE}.tmp"));
    let mut text = format!("{FORMAT_VERSION}\n");
    for r in ranges {
        text.push_str(&format!("{} {}\n", r.start, r.end));
    }
    let mut f = File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, &path)?;
    sync_dir(dir)
}

impl Log {
    /// Offset ranges lost to damage that are still inside the log (sorted, disjoint).
    /// A follower should truncate to the first one's start and fetch again.
    pub fn damaged_ranges(&self) -> &[DamagedRange] {
        &self.damaged
    }

    /// Adds ranges found damaged and persists the list.
    pub(crate) fn record_damage(&mut self, found: &[DamagedRange]) -> Result<(), LogError> {
        if found.is_empty() {
            return Ok(());
        }
        self.damaged.extend_from_slice(found);
        normalize(&mut self.damaged);
        write(&self.dir, &self.damaged)?;
        Ok(())
    }

    /// Forgets damage outside `[log start, log end)` (truncated, refetched or deleted
    /// by retention), persisting the list if it changed.
    pub(crate) fn forget_damage_outside_log(&mut self) -> Result<(), LogError> {
        let (start, end) = (self.log_start_offset, self.log_end_offset());
        let mut kept: Vec<DamagedRange> = self
            .damaged
            .iter()
            .map(|r| DamagedRange {
                start: r.start.max(start),
                end: r.end.min(end),
            })
            .collect();
        normalize(&mut kept);
        if kept != self.damaged {
            self.damaged = kept;
            write(&self.dir, &self.damaged)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: i64, end: i64) -> DamagedRange {
        DamagedRange { start, end }
    }

    #[test]
    fn ranges_merge_and_cover() {
        let mut v = vec![r(10, 20), r(0, 5), r(20, 25), r(3, 4), r(7, 7)];
        normalize(&mut v);
        assert_eq!(v, vec![r(0, 5), r(10, 25)]);
        assert!(covered(&v, 11, 25));
        assert!(covered(&v, 3, 3));
        assert!(!covered(&v, 4, 11));
    }

    #[test]
    fn file_round_trip_and_garbage() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), &[r(1, 3), r(8, 9)]).expect("write");
        assert_eq!(read(dir.path()), vec![r(1, 3), r(8, 9)]);
        fs::write(dir.path().join(DAMAGE_FILE), "0\n5 2\nx y\n4 6\n").expect("write");
        assert_eq!(read(dir.path()), vec![r(4, 6)]);
        write(dir.path(), &[]).expect("remove");
        assert!(read(dir.path()).is_empty());
    }
}
