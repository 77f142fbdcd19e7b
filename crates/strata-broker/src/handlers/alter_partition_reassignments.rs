//! AlterPartitionReassignments (KIP-455): start, change or cancel partition moves.
//! The decisions are `strata_meta::controller::reassign`'s; all partitions of one
//! request are decided together and committed as one batch.

use std::sync::Arc;

use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strata_auth::acl::AclOperation;
use strata_meta::controller::reassign::{self, ReassignError};
use strata_meta::MetadataImage;

use crate::auth::authorizer::Access;
use crate::metadata::DecideError;
use crate::Broker;

/// One partition's outcome: error code (0 = accepted) and message.
type Outcome = (i16, Option<String>);

/// Serves AlterPartitionReassignments v0–v1.
pub async fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    req: AlterPartitionReassignmentsRequest,
) -> AlterPartitionReassignmentsResponse {
    let resp = AlterPartitionReassignmentsResponse::default()
        .with_allow_replication_factor_change(req.allow_replication_factor_change);
    if !access.cluster(AclOperation::Alter) {
        return resp
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code())
            .with_error_message(Some(StrBytes::from_static_str(
                "not authorized to alter the cluster",
            )));
    }
    // (topic, partition, target) in request order.
    let wanted: Vec<(String, i32, Option<Vec<i32>>)> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (
                    t.name.0.to_string(),
                    p.partition_index,
                    p.replicas.as_ref().map(|r| r.iter().map(|b| b.0).collect()),
                )
            })
        })
        .collect();
    let allow_rf = req.allow_replication_factor_change;
    let decided = {
        let _decider = broker.decider.lock().await;
        broker
            .meta
            .decide_and_commit(|image| Ok::<_, ReassignError>(decide(image, &wanted, allow_rf)))
            .await
    };
    let outcomes: Vec<Outcome> = match decided {
        Ok(outcomes) => outcomes,
        Err(DecideError::Refused(e)) => wanted
            .iter()
            .map(|_| (e.kafka_code(), Some(e.to_string())))
            .collect(),
        Err(DecideError::Commit(e)) => {
            tracing::warn!(error = %e, "reassignment not committed");
            let code = crate::topics::commit_error_code(&e);
            wanted.iter().map(|_| (code, Some(e.to_string()))).collect()
        }
    };
    let mut outcomes = outcomes.into_iter();
    let responses = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let (code, message) = outcomes.next().unwrap_or((0, None));
                    ReassignablePartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                        .with_error_message(message.map(StrBytes::from_string))
                })
                .collect();
            ReassignableTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    resp.with_responses(responses)
}

/// Decides every partition in order, each on the image the earlier ones make.
fn decide(
    image: &MetadataImage,
    wanted: &[(String, i32, Option<Vec<i32>>)],
    allow_rf: bool,
) -> (Vec<Outcome>, Vec<strata_meta::MetadataRecord>) {
    let mut image = image.clone();
    let mut records = Vec::new();
    let mut outcomes = Vec::with_capacity(wanted.len());
    for (topic, partition, target) in wanted {
        let decided =
            reassign::alter_reassignment(&image, topic, *partition, target.as_deref(), allow_rf);
        let outcome = match decided {
            Ok(r) => match image.applied(r.iter()) {
                Ok(next) => {
                    image = next;
                    records.extend(r);
                    (0, None)
                }
                Err(e) => (
                    ResponseError::UnknownServerError.code(),
                    Some(e.to_string()),
                ),
            },
            Err(e) => (e.kafka_code(), Some(e.to_string())),
        };
        outcomes.push(outcome);
    }
    (outcomes, records)
}
