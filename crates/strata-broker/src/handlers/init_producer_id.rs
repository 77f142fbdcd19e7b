//! InitProducerId for idempotent producers (no transactional id). Transactions are not
//! supported yet: a transactional id is refused.

use std::sync::Arc;

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;

use crate::Broker;

/// Serves InitProducerId v0–v4.
pub async fn handle(broker: &Arc<Broker>, req: InitProducerIdRequest) -> InitProducerIdResponse {
    let fail = |e: ResponseError| {
        InitProducerIdResponse::default()
            .with_error_code(e.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    match req.transactional_id.as_ref().map(|t| t.0.as_str()) {
        None => {}
        // As Kafka: an empty transactional id is malformed.
        Some("") => return fail(ResponseError::InvalidRequest),
        Some(_) => return fail(ResponseError::TransactionalIdAuthorizationFailed),
    }
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
