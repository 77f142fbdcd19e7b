//! KIP-890 part 2 ("transactions v2") over real sockets, played as a client of
//! `transaction.version` 2 does it with raw requests: ApiVersions finalizes the
//! feature; Produce v12 and TxnOffsetCommit v5 add their partitions implicitly (no
//! AddPartitionsToTxn / AddOffsetsToTxn); EndTxn v5 bumps the epoch and answers it; a
//! late write of the ended transaction at the old epoch is fenced; read_committed sees
//! exactly the committed records. A classic client keeps its epoch on the same broker.

use crate::common::txn::{config, find, init, tid, txn_batch, wait_complete};
use crate::common::*;
use bytes::Bytes;
use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;

const INVALID_PRODUCER_EPOCH: i16 = 47;
const INVALID_TXN_STATE: i16 = 48;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// Produce of `records` to `topic`-`partition` as `id` at `version`; the error code.
async fn produce_v(
    c: &mut RawClient,
    version: i16,
    id: &str,
    topic: &str,
    partition: i32,
    records: Bytes,
) -> i16 {
    let RequestKind::Produce(req) = produce_req(topic, partition, -1, records) else {
        unreachable!()
    };
    let req = req.with_transactional_id(Some(tid(id)));
    match c
        .call(ApiKey::Produce, version, RequestKind::Produce(req))
        .await
    {
        ResponseKind::Produce(r) => r.responses[0].partition_responses[0].error_code,
        other => panic!("{other:?}"),
    }
}

/// EndTxn at `version`: (error, producer id, epoch) as answered (v5 carries them).
async fn end(
    c: &mut RawClient,
    version: i16,
    id: &str,
    pid: i64,
    epoch: i16,
    commit: bool,
) -> (i16, i64, i16) {
    let req = EndTxnRequest::default()
        .with_transactional_id(tid(id))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_committed(commit);
    match c
        .call(ApiKey::EndTxn, version, RequestKind::EndTxn(req))
        .await
    {
        ResponseKind::EndTxn(r) => (r.error_code, r.producer_id.0, r.producer_epoch),
        other => panic!("{other:?}"),
    }
}

/// TxnOffsetCommit v5 of t-0 at `offset` for `group`; the error code.
async fn txn_commit_v5(
    c: &mut RawClient,
    id: &str,
    group: &str,
    pid: i64,
    epoch: i16,
    offset: i64,
) -> i16 {
    let req = TxnOffsetCommitRequest::default()
        .with_transactional_id(tid(id))
        .with_group_id(GroupId(s(group)))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_generation_id(-1)
        .with_topics(vec![TxnOffsetCommitRequestTopic::default()
            .with_name(name("t"))
            .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)])]);
    match c
        .call(
            ApiKey::TxnOffsetCommit,
            5,
            RequestKind::TxnOffsetCommit(req),
        )
        .await
    {
        ResponseKind::TxnOffsetCommit(r) => r.topics[0].partitions[0].error_code,
        other => panic!("{other:?}"),
    }
}

/// The committed offset of t-0 for `group` (require_stable, retried while unstable).
async fn committed(c: &mut RawClient, group: &str) -> i64 {
    for _ in 0..200 {
        let req = OffsetFetchRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_require_stable(true)
            .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                .with_name(name("t"))
                .with_partition_indexes(vec![0])]));
        match c
            .call(ApiKey::OffsetFetch, 7, RequestKind::OffsetFetch(req))
            .await
        {
            ResponseKind::OffsetFetch(r) => {
                let p = &r.topics[0].partitions[0];
                if p.error_code == 0 {
                    return p.committed_offset;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            other => panic!("{other:?}"),
        }
    }
    panic!("offsets of {group} stayed unstable");
}

