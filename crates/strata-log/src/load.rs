//! Loading the segments of a log on open, and repairing the damage recovery finds.

use std::path::PathBuf;

use crate::check::DamagedBytes;
use crate::damage::{self, DamagedRange};
use crate::error::LogError;
use crate::listing::Listing;
use crate::log::Log;
use crate::quarantine;
use crate::recovery::{
    load_active_tail, rebuild_segment, sealed_segment_is_sane, Rules, ScanOutcome,
};
use crate::segment::{segment_path, Segment, LOG_EXT};

impl Log {
    /// Opens every segment in `bases`: those before `scan_from` (and the active one
    /// after a clean shutdown) trusted after cheap checks, the others scanned and
    /// repaired (see [`Log::recover_segment`]). Lost offsets are recorded.
    pub(crate) fn load_segments(
        &mut self,
        listing: &Listing,
        scan_from: usize,
        clean_shutdown: bool,
    ) -> Result<(), LogError> {
        let bases = &listing.bases;
        let mut expected_next = bases[0];
        let mut found: Vec<DamagedRange> = Vec::new();
        for (i, &base) in bases.iter().enumerate() {
            let next_base = bases.get(i + 1).copied();
            // Only segments the cleaner may have rewritten can have offset gaps.
            let allow_gaps = base < self.cleaner.compacted_below;
            if let (true, Some(next_base)) = (i < scan_from, next_base) {
                if let Ok(mut segment) =
                    Segment::open_listed(&self.files, &self.dir, base, listing.has_txn_index(base))
                {
                    if sealed_segment_is_sane(&segment, next_base)? {
                        segment.next_offset = next_base;
                        expected_next = next_base;
                        self.segments.push(segment);
                        continue;
                    }
                }
            } else if clean_shutdown && next_base.is_none() {
                if let Ok(mut segment) =
                    Segment::open_listed(&self.files, &self.dir, base, listing.has_txn_index(base))
                {
                    if load_active_tail(&mut segment)? {
                        self.segments.push(segment);
                        continue;
                    }
                }
            }
            let mut segment =
                self.recover_segment(base, next_base, expected_next, allow_gaps, &mut found)?;
            if let Some(next_base) = next_base {
                // A segment that ends short of the next one's base lost its last
                // offsets (a cut at a batch boundary scans as intact), unless the
                // cleaner may have removed them or they are known damage already. The
                // later segments stay; the offsets between are a recorded gap.
                let end = segment.next_offset;
                let live_end = end.max(self.log_start_offset);
                let known = allow_gaps
                    || live_end >= next_base
                    || damage::covered(&self.damaged, live_end, next_base)
                    || damage::covered(&found, live_end, next_base);
                if end < next_base && !known {
                    tracing::error!(
                        file = %segment_path(&self.dir, base, LOG_EXT).display(),
                        lost_offsets = %format!("{end}..={}", next_base - 1),
                        "segment ends before the next one begins: offsets lost"
                    );
                    damage::count_corrupt(1);
                    found.push(DamagedRange {
                        start: end,
                        end: next_base,
                    });
                }
                // A sealed segment covers offsets up to the next base, even if its
                // tail was compacted away or lost.
                segment.next_offset = segment.next_offset.max(next_base);
            }
            expected_next = segment.next_offset;
            self.segments.push(segment);
        }
        self.record_damage(&found)
    }

    /// Scans segment `base` and rebuilds its indexes. Damaged bytes with good batches
    /// after them are moved aside (`quarantine.rs`), logged at ERROR and counted, and
    /// the segment scanned again; a torn tail of the last segment is truncated.
    fn recover_segment(
        &mut self,
        base: i64,
        next_base: Option<i64>,
        expected_next: i64,
        allow_gaps: bool,
        found: &mut Vec<DamagedRange>,
    ) -> Result<Segment, LogError> {
        let mut resync = true;
        loop {
            let mut segment = Segment::open_for_rebuild(&self.files, &self.dir, base)?;
            let mut known = self.damaged.clone();
            known.extend_from_slice(found);
            let rules = Rules {
                index_interval: self.config.index_interval_bytes,
                expected_next,
                verify_crc: true,
                allow_gaps,
                known_gaps: &known,
                log_start: self.log_start_offset,
                next_base,
                resync,
            };
            let file = segment_path(&self.dir, base, LOG_EXT);
            // The file's length, as found when the segment was opened for the rebuild.
            let len = segment.size;
            let log = segment.log.get()?;
            match rebuild_segment(&mut segment, &rules)? {
                ScanOutcome::Intact => return Ok(segment),
                ScanOutcome::Truncated {
                    valid_bytes,
                    complete,
                } => {
                    if complete {
                        // A whole batch that fails its checks at the very end: damage,
                        // not a torn write. Its offsets are reused by later appends
                        // (nothing after it holds them), its bytes are kept aside.
                        let aside =
                            quarantine::save_corrupt(&self.dir, base, &log, valid_bytes, len)?;
                        damage::count_corrupt(1);
                        tracing::error!(
                            file = %file.display(),
                            position = valid_bytes,
                            bytes = len - valid_bytes,
                            first_offset = segment.next_offset,
                            moved_to = %aside.display(),
                            "damaged batch at the end of the log truncated"
                        );
                    } else {
                        tracing::warn!(
                            file = %file.display(),
                            position = valid_bytes,
                            bytes = len - valid_bytes,
                            "torn tail truncated"
                        );
                    }
                    log.set_len(valid_bytes)?;
                    return Ok(segment);
                }
                ScanOutcome::Damaged(list) => {
                    let ranges: Vec<(u64, u64)> =
                        list.iter().map(|d| (d.position, d.end)).collect();
                    drop(segment);
                    let saved = quarantine::move_aside(&self.dir, base, &log, len, &ranges)?;
                    report_moved(&file, &list, &saved);
                    found.extend(list.iter().map(|d| d.offsets));
                    // The rewritten file holds only good batches; scan it once more
                    // without looking past damage, so this can never loop.
                    resync = false;
                }
            }
        }
    }
}

/// Logs each damaged range moved aside at ERROR and counts them.
pub(crate) fn report_moved(file: &std::path::Path, list: &[DamagedBytes], saved: &[PathBuf]) {
    for (d, aside) in list.iter().zip(saved) {
        tracing::error!(
            file = %file.display(),
            position = d.position,
            bytes = d.end - d.position,
            lost_offsets = %format!("{}..={}", d.offsets.start, d.offsets.end - 1),
            moved_to = %aside.display(),
            "damaged batches moved aside; the batches after them are kept"
        );
    }
    damage::count_corrupt(list.len() as u64);
}
