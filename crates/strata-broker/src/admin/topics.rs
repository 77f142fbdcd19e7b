//! Topics: list with search and paging, describe with offsets, create, delete, configs.
//! Changes go through the controller exactly as CreateTopics, DeleteTopics and
//! IncrementalAlterConfigs do, with the same ACLs.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use strata_auth::acl::AclOperation;
use strata_meta::controller::{self, AlterConfigOp, ConfigOpKind, CreateTopicRequest};
use strata_meta::{topic_config, MetadataImage, TopicImage};

use super::{matches, AdminError, Caller};
use crate::config::broker_key_for;
use crate::Broker;

/// Most config changes one call may make.
pub const MAX_CONFIG_CHANGES: usize = 100;

/// One topic in a listing.
#[derive(Debug, Serialize)]
pub struct TopicSummary {
    /// Name.
    pub name: String,
    /// Partitions.
    pub partitions: usize,
    /// Replicas of the first partition.
    pub replication_factor: usize,
    /// Partitions with fewer in-sync replicas than replicas.
    pub under_replicated: usize,
    /// Partitions without a leader.
    pub offline: usize,
    /// An internal topic (`__consumer_offsets`, `_schemas`, ...).
    pub internal: bool,
}

/// A page of topics.
#[derive(Debug, Serialize)]
pub struct TopicPage {
    /// Topics matching the search (all pages).
    pub total: usize,
    /// First index of this page.
    pub offset: usize,
    /// Page size asked for.
    pub limit: usize,
    /// This page, by name.
    pub topics: Vec<TopicSummary>,
}

/// One partition of a topic.
#[derive(Debug, Serialize)]
pub struct PartitionView {
    /// Index.
    pub partition: i32,
    /// Leader, -1 when offline.
    pub leader: i32,
    /// Leader epoch.
    pub leader_epoch: i32,
    /// Replicas.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// `leader` or `follower` when this broker holds a replica, else `None`.
    pub local: Option<&'static str>,
    /// Log start offset of the local replica.
    pub log_start: Option<i64>,
    /// High-water mark of the local replica.
    pub high_watermark: Option<i64>,
    /// Log end offset of the local replica.
    pub log_end: Option<i64>,
    /// Bytes on this broker's disk.
    pub size_bytes: Option<u64>,
}

/// A topic with a page of its partitions.
#[derive(Debug, Serialize)]
pub struct TopicView {
    /// Name.
    pub name: String,
    /// Topic id.
    pub topic_id: String,
    /// Internal topic.
    pub internal: bool,
    /// Partitions in all.
    pub partition_count: usize,
    /// Replication factor (of the first partition).
    pub replication_factor: usize,
    /// Configs set on the topic itself.
    pub overrides: BTreeMap<String, String>,
    /// First partition index of this page.
    pub offset: usize,
    /// Page size asked for.
    pub limit: usize,
    /// This page of partitions.
    pub partitions: Vec<PartitionView>,
}

/// A topic to create.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTopic {
    /// Name.
    pub name: String,
    /// Partitions (`num.partitions` when absent).
    pub partitions: Option<i32>,
    /// Replication factor (`default.replication.factor` when absent).
    pub replication_factor: Option<i16>,
    /// Topic configs.
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
}

/// A created topic.
#[derive(Debug, Serialize)]
pub struct Created {
    /// Name.
    pub name: String,
    /// Partitions.
    pub partitions: usize,
    /// Replication factor.
    pub replication_factor: usize,
}

/// One config of a topic, resolved as DescribeConfigs resolves it.
#[derive(Debug, Serialize)]
pub struct ConfigEntry {
    /// Name.
    pub name: &'static str,
    /// Effective value.
    pub value: String,
    /// Where it comes from: `topic`, `dynamic_broker`, `dynamic_default`,
    /// `static_broker` or `default`.
    pub source: &'static str,
    /// Whether the value is the built-in default.
    pub is_default: bool,
    /// Secret values are never shown (no topic config is one today).
    pub sensitive: bool,
    /// Value type.
    pub config_type: String,
    /// One-line documentation.
    pub doc: &'static str,
}

/// Changes to a topic's configs, as IncrementalAlterConfigs SET / DELETE.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigChanges {
    /// Keys to set.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Keys to remove (back to the broker's value).
    #[serde(default)]
    pub delete: Vec<String>,
}

fn internal(name: &str) -> bool {
    name.starts_with("__") || name == crate::registry::SCHEMAS_TOPIC
}

