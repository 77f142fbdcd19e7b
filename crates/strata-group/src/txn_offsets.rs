//! Transactional offset commits (KIP-98, KIP-447): what TxnOffsetCommit writes stays
//! *pending* until the producer's transaction marker lands in the same
//! `__consumer_offsets` partition. A COMMIT marker turns the producer's pending
//! offsets into committed offsets, an ABORT marker drops them.
//!
//! One [`TxnOffsets`] holds the pending offsets of the groups of one
//! `__consumer_offsets` partition, since a marker completes a producer's transaction
//! for exactly one partition. The committed offsets it materializes into are the
//! caller's ([`CommittedOffsets`] per group), so regular and transactional commits
//! share one rule, [`materialize`].
//!
//! Invariants (held by the tests in `tests/txn_offsets.rs`):
//! - A pending offset is never a committed offset: only [`TxnOffsets::complete`] with
//!   `commit` (or the report of a write its marker already settled,
//!   [`TxnOffsets::written`]) moves it into the committed map.
//! - Log order decides, never completion order: an offset becomes the committed one
//!   only if its record lies later in the log than the record of the offset it would
//!   replace. So a regular commit written after a transactional one wins, whenever the
//!   transaction completes, and the live coordinator ends where a replay of the log
//!   ends.
//! - A tombstone for a partition ([`TxnOffsets::remove`]) drops every pending offset
//!   of the group for it, of every producer, as Kafka's coordinator does.
//! - Each write is settled once. A marker completes every write of its producer
//!   that was started before it, including one whose append result the coordinator
//!   has not seen yet: that one is settled when its result arrives.
//! - Nothing here grows without a client asking: entries are only added per offset of
//!   an accepted TxnOffsetCommit (or a record replayed from the log) and leave with
//!   their transaction, a tombstone, a failed write or the partition's unloading.

use std::collections::HashMap;

use crate::records::OffsetCommitValue;

/// A partition of a user topic: (topic, partition index).
pub type TopicPartition = (String, i32);

/// A group's committed offsets: partition → (log offset of the record that committed
/// it, the committed value). The log offset orders commits (see [`materialize`]).
pub type CommittedOffsets = HashMap<TopicPartition, (i64, OffsetCommitValue)>;

/// Identifies one TxnOffsetCommit write, from [`TxnOffsets::begin`].
pub type WriteId = u64;

/// Makes `value`, written at log offset `at`, the committed offset of `partition`
/// unless the current one was written later in the log. Returns whether it did.
///
/// This is the only rule by which committed offsets change: regular commits (whose
/// durability waits may finish out of order), materialized transactional commits and
/// the replay of the log all go through it.
pub fn materialize(
    committed: &mut CommittedOffsets,
    partition: TopicPartition,
    at: i64,
    value: OffsetCommitValue,
) -> bool {
    let newer = committed
        .get(&partition)
        .is_none_or(|(current, _)| *current < at);
    if newer {
        committed.insert(partition, (at, value));
    }
    newer
}

/// One TxnOffsetCommit's offsets for one group.
#[derive(Debug, Clone, PartialEq)]
struct Write {
    id: WriteId,
    producer_id: i64,
    /// Log offset of the write's records once its append is reported.
    at: Option<i64>,
    offsets: Vec<(TopicPartition, OffsetCommitValue)>,
}

/// A write whose transaction completed before its append was reported.
#[derive(Debug, Clone, PartialEq)]
struct Settled {
    group: String,
    commit: bool,
    write: Write,
}

/// What [`TxnOffsets::complete`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completion {
    /// Groups that had pending offsets of the producer.
    pub groups: Vec<String>,
    /// Offsets that became committed.
    pub materialized: usize,
    /// Offsets dropped: aborted, or older in the log than the committed offset.
    pub dropped: usize,
    /// Offsets of writes still in flight, settled when their append is reported.
    pub settling: usize,
}

/// The pending transactional offsets of the groups of one `__consumer_offsets`
/// partition, by group and producer.
#[derive(Debug, Clone, Default)]
pub struct TxnOffsets {
    /// group → its pending writes, oldest first.
    groups: HashMap<String, Vec<Write>>,
    /// Writes settled by a marker while their append was in flight.
    settled: HashMap<WriteId, Settled>,
    next_write: WriteId,
}

