//! Log compaction (`cleanup.policy=compact`): the log cleaner.
//!
//! A clean builds a key → latest offset map over the *dirty section* — the sealed
//! segments from the cleaner checkpoint's first dirty offset up to the first segment
//! that may not be cleaned (the active segment, one holding records newer than
//! `min.compaction.lag.ms`, or one reaching past the caller's bound). It then rewrites
//! every sealed segment from the start of the log through the dirty section, keeping
//! for each key only the record at its latest offset. Records keep their offsets (the
//! log gets gaps); batches keep their base offset, last offset delta, producer fields
//! and leader epoch, and compressed batches are recompressed with their codec. A
//! segment that would not change is not rewritten.
//!
//! Tombstones (null values) use the record-batch delete horizon (KIP-534): the first
//! clean that keeps a tombstone sets the batch's delete-horizon attribute and stores
//! `now + delete.retention.ms` in its base timestamp field (record timestamps are
//! re-encoded relative to it, so readers see the same timestamps). A clean at or after
//! that horizon removes the tombstone. With `delete.retention.ms = 0` a tombstone
//! goes in the first clean that sees it as the latest record of its key.
//!
//! Transactions (see [`txn`]): a clean stops before the first unstable offset; records of
//! aborted transactions are removed, committed ones are compacted like any others, a
//! marker goes a delete horizon after its transaction lost its last batch (an ABORT
//! marker with its aborted-index entry). Batches of unknown codec are left as they are. A data batch that loses
//! all its records is dropped unless
//! it is its idempotent producer's newest batch, which survives as an empty batch so
//! the producer's sequence state can still be rebuilt from headers after a restart.
//! Records without a key are kept (a compacted topic should refuse them at produce).
//!
//! Crash safety: see [`swap`]. The cleaner checkpoint (`cleaner-offset-checkpoint`)
//! records the first dirty offset and the extent of segments that may have offset gaps;
//! the latter is raised before a clean commits, so recovery never mistakes compacted
//! segments for damaged ones.

pub(crate) mod batch;
mod plan;
mod rewrite;
pub(crate) mod swap;
mod txn;

use std::collections::HashMap;
use std::fs;

use crate::checkpoint::{self, sync_dir, CleanerCheckpoint};
use crate::error::LogError;
use crate::log::Log;
use crate::segment::Segment;
use rewrite::{build_map, rewrite_segment, Filter, Tally};
use swap::{staged_path, CLEANED_SUFFIX, RENAME_ORDER, SWAP_SUFFIX};
use txn::Aborts;

/// Result of one [`Log::clean`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CleanStats {
    /// Distinct keys in the dirty section's offset map.
    pub keys_mapped: usize,
    /// Segment bytes read (map pass and rewrite pass), as reported to the throttle.
    pub bytes_read: u64,
    /// Segments replaced by a cleaned copy.
    pub segments_rewritten: usize,
    /// Size of the replaced segments before the clean.
    pub bytes_before: u64,
    /// Size of their cleaned copies.
    pub bytes_after: u64,
    /// Records removed (superseded records and expired tombstones).
    pub records_removed: u64,
    /// Of those, expired tombstones.
    pub tombstones_removed: u64,
    /// Of those, records of aborted transactions.
    pub aborted_records_removed: u64,
    /// Transaction markers removed (their transactions had no records left).
    pub markers_removed: u64,
    /// The cleaner's first dirty offset after the clean.
    pub first_dirty_offset: i64,
}

/// Points of a clean where a crash can happen; [`Log::clean_with_hook`] calls the hook
/// after reaching each, and a hook error stops the clean on the spot, leaving the files
/// exactly as a crash there would (tests use this to check recovery).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanStep {
    /// Every `.cleaned` file is written and fsynced.
    CleanedWritten,
    /// The cleaner checkpoint now allows offset gaps in the segments being replaced.
    GapsAllowed,
    /// One `.cleaned` file was renamed to `.swap`.
    RenamedToSwap {
        /// Base offset of the segment.
        base_offset: i64,
        /// File extension (`index`, `timeindex`, `txnindex` or `log`).
        ext: &'static str,
    },
    /// Every file is renamed to `.swap` and the directory fsynced: the commit point.
    Committed,
    /// One `.swap` file replaced its final file.
    Installed {
        /// Base offset of the segment.
        base_offset: i64,
        /// File extension (`index`, `timeindex`, `txnindex` or `log`).
        ext: &'static str,
    },
    /// The cleaner checkpoint holds the new first dirty offset; the clean is complete.
    CheckpointWritten,
}

