//! Broker configuration: the `strata server` flags, TOML file and `STRATA_*` variables
//! all end up in one [`BrokerConfig`].

use std::collections::BTreeMap;
use std::net::{IpAddr, ToSocketAddrs};
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

pub mod broker_defs;

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
    /// Root of the metadata log and the first log directory.
    pub data_dir: PathBuf,
    /// `log.dirs`: every directory partition logs are placed in (Kafka's JBOD). Empty:
    /// `data_dir` alone. When set, `data_dir` is its first entry.
    pub log_dirs: Vec<PathBuf>,
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
    /// `queued.max.request.bytes`: request bytes being read or waiting for their handler,
    /// broker-wide; above it the broker stops reading sockets. At least
    /// `socket.request.max.bytes`.
    pub queued_max_request_bytes: usize,
    /// `max.connections`: open client connections at most; at the limit the listener
    /// stops accepting until one closes. Also capped by the open-file limit.
    pub max_connections: usize,
    /// `log.open.files.max` (Strata's own): segment and index files kept open at once,
    /// across every partition; more are opened on demand, closing the least recently
    /// used. 0 (the default): a quarter of the open-file limit less 256 for other files,
    /// at least 64 (`max.connections` gets at most three quarters).
    pub log_open_files_max: usize,
    /// `metrics.partition.level` (Strata's own): `/metrics` has per-partition series
    /// (log sizes and offsets, replica lag, consumer lag per partition). Per-topic and
    /// per-group sums are always there. Default true; turn it off with very many
    /// partitions to keep scrapes small.
    pub metrics_partition_level: bool,
    /// `fetch.sendfile`: Fetch responses on plain TCP send cached, already checked record
    /// ranges with `sendfile(2)` (no copy through user space).
    pub fetch_sendfile: bool,
    /// `max.connections.per.ip`: connections from one address at most; more are closed at
    /// once.
    pub max_connections_per_ip: usize,
    /// `max.connections.per.ip.overrides`, host names resolved to addresses.
    pub max_connections_per_ip_overrides: BTreeMap<IpAddr, usize>,
    /// `connections.max.idle.ms`: a connection with no request arriving or in flight for
    /// this long is closed.
    pub connections_max_idle: Duration,
    /// `socket.request.read.timeout.ms`: a request whose first byte has arrived must be
    /// complete within this (not counting time waiting for `queued.max.request.bytes`).
    pub socket_request_read_timeout: Duration,
    /// Limits of the HTTP listener.
    pub http: HttpLimits,
    /// `http.ui.read.only`: the admin API (`/api/v1`) refuses every change with 403.
    pub http_ui_read_only: bool,
    /// How often retention and `segment.ms` rolls are checked.
    pub retention_check_interval: Duration,
    /// `log.scrub.interval.ms`: how often every sealed segment is checked in the
    /// background (CRC-32C, offsets) and repaired; zero disables it.
    pub scrub_interval: Duration,
    /// `offsets.topic.num.partitions`: partitions of `__consumer_offsets`.
    pub offsets_topic_num_partitions: i32,
    /// `offsets.retention.minutes`: committed offsets of an empty group expire after this.
    pub offsets_retention: Duration,
    /// `group.initial.rebalance.delay.ms`: how long a new group waits for more members.
    pub group_initial_rebalance_delay_ms: i64,
    /// `transaction.max.timeout.ms`: larger `transaction.timeout.ms` are refused.
    pub transaction_max_timeout_ms: i32,
    /// `transactional.id.expiration.ms`: an idle transactional id is forgotten after this.
    pub transactional_id_expiration_ms: i64,
    /// `transaction.partition.verification.enable` (KIP-890): a transactional batch of
    /// a producer with no open transaction in the partition is appended only once its
    /// coordinator confirms the partition is in the producer's transaction.
    pub transaction_partition_verification_enable: bool,
    /// `transaction.state.log.num.partitions`: partitions of `__transaction_state`.
    pub transaction_state_num_partitions: i32,
    /// `transaction.state.log.replication.factor` (capped at the live brokers).
    pub transaction_state_replication_factor: i16,
    /// `transaction.state.log.min.isr` (capped at the replication factor).
    pub transaction_state_min_isr: i16,
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
    /// `auto.leader.rebalance.enable`: the controller moves leadership back to each
    /// partition's preferred replica on its own (else only ElectLeaders does).
    pub auto_leader_rebalance: bool,
    /// `controller.quorum.election.timeout.ms`: the shortest Raft election timeout (a voter
    /// draws its timeout between this and twice this; the leader heartbeats every quarter
    /// of it). A voter campaigns once the leader's lease (twice this) and its own timeout
    /// have passed without hearing from the leader.
    pub controller_election_timeout: Duration,
    /// Broker-level defaults for topic configs (`log.segment.bytes` → `segment.bytes`, ...),
    /// keyed by the topic config name.
    pub topic_defaults: std::collections::BTreeMap<String, String>,
    /// Listener and security settings by their Kafka names (`listeners`, `ssl.*`,
    /// `sasl.*`, `listener.name.<l>.*`, ...), resolved by [`BrokerConfig::listeners`].
    pub security: BTreeMap<String, String>,
    /// The first admin user (`STRATA_ADMIN_USER` / `STRATA_ADMIN_PASSWORD`): created
    /// at start with SCRAM credentials if it has none, and a super user.
    pub admin: Option<(String, String)>,
    /// The schema registry listener's advertised address (host, port), registered so
    /// other brokers can send registry writes to this one; `None` without a registry.
    pub registry_advertised: Option<(String, i32)>,
    /// Kafka broker settings Strata accepts (validated by type) and reports but does
    /// not act on (see [`broker_defs`]), by their Kafka names.
    pub kept: BTreeMap<String, String>,
}