/// (state, producer id, epoch, partitions) of `id`.
async fn describe(c: &mut RawClient, id: &str) -> (String, i64, i16, Vec<(String, i32)>) {
    let req = DescribeTransactionsRequest::default().with_transactional_ids(vec![tid(id)]);
    match c
        .call(
            ApiKey::DescribeTransactions,
            0,
            RequestKind::DescribeTransactions(req),
        )
        .await
    {
        ResponseKind::DescribeTransactions(r) => {
            let t = &r.transaction_states[0];
            let parts = t
                .topics
                .iter()
                .flat_map(|x| x.partitions.iter().map(|p| (x.topic.0.to_string(), *p)))
                .collect();
            (
                t.transaction_state.to_string(),
                t.producer_id.0,
                t.producer_epoch,
                parts,
            )
        }
        other => panic!("{other:?}"),
    }
}

/// A fetch's (offset, value) of every data record, and its aborted transactions
/// (producer id, first offset).
type Fetched = (Vec<(i64, String)>, Vec<(i64, i64)>);

/// A read_committed (or uncommitted) Fetch v12 of `topic`-`p` from 0: (values of the
/// data records, aborted transactions (producer id, first offset)).
async fn fetch(c: &mut RawClient, topic: &str, p: i32, isolation: i8) -> Fetched {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(0)
        .with_max_bytes(1 << 20)
        .with_isolation_level(isolation)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(p)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)])]);
    let ResponseKind::Fetch(r) = c.call(ApiKey::Fetch, 12, RequestKind::Fetch(req)).await else {
        panic!("not a fetch response")
    };
    let part = &r.responses[0].partitions[0];
    assert_eq!(part.error_code, 0);
    let mut values = Vec::new();
    if let Some(bytes) = &part.records {
        let mut b = bytes.clone();
        for set in RecordBatchDecoder::decode_all(&mut b).unwrap() {
            for rec in set.records.iter().filter(|r| !r.control) {
                let v = rec
                    .value
                    .as_ref()
                    .map(|v| String::from_utf8_lossy(v).into_owned());
                values.push((rec.offset, v.unwrap_or_default()));
            }
        }
    }
    let aborted = part
        .aborted_transactions
        .iter()
        .flatten()
        .map(|a| (a.producer_id.0, a.first_offset))
        .collect();
    (values, aborted)
}

/// What a read_committed consumer keeps of a fetch: the data records outside the
/// aborted transactions (every transaction here writes one batch per partition, so an
/// aborted transaction's first offset is its only record).
fn committed_values(fetched: Fetched) -> Vec<String> {
    let (values, aborted) = fetched;
    values
        .into_iter()
        .filter(|(o, _)| !aborted.iter().any(|(_, first)| first == o))
        .map(|(_, v)| v)
        .collect()
}

#[tokio::test]
async fn api_versions_finalizes_transaction_version_2() {
    let b = TestBroker::start().await;
    let mut c = b.client().await;
    let req = ApiVersionsRequest::default()
        .with_client_software_name(s("test"))
        .with_client_software_version(s("1"));
    let ResponseKind::ApiVersions(r) = c
        .call(ApiKey::ApiVersions, 3, RequestKind::ApiVersions(req))
        .await
    else {
        panic!("not ApiVersions")
    };
    assert_eq!(r.error_code, 0);
    let supported: Vec<_> = r
        .supported_features
        .iter()
        .map(|f| (f.name.to_string(), f.min_version, f.max_version))
        .collect();
    assert_eq!(supported, vec![("transaction.version".to_string(), 0, 2)]);
    let finalized: Vec<_> = r
        .finalized_features
        .iter()
        .map(|f| (f.name.to_string(), f.min_version_level, f.max_version_level))
        .collect();
    assert_eq!(finalized, vec![("transaction.version".to_string(), 2, 2)]);
    assert!(r.finalized_features_epoch >= 0);
    // The versions a client of transactions v2 needs.
    let max = |k: ApiKey| {
        r.api_keys
            .iter()
            .find(|a| a.api_key == k as i16)
            .map(|a| a.max_version)
    };
    assert!(max(ApiKey::Produce) >= Some(12));
    assert!(max(ApiKey::TxnOffsetCommit) >= Some(5));
    assert!(max(ApiKey::EndTxn) >= Some(5));
    assert!(max(ApiKey::AddPartitionsToTxn) >= Some(5));
}

