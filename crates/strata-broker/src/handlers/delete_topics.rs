//! DeleteTopics: by name (v1–v5) or by name or id (v6).

use crate::auth::authorizer::Access;
use kafka_protocol::ResponseError;
use std::sync::Arc;
use strata_auth::acl::AclOperation;

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use strata_meta::controller;
use uuid::Uuid;

use crate::Broker;

/// Serves DeleteTopics v1–v6.
pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    access: &Access,
    req: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let targets: Vec<(Option<TopicName>, Uuid)> = if version >= 6 {
        req.topics
            .into_iter()
            .map(|t| (t.name, t.topic_id))
            .collect()
    } else {
        req.topic_names
            .into_iter()
            .map(|n| (Some(n), Uuid::nil()))
            .collect()
    };
    let mut responses = Vec::with_capacity(targets.len());
    for (name, id) in targets {
        let by_name = name.as_ref().map(|n| n.0.to_string());
        let target = by_name
            .clone()
            .or_else(|| broker.meta.image().topic_by_id(&id).map(|t| t.name.clone()));
        if let Some(t) = &target {
            if !access.topic(AclOperation::Delete, t) {
                responses.push(
                    DeletableTopicResult::default()
                        .with_name(name)
                        .with_topic_id(if version >= 6 { id } else { Uuid::nil() })
                        .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                        .with_error_message((version >= 5).then(|| {
                            StrBytes::from_static_str("not authorized to delete this topic")
                        })),
                );
                continue;
            }
        }
        let result = broker
            .decide_and_commit(|image, _| match &by_name {
                Some(n) => controller::delete_topics(image, std::slice::from_ref(n))
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| Ok(Vec::new())),
                None => controller::delete_topic_by_id(image, id),
            })
            .await;
        let entry = DeletableTopicResult::default()
            .with_name(name)
            .with_topic_id(if version >= 6 { id } else { Uuid::nil() });
        responses.push(match result {
            Ok(()) => entry,
            Err(e) => entry.with_error_code(e.kafka_code()).with_error_message(
                (version >= 5).then(|| StrBytes::from_string(e.message().to_string())),
            ),
        });
    }
    DeleteTopicsResponse::default().with_responses(responses)
}
