//! Durable keyed records in a partition of `__consumer_offsets`: append a set of
//! key/value records as one batch (transactional for TxnOffsetCommit), and read a whole
//! partition back when loading, with each record's batch producer and control flag.
//!
//! The record formats (Kafka's offset-commit and group-metadata keys and values) live in
//! `strata-group`; this file only moves bytes.

use std::sync::Arc;

use crate::replica::Replicated;
use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use strata_group::GroupError;
use strata_log::LogError;
use strata_proto::batch::{self, OffsetRule};
use strata_replication::AckState;

use crate::config::FlushPolicy;
use crate::replica::{Partition, QueuedAppend, SyncWait};
use crate::topics::OFFSETS_TOPIC;

/// One keyed record; a `None` value is a tombstone.
pub type KeyedRecord = (Bytes, Option<Bytes>);

/// How long a write waits for the in-sync replicas (Kafka's
/// `offsets.commit.timeout.ms` default).
const REPLICATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Why a write to `__consumer_offsets` did not complete.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The log refused or failed the write.
    #[error(transparent)]
    Log(#[from] LogError),
    /// This broker does not lead the partition (any more).
    #[error("this broker does not lead the {OFFSETS_TOPIC} partition")]
    NotLeader,
    /// Fewer in-sync replicas than `min.insync.replicas`, or no leader at all.
    #[error("{OFFSETS_TOPIC} partition unavailable: {0}")]
    Unavailable(&'static str),
    /// The in-sync replicas did not all confirm in time.
    #[error("the in-sync replicas did not confirm in time")]
    TimedOut,
}

impl WriteError {
    /// The error group clients understand, as Kafka's coordinator maps them:
    /// leadership loss sends clients to find the coordinator again; replication
    /// trouble is COORDINATOR_NOT_AVAILABLE (retriable).
    pub fn group_error(&self) -> GroupError {
        match self {
            WriteError::Log(e) => GroupError::from_append_error(e.error_code()),
            WriteError::NotLeader => GroupError::NotCoordinator,
            WriteError::Unavailable(_) | WriteError::TimedOut => {
                GroupError::CoordinatorNotAvailable
            }
        }
    }
}

/// A write of keyed records that has its place in the log; see [`append`].
pub enum PendingWrite {
    /// Nothing to write; the log's last offset at the time.
    Empty(i64),
    /// Queued for the log and, under the `batch` flush policy, for an fsync.
    Queued(Arc<Partition>, QueuedAppend, Option<SyncWait>),
}

impl PendingWrite {
    /// Waits until the write is in the log, fsynced if the policy asks, and held by
    /// every in-sync replica (as Kafka's coordinator writes with `acks=all`, so a
    /// new coordinator after a failover has it); returns its last offset.
    pub async fn committed(self) -> Result<i64, WriteError> {
        let (_, durable) = self.appended().await?;
        durable.committed().await
    }

    /// Waits until the write is in the log (not yet durable nor replicated); returns
    /// its last offset and the rest of the wait. A transactional write learns its place
    /// this way before its durability wait, so a marker that follows it in the log
    /// finds it recorded.
    pub async fn appended(self) -> Result<(i64, Durable), WriteError> {
        match self {
            PendingWrite::Empty(last) => Ok((
                last,
                Durable {
                    partition: None,
                    sync: None,
                    last,
                },
            )),
            PendingWrite::Queued(partition, appended, sync) => {
                let info = appended.appended().await?;
                if info.duplicate {
                    // Only a transactional write can be taken for a retry (its producer
                    // sequence repeated one in the log): nothing was written.
                    return Err(WriteError::Unavailable(
                        "the write was taken for a retry of an earlier batch",
                    ));
                }
                Ok((
                    info.last_offset,
                    Durable {
                        partition: Some(partition),
                        sync,
                        last: info.last_offset,
                    },
                ))
            }
        }
    }
}

/// The durability part of a write already in the log; see [`PendingWrite::appended`].
pub struct Durable {
    partition: Option<Arc<Partition>>,
    sync: Option<SyncWait>,
    last: i64,
}

impl Durable {
    /// Waits until the write is fsynced (if the policy asks) and held by every
    /// in-sync replica; returns its last offset.
    pub async fn committed(self) -> Result<i64, WriteError> {
        let Some(partition) = self.partition else {
            return Ok(self.last);
        };
        if let Some(sync) = self.sync {
            sync.wait().await?;
        }
        let deadline = tokio::time::Instant::now() + REPLICATION_TIMEOUT;
        match partition.wait_replicated(self.last, deadline).await {
            Replicated::Verdict(AckState::Done) => Ok(self.last),
            Replicated::Verdict(AckState::Wait) => Err(WriteError::TimedOut),
            Replicated::NotLeader | Replicated::Deleted => Err(WriteError::NotLeader),
            Replicated::Verdict(
                AckState::NotEnoughReplicas | AckState::NotEnoughReplicasAfterAppend,
            ) => Err(WriteError::Unavailable(
                "the in-sync replicas shrank while writing",
            )),
        }
    }
}

/// The producer of a transactional batch (TxnOffsetCommit): its id, epoch and the
/// batch's base sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnProducer {
    /// Producer id.
    pub id: i64,
    /// Producer epoch.
    pub epoch: i16,
    /// Sequence of the batch's first record.
    pub base_sequence: i32,
}

