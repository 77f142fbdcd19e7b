//! Transactions during a clean: which transactional batches were aborted, and whether a
//! transaction marker may go.
//!
//! Rules (Kafka's, KIP-98 and KIP-534):
//! - A clean never reaches the first unstable offset ([`crate::Log::first_unstable_offset`]),
//!   so every transactional batch it reads belongs to a transaction whose marker is
//!   written and below the high watermark, and the aborted indexes tell its outcome.
//! - Records of aborted transactions are removed; committed transactional records are
//!   compacted like any other record (they supersede and get superseded).
//! - A marker stays while any batch of its transaction stays. Once none does, the
//!   first clean gives it a delete horizon (`now + delete.retention.ms`, as a tombstone
//!   gets) and a clean after that removes it, so a consumer that was reading the
//!   transaction when its data went still sees the marker. The marker of a producer that
//!   has no data batch left in its current epoch stays, as Kafka keeps it: it carries
//!   the producer's epoch for a rebuild of the producer state.
//! - An ABORT marker and its aborted-index entry go together. A `read_committed` fetch
//!   sends the aborted transactions of the segments' aborted indexes, and a consumer
//!   leaves a producer's "aborted" state only when it reads that producer's ABORT
//!   marker: an entry whose marker was gone would hide the producer's later committed
//!   records. The entry lives in the marker's segment, so the clean that removes the
//!   marker rewrites that segment's index without it, swapped in with the segment
//!   (`swap.rs`).

use std::collections::HashMap;

use strata_proto::batch::control::{self, ControlType};
use strata_proto::batch::{BatchHeader, HEADER_SIZE};

use crate::txn_index::AbortedTxn;

/// The aborted transactions of the log, by producer: (first offset, marker offset) in
/// first-offset order. A producer's transactions never overlap.
#[derive(Debug, Default)]
pub(crate) struct Aborts {
    by_producer: HashMap<i64, Vec<(i64, i64)>>,
}

impl Aborts {
    /// Adds one aborted transaction from an index.
    pub fn add(&mut self, txn: AbortedTxn) {
        self.by_producer
            .entry(txn.producer_id)
            .or_default()
            .push((txn.first_offset, txn.last_offset));
    }

    /// Sorts the entries; call after the last [`Aborts::add`].
    pub fn finish(&mut self) {
        for txns in self.by_producer.values_mut() {
            txns.sort_unstable();
        }
    }

    /// Whether the transactional batch `header` belongs to an aborted transaction.
    pub fn is_aborted(&self, header: &BatchHeader) -> bool {
        if !header.is_transactional() || header.is_control() {
            return false;
        }
        let Some(txns) = self.by_producer.get(&header.producer_id) else {
            return false;
        };
        let offset = header.base_offset;
        let i = txns.partition_point(|&(first, _)| first <= offset);
        i > 0 && offset < txns[i - 1].1
    }
}

/// Per producer, whether the transaction being read (data seen, marker not yet) kept any
/// of its batches in this clean.
#[derive(Debug, Default)]
pub(crate) struct OpenTxns {
    retained: HashMap<i64, bool>,
}

impl OpenTxns {
    /// A transactional data batch of `producer_id` was judged: `kept` unless dropped.
    pub fn on_data(&mut self, producer_id: i64, kept: bool) {
        *self.retained.entry(producer_id).or_insert(false) |= kept;
    }

    /// `producer_id`'s marker was reached: whether any batch of its transaction stays.
    pub fn on_marker(&mut self, producer_id: i64) -> bool {
        self.retained.remove(&producer_id).unwrap_or(false)
    }
}

/// The type of the marker in a control batch (`bytes` is the whole batch), `None` if it
/// is not a readable transaction marker.
pub(crate) fn marker_type(header: &BatchHeader, bytes: &[u8]) -> Option<ControlType> {
    let body = bytes.get(HEADER_SIZE..)?;
    control::parse_marker(header, body).map(|m| m.control)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(producer_id: i64, base_offset: i64, transactional: bool) -> BatchHeader {
        let mut h = BatchHeader::parse(&strata_proto::batch::control::marker_batch(
            producer_id,
            0,
            ControlType::Commit,
            0,
            0,
        ))
        .expect("header");
        h.base_offset = base_offset;
        // Clear the control bit; set or clear the transactional bit.
        h.attributes &= !(1 << 5);
        if !transactional {
            h.attributes &= !(1 << 4);
        }
        h
    }

    #[test]
    fn a_batch_is_aborted_only_inside_an_aborted_transaction_of_its_producer() {
        let mut aborts = Aborts::default();
        for (first, last) in [(50, 60), (10, 20)] {
            aborts.add(AbortedTxn {
                producer_id: 7,
                first_offset: first,
                last_offset: last,
                last_stable_offset: first,
            });
        }
        aborts.finish();
        for (offset, aborted) in [
            (9, false),
            (10, true),
            (19, true),
            (20, false),
            (30, false),
            (50, true),
            (59, true),
            (61, false),
        ] {
            assert_eq!(
                aborts.is_aborted(&header(7, offset, true)),
                aborted,
                "{offset}"
            );
        }
        assert!(!aborts.is_aborted(&header(8, 15, true)), "another producer");
        assert!(
            !aborts.is_aborted(&header(7, 15, false)),
            "not transactional"
        );
    }

    #[test]
    fn a_marker_learns_whether_its_transaction_kept_a_batch() {
        let mut open = OpenTxns::default();
        open.on_data(1, false);
        open.on_data(1, true);
        open.on_data(2, false);
        assert!(open.on_marker(1));
        assert!(!open.on_marker(2));
        assert!(!open.on_marker(3), "no data seen");
        assert!(!open.on_marker(1), "the next transaction starts afresh");
    }
}
