//! The leader epoch cache as pure data: which leader epoch started at which offset,
//! and the `OffsetForLeaderEpoch` lookup over it (Kafka's KIP-101 / KIP-279 rules).

use std::fmt;

/// The epoch of an `OffsetForLeaderEpoch` answer that carries no epoch.
pub const UNDEFINED_EPOCH: i32 = -1;
/// The end offset of an `OffsetForLeaderEpoch` answer that carries no offset.
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

/// One cache entry: leader epoch `epoch` wrote its first batch at `start_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EpochEntry {
    /// The leader epoch (>= 0).
    pub epoch: i32,
    /// Offset of the first record written in this epoch (>= 0).
    pub start_offset: i64,
}

impl EpochEntry {
    /// An entry for `epoch` starting at `start_offset`.
    pub const fn new(epoch: i32, start_offset: i64) -> Self {
        EpochEntry {
            epoch,
            start_offset,
        }
    }
}

/// An `OffsetForLeaderEpoch` answer: the largest epoch at or below the requested one
/// that the log knows, and the offset where it ended (the start of the next higher
/// epoch, or the log end offset for the latest epoch). Both are -1 (`UNDEFINED`) when
/// the log cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EpochEndOffset {
    /// The epoch found, or [`UNDEFINED_EPOCH`].
    pub epoch: i32,
    /// Exclusive end offset of that epoch, or [`UNDEFINED_EPOCH_OFFSET`].
    pub end_offset: i64,
}

impl EpochEndOffset {
    /// The answer that carries nothing: `(-1, -1)`.
    pub const UNDEFINED: EpochEndOffset = EpochEndOffset {
        epoch: UNDEFINED_EPOCH,
        end_offset: UNDEFINED_EPOCH_OFFSET,
    };

    /// An answer of `epoch` ending at `end_offset`.
    pub const fn new(epoch: i32, end_offset: i64) -> Self {
        EpochEndOffset { epoch, end_offset }
    }

    /// Whether the end offset is undefined (the log had nothing to say).
    pub fn is_undefined(&self) -> bool {
        self.end_offset == UNDEFINED_EPOCH_OFFSET
    }

    /// `Some((epoch, end_offset))`, or `None` for an undefined end offset.
    pub fn to_option(self) -> Option<(i32, i64)> {
        (!self.is_undefined()).then_some((self.epoch, self.end_offset))
    }
}

/// Why a list of entries is not a valid cache.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid leader epoch entries: {0}")]
pub struct InvalidEpochEntries(pub String);

/// The leader epochs of one partition log, in order: epochs and start offsets both
/// strictly increase. Pure data; persisting it is the storage engine's job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EpochCache {
    entries: Vec<EpochEntry>,
}

impl fmt::Display for EpochCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}@{}", e.epoch, e.start_offset)?;
        }
        f.write_str("]")
    }
}