/// Queues `records` as one batch on `partition`, which this broker leads. The write's
/// place in the log is fixed when this returns, so callers that must keep an order
/// (one connection's commits) may move on and wait with [`PendingWrite::committed`]
/// afterwards. Refused before writing when the partition has fewer in-sync replicas
/// than `min.insync.replicas` (as an `acks=all` produce is).
pub fn append(
    partition: &Arc<Partition>,
    records: Vec<KeyedRecord>,
    now_ms: i64,
    policy: FlushPolicy,
) -> Result<PendingWrite, WriteError> {
    append_batch(partition, records, now_ms, policy, None)
}

/// Like [`append`], as one transactional batch of `producer` (attribute bit 4, its id,
/// epoch and sequences): Kafka's TxnOffsetCommit record batch. Its offsets stay
/// pending until the producer's marker follows it in the partition.
pub fn append_transactional(
    partition: &Arc<Partition>,
    records: Vec<KeyedRecord>,
    now_ms: i64,
    policy: FlushPolicy,
    producer: TxnProducer,
) -> Result<PendingWrite, WriteError> {
    append_batch(partition, records, now_ms, policy, Some(producer))
}

fn append_batch(
    partition: &Arc<Partition>,
    records: Vec<KeyedRecord>,
    now_ms: i64,
    policy: FlushPolicy,
    producer: Option<TxnProducer>,
) -> Result<PendingWrite, WriteError> {
    if records.is_empty() {
        return Ok(PendingWrite::Empty(partition.log_end_offset() - 1));
    }
    if partition.acks_all_admit() == AckState::NotEnoughReplicas {
        return Err(if partition.leading_epoch().is_none() {
            WriteError::NotLeader
        } else {
            WriteError::Unavailable("fewer in-sync replicas than min.insync.replicas")
        });
    }
    let batch = encode_batch(records, now_ms, producer)?;
    // Every record here has a key and is uncompressed by construction, so the append
    // is "trusted" (no topic-settings rewrite).
    let p = Arc::clone(partition);
    Ok(if policy == FlushPolicy::Batch {
        let (appended, sync) = partition.enqueue_trusted_synced(batch, now_ms);
        PendingWrite::Queued(p, appended, Some(sync))
    } else {
        PendingWrite::Queued(p, partition.enqueue_trusted(batch, now_ms), None)
    })
}

