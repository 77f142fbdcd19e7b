//! The log's leader epoch cache: kept in step with the batches on every append,
//! truncation and log-start move, persisted in `leader-epoch-checkpoint` (see
//! [`crate::epoch_file`]), and answering `OffsetForLeaderEpoch`.

use strata_proto::batch::BatchHeader;
use strata_replication::{EpochCache, EpochEntry};

use crate::epoch_file;
use crate::error::LogError;
use crate::log::Log;
use crate::scan::{HeaderScanner, Step};

impl Log {
    /// The newest leader epoch the log knows (of its batches, or one started by
    /// [`Log::assign_leader_epoch`]).
    pub fn latest_epoch(&self) -> Option<i32> {
        self.epochs.latest_epoch()
    }

    /// The offset where `epoch` starts in this log, if the log has that epoch.
    pub fn epoch_start_offset(&self, epoch: i32) -> Option<i64> {
        self.epochs.start_offset_of(epoch)
    }

    /// The leader epoch cache entries, oldest first (for
    /// `strata_replication::truncation_offset`).
    pub fn epoch_entries(&self) -> &[EpochEntry] {
        self.epochs.entries()
    }

    /// The leader epoch cache.
    pub fn epoch_cache(&self) -> &EpochCache {
        &self.epochs
    }

    /// `OffsetForLeaderEpoch` for `requested_epoch`: the largest epoch at or below it
    /// that the log has, and where that epoch ends (the start of the next higher epoch,
    /// or the log end offset when it is the latest). `None` is Kafka's
    /// `UNDEFINED_EPOCH`/`UNDEFINED_EPOCH_OFFSET` (-1, -1): the requested epoch is -1 or
    /// newer than anything in the log, or the log has no epochs. An epoch older than
    /// every one the log still has answers itself, ending where the oldest known starts.
    pub fn end_offset_for_epoch(&self, requested_epoch: i32) -> Option<(i32, i64)> {
        self.epochs
            .end_offset_for(requested_epoch, self.log_end_offset())
            .to_option()
    }

    /// A new leader records that its epoch starts at the current log end, before it
    /// appends anything (Kafka's `maybeAssignEpochStartOffset`), so followers asking
    /// about it get the right boundary. A no-op when `epoch` is already the latest;
    /// refused when it is older than the latest epoch. Written to the file before
    /// returning, made durable by the next flush (see `epoch_file.rs`).
    pub fn assign_leader_epoch(&mut self, epoch: i32) -> Result<(), LogError> {
        if epoch < 0 {
            return Err(LogError::EpochRegression {
                epoch,
                latest: self.latest_epoch().unwrap_or(-1),
            });
        }
        if let Some(latest) = self.latest_epoch() {
            if epoch < latest {
                return Err(LogError::EpochRegression { epoch, latest });
            }
        }
        let end = self.log_end_offset();
        let mut next = self.epochs.clone();
        if next.assign(epoch, end) {
            epoch_file::write_unsynced(&self.dir, &next)?;
            self.epochs = next;
            self.epochs_sync.written += 1;
        }
        Ok(())
    }