/// Limits of the HTTP listener (`http.*` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// `http.max.connections`: more are answered 503 and closed.
    pub max_connections: usize,
    /// `http.header.read.timeout.ms`: a connection that has not sent a whole request head
    /// within this (an idle keep-alive connection included) is closed.
    pub header_read_timeout: Duration,
    /// `http.request.timeout.ms`: a request not answered within this gets 408; a response
    /// the client does not take within this closes the connection.
    pub request_timeout: Duration,
    /// `http.max.request.bytes`: larger request bodies get 413.
    pub max_request_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_request_bytes: 1 << 20,
        }
    }
}

/// Default `queued.max.request.bytes`: five largest requests (`socket.request.max.bytes`
/// is 100 MiB), or thousands of ordinary ones.
pub const DEFAULT_QUEUED_MAX_REQUEST_BYTES: usize = 512 * 1024 * 1024;

/// `connections.max.idle.ms = -1`: never (about 136 years).
pub(crate) const NEVER: Duration = Duration::from_secs(u32::MAX as u64);

/// Applies a listener setting: `max.connections`, `max.connections.per.ip`,
/// `max.connections.per.ip.overrides`, `connections.max.idle.ms`,
/// `socket.request.read.timeout.ms`, `queued.max.request.bytes` and `http.*`. `None` if
/// `key` is not one of them. Cross-setting rules are in [`BrokerConfig::validate`].
pub fn apply_listener_setting(
    c: &mut BrokerConfig,
    key: &str,
    value: &str,
) -> Option<Result<(), String>> {
    let int = |min: i64| -> Result<i64, String> {
        let n: i64 = value
            .trim()
            .parse()
            .map_err(|_| format!("setting '{key}': '{value}' is not an integer"))?;
        if n < min {
            return Err(format!("setting '{key}' must be >= {min}"));
        }
        Ok(n)
    };
    let ms = |min: i64| int(min).map(|n| Duration::from_millis(n as u64));
    let boolean = || match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!(
            "setting '{key}' must be true or false, not '{value}'"
        )),
    };
    let result = match key {
        "max.connections" => int(1).map(|n| c.max_connections = n as usize),
        "max.connections.per.ip" => int(0).map(|n| c.max_connections_per_ip = n as usize),
        "log.open.files.max" => int(0).map(|n| c.log_open_files_max = n as usize),
        "metrics.partition.level" => boolean().map(|b| c.metrics_partition_level = b),
        "fetch.sendfile" => boolean().map(|b| c.fetch_sendfile = b),
        "max.connections.per.ip.overrides" => parse_ip_overrides(value)
            .map(|o| c.max_connections_per_ip_overrides = o)
            .map_err(|e| format!("setting '{key}': {e}")),
        "connections.max.idle.ms" => int(-1)
            .and_then(|n| match n {
                0 => Err(format!("setting '{key}' must be >= 1, or -1 for never")),
                -1 => Ok(NEVER),
                n => Ok(Duration::from_millis(n as u64)),
            })
            .map(|d| c.connections_max_idle = d),
        "socket.request.read.timeout.ms" => ms(1).map(|d| c.socket_request_read_timeout = d),
        "queued.max.request.bytes" => int(1).map(|n| c.queued_max_request_bytes = n as usize),
        "http.max.connections" => int(1).map(|n| c.http.max_connections = n as usize),
        "http.header.read.timeout.ms" => ms(1).map(|d| c.http.header_read_timeout = d),
        "http.request.timeout.ms" => ms(1).map(|d| c.http.request_timeout = d),
        "http.max.request.bytes" => int(0).map(|n| c.http.max_request_bytes = n as usize),
        "http.ui.read.only" => match value.trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!(
                "setting '{key}' must be true or false, not '{value}'"
            )),
        }
        .map(|b| c.http_ui_read_only = b),
        _ => return None,
    };
    Some(result)
}

