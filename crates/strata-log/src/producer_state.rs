//! Idempotent-producer state of one partition (sans-I/O).
//!
//! For every producer id the table remembers the producer epoch and the metadata of
//! its last [`BATCHES_TO_RETAIN`] batches. An incoming batch is checked against it:
//! a retry of one of those batches is a duplicate (answered with the original offsets,
//! not written again); otherwise its first sequence must continue the last one, an
//! older epoch is fenced, and a newer epoch must start over at sequence 0. A producer
//! the table does not know (its state expired, or it was never seen) is accepted at
//! any sequence, so a producer survives losing its state (Kafka's KIP-360 behaviour).
//!
//! Transactions: a transactional batch of a producer with no open transaction opens
//! one at its offset (`current_txn_first_offset`), the producer's next marker ends it
//! (see `transactions.rs` for the partition-wide view and the last stable offset). A
//! non-transactional batch while a transaction is open is refused
//! (`INVALID_TXN_STATE`), as is a marker from an older coordinator than the last one
//! seen for the producer (`TRANSACTION_COORDINATOR_FENCED`).

use std::collections::{HashMap, VecDeque};

use kafka_protocol::ResponseError;
use strata_proto::batch::control::{ControlType, TxnMarker};
use strata_proto::batch::BatchHeader;
use strata_proto::error_code;

use crate::transactions::{CompletedTxn, Transactions};

/// How many recent batches per producer are remembered for duplicate detection. A
/// producer has at most this many requests in flight per partition, so any retry it
/// can send refers to one of them.
pub const BATCHES_TO_RETAIN: usize = 5;

/// Where one appended batch of a producer landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    /// Sequence number of the first record.
    pub first_seq: i32,
    /// Sequence number of the last record (wrapped past `i32::MAX` to 0).
    pub last_seq: i32,
    /// Offset given to the first record.
    pub first_offset: i64,
    /// Offset given to the last record.
    pub last_offset: i64,
    /// The batch's max timestamp as stored (the append time on LogAppendTime topics).
    pub max_timestamp: i64,
}

/// What the table knows about one producer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    /// The newest epoch seen.
    pub epoch: i16,
    /// The last batches of `epoch`, oldest first, at most [`BATCHES_TO_RETAIN`].
    pub batches: VecDeque<BatchMetadata>,
    /// First offset of the producer's open transaction in this partition, if any.
    pub current_txn_first_offset: Option<i64>,
    /// Epoch of the coordinator that wrote the producer's last marker, -1 if none.
    pub coordinator_epoch: i32,
}

impl ProducerEntry {
    /// A producer seen for the first time, at `epoch`.
    pub fn new(epoch: i16) -> ProducerEntry {
        ProducerEntry {
            epoch,
            batches: VecDeque::with_capacity(BATCHES_TO_RETAIN),
            current_txn_first_offset: None,
            coordinator_epoch: -1,
        }
    }

    /// Sequence of the last record written in the current epoch, -1 if none.
    pub fn last_seq(&self) -> i32 {
        self.batches.back().map_or(-1, |b| b.last_seq)
    }

    fn find_duplicate(&self, epoch: i16, first_seq: i32, last_seq: i32) -> Option<BatchMetadata> {
        if epoch != self.epoch {
            return None;
        }
        self.batches
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
            .copied()
    }

    /// Records a written batch (already checked) of `header` at `first_offset`;
    /// `marker` is a control batch's transaction marker. Returns the first offset of
    /// the transaction a marker ended and whether it was aborted.
    fn apply(
        &mut self,
        header: &BatchHeader,
        first_offset: i64,
        marker: Option<TxnMarker>,
    ) -> Option<(i64, bool)> {
        if header.producer_epoch != self.epoch {
            // A new epoch restarts the sequence space: older batches can never be
            // retried under it.
            self.epoch = header.producer_epoch;
            self.batches.clear();
        }
        if header.is_control() {
            // Control markers carry no producer sequence. One that is not a readable
            // transaction marker (compacted away, or another control type) ends
            // nothing.
            let marker = marker?;
            self.coordinator_epoch = marker.coordinator_epoch;
            let first = self.current_txn_first_offset.take()?;
            return Some((first, marker.control == ControlType::Abort));
        }
        if header.is_transactional() && self.current_txn_first_offset.is_none() {
            self.current_txn_first_offset = Some(first_offset);
        }
        if self.batches.len() == BATCHES_TO_RETAIN {
            self.batches.pop_front();
        }
        self.batches.push_back(BatchMetadata {
            first_seq: header.base_sequence,
            last_seq: last_sequence(header),
            first_offset,
            last_offset: first_offset + i64::from(header.last_offset_delta),
            max_timestamp: header.max_timestamp,
        });
        None
    }
}

