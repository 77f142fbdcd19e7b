//! ListTransactions v0–v2: the transactions this broker coordinates, filtered by
//! state, producer id, (v1) how long they have been running and (v2, KIP-1152) a
//! regular expression the whole transactional id must match; only ids the principal
//! may describe. Unknown state names are echoed in `unknown_state_filters`; a pattern
//! that does not compile (or is too large) is `INVALID_REGULAR_EXPRESSION`.

use std::sync::Arc;

use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use regex::Regex;
use strata_auth::acl::AclOperation;
use strata_txn::ListFilter;

use crate::auth::authorizer::Access;
use crate::Broker;

/// The compiled size a client's pattern may reach (the regex crate's own limit is
/// 10 MiB, too much to spend on one request: the pattern compiles on the async runtime,
/// and a transactional-id pattern is a few dozen bytes).
const PATTERN_SIZE_LIMIT: usize = 1 << 16;

/// Serves ListTransactions v0–v2.
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
    let pattern = match id_pattern(version, req.transactional_id_pattern.as_ref()) {
        Ok(p) => p,
        Err(message) => {
            // The response has no message field: the reason goes to the log.
            tracing::debug!("ListTransactions refused: {message}");
            return ListTransactionsResponse::default()
                .with_error_code(ResponseError::InvalidRegularExpression.code())
                .with_unknown_state_filters(unknown);
        }
    };
    let (error, listed) = broker.txn.list(&filter);
    let states = listed
        .into_iter()
        .filter(|t| {
            pattern
                .as_ref()
                .is_none_or(|p| p.is_match(&t.transactional_id))
        })
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

/// The v2 pattern, anchored so it must match the whole id (as Java's
/// `Matcher::matches`); `None` when absent or empty (every id).
fn id_pattern(version: i16, pattern: Option<&StrBytes>) -> Result<Option<Regex>, String> {
    let Some(p) = pattern.filter(|p| version >= 2 && !p.is_empty()) else {
        return Ok(None);
    };
    regex::RegexBuilder::new(&format!("^(?:{})$", p.as_str()))
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map(Some)
        .map_err(|e| format!("invalid transactional id pattern: {e}"))
}