/// Parses `max.connections.per.ip.overrides`: `host1:100,127.0.0.1:200` (Kafka's format;
/// an IPv6 address in brackets). Host names are resolved now; every address a name has
/// gets its limit.
pub fn parse_ip_overrides(s: &str) -> Result<BTreeMap<IpAddr, usize>, String> {
    let mut out = BTreeMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (host, n) = part
            .rsplit_once(':')
            .ok_or_else(|| format!("'{part}' is not HOST:COUNT"))?;
        let n: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("'{part}': '{n}' is not a connection count"))?;
        let host = host.trim().trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => (host, 0)
                .to_socket_addrs()
                .map_err(|e| format!("'{part}': cannot resolve '{host}': {e}"))?
                .map(|a| a.ip().to_canonical())
                .collect(),
        };
        for ip in addrs {
            out.insert(ip.to_canonical(), n);
        }
    }
    Ok(out)
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
            log_dirs: Vec::new(),
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
            queued_max_request_bytes: DEFAULT_QUEUED_MAX_REQUEST_BYTES,
            // Kafka's default (unlimited); the open-file limit caps it at start.
            max_connections: i32::MAX as usize,
            max_connections_per_ip: i32::MAX as usize,
            log_open_files_max: 0,
            metrics_partition_level: true,
            fetch_sendfile: true,
            max_connections_per_ip_overrides: BTreeMap::new(),
            connections_max_idle: Duration::from_secs(600),
            socket_request_read_timeout: Duration::from_secs(30),
            http: HttpLimits::default(),
            http_ui_read_only: false,
            retention_check_interval: Duration::from_secs(30),
            scrub_interval: crate::scrubber::DEFAULT_SCRUB_INTERVAL,
            offsets_topic_num_partitions: 50,
            offsets_retention: Duration::from_secs(7 * 24 * 3600),
            transaction_max_timeout_ms: 900_000,
            transactional_id_expiration_ms: 604_800_000,
            transaction_partition_verification_enable: true,
            transaction_state_num_partitions: 50,
            transaction_state_replication_factor: 3,
            transaction_state_min_isr: 2,
            group_initial_rebalance_delay_ms: 3000,
            group_min_session_timeout_ms: 6000,
            group_max_session_timeout_ms: 1_800_000,
            group_max_size: usize::MAX,
            cleaner_io_max_bytes_per_second: None,
            topic_defaults: Default::default(),
            security: BTreeMap::new(),
            admin: None,
            registry_advertised: None,
            kept: BTreeMap::new(),
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
            auto_leader_rebalance: true,
        }
    }
}

impl BrokerConfig {
    /// The open-file budget of the logs: `log.open.files.max`, or derived from the
    /// process's open-file limit when 0.
    pub fn log_open_files_budget(&self) -> usize {
        if self.log_open_files_max > 0 {
            return self.log_open_files_max;
        }
        let soft = open_file_limit().unwrap_or(1024);
        (soft / 4).saturating_sub(256).max(64)
    }

    /// The Kafka listeners: `listeners` and its companions, else one PLAINTEXT listener
    /// at `listen`.
    pub fn listeners(&self) -> Result<Vec<crate::listeners::ListenerConfig>, String> {
        crate::listeners::resolve(
            &self.security,
            &self.listen,
            (&self.advertise_host, self.advertise_port),
        )
    }

    /// The name of the listener other brokers replicate through.
    pub fn inter_broker_listener(&self) -> Result<String, String> {
        crate::listeners::inter_broker_listener(&self.security, &self.listeners()?)
    }

    /// The controller port's TLS settings (`None`: plain TCP).
    pub fn controller_tls(&self) -> Result<Option<crate::listeners::TlsSettings>, String> {
        crate::listeners::controller_tls(&self.security)
    }

