//! Topic-level configs: the Kafka names we support, their types, defaults,
//! validation and documentation; the effective typed [`TopicConfig`]; and the
//! listing DescribeConfigs needs.

use std::collections::BTreeMap;

use thiserror::Error;

/// The type of a config, as DescribeConfigs reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigType {
    /// A 32-bit integer.
    Int,
    /// A 64-bit integer.
    Long,
    /// A floating point number.
    Double,
    /// A string (here always one of a fixed set of choices).
    String,
    /// A comma-separated list.
    List,
    /// `true` or `false`.
    Boolean,
    /// A Java class name (here always one of a fixed set).
    Class,
}

impl ConfigType {
    /// The `config_type` code of DescribeConfigs responses (v3+).
    pub fn kafka_code(self) -> i8 {
        match self {
            ConfigType::Boolean => 1,
            ConfigType::String => 2,
            ConfigType::Int => 3,
            ConfigType::Long => 5,
            ConfigType::Double => 6,
            ConfigType::List => 7,
            ConfigType::Class => 8,
        }
    }
}

/// Where a config's effective value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    /// The built-in default.
    Default,
    /// A topic-level override.
    TopicOverride,
}

impl ConfigSource {
    /// The `config_source` code of DescribeConfigs responses (v1+).
    pub fn kafka_code(self) -> i8 {
        match self {
            ConfigSource::TopicOverride => 1,
            ConfigSource::Default => 5,
        }
    }
}

/// A rejected config; the message names the key and the reason, and is what the
/// broker puts in the INVALID_CONFIG error message.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// Not a topic config we know.
    #[error("unknown topic config '{key}'")]
    Unknown {
        /// The config name.
        key: String,
    },
    /// A config was given without a value where one is required.
    #[error("topic config '{key}' needs a value (null is not allowed)")]
    NullValue {
        /// The config name.
        key: String,
    },
    /// The value does not parse or is out of range.
    #[error("invalid value '{value}' for topic config '{key}': {reason}")]
    InvalidValue {
        /// The config name.
        key: String,
        /// The rejected value.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Values that are each valid but contradict each other.
    #[error("conflicting topic configs: {0}")]
    Conflict(String),
}

/// How a config's value is checked.
#[derive(Clone, Copy, Debug)]
enum Check {
    Long {
        min: i64,
    },
    Int {
        min: i32,
    },
    IntRange {
        min: i32,
        max: i32,
    },
    Double {
        min: f64,
        max: f64,
    },
    OneOf(&'static [&'static str]),
    ListOf(&'static [&'static str]),
    /// Kafka's throttled-replica list: empty, `*`, or `partition:broker` pairs.
    ThrottledReplicas,
    /// A Kafka version such as `3.0-IV1` (`message.format.version`).
    Version,
}

/// The definition of one supported topic config.
#[derive(Clone, Copy, Debug)]
pub struct ConfigDef {
    /// Kafka's name, e.g. `retention.ms`.
    pub name: &'static str,
    /// The value type.
    pub config_type: ConfigType,
    /// The default, as a string.
    pub default: &'static str,
    /// One-line documentation.
    pub doc: &'static str,
    /// Whether Strata acts on the config; `false` for keys that are accepted, stored
    /// and reported but have no effect (documented as such).
    pub acted_on: bool,
    check: Check,
}

mod defs;
use defs::DEFS;

/// Every supported topic config, sorted by name.
pub fn config_defs() -> &'static [ConfigDef] {
    DEFS
}

/// The definition of `name`, if it is a supported topic config.
pub fn config_def(name: &str) -> Option<&'static ConfigDef> {
    DEFS.iter().find(|d| d.name == name)
}

