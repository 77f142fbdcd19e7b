//! The partition side of transactions over real sockets: transactional produce,
//! WriteTxnMarkers (commit, abort, fencing), READ_COMMITTED fetches stopping at the
//! last stable offset with their aborted transactions, and ListOffsets.

use crate::common::*;
use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::records::{Compression, Record, RecordBatchDecoder, TimestampType};

const TOPIC: &str = "txn-topic";
const A: i64 = 1000;
const B: i64 = 2000;

/// A transactional batch of `n` records from producer `pid` (epoch 0), sequences from
/// `seq`.
fn txn_batch(pid: i64, seq: i32, n: usize) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: true,
            control: false,
            partition_leader_epoch: 0,
            producer_id: pid,
            producer_epoch: 0,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: seq + i as i32,
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(Bytes::from(format!("p{pid}-{}", seq + i as i32))),
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect();
    encode(&records, Compression::None)
}

struct Fetched {
    error: i16,
    high_watermark: i64,
    last_stable_offset: i64,
    aborted: Option<Vec<(i64, i64)>>,
    /// (offset, is control, producer id) of every record.
    records: Vec<(i64, bool, i64)>,
}

async fn fetch(c: &mut RawClient, offset: i64, isolation_level: i8) -> Fetched {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(0)
        .with_max_bytes(1 << 20)
        .with_isolation_level(isolation_level)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(TOPIC))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])]);
    let ResponseKind::Fetch(r) = c.call(ApiKey::Fetch, 12, RequestKind::Fetch(req)).await else {
        panic!("not a fetch response")
    };
    let p = &r.responses[0].partitions[0];
    let mut records = Vec::new();
    if let Some(bytes) = &p.records {
        let mut b = bytes.clone();
        for set in RecordBatchDecoder::decode_all(&mut b).unwrap() {
            for r in set.records {
                records.push((r.offset, r.control, r.producer_id));
            }
        }
    }
    Fetched {
        error: p.error_code,
        high_watermark: p.high_watermark,
        last_stable_offset: p.last_stable_offset,
        aborted: p.aborted_transactions.as_ref().map(|list| {
            list.iter()
                .map(|a| (a.producer_id.0, a.first_offset))
                .collect()
        }),
        records,
    }
}

async fn latest(c: &mut RawClient, isolation_level: i8) -> i64 {
    list_offsets(c, -1, isolation_level).await
}

/// ListOffsets v5 of partition 0 at `timestamp`: the offset answered.
async fn list_offsets(c: &mut RawClient, timestamp: i64, isolation_level: i8) -> i64 {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_isolation_level(isolation_level)
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(name(TOPIC))
            .with_partitions(vec![
                ListOffsetsPartition::default().with_timestamp(timestamp)
            ])]);
    let ResponseKind::ListOffsets(r) = c
        .call(ApiKey::ListOffsets, 5, RequestKind::ListOffsets(req))
        .await
    else {
        panic!("not a list offsets response")
    };
    let p = &r.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.offset
}

/// (producer id, commit?, coordinator epoch, partitions) per marker → the error code of
/// every partition, in request order.
async fn write_markers(c: &mut RawClient, markers: &[(i64, bool, i32, Vec<i32>)]) -> Vec<Vec<i16>> {
    let req = WriteTxnMarkersRequest::default().with_markers(
        markers
            .iter()
            .map(|(pid, commit, coordinator_epoch, partitions)| {
                WritableTxnMarker::default()
                    .with_producer_id(ProducerId(*pid))
                    .with_producer_epoch(0)
                    .with_transaction_result(*commit)
                    .with_coordinator_epoch(*coordinator_epoch)
                    .with_topics(vec![WritableTxnMarkerTopic::default()
                        .with_name(name(TOPIC))
                        .with_partition_indexes(partitions.clone())])
            })
            .collect(),
    );
    let ResponseKind::WriteTxnMarkers(r) = c
        .call(
            ApiKey::WriteTxnMarkers,
            1,
            RequestKind::WriteTxnMarkers(req),
        )
        .await
    else {
        panic!("not a WriteTxnMarkers response")
    };
    r.markers
        .iter()
        .zip(markers)
        .map(|(m, (pid, ..))| {
            assert_eq!(m.producer_id.0, *pid);
            m.topics[0]
                .partitions
                .iter()
                .map(|p| p.error_code)
                .collect()
        })
        .collect()
}

/// Produce v9 of a transactional batch to `TOPIC`-0 (with a transactional id, as a
/// client must; no coordinator runs for it, so these brokers do not verify).
async fn txn_produce(c: &mut RawClient, records: Bytes) -> (i16, i64) {
    let RequestKind::Produce(req) = produce_req(TOPIC, 0, -1, records) else {
        unreachable!()
    };
    let req = req.with_transactional_id(Some(TransactionalId(
        kafka_protocol::protocol::StrBytes::from_static_str("app"),
    )));
    match c.call(ApiKey::Produce, 9, RequestKind::Produce(req)).await {
        ResponseKind::Produce(r) => {
            let p = &r.responses[0].partition_responses[0];
            (p.error_code, p.base_offset)
        }
        other => panic!("{other:?}"),
    }
}

fn unverified(c: &mut strata_broker::BrokerConfig) {
    c.transaction_partition_verification_enable = false;
}

