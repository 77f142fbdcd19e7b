//! Transactional offset commits over real sockets: TxnOffsetCommit stays pending until
//! `GroupCoordinator::complete_transaction` (what the WriteTxnMarkers handler calls),
//! OffsetFetch with `require_stable` sees it as unstable, and a reload of the
//! coordinator (restart) keeps it pending, or settles it by the marker in the log.

use crate::common::*;
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use strata_broker::Broker;

const OFFSETS: &str = "__consumer_offsets";
const UNSTABLE_OFFSET_COMMIT: i16 = 88;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

async fn txn_commit(
    c: &mut RawClient,
    group: &str,
    producer_id: i64,
    epoch: i16,
    offset: i64,
) -> i16 {
    let req = TxnOffsetCommitRequest::default()
        .with_transactional_id(TransactionalId(s("tx")))
        .with_group_id(GroupId(s(group)))
        .with_producer_id(ProducerId(producer_id))
        .with_producer_epoch(epoch)
        .with_generation_id(-1)
        .with_topics(vec![TxnOffsetCommitRequestTopic::default()
            .with_name(name("t"))
            .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)
                .with_committed_metadata(Some(s("txn")))])]);
    match c
        .call(
            ApiKey::TxnOffsetCommit,
            4,
            RequestKind::TxnOffsetCommit(req),
        )
        .await
    {
        ResponseKind::TxnOffsetCommit(r) => r.topics[0].partitions[0].error_code,
        other => panic!("{other:?}"),
    }
}

async fn plain_commit(c: &mut RawClient, group: &str, offset: i64) -> i16 {
    let req = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![
            offset_commit_request::OffsetCommitRequestTopic::default()
                .with_name(name("t"))
                .with_partitions(vec![
                    offset_commit_request::OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(offset),
                ]),
        ]);
    match c
        .call(ApiKey::OffsetCommit, 8, RequestKind::OffsetCommit(req))
        .await
    {
        ResponseKind::OffsetCommit(r) => r.topics[0].partitions[0].error_code,
        other => panic!("{other:?}"),
    }
}

/// (committed offset, partition error) of t-0, with or without `require_stable`.
async fn fetch(c: &mut RawClient, group: &str, require_stable: bool) -> (i64, i16) {
    let req = OffsetFetchRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_require_stable(require_stable)
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(name("t"))
            .with_partition_indexes(vec![0])]));
    match c
        .call(ApiKey::OffsetFetch, 7, RequestKind::OffsetFetch(req))
        .await
    {
        ResponseKind::OffsetFetch(r) => {
            assert_eq!(r.error_code, 0, "{r:?}");
            let p = &r.topics[0].partitions[0];
            (p.committed_offset, p.error_code)
        }
        other => panic!("{other:?}"),
    }
}

fn broker(b: &TestBroker) -> &Broker {
    &b.running.as_ref().unwrap().broker
}

/// The `__consumer_offsets` partition of `group`.
fn offsets_partition(b: &TestBroker, group: &str) -> i32 {
    let n = broker(b)
        .meta
        .image()
        .topic(OFFSETS)
        .map(|t| t.partitions.len() as i32)
        .expect("offsets topic");
    strata_group::partition_for(group, n)
}

