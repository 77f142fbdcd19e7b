//! InitProducerId: idempotent producers (no transactional id) get a fresh producer id;
//! transactional ones are served by the transaction coordinator of their id (which
//! fences the previous producer of the id with an epoch bump).

use std::sync::Arc;

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;
use strata_auth::acl::AclOperation;
use strata_txn::ProducerIdAndEpoch;

use crate::auth::authorizer::Access;
use crate::txn::fenced_for_version;
use crate::Broker;

/// InitProducerId v4 added PRODUCER_FENCED.
const FENCED_SINCE: i16 = 4;

fn fail(e: ResponseError) -> InitProducerIdResponse {
    InitProducerIdResponse::default()
        .with_error_code(e.code())
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1)
}

/// Serves InitProducerId v0–v4.
pub async fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    version: i16,
    req: InitProducerIdRequest,
) -> InitProducerIdResponse {
    match req.transactional_id.as_ref().map(|t| t.0.as_str()) {
        None => idempotent(broker, req).await,
        // As Kafka: an empty transactional id is malformed.
        Some("") => fail(ResponseError::InvalidRequest),
        Some(id) => transactional(broker, access, version, id, &req).await,
    }
}

async fn idempotent(broker: &Arc<Broker>, req: InitProducerIdRequest) -> InitProducerIdResponse {
    // KIP-360: a producer may ask to bump its epoch after an error; without
    // transactions, a bump that would overflow gets a fresh id instead.
    if req.producer_id.0 >= 0 && req.producer_epoch >= 0 && req.producer_epoch < i16::MAX - 1 {
        return InitProducerIdResponse::default()
            .with_producer_id(req.producer_id)
            .with_producer_epoch(req.producer_epoch + 1);
    }
    match broker.allocate_producer_id().await {
        Ok(id) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(0),
        Err(e) => {
            tracing::error!(error = %e, "producer id allocation failed");
            fail(ResponseError::CoordinatorNotAvailable)
        }
    }
}

/// The KIP-360 producer the request names: none (both -1), or both set.
fn expected(req: &InitProducerIdRequest) -> Result<Option<ProducerIdAndEpoch>, ResponseError> {
    match (req.producer_id.0, req.producer_epoch) {
        (-1, -1) => Ok(None),
        (-1, _) | (_, -1) => Err(ResponseError::InvalidRequest),
        (producer_id, epoch) => Ok(Some(ProducerIdAndEpoch { producer_id, epoch })),
    }
}

async fn transactional(
    broker: &Arc<Broker>,
    access: &Access,
    version: i16,
    id: &str,
    req: &InitProducerIdRequest,
) -> InitProducerIdResponse {
    if !access.transactional_id(AclOperation::Write, id) {
        return fail(ResponseError::TransactionalIdAuthorizationFailed);
    }
    let expected = match expected(req) {
        Ok(e) => e,
        Err(e) => return fail(e),
    };
    match broker
        .txn
        .init_producer_id(broker, id, req.transaction_timeout_ms, expected)
        .await
    {
        Ok(p) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(p.producer_id))
            .with_producer_epoch(p.epoch),
        Err(e) => fail(fenced_for_version(e, version, FENCED_SINCE)),
    }
}