/// Verdict on one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceCheck {
    /// The batch is new and in order: write it.
    Append,
    /// The batch is a retry of one already written: answer with where it went.
    Duplicate {
        /// Offset of the original's first record.
        first_offset: i64,
        /// Offset of the original's last record.
        last_offset: i64,
        /// The original's stored max timestamp.
        max_timestamp: i64,
    },
}

/// Why a producer's batch was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProducerError {
    /// The batch's epoch is older than one already seen: the producer is fenced.
    #[error("producer {producer_id} epoch {epoch} is older than the current epoch {current}")]
    InvalidProducerEpoch {
        /// The producer id.
        producer_id: i64,
        /// The batch's epoch.
        epoch: i16,
        /// The newest epoch seen for this producer.
        current: i16,
    },
    /// The batch's sequence does not continue the producer's last written batch.
    #[error("out of order sequence for producer {producer_id} epoch {epoch}: first sequence {first_seq}, {detail}")]
    OutOfOrderSequence {
        /// The producer id.
        producer_id: i64,
        /// The batch's epoch.
        epoch: i16,
        /// The batch's first sequence.
        first_seq: i32,
        /// What was expected instead.
        detail: String,
    },
    /// A non-transactional batch from a producer with an open transaction.
    #[error(
        "producer {producer_id} has an open transaction: a non-transactional batch is not allowed"
    )]
    InvalidTxnState {
        /// The producer id.
        producer_id: i64,
    },
    /// A marker written by an older transaction coordinator than the last one seen
    /// for the producer (a zombie coordinator).
    #[error("marker for producer {producer_id} from coordinator epoch {coordinator_epoch}, older than {current}")]
    CoordinatorFenced {
        /// The producer id.
        producer_id: i64,
        /// The marker's coordinator epoch.
        coordinator_epoch: i32,
        /// The newest coordinator epoch seen for this producer.
        current: i32,
    },
}

impl ProducerError {
    /// The Kafka protocol error code a broker should answer with.
    pub fn error_code(&self) -> i16 {
        match self {
            ProducerError::InvalidProducerEpoch { .. } => error_code::INVALID_PRODUCER_EPOCH,
            ProducerError::OutOfOrderSequence { .. } => error_code::OUT_OF_ORDER_SEQUENCE_NUMBER,
            ProducerError::InvalidTxnState { .. } => ResponseError::InvalidTxnState.code(),
            ProducerError::CoordinatorFenced { .. } => {
                ResponseError::TransactionCoordinatorFenced.code()
            }
        }
    }
}

/// Producer id → state, for one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerStateTable {
    producers: HashMap<i64, ProducerEntry>,
    /// Open and not yet stable transactions, partition-wide.
    txns: Transactions,
}

