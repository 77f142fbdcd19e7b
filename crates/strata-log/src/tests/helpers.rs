//! Batch builders and readers for tests (kafka-protocol's encoder/decoder, so the
//! engine is checked against an independent implementation of the format).

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
    TimestampType as KTimestampType,
};

use crate::{Log, LogConfig};

/// One batch of `n` records with timestamps `ts[i]` and `value_len`-byte values.
pub fn batch_with_timestamps(ts: &[i64], value_len: usize, compression: Compression) -> Vec<u8> {
    let records: Vec<Record> = ts
        .iter()
        .enumerate()
        .map(|(i, &timestamp)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: KTimestampType::Creation,
            offset: i as i64,
            sequence: i as i32,
            timestamp,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(vec![b'a' + (i % 26) as u8; value_len])),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .expect("encode test batch");
    buf.to_vec()
}

/// One uncompressed batch of `n` records from idempotent producer `producer_id` at
/// `epoch`, record `i` carrying sequence `base_seq + i` (the encoder keeps records in
/// one batch only while `offset - sequence` stays constant).
pub fn idempotent_batch(
    producer_id: i64,
    epoch: i16,
    base_seq: i32,
    n: usize,
    ts0: i64,
) -> Vec<u8> {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch: epoch,
            timestamp_type: KTimestampType::Creation,
            offset: i as i64,
            sequence: base_seq + i as i32,
            timestamp: ts0 + i as i64,
            key: None,
            value: Some(Bytes::from(format!(
                "p{producer_id}-e{epoch}-s{}",
                base_seq + i as i32
            ))),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode idempotent test batch");
    buf.to_vec()
}

/// An uncompressed batch of `n` records with timestamps `ts0, ts0+1, ...`.
pub fn batch(n: usize, ts0: i64, value_len: usize) -> Vec<u8> {
    let ts: Vec<i64> = (0..n as i64).map(|i| ts0 + i).collect();
    batch_with_timestamps(&ts, value_len, Compression::None)
}

/// Decodes every record in `bytes` as (offset, timestamp).
pub fn decode_records(bytes: &[u8]) -> Vec<(i64, i64)> {
    let mut buf = Bytes::copy_from_slice(bytes);
    RecordBatchDecoder::decode_all(&mut buf)
        .expect("decode")
        .iter()
        .flat_map(|set| set.records.iter().map(|r| (r.offset, r.timestamp)))
        .collect()
}

/// Small segments and dense indexes so tests cross many boundaries.
pub fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 2_000,
        index_interval_bytes: 256,
        ..LogConfig::default()
    }
}

/// Reads the whole log from its start through `read`, returning every record offset
/// served (each fetch continues after the last batch returned).
pub fn read_all_offsets(log: &Log) -> Vec<i64> {
    let mut offsets = Vec::new();
    let mut next = log.log_start_offset();
    while let Some(slice) = log.read(next, 1 << 20, i64::MAX, true).expect("read") {
        let bytes = slice.read().expect("slice read");
        let records = decode_records(&bytes);
        assert!(!records.is_empty());
        offsets.extend(records.iter().map(|r| r.0).filter(|o| *o >= next));
        next = slice.last_offset + 1;
    }
    assert_eq!(next, log.log_end_offset());
    offsets
}
