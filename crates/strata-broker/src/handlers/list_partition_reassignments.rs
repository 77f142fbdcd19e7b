//! ListPartitionReassignments (KIP-455): the pending moves, from the metadata image.

use std::sync::Arc;

use kafka_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use kafka_protocol::messages::{
    BrokerId, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strata_auth::acl::AclOperation;
use strata_meta::TopicImage;

use crate::auth::authorizer::Access;
use crate::Broker;

/// Serves ListPartitionReassignments v0. Unknown topics and partitions, and partitions
/// not moving, are left out of the answer (as Kafka does).
pub fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    req: ListPartitionReassignmentsRequest,
) -> ListPartitionReassignmentsResponse {
    let resp = ListPartitionReassignmentsResponse::default();
    if !access.cluster(AclOperation::Describe) {
        return resp
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code())
            .with_error_message(Some(StrBytes::from_static_str(
                "not authorized to describe the cluster",
            )));
    }
    let image = broker.meta.image();
    let topics = match req.topics {
        None => image
            .topics()
            .filter(|t| !t.reassignments.is_empty())
            .filter_map(|t| ongoing(t, None))
            .collect(),
        Some(wanted) => wanted
            .iter()
            .filter_map(|w| {
                let t = image.topic(&w.name.0)?;
                ongoing(t, Some(&w.partition_indexes))
            })
            .collect(),
    };
    resp.with_topics(topics)
}

/// The topic's pending moves (of `only` these partitions, if given), or `None`.
fn ongoing(t: &TopicImage, only: Option<&[i32]>) -> Option<OngoingTopicReassignment> {
    let ids = |v: &[i32]| v.iter().copied().map(BrokerId).collect::<Vec<_>>();
    let partitions: Vec<OngoingPartitionReassignment> = t
        .reassignments
        .iter()
        .filter(|(p, _)| only.is_none_or(|o| o.contains(*p)))
        .filter_map(|(&p, r)| {
            let image = t.partition(p)?;
            Some(
                OngoingPartitionReassignment::default()
                    .with_partition_index(p)
                    .with_replicas(ids(&image.replicas))
                    .with_adding_replicas(ids(&r.adding))
                    .with_removing_replicas(ids(&r.removing)),
            )
        })
        .collect();
    (!partitions.is_empty()).then(|| {
        OngoingTopicReassignment::default()
            .with_name(TopicName(StrBytes::from_string(t.name.clone())))
            .with_partitions(partitions)
    })
}