    /// Records the epochs of batches about to be written at the log end (see
    /// `EpochCache::append_batch_epoch`: a newer epoch starts at its first batch, an
    /// older one is ignored), persisting the cache first when it changes, so the file
    /// is never behind the data. Cheap when nothing changes.
    pub(crate) fn assign_batch_epochs<'a>(
        &mut self,
        headers: impl Iterator<Item = &'a BatchHeader> + Clone,
    ) -> Result<(), LogError> {
        let changes = headers.clone().any(|h| {
            self.epochs
                .would_change_on_append(h.partition_leader_epoch, h.base_offset)
        });
        if !changes {
            return Ok(());
        }
        self.update_epochs(|cache| {
            let mut changed = false;
            for h in headers {
                changed |= cache.append_batch_epoch(h.partition_leader_epoch, h.base_offset);
            }
            changed
        })
    }

    /// Applies `change` to a copy of the cache and, when it reports a change, persists
    /// the copy before adopting it: a failed write leaves memory and file as they were.
    pub(crate) fn update_epochs(
        &mut self,
        change: impl FnOnce(&mut EpochCache) -> bool,
    ) -> Result<(), LogError> {
        let mut next = self.epochs.clone();
        if change(&mut next) {
            epoch_file::write(&self.dir, &next)?;
            self.epochs = next;
            self.epochs_sync.mark_synced(self.epochs_sync.written);
        }
        Ok(())
    }

    /// Loads the cache on open. From the file when readable, otherwise rebuilt from the
    /// headers of every batch. After an unclean stop (`recovered_from` = the first
    /// segment recovery scanned) the epochs of the recovered segments are folded in as
    /// well, in case the file somehow lags the data. Then entries past the log end are
    /// dropped (after an unclean stop also one starting at it, as Kafka does) and the
    /// first is clamped to the log start.
    ///
    /// After a clean stop an entry starting exactly at the log end is a leader's epoch
    /// with no batch yet (`assign_leader_epoch`), as the running log had it: kept, so a
    /// restart does not rewrite the file of every idle led partition twice (dropped here,
    /// assigned again by the same leader).
    ///
    /// A file that gained entries (rebuilt, or folded from the recovered batches) is
    /// written durably before the log is used. One that only lost entries (cut back to
    /// the log) is rewritten in place and made durable by the next flush, as a new
    /// leader's epoch is: until then a crash leaves the longer file, which the next open
    /// cuts back again, or a torn one, which it rebuilds.
    pub(crate) fn load_epochs(&mut self, recovered_from: Option<usize>) -> Result<(), LogError> {
        let stored = epoch_file::read(&self.dir);
        let mut cache = stored.clone().unwrap_or_default();
        let fold_from = if stored.is_none() {
            Some(0)
        } else {
            recovered_from
        };
        if let Some(from) = fold_from {
            self.fold_epochs(&mut cache, from)?;
        }
        let end = self.log_end_offset();
        let cut_from = match recovered_from {
            None => end.saturating_add(1),
            Some(_) => end,
        };
        cache.truncate_from_end(cut_from);
        // Only entries dropped from the end (the log start clamp below is redone from
        // the durable log start by every open).
        let only_cut = stored
            .as_ref()
            .is_some_and(|s| s.entries().starts_with(cache.entries()));
        cache.truncate_from_start(self.log_start_offset);
        let changed = stored.as_ref() != Some(&cache);
        self.epochs = cache;
        if changed && only_cut {
            epoch_file::write_unsynced(&self.dir, &self.epochs)?;
            self.epochs_sync.written += 1;
        } else if changed {
            epoch_file::write(&self.dir, &self.epochs)?;
        }
        Ok(())
    }

    /// Applies the epoch of every batch in the segments from index `from` on, in log
    /// order, with the same rule as appends (so what they say replaces any entry the
    /// file has from their first batch on).
    fn fold_epochs(&self, cache: &mut EpochCache, from: usize) -> Result<bool, LogError> {
        let mut changed = false;
        for segment in self.segments.iter().skip(from) {
            let file = segment.log.get()?;
            let mut scanner = HeaderScanner::new(&file, 0, segment.size);
            while let Step::Batch { header, .. } = scanner.next_step()? {
                changed |=
                    cache.append_batch_epoch(header.partition_leader_epoch, header.base_offset);
            }
        }
        Ok(changed)
    }

    /// The log now ends at `end`: forget epochs starting there or later.
    pub(crate) fn truncate_epochs_from_end(&mut self, end: i64) -> Result<(), LogError> {
        self.update_epochs(|cache| cache.truncate_from_end(end))
    }

    /// The log start moved up: clamp the epoch in force there to start at it.
    pub(crate) fn truncate_epochs_from_start(&mut self, start: i64) -> Result<(), LogError> {
        self.update_epochs(|cache| cache.truncate_from_start(start))
    }
}
