//! Decoding a fetch response for the tail: only records below the high watermark,
//! from the fetch offset on, and the offset the copy reaches.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::decode;

/// One batch holding a keyed record at each of `offsets` (consecutive).
fn batch(offsets: &[i64]) -> Bytes {
    let records: Vec<Record> = offsets
        .iter()
        .map(|&offset| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset,
            // The encoder starts a new batch whenever offset - sequence changes.
            sequence: offset as i32,
            timestamp: 0,
            key: Some(Bytes::from(format!("k{offset}"))),
            value: Some(Bytes::from(format!("v{offset}"))),
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
    .unwrap();
    buf.freeze()
}

fn response() -> Bytes {
    let mut b = BytesMut::new();
    b.extend_from_slice(&batch(&[0, 1, 2]));
    b.extend_from_slice(&batch(&[3, 4]));
    b.freeze()
}

fn offsets(bytes: &Bytes, from: i64, hw: i64) -> (Vec<i64>, i64) {
    let (records, reached) = decode(bytes, from, hw).unwrap();
    (records.iter().map(|r| r.offset).collect(), reached)
}

#[test]
fn everything_below_the_high_watermark() {
    assert_eq!(offsets(&response(), 0, 5), (vec![0, 1, 2, 3, 4], 5));
    // The leader's answer may start before the fetch offset (whole batches).
    assert_eq!(offsets(&response(), 1, 5), (vec![1, 2, 3, 4], 5));
}

#[test]
fn nothing_at_or_above_the_high_watermark() {
    assert_eq!(offsets(&response(), 0, 3), (vec![0, 1, 2], 3));
    assert_eq!(offsets(&response(), 0, 2), (vec![0, 1], 2));
    assert_eq!(offsets(&response(), 0, 0), (vec![], 0));
}

#[test]
fn a_batch_cut_off_at_the_end_is_fetched_again() {
    let all = response();
    let cut = all.slice(..all.len() - 1);
    assert_eq!(offsets(&cut, 0, 5), (vec![0, 1, 2], 3));
    assert_eq!(offsets(&Bytes::new(), 3, 5), (vec![], 3));
}

#[test]
fn a_corrupt_batch_is_an_error() {
    let mut b = BytesMut::from(&response()[..]);
    let last = b.len() - 1;
    b[last] ^= 0xff;
    assert!(decode(&b.freeze(), 0, 5).is_err());
}