fn encode_batch(
    records: Vec<KeyedRecord>,
    now_ms: i64,
    producer: Option<TxnProducer>,
) -> Result<Bytes, LogError> {
    let (producer_id, producer_epoch, base_sequence) =
        producer.map_or((-1, -1, -1), |p| (p.id, p.epoch, p.base_sequence));
    let records: Vec<Record> = records
        .into_iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            transactional: producer.is_some(),
            control: false,
            partition_leader_epoch: 0,
            producer_id,
            producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder starts a new batch whenever offset - sequence changes; this keeps
            // one batch with the base sequence (-1 without a producer: no idempotence).
            sequence: base_sequence.wrapping_add(i as i32),
            timestamp: now_ms,
            key: Some(key),
            value,
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .map_err(|e| LogError::Io(std::io::Error::other(e.to_string())))?;
    Ok(buf.freeze())
}

/// One keyed record read back when loading, with what its batch says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedRecord {
    /// Its offset in the log.
    pub offset: i64,
    /// The producer id of a transactional batch, `None` for any other batch.
    pub txn_producer: Option<i64>,
    /// Whether it is a control record (a transaction marker, when its key says so).
    pub control: bool,
    /// The key.
    pub key: Bytes,
    /// The value; `None` is a tombstone.
    pub value: Option<Bytes>,
}

/// Reads every keyed record of `partition` from its start to its log end, in offset
/// order: a new leader serves all its log holds, as Kafka's coordinator loads to the
/// log end (the tail above the high watermark is the new leader's to commit).
/// Blocking: call it on a blocking thread.
pub fn read_to_end_blocking(partition: &Partition) -> Result<Vec<LoadedRecord>, LogError> {
    read_range_blocking(
        partition,
        partition.log_start_offset(),
        partition.log_end_offset(),
    )
    .map(|(records, _)| records)
}

/// Reads the keyed records of `partition` at offsets `from..end` (from the log start
/// when `from` is below it), in offset order; also answers the offset reading stopped
/// at (`end` unless the log ends earlier). Blocking: call it on a blocking thread.
pub fn read_range_blocking(
    partition: &Partition,
    from: i64,
    end: i64,
) -> Result<(Vec<LoadedRecord>, i64), LogError> {
    let mut out = Vec::new();
    let limit = partition.log_config_blocking().max_message_bytes as usize;
    let mut offset = from.max(partition.log_start_offset());
    while offset < end {
        let read = partition.read_blocking_upto(offset, 1 << 20, true, Some(end))?;
        if read.records.is_empty() {
            break;
        }
        let bytes = read.records;
        let mut next = offset;
        for item in batch::batches(&bytes) {
            let corrupt =
                |e: batch::BatchError| LogError::Corrupt(format!("{}: {e}", partition.topic));
            let (header, one) = item.map_err(corrupt)?;
            // A batch emptied by compaction still moves the offset on.
            next = next.max(header.next_offset());
            let txn_producer = header
                .is_transactional()
                .then_some(header.producer_id)
                .filter(|id| *id >= 0);
            // Stored data is checked (and decompressed, bounded) before it is decoded.
            let set = batch::decode_record_set(&bytes.slice_ref(one), limit, OffsetRule::Compacted)
                .map_err(corrupt)?;
            for r in set.records {
                // A fetch returns whole batches, which may start before `offset`.
                if r.offset >= offset && r.offset < end {
                    if let Some(key) = r.key {
                        out.push(LoadedRecord {
                            offset: r.offset,
                            txn_producer,
                            control: header.is_control(),
                            key,
                            value: r.value,
                        });
                    }
                }
                next = next.max(r.offset + 1);
            }
        }
        if next <= offset {
            break;
        }
        offset = next;
    }
    Ok((out, offset.clamp(from, end.max(from))))
}

/// The log's producer state for `producer_id` in `partition`: (epoch, last sequence of
/// that epoch, -1 when none), `None` if the log does not know the producer. Blocking.
pub fn producer_state_blocking(
    partition: &Partition,
    producer_id: i64,
) -> Result<Option<(i16, i32)>, LogError> {
    partition.run_blocking(|log| {
        Ok(log
            .producer_state()
            .get(producer_id)
            .map(|e| (e.epoch, e.last_seq())))
    })
}
