//! Start-up, the background tasks and clean shutdown of a broker, in the order they
//! happen. Start-up: the data dir's lock, the listeners bound (before anything slow, so
//! a port in use fails at once), the data dir's identity and log dirs, the metadata
//! quorum, the shared context ([`Broker`]), registration, the logs opened, then the
//! background tasks and the listeners served. Shutdown reverses it: leadership handed
//! away, listeners and tasks stopped, the quorum stopped, every log closed and synced,
//! the clean-shutdown markers written, the locks released.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::future::BoxFuture;
use strata_group::GroupConfig;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::config::BrokerConfig;
use crate::data_dir::{self, load_or_create_identity, DataDirLock};
use crate::group::GroupCoordinator;
use crate::metadata::MetadataManager;
use crate::metrics::Metrics;
use crate::network::{self, tls::Tls, HttpTls};
use crate::replica::ReplicaManager;
use crate::Broker;

/// A started broker: its bound address and the handle to stop it.
pub struct RunningBroker {
    /// The shared broker state.
    pub broker: Arc<Broker>,
    /// The address the Kafka listener is bound to.
    pub local_addr: std::net::SocketAddr,
    tasks: Vec<JoinHandle<()>>,
    listener: JoinHandle<()>,
    /// Held until the logs are closed (dropped with this value otherwise).
    lock: DataDirLock,
    /// The extra log dirs' locks, likewise.
    log_dir_locks: Vec<DataDirLock>,
}

/// What the data dir said at start.
struct OpenedDataDir {
    cluster_id: String,
    /// The previous run stopped cleanly (in every log dir).
    clean: bool,
    log_dirs: crate::replica::LogDirs,
    log_dir_locks: Vec<DataDirLock>,
}

/// The TLS of the two ports outside the Kafka listeners.
struct PortTls {
    http: Option<Arc<HttpTls>>,
    controller: Option<Arc<Tls>>,
}

impl Broker {
    /// Opens the data directory, recovers logs, binds the listener and starts serving.
    ///
    /// Boxed at the crate boundary: a caller awaiting a plain `async fn` compiles the whole
    /// startup and serving state machine again in its own crate (every test binary and the
    /// `strata` binary did, minutes of release build each); through the box it is compiled
    /// once, here.
    pub fn start(config: BrokerConfig) -> BoxFuture<'static, anyhow::Result<RunningBroker>> {
        Box::pin(start_inner(config))
    }

    /// Creates the first admin user's credentials if it has none (see
    /// `auth::bootstrap`).
    async fn create_admin_user(&self) -> anyhow::Result<()> {
        let Some((user, password)) = self.config.admin.clone() else {
            return Ok(());
        };
        let image = self.meta.image();
        let u = user.clone();
        let records = tokio::task::spawn_blocking(move || {
            crate::auth::bootstrap::admin_records(&image, &u, &password)
        })
        .await?;
        if !records.is_empty() {
            self.meta
                .commit(records)
                .await
                .context("cannot store the admin user's credentials")?;
            tracing::info!(%user, "admin user created (SCRAM-SHA-256, SCRAM-SHA-512)");
        }
        Ok(())
    }

    /// Before stopping, asks the controller to move leadership away (when other
    /// brokers can take it) and waits for that to be applied here.
    async fn controlled_shutdown(&self) {
        let image = self.meta.image();
        let others = image
            .brokers()
            .any(|b| b.node_id != self.config.node_id && !b.fenced);
        if !others {
            return;
        }
        let req = crate::controller::ControllerRequest::ControlledShutdown {
            node_id: self.config.node_id,
        };
        // Bounded: without a quorum there is no one to hand leadership to.
        match tokio::time::timeout(Duration::from_secs(3), self.meta.request(&req)).await {
            Ok(Ok(crate::controller::ControllerResponse::Committed { index })) => {
                self.meta.raft().wait_applied(index).await;
                tracing::info!("controlled shutdown: leadership moved away");
            }
            other => tracing::warn!(?other, "controlled shutdown did not complete"),
        }
    }
}