fn summary(t: &TopicImage) -> TopicSummary {
    TopicSummary {
        name: t.name.clone(),
        partitions: t.partitions.len(),
        replication_factor: t.partitions.first().map_or(0, |p| p.replicas.len()),
        under_replicated: t
            .partitions
            .iter()
            .filter(|p| p.isr.len() < p.replicas.len())
            .count(),
        offline: t.partitions.iter().filter(|p| p.leader < 0).count(),
        internal: internal(&t.name),
    }
}

impl Broker {
    fn described_topic(
        &self,
        caller: &Caller,
        image: &MetadataImage,
        name: &str,
        op: AclOperation,
    ) -> Result<Arc<TopicImage>, AdminError> {
        if !self.admin_access(caller).topic(op, name) {
            return Err(AdminError::Forbidden(format!(
                "not authorized to {} topic '{name}'",
                op.kafka_name()
            )));
        }
        image
            .topic(name)
            .cloned()
            .ok_or_else(|| AdminError::NotFound(format!("topic '{name}' does not exist")))
    }

    /// Topics whose name contains `search` (any case) that the caller may describe (as
    /// Metadata filters them), by name, `limit` of them from `offset`.
    pub fn admin_topics(
        &self,
        caller: &Caller,
        search: &str,
        offset: usize,
        limit: usize,
    ) -> TopicPage {
        let image = self.meta.image();
        let access = self.admin_access(caller);
        let needle = search.to_lowercase();
        let mut total = 0;
        let mut topics = Vec::new();
        for t in image.topics() {
            if !matches(&t.name, &needle) || !access.topic(AclOperation::Describe, &t.name) {
                continue;
            }
            if total >= offset && topics.len() < limit {
                topics.push(summary(t));
            }
            total += 1;
        }
        TopicPage {
            total,
            offset,
            limit,
            topics,
        }
    }

    /// One topic with `limit` of its partitions from index `offset`, with the offsets
    /// and size of the replicas this broker holds.
    pub fn admin_topic(
        &self,
        caller: &Caller,
        name: &str,
        offset: usize,
        limit: usize,
    ) -> Result<TopicView, AdminError> {
        let image = self.meta.image();
        let t = self.described_topic(caller, &image, name, AclOperation::Describe)?;
        let partitions = t
            .partitions
            .iter()
            .skip(offset)
            .take(limit)
            .map(|p| {
                let local = self.replicas.get(name, p.partition);
                PartitionView {
                    partition: p.partition,
                    leader: p.leader,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replicas.clone(),
                    isr: p.isr.clone(),
                    local: local.as_ref().map(|_| {
                        if p.leader == self.config.node_id {
                            "leader"
                        } else {
                            "follower"
                        }
                    }),
                    log_start: local.as_ref().map(|r| r.log_start_offset()),
                    high_watermark: local.as_ref().map(|r| r.high_watermark()),
                    log_end: local.as_ref().map(|r| r.log_end_offset()),
                    size_bytes: local.as_ref().map(|r| r.size_bytes()),
                }
            })
            .collect();
        Ok(TopicView {
            name: t.name.clone(),
            topic_id: t.topic_id.to_string(),
            internal: internal(&t.name),
            partition_count: t.partitions.len(),
            replication_factor: t.partitions.first().map_or(0, |p| p.replicas.len()),
            overrides: t.configs.clone(),
            offset,
            limit,
            partitions,
        })
    }

    /// Creates a topic (CreateTopics: CREATE on the cluster or the topic).
    pub async fn admin_create_topic(
        self: &Arc<Self>,
        caller: &Caller,
        req: NewTopic,
    ) -> Result<Created, AdminError> {
        if let Err(e) = controller::validate_topic_name(&req.name) {
            return Err(AdminError::BadRequest(e.to_string()));
        }
        if !self.admin_access(caller).may_create_topic(&req.name) {
            return Err(AdminError::Forbidden(format!(
                "not authorized to create topic '{}'",
                req.name
            )));
        }
        let mut create = CreateTopicRequest::new(req.name.clone());
        create.num_partitions = req.partitions.unwrap_or(-1);
        create.replication_factor = req.replication_factor.unwrap_or(-1);
        create.configs = req.configs.into_iter().map(|(k, v)| (k, Some(v))).collect();
        let result = self
            .create_topics(vec![create], false)
            .await
            .into_iter()
            .next()
            .unwrap_or_else(|| Err(strata_meta::TopicError::Internal("no result".into())))?;
        let mut partitions = 0;
        let mut replication_factor = 0;
        for r in &result {
            if let strata_meta::MetadataRecord::CreatePartition { replicas, .. } = r {
                partitions += 1;
                replication_factor = replicas.len();
            }
        }
        Ok(Created {
            name: req.name,
            partitions,
            replication_factor,
        })
    }

