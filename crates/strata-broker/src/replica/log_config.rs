//! From topic configs (names as Kafka's) to the storage engine's [`LogConfig`].

use std::collections::BTreeMap;

use strata_log::{LogConfig, TimestampType};
use strata_meta::topic_config::{self, TopicConfig};

/// Topic settings the broker (not the log) acts on, resolved once per metadata change
/// so the produce path does not parse config strings.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicSettings {
    /// `min.insync.replicas`.
    pub min_insync_replicas: i32,
    /// `compression.type`.
    pub compression: topic_config::CompressionType,
    /// `cleanup.policy` includes `compact`.
    pub compact: bool,
    /// `flush.messages`: fsync after this many unflushed records.
    pub flush_messages: i64,
    /// `flush.ms`: fsync when the oldest unflushed record is this old.
    pub flush_ms: i64,
    /// `confluent.key.schema.validation` with its subject name strategy.
    pub key_schema: topic_config::SchemaValidation,
    /// `confluent.value.schema.validation` with its subject name strategy.
    pub value_schema: topic_config::SchemaValidation,
}

impl Default for TopicSettings {
    fn default() -> Self {
        Self::from_configs(&BTreeMap::new(), &BTreeMap::new())
    }
}

impl TopicSettings {
    /// Resolves the settings like [`log_config_for`] resolves the log's.
    pub fn from_configs(
        broker_defaults: &BTreeMap<String, String>,
        topic_overrides: &BTreeMap<String, String>,
    ) -> Self {
        let tc = effective(broker_defaults, topic_overrides);
        Self {
            min_insync_replicas: tc.min_insync_replicas,
            compression: tc.compression_type,
            compact: tc.cleanup_policy.compact,
            flush_messages: tc.flush_messages,
            flush_ms: tc.flush_ms,
            key_schema: tc.key_schema_validation,
            value_schema: tc.value_schema_validation,
        }
    }
}

fn effective(
    broker_defaults: &BTreeMap<String, String>,
    topic_overrides: &BTreeMap<String, String>,
) -> TopicConfig {
    let mut merged = broker_defaults.clone();
    merged.extend(topic_overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    TopicConfig::from_overrides(&merged).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "ignoring invalid stored topic config");
        TopicConfig::from_overrides(&BTreeMap::new()).unwrap_or_default()
    })
}

/// The log settings for a topic: its overrides over the broker's defaults over the
/// built-in defaults. Values were validated when they were set; should a stored value
/// still not parse (a hand-edited file), the topic falls back to the defaults rather
/// than refusing to open.
pub fn log_config_for(
    broker_defaults: &BTreeMap<String, String>,
    topic_overrides: &BTreeMap<String, String>,
) -> LogConfig {
    let tc = effective(broker_defaults, topic_overrides);
    LogConfig {
        segment_bytes: tc.segment_bytes.max(1) as u64,
        segment_ms: tc.segment_ms,
        index_interval_bytes: tc.index_interval_bytes.max(0) as u32,
        max_message_bytes: tc.max_message_bytes.max(0) as u32,
        retention_ms: tc.retention_ms,
        retention_bytes: tc.retention_bytes,
        cleanup_compact: tc.cleanup_policy.compact,
        cleanup_delete: tc.cleanup_policy.delete,
        delete_retention_ms: tc.delete_retention_ms,
        min_compaction_lag_ms: tc.min_compaction_lag_ms,
        max_compaction_lag_ms: tc.max_compaction_lag_ms,
        min_cleanable_dirty_ratio: tc.min_cleanable_dirty_ratio,
        timestamp_type: match tc.message_timestamp_type {
            topic_config::TimestampType::LogAppendTime => TimestampType::LogAppendTime,
            topic_config::TimestampType::CreateTime => TimestampType::CreateTime,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_overrides_win_over_broker_defaults() {
        let broker: BTreeMap<_, _> = [("segment.bytes".to_string(), "100000".to_string())].into();
        let topic: BTreeMap<_, _> = [
            ("segment.bytes".to_string(), "200000".to_string()),
            (
                "message.timestamp.type".to_string(),
                "LogAppendTime".to_string(),
            ),
        ]
        .into();
        let c = log_config_for(&broker, &topic);
        assert_eq!(c.segment_bytes, 200000);
        assert_eq!(c.timestamp_type, TimestampType::LogAppendTime);
        let c = log_config_for(&broker, &BTreeMap::new());
        assert_eq!(c.segment_bytes, 100000);
        assert_eq!(c.timestamp_type, TimestampType::CreateTime);
    }
}
