//! ListTransactions v0–v1: the transactions this broker coordinates, filtered by
//! state, producer id and (v1) how long they have been running; only ids the principal
//! may describe. Unknown state names are echoed in `unknown_state_filters`.

use std::sync::Arc;

use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use strata_auth::acl::AclOperation;
use strata_txn::ListFilter;

use crate::auth::authorizer::Access;
use crate::Broker;

/// Serves ListTransactions v0–v1.
pub fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    version: i16,
    req: ListTransactionsRequest,
) -> ListTransactionsResponse {
    let unknown: Vec<StrBytes> = req
        .state_filters
        .iter()
        .filter(|s| strata_txn::TxnState::from_name(s.as_str()).is_none())
        .cloned()
        .collect();
    let filter = ListFilter {
        states: req.state_filters.iter().map(|s| s.to_string()).collect(),
        producer_ids: req.producer_id_filters.iter().map(|p| p.0).collect(),
        min_duration_ms: if version >= 1 {
            req.duration_filter
        } else {
            -1
        },
    };
    let (error, listed) = broker.txn.list(&filter);
    let states = listed
        .into_iter()
        .filter(|t| access.transactional_id(AclOperation::Describe, &t.transactional_id))
        .map(|t| {
            TransactionState::default()
                .with_transactional_id(TransactionalId(StrBytes::from_string(t.transactional_id)))
                .with_producer_id(ProducerId(t.producer_id))
                .with_transaction_state(StrBytes::from_static_str(t.state.name()))
        })
        .collect();
    ListTransactionsResponse::default()
        .with_error_code(error.map_or(0, |e| e.code()))
        .with_unknown_state_filters(unknown)
        .with_transaction_states(states)
}