    /// Deletes a topic (DeleteTopics: DELETE on the topic).
    pub async fn admin_delete_topic(
        self: &Arc<Self>,
        caller: &Caller,
        name: &str,
    ) -> Result<(), AdminError> {
        if !self.admin_access(caller).topic(AclOperation::Delete, name) {
            return Err(AdminError::Forbidden(format!(
                "not authorized to delete topic '{name}'"
            )));
        }
        let names = [name.to_string()];
        self.decide_and_commit(|image, _| {
            controller::delete_topics(image, &names)
                .into_iter()
                .next()
                .unwrap_or_else(|| Ok(Vec::new()))
        })
        .await
        .map_err(AdminError::from)
    }

    /// Every config of a topic with its value and source (DescribeConfigs:
    /// DESCRIBE_CONFIGS on the topic).
    pub fn admin_topic_configs(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<Vec<ConfigEntry>, AdminError> {
        let image = self.meta.image();
        let t = self.described_topic(caller, &image, name, AclOperation::DescribeConfigs)?;
        Ok(topic_config::config_defs()
            .iter()
            .map(|d| {
                let (value, source) = self.resolve_config(&image, &t, d.name, d.default);
                ConfigEntry {
                    name: d.name,
                    is_default: source == "default",
                    value,
                    source,
                    sensitive: false,
                    config_type: format!("{:?}", d.config_type).to_lowercase(),
                    doc: d.doc,
                }
            })
            .collect())
    }

    /// The value of `key` for topic `t` and where it comes from: the topic, this
    /// broker's dynamic config, the cluster's dynamic default, the static broker
    /// setting, the built-in default (the chain DescribeConfigs reports).
    fn resolve_config(
        &self,
        image: &MetadataImage,
        t: &TopicImage,
        key: &str,
        default: &str,
    ) -> (String, &'static str) {
        if let Some(v) = t.configs.get(key) {
            return (v.clone(), "topic");
        }
        if let Some(bk) = broker_key_for(key) {
            let scopes = [
                (Some(self.config.node_id), "dynamic_broker"),
                (None, "dynamic_default"),
            ];
            for (scope, source) in scopes {
                if let Some(v) = image.broker_configs(scope).and_then(|c| c.get(bk)) {
                    return (v.clone(), source);
                }
            }
            if let Some(v) = self.config.topic_defaults.get(key) {
                return (v.clone(), "static_broker");
            }
        }
        (default.to_string(), "default")
    }

    /// Sets and removes topic configs (IncrementalAlterConfigs SET / DELETE:
    /// ALTER_CONFIGS on the topic), all or none.
    pub async fn admin_alter_topic_configs(
        self: &Arc<Self>,
        caller: &Caller,
        name: &str,
        changes: ConfigChanges,
    ) -> Result<(), AdminError> {
        if changes.set.len() + changes.delete.len() > MAX_CONFIG_CHANGES {
            return Err(AdminError::BadRequest(format!(
                "at most {MAX_CONFIG_CHANGES} config changes at a time"
            )));
        }
        if changes.set.is_empty() && changes.delete.is_empty() {
            return Err(AdminError::BadRequest(
                "nothing to change: give 'set' and/or 'delete'".into(),
            ));
        }
        if let Some(k) = changes.delete.iter().find(|k| changes.set.contains_key(*k)) {
            return Err(AdminError::BadRequest(format!(
                "config '{k}' is both set and deleted"
            )));
        }
        let image = self.meta.image();
        self.described_topic(caller, &image, name, AclOperation::AlterConfigs)?;
        let ops: Vec<AlterConfigOp> = changes
            .set
            .into_iter()
            .map(|(key, v)| AlterConfigOp {
                key,
                op: ConfigOpKind::Set(v),
            })
            .chain(changes.delete.into_iter().map(|key| AlterConfigOp {
                key,
                op: ConfigOpKind::Delete,
            }))
            .collect();
        let name = name.to_string();
        self.decide_and_commit(|image, _| controller::alter_topic_config(image, &name, &ops))
            .await
            .map_err(AdminError::from)
    }
}