async fn start_inner(config: BrokerConfig) -> anyhow::Result<RunningBroker> {
    config.validate().map_err(anyhow::Error::msg)?;
    let open_files = config.log_open_files_budget();
    strata_log::FileHandles::global().set_limit(open_files);
    tracing::debug!(log_open_files_max = open_files, "log file budget");
    let lock = lock_data_dir(&config).await?;
    let bound = network::bind(config.listeners().map_err(anyhow::Error::msg)?).await?;
    let inter_broker_listener = config.inter_broker_listener().map_err(anyhow::Error::msg)?;
    let listeners: Vec<Arc<network::Endpoint>> = bound.iter().map(|(_, e)| Arc::clone(e)).collect();
    let local_addr = listeners
        .first()
        .context("no Kafka listener is configured")?
        .local_addr;
    let voters = voters(&config);
    let opened = open_data_dir(&config, &voters).await?;
    let ports = port_tls(&config).await?;
    warn_if_controller_port_is_open(&ports, &voters, &listeners);
    let mut raft_opts = raft_options(&config, &voters)?;
    raft_opts.tls = ports
        .controller
        .clone()
        .map(|t| t as Arc<dyn strata_raft::ControllerTls>);
    let meta = MetadataManager::start(raft_opts)
        .await
        .context("cannot start the metadata quorum")?;
    tracing::info!(cluster_id = %opened.cluster_id, node_id = config.node_id,
        clean_shutdown = opened.clean, "opening data dir {}", config.data_dir.display());
    let clean = opened.clean;
    let log_dir_locks = opened.log_dir_locks;
    let replicas = ReplicaManager::new(
        opened.log_dirs,
        config.node_id,
        config.topic_defaults.clone(),
    );
    let parts = Parts {
        cluster_id: opened.cluster_id,
        meta,
        replicas,
        clean,
        listeners,
        inter_broker_listener,
        http_tls: ports.http.clone(),
    };
    let broker = context(config, parts)?;
    broker.serve_controller_requests();
    broker.meta.hook.attach(&broker);
    register(&broker).await?;
    broker.create_admin_user().await?;
    load_logs(&broker, clean).await?;
    let shutdown = broker.stopping.subscribe();
    let tasks = background_tasks(&broker, ports, &shutdown);
    for e in &broker.listeners {
        tracing::info!(listener = %e.config.name, protocol = e.config.protocol.name(),
            local_addr = %e.local_addr, "Kafka listener ready");
    }
    let listener = tokio::spawn(network::run_listeners(bound, Arc::clone(&broker), shutdown));
    Ok(RunningBroker {
        broker,
        local_addr,
        tasks,
        listener,
        lock,
        log_dir_locks,
    })
}

/// Creates the data dir if needed and takes its lock (one process per data dir).
async fn lock_data_dir(config: &BrokerConfig) -> anyhow::Result<DataDirLock> {
    let dir = config.data_dir.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<DataDirLock> {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create data dir {}", dir.display()))?;
        DataDirLock::acquire(&dir)
    })
    .await?
}

/// The metadata quorum's voters: the configured ones, or this node alone.
fn voters(config: &BrokerConfig) -> Vec<(i32, String)> {
    if config.voters.is_empty() {
        vec![(config.node_id, config.controller_listen.clone())]
    } else {
        config.voters.clone()
    }
}

/// The cluster identity (created at first start), whether the last stop was clean (the
/// marker is taken: a crash from here on is unclean), and the log dirs, locked.
async fn open_data_dir(
    config: &BrokerConfig,
    voters: &[(i32, String)],
) -> anyhow::Result<OpenedDataDir> {
    let dir = config.data_dir.clone();
    let node_id = config.node_id;
    let seed = (!config.voters.is_empty()).then(|| format!("{voters:?}"));
    let paths = config.log_dirs();
    tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let cluster_id = load_or_create_identity(&dir, node_id, seed.as_deref())?;
        let clean = data_dir::take_clean_shutdown_marker(&dir)?;
        let opened = data_dir::open_log_dirs(paths, node_id, &cluster_id)?;
        Ok(OpenedDataDir {
            cluster_id,
            clean: clean && opened.clean,
            log_dirs: opened.dirs,
            log_dir_locks: opened.locks,
        })
    })
    .await?
}

/// HTTPS and the controller port's TLS, their files read.
async fn port_tls(config: &BrokerConfig) -> anyhow::Result<PortTls> {
    let http = match config.http_tls().map_err(anyhow::Error::msg)? {
        Some(t) => Some(HttpTls::load(&t).await?),
        None => None,
    };
    let controller = match config.controller_tls().map_err(anyhow::Error::msg)? {
        Some(t) => Some(Tls::load("CONTROLLER", &t).await?),
        None => None,
    };
    Ok(PortTls { http, controller })
}

