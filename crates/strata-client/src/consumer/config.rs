//! Consumer settings, with Kafka's property names for string-based configuration.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::cluster::ClientConfig;
use crate::error::{ClientError, Result};
use crate::group::{parse_strategies, AssignmentStrategy};
use crate::offsets::TopicPartition;

/// Where to start when a partition has no committed offset or its position is out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    /// Start from the oldest retained record.
    Earliest,
    /// Start after the newest record.
    Latest,
    /// Report an error.
    None,
}

impl FromStr for OffsetReset {
    type Err = ClientError;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "earliest" | "smallest" | "beginning" => Ok(OffsetReset::Earliest),
            "latest" | "largest" | "end" => Ok(OffsetReset::Latest),
            "none" | "error" => Ok(OffsetReset::None),
            other => Err(ClientError::Config(format!(
                "invalid auto.offset.reset '{other}' (expected earliest, latest or none)"
            ))),
        }
    }
}

/// Called around rebalances, from inside `poll` (or `close`/`unsubscribe`). Partitions are
/// sorted. With auto-commit on, positions are committed before `on_partitions_revoked`.
pub trait RebalanceListener: Send + Sync {
    /// These partitions are being taken away; commit or flush work for them now.
    fn on_partitions_revoked(&self, _partitions: &[TopicPartition]) {}
    /// These partitions were added to the assignment (may be empty in cooperative rounds).
    fn on_partitions_assigned(&self, _partitions: &[TopicPartition]) {}
    /// These partitions were lost: the group moved on without us (session expired, fenced
    /// generation), so another member may own them already and committing is pointless.
    /// Defaults to [`RebalanceListener::on_partitions_revoked`].
    fn on_partitions_lost(&self, partitions: &[TopicPartition]) {
        self.on_partitions_revoked(partitions)
    }
}

/// A shareable [`RebalanceListener`] inside [`ConsumerConfig`].
#[derive(Clone)]
pub struct Listener(pub Arc<dyn RebalanceListener>);

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RebalanceListener")
    }
}

/// Consumer settings.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Connection settings.
    pub client: ClientConfig,
    /// The broker answers as soon as this many bytes are available…
    pub fetch_min_bytes: i32,
    /// …or after this long.
    pub fetch_max_wait: Duration,
    /// Upper bound for a whole fetch response.
    pub fetch_max_bytes: i32,
    /// Upper bound per partition per fetch.
    pub max_partition_fetch_bytes: i32,
    /// Behaviour without a committed offset or a valid position (`auto.offset.reset`).
    pub auto_offset_reset: OffsetReset,
    /// The consumer group (`group.id`); needed for `subscribe` and for committing.
    pub group_id: Option<String>,
    /// A static member id that survives restarts (`group.instance.id`): rejoining with it
    /// within the session timeout gets the same partitions back without a rebalance.
    pub group_instance_id: Option<String>,
    /// The coordinator drops a member that has not heartbeated for this long
    /// (`session.timeout.ms`).
    pub session_timeout: Duration,
    /// How long the group waits for members to rejoin in a rebalance, and the longest gap
    /// between polls before this member gives up its partitions (`max.poll.interval.ms`).
    pub rebalance_timeout: Duration,
    /// How often to heartbeat (`heartbeat.interval.ms`); well below the session timeout.
    pub heartbeat_interval: Duration,
    /// Commit consumed positions periodically and before partitions are revoked
    /// (`enable.auto.commit`).
    pub auto_commit: bool,
    /// How often auto-commit runs (`auto.commit.interval.ms`).
    pub auto_commit_interval: Duration,
    /// Assignors in preference order (`partition.assignment.strategy`). The rebalance
    /// protocol is cooperative only if all of them support it.
    pub partition_assignment_strategy: Vec<AssignmentStrategy>,
    /// How often subscribed topics' metadata is re-checked for partition-count changes
    /// (`metadata.max.age.ms`).
    pub metadata_max_age: Duration,
    /// Rebalance callbacks.
    pub rebalance_listener: Option<Listener>,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            client: ClientConfig::default(),
            fetch_min_bytes: 1,
            fetch_max_wait: Duration::from_millis(500),
            fetch_max_bytes: 50 * 1024 * 1024,
            max_partition_fetch_bytes: 1024 * 1024,
            auto_offset_reset: OffsetReset::Latest,
            group_id: None,
            group_instance_id: None,
            session_timeout: Duration::from_secs(45),
            rebalance_timeout: Duration::from_secs(300),
            heartbeat_interval: Duration::from_secs(3),
            auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            partition_assignment_strategy: vec![
                AssignmentStrategy::Range,
                AssignmentStrategy::CooperativeSticky,
            ],
            metadata_max_age: Duration::from_secs(300),
            rebalance_listener: None,
        }
    }
}

fn parse_ms(key: &str, value: &str) -> Result<Duration> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| {
            ClientError::Config(format!(
                "{key} must be a number of milliseconds, got '{value}'"
            ))
        })
}

fn parse_i32(key: &str, value: &str) -> Result<i32> {
    value
        .trim()
        .parse::<i32>()
        .map_err(|_| ClientError::Config(format!("{key} must be an integer, got '{value}'")))
}

fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ClientError::Config(format!(
            "{key} must be true or false, got '{value}'"
        ))),
    }
}

fn non_empty(key: &str, value: &str) -> Result<Option<String>> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ClientError::Config(format!("{key} must not be empty")));
    }
    Ok(Some(v.to_string()))
}

