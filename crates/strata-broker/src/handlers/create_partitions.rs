//! CreatePartitions: grow a topic's partition count.

use crate::auth::authorizer::Access;
use std::sync::Arc;
use strata_auth::acl::AclOperation;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;
use strata_meta::controller;

use crate::Broker;

/// Serves CreatePartitions v0–v3.
pub async fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let name = t.name.0.to_string();
        if !access.topic(AclOperation::Alter, &name) {
            results.push(
                CreatePartitionsTopicResult::default()
                    .with_name(t.name)
                    .with_error_code(kafka_protocol::ResponseError::TopicAuthorizationFailed.code())
                    .with_error_message(Some(kafka_protocol::protocol::StrBytes::from_static_str(
                        "not authorized to alter this topic",
                    ))),
            );
            continue;
        }
        // An empty list means the same as none: place the new partitions ourselves.
        let assignments: Option<Vec<Vec<i32>>> = t.assignments.filter(|a| !a.is_empty()).map(|a| {
            a.into_iter()
                .map(|x| x.broker_ids.into_iter().map(|b| b.0).collect())
                .collect()
        });
        let validate_only = req.validate_only;
        let result = broker
            .decide_and_commit(|image, live| {
                let records = controller::create_partitions(
                    image,
                    &name,
                    t.count,
                    assignments.as_deref(),
                    live,
                )?;
                Ok(if validate_only { Vec::new() } else { records })
            })
            .await;
        let entry = CreatePartitionsTopicResult::default().with_name(t.name);
        results.push(match result {
            Ok(()) => entry,
            Err(e) => entry
                .with_error_code(e.kafka_code())
                .with_error_message(Some(StrBytes::from_string(e.message().to_string()))),
        });
    }
    CreatePartitionsResponse::default().with_results(results)
}