/// A parsed, validated config value.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Long(i64),
    Int(i32),
    Double(f64),
    Choice(&'static str),
    List(Vec<&'static str>),
    /// A valid value of a config Strata keeps but does not act on.
    Kept,
}

impl ConfigDef {
    fn parse(&self, raw: &str) -> Result<Value, ConfigError> {
        let invalid = |reason: String| ConfigError::InvalidValue {
            key: self.name.to_string(),
            value: raw.to_string(),
            reason,
        };
        let text = raw.trim();
        match self.check {
            Check::Long { min } => {
                let v: i64 = text
                    .parse()
                    .map_err(|_| invalid("not a 64-bit integer".into()))?;
                if v < min {
                    return Err(invalid(format!("must be at least {min}")));
                }
                Ok(Value::Long(v))
            }
            Check::Int { min } => {
                let v: i32 = text
                    .parse()
                    .map_err(|_| invalid("not a 32-bit integer".into()))?;
                if v < min {
                    return Err(invalid(format!("must be at least {min}")));
                }
                Ok(Value::Int(v))
            }
            Check::IntRange { min, max } => {
                let v: i32 = text
                    .parse()
                    .map_err(|_| invalid("not a 32-bit integer".into()))?;
                if v < min || v > max {
                    return Err(invalid(format!("must be between {min} and {max}")));
                }
                Ok(Value::Int(v))
            }
            Check::ThrottledReplicas => throttled_replicas(text).map_err(invalid),
            Check::Version => version(text).map_err(invalid),
            Check::Double { min, max } => {
                let v: f64 = text.parse().map_err(|_| invalid("not a number".into()))?;
                // Written so NaN fails too.
                if !(v >= min && v <= max) {
                    return Err(invalid(format!("must be between {min} and {max}")));
                }
                Ok(Value::Double(v))
            }
            Check::OneOf(choices) => choices
                .iter()
                .find(|c| **c == text)
                .map(|c| Value::Choice(c))
                .ok_or_else(|| invalid(format!("must be one of {}", choices.join(", ")))),
            Check::ListOf(choices) => {
                let mut items = Vec::new();
                // An empty list is a value of its own (Kafka 4.1's empty
                // `cleanup.policy`: neither delete nor compact, keep everything).
                if text.trim().is_empty() {
                    return Ok(Value::List(items));
                }
                for item in text.split(',').map(str::trim) {
                    let known = choices.iter().find(|c| **c == item).ok_or_else(|| {
                        invalid(format!("'{item}' is not one of {}", choices.join(", ")))
                    })?;
                    if items.contains(known) {
                        return Err(invalid(format!("'{item}' is listed twice")));
                    }
                    items.push(*known);
                }
                Ok(Value::List(items))
            }
        }
    }
}

/// `*`, or comma-separated `partition:broker` pairs of non-negative integers; empty
/// (no replica throttled) is valid, so a SUBTRACT may empty the list.
fn throttled_replicas(text: &str) -> Result<Value, String> {
    ThrottledReplicas::parse(text).map(|_| Value::Kept)
}

/// Kafka's throttled-replica list (`leader.replication.throttled.replicas`,
/// `follower.replication.throttled.replicas`): `*`, or `partition:broker` pairs
/// separated by commas (empty: none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ThrottledReplicas {
    /// `*`: every replica.
    All,
    /// The listed (partition, broker) pairs.
    Listed(Vec<(u32, u32)>),
}

impl ThrottledReplicas {
    /// Parses a list; the error names the entry that is not a pair.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "*" {
            return Ok(Self::All);
        }
        if text.is_empty() {
            return Ok(Self::Listed(Vec::new()));
        }
        text.split(',')
            .map(str::trim)
            .map(|item| {
                item.split_once(':')
                    .and_then(|(p, b)| Some((p.trim().parse().ok()?, b.trim().parse().ok()?)))
                    .ok_or_else(|| {
                        format!("'{item}' is not partition:broker (the list is '*' or such pairs)")
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self::Listed)
    }

    /// Whether the list names `partition` on `broker`.
    pub fn names(&self, partition: i32, broker: i32) -> bool {
        match self {
            Self::All => true,
            Self::Listed(pairs) => pairs.iter().any(|&(p, b)| {
                i64::from(p) == i64::from(partition) && i64::from(b) == i64::from(broker)
            }),
        }
    }
}

/// A Kafka version: digits and dots, optionally `-IV` and a number (`2.8`, `3.0-IV1`).
fn version(text: &str) -> Result<Value, String> {
    let (release, iv) = match text.split_once("-IV") {
        Some((r, iv)) => (r, Some(iv)),
        None => (text, None),
    };
    let parts_ok = release.len() <= 16
        && release.split('.').count() >= 2
        && release
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let iv_ok = iv.is_none_or(|n| n.len() <= 4 && n.parse::<u16>().is_ok());
    if parts_ok && iv_ok {
        Ok(Value::Kept)
    } else {
        Err("not a Kafka version such as 3.0-IV1".into())
    }
}

/// Checks one topic config: the key must be supported and the value valid for it.
pub fn validate(key: &str, value: &str) -> Result<(), ConfigError> {
    let def = config_def(key).ok_or_else(|| ConfigError::Unknown {
        key: key.to_string(),
    })?;
    def.parse(value).map(|_| ())
}

/// Which cleanup a topic gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CleanupPolicy {
    /// Old segments are deleted by retention time/size.
    pub delete: bool,
    /// The log is compacted by key.
    pub compact: bool,
}

