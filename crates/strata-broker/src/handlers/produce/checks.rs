//! Step 2 of Produce: the checks that look into the batches before they are appended
//! (KIP-890 transaction membership, schema ids), and the request-wide transactional
//! id check that comes first.

use std::sync::Arc;

use kafka_protocol::messages::produce_response::BatchIndexAndErrorMessage;
use kafka_protocol::messages::ProduceRequest;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strata_auth::acl::AclOperation;

use super::{Outcome, Plan};
use crate::auth::authorizer::Access;
use crate::Broker;

/// A produce holding transactional batches needs a transactional id with WRITE on it
/// (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED for the whole request, as Kafka).
pub(super) fn transactional_refusal(
    access: &Access,
    transactional_id: Option<&str>,
    req: &ProduceRequest,
) -> Option<ResponseError> {
    let records = req
        .topic_data
        .iter()
        .flat_map(|t| t.partition_data.iter().filter_map(|p| p.records.as_ref()));
    if !crate::txn::verify::has_transactional_records(records) {
        return None;
    }
    match transactional_id {
        Some(id) if access.transactional_id(AclOperation::Write, id) => None,
        _ => Some(ResponseError::TransactionalIdAuthorizationFailed),
    }
}

/// KIP-890: a transactional batch outside its producer's transaction is refused.
pub(super) async fn verify_transactions(
    broker: &Arc<Broker>,
    version: i16,
    transactional_id: Option<&str>,
    plan: &mut Plan,
) {
    let verdicts =
        crate::txn::verify::check_produce(broker, version, transactional_id, &plan.appends).await;
    if verdicts.iter().all(Option::is_none) {
        return;
    }
    plan.refuse(
        verdicts
            .into_iter()
            .map(|v| v.map(|(code, msg)| Outcome::Failed(code, Some(msg))))
            .collect(),
    );
}

/// Topics with `confluent.*.schema.validation` on: batches whose records do not carry
/// a schema id registered under the topic's subject are refused (`INVALID_RECORD`,
/// naming the records).
pub(super) async fn check_schemas(broker: &Arc<Broker>, plan: &mut Plan) {
    use crate::registry::validation;
    if !plan.appends.iter().any(|(p, _)| validation::wanted(p)) {
        return;
    }
    let mut verdicts = Vec::with_capacity(plan.appends.len());
    for (p, records) in &plan.appends {
        if !validation::wanted(p) {
            verdicts.push(None);
            continue;
        }
        verdicts.push(match validation::check(broker, p, records.clone()).await {
            Ok(()) => None,
            Err((_, msg, records)) if !records.is_empty() => {
                let errors = records
                    .into_iter()
                    .map(|(i, m)| {
                        BatchIndexAndErrorMessage::default()
                            .with_batch_index(i)
                            .with_batch_index_error_message(m.map(StrBytes::from_string))
                    })
                    .collect();
                Some(Outcome::InvalidRecords(msg, errors))
            }
            Err((code, msg, _)) => Some(Outcome::Failed(code, Some(msg))),
        });
    }
    plan.refuse(verdicts);
}