/// A secured cluster whose controller port is plaintext is open to anyone who reaches
/// that port: said once at start.
fn warn_if_controller_port_is_open(
    ports: &PortTls,
    voters: &[(i32, String)],
    listeners: &[Arc<network::Endpoint>],
) {
    let secured = listeners
        .iter()
        .any(|l| l.config.protocol.tls() || l.config.protocol.sasl());
    if ports.controller.is_none() && voters.len() > 1 && secured {
        tracing::warn!(
            "the controller port is plaintext: anyone who reaches it can join the metadata \
             quorum; map CONTROLLER to SSL in listener.security.protocol.map (mTLS)"
        );
    }
}

/// The Raft node's options: this node among `voters`, its log under the data dir, the
/// election timing from `controller.quorum.election.timeout.ms`.
fn raft_options(
    config: &BrokerConfig,
    voters: &[(i32, String)],
) -> anyhow::Result<strata_raft::RaftOptions> {
    let node = u64::try_from(config.node_id).context("node.id must not be negative")?;
    let mut opts = strata_raft::RaftOptions::new(
        node,
        config.controller_listen.clone(),
        voters
            .iter()
            .map(|(id, addr)| (*id as u64, addr.clone()))
            .collect(),
        config.data_dir.join("__cluster_metadata").join("raft"),
    );
    if let Some((_, addr)) = voters.iter().find(|(id, _)| *id == config.node_id) {
        opts.advertised = Some(addr.clone());
    }
    let election_ms = (config.controller_election_timeout.as_millis() as u64).max(4);
    opts.election_min_ms = election_ms;
    opts.election_max_ms = election_ms * 2;
    opts.heartbeat_ms = election_ms / 4;
    Ok(opts)
}

/// What start-up made before the shared context exists.
struct Parts {
    cluster_id: String,
    meta: MetadataManager,
    replicas: ReplicaManager,
    clean: bool,
    listeners: Vec<Arc<network::Endpoint>>,
    inter_broker_listener: String,
    http_tls: Option<Arc<HttpTls>>,
}

/// The shared context, with the coordinators, authorizer and quotas the settings ask for.
fn context(config: BrokerConfig, parts: Parts) -> anyhow::Result<Arc<Broker>> {
    let group_config = GroupConfig {
        min_session_timeout_ms: config.group_min_session_timeout_ms,
        max_session_timeout_ms: config.group_max_session_timeout_ms,
        initial_rebalance_delay_ms: config.group_initial_rebalance_delay_ms,
        max_size: config.group_max_size,
        ..GroupConfig::default()
    };
    let txn_config = strata_txn::TxnConfig {
        max_timeout_ms: config.transaction_max_timeout_ms,
        id_expiration_ms: config.transactional_id_expiration_ms,
        ..strata_txn::TxnConfig::default()
    };
    let authz = crate::auth::authorizer::AuthzSettings::from_settings(
        &config.security,
        config.admin.as_ref().map(|(u, _)| u.as_str()),
    )
    .map_err(anyhow::Error::msg)?
    .map(crate::auth::authorizer::Authz::new);
    let quotas = crate::quota::Quotas::new(
        &crate::quota::QuotaSettings::parse(&config.security).map_err(anyhow::Error::msg)?,
    );
    let security = crate::auth::Security::new(&config.security);
    let metrics = Metrics::new();
    Ok(Arc::new(Broker {
        config,
        cluster_id: parts.cluster_id,
        meta: parts.meta,
        replicas: parts.replicas,
        groups: GroupCoordinator::new(group_config, metrics.group_rebalance_seconds.clone()),
        metrics,
        decider: tokio::sync::Mutex::new(()),
        controller: Default::default(),
        incarnation: Uuid::new_v4(),
        clean_start: parts.clean,
        producer_ids: Default::default(),
        txn: crate::txn::TxnCoordinator::new(txn_config),
        registry: Default::default(),
        stopping: watch::channel(false).0,
        health_probe: Default::default(),
        listeners: parts.listeners,
        inter_broker_listener: parts.inter_broker_listener,
        security,
        authz,
        http_tls: parts.http_tls,
        quotas,
        replication_throttle: Default::default(),
    }))
}

