//! EndTxn: commits or aborts the caller's transaction at its coordinator. Answered
//! once PrepareCommit / PrepareAbort is durable; the markers follow in the background.

use std::sync::Arc;

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse, ProducerId};
use kafka_protocol::ResponseError;
use strata_auth::acl::AclOperation;
use strata_txn::{ProducerIdAndEpoch, TxnResult};

use crate::auth::authorizer::Access;
use crate::txn::fenced_for_version;
use crate::Broker;

/// EndTxn v2 added PRODUCER_FENCED.
const FENCED_SINCE: i16 = 2;

/// EndTxn v5 is the first of transactions v2 (Kafka's `transactionVersionForEndTxn`).
const TV2_SINCE: i16 = 5;

/// Serves EndTxn v0–v5. v5 (KIP-890 part 2) runs at transaction version 2: the
/// producer epoch is bumped at every end (a fresh producer id at epoch 0 once it is
/// used up) and the answer carries the producer id and epoch to continue with;
/// v0–v4 keep the classic rules (the epoch is the caller's own), whatever the
/// cluster's `transaction.version`.
pub async fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    version: i16,
    req: EndTxnRequest,
) -> EndTxnResponse {
    let id = req.transactional_id.0.as_str();
    let outcome = if req.committed {
        TxnResult::Commit
    } else {
        TxnResult::Abort
    };
    let (pid, epoch) = (req.producer_id.0, req.producer_epoch);
    let result = if !access.transactional_id(AclOperation::Write, id) {
        Err(ResponseError::TransactionalIdAuthorizationFailed)
    } else if version >= TV2_SINCE {
        broker.txn.end_txn_v2(broker, id, pid, epoch, outcome).await
    } else {
        broker
            .txn
            .end_txn(broker, id, pid, epoch, outcome)
            .await
            .map(|()| ProducerIdAndEpoch {
                producer_id: pid,
                epoch,
            })
    };
    let (code, next) = match result {
        Ok(next) => (0, next),
        Err(e) => (
            fenced_for_version(e, version, FENCED_SINCE).code(),
            ProducerIdAndEpoch {
                producer_id: -1,
                epoch: -1,
            },
        ),
    };
    let resp = EndTxnResponse::default().with_error_code(code);
    if version >= TV2_SINCE {
        resp.with_producer_id(ProducerId(next.producer_id))
            .with_producer_epoch(next.epoch)
    } else {
        resp
    }
}