#[tokio::test]
async fn a_v2_client_commits_aborts_and_is_fenced_after_each_end() {
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), config).await;
    let mut c = b.client().await;
    assert_eq!(create(&mut c, "t", 2).await, 0);
    assert_eq!(create(&mut c, "u", 1).await, 0);
    assert_eq!(find(&mut c, "tx").await, 0);
    let (pid, e) = init(&mut c, "tx", 5).await;

    // Transaction 1: Produce v12 without AddPartitionsToTxn, TxnOffsetCommit v5
    // without AddOffsetsToTxn, both added implicitly.
    assert_eq!(
        produce_v(&mut c, 12, "tx", "t", 0, txn_batch(pid, e, 0, "a")).await,
        0
    );
    assert_eq!(
        produce_v(&mut c, 12, "tx", "t", 0, txn_batch(pid, e, 1, "b")).await,
        0
    );
    assert_eq!(
        produce_v(&mut c, 12, "tx", "t", 1, txn_batch(pid, e, 0, "c")).await,
        0
    );
    assert_eq!(txn_commit_v5(&mut c, "tx", "g", pid, e, 2).await, 0);
    let (state, _, epoch, parts) = describe(&mut c, "tx").await;
    assert_eq!((state.as_str(), epoch), ("Ongoing", e));
    assert!(parts.contains(&("t".into(), 0)) && parts.contains(&("t".into(), 1)));
    assert!(parts.iter().any(|(t, _)| t == "__consumer_offsets"));

    // EndTxn v5 commits and hands out the next epoch.
    assert_eq!(end(&mut c, 5, "tx", pid, e, true).await, (0, pid, e + 1));
    wait_complete(&mut c, "tx").await;
    // A retry of that EndTxn gets the same answer.
    assert_eq!(end(&mut c, 5, "tx", pid, e, true).await, (0, pid, e + 1));
    assert_eq!(
        end(&mut c, 5, "tx", pid, e, false).await.0,
        INVALID_TXN_STATE
    );

    // A late write of transaction 1 is fenced: where its marker is, and where the
    // transaction never went.
    assert_eq!(
        produce_v(&mut c, 12, "tx", "t", 0, txn_batch(pid, e, 2, "late")).await,
        INVALID_PRODUCER_EPOCH
    );
    assert_eq!(
        produce_v(&mut c, 12, "tx", "u", 0, txn_batch(pid, e, 0, "late")).await,
        INVALID_PRODUCER_EPOCH
    );
    assert_eq!(
        txn_commit_v5(&mut c, "tx", "g", pid, e, 99).await,
        INVALID_PRODUCER_EPOCH
    );
    assert_eq!(describe(&mut c, "tx").await.0, "CompleteCommit");
    assert_eq!(
        committed_values(fetch(&mut c, "t", 0, 1).await),
        vec!["a", "b"]
    );
    assert_eq!(committed_values(fetch(&mut c, "t", 1, 1).await), vec!["c"]);
    assert!(fetch(&mut c, "u", 0, 0).await.0.is_empty());
    assert_eq!(committed(&mut c, "g").await, 2);

    // Transaction 2 at the new epoch (sequences start over), aborted.
    let e1 = e + 1;
    assert_eq!(
        produce_v(&mut c, 12, "tx", "t", 0, txn_batch(pid, e1, 0, "x")).await,
        0
    );
    assert_eq!(txn_commit_v5(&mut c, "tx", "g", pid, e1, 7).await, 0);
    assert_eq!(end(&mut c, 5, "tx", pid, e1, false).await, (0, pid, e1 + 1));
    wait_complete(&mut c, "tx").await;
    assert_eq!(describe(&mut c, "tx").await.2, e1 + 1);
    assert_eq!(
        produce_v(&mut c, 12, "tx", "t", 0, txn_batch(pid, e1, 1, "late")).await,
        INVALID_PRODUCER_EPOCH
    );
    let (values, aborted) = fetch(&mut c, "t", 0, 1).await;
    let x = values
        .iter()
        .find(|(_, v)| v == "x")
        .expect("x is in the log")
        .0;
    assert_eq!(aborted, vec![(pid, x)]);
    assert_eq!(committed_values((values, aborted)), vec!["a", "b"]);
    assert_eq!(committed(&mut c, "g").await, 2);

    // Transaction 3 commits at the epoch after the abort.
    let e2 = e1 + 1;
    assert_eq!(
        produce_v(&mut c, 12, "tx", "t", 0, txn_batch(pid, e2, 0, "y")).await,
        0
    );
    assert_eq!(end(&mut c, 5, "tx", pid, e2, true).await, (0, pid, e2 + 1));
    wait_complete(&mut c, "tx").await;
    assert_eq!(
        committed_values(fetch(&mut c, "t", 0, 1).await),
        vec!["a", "b", "y"]
    );
    // An abort with nothing open bumps the epoch too.
    assert_eq!(
        end(&mut c, 5, "tx", pid, e2 + 1, false).await,
        (0, pid, e2 + 2)
    );
}

