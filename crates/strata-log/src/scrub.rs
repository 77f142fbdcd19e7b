//! Checking sealed segments while the log serves (the broker's scrubber, and fetches
//! that met a batch failing its CRC), and repairing what is found as recovery does.
//!
//! The check runs without the partition lock: a sealed segment's file is only ever
//! replaced (cleaner, repair), deleted (retention) or cut (truncation). The check opens
//! the captured file once and reads that handle to the end; a file replaced or deleted
//! before it opened is an error of that check only (see `handles.rs`), never a read of
//! other data. Only a segment found damaged is scanned again under the lock, and
//! repaired from that scan.

use std::fs::File;
use std::io;
use std::sync::Arc;

use crate::check::{scan_file, DamagedBytes, Rules};
use crate::error::LogError;
use crate::handles::CachedFile;
use crate::load::report_moved;
use crate::log::Log;
use crate::quarantine;
use crate::recovery::rebuild_segment;
use crate::segment::{segment_path, Segment, LOG_EXT};

/// A sealed segment captured for a check without the log's lock.
#[derive(Debug, Clone)]
pub struct SealedSegment {
    base: i64,
    next_base: i64,
    file: Arc<CachedFile>,
    size: u64,
    verified: Arc<std::sync::atomic::AtomicU64>,
    allow_gaps: bool,
    known: Vec<crate::DamagedRange>,
    log_start: i64,
}

impl SealedSegment {
    /// The segment's base offset.
    pub fn base_offset(&self) -> i64 {
        self.base
    }

    /// Bytes to check.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Checks every batch (framing, offsets, CRC-32C) and finds the good batches past
    /// damage. `pace(bytes)` is called after each good batch with its size, so the
    /// caller can throttle. Empty when the segment is intact.
    pub fn check(&self, pace: &mut dyn FnMut(u64)) -> io::Result<Vec<DamagedBytes>> {
        let rules = self.rules();
        let scan = scan_file(
            &*self.file.get()?,
            self.size,
            self.base,
            &rules,
            &mut |_, header| {
                pace(header.total_size() as u64);
                Ok(())
            },
        )?;
        if scan.damaged.is_empty() {
            // Checked whole: fetches need not check it again in this process.
            self.verified
                .fetch_max(self.size, std::sync::atomic::Ordering::AcqRel);
        }
        Ok(scan.damaged)
    }

    fn rules(&self) -> Rules<'_> {
        Rules {
            index_interval: 0,
            expected_next: self.base,
            verify_crc: true,
            allow_gaps: self.allow_gaps,
            known_gaps: &self.known,
            log_start: self.log_start,
            next_base: Some(self.next_base),
            resync: true,
        }
    }
}

impl Log {
    /// Every sealed segment, oldest first, for checks without the lock.
    pub fn sealed_segments(&self) -> Vec<SealedSegment> {
        (0..self.segments.len().saturating_sub(1))
            .map(|i| self.sealed_segment(i))
            .collect()
    }

    /// The sealed segment whose data file is `file` (a fetch read a bad batch from it),
    /// `None` if it is the active one or no longer in the log.
    pub fn sealed_segment_of(&self, file: &Arc<File>) -> Option<SealedSegment> {
        let last = self.segments.len() - 1;
        self.segments[..last]
            .iter()
            .position(|s| s.log.is(file))
            .map(|i| self.sealed_segment(i))
    }

    /// Seals the active segment if `file` is its file (damage was found in it: it is
    /// repaired like any sealed segment, which it cannot be while written to); returns
    /// the sealed segment. `None` when `file` is not the active segment's or the
    /// active segment is empty.
    pub fn seal_active_holding(
        &mut self,
        file: &Arc<File>,
    ) -> Result<Option<SealedSegment>, LogError> {
        let last = self.segments.len() - 1;
        let active = &self.segments[last];
        if !active.log.is(file) || active.is_empty() {
            return Ok(None);
        }
        self.roll()?;
        Ok(Some(self.sealed_segment(last)))
    }

    fn sealed_segment(&self, i: usize) -> SealedSegment {
        let s = &self.segments[i];
        SealedSegment {
            base: s.base_offset,
            next_base: self.segments[i + 1].base_offset,
            file: Arc::clone(&s.log),
            size: s.size,
            verified: Arc::clone(&s.verified),
            allow_gaps: s.base_offset < self.cleaner.compacted_below,
            known: self.damaged.clone(),
            log_start: self.log_start_offset,
        }
    }

    /// Repairs a sealed segment a check found damaged, if it is still in the log with
    /// the same file: scans it again, moves the damaged bytes aside (ERROR log, counted,
    /// lost offsets recorded in [`Log::damaged_ranges`]) and installs the rewritten
    /// segment with rebuilt indexes. Returns what was moved aside (empty if nothing).
    pub fn repair_segment(&mut self, seg: &SealedSegment) -> Result<Vec<DamagedBytes>, LogError> {
        let last = self.segments.len() - 1;
        let Some(i) = self.segments[..last]
            .iter()
            .position(|s| s.base_offset == seg.base && Arc::ptr_eq(&s.log, &seg.file))
        else {
            return Ok(Vec::new());
        };
        let current = self.sealed_segment(i);
        let len = self.segments[i].size;
        let file = current.file.get()?;
        let scan = scan_file(&file, len, current.base, &current.rules(), &mut |_, _| {
            Ok(())
        })?;
        if scan.damaged.is_empty() {
            return Ok(Vec::new());
        }
        let ranges: Vec<(u64, u64)> = scan.damaged.iter().map(|d| (d.position, d.end)).collect();
        let saved = quarantine::move_aside(&self.dir, seg.base, &file, len, &ranges)?;
        report_moved(
            &segment_path(&self.dir, seg.base, LOG_EXT),
            &scan.damaged,
            &saved,
        );
        let lost: Vec<crate::DamagedRange> = scan.damaged.iter().map(|d| d.offsets).collect();
        let mut known = current.known.clone();
        known.extend_from_slice(&lost);
        let mut segment = Segment::open_for_rebuild(&self.files, &self.dir, seg.base)?;
        let rules = Rules {
            index_interval: self.config.index_interval_bytes,
            known_gaps: &known,
            resync: false,
            ..current.rules()
        };
        rebuild_segment(&mut segment, &rules)?;
        segment.next_offset = current.next_base;
        self.size_bytes = self.size_bytes - self.segments[i].size + segment.size;
        self.segments[i] = segment;
        self.record_damage(&lost)?;
        Ok(scan.damaged)
    }
}
