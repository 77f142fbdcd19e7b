//! Producer sequence numbers for the coordinator's own transactional batches.
//!
//! Kafka's coordinator writes a TxnOffsetCommit batch with the producer's id and
//! epoch, the transactional attribute and base sequence 0, and its log skips the
//! sequence check for coordinator writes. Strata's log checks every batch that
//! carries a producer id (a batch repeating the sequences of a retained batch of the
//! same epoch is taken for a retry and not written; any other must continue the
//! epoch's last sequence; a new epoch starts at 0). So the coordinator numbers its
//! batches to continue the producer's sequence in the `__consumer_offsets`
//! partition: from what it assigned itself, or, the first time it writes for a
//! producer (after a load, a restart or a failed write), from the log's producer
//! state.
//!
//! Invariants:
//! - Batches for one producer get consecutive, non-overlapping sequence ranges in the
//!   order they are assigned; the caller appends them in that order (it assigns and
//!   enqueues under one lock), so the log sees them in sequence.
//! - After a failed write the log's view is asked again, but only once no other write
//!   of the producer is in flight (before that the log cannot know the in-flight
//!   ones).

use std::collections::HashMap;

/// The log's producer state for one producer: (epoch, last sequence written in that
/// epoch, -1 when none).
pub type LogProducer = (i16, i32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    epoch: i16,
    last_seq: i32,
    in_flight: u32,
    /// A write failed: forget the entry once nothing is in flight.
    stale: bool,
}

/// Sequence bookkeeping of the coordinator's transactional writes to one
/// `__consumer_offsets` partition.
#[derive(Debug, Clone, Default)]
pub struct ProducerSequences {
    producers: HashMap<i64, Entry>,
}

/// The sequence after `seq` (wrapping past `i32::MAX` to 0, as Kafka's producers do);
/// 0 after -1 (nothing written).
fn next_seq(seq: i32) -> i32 {
    if seq == i32::MAX {
        0
    } else {
        seq + 1
    }
}

/// `base + count - 1`, wrapping past `i32::MAX` to 0.
fn last_of(base: i32, count: i32) -> i32 {
    let span = i64::from(base) + i64::from(count.max(1)) - 1;
    (span % (i64::from(i32::MAX) + 1)) as i32
}

impl ProducerSequences {
    /// Nothing known.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether [`ProducerSequences::assign`] needs the log's producer state for this
    /// producer and epoch (nothing assigned for that epoch since the last reset).
    pub fn needs_log(&self, producer_id: i64, epoch: i16) -> bool {
        self.producers
            .get(&producer_id)
            .is_none_or(|e| e.epoch != epoch)
    }

    /// The base sequence for a batch of `records` records of `producer_id` at `epoch`;
    /// `log` is the log's producer state (ignored when this coordinator already
    /// numbers the epoch). The write counts as in flight until
    /// [`ProducerSequences::finished`].
    pub fn assign(
        &mut self,
        producer_id: i64,
        epoch: i16,
        log: Option<LogProducer>,
        records: i32,
    ) -> i32 {
        let current = self.producers.get(&producer_id).copied();
        let mine = current.filter(|e| e.epoch == epoch).map(|e| e.last_seq);
        let last = mine
            .or_else(|| log.filter(|(e, _)| *e == epoch).map(|(_, s)| s))
            .unwrap_or(-1);
        let base = next_seq(last);
        let in_flight = current.map_or(0, |e| e.in_flight) + 1;
        self.producers.insert(
            producer_id,
            Entry {
                epoch,
                last_seq: last_of(base, records),
                in_flight,
                stale: current.is_some_and(|e| e.stale),
            },
        );
        base
    }

    /// Reports the end of a write started with [`ProducerSequences::assign`]; a failed
    /// one (`ok == false`: the log may or may not hold it) makes the next write ask
    /// the log again once no write of the producer is in flight.
    pub fn finished(&mut self, producer_id: i64, ok: bool) {
        let Some(e) = self.producers.get_mut(&producer_id) else {
            return;
        };
        e.in_flight = e.in_flight.saturating_sub(1);
        e.stale |= !ok;
        if e.stale && e.in_flight == 0 {
            self.producers.remove(&producer_id);
        }
    }

    /// Producers tracked (for tests and metrics).
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// Whether no producer is tracked.
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }
}