#[tokio::test]
async fn a_partition_leaders_add_is_served_at_transaction_version_2() {
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), config).await;
    let mut c = b.client().await;
    assert_eq!(create(&mut c, "t", 2).await, 0);
    assert_eq!(find(&mut c, "tx").await, 0);
    let (pid, e) = init(&mut c, "tx", 5).await;
    // What a remote partition leader sends for a Produce v12: v5, not verify-only.
    let add = |epoch: i16| {
        AddPartitionsToTxnRequest::default().with_transactions(vec![
            AddPartitionsToTxnTransaction::default()
                .with_transactional_id(tid("tx"))
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
                .with_verify_only(false)
                .with_topics(vec![AddPartitionsToTxnTopic::default()
                    .with_name(name("t"))
                    .with_partitions(vec![1])]),
        ])
    };
    let code = |r: ResponseKind| match r {
        ResponseKind::AddPartitionsToTxn(r) => {
            r.results_by_transaction[0].topic_results[0].results_by_partition[0]
                .partition_error_code
        }
        other => panic!("{other:?}"),
    };
    let r = c
        .call(
            ApiKey::AddPartitionsToTxn,
            5,
            RequestKind::AddPartitionsToTxn(add(e)),
        )
        .await;
    assert_eq!(code(r), 0);
    assert_eq!(describe(&mut c, "tx").await.3, vec![("t".to_string(), 1)]);
    assert_eq!(end(&mut c, 5, "tx", pid, e, true).await, (0, pid, e + 1));
    wait_complete(&mut c, "tx").await;
    // The old epoch is fenced at the coordinator (PRODUCER_FENCED, 90).
    let r = c
        .call(
            ApiKey::AddPartitionsToTxn,
            5,
            RequestKind::AddPartitionsToTxn(add(e)),
        )
        .await;
    assert_eq!(code(r), 90);
}

#[tokio::test]
async fn a_classic_client_keeps_its_epoch_on_a_v2_broker() {
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), config).await;
    let mut c = b.client().await;
    assert_eq!(create(&mut c, "t", 1).await, 0);
    assert_eq!(find(&mut c, "old").await, 0);
    let (pid, e) = init(&mut c, "old", 5).await;
    for (round, seq) in [(0, 0), (1, 1)] {
        let req = AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(tid("old"))
            .with_v3_and_below_producer_id(ProducerId(pid))
            .with_v3_and_below_producer_epoch(e)
            .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(name("t"))
                .with_partitions(vec![0])]);
        let ResponseKind::AddPartitionsToTxn(r) = c
            .call(
                ApiKey::AddPartitionsToTxn,
                3,
                RequestKind::AddPartitionsToTxn(req),
            )
            .await
        else {
            panic!("not AddPartitionsToTxn")
        };
        assert_eq!(
            r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code, 0,
            "round {round}"
        );
        assert_eq!(
            produce_v(&mut c, 9, "old", "t", 0, txn_batch(pid, e, seq, "o")).await,
            0
        );
        // EndTxn v3 (and v4) keep the epoch.
        let v = 3 + round as i16;
        assert_eq!(end(&mut c, v, "old", pid, e, true).await.0, 0);
        wait_complete(&mut c, "old").await;
        assert_eq!(describe(&mut c, "old").await.2, e);
    }
    assert_eq!(
        committed_values(fetch(&mut c, "t", 0, 1).await),
        vec!["o", "o"]
    );
}
