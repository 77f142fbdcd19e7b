//! The transaction coordinator over real sockets: FindCoordinator for a transactional
//! id, InitProducerId fencing, CONCURRENT_TRANSACTIONS, an empty transaction committed,
//! and the state surviving a restart (reloaded from `__transaction_state`).

use std::time::Duration;

use crate::common::txn::{config, init_once, tid};
use crate::common::*;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

async fn find(c: &mut RawClient, id: &str, version: i16) -> (i16, i32) {
    let mut req = FindCoordinatorRequest::default().with_key_type(1);
    if version >= 4 {
        req = req.with_coordinator_keys(vec![StrBytes::from_string(id.to_string())]);
    } else {
        req = req.with_key(StrBytes::from_string(id.to_string()));
    }
    match c
        .call(
            ApiKey::FindCoordinator,
            version,
            RequestKind::FindCoordinator(req),
        )
        .await
    {
        ResponseKind::FindCoordinator(r) if version >= 4 => {
            let c = &r.coordinators[0];
            (c.error_code, c.port)
        }
        ResponseKind::FindCoordinator(r) => (r.error_code, r.port),
        other => panic!("{other:?}"),
    }
}

/// AddPartitionsToTxn (v0–v3 form); every partition's error code.
async fn add(
    c: &mut RawClient,
    id: &str,
    pid: i64,
    epoch: i16,
    parts: &[(&str, i32)],
    version: i16,
) -> Vec<i16> {
    let topics = parts
        .iter()
        .map(|(t, p)| {
            AddPartitionsToTxnTopic::default()
                .with_name(name(t))
                .with_partitions(vec![*p])
        })
        .collect();
    let req = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(tid(id))
        .with_v3_and_below_producer_id(ProducerId(pid))
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(topics);
    match c
        .call(
            ApiKey::AddPartitionsToTxn,
            version,
            RequestKind::AddPartitionsToTxn(req),
        )
        .await
    {
        ResponseKind::AddPartitionsToTxn(r) => r
            .results_by_topic_v3_and_below
            .iter()
            .flat_map(|t| {
                t.results_by_partition
                    .iter()
                    .map(|p| p.partition_error_code)
            })
            .collect(),
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

async fn describe(c: &mut RawClient, id: &str) -> describe_transactions_response::TransactionState {
    let req = DescribeTransactionsRequest::default().with_transactional_ids(vec![tid(id)]);
    match c
        .call(
            ApiKey::DescribeTransactions,
            0,
            RequestKind::DescribeTransactions(req),
        )
        .await
    {
        ResponseKind::DescribeTransactions(mut r) => r.transaction_states.swap_remove(0),
        other => panic!("{other:?}"),
    }
}

/// Waits until `id` reaches `state` (completions are written in the background).
async fn wait_state(
    c: &mut RawClient,
    id: &str,
    state: &str,
) -> describe_transactions_response::TransactionState {
    for _ in 0..100 {
        let d = describe(c, id).await;
        if d.transaction_state.as_str() == state {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{id} never reached {state}: {:?}", describe(c, id).await);
}

#[tokio::test]
async fn init_fences_concurrent_transactions_empty_commit_and_restart() {
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), config).await;
    let mut c = b.client().await;
    assert_eq!(create(&mut c, "t", 2).await, 0);

    // FindCoordinator creates __transaction_state and names this broker (v3 and v4).
    let (err, port) = find(&mut c, "tx", 3).await;
    assert_eq!(err, 0);
    assert!(port > 0);
    assert_eq!(find(&mut c, "tx", 4).await, (0, port));
    assert_eq!(find(&mut c, "", 3).await.0, 42, "empty id: INVALID_REQUEST");

    // A new id: fresh producer id at epoch 0; a second init bumps the epoch.
    let (err, pid, e0) = init_once(&mut c, "tx", 4).await;
    assert_eq!((err, e0), (0, 0));
    let (err, pid2, e1) = init_once(&mut c, "tx", 4).await;
    assert_eq!((err, pid2, e1), (0, pid, 1));

    // The first producer is fenced: PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH before.
    assert_eq!(add(&mut c, "tx", pid, e0, &[("t", 0)], 3).await, vec![90]);
    assert_eq!(add(&mut c, "tx", pid, e0, &[("t", 0)], 1).await, vec![47]);
    assert_eq!(
        add(&mut c, "tx", pid + 1, e1, &[("t", 0)], 3).await,
        vec![49]
    );
    assert_eq!(add(&mut c, "tx", pid, e1, &[("nope", 0)], 3).await, vec![3]);

    // An empty transaction committed: Ongoing without partitions, no markers needed.
    assert!(add(&mut c, "tx", pid, e1, &[], 3).await.is_empty());
    assert_eq!(wait_state(&mut c, "tx", "Ongoing").await.producer_epoch, e1);
    assert_eq!(end(&mut c, "tx", pid, e1, true).await, 0);
    wait_state(&mut c, "tx", "CompleteCommit").await;
    // A retried commit is OK; an abort now is INVALID_TXN_STATE.
    assert_eq!(end(&mut c, "tx", pid, e1, true).await, 0);
    assert_eq!(end(&mut c, "tx", pid, e1, false).await, 48);

    // InitProducerId over an open transaction: it is aborted with a bumped epoch and the
    // client told CONCURRENT_TRANSACTIONS; the retry gets the epoch after the fence's.
    assert!(add(&mut c, "tx", pid, e1, &[], 3).await.is_empty());
    assert_eq!(init_once(&mut c, "tx", 4).await.0, 51);
    assert_eq!(
        end(&mut c, "tx", pid, e1, true).await,
        90,
        "the old epoch is fenced"
    );
    wait_state(&mut c, "tx", "CompleteAbort").await;
    let (err, _, e3) = init_once(&mut c, "tx", 4).await;
    assert_eq!((err, e3), (0, e1 + 2));

    // Listed while this broker coordinates it.
    let list = match c
        .call(
            ApiKey::ListTransactions,
            1,
            RequestKind::ListTransactions(
                ListTransactionsRequest::default().with_duration_filter(-1),
            ),
        )
        .await
    {
        ResponseKind::ListTransactions(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(list.error_code, 0);
    assert!(list
        .transaction_states
        .iter()
        .any(|t| t.transactional_id.0.as_str() == "tx" && t.transaction_state.as_str() == "Empty"));

    // The state survives a restart: reloaded from __transaction_state.
    drop(c);
    let dir = b.stop().await;
    let b = TestBroker::start_in(dir, config).await;
    let mut c = b.client().await;
    let d = wait_state(&mut c, "tx", "Empty").await;
    assert_eq!((d.producer_id.0, d.producer_epoch), (pid, e3));
    assert_eq!(add(&mut c, "tx", pid, e1, &[("t", 0)], 3).await, vec![90]);
    let (err, pid4, e4) = init_once(&mut c, "tx", 4).await;
    assert_eq!((err, pid4, e4), (0, pid, e3 + 1));
    drop(c);
    b.stop().await;
}

#[tokio::test]
async fn refused_requests() {
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), config).await;
    let mut c = b.client().await;
    assert_eq!(find(&mut c, "tx", 3).await.0, 0);
    // transaction.timeout.ms above transaction.max.timeout.ms.
    let req = InitProducerIdRequest::default()
        .with_transactional_id(Some(tid("tx")))
        .with_transaction_timeout_ms(900_001)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    match c
        .call(ApiKey::InitProducerId, 4, RequestKind::InitProducerId(req))
        .await
    {
        ResponseKind::InitProducerId(r) => assert_eq!(r.error_code, 50),
        other => panic!("{other:?}"),
    }
    // An unknown id: INVALID_PRODUCER_ID_MAPPING; described as TRANSACTIONAL_ID_NOT_FOUND.
    assert_eq!(end(&mut c, "unknown", 5, 0, true).await, 49);
    assert_eq!(describe(&mut c, "unknown").await.error_code, 105);
    // Ending with nothing open.
    let (_, pid, e) = init_once(&mut c, "tx", 4).await;
    assert_eq!(end(&mut c, "tx", pid, e, true).await, 48);
    drop(c);
    b.stop().await;
}

#[tokio::test]
async fn a_commit_with_partitions_is_answered_once_prepared() {
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), config).await;
    let mut c = b.client().await;
    assert_eq!(create(&mut c, "t", 2).await, 0);
    assert_eq!(find(&mut c, "tx", 3).await.0, 0);
    let (_, pid, e) = init_once(&mut c, "tx", 4).await;
    assert_eq!(
        add(&mut c, "tx", pid, e, &[("t", 0), ("t", 1)], 3).await,
        vec![0, 0]
    );
    let d = describe(&mut c, "tx").await;
    assert_eq!(d.transaction_state.as_str(), "Ongoing");
    assert_eq!(d.topics[0].partitions, vec![0, 1]);
    assert_eq!(end(&mut c, "tx", pid, e, true).await, 0);
    // Markers go to the partition leader (this broker, over its own listener); until
    // they are written the id is busy.
    let d = describe(&mut c, "tx").await;
    match d.transaction_state.as_str() {
        "PrepareCommit" => {
            assert_eq!(init_once(&mut c, "tx", 4).await.0, 51);
            assert_eq!(end(&mut c, "tx", pid, e, true).await, 51);
        }
        "CompleteCommit" => {}
        other => panic!("{other}"),
    }
    // The markers are written (over this broker's own listener) and the commit completes.
    wait_state(&mut c, "tx", "CompleteCommit").await;
    drop(c);
    b.stop().await;
}

