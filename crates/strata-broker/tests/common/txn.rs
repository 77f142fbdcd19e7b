//! Raw-request helpers shared by the transaction tests.

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, DescribeTransactionsRequest, FindCoordinatorRequest, InitProducerIdRequest, ProducerId,
    RequestKind, ResponseKind, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, TimestampType};

use super::RawClient;

pub fn tid(s: &str) -> TransactionalId {
    TransactionalId(StrBytes::from_string(s.to_string()))
}

/// Few internal-topic partitions, so a test broker creates them quickly.
pub fn config(c: &mut strata_broker::BrokerConfig) {
    c.transaction_state_num_partitions = 4;
    c.offsets_topic_num_partitions = 4;
}

/// One transactional record `value` from (`pid`, `epoch`) at sequence `seq`.
pub fn txn_batch(pid: i64, epoch: i16, seq: i32, value: &str) -> Bytes {
    let records = [Record {
        transactional: true,
        control: false,
        partition_leader_epoch: 0,
        producer_id: pid,
        producer_epoch: epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: seq,
        timestamp: 1_700_000_000_000,
        key: None,
        value: Some(Bytes::from(value.to_string())),
        headers: Default::default(),
        delete_horizon: false,
    }];
    super::encode(&records, Compression::None)
}

/// FindCoordinator v3 for transactional id `id` (the first creates
/// `__transaction_state`, as for a client); its error code.
pub async fn find(c: &mut RawClient, id: &str) -> i16 {
    let req = FindCoordinatorRequest::default()
        .with_key_type(1)
        .with_key(StrBytes::from_string(id.to_string()));
    match c
        .call(
            ApiKey::FindCoordinator,
            3,
            RequestKind::FindCoordinator(req),
        )
        .await
    {
        ResponseKind::FindCoordinator(r) => r.error_code,
        other => panic!("{other:?}"),
    }
}

/// One InitProducerId at `version` for `id`: (error code, producer id, epoch).
pub async fn init_once(c: &mut RawClient, id: &str, version: i16) -> (i16, i64, i16) {
    let req = InitProducerIdRequest::default()
        .with_transactional_id(Some(tid(id)))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    match c
        .call(
            ApiKey::InitProducerId,
            version,
            RequestKind::InitProducerId(req),
        )
        .await
    {
        ResponseKind::InitProducerId(r) => (r.error_code, r.producer_id.0, r.producer_epoch),
        other => panic!("{other:?}"),
    }
}

/// InitProducerId at `version` for `id`, retried while the coordinator is being created
/// or loaded (the first request creates `__transaction_state`) or a previous
/// transaction completes.
pub async fn init(c: &mut RawClient, id: &str, version: i16) -> (i64, i16) {
    let mut last = 0;
    for _ in 0..200 {
        match init_once(c, id, version).await {
            (0, pid, epoch) => return (pid, epoch),
            // COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR,
            // CONCURRENT_TRANSACTIONS: retriable.
            (code, ..) if [14, 15, 16, 51].contains(&code) => {
                last = code;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            (code, ..) => panic!("InitProducerId({id}): error {code}"),
        }
    }
    panic!("InitProducerId({id}) still answered {last} after 10 s");
}

/// Waits until `id`'s transaction is CompleteCommit or CompleteAbort.
pub async fn wait_complete(c: &mut RawClient, id: &str) {
    let mut state = String::new();
    for _ in 0..200 {
        let req = DescribeTransactionsRequest::default().with_transactional_ids(vec![tid(id)]);
        state = match c
            .call(
                ApiKey::DescribeTransactions,
                0,
                RequestKind::DescribeTransactions(req),
            )
            .await
        {
            ResponseKind::DescribeTransactions(r) => r.transaction_states[0]
                .transaction_state
                .as_str()
                .to_string(),
            other => panic!("{other:?}"),
        };
        if state.starts_with("Complete") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{id} still {state} after 10 s");
}
