//! Group views for the admin REST API: state, members and lag per partition.

use serde::Serialize;

use strata_group::GroupError;

use crate::Broker;

/// One group in a listing.
#[derive(Debug, Serialize)]
pub struct GroupSummary {
    /// Group id.
    pub group: String,
    /// Kafka's state name (`Stable`, `Empty`, ...).
    pub state: &'static str,
    /// Protocol type (`consumer` for Kafka consumers).
    pub protocol_type: String,
}

/// One member of a group.
#[derive(Debug, Serialize)]
pub struct MemberReport {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
}

/// Lag of one partition.
#[derive(Debug, Serialize)]
pub struct PartitionLag {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Committed offset.
    pub committed: i64,
    /// Log end offset (high-water mark) of this broker's replica; -1 if it hosts none.
    pub log_end: i64,
    /// `log_end - committed`, never negative; -1 when unknown (no replica here).
    pub lag: i64,
}

/// A group with its members and lag.
#[derive(Debug, Serialize)]
pub struct GroupReport {
    /// Group id.
    pub group: String,
    /// Kafka's state name.
    pub state: &'static str,
    /// Protocol type.
    pub protocol_type: String,
    /// Selected assignment protocol (when stable).
    pub protocol: String,
    /// Members.
    pub members: Vec<MemberReport>,
    /// Committed offsets and lag, sorted by topic and partition.
    pub partitions: Vec<PartitionLag>,
    /// Sum of the known `lag`s over the partitions.
    pub total_lag: i64,
}

impl Broker {
    /// Every group this broker coordinates.
    pub fn group_summaries(&self) -> Vec<GroupSummary> {
        self.groups
            .list(self)
            .1
            .into_iter()
            .map(|(group, state, protocol_type)| GroupSummary {
                group,
                state,
                protocol_type,
            })
            .collect()
    }

    /// One group's members and lag, `None` if unknown; an error if this broker does not
    /// coordinate it now (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, ...).
    pub fn group_report(&self, group_id: &str) -> Result<Option<GroupReport>, GroupError> {
        let Some(d) = self.groups.describe(self, group_id)? else {
            return Ok(None);
        };
        let mut partitions: Vec<PartitionLag> = self
            .groups
            .fetch(self, group_id)
            .unwrap_or_default()
            .into_iter()
            .map(|((topic, partition), v)| {
                let log_end = self
                    .replicas
                    .get(&topic, partition)
                    .map_or(-1, |p| p.high_watermark());
                PartitionLag {
                    lag: if log_end < 0 {
                        -1
                    } else {
                        (log_end - v.offset).max(0)
                    },
                    topic,
                    partition,
                    committed: v.offset,
                    log_end,
                }
            })
            .collect();
        partitions.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        Ok(Some(GroupReport {
            group: d.group_id,
            state: d.state,
            protocol_type: d.protocol_type,
            protocol: d.protocol,
            members: d
                .members
                .into_iter()
                .map(|m| MemberReport {
                    member_id: m.member_id,
                    group_instance_id: m.group_instance_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                })
                .collect(),
            total_lag: partitions.iter().map(|p| p.lag.max(0)).sum(),
            partitions,
        }))
    }

    /// The broker that coordinates `group_id` now, as the metadata image names it
    /// (leader of its `__consumer_offsets` partition): (node id, host, port) on
    /// `listener`.
    pub fn group_coordinator(&self, group_id: &str, listener: &str) -> Option<(i32, String, i32)> {
        let image = self.meta.image();
        let topic = image.topic(crate::topics::OFFSETS_TOPIC)?;
        let partition = strata_group::partition_for(group_id, topic.partitions.len() as i32);
        let leader = topic.partition(partition)?.leader;
        let node = image.broker(leader)?;
        let (host, port) = node.endpoint(listener)?;
        Some((node.node_id, host.to_string(), port))
    }
}
