//! Partition reassignment (KIP-455): AlterPartitionReassignments and
//! ListPartitionReassignments, sent to the controller.

use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, BrokerId, ListPartitionReassignmentsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::admin::Admin;
use crate::error::{ClientError, Result};

/// One partition's move: its target replicas, or `None` to cancel a pending move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMove {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Target replicas (first = preferred leader), or `None` to cancel.
    pub replicas: Option<Vec<i32>>,
}

/// A pending reassignment as the controller lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OngoingReassignment {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Current replicas (target, then those leaving).
    pub replicas: Vec<i32>,
    /// Replicas being added.
    pub adding: Vec<i32>,
    /// Replicas being removed.
    pub removing: Vec<i32>,
}

/// The request for `moves`, grouped by topic in first-seen order.
fn alter_request(moves: &[PartitionMove]) -> AlterPartitionReassignmentsRequest {
    let mut topics: Vec<ReassignableTopic> = Vec::new();
    for m in moves {
        let partition = ReassignablePartition::default()
            .with_partition_index(m.partition)
            .with_replicas(
                m.replicas
                    .as_ref()
                    .map(|r| r.iter().copied().map(BrokerId).collect()),
            );
        match topics.iter_mut().find(|t| t.name.0.as_str() == m.topic) {
            Some(t) => t.partitions.push(partition),
            None => topics.push(
                ReassignableTopic::default()
                    .with_name(TopicName(StrBytes::from_string(m.topic.clone())))
                    .with_partitions(vec![partition]),
            ),
        }
    }
    AlterPartitionReassignmentsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(topics)
}

impl Admin {
    /// Starts, changes or cancels partition moves; one result per move, in order.
    pub async fn alter_partition_reassignments(
        &self,
        moves: &[PartitionMove],
    ) -> Result<Vec<Result<()>>> {
        let cluster = self.cluster();
        let conn = cluster.controller_connection().await?;
        let version = conn.version_for::<AlterPartitionReassignmentsRequest>(None)?;
        let resp = conn
            .request(
                &alter_request(moves),
                version,
                cluster.config.request_timeout,
            )
            .await?;
        ClientError::check(
            resp.error_code,
            resp.error_message.as_ref(),
            "altering partition reassignments",
        )?;
        Ok(moves
            .iter()
            .map(|m| {
                let answer = resp
                    .responses
                    .iter()
                    .filter(|t| t.name.0.as_str() == m.topic)
                    .flat_map(|t| &t.partitions)
                    .find(|p| p.partition_index == m.partition);
                match answer {
                    Some(p) if p.error_code == 0 => Ok(()),
                    Some(p) => Err(ClientError::from_code(
                        p.error_code,
                        p.error_message.as_ref().map(|m| m.as_str()),
                        &format!("reassigning {}-{}", m.topic, m.partition),
                    )),
                    None => Err(ClientError::Protocol(format!(
                        "no answer for {}-{}",
                        m.topic, m.partition
                    ))),
                }
            })
            .collect())
    }

    /// Every pending reassignment, sorted by topic and partition.
    pub async fn list_partition_reassignments(&self) -> Result<Vec<OngoingReassignment>> {
        let cluster = self.cluster();
        let conn = cluster.controller_connection().await?;
        let version = conn.version_for::<ListPartitionReassignmentsRequest>(None)?;
        let req = ListPartitionReassignmentsRequest::default()
            .with_timeout_ms(30_000)
            .with_topics(None);
        let resp = conn
            .request(&req, version, cluster.config.request_timeout)
            .await?;
        ClientError::check(
            resp.error_code,
            resp.error_message.as_ref(),
            "listing partition reassignments",
        )?;
        let ids = |v: &[BrokerId]| v.iter().map(|b| b.0).collect::<Vec<_>>();
        let mut out: Vec<OngoingReassignment> = resp
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| OngoingReassignment {
                    topic: t.name.0.as_str().to_string(),
                    partition: p.partition_index,
                    replicas: ids(&p.replicas),
                    adding: ids(&p.adding_replicas),
                    removing: ids(&p.removing_replicas),
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_are_grouped_by_topic_and_cancel_is_null() {
        let moves = vec![
            PartitionMove {
                topic: "a".into(),
                partition: 0,
                replicas: Some(vec![2, 3]),
            },
            PartitionMove {
                topic: "b".into(),
                partition: 1,
                replicas: None,
            },
            PartitionMove {
                topic: "a".into(),
                partition: 1,
                replicas: Some(vec![3]),
            },
        ];
        let req = alter_request(&moves);
        assert_eq!(req.topics.len(), 2);
        assert_eq!(req.topics[0].partitions.len(), 2);
        assert_eq!(req.topics[1].partitions[0].replicas, None);
    }
}