/// A hook that never interrupts.
fn no_hook(_: CleanStep) -> Result<(), LogError> {
    Ok(())
}

impl Log {
    /// Compacts the sealed segments (see the module docs of `clean`): keeps only the
    /// latest record of every key, removes tombstones past their delete horizon. Never
    /// touches the active segment. Does nothing unless `cleanup_compact`.
    ///
    /// `throttle` is called with the bytes read after each batch, so the caller can
    /// rate-limit (sleep) in it. Synchronous and I/O heavy: run it on a blocking thread.
    /// After an error the log stays consistent on disk; an error after the commit point
    /// (a failed rename while installing) requires reopening the log, and the next clean
    /// refuses to run until then.
    pub fn clean(
        &mut self,
        now_ms: i64,
        throttle: &mut dyn FnMut(u64),
    ) -> Result<CleanStats, LogError> {
        self.clean_with_hook(now_ms, i64::MAX, throttle, &mut no_hook)
    }

    /// Like [`Log::clean`], but only segments entirely below `max_offset` are cleaned
    /// (pass the high watermark or last stable offset: records that may still be
    /// truncated or belong to open transactions are never compacted).
    pub fn clean_below(
        &mut self,
        now_ms: i64,
        max_offset: i64,
        throttle: &mut dyn FnMut(u64),
    ) -> Result<CleanStats, LogError> {
        self.clean_with_hook(now_ms, max_offset, throttle, &mut no_hook)
    }

    /// [`Log::clean_below`] with a `hook` called at every [`CleanStep`]; an error from
    /// the hook aborts the clean immediately without any cleanup, as a crash would.
    pub fn clean_with_hook(
        &mut self,
        now_ms: i64,
        max_offset: i64,
        throttle: &mut dyn FnMut(u64),
        hook: &mut dyn FnMut(CleanStep) -> Result<(), LogError>,
    ) -> Result<CleanStats, LogError> {
        let mut stats = CleanStats {
            first_dirty_offset: self.first_dirty_offset(),
            ..CleanStats::default()
        };
        if !self.config.cleanup_compact {
            return Ok(stats);
        }
        swap::check_no_pending(&self.dir)?;
        // Every transaction the clean reads is decided, its marker below the high
        // watermark.
        let max_offset = self
            .first_unstable_offset()
            .map_or(max_offset, |o| o.min(max_offset));
        let range = self.dirty_range(now_ms, max_offset);
        let aborts = self.all_aborts()?;
        let mut map = HashMap::new();
        let mut tally = Tally::default();
        let limit = self.config.max_message_bytes as usize;
        build_map(
            &self.segments[range.start..range.end],
            &aborts,
            &mut map,
            &mut tally,
            throttle,
            limit,
        )?;
        stats.keys_mapped = map.len();
        let filter = Filter {
            map: &map,
            now_ms,
            delete_retention_ms: self.config.delete_retention_ms,
            producers: &self.producers,
            aborts: &aborts,
            limit,
        };
        let interval = self.config.index_interval_bytes;
        let mut cleaned: Vec<(usize, Segment)> = Vec::new();
        for i in 0..range.end {
            let segment = &self.segments[i];
            match rewrite_segment(
                &self.files,
                &self.dir,
                segment,
                interval,
                &filter,
                &mut tally,
                throttle,
            ) {
                Ok(Some(out)) => cleaned.push((i, out)),
                Ok(None) => {}
                Err(err) => {
                    let mut bases: Vec<i64> = cleaned.iter().map(|(_, s)| s.base_offset).collect();
                    bases.push(segment.base_offset);
                    swap::discard(&self.dir, &bases, CLEANED_SUFFIX);
                    return Err(err);
                }
            }
        }
        stats.bytes_read = tally.bytes_read;
        stats.records_removed = tally.records_removed;
        stats.tombstones_removed = tally.tombstones_removed;
        stats.aborted_records_removed = tally.aborted_removed;
        stats.markers_removed = tally.markers_removed;
        stats.segments_rewritten = cleaned.len();
        for (i, out) in &cleaned {
            stats.bytes_before += self.segments[*i].size;
            stats.bytes_after += out.size;
        }
        let first_dirty = if range.end > range.start {
            self.segments[range.end - 1].next_offset
        } else {
            self.cleaner.first_dirty
        };
        if !cleaned.is_empty() {
            self.commit(cleaned, hook)?;
        }
        let done = CleanerCheckpoint {
            first_dirty,
            ..self.cleaner
        };
        if done != self.cleaner {
            checkpoint::write_cleaner(&self.dir, done)?;
            self.cleaner = done;
        }
        hook(CleanStep::CheckpointWritten)?;
        self.next_tombstone_horizon = tally.min_horizon;
        stats.first_dirty_offset = self.first_dirty_offset();
        Ok(stats)
    }