impl ProducerStateTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of producers tracked.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// Whether no producer is tracked.
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// The state of `producer_id`, if known.
    pub fn get(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Every tracked producer id with its state, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &ProducerEntry)> {
        self.producers.iter().map(|(id, entry)| (*id, entry))
    }

    /// Sets the state of one producer (loading a snapshot), its open transaction
    /// included.
    pub(crate) fn insert(&mut self, producer_id: i64, entry: ProducerEntry) {
        if let Some(first) = entry.current_txn_first_offset {
            self.txns.open(producer_id, first);
        }
        if let Some(old) = self.producers.insert(producer_id, entry) {
            if let Some(first) = old.current_txn_first_offset {
                self.txns.ongoing.remove(&first);
            }
        }
    }

    /// Forgets every producer and transaction (not the high watermark).
    pub fn clear(&mut self) {
        self.producers.clear();
        self.txns.clear();
    }

    /// The first offset of the oldest transaction that is open, or completed with a
    /// marker the high watermark has not passed; `None` when there is none.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.txns.first_unstable_offset()
    }

    /// Open transactions: (first offset, producer id), oldest first.
    pub fn open_transactions(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.txns.ongoing.iter().map(|(first, id)| (*first, *id))
    }

    /// Completed transactions whose marker is not below the high watermark yet:
    /// (first offset, marker offset), oldest first.
    pub fn unreplicated_transactions(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.txns.unreplicated.iter().map(|(f, l)| (*f, *l))
    }

    /// Records a completed transaction not yet stable (loading a snapshot).
    pub(crate) fn insert_unreplicated(&mut self, first_offset: i64, marker_offset: i64) {
        self.txns.unreplicated.insert(first_offset, marker_offset);
    }

    /// The high watermark moved (see `transactions.rs`).
    pub fn on_high_watermark(&mut self, high_watermark: i64) {
        self.txns.on_high_watermark(high_watermark);
    }

    /// Checks a marker against the producer's state: an older producer epoch is
    /// fenced (`INVALID_PRODUCER_EPOCH`), an older coordinator epoch too
    /// (`TRANSACTION_COORDINATOR_FENCED`). A producer the table does not know passes.
    pub fn check_marker(
        &self,
        header: &BatchHeader,
        marker: &TxnMarker,
    ) -> Result<(), ProducerError> {
        let Some(entry) = self.producers.get(&header.producer_id) else {
            return Ok(());
        };
        if header.producer_epoch < entry.epoch {
            return Err(ProducerError::InvalidProducerEpoch {
                producer_id: header.producer_id,
                epoch: header.producer_epoch,
                current: entry.epoch,
            });
        }
        if marker.coordinator_epoch < entry.coordinator_epoch {
            return Err(ProducerError::CoordinatorFenced {
                producer_id: header.producer_id,
                coordinator_epoch: marker.coordinator_epoch,
                current: entry.coordinator_epoch,
            });
        }
        Ok(())
    }

    /// Checks one batch against the table. Batches without a producer id are always
    /// appended.
    pub fn check(&self, header: &BatchHeader) -> Result<SequenceCheck, ProducerError> {
        if header.producer_id < 0 {
            return Ok(SequenceCheck::Append);
        }
        check_entry(self.producers.get(&header.producer_id), header)
    }

    /// Records a batch written at `first_offset` (call only after a successful write of
    /// a batch that [`ProducerStateTable::check`] accepted).
    pub fn update(&mut self, header: &BatchHeader, first_offset: i64) {
        self.apply(header, first_offset, None);
    }

    /// Records a written batch like [`ProducerStateTable::update`]; `marker` is the
    /// transaction marker of a control batch. A transactional batch of a producer
    /// without an open transaction opens one; a marker ends the producer's open
    /// transaction and returns it (a marker with nothing open returns `None`, as in
    /// Kafka: it changes neither the last stable offset nor the aborted index).
    pub fn apply(
        &mut self,
        header: &BatchHeader,
        first_offset: i64,
        marker: Option<TxnMarker>,
    ) -> Option<CompletedTxn> {
        if header.producer_id < 0 {
            return None;
        }
        let producer_id = header.producer_id;
        let entry = self
            .producers
            .entry(producer_id)
            .or_insert_with(|| ProducerEntry::new(header.producer_epoch));
        let was_open = entry.current_txn_first_offset.is_some();
        match entry.apply(header, first_offset, marker) {
            Some((first, aborted)) => {
                Some(
                    self.txns
                        .complete(producer_id, first, header.base_offset, aborted),
                )
            }
            None => {
                if let (false, Some(first)) = (was_open, entry.current_txn_first_offset) {
                    self.txns.open(producer_id, first);
                }
                None
            }
        }
    }

    /// Checks the batches of one produce payload, in order, as if each earlier one had
    /// been written at consecutive offsets from `first_offset`; the table itself is not
    /// changed. The payload is a duplicate only when every batch is; a payload that
    /// mixes retried and new batches cannot be half-applied and is refused as out of
    /// order.
    pub fn check_payload(
        &self,
        headers: &[BatchHeader],
        first_offset: i64,
    ) -> Result<SequenceCheck, ProducerError> {
        if let [header] = headers {
            return self.check(header);
        }
        // Only the producers this payload touches are copied.
        let mut scratch: HashMap<i64, ProducerEntry> = HashMap::new();
        let mut next = first_offset;
        let mut duplicate: Option<(i64, i64, i64)> = None;
        let mut appends = 0usize;
        for header in headers {
            let verdict = if header.producer_id < 0 {
                SequenceCheck::Append
            } else {
                let entry = scratch
                    .get(&header.producer_id)
                    .or_else(|| self.producers.get(&header.producer_id));
                check_entry(entry, header)?
            };
            match verdict {
                SequenceCheck::Append => {
                    appends += 1;
                    if header.producer_id >= 0 {
                        let base = self.producers.get(&header.producer_id);
                        scratch
                            .entry(header.producer_id)
                            .or_insert_with(|| {
                                base.cloned()
                                    .unwrap_or_else(|| ProducerEntry::new(header.producer_epoch))
                            })
                            .apply(header, next, None);
                    }
                    next += i64::from(header.last_offset_delta) + 1;
                }
                SequenceCheck::Duplicate {
                    first_offset,
                    last_offset,
                    max_timestamp,
                } => {
                    let (first, _, max_ts) = duplicate.unwrap_or((first_offset, 0, i64::MIN));
                    duplicate = Some((first, last_offset, max_ts.max(max_timestamp)));
                }
            }
            if appends > 0 && duplicate.is_some() {
                return Err(ProducerError::OutOfOrderSequence {
                    producer_id: header.producer_id,
                    epoch: header.producer_epoch,
                    first_seq: header.base_sequence,
                    detail: "the request mixes retried and new batches".to_string(),
                });
            }
        }
        Ok(match duplicate {
            Some((first_offset, last_offset, max_timestamp)) => SequenceCheck::Duplicate {
                first_offset,
                last_offset,
                max_timestamp,
            },
            None => SequenceCheck::Append,
        })
    }
}

