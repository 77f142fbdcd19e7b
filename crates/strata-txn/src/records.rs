//! The records a transaction coordinator keeps in `__transaction_state`, byte-compatible
//! with Kafka's: the key is `int16` version 0 then the transactional id; the value is
//! `int16` version then Kafka's `TransactionLogValue` (version 0 classic, version 1
//! flexible with tagged fields: tag 0 `PreviousProducerId`, tag 1 `NextProducerId`,
//! tag 2 `ClientTransactionVersion`); a null value (tombstone) means the transactional
//! id expired.
//!
//! Writing picks the lowest version that holds the value: version 0 unless a tagged
//! field differs from its default (a previous producer id after a producer-id rotation),
//! then version 1. Both versions are read; unknown tags are skipped.

use std::collections::BTreeMap;

use bytes::{BufMut, Bytes};

use crate::types::{TopicPartition, TxnState};
pub use strata_proto::record_codec::RecordError;
use strata_proto::record_codec::{Reader, Writer};

/// The only key version Kafka defines for `__transaction_state`.
pub const KEY_VERSION: i16 = 0;

/// Longest transactional id a record may hold (Kafka strings are `int16`-sized).
pub const MAX_TRANSACTIONAL_ID_BYTES: usize = i16::MAX as usize;

/// Encodes the key of `transactional_id`'s records.
pub fn encode_key(transactional_id: &str) -> Bytes {
    let mut w = Writer::new(false);
    w.buf.put_i16(KEY_VERSION);
    w.string(transactional_id);
    w.buf.freeze()
}

/// The key's transactional id, `Ok(None)` for a key version this crate does not know
/// (a loader skips those records, as Kafka's does).
pub fn decode_key(bytes: &[u8]) -> Result<Option<String>, RecordError> {
    let mut r = Reader::new(bytes);
    let version = r.i16()?;
    if version != KEY_VERSION {
        return Ok(None);
    }
    let id = r.string()?;
    if r.remaining() != 0 {
        return Err(RecordError::Malformed("bytes after the key"));
    }
    Ok(Some(id))
}

/// One transactional id's persisted state: Kafka's `TransactionLogValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnLogValue {
    /// Producer id in use by the transactional id.
    pub producer_id: i64,
    /// Tag 0 (v1): the producer id before the last rotation, `-1` if none.
    pub previous_producer_id: i64,
    /// Tag 1 (v1): transactions v2, the producer id a Prepare* hands over to when its
    /// epoch bump used up the current one, `-1` if none.
    pub next_producer_id: i64,
    /// Epoch of the producer id.
    pub producer_epoch: i16,
    /// Transaction timeout.
    pub timeout_ms: i32,
    /// The state.
    pub state: TxnState,
    /// Partitions in the transaction (empty when the state is `Empty`).
    pub partitions: Vec<TopicPartition>,
    /// When the transaction was last updated.
    pub last_update_ms: i64,
    /// When the transaction started, `-1` if none is.
    pub start_ms: i64,
    /// Tag 2 (v1): the `transaction.version` of the id's last transaction (2 for
    /// transactions v2, else 0).
    pub client_transaction_version: i16,
}

impl TxnLogValue {
    /// The version [`TxnLogValue::encode`] writes.
    pub fn version(&self) -> i16 {
        let tagged = self.previous_producer_id != -1
            || self.next_producer_id != -1
            || self.client_transaction_version != 0;
        i16::from(tagged)
    }

    /// Encodes the value with its version prefix (see the module docs for the version).
    pub fn encode(&self) -> Bytes {
        let version = self.version();
        let flexible = version >= 1;
        let mut w = Writer::new(flexible);
        w.buf.put_i16(version);
        w.buf.put_i64(self.producer_id);
        w.buf.put_i16(self.producer_epoch);
        w.buf.put_i32(self.timeout_ms);
        w.buf.put_i8(self.state.id());
        if self.state == TxnState::Empty {
            // Kafka writes no partition list for an Empty transactional id.
            w.array_len(None);
        } else {
            let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
            for tp in &self.partitions {
                by_topic.entry(&tp.topic).or_default().push(tp.partition);
            }
            w.array_len(Some(by_topic.len()));
            for (topic, ids) in by_topic {
                w.string(topic);
                w.array_len(Some(ids.len()));
                for id in ids {
                    w.buf.put_i32(id);
                }
                if flexible {
                    w.uvarint(0);
                }
            }
        }
        w.buf.put_i64(self.last_update_ms);
        w.buf.put_i64(self.start_ms);
        if flexible {
            let mut tags: Vec<(u32, Vec<u8>)> = Vec::new();
            if self.previous_producer_id != -1 {
                tags.push((0, self.previous_producer_id.to_be_bytes().to_vec()));
            }
            if self.next_producer_id != -1 {
                tags.push((1, self.next_producer_id.to_be_bytes().to_vec()));
            }
            if self.client_transaction_version != 0 {
                tags.push((2, self.client_transaction_version.to_be_bytes().to_vec()));
            }
            w.uvarint(tags.len() as u32);
            for (tag, data) in tags {
                w.uvarint(tag);
                w.uvarint(data.len() as u32);
                w.buf.put_slice(&data);
            }
        }
        w.buf.freeze()
    }