    /// Every aborted transaction in the segments' aborted indexes. A damaged index fails
    /// the clean: an abort missed would let aborted records supersede committed ones.
    fn all_aborts(&self) -> Result<Aborts, LogError> {
        let mut aborts = Aborts::default();
        for segment in &self.segments {
            let mut read = 0u64;
            segment.txn_index.walk(&mut |txn| {
                aborts.add(txn);
                read += 1;
                true
            })?;
            if read != segment.txn_index.entry_count() {
                return Err(LogError::Corrupt(format!(
                    "aborted-transaction index of segment {} is damaged: {read} of {} \
                     entries readable; not cleaning",
                    segment.base_offset,
                    segment.txn_index.entry_count()
                )));
            }
        }
        aborts.finish();
        Ok(aborts)
    }

    /// Swaps the cleaned segments in (see [`swap`]) and reloads them.
    fn commit(
        &mut self,
        cleaned: Vec<(usize, Segment)>,
        hook: &mut dyn FnMut(CleanStep) -> Result<(), LogError>,
    ) -> Result<(), LogError> {
        let dir = self.dir.clone();
        let bases: Vec<i64> = cleaned.iter().map(|(_, s)| s.base_offset).collect();
        let last_index = cleaned.last().map_or(0, |(i, _)| *i);
        // The staged files are reopened by name below; these handles would go stale.
        drop(cleaned);
        hook(CleanStep::CleanedWritten)?;

        let gaps = CleanerCheckpoint {
            compacted_below: self
                .cleaner
                .compacted_below
                .max(self.segments[last_index].next_offset),
            ..self.cleaner
        };
        if let Err(err) = checkpoint::write_cleaner(&dir, gaps) {
            swap::discard(&dir, &bases, CLEANED_SUFFIX);
            return Err(err.into());
        }
        self.cleaner = gaps;
        hook(CleanStep::GapsAllowed)?;

        for &base in &bases {
            for ext in RENAME_ORDER {
                let from = staged_path(&dir, base, ext, CLEANED_SUFFIX);
                let to = staged_path(&dir, base, ext, SWAP_SUFFIX);
                if swap::optional(ext) && !from.exists() {
                    continue;
                }
                if let Err(err) = fs::rename(&from, &to) {
                    // Not committed yet: the originals are intact, drop the copies.
                    swap::discard(&dir, &bases, CLEANED_SUFFIX);
                    swap::discard(&dir, &bases, SWAP_SUFFIX);
                    return Err(err.into());
                }
                hook(CleanStep::RenamedToSwap {
                    base_offset: base,
                    ext,
                })?;
            }
        }
        sync_dir(&dir)?;
        hook(CleanStep::Committed)?;

        for &base in &bases {
            for ext in RENAME_ORDER {
                let from = staged_path(&dir, base, ext, SWAP_SUFFIX);
                if swap::optional(ext) && !from.exists() {
                    continue;
                }
                fs::rename(&from, staged_path(&dir, base, ext, ""))?;
                hook(CleanStep::Installed {
                    base_offset: base,
                    ext,
                })?;
            }
        }
        sync_dir(&dir)?;

        for &base in &bases {
            let i = self.segment_index_for(base);
            let old = &self.segments[i];
            let mut fresh = Segment::open_existing(&self.files, &dir, base)?;
            // A sealed segment spans up to the next one, whatever its last batch is.
            fresh.next_offset = old.next_offset;
            self.size_bytes = self.size_bytes - old.size + fresh.size;
            self.segments[i] = fresh;
        }
        Ok(())
    }
}
