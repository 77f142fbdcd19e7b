//! DescribeQuorum v0–v2: the metadata quorum (the openraft log, Kafka's
//! `__cluster_metadata`-0): leader, term, high watermark, voters and observers with their
//! replication progress; from v2 each node's controller endpoint.
//!
//! Any broker answers: the progress is known on the Raft leader only, so the request is
//! forwarded there like the controller's other requests (a Kafka broker forwards it to
//! the active controller too). NOT_LEADER_OR_FOLLOWER when no leader answers. Needs
//! DESCRIBE on the cluster.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::describe_quorum_response::{
    Listener, Node, PartitionData, ReplicaState, TopicData,
};
use kafka_protocol::messages::{
    BrokerId, DescribeQuorumRequest, DescribeQuorumResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strata_auth::acl::AclOperation;
use strata_raft::{QuorumView, ReplicaProgress};

use crate::auth::authorizer::Access;
use crate::controller::{ControllerRequest, ControllerResponse};
use crate::Broker;

/// The name Kafka gives the metadata log.
pub const METADATA_TOPIC: &str = "__cluster_metadata";

/// How long the Raft leader has to answer.
const LEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves DescribeQuorum v0–v2.
pub async fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    version: i16,
    req: DescribeQuorumRequest,
) -> DescribeQuorumResponse {
    fit_version(answer(broker, access, req).await, version)
}

/// Drops what `version` cannot carry: node endpoints before v2, fetch and caught-up
/// times before v1 (the encoder refuses set fields a version lacks).
fn fit_version(mut resp: DescribeQuorumResponse, version: i16) -> DescribeQuorumResponse {
    if version < 2 {
        resp.nodes.clear();
    }
    if version < 1 {
        for p in resp.topics.iter_mut().flat_map(|t| t.partitions.iter_mut()) {
            for r in p.current_voters.iter_mut().chain(p.observers.iter_mut()) {
                r.last_fetch_timestamp = -1;
                r.last_caught_up_timestamp = -1;
            }
        }
    }
    resp
}

async fn answer(
    broker: &Arc<Broker>,
    access: &Access,
    req: DescribeQuorumRequest,
) -> DescribeQuorumResponse {
    if !access.cluster(AclOperation::Describe) {
        return top_level(ResponseError::ClusterAuthorizationFailed);
    }
    if !asks_for_the_metadata_log(&req) {
        return top_level(ResponseError::UnknownTopicOrPartition);
    }
    let answer = broker
        .meta
        .request_within(&ControllerRequest::DescribeQuorum, LEADER_TIMEOUT)
        .await;
    match answer {
        Ok(ControllerResponse::Quorum { view }) => described(&view),
        _ => partition_error(ResponseError::NotLeaderOrFollower),
    }
}

/// Whether the request names exactly `__cluster_metadata` partition 0, as Kafka requires.
fn asks_for_the_metadata_log(req: &DescribeQuorumRequest) -> bool {
    match req.topics.as_slice() {
        [t] => {
            t.topic_name.0.as_str() == METADATA_TOPIC
                && matches!(t.partitions.as_slice(), [p] if p.partition_index == 0)
        }
        _ => false,
    }
}

fn top_level(error: ResponseError) -> DescribeQuorumResponse {
    DescribeQuorumResponse::default()
        .with_error_code(error.code())
        .with_error_message(Some(StrBytes::from_string(error.to_string())))
}

fn topic(partition: PartitionData) -> TopicData {
    TopicData::default()
        .with_topic_name(TopicName(StrBytes::from_static_str(METADATA_TOPIC)))
        .with_partitions(vec![partition])
}

fn partition_error(error: ResponseError) -> DescribeQuorumResponse {
    let partition = PartitionData::default()
        .with_partition_index(0)
        .with_error_code(error.code())
        .with_error_message(Some(StrBytes::from_string(error.to_string())))
        .with_leader_id(BrokerId(-1))
        .with_leader_epoch(-1)
        .with_high_watermark(-1);
    DescribeQuorumResponse::default().with_topics(vec![topic(partition)])
}

fn id(node: u64) -> BrokerId {
    BrokerId(i32::try_from(node).unwrap_or(-1))
}

fn replica(r: &ReplicaProgress) -> ReplicaState {
    ReplicaState::default()
        .with_replica_id(id(r.id))
        .with_log_end_offset(r.log_end_offset)
        .with_last_fetch_timestamp(r.last_fetch_ms)
        .with_last_caught_up_timestamp(r.last_caught_up_ms)
}

/// The response for the leader's view; fields a version lacks are not written.
fn described(view: &QuorumView) -> DescribeQuorumResponse {
    let partition = PartitionData::default()
        .with_partition_index(0)
        .with_leader_id(id(view.leader))
        .with_leader_epoch(i32::try_from(view.term).unwrap_or(i32::MAX))
        .with_high_watermark(view.high_watermark)
        .with_current_voters(view.voters.iter().map(replica).collect())
        .with_observers(view.observers.iter().map(replica).collect());
    let nodes = view
        .nodes
        .iter()
        .map(|(node, addr)| {
            let listener = addr.rsplit_once(':').and_then(|(host, port)| {
                Some(
                    Listener::default()
                        .with_name(StrBytes::from_static_str("CONTROLLER"))
                        .with_host(StrBytes::from_string(host.to_string()))
                        .with_port(port.parse().ok()?),
                )
            });
            Node::default()
                .with_node_id(id(*node))
                .with_listeners(listener.into_iter().collect())
        })
        .collect();
    DescribeQuorumResponse::default()
        .with_topics(vec![topic(partition)])
        .with_nodes(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::describe_quorum_request;

    fn request(topic: &str, partitions: &[i32]) -> DescribeQuorumRequest {
        let parts = partitions
            .iter()
            .map(|&p| describe_quorum_request::PartitionData::default().with_partition_index(p))
            .collect();
        DescribeQuorumRequest::default().with_topics(vec![
            describe_quorum_request::TopicData::default()
                .with_topic_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(parts),
        ])
    }

    #[test]
    fn only_the_metadata_log_partition_zero_is_described() {
        assert!(asks_for_the_metadata_log(&request(METADATA_TOPIC, &[0])));
        assert!(!asks_for_the_metadata_log(&request(METADATA_TOPIC, &[1])));
        assert!(!asks_for_the_metadata_log(&request(
            METADATA_TOPIC,
            &[0, 0]
        )));
        assert!(!asks_for_the_metadata_log(&request("other", &[0])));
        assert!(!asks_for_the_metadata_log(&DescribeQuorumRequest::default()));
    }

    #[test]
    fn the_leaders_view_becomes_the_response() {
        let progress = |id, end| ReplicaProgress {
            id,
            log_end_offset: end,
            last_fetch_ms: -1,
            last_caught_up_ms: -1,
        };
        let view = QuorumView {
            leader: 2,
            term: 7,
            high_watermark: 40,
            voters: vec![progress(1, 40), progress(2, 41), progress(3, -1)],
            observers: vec![progress(4, 12)],
            nodes: vec![(1, "127.0.0.1:9093".into()), (2, "bad".into())],
        };
        let resp = described(&view);
        let p = &resp.topics[0].partitions[0];
        assert_eq!(
            (p.leader_id.0, p.leader_epoch, p.high_watermark),
            (2, 7, 40)
        );
        assert_eq!(p.current_voters.len(), 3);
        assert_eq!(p.observers[0].log_end_offset, 12);
        assert_eq!(resp.nodes[0].listeners[0].port, 9093);
        assert!(
            resp.nodes[1].listeners.is_empty(),
            "an address without a port"
        );
    }
}
