//! Per-partition batch accumulation, without I/O or clocks: callers pass `now`.
//!
//! Records are appended to the newest batch of their partition until it would exceed
//! `batch_size` (a record bigger than `batch_size` gets a batch of its own). The oldest batch
//! becomes sendable when it is full, when `linger` has passed since it was opened, or when a
//! flush asked for it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::batch::{PendingRecord, BATCH_HEADER_BYTES};

/// A batch being filled or waiting to be sent. `W` is whatever the caller needs to notify the
/// record's sender on completion.
#[derive(Debug)]
pub(crate) struct Batch<W> {
    pub records: Vec<PendingRecord>,
    pub waiters: Vec<W>,
    /// Estimated encoded size, including the batch header.
    pub size: usize,
    pub created: Instant,
    /// No more records go in: it is full, or something is queued behind it.
    pub closed: bool,
    /// A flush wants it sent without waiting for linger.
    pub flush: bool,
}

/// The batches of one partition, oldest first.
#[derive(Debug)]
pub(crate) struct PartitionQueue<W> {
    batches: VecDeque<Batch<W>>,
}

impl<W> Default for PartitionQueue<W> {
    fn default() -> Self {
        PartitionQueue {
            batches: VecDeque::new(),
        }
    }
}

/// When the front batch of a queue may be sent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// Nothing is queued.
    Empty,
    /// Send now.
    Ready,
    /// Wait until this instant (linger), unless something changes first.
    WaitUntil(Instant),
}

impl<W> PartitionQueue<W> {
    /// Whether appending a record of `size` would open a new batch.
    pub fn would_open_batch(&self, size: usize, batch_size: usize) -> bool {
        match self.batches.back() {
            None => true,
            Some(b) => b.closed || (b.size + size > batch_size && !b.records.is_empty()),
        }
    }

    /// Appends a record; returns true if it opened a new batch.
    pub fn append(
        &mut self,
        record: PendingRecord,
        waiter: W,
        size: usize,
        now: Instant,
        batch_size: usize,
    ) -> bool {
        let opened = self.would_open_batch(size, batch_size);
        if opened {
            if let Some(b) = self.batches.back_mut() {
                b.closed = true;
            }
            self.batches.push_back(Batch {
                records: Vec::new(),
                waiters: Vec::new(),
                size: BATCH_HEADER_BYTES,
                created: now,
                closed: false,
                flush: false,
            });
        }
        if let Some(b) = self.batches.back_mut() {
            b.records.push(record);
            b.waiters.push(waiter);
            b.size += size;
            if b.size >= batch_size {
                b.closed = true;
            }
        }
        opened
    }

    /// Whether the oldest batch may be sent at `now`.
    pub fn readiness(&self, now: Instant, linger: Duration) -> Readiness {
        match self.batches.front() {
            None => Readiness::Empty,
            Some(b) if b.closed || b.flush => Readiness::Ready,
            Some(b) => {
                let due = b.created + linger;
                if now >= due {
                    Readiness::Ready
                } else {
                    Readiness::WaitUntil(due)
                }
            }
        }
    }

    /// Takes the oldest batch if it is ready.
    pub fn pop_ready(&mut self, now: Instant, linger: Duration) -> Option<Batch<W>> {
        match self.readiness(now, linger) {
            Readiness::Ready => self.batches.pop_front(),
            _ => None,
        }
    }

    /// Marks every queued batch to be sent without lingering; returns how many there are.
    pub fn mark_flush(&mut self) -> usize {
        for b in &mut self.batches {
            b.flush = true;
            // A flushed batch takes no more records, so that the flush does not wait on
            // records appended after it began.
            b.closed = true;
        }
        self.batches.len()
    }

    /// The newest batch, for attaching flush waiters.
    pub fn back_mut(&mut self) -> Option<&mut Batch<W>> {
        self.batches.back_mut()
    }

    /// Number of queued batches.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.batches.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn rec(n: usize) -> (PendingRecord, usize) {
        let r = PendingRecord {
            timestamp: 0,
            key: None,
            value: Some(Bytes::from(vec![b'x'; n])),
            headers: vec![],
        };
        (r, n + 21)
    }

    #[test]
    fn fills_batches_up_to_batch_size() {
        let now = Instant::now();
        let mut q = PartitionQueue::default();
        let mut opened = 0;
        for i in 0..100 {
            let (r, s) = rec(79); // 100 bytes each
            if q.append(r, i, s, now, 1000) {
                opened += 1;
            }
        }
        // header 61 + 9 records * 100 = 961 fits, a tenth would not.
        assert_eq!(opened, 12);
        assert_eq!(q.len(), 12);
        let b = q
            .pop_ready(now, Duration::from_secs(10))
            .expect("full batch is ready");
        assert_eq!(b.records.len(), 9);
        assert_eq!(b.waiters, (0..9).collect::<Vec<_>>());
        assert!(b.size <= 1000);
    }

    #[test]
    fn oversized_record_gets_its_own_batch() {
        let now = Instant::now();
        let mut q = PartitionQueue::default();
        let (r, s) = rec(10);
        assert!(q.append(r, 0, s, now, 100));
        let (r, s) = rec(5000);
        assert!(q.append(r, 1, s, now, 100));
        let (r, s) = rec(10);
        assert!(q.append(r, 2, s, now, 100));
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn linger_holds_a_partial_batch_until_due() {
        let t0 = Instant::now();
        let linger = Duration::from_millis(50);
        let mut q = PartitionQueue::default();
        assert_eq!(q.readiness(t0, linger), Readiness::Empty);
        let (r, s) = rec(10);
        q.append(r, 0, s, t0, 16384);
        assert_eq!(q.readiness(t0, linger), Readiness::WaitUntil(t0 + linger));
        assert!(q
            .pop_ready(t0 + Duration::from_millis(49), linger)
            .is_none());
        let b = q.pop_ready(t0 + linger, linger).expect("due");
        assert_eq!(b.records.len(), 1);
        assert_eq!(q.readiness(t0 + linger, linger), Readiness::Empty);
    }

    #[test]
    fn zero_linger_is_ready_immediately() {
        let t0 = Instant::now();
        let mut q = PartitionQueue::default();
        let (r, s) = rec(10);
        q.append(r, 0, s, t0, 16384);
        assert_eq!(q.readiness(t0, Duration::ZERO), Readiness::Ready);
    }

    #[test]
    fn flush_makes_batches_ready_and_closes_them() {
        let t0 = Instant::now();
        let linger = Duration::from_secs(60);
        let mut q = PartitionQueue::default();
        let (r, s) = rec(10);
        q.append(r, 0, s, t0, 16384);
        assert_eq!(q.mark_flush(), 1);
        assert_eq!(q.readiness(t0, linger), Readiness::Ready);
        // Records after the flush go into a new batch.
        let (r, s) = rec(10);
        assert!(q.would_open_batch(s, 16384));
        assert!(q.append(r, 1, s, t0, 16384));
        let first = q.pop_ready(t0, linger).expect("flushed");
        assert_eq!(first.waiters, vec![0]);
        assert!(q.pop_ready(t0, linger).is_none());
    }

    #[test]
    fn batch_behind_another_closes_the_front() {
        let t0 = Instant::now();
        let mut q = PartitionQueue::default();
        let (r, s) = rec(500);
        q.append(r, 0, s, t0, 1000);
        let (r, s) = rec(500);
        q.append(r, 1, s, t0, 1000);
        assert_eq!(q.len(), 2);
        assert_eq!(q.readiness(t0, Duration::from_secs(5)), Readiness::Ready);
    }
}
