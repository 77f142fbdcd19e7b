//! AlterConfigs / IncrementalAlterConfigs decisions for topics.

use std::collections::BTreeMap;

use super::{duplicated, TopicError};
use crate::image::MetadataImage;
use crate::records::MetadataRecord;
use crate::topic_config::{config_def, ConfigType, TopicConfig};

/// What to do with one config key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigOpKind {
    /// Set the override to this value.
    Set(String),
    /// Remove the override (fall back to the default).
    Delete,
    /// Add items to a list config (items already present are kept once).
    Append(String),
    /// Remove items from a list config.
    Subtract(String),
}

/// One IncrementalAlterConfigs operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlterConfigOp {
    /// The config name.
    pub key: String,
    /// The operation.
    pub op: ConfigOpKind,
}

impl AlterConfigOp {
    /// Builds an operation from IncrementalAlterConfigs' fields: `op` is 0 SET,
    /// 1 DELETE, 2 APPEND, 3 SUBTRACT.
    pub fn from_kafka(key: &str, op: i8, value: Option<&str>) -> Result<Self, TopicError> {
        let need = |v: Option<&str>| {
            v.map(str::to_string).ok_or_else(|| {
                TopicError::InvalidConfig(format!("topic config '{key}' needs a value"))
            })
        };
        let op = match op {
            0 => ConfigOpKind::Set(need(value)?),
            1 => ConfigOpKind::Delete,
            2 => ConfigOpKind::Append(need(value)?),
            3 => ConfigOpKind::Subtract(need(value)?),
            other => {
                return Err(TopicError::InvalidRequest(format!(
                    "unknown config operation {other} for '{key}'"
                )))
            }
        };
        Ok(AlterConfigOp {
            key: key.to_string(),
            op,
        })
    }
}

/// Decides IncrementalAlterConfigs for one topic: the `SetTopicConfig` records
/// for every key whose override changes (none if nothing changes). The
/// resulting overrides are validated as a whole.
pub fn alter_topic_config(
    image: &MetadataImage,
    topic: &str,
    ops: &[AlterConfigOp],
) -> Result<Vec<MetadataRecord>, TopicError> {
    let t = image.topic(topic).ok_or_else(|| {
        TopicError::UnknownTopicOrPartition(format!("topic '{topic}' does not exist"))
    })?;
    if let Some(key) = duplicated(ops.iter().map(|o| o.key.as_str())).first() {
        return Err(TopicError::InvalidRequest(format!(
            "topic config '{key}' appears more than once"
        )));
    }
    let mut next = t.configs.clone();
    for AlterConfigOp { key, op } in ops {
        let def = config_def(key)
            .ok_or_else(|| TopicError::InvalidConfig(format!("unknown topic config '{key}'")))?;
        let list_only = |what: &str| {
            if def.config_type == ConfigType::List {
                Ok(())
            } else {
                Err(TopicError::InvalidConfig(format!(
                    "cannot {what} topic config '{key}': it is not a list"
                )))
            }
        };
        let current = || -> Vec<String> {
            let raw = next.get(key).map_or(def.default, String::as_str);
            split_list(raw)
        };
        match op {
            ConfigOpKind::Set(v) => {
                next.insert(key.clone(), v.trim().to_string());
            }
            ConfigOpKind::Delete => {
                next.remove(key);
            }
            ConfigOpKind::Append(v) => {
                list_only("append to")?;
                let mut items = current();
                for item in split_list(v) {
                    if !items.contains(&item) {
                        items.push(item);
                    }
                }
                next.insert(key.clone(), items.join(","));
            }
            ConfigOpKind::Subtract(v) => {
                list_only("subtract from")?;
                let remove = split_list(v);
                let items: Vec<String> = current()
                    .into_iter()
                    .filter(|i| !remove.contains(i))
                    .collect();
                next.insert(key.clone(), items.join(","));
            }
        }
    }
    super::internal::check_configs(topic, &next)?;
    diff_records(t.topic_id, &t.configs, next)
}

/// Decides the legacy AlterConfigs for one topic: the overrides become exactly
/// `configs` (keys not listed go back to their defaults). `None` values are refused.
pub fn replace_topic_configs(
    image: &MetadataImage,
    topic: &str,
    configs: &BTreeMap<String, Option<String>>,
) -> Result<Vec<MetadataRecord>, TopicError> {
    let t = image.topic(topic).ok_or_else(|| {
        TopicError::UnknownTopicOrPartition(format!("topic '{topic}' does not exist"))
    })?;
    let mut next = BTreeMap::new();
    for (key, value) in configs {
        let value = value.as_ref().ok_or_else(|| {
            TopicError::InvalidConfig(format!("topic config '{key}' has a null value"))
        })?;
        next.insert(key.clone(), value.trim().to_string());
    }
    super::internal::check_configs(topic, &next)?;
    diff_records(t.topic_id, &t.configs, next)
}

fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Validates `next` and emits one record per changed key.
fn diff_records(
    topic_id: uuid::Uuid,
    old: &BTreeMap<String, String>,
    next: BTreeMap<String, String>,
) -> Result<Vec<MetadataRecord>, TopicError> {
    TopicConfig::from_overrides(&next).map_err(|e| TopicError::InvalidConfig(e.to_string()))?;
    let removed =
        old.keys()
            .filter(|k| !next.contains_key(*k))
            .map(|k| MetadataRecord::SetTopicConfig {
                topic_id,
                key: k.clone(),
                value: None,
            });
    let changed = next
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| MetadataRecord::SetTopicConfig {
            topic_id,
            key: k.clone(),
            value: Some(v.clone()),
        });
    Ok(removed.chain(changed).collect())
}