/// Appends `producer_id`'s COMMIT or ABORT marker to `partition` of
/// `__consumer_offsets`, as the WriteTxnMarkers handler would.
async fn append_marker(b: &TestBroker, partition: i32, producer_id: i64, epoch: i16, commit: bool) {
    let record = Record {
        transactional: true,
        control: true,
        partition_leader_epoch: 0,
        producer_id,
        producer_epoch: epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 1_700_000_000_000,
        key: Some(Bytes::from(vec![0, 0, 0, u8::from(commit)])),
        value: Some(Bytes::from_static(&[0, 0, 0, 0, 0, 0])),
        headers: Default::default(),
        delete_horizon: false,
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        std::iter::once(&record),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    let p = broker(b)
        .replicas
        .get(OFFSETS, partition)
        .expect("led here");
    p.append_trusted(buf.freeze(), 1_700_000_000_000)
        .await
        .expect("marker appended");
}

async fn start(dir: tempfile::TempDir) -> TestBroker {
    TestBroker::start_in(dir, |c| c.group_initial_rebalance_delay_ms = 0).await
}

#[tokio::test]
async fn commit_makes_pending_offsets_visible_and_abort_keeps_the_old_ones() {
    let b = start(tempfile::tempdir().unwrap()).await;
    let mut c = b.client().await;
    assert_eq!(create(&mut c, "t", 1).await, 0);

    // Committed: invisible until the marker, unstable for read_committed consumers.
    assert_eq!(plain_commit(&mut c, "g", 5).await, 0);
    assert_eq!(txn_commit(&mut c, "g", 4000, 0, 42).await, 0);
    assert_eq!(fetch(&mut c, "g", false).await, (5, 0));
    assert_eq!(fetch(&mut c, "g", true).await, (-1, UNSTABLE_OFFSET_COMMIT));
    let p = offsets_partition(&b, "g");
    broker(&b).groups.complete_transaction(p, 4000, true);
    assert_eq!(fetch(&mut c, "g", true).await, (42, 0));
    assert_eq!(fetch(&mut c, "g", false).await, (42, 0));
    let lag = broker(&b).groups.committed_snapshot();
    assert!(
        lag.contains(&("g".to_string(), "t".to_string(), 0, 42)),
        "{lag:?}"
    );

    // Aborted: the old offset stays.
    assert_eq!(txn_commit(&mut c, "g", 4000, 0, 77).await, 0);
    assert_eq!(fetch(&mut c, "g", true).await.1, UNSTABLE_OFFSET_COMMIT);
    // Another producer's marker, or another partition's, settles nothing.
    broker(&b).groups.complete_transaction(p, 4001, true);
    broker(&b)
        .groups
        .complete_transaction((p + 1) % 50, 4000, true);
    assert_eq!(fetch(&mut c, "g", true).await.1, UNSTABLE_OFFSET_COMMIT);
    broker(&b).groups.complete_transaction(p, 4000, false);
    assert_eq!(fetch(&mut c, "g", true).await, (42, 0));

    // A regular commit written after the transactional one wins when it commits.
    assert_eq!(txn_commit(&mut c, "g", 4000, 0, 100).await, 0);
    assert_eq!(plain_commit(&mut c, "g", 200).await, 0);
    broker(&b).groups.complete_transaction(p, 4000, true);
    assert_eq!(fetch(&mut c, "g", true).await, (200, 0));

    // A fenced epoch is refused (the log saw epoch 1 of the producer).
    assert_eq!(txn_commit(&mut c, "g", 4000, 1, 300).await, 0);
    broker(&b).groups.complete_transaction(p, 4000, true);
    assert_eq!(txn_commit(&mut c, "g", 4000, 0, 400).await, 47);
    assert_eq!(fetch(&mut c, "g", true).await, (300, 0));
    b.stop().await;
}

#[tokio::test]
async fn pending_offsets_survive_a_reload_and_markers_in_the_log_settle_them() {
    let b = start(tempfile::tempdir().unwrap()).await;
    let mut c = b.client().await;
    assert_eq!(create(&mut c, "t", 1).await, 0);
    // "a": no marker before the restart. "b": committed in the log. "c": aborted.
    for (group, producer) in [("a", 5000), ("b", 5001), ("c", 5002)] {
        assert_eq!(plain_commit(&mut c, group, 1).await, 0);
        assert_eq!(txn_commit(&mut c, group, producer, 0, 10).await, 0);
        // A second batch of the same transaction continues the producer's sequence.
        assert_eq!(txn_commit(&mut c, group, producer, 0, 11).await, 0);
    }
    append_marker(&b, offsets_partition(&b, "b"), 5001, 0, true).await;
    append_marker(&b, offsets_partition(&b, "c"), 5002, 0, false).await;
    drop(c);

    let b = start(b.stop().await).await;
    let mut c = b.client().await;
    assert_eq!(fetch(&mut c, "a", false).await, (1, 0));
    assert_eq!(fetch(&mut c, "a", true).await, (-1, UNSTABLE_OFFSET_COMMIT));
    assert_eq!(fetch(&mut c, "b", true).await, (11, 0));
    assert_eq!(fetch(&mut c, "c", true).await, (1, 0));

    // The producer goes on after the reload; its marker then settles both batches.
    assert_eq!(txn_commit(&mut c, "a", 5000, 0, 12).await, 0);
    let p = offsets_partition(&b, "a");
    append_marker(&b, p, 5000, 0, true).await;
    broker(&b).groups.complete_transaction(p, 5000, true);
    assert_eq!(fetch(&mut c, "a", true).await, (12, 0));
    drop(c);

    // And the replay agrees after another restart.
    let b = start(b.stop().await).await;
    let mut c = b.client().await;
    assert_eq!(fetch(&mut c, "a", true).await, (12, 0));
    assert_eq!(fetch(&mut c, "b", true).await, (11, 0));
    assert_eq!(fetch(&mut c, "c", true).await, (1, 0));
    b.stop().await;
}

#[tokio::test]
async fn deleting_offsets_or_the_group_ends_pending_offsets() {
    let b = start(tempfile::tempdir().unwrap()).await;
    let mut c = b.client().await;
    assert_eq!(create(&mut c, "t", 1).await, 0);
    assert_eq!(txn_commit(&mut c, "g", 6000, 0, 10).await, 0);
    let del = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s("g"))]);
    let ResponseKind::DeleteGroups(r) = c
        .call(ApiKey::DeleteGroups, 2, RequestKind::DeleteGroups(del))
        .await
    else {
        panic!()
    };
    assert_eq!(
        r.results[0].error_code, 0,
        "a group with only pending offsets"
    );
    assert_eq!(fetch(&mut c, "g", true).await, (-1, 0));
    let p = offsets_partition(&b, "g");
    append_marker(&b, p, 6000, 0, true).await;
    broker(&b).groups.complete_transaction(p, 6000, true);
    assert_eq!(
        fetch(&mut c, "g", true).await,
        (-1, 0),
        "the marker brings nothing back"
    );
    drop(c);
    let b = start(b.stop().await).await;
    let mut c = b.client().await;
    assert_eq!(
        fetch(&mut c, "g", true).await,
        (-1, 0),
        "nor does the replay"
    );
    b.stop().await;
}
