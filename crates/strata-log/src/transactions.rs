//! Open and recently completed transactions of one partition (sans-I/O).
//!
//! A transactional batch of a producer with no open transaction here opens one at its
//! base offset; the producer's next marker (commit or abort) completes it. The last
//! stable offset (LSO) is the lower of the high watermark and the first unstable
//! offset: the first offset of the oldest transaction that is still open, or whose
//! marker the high watermark has not passed yet (a marker that is not replicated can
//! still be lost with a leader change, and the transaction would be open again).
//!
//! Invariants:
//! - `ongoing` holds exactly the `current_txn_first_offset` of every producer entry
//!   that has one (kept by [`crate::ProducerStateTable`]), keyed by that offset.
//! - `unreplicated` holds completed transactions whose marker offset is at or above
//!   `high_watermark`; raising the high watermark drops the ones it passed.

use std::collections::BTreeMap;

/// A transaction whose marker was appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedTxn {
    /// The producer.
    pub producer_id: i64,
    /// Offset of the transaction's first batch in this partition.
    pub first_offset: i64,
    /// Offset of the marker.
    pub last_offset: i64,
    /// Whether the marker was an ABORT.
    pub aborted: bool,
    /// The first offset of the oldest other transaction still open once this one
    /// completed, or the offset after the marker when none is: what the last stable
    /// offset became (as far as transactions go). Stored with aborted transactions so
    /// that a search knows when it has seen every abort that can overlap a range.
    pub last_stable_offset: i64,
}

/// The transactions a partition tracks beside its producers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Transactions {
    /// First offset → producer id, for every open transaction.
    pub ongoing: BTreeMap<i64, i64>,
    /// First offset → marker offset, for completed transactions whose marker is not
    /// yet below the high watermark.
    pub unreplicated: BTreeMap<i64, i64>,
    /// The high watermark last reported.
    pub high_watermark: i64,
}

impl Transactions {
    /// Records that `producer_id` opened a transaction at `first_offset`.
    pub fn open(&mut self, producer_id: i64, first_offset: i64) {
        self.ongoing.insert(first_offset, producer_id);
    }

    /// Records that the transaction opened at `first_offset` ended with a marker at
    /// `marker_offset`; returns its [`CompletedTxn`].
    pub fn complete(
        &mut self,
        producer_id: i64,
        first_offset: i64,
        marker_offset: i64,
        aborted: bool,
    ) -> CompletedTxn {
        self.ongoing.remove(&first_offset);
        let last_stable_offset = self
            .ongoing
            .keys()
            .next()
            .copied()
            .unwrap_or(marker_offset.saturating_add(1));
        if marker_offset >= self.high_watermark {
            self.unreplicated.insert(first_offset, marker_offset);
        }
        CompletedTxn {
            producer_id,
            first_offset,
            last_offset: marker_offset,
            aborted,
            last_stable_offset,
        }
    }

    /// The high watermark moved: completed transactions whose marker it passed are
    /// stable now.
    pub fn on_high_watermark(&mut self, high_watermark: i64) {
        self.high_watermark = high_watermark;
        self.unreplicated
            .retain(|_, marker| *marker >= high_watermark);
    }

    /// The first offset of the oldest transaction that is open or whose marker is not
    /// below the high watermark; `None` when there is none.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        let ongoing = self.ongoing.keys().next().copied();
        let unreplicated = self.unreplicated.keys().next().copied();
        match (ongoing, unreplicated) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Forgets everything but the high watermark.
    pub fn clear(&mut self) {
        self.ongoing.clear();
        self.unreplicated.clear();
    }
}