/// The rules for one batch of a producer (id >= 0) given its current state.
fn check_entry(
    entry: Option<&ProducerEntry>,
    header: &BatchHeader,
) -> Result<SequenceCheck, ProducerError> {
    let Some(entry) = entry else {
        // Unknown producer: its state may have expired or predate a restart; the
        // producer knows its sequence better than we do.
        return Ok(SequenceCheck::Append);
    };
    let epoch = header.producer_epoch;
    let first_seq = header.base_sequence;
    if !header.is_control() {
        if let Some(original) = entry.find_duplicate(epoch, first_seq, last_sequence(header)) {
            return Ok(SequenceCheck::Duplicate {
                first_offset: original.first_offset,
                last_offset: original.last_offset,
                max_timestamp: original.max_timestamp,
            });
        }
    }
    if epoch < entry.epoch {
        return Err(ProducerError::InvalidProducerEpoch {
            producer_id: header.producer_id,
            epoch,
            current: entry.epoch,
        });
    }
    if header.is_control() {
        return Ok(SequenceCheck::Append);
    }
    let out_of_order = |detail: String| ProducerError::OutOfOrderSequence {
        producer_id: header.producer_id,
        epoch,
        first_seq,
        detail,
    };
    if epoch > entry.epoch {
        // An entry without a real epoch carries no sequence history to continue.
        if first_seq != 0 && entry.epoch >= 0 {
            return Err(out_of_order(format!(
                "a new epoch (was {}) must start at sequence 0",
                entry.epoch
            )));
        }
        return check_txn_state(entry, header);
    }
    let last_seq = entry.last_seq();
    if !in_sequence(last_seq, first_seq) {
        return Err(out_of_order(format!(
            "expected {} after {last_seq}",
            next_sequence(last_seq)
        )));
    }
    check_txn_state(entry, header)
}

/// A producer with an open transaction writes only transactional batches.
fn check_txn_state(
    entry: &ProducerEntry,
    header: &BatchHeader,
) -> Result<SequenceCheck, ProducerError> {
    if !header.is_transactional() && entry.current_txn_first_offset.is_some() {
        return Err(ProducerError::InvalidTxnState {
            producer_id: header.producer_id,
        });
    }
    Ok(SequenceCheck::Append)
}

/// Whether `next` directly follows `last` (sequences wrap from `i32::MAX` to 0; -1
/// means nothing written yet, so 0 follows).
fn in_sequence(last: i32, next: i32) -> bool {
    next == next_sequence(last)
}

fn next_sequence(seq: i32) -> i32 {
    if seq == i32::MAX {
        0
    } else {
        seq + 1
    }
}

/// Sequence of the batch's last record: `base_sequence + last_offset_delta`, wrapping
/// past `i32::MAX` to 0.
pub fn last_sequence(header: &BatchHeader) -> i32 {
    let delta = header.last_offset_delta.max(0);
    let base = header.base_sequence;
    if base > i32::MAX - delta {
        // Counts 0 as the successor of i32::MAX.
        delta - (i32::MAX - base) - 1
    } else {
        base + delta
    }
}
