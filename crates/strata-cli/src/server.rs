//! `strata server`: flags, `STRATA_*` variables and a TOML file become a
//! [`BrokerConfig`]; then the broker and its HTTP listener run until SIGINT/SIGTERM.
//!
//! Precedence: flag or environment variable, then the config file, then the default.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::signals::Signals;
use anyhow::{bail, Context};
use clap::Args;
use strata_broker::{Broker, BrokerConfig, FlushPolicy};
use strata_meta::topic_config;

/// Options of `strata server`.
#[derive(Args, Debug, Clone, Default)]
pub struct ServerArgs {
    /// TOML file with the same keys as the flags (`data-dir = "..."`) and Kafka-style
    /// broker settings (`"num.partitions" = 3`).
    #[arg(long, env = "STRATA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where partitions and metadata live [default: ./strata-data].
    #[arg(long, env = "STRATA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Kafka listener address [default: 127.0.0.1:9092].
    #[arg(long, env = "STRATA_LISTEN")]
    pub listen: Option<String>,
    /// Address given to clients in metadata [default: the listen address].
    #[arg(long, env = "STRATA_ADVERTISE")]
    pub advertise: Option<String>,
    /// HTTP listener (health, metrics) [default: 127.0.0.1:8080].
    #[arg(long, env = "STRATA_HTTP")]
    pub http: Option<String>,
    /// Schema registry listener (Confluent's REST API), or `off` [default:
    /// 127.0.0.1:8081].
    #[arg(long, env = "STRATA_REGISTRY")]
    pub registry: Option<String>,
    /// This node's id [default: 1].
    #[arg(long, env = "STRATA_NODE_ID")]
    pub node_id: Option<i32>,
    /// Controller (Raft) listener [default: 127.0.0.1:0 when this node is the only
    /// voter, else its address in --voters].
    #[arg(long, env = "STRATA_CONTROLLER_LISTEN")]
    pub controller_listen: Option<String>,
    /// The metadata quorum: `1@HOST:PORT,2@HOST:PORT,...` (node id @ controller
    /// address). Nodes in the list are controllers and brokers; others join as
    /// learners. [default: this node alone]
    #[arg(long, env = "STRATA_VOTERS")]
    pub voters: Option<String>,
    /// This broker's rack, for rack-aware replica placement.
    #[arg(long, env = "STRATA_RACK")]
    pub rack: Option<String>,
    /// The first admin user, created with SCRAM credentials at start if it has none
    /// (a super user). The password comes from STRATA_ADMIN_PASSWORD or the config
    /// file's `admin-password`, never a flag.
    #[arg(long, env = "STRATA_ADMIN_USER")]
    pub admin_user: Option<String>,
    /// See `--admin-user` (environment or config file only).
    #[arg(skip)]
    pub admin_password: Option<String>,
    /// A broker setting by its Kafka name, e.g. `--set num.partitions=3`; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub settings: Vec<String>,
}

/// Everything `strata server` resolved before starting.
#[derive(Debug)]
pub struct ServerPlan {
    /// The broker's configuration.
    pub broker: BrokerConfig,
    /// HTTP bind address.
    pub http: String,
    /// Schema registry bind address; `None` when turned off.
    pub registry: Option<String>,
}

