//! The broker's shared context: the handles every handler and background task reach
//! through `Arc<Broker>`, and the operations on them. Start-up, the background tasks
//! and shutdown are in `start.rs`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use strata_meta::MetadataRecord;
use tokio::sync::watch;
use uuid::Uuid;

use crate::config::BrokerConfig;
use crate::group::GroupCoordinator;
use crate::metadata::MetadataManager;
use crate::metrics::Metrics;
use crate::network;
use crate::replica::ReplicaManager;

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

impl Broker {
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

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
