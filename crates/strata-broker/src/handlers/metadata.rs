//! Metadata: brokers, and topics with their partitions, leaders, replicas and ISR.
//! Unknown topics are auto-created when the broker and the request allow it.

use std::sync::Arc;

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strata_meta::TopicImage;

use crate::Broker;

/// Serves Metadata v0–v12.
pub async fn handle(broker: &Arc<Broker>, version: i16, req: MetadataRequest) -> MetadataResponse {
    // v0 has no way to ask for "no topics": an empty list means all of them.
    let requested = match req.topics {
        Some(t) if !(version == 0 && t.is_empty()) => Some(t),
        _ => None,
    };
    let allow_auto = version < 4 || req.allow_auto_topic_creation;
    let mut topics = Vec::new();
    match requested {
        None => {
            for t in broker.meta.image().topics() {
                topics.push(topic_entry(t));
            }
        }
        Some(list) => {
            for rt in list {
                let entry = match (&rt.name, rt.topic_id.is_nil()) {
                    (Some(name), _) => {
                        match broker.topic_or_create(name.0.as_str(), allow_auto).await {
                            Ok(t) => topic_entry(&t),
                            Err(e) => error_entry(Some(name.clone()), rt.topic_id, e.code().code()),
                        }
                    }
                    (None, false) => match broker.meta.image().topic_by_id(&rt.topic_id) {
                        Some(t) => topic_entry(t),
                        None => {
                            error_entry(None, rt.topic_id, ResponseError::UnknownTopicId.code())
                        }
                    },
                    (None, true) => {
                        error_entry(None, rt.topic_id, ResponseError::InvalidRequest.code())
                    }
                };
                topics.push(entry);
            }
        }
    }
    let image = broker.meta.image();
    let brokers = image
        .brokers()
        .map(|b| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(b.node_id))
                .with_host(StrBytes::from_string(b.host.clone()))
                .with_port(b.port)
                .with_rack(b.rack.clone().map(StrBytes::from_string))
        })
        .collect();
    MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id(Some(StrBytes::from_string(broker.cluster_id.clone())))
        .with_controller_id(BrokerId(broker.config.node_id))
        .with_topics(topics)
        .with_cluster_authorized_operations(i32::MIN)
}

fn error_entry(name: Option<TopicName>, id: uuid::Uuid, code: i16) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_error_code(code)
        .with_name(name)
        .with_topic_id(id)
        .with_topic_authorized_operations(i32::MIN)
}

fn topic_entry(t: &TopicImage) -> MetadataResponseTopic {
    let partitions = t
        .partitions
        .iter()
        .map(|p| {
            MetadataResponsePartition::default()
                .with_partition_index(p.partition)
                .with_leader_id(BrokerId(p.leader))
                .with_leader_epoch(p.leader_epoch)
                .with_replica_nodes(p.replicas.iter().copied().map(BrokerId).collect())
                .with_isr_nodes(p.isr.iter().copied().map(BrokerId).collect())
                .with_error_code(if p.leader < 0 {
                    ResponseError::LeaderNotAvailable.code()
                } else {
                    0
                })
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(t.name.clone()))))
        .with_topic_id(t.topic_id)
        .with_is_internal(t.name.starts_with("__"))
        .with_partitions(partitions)
        .with_topic_authorized_operations(i32::MIN)
}