    /// The HTTP listener's TLS settings (`None`: plain HTTP).
    pub fn http_tls(&self) -> Result<Option<crate::listeners::TlsSettings>, String> {
        crate::listeners::http_tls(&self.security)
    }

    /// Rules between settings; the error names the settings involved.
    /// The directories partition logs live in: `log.dirs`, or the data dir alone. The
    /// first is the data dir (the metadata log's home).
    pub fn log_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.data_dir.clone()];
        for d in &self.log_dirs {
            if !dirs.contains(d) {
                dirs.push(d.clone());
            }
        }
        dirs
    }

    pub fn validate(&self) -> Result<(), String> {
        let inter_broker = self.inter_broker_listener()?;
        // Other brokers replicate through it (a lone node has no followers).
        if self.voters.len() > 1 {
            crate::listeners::check_inter_broker(
                &self.security,
                &self.listeners()?,
                &inter_broker,
                self.admin.is_some(),
            )?;
        }
        self.controller_tls()?;
        self.http_tls()?;
        crate::auth::authorizer::AuthzSettings::from_settings(
            &self.security,
            self.admin.as_ref().map(|(u, _)| u.as_str()),
        )?;
        if self.queued_max_request_bytes < self.socket_request_max_bytes {
            return Err(format!(
                "queued.max.request.bytes ({}) must be at least socket.request.max.bytes ({}): \
                 a request of the largest allowed size could never be read",
                self.queued_max_request_bytes, self.socket_request_max_bytes
            ));
        }
        if self.max_connections_per_ip == 0 && self.max_connections_per_ip_overrides.is_empty() {
            return Err(
                "max.connections.per.ip may be 0 only with max.connections.per.ip.overrides \
                 (else no client could connect)"
                    .into(),
            );
        }
        Ok(())
    }
}

/// The process's soft open-file limit (`RLIMIT_NOFILE`), shared out between connections
/// (`max.connections`) and log files (`log.open.files.max`).
pub(crate) fn open_file_limit() -> Option<usize> {
    let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).ok()?;
    Some(usize::try_from(soft).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_settings_parse_and_validate() {
        let mut c = BrokerConfig::default();
        assert_eq!(c.validate(), Ok(()));
        for (k, v) in [
            ("max.connections", "100"),
            ("max.connections.per.ip", "10"),
            (
                "max.connections.per.ip.overrides",
                "localhost:20, 127.0.0.2:0,[::1]:5",
            ),
            ("connections.max.idle.ms", "-1"),
            ("socket.request.read.timeout.ms", "500"),
            ("queued.max.request.bytes", "209715200"),
            ("http.max.request.bytes", "0"),
            ("http.ui.read.only", "true"),
        ] {
            apply_listener_setting(&mut c, k, v).unwrap().unwrap();
        }
        assert!(c.http_ui_read_only);
        assert_eq!(c.max_connections, 100);
        let o = &c.max_connections_per_ip_overrides;
        assert_eq!(o[&"127.0.0.1".parse::<IpAddr>().unwrap()], 20);
        assert_eq!(o[&"127.0.0.2".parse::<IpAddr>().unwrap()], 0);
        assert_eq!(o[&"::1".parse::<IpAddr>().unwrap()], 5);
        assert_eq!(c.connections_max_idle, NEVER);
        assert_eq!(c.socket_request_read_timeout, Duration::from_millis(500));
        assert_eq!(c.validate(), Ok(()));

        assert!(apply_listener_setting(&mut c, "num.partitions", "1").is_none());
        for (k, v) in [
            ("max.connections", "0"),
            ("connections.max.idle.ms", "0"),
            ("max.connections.per.ip.overrides", "127.0.0.1"),
            ("max.connections.per.ip.overrides", "127.0.0.1:x"),
            ("http.ui.read.only", "yes"),
            ("queued.max.request.bytes", "lots"),
        ] {
            let e = apply_listener_setting(&mut c, k, v).unwrap().unwrap_err();
            assert!(e.contains(k), "{e}");
        }
        c.queued_max_request_bytes = c.socket_request_max_bytes - 1;
        let e = c.validate().unwrap_err();
        assert!(
            e.contains("queued.max.request.bytes") && e.contains("socket.request.max.bytes"),
            "{e}"
        );
        c.queued_max_request_bytes = DEFAULT_QUEUED_MAX_REQUEST_BYTES;
        c.max_connections_per_ip = 0;
        c.max_connections_per_ip_overrides.clear();
        assert!(c.validate().unwrap_err().contains("max.connections.per.ip"));
    }
}