/// Runs the server until a signal; exits cleanly after a clean shutdown.
pub fn run(args: ServerArgs) -> anyhow::Result<()> {
    init_logging();
    let plan = resolve(args)?;
    // Each partition keeps a few files open (active segment, its indexes, sealed logs);
    // the usual soft limit of 1024 would cap a broker at a few hundred partitions.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!(limit = n, "open file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open file limit"),
    }
    if crate::malloc_tuning::apply() {
        tracing::debug!(
            trim_threshold = crate::malloc_tuning::TRIM_THRESHOLD,
            mmap_threshold = crate::malloc_tuning::MMAP_THRESHOLD,
            "malloc tuned"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("strata")
        .build()?;
    runtime.block_on(serve(plan))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal; files and pipes get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

async fn serve(mut plan: ServerPlan) -> anyhow::Result<()> {
    // Signals are taken over first: a SIGTERM while the broker is still starting (loading
    // logs, waiting for the metadata quorum) stops it cleanly instead of killing it.
    let mut signals = Signals::new()?;
    let http_listener = tokio::net::TcpListener::bind(&plan.http)
        .await
        .with_context(|| format!("cannot listen for HTTP on {}", plan.http))?;
    let registry_listener = match &plan.registry {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr).await.with_context(|| {
                format!(
                    "cannot listen for the schema registry on {addr} (--registry off turns it off)"
                )
            })?;
            plan.broker.registry_advertised = Some(registry_advertised(&l, &plan.broker)?);
            Some(l)
        }
        None => None,
    };
    let running = tokio::select! {
        started = Broker::start(plan.broker) => started?,
        sig = signals.recv() => {
            // Startup is abandoned; what it wrote is recovered like after any unclean stop.
            tracing::info!("{sig} received while starting; stopping");
            return Ok(());
        }
    };
    tracing::info!(http = %http_listener.local_addr()?, "HTTP listener ready");
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(strata_http::serve(
        http_listener,
        Arc::clone(&running.broker),
        async move {
            let _ = http_stopped.await;
        },
    ));
    let (stop_registry, registry_stopped) = tokio::sync::oneshot::channel::<()>();
    let registry = registry_listener.map(|l| {
        if let Ok(a) = l.local_addr() {
            tracing::info!(registry = %a, "schema registry listener ready");
        }
        tokio::spawn(strata_http::registry::serve(
            l,
            Arc::clone(&running.broker),
            async move {
                let _ = registry_stopped.await;
            },
        ))
    });
    let sig = signals.recv().await;
    tracing::info!("{sig} received");
    running.shutdown().await?;
    let _ = stop_http.send(());
    let _ = stop_registry.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), http).await;
    if let Some(r) = registry {
        let _ = tokio::time::timeout(Duration::from_secs(5), r).await;
    }
    Ok(())
}

/// The registry address other brokers forward to: the bound port, on the bound address
/// or, when bound to every address, on the Kafka listener's advertised host.
fn registry_advertised(
    listener: &tokio::net::TcpListener,
    broker: &BrokerConfig,
) -> anyhow::Result<(String, i32)> {
    let local = listener.local_addr()?;
    let host = if local.ip().is_unspecified() {
        broker.advertise_host.clone()
    } else {
        local.ip().to_string()
    };
    Ok((host, i32::from(local.port())))
}