/// `message.timestamp.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampType {
    /// The producer's timestamp is kept.
    CreateTime,
    /// The broker stamps its append time.
    LogAppendTime,
}

/// `confluent.{key,value}.subject.name.strategy`: the subject a record's schema id must
/// be registered under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SubjectNameStrategy {
    /// `<topic>-key` / `<topic>-value`.
    #[default]
    TopicName,
    /// The full name of the record's schema.
    RecordName,
    /// `<topic>-<full name of the record's schema>`.
    TopicRecordName,
}

/// Schema-id validation of one side (key or value) of produced records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SchemaValidation {
    /// `confluent.*.schema.validation`.
    pub enabled: bool,
    /// `confluent.*.subject.name.strategy`.
    pub strategy: SubjectNameStrategy,
}

/// `compression.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompressionType {
    /// Keep the producer's compression.
    Producer,
    /// Store uncompressed.
    Uncompressed,
    /// gzip.
    Gzip,
    /// snappy.
    Snappy,
    /// lz4.
    Lz4,
    /// zstd.
    Zstd,
}

/// The effective, typed configuration of a topic: defaults overlaid by overrides.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicConfig {
    /// `cleanup.policy`.
    pub cleanup_policy: CleanupPolicy,
    /// `compression.type`.
    pub compression_type: CompressionType,
    /// `confluent.key.schema.validation` and `confluent.key.subject.name.strategy`.
    pub key_schema_validation: SchemaValidation,
    /// `confluent.value.schema.validation` and `confluent.value.subject.name.strategy`.
    pub value_schema_validation: SchemaValidation,
    /// `delete.retention.ms`.
    pub delete_retention_ms: i64,
    /// `flush.messages`.
    pub flush_messages: i64,
    /// `flush.ms`.
    pub flush_ms: i64,
    /// `index.interval.bytes`.
    pub index_interval_bytes: i32,
    /// `max.compaction.lag.ms`.
    pub max_compaction_lag_ms: i64,
    /// `max.message.bytes`.
    pub max_message_bytes: i32,
    /// `message.timestamp.type`.
    pub message_timestamp_type: TimestampType,
    /// `min.cleanable.dirty.ratio`.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`.
    pub min_compaction_lag_ms: i64,
    /// `min.insync.replicas`.
    pub min_insync_replicas: i32,
    /// `retention.bytes`; negative = no limit.
    pub retention_bytes: i64,
    /// `retention.ms`; negative = no limit.
    pub retention_ms: i64,
    /// `segment.bytes`.
    pub segment_bytes: i32,
    /// `segment.index.bytes`.
    pub segment_index_bytes: i32,
    /// `segment.ms`.
    pub segment_ms: i64,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            cleanup_policy: CleanupPolicy {
                delete: true,
                compact: false,
            },
            compression_type: CompressionType::Producer,
            key_schema_validation: SchemaValidation::default(),
            value_schema_validation: SchemaValidation::default(),
            delete_retention_ms: 86_400_000,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            index_interval_bytes: 4096,
            max_compaction_lag_ms: i64::MAX,
            max_message_bytes: 1_048_588,
            message_timestamp_type: TimestampType::CreateTime,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            min_insync_replicas: 1,
            retention_bytes: -1,
            retention_ms: 604_800_000,
            segment_bytes: 1_073_741_824,
            segment_index_bytes: 10_485_760,
            segment_ms: 604_800_000,
        }
    }
}

impl TopicConfig {
    /// The effective config for a topic with these overrides. Fails on an unknown
    /// key, an invalid value, or values that contradict each other.
    pub fn from_overrides(overrides: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut config = TopicConfig::default();
        for (key, raw) in overrides {
            let def = config_def(key).ok_or_else(|| ConfigError::Unknown { key: key.clone() })?;
            config.set(def.name, def.parse(raw)?);
        }
        if config.min_compaction_lag_ms > config.max_compaction_lag_ms {
            return Err(ConfigError::Conflict(format!(
                "min.compaction.lag.ms ({}) is larger than max.compaction.lag.ms ({})",
                config.min_compaction_lag_ms, config.max_compaction_lag_ms
            )));
        }
        Ok(config)
    }

