//! Leader elections (ElectLeaders, sent to the controller) and the metadata quorum
//! (DescribeQuorum).

use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::{
    describe_quorum_request, DescribeQuorumRequest, ElectLeadersRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::admin::Admin;
use crate::error::{ClientError, Result};

/// Kafka's election types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionKind {
    /// Move leadership to the preferred (first) replica.
    Preferred,
    /// Elect any live replica of a leaderless partition, even outside the ISR.
    Unclean,
}

/// One partition's election as the controller reported it.
#[derive(Debug)]
pub struct ElectionResult {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// `Ok` when the leader was elected.
    pub result: Result<()>,
}

/// One replica of the metadata log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumReplica {
    /// Node id.
    pub id: i32,
    /// Log end offset, -1 if unknown.
    pub log_end_offset: i64,
    /// Last fetch (ms since the epoch), -1 if unknown.
    pub last_fetch_timestamp: i64,
    /// Last time it had the leader's whole log, -1 if unknown.
    pub last_caught_up_timestamp: i64,
}

/// The metadata quorum (`__cluster_metadata`-0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumInfo {
    /// Leader node id.
    pub leader: i32,
    /// Leader epoch (Raft term).
    pub leader_epoch: i32,
    /// High watermark (committed log end offset).
    pub high_watermark: i64,
    /// Voters.
    pub voters: Vec<QuorumReplica>,
    /// Observers (non-voting members).
    pub observers: Vec<QuorumReplica>,
}

/// The request for `partitions` (`None`: every partition), grouped by topic.
fn elect_request(kind: ElectionKind, partitions: Option<&[(String, i32)]>) -> ElectLeadersRequest {
    let topics = partitions.map(|parts| {
        let mut topics: Vec<TopicPartitions> = Vec::new();
        for (topic, p) in parts {
            match topics.iter_mut().find(|t| t.topic.0.as_str() == topic) {
                Some(t) => t.partitions.push(*p),
                None => topics.push(
                    TopicPartitions::default()
                        .with_topic(TopicName(StrBytes::from_string(topic.clone())))
                        .with_partitions(vec![*p]),
                ),
            }
        }
        topics
    });
    ElectLeadersRequest::default()
        .with_election_type(match kind {
            ElectionKind::Preferred => 0,
            ElectionKind::Unclean => 1,
        })
        .with_topic_partitions(topics)
        .with_timeout_ms(30_000)
}

impl Admin {
    /// Runs elections of `kind` for `partitions` (`None`: every partition; then only
    /// the partitions where something happened or failed are reported).
    pub async fn elect_leaders(
        &self,
        kind: ElectionKind,
        partitions: Option<&[(String, i32)]>,
    ) -> Result<Vec<ElectionResult>> {
        let cluster = self.cluster();
        let conn = cluster.controller_connection().await?;
        // v0 knows only preferred elections.
        let version = conn.version_for::<ElectLeadersRequest>(None)?;
        if version == 0 && kind == ElectionKind::Unclean {
            return Err(ClientError::Protocol(
                "the broker does not support unclean elections (ElectLeaders v0)".into(),
            ));
        }
        let req = elect_request(kind, partitions);
        let resp = conn
            .request(&req, version, cluster.config.request_timeout)
            .await?;
        if resp.error_code != 0 {
            return Err(ClientError::from_code(
                resp.error_code,
                None,
                "electing leaders",
            ));
        }
        let mut out: Vec<ElectionResult> = Vec::new();
        for t in &resp.replica_election_results {
            for p in &t.partition_result {
                let topic = t.topic.0.as_str().to_string();
                let result = if p.error_code == 0 {
                    Ok(())
                } else {
                    Err(ClientError::from_code(
                        p.error_code,
                        p.error_message.as_ref().map(|m| m.as_str()),
                        &format!("electing a leader for {topic}-{}", p.partition_id),
                    ))
                };
                out.push(ElectionResult {
                    topic,
                    partition: p.partition_id,
                    result,
                });
            }
        }
        Ok(out)
    }

    /// Describes the metadata quorum.
    pub async fn describe_quorum(&self) -> Result<QuorumInfo> {
        let cluster = self.cluster();
        let conn = cluster.any_connection().await?;
        let version = conn.version_for::<DescribeQuorumRequest>(None)?;
        let req = DescribeQuorumRequest::default().with_topics(vec![
            describe_quorum_request::TopicData::default()
                .with_topic_name(TopicName(StrBytes::from_static_str("__cluster_metadata")))
                .with_partitions(vec![
                    describe_quorum_request::PartitionData::default().with_partition_index(0)
                ]),
        ]);
        let resp = conn
            .request(&req, version, cluster.config.request_timeout)
            .await?;
        ClientError::check(
            resp.error_code,
            resp.error_message.as_ref(),
            "describing the metadata quorum",
        )?;
        let Some(p) = resp.topics.first().and_then(|t| t.partitions.first()) else {
            return Err(ClientError::Protocol(
                "DescribeQuorum answered without a partition".into(),
            ));
        };
        if p.error_code != 0 {
            return Err(ClientError::from_code(
                p.error_code,
                p.error_message.as_ref().map(|m| m.as_str()),
                "describing the metadata quorum",
            ));
        }
        let replicas =
            |v: &[kafka_protocol::messages::describe_quorum_response::ReplicaState]| {
                v.iter()
                    .map(|r| QuorumReplica {
                        id: r.replica_id.0,
                        log_end_offset: r.log_end_offset,
                        last_fetch_timestamp: r.last_fetch_timestamp,
                        last_caught_up_timestamp: r.last_caught_up_timestamp,
                    })
                    .collect()
            };
        Ok(QuorumInfo {
            leader: p.leader_id.0,
            leader_epoch: p.leader_epoch,
            high_watermark: p.high_watermark,
            voters: replicas(&p.current_voters),
            observers: replicas(&p.observers),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_grouped_by_topic_and_none_means_all() {
        let parts = vec![
            ("a".to_string(), 0),
            ("b".to_string(), 2),
            ("a".to_string(), 1),
        ];
        let req = elect_request(ElectionKind::Unclean, Some(&parts));
        assert_eq!(req.election_type, 1);
        let topics = req.topic_partitions.expect("named");
        assert_eq!(topics.len(), 2);
        assert_eq!(topics[0].partitions, vec![0, 1]);
        let all = elect_request(ElectionKind::Preferred, None);
        assert_eq!((all.election_type, all.topic_partitions), (0, None));
    }
}