/// Merges flags, environment, file and defaults into a plan, validating every value.
pub fn resolve(args: ServerArgs) -> anyhow::Result<ServerPlan> {
    let mut file: BTreeMap<String, String> = BTreeMap::new();
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let table: toml::Table = text
            .parse()
            .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
        for (k, v) in table {
            let v = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Float(f) => f.to_string(),
                other => bail!("config key '{k}': unsupported value {other}"),
            };
            // Kafka settings keep their names; Strata's own keys take `_` or `-`, and
            // `STRATA_ADMIN_USER = "..."` in the file is the same as `admin-user`.
            let k = if k.contains('.') {
                k
            } else {
                let k = k.replace('_', "-").to_ascii_lowercase();
                k.strip_prefix("strata-").unwrap_or(&k).to_string()
            };
            file.insert(k, v);
        }
    }
    let mut c = BrokerConfig::default();
    let pick = |flag: Option<String>, key: &str| flag.or_else(|| file.get(key).cloned());
    if let Some(d) = pick(args.data_dir.map(|p| p.display().to_string()), "data-dir") {
        c.data_dir = PathBuf::from(d);
    }
    if let Some(l) = pick(args.listen, "listen") {
        c.listen = l;
    }
    if let Some(n) = pick(args.node_id.map(|n| n.to_string()), "node-id") {
        c.node_id = n
            .parse()
            .with_context(|| format!("node-id '{n}' is not an integer"))?;
    }
    let advertise = pick(args.advertise, "advertise").unwrap_or_else(|| c.listen.clone());
    let (host, port) = split_host_port(&advertise)
        .with_context(|| format!("advertise address '{advertise}' is not HOST:PORT"))?;
    split_host_port(&c.listen)
        .with_context(|| format!("listen address '{}' is not HOST:PORT", c.listen))?;
    c.advertise_host = host;
    c.advertise_port = port;
    if let Some(v) = pick(args.voters, "voters") {
        c.voters = strata_broker::config::parse_voters(&v).map_err(anyhow::Error::msg)?;
    }
    let controller_listen = pick(args.controller_listen, "controller-listen");
    if let Some(l) = &controller_listen {
        split_host_port(l)
            .with_context(|| format!("controller-listen address '{l}' is not HOST:PORT"))?;
        c.controller_listen = l.clone();
    }
    c.rack = pick(args.rack, "rack");
    let password = args
        .admin_password
        .or_else(|| std::env::var("STRATA_ADMIN_PASSWORD").ok())
        .or_else(|| file.get("admin-password").cloned());
    match (pick(args.admin_user, "admin-user"), password) {
        (Some(u), Some(p)) if !u.is_empty() && !p.is_empty() => c.admin = Some((u, p)),
        (None, None) => {}
        _ => bail!("the admin user needs both STRATA_ADMIN_USER and STRATA_ADMIN_PASSWORD (or admin-user and admin-password in the config file), neither empty"),
    }
    let http = pick(args.http, "http").unwrap_or_else(|| "127.0.0.1:8080".into());
    let registry = match pick(args.registry, "registry") {
        Some(r) if r.eq_ignore_ascii_case("off") => None,
        Some(r) => {
            split_host_port(&r)
                .with_context(|| format!("registry address '{r}' is not HOST:PORT or off"))?;
            Some(r)
        }
        None => Some("127.0.0.1:8081".into()),
    };
    let mut settings: Vec<(String, String)> = file
        .iter()
        .filter(|(k, _)| k.contains('.'))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for s in &args.settings {
        let (k, v) = s
            .split_once('=')
            .with_context(|| format!("--set '{s}' is not KEY=VALUE"))?;
        settings.push((k.trim().to_string(), v.trim().to_string()));
    }
    for (k, v) in settings {
        apply_setting(&mut c, &k, &v)?;
    }
    crate::time_synonyms::apply(&mut c)?;
    // A voter listens where the voter list (`--voters` or `controller.quorum.voters`)
    // says it does.
    if controller_listen.is_none() {
        if let Some((_, addr)) = c.voters.iter().find(|(id, _)| *id == c.node_id) {
            c.controller_listen = addr.clone();
        }
    }
    c.validate().map_err(anyhow::Error::msg)?;
    for k in file.keys().filter(|k| !k.contains('.')) {
        let known = [
            "data-dir",
            "listen",
            "advertise",
            "http",
            "registry",
            "node-id",
            "controller-listen",
            "voters",
            "rack",
            "admin-user",
            "admin-password",
        ];
        if !known.contains(&k.as_str()) {
            bail!("config file: unknown key '{k}'");
        }
    }
    Ok(ServerPlan {
        broker: c,
        http,
        registry,
    })
}

fn split_host_port(s: &str) -> Option<(String, i32)> {
    let (h, p) = s.rsplit_once(':')?;
    let port: u16 = p.parse().ok()?;
    Some((
        h.trim_start_matches('[').trim_end_matches(']').to_string(),
        port as i32,
    ))
}