impl TxnOffsets {
    /// No pending offsets.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether nothing is pending or settling.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.settled.is_empty()
    }

    /// Records the offsets of a TxnOffsetCommit about to be appended: they are pending
    /// from now on (OffsetFetch with `require_stable` sees them), and never committed
    /// before both the append is reported ([`TxnOffsets::written`]) and the
    /// producer's COMMIT marker is applied ([`TxnOffsets::complete`]).
    pub fn begin(
        &mut self,
        group: &str,
        producer_id: i64,
        offsets: Vec<(TopicPartition, OffsetCommitValue)>,
    ) -> WriteId {
        self.next_write += 1;
        let id = self.next_write;
        // A partition named twice: its later record is the newer one, as a replay sees.
        let mut offsets = offsets;
        let mut seen = std::collections::HashSet::new();
        offsets.reverse();
        offsets.retain(|(tp, _)| seen.insert(tp.clone()));
        offsets.reverse();
        if !offsets.is_empty() {
            self.groups
                .entry(group.to_string())
                .or_default()
                .push(Write {
                    id,
                    producer_id,
                    at: None,
                    offsets,
                });
        }
        id
    }

    /// Reports that write `id` was appended at log offset `at` (any offset of its
    /// batch: batches never interleave). A write its transaction already settled is
    /// materialized (COMMIT) or dropped (ABORT) now, into `committed`. Returns the
    /// number of offsets materialized.
    pub fn written(
        &mut self,
        id: WriteId,
        at: i64,
        committed: &mut HashMap<String, CommittedOffsets>,
    ) -> usize {
        if let Some(s) = self.settled.remove(&id) {
            if !s.commit {
                return 0;
            }
            let map = committed.entry(s.group).or_default();
            return s
                .write
                .offsets
                .into_iter()
                .filter(|(tp, v)| materialize(map, tp.clone(), at, v.clone()))
                .count();
        }
        for writes in self.groups.values_mut() {
            if let Some(w) = writes.iter_mut().find(|w| w.id == id) {
                w.at = Some(at);
                break;
            }
        }
        0
    }

    /// Reports that write `id` failed: its offsets are no longer pending. (If the
    /// append did reach the log after all, a reload finds it.)
    pub fn failed(&mut self, id: WriteId) {
        self.settled.remove(&id);
        self.groups.retain(|_, writes| {
            writes.retain(|w| w.id != id);
            !writes.is_empty()
        });
    }

    /// Adds one transactional offset replayed from the log (record at log offset `at`)
    /// as pending; `complete` settles it when the replay reaches its marker.
    pub fn replay(
        &mut self,
        group: &str,
        producer_id: i64,
        partition: TopicPartition,
        value: OffsetCommitValue,
        at: i64,
    ) {
        let id = self.begin(group, producer_id, vec![(partition, value)]);
        self.written(id, at, &mut HashMap::new());
    }

    /// Applies `producer_id`'s transaction marker for this partition: with `commit`
    /// its pending offsets become committed offsets (each only if written later in
    /// the log than the offset it replaces), otherwise they are dropped. Writes still
    /// in flight are settled when [`TxnOffsets::written`] reports them.
    pub fn complete(
        &mut self,
        producer_id: i64,
        commit: bool,
        committed: &mut HashMap<String, CommittedOffsets>,
    ) -> Completion {
        let mut done = Completion::default();
        let mut emptied = Vec::new();
        for (group, writes) in self.groups.iter_mut() {
            let (mine, others): (Vec<Write>, Vec<Write>) = std::mem::take(writes)
                .into_iter()
                .partition(|w| w.producer_id == producer_id);
            *writes = others;
            if writes.is_empty() {
                emptied.push(group.clone());
            }
            if mine.is_empty() {
                continue;
            }
            done.groups.push(group.clone());
            for write in mine {
                let Some(at) = write.at else {
                    done.settling += write.offsets.len();
                    self.settled.insert(
                        write.id,
                        Settled {
                            group: group.clone(),
                            commit,
                            write,
                        },
                    );
                    continue;
                };
                if !commit {
                    done.dropped += write.offsets.len();
                    continue;
                }
                let map = committed.entry(group.clone()).or_default();
                for (tp, value) in write.offsets {
                    if materialize(map, tp, at, value) {
                        done.materialized += 1;
                    } else {
                        done.dropped += 1;
                    }
                }
            }
        }
        for group in emptied {
            self.groups.remove(&group);
        }
        done.groups.sort();
        done
    }

    /// A tombstone for `partitions` of `group`: drops their pending offsets, of every
    /// producer, settling ones included.
    pub fn remove(&mut self, group: &str, partitions: &[TopicPartition]) {
        let gone = |tp: &TopicPartition| partitions.contains(tp);
        if let Some(writes) = self.groups.get_mut(group) {
            for w in writes.iter_mut() {
                w.offsets.retain(|(tp, _)| !gone(tp));
            }
            writes.retain(|w| !w.offsets.is_empty());
            if writes.is_empty() {
                self.groups.remove(group);
            }
        }
        for s in self.settled.values_mut() {
            if s.group == group {
                s.write.offsets.retain(|(tp, _)| !gone(tp));
            }
        }
    }

    /// Whether `group` has a pending (or settling) transactional offset for
    /// `topic`-`partition`: OffsetFetch with `require_stable` answers
    /// UNSTABLE_OFFSET_COMMIT for it.
    pub fn is_pending(&self, group: &str, topic: &str, partition: i32) -> bool {
        let hit = |offsets: &[(TopicPartition, OffsetCommitValue)]| {
            offsets
                .iter()
                .any(|((t, p), _)| t == topic && *p == partition)
        };
        self.groups
            .get(group)
            .is_some_and(|writes| writes.iter().any(|w| hit(&w.offsets)))
            || self
                .settled
                .values()
                .any(|s| s.group == group && hit(&s.write.offsets))
    }

    /// The partitions `group` has pending (or settling) offsets for, sorted, without
    /// duplicates.
    pub fn pending_partitions(&self, group: &str) -> Vec<TopicPartition> {
        let mut out: Vec<TopicPartition> = self
            .groups
            .get(group)
            .into_iter()
            .flatten()
            .chain(
                self.settled
                    .values()
                    .filter(|s| s.group == group)
                    .map(|s| &s.write),
            )
            .flat_map(|w| w.offsets.iter().map(|(tp, _)| tp.clone()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Groups with pending offsets.
    pub fn groups(&self) -> impl Iterator<Item = &String> {
        self.groups.keys()
    }

    /// Producers with pending offsets in `group`, sorted.
    pub fn producers(&self, group: &str) -> Vec<i64> {
        let mut out: Vec<i64> = self
            .groups
            .get(group)
            .into_iter()
            .flatten()
            .map(|w| w.producer_id)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Forgets `group`'s pending offsets (its deletion wrote the tombstones).
    pub fn remove_group(&mut self, group: &str) {
        self.groups.remove(group);
        self.settled.retain(|_, s| s.group != group);
    }
}
