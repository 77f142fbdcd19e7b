//! Shared pieces of the compaction tests: keyed batches, a reader that returns every
//! record the log serves, and the reference model of what a clean must keep.

use std::collections::HashMap;
use std::path::Path;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
    TimestampType as KTimestampType,
};

use crate::{Log, LogConfig};

/// A record as a consumer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub timestamp: i64,
}

/// A record to produce: key, value (None = tombstone), timestamp.
pub type Input = (Option<Vec<u8>>, Option<Vec<u8>>, i64);

/// One batch holding `records` with `compression`.
pub fn keyed_batch(records: &[Input], compression: Compression) -> Vec<u8> {
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (key, value, ts))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: KTimestampType::Creation,
            offset: i as i64,
            sequence: i as i32,
            timestamp: *ts,
            key: key.clone().map(Bytes::from),
            value: value.clone().map(Bytes::from),
            headers: Default::default(),
        })
        .collect();
    encode(&records, compression)
}

/// One uncompressed batch of idempotent producer `producer_id` (epoch 0) whose record
/// `i` has key `keys[i]` and sequence `base_seq + i`.
pub fn keyed_idempotent_batch(producer_id: i64, base_seq: i32, keys: &[u8]) -> Vec<u8> {
    let records: Vec<(Option<Vec<u8>>, &[u8])> = keys
        .iter()
        .map(|k| (key(*k), b"from-producer".as_slice()))
        .collect();
    producer_batch(producer_id, base_seq, false, &records)
}

/// One uncompressed batch of producer `producer_id` (epoch 0), transactional or not:
/// record `i` holds `records[i]` (key, value), sequence `base_seq + i`, timestamp 1000.
pub fn producer_batch(
    producer_id: i64,
    base_seq: i32,
    transactional: bool,
    records: &[(Option<Vec<u8>>, &[u8])],
) -> Vec<u8> {
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (k, v))| Record {
            transactional,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch: 0,
            timestamp_type: KTimestampType::Creation,
            offset: i as i64,
            sequence: base_seq + i as i32,
            timestamp: 1_000,
            key: k.clone().map(Bytes::from),
            value: Some(Bytes::copy_from_slice(v)),
            headers: Default::default(),
        })
        .collect();
    encode(&records, Compression::None)
}

/// `records` as one v2 batch.
fn encode(records: &[Record], compression: Compression) -> Vec<u8> {
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .expect("encode batch");
    buf.to_vec()
}

/// Every record served by fetches from `from` to the log end (records of the first
/// batch below `from` are skipped, as a consumer would).
pub fn read_from(log: &Log, from: i64) -> Vec<Rec> {
    let mut out = Vec::new();
    let mut next = from;
    while let Some(slice) = log.read(next, 1 << 20, i64::MAX, true).expect("read") {
        let mut bytes = slice.read().expect("slice read");
        let sets = RecordBatchDecoder::decode_all(&mut bytes).expect("decode");
        for set in sets {
            for r in set.records {
                if r.offset >= next && !r.control {
                    out.push(Rec {
                        offset: r.offset,
                        key: r.key.map(|k| k.to_vec()),
                        value: r.value.map(|v| v.to_vec()),
                        timestamp: r.timestamp,
                    });
                }
            }
        }
        assert!(
            slice.last_offset >= next,
            "fetch made no progress at {next}"
        );
        next = slice.last_offset + 1;
    }
    // A compacted tail right before an empty active segment serves nothing until new
    // data arrives, so reads may stop short of the log end, but never past it.
    assert!(next <= log.log_end_offset(), "reads stay within the log");
    out
}

/// Every record of the log.
pub fn read_everything(log: &Log) -> Vec<Rec> {
    read_from(log, log.log_start_offset())
}

/// What a clean of `all` (the uncompacted log) must leave when every record below
/// `closed_end` was in a sealed segment: for keyed records below it, only the latest
/// record of each key, and no tombstone at all when `tombstones_expire`. Records at or
/// past `closed_end` (the active segment) and records without a key are all kept.
pub fn model(all: &[Rec], closed_end: i64, tombstones_expire: bool) -> Vec<Rec> {
    let mut latest: HashMap<&[u8], i64> = HashMap::new();
    for r in all.iter().filter(|r| r.offset < closed_end) {
        if let Some(k) = &r.key {
            latest.insert(k, r.offset);
        }
    }
    all.iter()
        .filter(|r| {
            if r.offset >= closed_end {
                return true;
            }
            let Some(k) = &r.key else { return true };
            latest[k.as_slice()] == r.offset && !(tombstones_expire && r.value.is_none())
        })
        .cloned()
        .collect()
}

/// Base offset of the active segment.
pub fn active_base(log: &Log) -> i64 {
    log.active().base_offset
}

/// A compacted log config with small segments.
pub fn compact_config(segment_bytes: u64, delete_retention_ms: i64) -> LogConfig {
    LogConfig {
        segment_bytes,
        index_interval_bytes: 128,
        cleanup_compact: true,
        cleanup_delete: false,
        delete_retention_ms,
        ..LogConfig::default()
    }
}

/// Opens `dir` after a simulated crash (unclean) or a clean close.
pub fn reopen(dir: &Path, config: LogConfig, clean_shutdown: bool) -> Log {
    Log::open(dir, config, clean_shutdown).expect("reopen")
}

/// A throttle that ignores the byte counts.
pub fn no_throttle() -> impl FnMut(u64) {
    |_| {}
}

/// Key `k` as bytes.
pub fn key(k: u8) -> Option<Vec<u8>> {
    Some(format!("key-{k}").into_bytes())
}

/// Cleans `log` at `now_ms` with a crash injected after the first `steps` steps of the
/// clean (a hook error stops it on the spot, leaving the files as a crash there would).
pub fn clean_crashing_after(
    log: &mut Log,
    now_ms: i64,
    steps: usize,
) -> Result<crate::CleanStats, crate::LogError> {
    let mut calls = 0;
    log.clean_with_hook(now_ms, i64::MAX, &mut no_throttle(), &mut |_| {
        calls += 1;
        if calls > steps {
            Err(crate::LogError::Corrupt("injected crash".into()))
        } else {
            Ok(())
        }
    })
}