#[tokio::test]
async fn markers_end_transactions_and_read_committed_stops_at_the_lso() {
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), unverified).await;
    let mut c = b.client().await;
    assert_eq!(create(&mut c, TOPIC, 1).await, 0);
    assert_eq!(txn_produce(&mut c, txn_batch(A, 0, 3)).await, (0, 0));
    assert_eq!(txn_produce(&mut c, txn_batch(B, 0, 2)).await, (0, 3));
    assert_eq!(
        produce(&mut c, TOPIC, 0, -1, batch(1, Compression::None)).await,
        (0, 5)
    );

    // Both transactions open: nothing is stable.
    let f = fetch(&mut c, 0, 1).await;
    assert_eq!((f.error, f.high_watermark, f.last_stable_offset), (0, 6, 0));
    assert!(f.records.is_empty());
    assert_eq!(f.aborted, Some(vec![]));
    let f = fetch(&mut c, 0, 0).await;
    assert_eq!(f.records.len(), 6);
    assert_eq!(
        f.last_stable_offset, 0,
        "read_uncommitted sees the real LSO too"
    );
    assert_eq!(latest(&mut c, 1).await, 0);
    assert_eq!(latest(&mut c, 0).await, 6);

    // A client may not write a marker itself.
    let forged = Bytes::from(strata_proto::batch::control::marker_batch(
        A,
        0,
        strata_proto::batch::control::ControlType::Commit,
        0,
        0,
    ));
    assert_eq!(produce(&mut c, TOPIC, 0, -1, forged).await.0, 87);

    // Abort A, commit B; partition 7 does not exist.
    let codes = write_markers(&mut c, &[(A, false, 5, vec![0]), (B, true, 5, vec![0, 7])]).await;
    assert_eq!(codes, vec![vec![0], vec![0, 3]]);
    let f = fetch(&mut c, 0, 1).await;
    assert_eq!((f.high_watermark, f.last_stable_offset), (8, 8));
    assert_eq!(f.aborted, Some(vec![(A, 0)]));
    let controls: Vec<(i64, i64)> = f
        .records
        .iter()
        .filter(|r| r.1)
        .map(|r| (r.0, r.2))
        .collect();
    assert_eq!(controls, vec![(6, A), (7, B)]);
    assert_eq!(f.records.len(), 8);
    assert_eq!(latest(&mut c, 1).await, 8);
    // From past A's records, the abort does not overlap what is returned.
    let f = fetch(&mut c, 3, 1).await;
    assert_eq!(f.aborted, Some(vec![(A, 0)]), "A's marker at 6 is returned");
    let f = fetch(&mut c, 7, 1).await;
    assert_eq!(f.aborted, Some(vec![]));

    // A zombie coordinator (older epoch) is fenced; nothing is written.
    assert_eq!(txn_produce(&mut c, txn_batch(B, 2, 1)).await, (0, 8));
    let codes = write_markers(&mut c, &[(B, false, 4, vec![0])]).await;
    assert_eq!(
        codes,
        vec![vec![
            kafka_protocol::ResponseError::TransactionCoordinatorFenced.code()
        ]]
    );
    let f = fetch(&mut c, 8, 1).await;
    assert_eq!((f.high_watermark, f.last_stable_offset), (9, 8));
    assert!(f.records.is_empty());
    // The current coordinator aborts it.
    assert_eq!(
        write_markers(&mut c, &[(B, false, 5, vec![0])]).await,
        vec![vec![0]]
    );
    let f = fetch(&mut c, 8, 1).await;
    assert_eq!((f.high_watermark, f.last_stable_offset), (10, 10));
    assert_eq!(f.aborted, Some(vec![(B, 8)]));
    assert_eq!(latest(&mut c, 1).await, 10);
    // read_uncommitted gets no aborted list to apply.
    assert_eq!(fetch(&mut c, 0, 0).await.aborted, Some(vec![]));

    // The state survives a restart (clean close: snapshot and indexes).
    let dir = b.stop().await;
    let b = TestBroker::start_in(dir, unverified).await;
    let mut c = b.client().await;
    let f = fetch(&mut c, 0, 1).await;
    assert_eq!(f.aborted, Some(vec![(A, 0), (B, 8)]));
    assert_eq!(f.last_stable_offset, 10);
}

#[tokio::test]
async fn a_timestamp_lookup_answers_only_with_an_offset_the_asker_may_fetch() {
    const TS: i64 = 1_700_000_000_000; // every record of txn_batch
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), unverified).await;
    let mut c = b.client().await;
    assert_eq!(create(&mut c, TOPIC, 1).await, 0);
    assert_eq!(txn_produce(&mut c, txn_batch(A, 0, 3)).await, (0, 0));
    // Open transaction: read_committed may not read offset 0 yet (Kafka answers no offset).
    assert_eq!(list_offsets(&mut c, TS, 1).await, -1);
    assert_eq!(list_offsets(&mut c, -3, 1).await, -1, "max timestamp too");
    assert_eq!(list_offsets(&mut c, TS, 0).await, 0);
    assert_ne!(list_offsets(&mut c, -3, 0).await, -1);
    assert_eq!(
        write_markers(&mut c, &[(A, true, 5, vec![0])]).await,
        vec![vec![0]]
    );
    assert_eq!(list_offsets(&mut c, TS, 1).await, 0);
    assert_ne!(list_offsets(&mut c, -3, 1).await, -1);
    // The marker carries the time it was written: a lookup past it finds nothing.
    assert_eq!(list_offsets(&mut c, TS + 1, 1).await, 3, "the marker");
    assert_eq!(list_offsets(&mut c, i64::MAX / 2, 1).await, -1);
}