async fn list_matching(c: &mut RawClient, pattern: &str) -> (i16, Vec<String>) {
    let req = ListTransactionsRequest::default()
        .with_duration_filter(-1)
        .with_transactional_id_pattern(Some(StrBytes::from_string(pattern.to_string())));
    match c
        .call(
            ApiKey::ListTransactions,
            2,
            RequestKind::ListTransactions(req),
        )
        .await
    {
        ResponseKind::ListTransactions(r) => {
            let mut ids: Vec<String> = r
                .transaction_states
                .iter()
                .map(|t| t.transactional_id.0.to_string())
                .collect();
            ids.sort();
            (r.error_code, ids)
        }
        other => panic!("{other:?}"),
    }
}

/// ListTransactions v2 filters by a pattern the whole id matches (KIP-1152); EndTxn v5
/// answers the producer id and epoch to go on with (bumped: see `txn_v2.rs`).
#[tokio::test]
async fn list_transactions_by_pattern_and_end_txn_v5() {
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), config).await;
    let mut c = b.client().await;
    assert_eq!(find(&mut c, "app-1", 4).await.0, 0);
    let mut producers = Vec::new();
    for id in ["app-1", "app-2", "other-app"] {
        let (err, pid, epoch) = init_once(&mut c, id, 5).await;
        assert_eq!(err, 0, "{id}");
        producers.push((pid, epoch));
    }
    assert_eq!(
        list_matching(&mut c, "app-.*").await,
        (0, vec!["app-1".to_string(), "app-2".to_string()])
    );
    assert_eq!(list_matching(&mut c, "app").await, (0, vec![]), "whole id");
    assert_eq!(list_matching(&mut c, "").await.1.len(), 3, "empty: all");
    assert_eq!(list_matching(&mut c, "(app").await, (128, vec![]));

    let (pid, epoch) = producers[0];
    assert!(add(&mut c, "app-1", pid, epoch, &[], 3).await.is_empty());
    let req = EndTxnRequest::default()
        .with_transactional_id(tid("app-1"))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_committed(true);
    match c.call(ApiKey::EndTxn, 5, RequestKind::EndTxn(req)).await {
        ResponseKind::EndTxn(r) => {
            assert_eq!(r.error_code, 0);
            // Transactions v2 (KIP-890 part 2): the end bumps the epoch.
            assert_eq!((r.producer_id.0, r.producer_epoch), (pid, epoch + 1));
        }
        other => panic!("{other:?}"),
    }
    drop(c);
    b.stop().await;
}
