//! Topic administration: create, describe, delete, list, offsets. Configs: `admin_configs`.

use std::collections::HashMap;
use std::sync::Arc;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use crate::admin_configs::{ConfigEntry, ConfigResource};
use crate::cluster::{topic_error, ClientConfig, Cluster, PartitionMetadata};
use crate::error::{codes, ClientError, Result};
use crate::offsets::{list_offsets, OffsetSpec, TopicPartition};

/// A topic in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicListing {
    /// Name.
    pub name: String,
    /// Topic id.
    pub id: Uuid,
    /// Number of partitions.
    pub partitions: usize,
    /// Internal topic?
    pub internal: bool,
}

/// One partition of a described topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDescription {
    /// Leadership and replica placement.
    pub metadata: PartitionMetadata,
    /// Log start offset.
    pub earliest_offset: i64,
    /// Log end offset (high-water mark).
    pub latest_offset: i64,
}

/// Everything `describe_topic` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    /// Name.
    pub name: String,
    /// Topic id.
    pub id: Uuid,
    /// Internal topic?
    pub internal: bool,
    /// Partitions by index.
    pub partitions: Vec<PartitionDescription>,
    /// Topic configs.
    pub configs: Vec<ConfigEntry>,
}

/// Administrative client.
pub struct Admin {
    cluster: Arc<Cluster>,
}

impl Admin {
    /// The shared connection pool and metadata cache.
    pub(crate) fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// Creates an admin client; connects lazily.
    pub fn new(config: ClientConfig) -> Result<Admin> {
        Ok(Admin {
            cluster: Cluster::new(config)?,
        })
    }

