//! Broker configuration: the `strata server` flags, TOML file and `STRATA_*` variables
//! all end up in one [`BrokerConfig`].

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// When the log is fsynced (DESIGN §4, `log.flush`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FlushPolicy {
    /// Group commit: an `acks=all` produce is acknowledged only after an fsync covers it.
    #[default]
    Batch,
    /// Background fsync every `log.flush.interval.ms`; acknowledgements do not wait.
    Interval,
    /// Only on clean shutdown (and segment roll); the page cache decides.
    Never,
}

impl std::str::FromStr for FlushPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "batch" => Ok(Self::Batch),
            "interval" => Ok(Self::Interval),
            "never" => Ok(Self::Never),
            other => Err(format!(
                "invalid log.flush '{other}': expected batch, interval or never"
            )),
        }
    }
}

/// Kafka's default `fetch.max.bytes` (55 MiB).
pub const DEFAULT_FETCH_MAX_BYTES: usize = 55 * 1024 * 1024;

/// Broker settings that provide topic-config defaults (see [`topic_key_for`]).
pub const TOPIC_DEFAULT_KEYS: &[&str] = &[
    "log.segment.bytes",
    "log.roll.ms",
    "log.retention.ms",
    "log.retention.bytes",
    "message.max.bytes",
    "log.message.timestamp.type",
    "log.index.interval.bytes",
    "log.cleanup.policy",
    "log.segment.index.bytes",
    "log.cleaner.delete.retention.ms",
    "log.cleaner.min.cleanable.ratio",
    "log.cleaner.min.compaction.lag.ms",
    "log.cleaner.max.compaction.lag.ms",
    "log.flush.interval.messages",
    "log.flush.interval.ms",
    "min.insync.replicas",
    "compression.type",
];

/// The broker setting that provides the default of a topic config, if any.
pub fn broker_key_for(topic_key: &str) -> Option<&'static str> {
    TOPIC_DEFAULT_KEYS
        .iter()
        .copied()
        .find(|k| topic_key_for(k) == Some(topic_key))
}

/// The topic config a broker-level setting provides the default for (`log.retention.ms`
/// → `retention.ms`), as in Kafka. `None` for settings that are not topic defaults.
pub fn topic_key_for(broker_key: &str) -> Option<&'static str> {
    Some(match broker_key {
        "log.segment.bytes" => "segment.bytes",
        "log.roll.ms" => "segment.ms",
        "log.retention.ms" => "retention.ms",
        "log.retention.bytes" => "retention.bytes",
        "message.max.bytes" => "max.message.bytes",
        "log.message.timestamp.type" => "message.timestamp.type",
        "log.index.interval.bytes" => "index.interval.bytes",
        "log.cleanup.policy" => "cleanup.policy",
        "log.segment.index.bytes" => "segment.index.bytes",
        "log.cleaner.delete.retention.ms" => "delete.retention.ms",
        "log.cleaner.min.cleanable.ratio" => "min.cleanable.dirty.ratio",
        "log.cleaner.min.compaction.lag.ms" => "min.compaction.lag.ms",
        "log.cleaner.max.compaction.lag.ms" => "max.compaction.lag.ms",
        "log.flush.interval.messages" => "flush.messages",
        "log.flush.interval.ms" => "flush.ms",
        "min.insync.replicas" => "min.insync.replicas",
        "compression.type" => "compression.type",
        _ => return None,
    })
}

