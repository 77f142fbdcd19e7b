//! KIP-890 part 1 and the produce-side authorization of transactions, over real
//! sockets: a transactional batch is appended only inside its producer's ongoing
//! transaction (the partition added with AddPartitionsToTxn at the batch's epoch);
//! a produce of transactional batches without a transactional id is refused.

use crate::common::txn::{config, find, init, tid, txn_batch, wait_complete};
use crate::common::*;
use bytes::Bytes;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::*;

const INVALID_TXN_STATE: i16 = 48;
const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
const INVALID_PRODUCER_EPOCH: i16 = 47;

/// Produce v9 of `records` to `topic`-`partition` with `id`; (error code, base offset).
async fn produce_as(
    c: &mut RawClient,
    id: Option<&str>,
    topic: &str,
    partition: i32,
    records: Bytes,
) -> (i16, i64) {
    let RequestKind::Produce(req) = produce_req(topic, partition, -1, records) else {
        unreachable!()
    };
    let req = req.with_transactional_id(id.map(tid));
    match c.call(ApiKey::Produce, 9, RequestKind::Produce(req)).await {
        ResponseKind::Produce(r) => {
            let p = &r.responses[0].partition_responses[0];
            (p.error_code, p.base_offset)
        }
        other => panic!("{other:?}"),
    }
}

async fn add(c: &mut RawClient, id: &str, pid: i64, epoch: i16, topic: &str, p: i32) -> i16 {
    let req = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(tid(id))
        .with_v3_and_below_producer_id(ProducerId(pid))
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
            .with_name(name(topic))
            .with_partitions(vec![p])]);
    match c
        .call(
            ApiKey::AddPartitionsToTxn,
            3,
            RequestKind::AddPartitionsToTxn(req),
        )
        .await
    {
        ResponseKind::AddPartitionsToTxn(r) => {
            r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code
        }
        other => panic!("{other:?}"),
    }
}

async fn end(c: &mut RawClient, id: &str, pid: i64, epoch: i16, commit: bool) -> i16 {
    let req = EndTxnRequest::default()
        .with_transactional_id(tid(id))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_committed(commit);
    match c.call(ApiKey::EndTxn, 3, RequestKind::EndTxn(req)).await {
        ResponseKind::EndTxn(r) => r.error_code,
        other => panic!("{other:?}"),
    }
}

/// DescribeProducers v0 of `topic`-0: (error, [(producer id, epoch, last sequence,
/// coordinator epoch, current transaction start offset)]).
async fn producers(c: &mut RawClient, topic: &str) -> (i16, Vec<(i64, i32, i32, i32, i64)>) {
    let req = DescribeProducersRequest::default().with_topics(vec![
        describe_producers_request::TopicRequest::default()
            .with_name(name(topic))
            .with_partition_indexes(vec![0]),
    ]);
    match c
        .call(
            ApiKey::DescribeProducers,
            0,
            RequestKind::DescribeProducers(req),
        )
        .await
    {
        ResponseKind::DescribeProducers(r) => {
            let p = &r.topics[0].partitions[0];
            let list = p
                .active_producers
                .iter()
                .map(|a| {
                    (
                        a.producer_id.0,
                        a.producer_epoch,
                        a.last_sequence,
                        a.coordinator_epoch,
                        a.current_txn_start_offset,
                    )
                })
                .collect();
            (p.error_code, list)
        }
        other => panic!("{other:?}"),
    }
}

/// The log end offset of `topic`-0 (latest, read_uncommitted).
async fn log_end(c: &mut RawClient, topic: &str) -> i64 {
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(-1)])]);
    match c
        .call(ApiKey::ListOffsets, 5, RequestKind::ListOffsets(req))
        .await
    {
        ResponseKind::ListOffsets(r) => r.topics[0].partitions[0].offset,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn transactional_batches_are_appended_only_inside_their_transaction() {
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), config).await;
    let mut c = b.client().await;
    assert_eq!(create(&mut c, "t", 2).await, 0);
    assert_eq!(find(&mut c, "tx").await, 0);
    let (pid, e) = init(&mut c, "tx", 4).await;

    // Transactional records without a transactional id: refused as Kafka does.
    assert_eq!(
        produce_as(&mut c, None, "t", 0, txn_batch(pid, e, 0, "v0"))
            .await
            .0,
        TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    );
    // A partition never added to the transaction: refused, nothing appended.
    assert_eq!(
        produce_as(&mut c, Some("tx"), "t", 0, txn_batch(pid, e, 0, "v0"))
            .await
            .0,
        INVALID_TXN_STATE
    );
    assert_eq!(log_end(&mut c, "t").await, 0);

    // Added: appended. Partition 1 (not added) is still refused in the same transaction.
    assert_eq!(add(&mut c, "tx", pid, e, "t", 0).await, 0);
    assert_eq!(
        produce_as(&mut c, Some("tx"), "t", 0, txn_batch(pid, e, 0, "v0")).await,
        (0, 0)
    );
    assert_eq!(
        produce_as(&mut c, Some("tx"), "t", 1, txn_batch(pid, e, 0, "v0"))
            .await
            .0,
        INVALID_TXN_STATE
    );
    // The open transaction in the partition needs no second verification.
    assert_eq!(
        produce_as(&mut c, Some("tx"), "t", 0, txn_batch(pid, e, 1, "v1")).await,
        (0, 1)
    );
    // DescribeProducers (KIP-664) shows the producer and its open transaction at 0.
    assert_eq!(
        producers(&mut c, "t").await,
        (0, vec![(pid, i32::from(e), 1, -1, 0)])
    );
    assert_eq!(end(&mut c, "tx", pid, e, true).await, 0);

    // Once the commit is complete (its marker written), a late batch of that
    // transaction (a retry delayed past the marker) must not open a new transaction
    // that nobody will ever end. (Before the marker it joins the transaction being
    // committed, as in Kafka: KIP-890 part 2's epoch bump closes that window.)
    wait_complete(&mut c, "tx").await;
    assert_eq!(
        produce_as(&mut c, Some("tx"), "t", 0, txn_batch(pid, e, 2, "v2"))
            .await
            .0,
        INVALID_TXN_STATE
    );
    assert_eq!(
        log_end(&mut c, "t").await,
        3,
        "two records and the commit marker"
    );
    let (err, list) = producers(&mut c, "t").await;
    assert_eq!(err, 0);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].4, -1, "no transaction open after the marker");
    assert!(list[0].3 >= 0, "the marker's coordinator epoch is kept");
    assert_eq!(producers(&mut c, "missing").await.0, 3);

    // A fenced producer (a newer InitProducerId) cannot write either.
    let (pid2, e2) = init(&mut c, "tx", 4).await;
    assert_eq!(pid2, pid);
    assert!(e2 > e);
    let (code, _) = produce_as(&mut c, Some("tx"), "t", 1, txn_batch(pid, e, 0, "v0")).await;
    assert!(
        code == INVALID_PRODUCER_EPOCH || code == INVALID_TXN_STATE,
        "fenced producer's batch answered {code}"
    );
    drop(c);
    b.stop().await;
}