    /// Creates a topic. `partitions`/`replication` of `None` use the broker's defaults.
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: Option<i32>,
        replication: Option<i16>,
        configs: &[(String, String)],
    ) -> Result<()> {
        let conn = self.cluster.controller_connection().await?;
        let version = conn.version_for::<CreateTopicsRequest>(None)?;
        // "Use the broker default" (-1) exists from v4; older brokers need explicit values.
        let default_ok = version >= 4;
        let topic = CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(name.to_string())))
            .with_num_partitions(partitions.unwrap_or(if default_ok { -1 } else { 1 }))
            .with_replication_factor(replication.unwrap_or(if default_ok { -1 } else { 1 }))
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        CreatableTopicConfig::default()
                            .with_name(StrBytes::from_string(k.clone()))
                            .with_value(Some(StrBytes::from_string(v.clone())))
                    })
                    .collect(),
            );
        let timeout = self.cluster.config.request_timeout;
        let req = CreateTopicsRequest::default()
            .with_topics(vec![topic])
            .with_timeout_ms(i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX));
        let resp = conn.request(&req, version, timeout).await?;
        let r = resp
            .topics
            .iter()
            .find(|t| t.name.0.as_str() == name)
            .ok_or_else(|| ClientError::Protocol(format!("no result for topic '{name}'")))?;
        if r.error_code != 0 {
            return Err(admin_error(
                r.error_code,
                r.error_message.as_ref().map(|m| m.as_str()),
                name,
            ));
        }
        self.cluster.invalidate(name);
        Ok(())
    }

    /// Grows `name` to `total` partitions (CreatePartitions; partitions are never removed).
    pub async fn create_partitions(&self, name: &str, total: i32) -> Result<()> {
        let conn = self.cluster.controller_connection().await?;
        let version = conn.version_for::<CreatePartitionsRequest>(None)?;
        let timeout = self.cluster.config.request_timeout;
        let req = CreatePartitionsRequest::default()
            .with_topics(vec![CreatePartitionsTopic::default()
                .with_name(TopicName(StrBytes::from_string(name.to_string())))
                .with_count(total)
                .with_assignments(None)])
            .with_timeout_ms(i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX));
        let resp = conn.request(&req, version, timeout).await?;
        let r = resp
            .results
            .iter()
            .find(|t| t.name.0.as_str() == name)
            .ok_or_else(|| ClientError::Protocol(format!("no result for topic '{name}'")))?;
        if r.error_code != 0 {
            return Err(admin_error(
                r.error_code,
                r.error_message.as_ref().map(|m| m.as_str()),
                name,
            ));
        }
        self.cluster.invalidate(name);
        Ok(())
    }

    /// Deletes a topic.
    pub async fn delete_topic(&self, name: &str) -> Result<()> {
        let conn = self.cluster.controller_connection().await?;
        let version = conn.version_for::<DeleteTopicsRequest>(None)?;
        let timeout = self.cluster.config.request_timeout;
        let mut req = DeleteTopicsRequest::default()
            .with_timeout_ms(i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX));
        let topic_name = TopicName(StrBytes::from_string(name.to_string()));
        if version >= 6 {
            req.topics = vec![DeleteTopicState::default().with_name(Some(topic_name))];
        } else {
            req.topic_names = vec![topic_name];
        }
        let resp = conn.request(&req, version, timeout).await?;
        let r = resp
            .responses
            .iter()
            .find(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(name))
            .ok_or_else(|| ClientError::Protocol(format!("no result for topic '{name}'")))?;
        if r.error_code != 0 {
            return Err(admin_error(
                r.error_code,
                r.error_message.as_ref().map(|m| m.as_str()),
                name,
            ));
        }
        self.cluster.invalidate(name);
        Ok(())
    }

    /// Lists all topics, sorted by name.
    pub async fn list_topics(&self) -> Result<Vec<TopicListing>> {
        let resp = self.cluster.fetch_metadata(None).await?;
        let mut out: Vec<TopicListing> = resp
            .topics
            .iter()
            .filter(|t| t.error_code == 0)
            .filter_map(|t| {
                Some(TopicListing {
                    name: t.name.as_ref()?.0.as_str().to_string(),
                    id: t.topic_id,
                    partitions: t.partitions.len(),
                    internal: t.is_internal,
                })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Partitions with leader/replicas/ISR, earliest and latest offsets, and configs.
    pub async fn describe_topic(&self, name: &str) -> Result<TopicDescription> {
        self.cluster.invalidate(name);
        let meta = self.cluster.topic(name).await?;
        let tps: Vec<TopicPartition> = meta
            .partitions
            .iter()
            .map(|p| (name.to_string(), p.partition))
            .collect();
        let earliest = list_offsets(&self.cluster, &tps, OffsetSpec::Earliest).await?;
        let latest = list_offsets(&self.cluster, &tps, OffsetSpec::Latest).await?;
        let configs = self
            .describe_configs(&ConfigResource::Topic(name.to_string()))
            .await?;
        let partitions = meta
            .partitions
            .iter()
            .map(|p| {
                let tp = (name.to_string(), p.partition);
                PartitionDescription {
                    metadata: p.clone(),
                    earliest_offset: earliest.get(&tp).copied().unwrap_or(-1),
                    latest_offset: latest.get(&tp).copied().unwrap_or(-1),
                }
            })
            .collect();
        Ok(TopicDescription {
            name: meta.name.clone(),
            id: meta.id,
            internal: meta.internal,
            partitions,
            configs,
        })
    }

    /// Offsets for the given partitions.
    pub async fn list_offsets(
        &self,
        partitions: &[TopicPartition],
        spec: OffsetSpec,
    ) -> Result<HashMap<TopicPartition, i64>> {
        list_offsets(&self.cluster, partitions, spec).await
    }
}

/// An error about a named topic; our wording for the common codes, the broker's otherwise.
fn admin_error(code: i16, broker_message: Option<&str>, topic: &str) -> ClientError {
    match code {
        codes::TOPIC_ALREADY_EXISTS
        | codes::UNKNOWN_TOPIC_OR_PARTITION
        | codes::UNKNOWN_TOPIC_ID => topic_error(code, topic),
        _ => ClientError::from_code(
            code,
            broker_message
                .map(|m| format!("topic '{topic}': {m}"))
                .as_deref(),
            &format!(
                "topic '{topic}': {}",
                crate::error::error_code_name(code)
                    .to_lowercase()
                    .replace('_', " ")
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_errors_read_well() {
        assert_eq!(
            admin_error(36, Some("Topic 'x' already exists."), "x").to_string(),
            "topic 'x' already exists (TOPIC_ALREADY_EXISTS)"
        );
        assert_eq!(
            admin_error(37, Some("partitions must be positive"), "x").to_string(),
            "topic 'x': partitions must be positive (INVALID_PARTITIONS)"
        );
        assert_eq!(
            admin_error(38, None, "x").to_string(),
            "topic 'x': invalid replication factor (INVALID_REPLICATION_FACTOR)"
        );
    }
}
