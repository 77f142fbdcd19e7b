//! Transactions in the log: the last stable offset, the aborted-transaction index
//! (`txn_index.rs`) as appends and rebuilds keep it, and the search a
//! `read_committed` fetch makes in it.
//!
//! Invariants:
//! - The producer table (open transactions included) and every segment's aborted index
//!   describe the log's batches: appends (leader and follower) update both right after
//!   the write, and every rebuild of the producer state from the log (open without a
//!   usable snapshot, truncation) rewrites each segment's index from the same scan.
//! - [`Log::last_stable_offset`] never exceeds the high watermark, and never passes the
//!   first offset of a transaction that is open or whose marker is not below the high
//!   watermark.

use strata_proto::batch::control::{self, TxnMarker};
use strata_proto::batch::{BatchError, BatchHeader, HEADER_SIZE};

use crate::error::LogError;
use crate::log::Log;
use crate::recovery::scan_producer_state;
use crate::transactions::CompletedTxn;
use crate::txn_index::AbortedTxn;

impl Log {
    /// The first offset of the oldest transaction that is open, or completed with a
    /// marker the high watermark has not passed yet (never below the log start);
    /// `None` when there is none. The broker's last stable offset is the lower of this
    /// and its high watermark ([`Log::last_stable_offset`]).
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.producers
            .first_unstable_offset()
            .map(|o| o.max(self.log_start_offset))
    }

    /// The last stable offset: `read_committed` consumers read below it. The lower of
    /// the high watermark and [`Log::first_unstable_offset`].
    pub fn last_stable_offset(&self) -> i64 {
        self.first_unstable_offset()
            .map_or(self.high_watermark, |o| o.min(self.high_watermark))
    }

    /// Aborted transactions holding offsets in `[from_offset, upper_bound_offset)`:
    /// (producer id, first offset), in marker order. A `read_committed` fetch sends them
    /// with the batches it returns (the upper bound is the offset after its last batch).
    /// Reads the aborted indexes of the segments from the one holding `from_offset`
    /// until an entry shows that no later abort can overlap the range.
    pub fn aborted_transactions(
        &self,
        from_offset: i64,
        upper_bound_offset: i64,
    ) -> Result<Vec<(i64, i64)>, LogError> {
        let mut found = Vec::new();
        if upper_bound_offset <= from_offset {
            return Ok(found);
        }
        let start = self.segment_index_for(from_offset);
        for segment in &self.segments[start..] {
            let mut complete = false;
            segment.txn_index.walk(&mut |e| {
                if e.overlaps(from_offset, upper_bound_offset) {
                    found.push((e.producer_id, e.first_offset));
                }
                // Every transaction open when this one was aborted started at or after
                // its last stable offset: past the range, nothing later overlaps it.
                complete = e.last_stable_offset >= upper_bound_offset;
                !complete
            })?;
            if complete {
                break;
            }
        }
        Ok(found)
    }

    /// Records a transaction that a marker just written in the active segment ended:
    /// an abort goes into that segment's index.
    pub(crate) fn record_completed(&mut self, completed: Option<CompletedTxn>) {
        if let Some(txn) = completed.filter(|t| t.aborted) {
            self.active_mut().txn_index.append(AbortedTxn::from(&txn));
        }
    }

    /// Rebuilds the producer state, open transactions included, from the batch headers
    /// (and markers) of every segment, and rewrites each segment's aborted index from
    /// the same scan. Data was validated when written or by recovery; only headers and
    /// the records of control batches are read.
    pub(crate) fn rebuild_producer_state(&mut self) -> Result<(), LogError> {
        self.producers.clear();
        self.producers.on_high_watermark(self.high_watermark);
        for segment in &mut self.segments {
            let mut aborted = Vec::new();
            scan_producer_state(segment, &mut self.producers, &mut |txn| {
                if txn.aborted {
                    aborted.push(AbortedTxn::from(&txn));
                }
            })?;
            segment.txn_index.replace(&aborted)?;
        }
        Ok(())
    }

    /// Whether a segment's aborted index was found damaged on open (the producer state
    /// must then be rebuilt from a scan, which rewrites it).
    pub(crate) fn txn_index_damaged(&self) -> bool {
        self.segments.iter().any(|s| s.txn_index.is_damaged())
    }
}

/// The transaction markers of a payload's batches (`None` for data batches), checked:
/// a control batch must hold a readable marker. `headers` are the payload's batches in
/// order, as validated.
pub(crate) fn payload_markers(
    records: &[u8],
    headers: &[BatchHeader],
) -> Result<Vec<Option<TxnMarker>>, LogError> {
    let mut markers = Vec::with_capacity(headers.len());
    let mut pos = 0usize;
    for header in headers {
        let size = header.total_size();
        let marker = if header.is_control() {
            let body = records
                .get(pos + HEADER_SIZE..pos + size)
                .ok_or_else(|| BatchError::CorruptMessage("control batch is truncated".into()))?;
            Some(control::parse_marker(header, body).ok_or_else(|| {
                BatchError::InvalidRecord(
                    "control batch does not hold a transaction marker".to_string(),
                )
            })?)
        } else {
            None
        };
        markers.push(marker);
        pos += size;
    }
    Ok(markers)
}

/// Like [`payload_markers`] for replicated batches: a control batch that is not a
/// readable marker (another control type, or emptied by the leader's cleaner) ends no
/// transaction, as on the leader.
pub(crate) fn replicated_markers(
    records: &[u8],
    headers: &[BatchHeader],
) -> Vec<Option<TxnMarker>> {
    let mut pos = 0usize;
    headers
        .iter()
        .map(|header| {
            let size = header.total_size();
            let marker = records
                .get(pos + HEADER_SIZE..pos + size)
                .filter(|_| header.is_control())
                .and_then(|body| control::parse_marker(header, body));
            pos += size;
            marker
        })
        .collect()
}