/// Registers with the controller; the quorum may still be forming (other voters
/// starting), so failures are retried for up to two minutes.
async fn register(broker: &Arc<Broker>) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while let Err(e) = broker.register_self().await {
        anyhow::ensure!(
            Instant::now() < deadline,
            "cannot register with the controller: {e}"
        );
        tracing::info!(error = %e, "waiting for the metadata quorum");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Opens the logs the image gives this broker, removes those it no longer hosts, and
/// loads the group and transaction coordinators' state (blocking work, one hop).
async fn load_logs(broker: &Arc<Broker>, clean: bool) -> anyhow::Result<()> {
    let b = Arc::clone(broker);
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let started = Instant::now();
        let failed = b.replicas.sync_with_image(&b.meta.image(), clean);
        b.replicas.mark_started();
        b.replicas.remove_orphans()?;
        b.groups.start_blocking(&b);
        b.txn.start_blocking(&b);
        tracing::info!(
            partitions = b.replicas.all().len(),
            failed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "logs loaded"
        );
        Ok(())
    })
    .await?
}

/// The broker's background loops, each ending when `shutdown` turns true.
fn background_tasks(
    broker: &Arc<Broker>,
    ports: PortTls,
    shutdown: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let b = || Arc::clone(broker);
    let s = || shutdown.clone();
    let mut tasks = vec![
        tokio::spawn(crate::replica::flush_loop(b(), s())),
        tokio::spawn(crate::controller::controller_loop(b(), s())),
        tokio::spawn(crate::controller::heartbeat_loop(b(), s())),
        tokio::spawn(crate::replication::fetcher_manager(b(), s())),
        tokio::spawn(crate::replication::isr_loop(b(), s())),
        tokio::spawn(crate::replica::retention_loop(b(), s())),
        tokio::spawn(crate::replica::resync_loop(b(), s())),
        tokio::spawn(crate::group::group_loop(b(), s())),
        tokio::spawn(crate::txn::txn_loop(b(), s())),
        tokio::spawn(crate::cleaner::cleaner_loop(b(), s())),
        tokio::spawn(crate::scrubber::scrub_loop(b(), s())),
        tokio::spawn(crate::log_dir_watch::log_dir_loop(b(), s())),
        tokio::spawn(crate::quota::quota_loop(b(), s())),
    ];
    if let Some(tls) = ports.http {
        tasks.push(tokio::spawn(tls.watch_files(s())));
    }
    if let Some(tls) = ports.controller.clone() {
        tasks.push(tokio::spawn(tls.watch_files(s())));
    }
    tasks.push(tokio::spawn(network::tls_dynamic::dynamic_tls_loop(
        b(),
        ports.controller,
        s(),
    )));
    tasks
}

impl RunningBroker {
    /// Stops accepting, lets in-flight requests finish, flushes and closes every log, and
    /// writes the clean-shutdown marker.
    /// Boxed for the same reason as [`Broker::start`].
    pub fn shutdown(self) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(self.shutdown_inner())
    }

    async fn shutdown_inner(self) -> anyhow::Result<()> {
        tracing::info!("shutting down");
        self.broker.controlled_shutdown().await;
        self.broker.stopping.send_replace(true);
        // Parked joins and syncs get NOT_COORDINATOR now rather than at the drain
        // timeout: the members find the coordinator again after the restart.
        self.broker.groups.release_waiters();
        let _ = self.listener.await;
        for mut t in self.tasks {
            // A loop stuck on the metadata quorum (none left to answer) must not hold
            // up the stop: it holds nothing that needs a clean exit.
            if tokio::time::timeout(Duration::from_secs(2), &mut t)
                .await
                .is_err()
            {
                t.abort();
            }
        }
        let broker = self.broker;
        if tokio::time::timeout(Duration::from_secs(3), broker.meta.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("metadata quorum did not stop in time");
        }
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let started = Instant::now();
            let partitions = broker.replicas.all().len();
            broker.replicas.close_all()?;
            tracing::info!(
                partitions,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "logs closed and synced"
            );
            for dir in broker.replicas.log_dirs().all().iter().rev() {
                // The data dir's last: its marker is the one that says "clean".
                if !dir.is_offline() {
                    data_dir::write_clean_shutdown_marker(&dir.path)?;
                }
            }
            Ok(())
        })
        .await??;
        drop(self.log_dir_locks);
        drop(self.lock);
        tracing::info!("shutdown complete");
        Ok(())
    }
}