/// Everything a broker needs to start.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// `node.id`.
    pub node_id: i32,
    /// Root of partition directories and the metadata log.
    pub data_dir: PathBuf,
    /// Kafka listener bind address.
    pub listen: String,
    /// Host and port given to clients in Metadata responses.
    pub advertise_host: String,
    /// See `advertise_host`.
    pub advertise_port: i32,
    /// Default partition count for auto-created topics and `num_partitions = -1`.
    pub num_partitions: i32,
    /// Default replication factor.
    pub default_replication_factor: i16,
    /// `auto.create.topics.enable`.
    pub auto_create_topics: bool,
    /// `log.flush`.
    pub flush_policy: FlushPolicy,
    /// `log.flush.interval.ms` for [`FlushPolicy::Interval`]; also how often the recovery
    /// checkpoint advances under the other policies.
    pub flush_interval: Duration,
    /// `socket.request.max.bytes`.
    pub socket_request_max_bytes: usize,
    /// `fetch.max.bytes`: the most record bytes one Fetch response carries, whatever the
    /// client asks (except the first batch, KIP-74).
    pub fetch_max_bytes: usize,
    /// How often retention and `segment.ms` rolls are checked.
    pub retention_check_interval: Duration,
    /// `offsets.topic.num.partitions`: partitions of `__consumer_offsets`.
    pub offsets_topic_num_partitions: i32,
    /// `offsets.retention.minutes`: committed offsets of an empty group expire after this.
    pub offsets_retention: Duration,
    /// `group.initial.rebalance.delay.ms`: how long a new group waits for more members.
    pub group_initial_rebalance_delay_ms: i64,
    /// `group.min.session.timeout.ms`.
    pub group_min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub group_max_session_timeout_ms: i32,
    /// `group.max.size`.
    pub group_max_size: usize,
    /// `log.cleaner.io.max.bytes.per.second` (unlimited when `None`).
    pub cleaner_io_max_bytes_per_second: Option<f64>,
    /// Controller (Raft) listener bind address; port 0 picks a free one.
    pub controller_listen: String,
    /// The metadata quorum's voters: (node id, controller address). Empty means this
    /// node alone, at its own controller address.
    pub voters: Vec<(i32, String)>,
    /// `broker.rack`.
    pub rack: Option<String>,
    /// How often this broker heartbeats to the active controller.
    pub broker_heartbeat_interval: Duration,
    /// `broker.session.timeout.ms`: a broker silent for this long is fenced and its
    /// partitions get new leaders.
    pub broker_session_timeout: Duration,
    /// `replica.lag.time.max.ms`: a follower not caught up for this long leaves the ISR.
    pub replica_lag_time_max: Duration,
    /// `controller.quorum.election.timeout.ms`: the shortest Raft election timeout (a voter
    /// draws its timeout between this and twice this; the leader heartbeats every quarter
    /// of it). A voter campaigns once the leader's lease (twice this) and its own timeout
    /// have passed without hearing from the leader.
    pub controller_election_timeout: Duration,
    /// Broker-level defaults for topic configs (`log.segment.bytes` → `segment.bytes`, ...),
    /// keyed by the topic config name.
    pub topic_defaults: std::collections::BTreeMap<String, String>,
}

/// Parses `--voters`: `1@host:port,2@host:port,...`.
pub fn parse_voters(s: &str) -> Result<Vec<(i32, String)>, String> {
    let mut voters = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, addr) = part
            .split_once('@')
            .ok_or_else(|| format!("voter '{part}' is not ID@HOST:PORT"))?;
        let id: i32 = id
            .parse()
            .map_err(|_| format!("voter '{part}': '{id}' is not a node id"))?;
        if id < 0 {
            return Err(format!("voter '{part}': node ids are not negative"));
        }
        if !addr.contains(':') {
            return Err(format!("voter '{part}': '{addr}' is not HOST:PORT"));
        }
        if voters.iter().any(|(v, _)| *v == id) {
            return Err(format!("node {id} appears twice in the voter list"));
        }
        voters.push((id, addr.to_string()));
    }
    if voters.is_empty() {
        return Err("the voter list is empty".into());
    }
    Ok(voters)
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            node_id: 1,
            data_dir: PathBuf::from("./strata-data"),
            listen: "127.0.0.1:9092".into(),
            advertise_host: "127.0.0.1".into(),
            advertise_port: 9092,
            num_partitions: 1,
            default_replication_factor: 1,
            auto_create_topics: true,
            flush_policy: FlushPolicy::Batch,
            flush_interval: Duration::from_millis(1000),
            socket_request_max_bytes: strata_proto::frame::DEFAULT_MAX_REQUEST_BYTES,
            fetch_max_bytes: DEFAULT_FETCH_MAX_BYTES,
            retention_check_interval: Duration::from_secs(30),
            offsets_topic_num_partitions: 50,
            offsets_retention: Duration::from_secs(7 * 24 * 3600),
            group_initial_rebalance_delay_ms: 3000,
            group_min_session_timeout_ms: 6000,
            group_max_session_timeout_ms: 1_800_000,
            group_max_size: usize::MAX,
            cleaner_io_max_bytes_per_second: None,
            topic_defaults: Default::default(),
            controller_listen: "127.0.0.1:0".into(),
            voters: Vec::new(),
            rack: None,
            broker_heartbeat_interval: Duration::from_millis(100),
            broker_session_timeout: Duration::from_millis(600),
            // A controller that dies is replaced in about 0.6–0.9 s: under librdkafka's
            // one-second leader re-query, so a producer whose partition leader died with
            // the controller gets its first new acknowledgement about 1 s after the kill.
            controller_election_timeout: Duration::from_millis(200),
            replica_lag_time_max: Duration::from_millis(10_000),
        }
    }
}
