//! Broker start-up, background tasks and clean shutdown.

use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use strata_meta::MetadataRecord;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::config::BrokerConfig;
use crate::data_dir::{self, load_or_create_identity, DataDirLock};
use crate::group::GroupCoordinator;
use crate::metadata::MetadataManager;
use crate::metrics::Metrics;
use crate::network;
use crate::replica::ReplicaManager;
use strata_group::GroupConfig;

/// Shared state of a running broker, handed to every request handler.
pub struct Broker {
    /// Configuration it was started with.
    pub config: BrokerConfig,
    /// Cluster id, fixed when the data directory was first used.
    pub cluster_id: String,
    /// Metadata image and log.
    pub meta: MetadataManager,
    /// Partition replicas hosted here.
    pub replicas: ReplicaManager,
    /// Prometheus metrics.
    pub metrics: Metrics,
    // This broker's decisions are made one at a time (fewer conflicts at the
    // controller); the controller itself refuses any decided on a stale image.
    pub(crate) decider: tokio::sync::Mutex<()>,
    /// Leader-only controller state.
    pub(crate) controller: crate::controller::ControllerState,
    /// Identifies this run of the broker in its registration.
    pub(crate) incarnation: Uuid,
    /// Whether the previous run stopped cleanly (logs may skip the recovery scan).
    pub(crate) clean_start: bool,
    pub(crate) producer_ids: parking_lot::Mutex<crate::producer_ids::ProducerIdBlock>,
    /// Consumer groups and committed offsets.
    pub groups: GroupCoordinator,
    /// Transactions (`__transaction_state`).
    pub txn: crate::txn::TxnCoordinator,
    /// The schema registry's copy of `_schemas` and its writer.
    pub registry: crate::registry::RegistryService,
    /// Turns true when the broker stops: background loops end, parked requests
    /// (long-poll fetches, group joins) are answered at once.
    pub(crate) stopping: watch::Sender<bool>,
    /// The last data-dir write probe of the readiness check.
    pub(crate) health_probe: crate::health::ProbeCache,
    /// The Kafka listeners, bound.
    pub listeners: Vec<Arc<network::Endpoint>>,
    /// The listener other brokers replicate through (`inter.broker.listener.name`).
    pub inter_broker_listener: String,
    /// Authentication state (SASL).
    pub(crate) security: crate::auth::Security,
    /// The authorizer (`authorizer.class.name`), if configured.
    pub(crate) authz: Option<crate::auth::authorizer::Authz>,
    /// HTTPS for the HTTP listener, when configured.
    pub(crate) http_tls: Option<Arc<network::HttpTls>>,
    /// Client quotas and connection-creation rates.
    pub(crate) quotas: crate::quota::Quotas,
    /// Leader-side replication throttle (reassignments).
    pub(crate) replication_throttle: crate::replication::throttle::ReplicationThrottle,
}

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

