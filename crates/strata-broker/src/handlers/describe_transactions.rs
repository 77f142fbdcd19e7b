//! DescribeTransactions v0: the state of each transactional id at its coordinator
//! (this broker must coordinate it). Ids the principal may not describe get
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED; partitions of topics it may not describe are
//! left out, as Kafka does.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strata_auth::acl::AclOperation;

use crate::auth::authorizer::Access;
use crate::Broker;

/// Serves DescribeTransactions v0.
pub fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    req: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let states = req
        .transactional_ids
        .into_iter()
        .map(|id| describe_one(broker, access, id))
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}

fn describe_one(
    broker: &Broker,
    access: &Access,
    id: kafka_protocol::messages::TransactionalId,
) -> TransactionState {
    let s = TransactionState::default()
        .with_transactional_id(id.clone())
        .with_transaction_state(StrBytes::default())
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1)
        .with_transaction_start_time_ms(-1);
    if !access.transactional_id(AclOperation::Describe, id.0.as_str()) {
        return s.with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
    }
    let d = match broker.txn.describe(broker, id.0.as_str()) {
        Ok(d) => d,
        Err(e) => return s.with_error_code(e.code()),
    };
    let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for p in d.partitions {
        if access.topic(AclOperation::Describe, &p.topic) {
            topics.entry(p.topic).or_default().push(p.partition);
        }
    }
    s.with_transaction_state(StrBytes::from_static_str(d.state.name()))
        .with_transaction_timeout_ms(d.timeout_ms)
        .with_transaction_start_time_ms(d.start_ms)
        .with_producer_id(ProducerId(d.producer_id))
        .with_producer_epoch(d.producer_epoch)
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    TopicData::default()
                        .with_topic(TopicName(StrBytes::from_string(t)))
                        .with_partitions(ps)
                })
                .collect(),
        )
}
