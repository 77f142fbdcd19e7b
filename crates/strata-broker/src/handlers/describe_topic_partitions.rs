//! DescribeTopicPartitions v0 (KIP-966): topics by name, with their partitions, in pages.
//!
//! Topics are answered in name order (every topic the caller may describe when the
//! request names none), each from partition 0, or, for the cursor's topic, from the
//! cursor's partition. A response holds at most `response_partition_limit` partitions,
//! capped at [`MAX_PARTITIONS`]; when more remain, `next_cursor` names the first of them.
//! Strata has no eligible leader replicas (KIP-966's ELR): both ELR lists are empty.

use std::collections::BTreeSet;
use std::sync::Arc;

use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strata_auth::acl::AclOperation;
use strata_meta::{MetadataImage, PartitionImage, TopicImage};

use super::authorized_ops;
use crate::auth::authorizer::Access;
use crate::Broker;

/// Most partitions one response carries, whatever the request asks (Kafka's
/// `max.request.partition.size.limit` default).
pub const MAX_PARTITIONS: usize = 2000;

/// Serves DescribeTopicPartitions v0.
pub fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    req: DescribeTopicPartitionsRequest,
) -> DescribeTopicPartitionsResponse {
    let image = broker.meta.image();
    let limit = usize::try_from(req.response_partition_limit)
        .unwrap_or(0)
        .clamp(1, MAX_PARTITIONS);
    let start = req
        .cursor
        .as_ref()
        .map(|c| (c.topic_name.0.to_string(), c.partition_index.max(0)));
    let names = requested_names(&image, access, &req);
    let mut page = Page::new(limit);
    for name in names {
        if let Some((first, _)) = &start {
            if name < *first {
                continue;
            }
        }
        if page.full() {
            // Full at a topic's end: the next page starts with this topic.
            page.next.get_or_insert((name, 0));
            break;
        }
        let from = match &start {
            Some((first, index)) if *first == name => *index,
            _ => 0,
        };
        if !access.topic(AclOperation::Describe, &name) {
            page.topics
                .push(error_topic(&name, ResponseError::TopicAuthorizationFailed));
            continue;
        }
        match image.topic(&name) {
            None => page
                .topics
                .push(error_topic(&name, ResponseError::UnknownTopicOrPartition)),
            Some(t) => page.add_topic(&image, access, t, from),
        }
    }
    DescribeTopicPartitionsResponse::default()
        .with_topics(page.topics)
        .with_next_cursor(page.next.map(|(name, index)| {
            Cursor::default()
                .with_topic_name(TopicName(StrBytes::from_string(name)))
                .with_partition_index(index)
        }))
}

/// The topic names to answer, sorted and without duplicates: the request's, or every
/// topic the caller may describe.
fn requested_names(
    image: &MetadataImage,
    access: &Access,
    req: &DescribeTopicPartitionsRequest,
) -> BTreeSet<String> {
    if req.topics.is_empty() {
        image
            .topics()
            .filter(|t| access.topic(AclOperation::Describe, &t.name))
            .map(|t| t.name.clone())
            .collect()
    } else {
        req.topics.iter().map(|t| t.name.0.to_string()).collect()
    }
}

/// A response being filled up to its partition limit.
struct Page {
    topics: Vec<DescribeTopicPartitionsResponseTopic>,
    left: usize,
    /// Where the next page starts, once this one is full.
    next: Option<(String, i32)>,
}

impl Page {
    fn new(limit: usize) -> Self {
        Page {
            topics: Vec::new(),
            left: limit,
            next: None,
        }
    }

    fn full(&self) -> bool {
        self.left == 0 || self.next.is_some()
    }

    /// Adds `t`'s partitions from index `from`, as many as fit.
    fn add_topic(&mut self, image: &MetadataImage, access: &Access, t: &TopicImage, from: i32) {
        let mut rest = t.partitions.iter().filter(|p| p.partition >= from);
        let partitions: Vec<_> = rest
            .by_ref()
            .take(self.left)
            .map(|p| partition(image, t, p))
            .collect();
        self.left -= partitions.len();
        if let Some(p) = rest.next() {
            self.next = Some((t.name.clone(), p.partition));
        }
        self.topics.push(
            DescribeTopicPartitionsResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(t.name.clone()))))
                .with_topic_id(t.topic_id)
                .with_is_internal(strata_meta::controller::is_internal(&t.name))
                .with_partitions(partitions)
                .with_topic_authorized_operations(authorized_ops::topic(access, &t.name)),
        );
    }
}

fn partition(
    image: &MetadataImage,
    t: &TopicImage,
    p: &PartitionImage,
) -> DescribeTopicPartitionsResponsePartition {
    let ids = |v: &[i32]| v.iter().copied().map(BrokerId).collect::<Vec<_>>();
    // Replicas whose broker is unknown or fenced, or reported them offline.
    let offline = image.offline_replicas(t.topic_id, p);
    DescribeTopicPartitionsResponsePartition::default()
        .with_error_code(if p.leader < 0 {
            ResponseError::LeaderNotAvailable.code()
        } else {
            0
        })
        .with_partition_index(p.partition)
        .with_leader_id(BrokerId(p.leader))
        .with_leader_epoch(p.leader_epoch)
        .with_replica_nodes(ids(&p.replicas))
        .with_isr_nodes(ids(&p.isr))
        .with_eligible_leader_replicas(Some(Vec::new()))
        .with_last_known_elr(Some(Vec::new()))
        .with_offline_replicas(ids(&offline))
}

fn error_topic(name: &str, error: ResponseError) -> DescribeTopicPartitionsResponseTopic {
    DescribeTopicPartitionsResponseTopic::default()
        .with_error_code(error.code())
        .with_name(Some(TopicName(StrBytes::from_string(name.to_string()))))
        .with_topic_authorized_operations(authorized_ops::NOT_REQUESTED)
}