impl Broker {
    /// Opens the data directory, recovers logs, binds the listener and starts serving.
    ///
    /// Boxed at the crate boundary: a caller awaiting a plain `async fn` compiles the whole
    /// startup and serving state machine again in its own crate (every test binary and the
    /// `strata` binary did, minutes of release build each); through the box it is compiled
    /// once, here.
    pub fn start(config: BrokerConfig) -> BoxFuture<'static, anyhow::Result<RunningBroker>> {
        Box::pin(Self::start_inner(config))
    }

    async fn start_inner(config: BrokerConfig) -> anyhow::Result<RunningBroker> {
        config.validate().map_err(anyhow::Error::msg)?;
        let open_files = config.log_open_files_budget();
        strata_log::FileHandles::global().set_limit(open_files);
        tracing::debug!(log_open_files_max = open_files, "log file budget");
        let data_dir = config.data_dir.clone();
        let lock = {
            let dir = data_dir.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<DataDirLock> {
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create data dir {}", dir.display()))?;
                DataDirLock::acquire(&dir)
            })
            .await??
        };
        let bound = network::bind(config.listeners().map_err(anyhow::Error::msg)?).await?;
        let inter_broker_listener = config.inter_broker_listener().map_err(anyhow::Error::msg)?;
        let listeners: Vec<Arc<network::Endpoint>> =
            bound.iter().map(|(_, e)| Arc::clone(e)).collect();
        let local_addr = listeners[0].local_addr;
        let node_id = config.node_id;
        let voters = if config.voters.is_empty() {
            vec![(node_id, config.controller_listen.clone())]
        } else {
            config.voters.clone()
        };
        let (cluster_id, clean, log_dirs) = {
            let dir = data_dir.clone();
            let seed = (!config.voters.is_empty()).then(|| format!("{voters:?}"));
            let paths = config.log_dirs();
            tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let cluster_id = load_or_create_identity(&dir, node_id, seed.as_deref())?;
                let clean = data_dir::take_clean_shutdown_marker(&dir)?;
                let log_dirs = data_dir::open_log_dirs(paths, node_id, &cluster_id)?;
                Ok((cluster_id, clean && log_dirs.clean, log_dirs))
            })
            .await??
        };
        let data_dir::OpenedLogDirs {
            dirs: log_dirs,
            locks: log_dir_locks,
            ..
        } = log_dirs;
        let node = u64::try_from(node_id).context("node.id must not be negative")?;
        let mut raft_opts = strata_raft::RaftOptions::new(
            node,
            config.controller_listen.clone(),
            voters
                .iter()
                .map(|(id, addr)| (*id as u64, addr.clone()))
                .collect(),
            data_dir.join("__cluster_metadata").join("raft"),
        );
        if let Some((_, addr)) = voters.iter().find(|(id, _)| *id == node_id) {
            raft_opts.advertised = Some(addr.clone());
        }
        let election_ms = (config.controller_election_timeout.as_millis() as u64).max(4);
        raft_opts.election_min_ms = election_ms;
        raft_opts.election_max_ms = election_ms * 2;
        raft_opts.heartbeat_ms = election_ms / 4;
        let http_tls = match config.http_tls().map_err(anyhow::Error::msg)? {
            Some(t) => Some(network::HttpTls::load(&t).await?),
            None => None,
        };
        let controller_tls = match config.controller_tls().map_err(anyhow::Error::msg)? {
            Some(t) => Some(network::tls::Tls::load("CONTROLLER", &t).await?),
            None => None,
        };
        raft_opts.tls = controller_tls
            .clone()
            .map(|t| t as Arc<dyn strata_raft::ControllerTls>);
        if controller_tls.is_none()
            && voters.len() > 1
            && listeners
                .iter()
                .any(|l| l.config.protocol.tls() || l.config.protocol.sasl())
        {
            tracing::warn!(
                "the controller port is plaintext: anyone who reaches it can join the metadata                  quorum; map CONTROLLER to SSL in listener.security.protocol.map (mTLS)"
            );
        }
        let meta = MetadataManager::start(raft_opts)
            .await
            .context("cannot start the metadata quorum")?;
        tracing::info!(%cluster_id, node_id, clean_shutdown = clean, "opening data dir {}", data_dir.display());
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
        let replicas = ReplicaManager::new(log_dirs, node_id, config.topic_defaults.clone());
        let config_security = config.security.clone();
        let authz = crate::auth::authorizer::AuthzSettings::from_settings(
            &config.security,
            config.admin.as_ref().map(|(u, _)| u.as_str()),
        )
        .map_err(anyhow::Error::msg)?
        .map(crate::auth::authorizer::Authz::new);
        let quotas = crate::quota::Quotas::new(
            &crate::quota::QuotaSettings::parse(&config.security).map_err(anyhow::Error::msg)?,
        );
        let metrics = Metrics::new();
        let broker = Arc::new(Broker {
            config,
            cluster_id,
            meta,
            replicas,
            groups: GroupCoordinator::new(group_config, metrics.group_rebalance_seconds.clone()),
            metrics,
            decider: tokio::sync::Mutex::new(()),
            controller: Default::default(),
            incarnation: Uuid::new_v4(),
            clean_start: clean,
            producer_ids: Default::default(),
            txn: crate::txn::TxnCoordinator::new(txn_config),
            registry: Default::default(),
            stopping: watch::channel(false).0,
            health_probe: Default::default(),
            listeners,
            inter_broker_listener,
            security: crate::auth::Security::new(&config_security),
            authz,
            http_tls: http_tls.clone(),
            quotas,
            replication_throttle: Default::default(),
        });
        broker.serve_controller_requests();
        broker.meta.hook.attach(&broker);
        // The quorum may still be forming (other voters starting): keep trying.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while let Err(e) = broker.register_self().await {
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "cannot register with the controller: {e}"
            );
            tracing::info!(error = %e, "waiting for the metadata quorum");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        broker.create_admin_user().await?;
        {
            let b = Arc::clone(&broker);
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                let started = std::time::Instant::now();
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
            .await??;
        }
        let shutdown_rx = broker.stopping.subscribe();
        let mut tasks = vec![
            tokio::spawn(crate::replica::flush_loop(
                Arc::clone(&broker),
                shutdown_rx.clone(),
            )),
            tokio::spawn(crate::controller::controller_loop(
                Arc::clone(&broker),
                shutdown_rx.clone(),
            )),
            tokio::spawn(crate::controller::heartbeat_loop(
                Arc::clone(&broker),
                shutdown_rx.clone(),
            )),
            tokio::spawn(crate::replication::fetcher_manager(
                Arc::clone(&broker),
                shutdown_rx.clone(),
            )),
            tokio::spawn(crate::replication::isr_loop(
                Arc::clone(&broker),
                shutdown_rx.clone(),
            )),
            tokio::spawn(crate::replica::retention_loop(
                Arc::clone(&broker),
                shutdown_rx.clone(),
            )),
            tokio::spawn(crate::replica::resync_loop(
                Arc::clone(&broker),
                shutdown_rx.clone(),
            )),
            tokio::spawn(crate::group::group_loop(
                Arc::clone(&broker),
                shutdown_rx.clone(),
            )),
            tokio::spawn(crate::txn::txn_loop(
                Arc::clone(&broker),
                shutdown_rx.clone(),
            )),
            tokio::spawn(crate::cleaner::cleaner_loop(
                Arc::clone(&broker),
                shutdown_rx.clone(),
            )),
            tokio::spawn(crate::scrubber::scrub_loop(
                Arc::clone(&broker),
                shutdown_rx.clone(),
            )),
            tokio::spawn(crate::log_dir_watch::log_dir_loop(
                Arc::clone(&broker),
                shutdown_rx.clone(),
            )),
            tokio::spawn(crate::quota::quota_loop(
                Arc::clone(&broker),
                shutdown_rx.clone(),
            )),
        ];
        if let Some(tls) = http_tls {
            tasks.push(tokio::spawn(tls.watch_files(shutdown_rx.clone())));
        }
        if let Some(tls) = controller_tls.clone() {
            tasks.push(tokio::spawn(tls.watch_files(shutdown_rx.clone())));
        }
        tasks.push(tokio::spawn(network::tls_dynamic::dynamic_tls_loop(
            Arc::clone(&broker),
            controller_tls,
            shutdown_rx.clone(),
        )));
        for e in &broker.listeners {
            tracing::info!(listener = %e.config.name, protocol = e.config.protocol.name(),
                local_addr = %e.local_addr, "Kafka listener ready");
        }
        let listener = tokio::spawn(network::run_listeners(
            bound,
            Arc::clone(&broker),
            shutdown_rx,
        ));
        Ok(RunningBroker {
            broker,
            local_addr,
            tasks,
            listener,
            lock,
            log_dir_locks,
        })
    }

    /// Registers this run of the broker (endpoints, rack, incarnation); a fenced
    /// broker is unfenced by it.
    pub(crate) async fn register_self(&self) -> anyhow::Result<()> {
        let c = &self.config;
        let endpoints = self.endpoints();
        let own = endpoints
            .iter()
            .find(|e| e.listener == self.inter_broker_listener)
            .unwrap_or(&endpoints[0]);
        self.meta
            .commit(vec![MetadataRecord::RegisterBroker {
                node_id: c.node_id,
                host: own.host.clone(),
                port: own.port,
                rack: c.rack.clone(),
                incarnation: self.incarnation,
                endpoints: self.endpoints(),
            }])
            .await?;
        Ok(())
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

    /// HTTPS settings for the HTTP listener (`None`: plain HTTP).
    pub fn http_tls(&self) -> Option<Arc<network::HttpTls>> {
        self.http_tls.clone()
    }

    /// The authorizer as of the current image, if one is configured.
    pub(crate) fn authorizer_now(&self) -> Option<Arc<strata_auth::acl::Authorizer>> {
        let authz = self.authz.as_ref()?;
        Some(authz.for_image(&self.meta.image()))
    }

    /// What `caller` may do (a snapshot of the ACLs for one request).
    pub(crate) fn access(
        &self,
        caller: &crate::handlers::Caller,
    ) -> crate::auth::authorizer::Access {
        crate::auth::authorizer::Access::new(
            self.authorizer_now(),
            std::sync::Arc::clone(&caller.principal),
            caller.peer.ip().to_canonical(),
        )
    }

    /// Every listener's advertised address, for the registration.
    /// Every listener's advertised address, and the schema registry's (as the endpoint
    /// [`crate::registry::REGISTRY_ENDPOINT`], which no Kafka listener is named), for the
    /// registration.
    pub(crate) fn endpoints(&self) -> Vec<strata_meta::records::BrokerEndpoint> {
        let mut out: Vec<_> = self
            .listeners
            .iter()
            .map(|e| strata_meta::records::BrokerEndpoint {
                listener: e.config.name.clone(),
                host: e.config.advertised_host.clone(),
                port: e.advertised_port(),
                security_protocol: e.config.protocol.id(),
            })
            .collect();
        if let Some((host, port)) = &self.config.registry_advertised {
            out.push(strata_meta::records::BrokerEndpoint {
                listener: crate::registry::REGISTRY_ENDPOINT.to_string(),
                host: host.clone(),
                port: *port,
                security_protocol: 0,
            });
        }
        out
    }

    /// Commits metadata records and brings the hosted replicas in line with the result.
    pub async fn apply_metadata(
        self: &Arc<Self>,
        records: Vec<MetadataRecord>,
    ) -> anyhow::Result<()> {
        // The apply hook opens new logs before the image is published.
        self.meta.commit(records).await?;
        Ok(())
    }

    /// `log.cleaner.io.max.bytes.per.second`: dynamic value, else static, else unlimited.
    pub(crate) fn cleaner_io_limit(&self) -> f64 {
        const KEY: &str = "log.cleaner.io.max.bytes.per.second";
        let image = self.meta.image();
        [Some(self.config.node_id), None]
            .into_iter()
            .find_map(|scope| {
                image
                    .broker_configs(scope)
                    .and_then(|c| c.get(KEY))
                    .cloned()
            })
            .or_else(|| {
                self.config
                    .cleaner_io_max_bytes_per_second
                    .map(|v| v.to_string())
            })
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::INFINITY)
    }
}

impl Broker {
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
        match tokio::time::timeout(std::time::Duration::from_secs(3), self.meta.request(&req)).await
        {
            Ok(Ok(crate::controller::ControllerResponse::Committed { index })) => {
                self.meta.raft().wait_applied(index).await;
                tracing::info!("controlled shutdown: leadership moved away");
            }
            other => tracing::warn!(?other, "controlled shutdown did not complete"),
        }
    }
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
            if tokio::time::timeout(std::time::Duration::from_secs(2), &mut t)
                .await
                .is_err()
            {
                t.abort();
            }
        }
        let broker = self.broker;
        if tokio::time::timeout(std::time::Duration::from_secs(3), broker.meta.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("metadata quorum did not stop in time");
        }
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let started = std::time::Instant::now();
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

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