    /// Stores a value that `DEFS` has already parsed for `name`; the kinds match
    /// by construction (a test checks every config), anything else is ignored.
    fn set(&mut self, name: &str, value: Value) {
        use Value::*;
        match (name, value) {
            ("cleanup.policy", List(items)) => {
                self.cleanup_policy = CleanupPolicy {
                    delete: items.contains(&"delete"),
                    compact: items.contains(&"compact"),
                }
            }
            ("compression.type", Choice(c)) => {
                self.compression_type = match c {
                    "uncompressed" => CompressionType::Uncompressed,
                    "gzip" => CompressionType::Gzip,
                    "snappy" => CompressionType::Snappy,
                    "lz4" => CompressionType::Lz4,
                    "zstd" => CompressionType::Zstd,
                    _ => CompressionType::Producer,
                }
            }
            ("confluent.key.schema.validation", Choice(c)) => {
                self.key_schema_validation.enabled = c == "true"
            }
            ("confluent.value.schema.validation", Choice(c)) => {
                self.value_schema_validation.enabled = c == "true"
            }
            ("confluent.key.subject.name.strategy", Choice(c)) => {
                self.key_schema_validation.strategy = strategy(c)
            }
            ("confluent.value.subject.name.strategy", Choice(c)) => {
                self.value_schema_validation.strategy = strategy(c)
            }
            ("delete.retention.ms", Long(v)) => self.delete_retention_ms = v,
            ("flush.messages", Long(v)) => self.flush_messages = v,
            ("flush.ms", Long(v)) => self.flush_ms = v,
            ("index.interval.bytes", Int(v)) => self.index_interval_bytes = v,
            ("max.compaction.lag.ms", Long(v)) => self.max_compaction_lag_ms = v,
            ("max.message.bytes", Int(v)) => self.max_message_bytes = v,
            ("message.timestamp.type", Choice(c)) => {
                self.message_timestamp_type = if c == "LogAppendTime" {
                    TimestampType::LogAppendTime
                } else {
                    TimestampType::CreateTime
                }
            }
            ("min.cleanable.dirty.ratio", Double(v)) => self.min_cleanable_dirty_ratio = v,
            ("min.compaction.lag.ms", Long(v)) => self.min_compaction_lag_ms = v,
            ("min.insync.replicas", Int(v)) => self.min_insync_replicas = v,
            ("retention.bytes", Long(v)) => self.retention_bytes = v,
            ("retention.ms", Long(v)) => self.retention_ms = v,
            ("segment.bytes", Int(v)) => self.segment_bytes = v,
            ("segment.index.bytes", Int(v)) => self.segment_index_bytes = v,
            ("segment.ms", Long(v)) => self.segment_ms = v,
            _ => {}
        }
    }
}

fn strategy(name: &str) -> SubjectNameStrategy {
    match name.rsplit('.').next().unwrap_or(name) {
        "RecordNameStrategy" => SubjectNameStrategy::RecordName,
        "TopicRecordNameStrategy" => SubjectNameStrategy::TopicRecordName,
        _ => SubjectNameStrategy::TopicName,
    }
}

/// One config as DescribeConfigs reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEntry {
    /// The config name.
    pub name: &'static str,
    /// The effective value, as a string.
    pub value: String,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// The value type.
    pub config_type: ConfigType,
    /// Documentation.
    pub doc: &'static str,
    /// The default value.
    pub default: &'static str,
}

/// Every supported config with its effective value and source, sorted by name.
/// Override keys that are not supported configs are not listed.
pub fn describe(overrides: &BTreeMap<String, String>) -> Vec<ConfigEntry> {
    DEFS.iter()
        .map(|def| {
            let (value, source) = match overrides.get(def.name) {
                Some(v) => (v.clone(), ConfigSource::TopicOverride),
                None => (def.default.to_string(), ConfigSource::Default),
            };
            ConfigEntry {
                name: def.name,
                value,
                source,
                config_type: def.config_type,
                doc: def.doc,
                default: def.default,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