    /// Decodes a value of version 0 or 1. Trailing bytes, unknown states and lengths
    /// past the end are errors; partitions of an `Empty` value are ignored, as Kafka
    /// ignores them.
    pub fn decode(bytes: &[u8]) -> Result<TxnLogValue, RecordError> {
        let mut r = Reader::new(bytes);
        let version = r.i16()?;
        if !(0..=1).contains(&version) {
            return Err(RecordError::UnsupportedVersion {
                what: "transaction log value",
                version,
            });
        }
        let flexible = version >= 1;
        r.set_flexible(flexible);
        let producer_id = r.i64()?;
        let producer_epoch = r.i16()?;
        let timeout_ms = r.i32()?;
        let state = TxnState::from_id(r.i8()?)
            .ok_or(RecordError::Malformed("unknown transaction state"))?;
        let mut partitions = Vec::new();
        // A topic entry takes at least 2 bytes (classic: 2 + 4; compact: 1 + 1).
        if let Some(n) = r.array_len(2)? {
            for _ in 0..n {
                let topic = r.string()?;
                let ids = r.array_len(4)?.unwrap_or(0);
                for _ in 0..ids {
                    let partition = r.i32()?;
                    partitions.push(TopicPartition::new(topic.clone(), partition));
                }
                r.skip_tagged_fields()?;
            }
        }
        let last_update_ms = r.i64()?;
        let start_ms = r.i64()?;
        let mut value = TxnLogValue {
            producer_id,
            previous_producer_id: -1,
            next_producer_id: -1,
            producer_epoch,
            timeout_ms,
            state,
            partitions,
            last_update_ms,
            start_ms,
            client_transaction_version: 0,
        };
        if flexible {
            let count = r.uvarint()?;
            for _ in 0..count {
                let tag = r.uvarint()?;
                let size = r.uvarint()? as usize;
                let data = r.take(size)?;
                let mut t = Reader::new(data);
                match tag {
                    0 => value.previous_producer_id = t.i64()?,
                    1 => value.next_producer_id = t.i64()?,
                    2 => value.client_transaction_version = t.i16()?,
                    _ => continue,
                }
                if t.remaining() != 0 {
                    return Err(RecordError::Malformed("tagged field longer than its type"));
                }
            }
        }
        if r.remaining() != 0 {
            return Err(RecordError::Malformed("bytes after the value"));
        }
        if value.state == TxnState::Empty {
            value.partitions.clear();
        }
        value.partitions.sort();
        value.partitions.dedup();
        Ok(value)
    }
}

/// A decoded `__transaction_state` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A transactional id's state, or its expiry (`None`, a tombstone).
    Txn(String, Option<TxnLogValue>),
    /// A key version this crate does not interpret (skipped by loaders).
    UnknownKey(i16),
}

/// Decodes a record from its key and (possibly null) value.
pub fn decode_record(key: &[u8], value: Option<&[u8]>) -> Result<Record, RecordError> {
    match decode_key(key)? {
        None => {
            let mut r = Reader::new(key);
            Ok(Record::UnknownKey(r.i16()?))
        }
        Some(id) => Ok(Record::Txn(id, value.map(TxnLogValue::decode).transpose()?)),
    }
}

/// The `__transaction_state` partition that owns `transactional_id`:
/// `(hashCode & 0x7fffffff) % n` (Java `String.hashCode` over UTF-16 code units), the
/// placement Strata uses for groups too. Kafka takes `Utils.abs(hashCode)`, which
/// differs for negative hashes; no client sees it (clients ask FindCoordinator), and
/// changing it would move existing ids. 0 when `n` is not positive.
pub fn partition_for(transactional_id: &str, num_partitions: i32) -> i32 {
    if num_partitions <= 0 {
        return 0;
    }
    (java_string_hash(transactional_id) & 0x7fff_ffff) % num_partitions
}

/// Java's `String.hashCode`.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}
