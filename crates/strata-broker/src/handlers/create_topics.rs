//! CreateTopics: validate, place replicas, commit the records (or only validate).

use crate::auth::authorizer::Access;
use kafka_protocol::ResponseError;
use std::sync::Arc;

use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::protocol::StrBytes;
use strata_meta::controller::{CreateTopicRequest, ReplicaAssignment};
use strata_meta::topic_config;
use strata_meta::MetadataRecord;

use crate::Broker;

/// Serves CreateTopics v2–v7.
pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    access: &Access,
    req: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let names: Vec<_> = req.topics.iter().map(|t| t.name.clone()).collect();
    let allowed: Vec<bool> = names
        .iter()
        .map(|n| access.may_create_topic(n.0.as_str()))
        .collect();
    let requests: Vec<CreateTopicRequest> = req
        .topics
        .into_iter()
        .zip(&allowed)
        .filter(|(_, ok)| **ok)
        .map(|(t, _)| t)
        .map(|t| CreateTopicRequest {
            name: t.name.0.to_string(),
            num_partitions: t.num_partitions,
            replication_factor: t.replication_factor,
            assignments: t
                .assignments
                .into_iter()
                .map(|a| ReplicaAssignment {
                    partition: a.partition_index,
                    broker_ids: a.broker_ids.into_iter().map(|b| b.0).collect(),
                })
                .collect(),
            configs: t
                .configs
                .into_iter()
                .map(|c| (c.name.to_string(), c.value.map(|v| v.to_string())))
                .collect(),
        })
        .collect();
    // Kafka's timeout_ms bounds the wait for brokers still starting (capped).
    let wait = std::time::Duration::from_millis(req.timeout_ms.clamp(0, 120_000) as u64);
    broker.wait_for_declared_voters(&requests, wait).await;
    let mut results = broker
        .create_topics(requests, req.validate_only)
        .await
        .into_iter();
    let topics = names
        .into_iter()
        .zip(allowed)
        .map(|(name, ok)| {
            let base = CreatableTopicResult::default().with_name(name);
            if !ok {
                return base
                    .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                    .with_error_message(Some(StrBytes::from_static_str(
                        "not authorized to create this topic",
                    )))
                    .with_num_partitions(-1)
                    .with_replication_factor(-1);
            }
            let result = results.next().unwrap_or_else(|| {
                Err(strata_meta::TopicError::Internal(
                    "no result for this topic".into(),
                ))
            });
            match result {
                Ok(records) => describe_created(base, &records, version),
                Err(e) => base
                    .with_error_code(e.kafka_code())
                    .with_error_message(Some(StrBytes::from_string(e.message().to_string())))
                    .with_num_partitions(-1)
                    .with_replication_factor(-1),
            }
        })
        .collect();
    CreateTopicsResponse::default().with_topics(topics)
}

/// Fills the v5+ fields (id, counts, effective configs) from the creating records.
fn describe_created(
    base: CreatableTopicResult,
    records: &[MetadataRecord],
    version: i16,
) -> CreatableTopicResult {
    let mut out = base;
    let mut partitions = 0;
    for r in records {
        match r {
            MetadataRecord::CreateTopic {
                topic_id, configs, ..
            } => {
                if version >= 7 {
                    out.topic_id = *topic_id;
                }
                if version >= 5 {
                    out.configs = Some(
                        topic_config::describe(configs)
                            .into_iter()
                            .map(|e| {
                                CreatableTopicConfigs::default()
                                    .with_name(StrBytes::from_static_str(e.name))
                                    .with_value(Some(StrBytes::from_string(e.value)))
                                    .with_config_source(e.source.kafka_code())
                            })
                            .collect(),
                    );
                }
            }
            MetadataRecord::CreatePartition { replicas, .. } => {
                partitions += 1;
                out.replication_factor = replicas.len() as i16;
            }
            _ => {}
        }
    }
    if version >= 5 {
        out.num_partitions = partitions;
    } else {
        out.num_partitions = -1;
        out.replication_factor = -1;
    }
    out
}