/// Applies one Kafka-named broker setting.
fn apply_setting(c: &mut BrokerConfig, key: &str, value: &str) -> anyhow::Result<()> {
    let int = |v: &str| -> anyhow::Result<i64> {
        v.parse::<i64>()
            .with_context(|| format!("setting '{key}': '{v}' is not an integer"))
    };
    match key {
        "num.partitions" => {
            let n = int(value)?;
            anyhow::ensure!(
                n >= 1 && n <= i32::MAX as i64,
                "setting 'num.partitions' must be >= 1"
            );
            c.num_partitions = n as i32;
        }
        "default.replication.factor" => {
            let n = int(value)?;
            anyhow::ensure!(
                (1..=i16::MAX as i64).contains(&n),
                "setting 'default.replication.factor' must be >= 1"
            );
            c.default_replication_factor = n as i16;
        }
        "auto.create.topics.enable" => {
            c.auto_create_topics = value
                .parse()
                .with_context(|| format!("setting '{key}': '{value}' is not true or false"))?;
        }
        "log.flush" => c.flush_policy = value.parse::<FlushPolicy>().map_err(anyhow::Error::msg)?,
        "log.flush.interval.ms" => {
            let n = int(value)?;
            anyhow::ensure!(n >= 1, "setting '{key}' must be >= 1");
            c.flush_interval = Duration::from_millis(n as u64);
        }
        "offsets.topic.num.partitions" => {
            let n = int(value)?;
            anyhow::ensure!(
                (1..=10_000).contains(&n),
                "setting '{key}' must be between 1 and 10000"
            );
            c.offsets_topic_num_partitions = n as i32;
        }
        "transaction.max.timeout.ms" | "transaction.state.log.num.partitions" => {
            let n = int(value)?;
            anyhow::ensure!(
                (1..=i32::MAX as i64).contains(&n),
                "setting '{key}' must be a positive 32-bit integer"
            );
            if key == "transaction.max.timeout.ms" {
                c.transaction_max_timeout_ms = n as i32;
            } else {
                anyhow::ensure!(n <= 10_000, "setting '{key}' must be at most 10000");
                c.transaction_state_num_partitions = n as i32;
            }
        }
        "auto.leader.rebalance.enable" => {
            c.auto_leader_rebalance = match value {
                "true" => true,
                "false" => false,
                _ => anyhow::bail!("setting '{key}' must be true or false, not '{value}'"),
            };
        }
        "transaction.partition.verification.enable" => {
            c.transaction_partition_verification_enable = match value {
                "true" => true,
                "false" => false,
                _ => anyhow::bail!("setting '{key}' must be true or false, not '{value}'"),
            };
        }
        "transactional.id.expiration.ms" => {
            let n = int(value)?;
            anyhow::ensure!(n >= 1, "setting '{key}' must be >= 1");
            c.transactional_id_expiration_ms = n;
        }
        "transaction.state.log.replication.factor" | "transaction.state.log.min.isr" => {
            let n = int(value)?;
            anyhow::ensure!(
                (1..=i16::MAX as i64).contains(&n),
                "setting '{key}' must be >= 1"
            );
            if key == "transaction.state.log.min.isr" {
                c.transaction_state_min_isr = n as i16;
            } else {
                c.transaction_state_replication_factor = n as i16;
            }
        }
        "offsets.retention.minutes" => {
            let n = int(value)?;
            anyhow::ensure!(n >= 1, "setting '{key}' must be >= 1");
            c.offsets_retention = Duration::from_secs(n as u64 * 60);
        }
        "group.initial.rebalance.delay.ms" => {
            let n = int(value)?;
            anyhow::ensure!(n >= 0, "setting '{key}' must be >= 0");
            c.group_initial_rebalance_delay_ms = n;
        }
        "group.min.session.timeout.ms" | "group.max.session.timeout.ms" => {
            let n = int(value)?;
            anyhow::ensure!(
                (1..=i32::MAX as i64).contains(&n),
                "setting '{key}' must be a positive 32-bit integer"
            );
            if key == "group.min.session.timeout.ms" {
                c.group_min_session_timeout_ms = n as i32;
            } else {
                c.group_max_session_timeout_ms = n as i32;
            }
        }
        "log.cleaner.io.max.bytes.per.second" => {
            let v: f64 = value
                .parse()
                .with_context(|| format!("setting '{key}': '{value}' is not a number"))?;
            anyhow::ensure!(v > 0.0, "setting '{key}' must be > 0");
            c.cleaner_io_max_bytes_per_second = Some(v);
        }
        "group.max.size" => {
            let n = int(value)?;
            anyhow::ensure!(n >= 1, "setting '{key}' must be >= 1");
            c.group_max_size = n as usize;
        }
        "broker.session.timeout.ms"
        | "broker.heartbeat.interval.ms"
        | "replica.lag.time.max.ms" => {
            let n = int(value)?;
            anyhow::ensure!(n >= 10, "setting '{key}' must be >= 10");
            let d = Duration::from_millis(n as u64);
            match key {
                "broker.session.timeout.ms" => c.broker_session_timeout = d,
                "broker.heartbeat.interval.ms" => c.broker_heartbeat_interval = d,
                _ => c.replica_lag_time_max = d,
            }
        }
        "controller.quorum.election.timeout.ms" => {
            let n = int(value)?;
            anyhow::ensure!(
                (20..=60_000).contains(&n),
                "setting '{key}' must be between 20 and 60000"
            );
            c.controller_election_timeout = Duration::from_millis(n as u64);
        }
        "log.scrub.interval.ms" => {
            let n = int(value)?;
            anyhow::ensure!(
                n >= 0,
                "setting '{key}' must be >= 0 (0 disables the scrubber)"
            );
            c.scrub_interval = Duration::from_millis(n as u64);
        }
        "log.retention.check.interval.ms" => {
            let n = int(value)?;
            anyhow::ensure!(n >= 1, "setting '{key}' must be >= 1");
            c.retention_check_interval = Duration::from_millis(n as u64);
        }
        "socket.request.max.bytes" => {
            let n = int(value)?;
            anyhow::ensure!(
                n >= 1024 && n <= i32::MAX as i64,
                "setting '{key}' must be between 1024 and 2147483647"
            );
            c.socket_request_max_bytes = n as usize;
        }
        "fetch.max.bytes" => {
            let n = int(value)?;
            anyhow::ensure!(
                n >= 1024 && n <= i32::MAX as i64,
                "setting '{key}' must be between 1024 and 2147483647"
            );
            c.fetch_max_bytes = n as usize;
        }
        _ if strata_broker::listeners::is_security_key(key) => {
            c.security.insert(key.to_string(), value.to_string());
        }
        _ => {
            if let Some(r) = strata_broker::config::apply_listener_setting(c, key, value) {
                return r.map_err(anyhow::Error::msg);
            }
            let Some(topic_key) = strata_broker::config::topic_key_for(key) else {
                // Any other Kafka broker setting: identity settings are applied, the
                // rest validated by type and kept; unknown keys are refused.
                return strata_broker::config::broker_defs::apply_kafka_setting(c, key, value)
                    .map_err(anyhow::Error::msg);
            };
            topic_config::validate(topic_key, value)
                .map_err(|e| anyhow::anyhow!("setting '{key}': {e}"))?;
            c.topic_defaults
                .insert(topic_key.to_string(), value.to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_and_settings_are_validated() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:19092\"\nnode_id = 3\n\"num.partitions\" = 4\n\"log.segment.bytes\" = 1048576\n",
        )
        .unwrap();
        let plan = resolve(ServerArgs {
            config: Some(file.clone()),
            listen: Some("127.0.0.1:29092".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(plan.broker.listen, "127.0.0.1:29092");
        assert_eq!(plan.broker.advertise_port, 29092);
        assert_eq!(plan.broker.node_id, 3);
        assert_eq!(plan.broker.num_partitions, 4);
        assert_eq!(plan.broker.topic_defaults["segment.bytes"], "1048576");

        let err = resolve(ServerArgs {
            settings: vec!["log.retention.ms=soon".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("log.retention.ms"), "{err:#}");
        let err = resolve(ServerArgs {
            settings: vec!["bogus.key=1".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("bogus.key"));
    }

    #[test]
    fn every_kafka_broker_setting_is_accepted() {
        let plan = resolve(ServerArgs {
            settings: vec![
                "sasl.kerberos.min.time.before.relogin=120000".into(),
                "ssl.keystore.password=hunter2".into(),
                "num.io.threads=16".into(),
                "controller.quorum.voters=4@127.0.0.1:19093".into(),
                "node.id=4".into(),
            ],
            ..Default::default()
        })
        .unwrap();
        let c = &plan.broker;
        assert_eq!(c.kept["sasl.kerberos.min.time.before.relogin"], "120000");
        assert_eq!(c.kept["num.io.threads"], "16");
        assert_eq!(c.security["ssl.keystore.password"], "hunter2");
        assert_eq!(c.node_id, 4);
        assert_eq!(c.controller_listen, "127.0.0.1:19093");
        let err = resolve(ServerArgs {
            settings: vec!["num.io.threads=lots".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("num.io.threads"), "{err:#}");
    }
}
