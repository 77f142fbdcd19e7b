//! Durable keyed records in a partition of `__consumer_offsets`: append a set of
//! key/value records as one batch, and read a whole partition back when loading.
//!
//! The record formats (Kafka's offset-commit and group-metadata keys and values) live in
//! `strata-group`; this file only moves bytes.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use strata_log::LogError;

use crate::config::FlushPolicy;
use crate::replica::{Partition, QueuedAppend, SyncWait};

/// One keyed record; a `None` value is a tombstone.
pub type KeyedRecord = (Bytes, Option<Bytes>);

/// A write of keyed records that has its place in the log; see [`append`].
pub enum PendingWrite {
    /// Nothing to write; the log's last offset at the time.
    Empty(i64),
    /// Queued for the log and, under the `batch` flush policy, for an fsync.
    Queued(QueuedAppend, Option<SyncWait>),
}

impl PendingWrite {
    /// Waits until the write is in the log and, if the policy asks, fsynced; returns
    /// its last offset.
    pub async fn durable(self) -> Result<i64, LogError> {
        match self {
            PendingWrite::Empty(last) => Ok(last),
            PendingWrite::Queued(appended, sync) => {
                let info = appended.appended().await?;
                if let Some(sync) = sync {
                    sync.wait().await?;
                }
                Ok(info.last_offset)
            }
        }
    }
}

/// Queues `records` as one batch. The write's place in the log is fixed when this
/// returns, so callers that must keep an order (one connection's commits) may move on
/// and wait with [`PendingWrite::durable`] afterwards.
pub fn append(
    partition: &Arc<Partition>,
    records: Vec<KeyedRecord>,
    now_ms: i64,
    policy: FlushPolicy,
) -> Result<PendingWrite, LogError> {
    if records.is_empty() {
        return Ok(PendingWrite::Empty(partition.log_end_offset() - 1));
    }
    let batch = encode_batch(records, now_ms)?;
    // Every record here has a key and is uncompressed by construction, so the append
    // is "trusted" (no topic-settings rewrite).
    Ok(if policy == FlushPolicy::Batch {
        let (appended, sync) = partition.enqueue_trusted_synced(batch, now_ms);
        PendingWrite::Queued(appended, Some(sync))
    } else {
        PendingWrite::Queued(partition.enqueue_trusted(batch, now_ms), None)
    })
}

fn encode_batch(records: Vec<KeyedRecord>, now_ms: i64) -> Result<Bytes, LogError> {
    let records: Vec<Record> = records
        .into_iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder starts a new batch whenever offset - sequence changes; this keeps
            // one batch with base sequence -1 (no idempotence).
            sequence: i as i32 - 1,
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

/// Reads every keyed record of `partition` from its start to its high-water mark, in
/// offset order. Blocking: call it on a blocking thread.
pub fn read_all_blocking(partition: &Partition) -> Result<Vec<KeyedRecord>, LogError> {
    let mut out = Vec::new();
    let mut offset = partition.log_start_offset();
    let end = partition.high_watermark();
    while offset < end {
        let read = partition.read_blocking(offset, 1 << 20, true)?;
        if read.records.is_empty() {
            break;
        }
        let mut bytes = read.records;
        let sets = RecordBatchDecoder::decode_all(&mut bytes)
            .map_err(|e| LogError::Corrupt(format!("{}: {e}", partition.topic)))?;
        let mut next = offset;
        for set in sets {
            for r in set.records {
                // A fetch returns whole batches, which may start before `offset`.
                if r.offset >= offset {
                    if let Some(key) = r.key {
                        out.push((key, r.value));
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
    Ok(out)
}