impl ConsumerConfig {
    /// Sets one setting by its Kafka property name (`group.id`, `session.timeout.ms`,
    /// `partition.assignment.strategy`, ...). Unknown names are an error.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        match key {
            "group.id" => self.group_id = non_empty(key, value)?,
            "group.instance.id" => self.group_instance_id = non_empty(key, value)?,
            "client.id" => self.client.client_id = value.to_string(),
            "session.timeout.ms" => self.session_timeout = parse_ms(key, value)?,
            "max.poll.interval.ms" => self.rebalance_timeout = parse_ms(key, value)?,
            "heartbeat.interval.ms" => self.heartbeat_interval = parse_ms(key, value)?,
            "enable.auto.commit" => self.auto_commit = parse_bool(key, value)?,
            "auto.commit.interval.ms" => self.auto_commit_interval = parse_ms(key, value)?,
            "auto.offset.reset" => self.auto_offset_reset = value.parse()?,
            "partition.assignment.strategy" => {
                self.partition_assignment_strategy = parse_strategies(value)?
            }
            "metadata.max.age.ms" => self.metadata_max_age = parse_ms(key, value)?,
            "fetch.min.bytes" => self.fetch_min_bytes = parse_i32(key, value)?,
            "fetch.max.wait.ms" => self.fetch_max_wait = parse_ms(key, value)?,
            "fetch.max.bytes" => self.fetch_max_bytes = parse_i32(key, value)?,
            "max.partition.fetch.bytes" => self.max_partition_fetch_bytes = parse_i32(key, value)?,
            "request.timeout.ms" => self.client.request_timeout = parse_ms(key, value)?,
            "retry.backoff.ms" => self.client.retry_backoff = parse_ms(key, value)?,
            other => {
                return Err(ClientError::Config(format!(
                    "unknown consumer setting '{other}'"
                )))
            }
        }
        Ok(())
    }

    /// Checks the group settings hang together (as the Java client does at construction).
    pub fn validate(&self) -> Result<()> {
        if self.group_instance_id.is_some() && self.group_id.is_none() {
            return Err(ClientError::Config(
                "group.instance.id needs a group.id".into(),
            ));
        }
        if self.heartbeat_interval.is_zero() || self.heartbeat_interval >= self.session_timeout {
            return Err(ClientError::Config(format!(
                "heartbeat.interval.ms ({} ms) must be positive and below session.timeout.ms ({} ms)",
                self.heartbeat_interval.as_millis(),
                self.session_timeout.as_millis()
            )));
        }
        if self.auto_commit && self.auto_commit_interval.is_zero() {
            return Err(ClientError::Config(
                "auto.commit.interval.ms must be positive".into(),
            ));
        }
        if self.partition_assignment_strategy.is_empty() {
            return Err(ClientError::Config(
                "partition.assignment.strategy is empty".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_property_names_set_fields() {
        let mut c = ConsumerConfig::default();
        for (k, v) in [
            ("group.id", "g1"),
            ("group.instance.id", "host-1"),
            ("session.timeout.ms", "10000"),
            ("max.poll.interval.ms", "60000"),
            ("heartbeat.interval.ms", "1000"),
            ("enable.auto.commit", "false"),
            ("auto.commit.interval.ms", "250"),
            ("auto.offset.reset", "earliest"),
            ("partition.assignment.strategy", "cooperative-sticky"),
            ("metadata.max.age.ms", "1000"),
        ] {
            c.set(k, v).unwrap_or_else(|e| panic!("{k}: {e}"));
        }
        assert_eq!(c.group_id.as_deref(), Some("g1"));
        assert_eq!(c.group_instance_id.as_deref(), Some("host-1"));
        assert_eq!(c.session_timeout, Duration::from_secs(10));
        assert_eq!(c.rebalance_timeout, Duration::from_secs(60));
        assert_eq!(c.heartbeat_interval, Duration::from_secs(1));
        assert!(!c.auto_commit);
        assert_eq!(c.auto_commit_interval, Duration::from_millis(250));
        assert_eq!(c.auto_offset_reset, OffsetReset::Earliest);
        assert_eq!(
            c.partition_assignment_strategy,
            vec![AssignmentStrategy::CooperativeSticky]
        );
        assert_eq!(c.metadata_max_age, Duration::from_secs(1));
        c.validate().expect("valid");
    }

    #[test]
    fn bad_values_are_named() {
        let mut c = ConsumerConfig::default();
        let e = c
            .set("session.timeout.ms", "soon")
            .expect_err("not a number");
        assert!(e.to_string().contains("session.timeout.ms"), "{e}");
        assert!(c.set("auto.offset.reset", "middle").is_err());
        assert!(c.set("enable.auto.commit", "yes").is_err());
        assert!(c
            .set("partition.assignment.strategy", "roundrobin")
            .is_err());
        assert!(c.set("group.id", " ").is_err());
        assert!(c.set("no.such.thing", "1").is_err());
    }

    #[test]
    fn validation_catches_inconsistent_groups_settings() {
        let c = ConsumerConfig {
            group_instance_id: Some("i".into()),
            ..ConsumerConfig::default()
        };
        assert!(c.validate().is_err(), "instance id without group");
        let c = ConsumerConfig {
            heartbeat_interval: Duration::from_secs(50),
            ..ConsumerConfig::default()
        };
        assert!(c.validate().is_err(), "heartbeat above session timeout");
        assert!(ConsumerConfig::default().validate().is_ok());
    }
}
