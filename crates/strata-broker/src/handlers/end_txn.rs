//! EndTxn: commits or aborts the caller's transaction at its coordinator. Answered
//! once PrepareCommit / PrepareAbort is durable; the markers follow in the background.

use std::sync::Arc;

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse};
use kafka_protocol::ResponseError;
use strata_auth::acl::AclOperation;
use strata_txn::TxnResult;

use crate::auth::authorizer::Access;
use crate::txn::fenced_for_version;
use crate::Broker;

/// EndTxn v2 added PRODUCER_FENCED.
const FENCED_SINCE: i16 = 2;

/// Serves EndTxn v0–v5. v5 (KIP-890) answers the producer id and epoch to use next;
/// without the `transaction.version` 2 feature (not advertised) the epoch is not
/// bumped at the end of a transaction, so they are the caller's own.
pub async fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    version: i16,
    req: EndTxnRequest,
) -> EndTxnResponse {
    let id = req.transactional_id.0.as_str();
    let result = if !access.transactional_id(AclOperation::Write, id) {
        Err(ResponseError::TransactionalIdAuthorizationFailed)
    } else {
        let outcome = if req.committed {
            TxnResult::Commit
        } else {
            TxnResult::Abort
        };
        broker
            .txn
            .end_txn(broker, id, req.producer_id.0, req.producer_epoch, outcome)
            .await
    };
    let code = match result {
        Ok(()) => 0,
        Err(e) => fenced_for_version(e, version, FENCED_SINCE).code(),
    };
    let resp = EndTxnResponse::default().with_error_code(code);
    if version >= 5 && code == 0 {
        resp.with_producer_id(req.producer_id)
            .with_producer_epoch(req.producer_epoch)
    } else {
        resp
    }
}