impl EpochCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cache holding `entries`, which must be non-negative with strictly increasing
    /// epochs and start offsets (what [`EpochCache::entries`] always returns).
    pub fn from_entries(entries: Vec<EpochEntry>) -> Result<Self, InvalidEpochEntries> {
        for (i, e) in entries.iter().enumerate() {
            if e.epoch < 0 || e.start_offset < 0 {
                return Err(InvalidEpochEntries(format!("negative entry {e:?}")));
            }
            if let Some(prev) = i.checked_sub(1).map(|p| entries[p]) {
                if e.epoch <= prev.epoch || e.start_offset <= prev.start_offset {
                    return Err(InvalidEpochEntries(format!(
                        "{e:?} does not follow {prev:?}"
                    )));
                }
            }
        }
        Ok(EpochCache { entries })
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    /// Whether no epoch is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The newest entry.
    pub fn latest(&self) -> Option<EpochEntry> {
        self.entries.last().copied()
    }

    /// The newest epoch.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.latest().map(|e| e.epoch)
    }

    /// The start offset of exactly `epoch`, if the cache has it.
    pub fn start_offset_of(&self, epoch: i32) -> Option<i64> {
        self.entries
            .binary_search_by_key(&epoch, |e| e.epoch)
            .ok()
            .map(|i| self.entries[i].start_offset)
    }

    /// Records that `epoch` starts at `start_offset` (Kafka's `assign`). Negative
    /// values are ignored. Nothing changes when `epoch` is already the latest epoch
    /// and starts at or before `start_offset`. Otherwise every trailing entry that the
    /// new one contradicts (an epoch at or above `epoch`, or a start at or after
    /// `start_offset`) is removed first, so the cache stays monotonic. Returns whether
    /// the cache changed.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 || start_offset < 0 {
            return false;
        }
        if let Some(latest) = self.latest() {
            if latest.epoch == epoch && latest.start_offset <= start_offset {
                return false;
            }
        }
        while self
            .entries
            .last()
            .is_some_and(|e| e.epoch >= epoch || e.start_offset >= start_offset)
        {
            self.entries.pop();
        }
        self.entries.push(EpochEntry::new(epoch, start_offset));
        true
    }

    /// A batch stamped with `epoch` was appended at `base_offset`, the log end: the
    /// rule the storage engine applies to every batch it writes or recovers. Negative
    /// epochs are ignored. Entries starting at or after `base_offset` cannot have data
    /// (an epoch a leader started without writing) and are dropped first; then the
    /// batch starts its epoch if it is newer than the latest. An older epoch changes
    /// nothing: only a bug or a producer-supplied epoch can bring one, and unlike
    /// [`EpochCache::assign`] it must not wipe out epochs that have data. Returns
    /// whether the cache changed.
    pub fn append_batch_epoch(&mut self, epoch: i32, base_offset: i64) -> bool {
        if !self.would_change_on_append(epoch, base_offset) {
            return false;
        }
        let mut changed = self.truncate_from_end(base_offset);
        if self.latest_epoch().is_none_or(|latest| epoch > latest) {
            self.entries.push(EpochEntry::new(epoch, base_offset));
            changed = true;
        }
        changed
    }

    /// Whether [`EpochCache::append_batch_epoch`] would change anything (cheap). The
    /// first batch a new leader writes in the epoch it assigned at that very offset
    /// changes nothing (the entry would be dropped and put back as it was), so it costs
    /// no epoch-file write.
    pub fn would_change_on_append(&self, epoch: i32, base_offset: i64) -> bool {
        if epoch < 0 || base_offset < 0 {
            return false;
        }
        match self.latest() {
            None => true,
            Some(l) if l.start_offset > base_offset => true,
            Some(l) if l.start_offset == base_offset => epoch != l.epoch,
            Some(l) => epoch > l.epoch,
        }
    }

    /// Forgets every epoch that starts at or after `end_offset` (the log was truncated
    /// there). Returns whether the cache changed.
    pub fn truncate_from_end(&mut self, end_offset: i64) -> bool {
        let keep = self
            .entries
            .partition_point(|e| e.start_offset < end_offset);
        let changed = keep < self.entries.len();
        self.entries.truncate(keep);
        changed
    }

    /// The log now starts at `start_offset`: entries wholly below it go, except that
    /// the epoch in force at `start_offset` is kept with its start moved up to
    /// `start_offset` (so lookups still name the epoch of the first offset present).
    /// Returns whether the cache changed.
    pub fn truncate_from_start(&mut self, start_offset: i64) -> bool {
        // Entries starting at or below the new start; the last of them is still in force.
        let at_or_below = self
            .entries
            .partition_point(|e| e.start_offset <= start_offset);
        if at_or_below == 0 {
            return false;
        }
        let in_force = self.entries[at_or_below - 1];
        if at_or_below == 1 && in_force.start_offset == start_offset {
            return false;
        }
        self.entries.drain(..at_or_below - 1);
        self.entries[0].start_offset = start_offset;
        true
    }

    /// Forgets everything. Returns whether the cache changed.
    pub fn clear(&mut self) -> bool {
        let changed = !self.entries.is_empty();
        self.entries.clear();
        changed
    }

    /// Kafka's `OffsetForLeaderEpoch` lookup for a log ending at `log_end_offset`:
    ///
    /// - `requested` is -1, or above every known epoch (including an empty cache):
    ///   `UNDEFINED`;
    /// - `requested` is the latest epoch: `(requested, log_end_offset)`;
    /// - otherwise the largest known epoch at or below `requested` with the start
    ///   offset of the next higher known epoch as its end; when every known epoch is
    ///   above `requested`, `(requested, start of the first known epoch)` — the data
    ///   of older epochs is gone and a follower must replicate from there.
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> EpochEndOffset {
        if requested == UNDEFINED_EPOCH {
            return EpochEndOffset::UNDEFINED;
        }
        if self.latest_epoch() == Some(requested) {
            return EpochEndOffset::new(requested, log_end_offset);
        }
        // First entry with an epoch above the requested one.
        let higher = self.entries.partition_point(|e| e.epoch <= requested);
        let Some(next) = self.entries.get(higher) else {
            return EpochEndOffset::UNDEFINED;
        };
        match higher.checked_sub(1).map(|i| self.entries[i]) {
            Some(floor) => EpochEndOffset::new(floor.epoch, next.start_offset),
            None => EpochEndOffset::new(requested, next.start_offset),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(entries: &[(i32, i64)]) -> EpochCache {
        EpochCache::from_entries(
            entries
                .iter()
                .map(|&(e, s)| EpochEntry::new(e, s))
                .collect(),
        )
        .expect("valid entries")
    }

    fn pairs(c: &EpochCache) -> Vec<(i32, i64)> {
        c.entries()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect()
    }

    #[test]
    fn assign_adds_only_newer_epochs() {
        let mut c = EpochCache::new();
        assert!(c.assign(1, 0));
        assert!(!c.assign(1, 5), "same epoch later is not a new start");
        assert!(c.assign(3, 10));
        assert!(!c.assign(-1, 20), "batches without an epoch are ignored");
        assert_eq!(pairs(&c), vec![(1, 0), (3, 10)]);
        assert_eq!(c.latest_epoch(), Some(3));
        assert_eq!(c.start_offset_of(3), Some(10));
        assert_eq!(c.start_offset_of(2), None);
    }

    #[test]
    fn assign_removes_contradicted_entries() {
        // An epoch assigned with no data (leader start) followed by another at the same
        // offset: the empty one goes.
        let mut c = cache(&[(1, 0), (2, 10)]);
        assert!(c.assign(3, 10));
        assert_eq!(pairs(&c), vec![(1, 0), (3, 10)]);
        // A lower epoch (Kafka's non-monotonic case) removes what it contradicts.
        let mut c = cache(&[(1, 0), (2, 10), (5, 20)]);
        assert!(c.assign(4, 30));
        assert_eq!(pairs(&c), vec![(1, 0), (2, 10), (4, 30)]);
        // The latest epoch with an earlier start is moved back.
        let mut c = cache(&[(1, 0), (2, 10)]);
        assert!(c.assign(2, 8));
        assert_eq!(pairs(&c), vec![(1, 0), (2, 8)]);
    }

    #[test]
    fn append_batch_epoch_only_moves_forward() {
        let mut c = EpochCache::new();
        assert!(!c.would_change_on_append(-1, 0));
        assert!(!c.append_batch_epoch(-1, 0));
        assert!(c.would_change_on_append(2, 0));
        assert!(c.append_batch_epoch(2, 0));
        assert!(!c.would_change_on_append(2, 5));
        assert!(!c.append_batch_epoch(2, 5), "same epoch continues");
        // An older epoch is ignored and keeps the epochs that have data.
        assert!(!c.would_change_on_append(1, 10));
        assert!(!c.append_batch_epoch(1, 10));
        assert!(c.append_batch_epoch(4, 10));
        assert_eq!(pairs(&c), vec![(2, 0), (4, 10)]);
        // An epoch started at the log end without data gives way to whatever is
        // appended there, even an older epoch.
        c.assign(6, 20);
        assert!(c.would_change_on_append(4, 20));
        assert!(c.append_batch_epoch(4, 20));
        assert_eq!(pairs(&c), vec![(2, 0), (4, 10)]);
        c.assign(6, 20);
        assert!(c.append_batch_epoch(5, 20));
        assert_eq!(pairs(&c), vec![(2, 0), (4, 10), (5, 20)]);
        // A leader's first batch in the epoch it assigned at the log end changes
        // nothing (no epoch-file write for it).
        c.assign(7, 30);
        assert!(!c.would_change_on_append(7, 30));
        assert!(!c.append_batch_epoch(7, 30));
        assert_eq!(pairs(&c), vec![(2, 0), (4, 10), (5, 20), (7, 30)]);
        assert!(!c.append_batch_epoch(7, 31));
        let mut older = c.clone();
        assert!(
            older.would_change_on_append(6, 30),
            "an older epoch replaces one without data"
        );
        assert!(older.append_batch_epoch(6, 30));
        assert_eq!(pairs(&older), vec![(2, 0), (4, 10), (5, 20), (6, 30)]);
        // Kafka's assign would have wiped the epochs with data here.
        let mut kafka = c.clone();
        kafka.assign(3, 30);
        assert_eq!(pairs(&kafka), vec![(2, 0), (3, 30)]);
    }

    #[test]
    fn from_entries_rejects_non_monotonic() {
        let bad = [
            vec![EpochEntry::new(2, 0), EpochEntry::new(1, 5)],
            vec![EpochEntry::new(1, 5), EpochEntry::new(2, 5)],
            vec![EpochEntry::new(-1, 0)],
            vec![EpochEntry::new(0, -3)],
        ];
        for entries in bad {
            assert!(
                EpochCache::from_entries(entries.clone()).is_err(),
                "{entries:?}"
            );
        }
    }

    #[test]
    fn truncate_from_end_drops_entries_at_or_after() {
        let mut c = cache(&[(1, 0), (2, 10), (4, 20)]);
        assert!(!c.truncate_from_end(25));
        assert!(c.truncate_from_end(20));
        assert_eq!(pairs(&c), vec![(1, 0), (2, 10)]);
        assert!(c.truncate_from_end(5));
        assert_eq!(pairs(&c), vec![(1, 0)]);
        assert!(c.truncate_from_end(0));
        assert!(c.is_empty());
    }

    #[test]
    fn truncate_from_start_clamps_the_epoch_in_force() {
        let mut c = cache(&[(1, 0), (2, 10), (4, 20)]);
        assert!(c.truncate_from_start(15));
        assert_eq!(pairs(&c), vec![(2, 15), (4, 20)]);
        assert!(!c.truncate_from_start(15), "idempotent");
        assert!(c.truncate_from_start(20));
        assert_eq!(pairs(&c), vec![(4, 20)]);
        assert!(c.truncate_from_start(50));
        assert_eq!(pairs(&c), vec![(4, 50)]);
        // A start below every entry changes nothing.
        let mut c = cache(&[(3, 10)]);
        assert!(!c.truncate_from_start(5));
    }

    #[test]
    fn end_offset_for_follows_kafka() {
        let c = cache(&[(1, 0), (2, 10), (4, 20)]);
        let leo = 30;
        // The latest epoch ends at the log end.
        assert_eq!(c.end_offset_for(4, leo), EpochEndOffset::new(4, 30));
        // A known older epoch ends where the next starts.
        assert_eq!(c.end_offset_for(2, leo), EpochEndOffset::new(2, 20));
        assert_eq!(c.end_offset_for(1, leo), EpochEndOffset::new(1, 10));
        // An unknown epoch between known ones: the floor epoch, ending at the next.
        assert_eq!(c.end_offset_for(3, leo), EpochEndOffset::new(2, 20));
        // Older than everything: the requested epoch, ending at the first start.
        let c2 = cache(&[(3, 100), (5, 200)]);
        assert_eq!(c2.end_offset_for(1, 300), EpochEndOffset::new(1, 100));
        // Newer than everything, -1, or nothing known: undefined.
        assert_eq!(c.end_offset_for(7, leo), EpochEndOffset::UNDEFINED);
        assert_eq!(c.end_offset_for(-1, leo), EpochEndOffset::UNDEFINED);
        assert_eq!(
            EpochCache::new().end_offset_for(0, 0),
            EpochEndOffset::UNDEFINED
        );
        assert_eq!(EpochEndOffset::UNDEFINED.to_option(), None);
        assert_eq!(EpochEndOffset::new(2, 20).to_option(), Some((2, 20)));
    }

    #[test]
    fn display_lists_entries() {
        assert_eq!(cache(&[(1, 0), (3, 7)]).to_string(), "[1@0, 3@7]");
    }
}
