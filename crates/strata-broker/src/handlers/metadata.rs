//! Metadata: brokers, and topics with their partitions, leaders, replicas and ISR.
//! Unknown topics are auto-created when the broker and the request allow it. From v8 a
//! client may ask what it may do on each topic (and, v8–v10, on the cluster; KIP-430).

use std::sync::Arc;

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strata_meta::{MetadataImage, TopicImage};

use super::{authorized_ops, Caller};
use crate::auth::authorizer::Access;
use crate::Broker;
use strata_auth::acl::AclOperation;

/// Serves Metadata v0–v12.
pub async fn handle(
    broker: &Arc<Broker>,
    caller: &Caller,
    access: &Access,
    version: i16,
    req: MetadataRequest,
) -> MetadataResponse {
    // v0 has no way to ask for "no topics": an empty list means all of them.
    let requested = match req.topics {
        Some(t) if !(version == 0 && t.is_empty()) => Some(t),
        _ => None,
    };
    let allow_auto = version < 4 || req.allow_auto_topic_creation;
    // The fields exist from v8 (the cluster's only up to v10).
    let topic_ops = version >= 8 && req.include_topic_authorized_operations;
    let cluster_ops = (8..=10).contains(&version) && req.include_cluster_authorized_operations;
    let entry = |image: &MetadataImage, t: &TopicImage| {
        let e = topic_entry(image, t, version);
        if topic_ops {
            e.with_topic_authorized_operations(authorized_ops::topic(access, &t.name))
        } else {
            e
        }
    };
    let mut topics = Vec::new();
    match requested {
        None => {
            // Topics the principal may not describe are not listed.
            let image = broker.meta.image();
            for t in image.topics() {
                if access.topic(AclOperation::Describe, &t.name) {
                    topics.push(entry(&image, t));
                }
            }
        }
        Some(list) => {
            for rt in list {
                let entry = match (&rt.name, rt.topic_id.is_nil()) {
                    (Some(name), _) if !access.topic(AclOperation::Describe, name.0.as_str()) => {
                        error_entry(
                            Some(name.clone()),
                            rt.topic_id,
                            ResponseError::TopicAuthorizationFailed.code(),
                            version,
                        )
                    }
                    (Some(name), _) => {
                        let allow = allow_auto && access.may_create_topic(name.0.as_str());
                        match broker.topic_or_create(name.0.as_str(), allow).await {
                            Ok(t) => entry(&broker.meta.image(), &t),
                            Err(e) => error_entry(
                                Some(name.clone()),
                                rt.topic_id,
                                e.code().code(),
                                version,
                            ),
                        }
                    }
                    (None, false) => {
                        let image = broker.meta.image();
                        match image.topic_by_id(&rt.topic_id) {
                            Some(t) if !access.topic(AclOperation::Describe, &t.name) => {
                                error_entry(
                                    None,
                                    rt.topic_id,
                                    ResponseError::TopicAuthorizationFailed.code(),
                                    version,
                                )
                            }
                            Some(t) => entry(&image, t),
                            None => error_entry(
                                None,
                                rt.topic_id,
                                ResponseError::UnknownTopicId.code(),
                                version,
                            ),
                        }
                    }
                    (None, true) => error_entry(
                        None,
                        rt.topic_id,
                        ResponseError::InvalidRequest.code(),
                        version,
                    ),
                };
                topics.push(entry);
            }
        }
    }
    let image = broker.meta.image();
    // Fenced brokers are down or stopping and lead nothing. They stay listed for a short
    // grace after fencing so that clients move their partitions before they see the
    // broker vanish (see `metadata::FENCED_LISTING_GRACE`).
    let brokers = image
        .brokers()
        .filter(|b| !b.fenced || broker.meta.fenced_recently(b.node_id))
        // Each client gets the addresses of the listener it came in on.
        .filter_map(|b| {
            let (host, port) = b.endpoint(&caller.listener.config.name)?;
            Some(
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(b.node_id))
                    .with_host(StrBytes::from_string(host.to_string()))
                    .with_port(port)
                    .with_rack(
                        b.rack
                            .clone()
                            .filter(|_| version >= 1)
                            .map(StrBytes::from_string),
                    ),
            )
        })
        .collect();
    // Fields appear by version: controller v1, cluster id v2, cluster operations v8–v10.
    MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id((version >= 2).then(|| StrBytes::from_string(broker.cluster_id.clone())))
        .with_controller_id(BrokerId(if version >= 1 {
            broker.meta.controller_id().unwrap_or(-1)
        } else {
            -1
        }))
        .with_topics(topics)
        .with_cluster_authorized_operations(if cluster_ops {
            authorized_ops::cluster(access)
        } else {
            authorized_ops::NOT_REQUESTED
        })
}

fn error_entry(
    name: Option<TopicName>,
    id: uuid::Uuid,
    code: i16,
    version: i16,
) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_error_code(code)
        .with_name(name)
        .with_topic_id(if version >= 10 { id } else { uuid::Uuid::nil() })
        .with_topic_authorized_operations(authorized_ops::NOT_REQUESTED)
}

/// `image` tells which replicas are offline (v5+): their broker is unknown or fenced,
/// or reported them offline (a failed log directory).
fn topic_entry(image: &MetadataImage, t: &TopicImage, version: i16) -> MetadataResponseTopic {
    let partitions = t
        .partitions
        .iter()
        .map(|p| {
            let offline = if version >= 5 {
                image.offline_replicas(t.topic_id, p)
            } else {
                Vec::new()
            };
            MetadataResponsePartition::default()
                .with_partition_index(p.partition)
                .with_leader_id(BrokerId(p.leader))
                .with_leader_epoch(if version >= 7 { p.leader_epoch } else { -1 })
                .with_replica_nodes(p.replicas.iter().copied().map(BrokerId).collect())
                .with_isr_nodes(p.isr.iter().copied().map(BrokerId).collect())
                .with_offline_replicas(offline.into_iter().map(BrokerId).collect())
                .with_error_code(if p.leader < 0 {
                    ResponseError::LeaderNotAvailable.code()
                } else {
                    0
                })
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(t.name.clone()))))
        .with_topic_id(if version >= 10 {
            t.topic_id
        } else {
            uuid::Uuid::nil()
        })
        .with_is_internal(version >= 1 && t.name.starts_with("__"))
        .with_partitions(partitions)
        .with_topic_authorized_operations(authorized_ops::NOT_REQUESTED)
}
