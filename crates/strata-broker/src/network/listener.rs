//! Accepts connections until shutdown, then waits for them to finish.
//!
//! Limits (see [`super::slots`]): at `max.connections` the listener stops accepting until
//! a connection closes; a connection over `max.connections.per.ip` (or its address's
//! override) is closed at once. `max.connections` is capped so that connections leave a
//! quarter of the open-file limit to the logs. Connection-creation rates (KIP-612,
//! `quota/connections.rs`) are checked first: over the broker's or the listener's rate
//! the accept waits; over the client address's `connection_creation_rate` the
//! connection is closed after the throttle time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::budget::RequestBudget;
use super::connection;
use super::shared::{ConnState, Shared};
use super::slots::{ConnectionSlots, Refused};
use super::tls::Tls;
use crate::listeners::ListenerConfig;
use crate::metrics::ReasonLabels;
use crate::Broker;
use strata_quota::ConnectionThrottle;

/// A bound listener and what its connections need.
pub struct Endpoint {
    /// Its settings.
    pub config: ListenerConfig,
    /// Where it is bound.
    pub local_addr: SocketAddr,
    /// Its TLS acceptor, for SSL and SASL_SSL listeners.
    pub(crate) tls: Option<Arc<Tls>>,
    /// `ssl.principal.mapping.rules`, parsed.
    pub(crate) mapping: Option<strata_auth::principal::PrincipalMappingRules>,
}

impl Endpoint {
    /// The port clients are told to use (the bound one when the setting says 0).
    pub fn advertised_port(&self) -> i32 {
        match self.config.advertised_port {
            0 => i32::from(self.local_addr.port()),
            p => p,
        }
    }
}

/// Binds every listener; an error names the listener and its address (or TLS file).
pub async fn bind(
    configs: Vec<ListenerConfig>,
) -> anyhow::Result<Vec<(TcpListener, Arc<Endpoint>)>> {
    let mut out = Vec::with_capacity(configs.len());
    for config in configs {
        // Reading and parsing the PEM files is file I/O: off the runtime.
        let tls = match config.tls.clone() {
            Some(t) => Some(Tls::load(&config.name, &t).await?),
            None => None,
        };
        let mapping = match config
            .tls
            .as_ref()
            .and_then(|t| t.principal_mapping_rules.as_deref())
        {
            Some(rules) => Some(
                strata_auth::principal::PrincipalMappingRules::parse(rules).map_err(|e| {
                    anyhow::anyhow!("listener {}: ssl.principal.mapping.rules: {e}", config.name)
                })?,
            ),
            None => None,
        };
        let listener = TcpListener::bind(&config.bind).await.with_context(|| {
            format!(
                "cannot listen on {} (listener {})",
                config.bind, config.name
            )
        })?;
        let local_addr = listener.local_addr()?;
        out.push((
            listener,
            Arc::new(Endpoint {
                config,
                local_addr,
                tls,
                mapping,
            }),
        ));
    }
    Ok(out)
}

/// Serves every listener until `shutdown`; they share the connection and request-memory
/// limits (`max.connections`, `queued.max.request.bytes` are broker-wide).
pub async fn run_listeners(
    bound: Vec<(TcpListener, Arc<Endpoint>)>,
    broker: Arc<Broker>,
    shutdown: watch::Receiver<bool>,
) {
    let c = &broker.config;
    let max = capped_by_open_files(c.max_connections);
    let shared = Arc::new(Shared {
        budget: RequestBudget::new(
            c.queued_max_request_bytes,
            broker.metrics.queued_request_bytes.clone(),
            broker.metrics.request_budget_waits.clone(),
        ),
        slots: ConnectionSlots::new(
            max,
            c.max_connections_per_ip,
            c.max_connections_per_ip_overrides.clone(),
        ),
    });
    let mut all = JoinSet::new();
    // As in Kafka, the inter-broker listener is left out of the broker-wide connection
    // rate only when there are other listeners.
    for (_, endpoint) in &bound {
        let name = &endpoint.config.name;
        let protected = *name == broker.inter_broker_listener && bound.len() > 1;
        broker.quotas.connections.register(name, protected);
    }
    for (listener, endpoint) in bound {
        if let Some(tls) = &endpoint.tls {
            tokio::spawn(Arc::clone(tls).watch_files(shutdown.clone()));
        }
        all.spawn(run_listener(
            listener,
            endpoint,
            Arc::clone(&shared),
            Arc::clone(&broker),
            shutdown.clone(),
        ));
    }
    while all.join_next().await.is_some() {}
}

/// How long shutdown waits for connections to finish their in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Accept errors are logged as warnings at most this often.
const ACCEPT_WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Serves Kafka connections on `listener` until `shutdown` turns true, then lets every
/// connection finish the requests it already read and returns.
async fn run_listener(
    listener: TcpListener,
    endpoint: Arc<Endpoint>,
    shared: Arc<Shared>,
    broker: Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    let mut paused = false;
    let mut last_warning: Option<Instant> = None;
    loop {
        let room = shared.slots.has_room();
        if room == paused {
            paused = !room;
            if paused {
                broker.metrics.max_connections_reached.inc();
                tracing::info!(
                    max_connections = shared.slots.max(),
                    "max.connections open; not accepting until one closes"
                );
            } else {
                tracing::debug!("accepting connections again");
            }
        }
        tokio::select! {
            accepted = listener.accept(), if room => match accepted {
                Ok((stream, peer)) => {
                    let ip = peer.ip().to_canonical();
                    match broker.quotas.connections.admit(&endpoint.config.name, ip) {
                        Ok(()) => {}
                        // Over the listener's or the broker's creation rate: this one is
                        // accepted late, and the listener waits with it (Kafka's pacing).
                        Err(ConnectionThrottle::Listener(wait)) => {
                            broker.metrics.connection_rate_waits.inc();
                            tokio::select! {
                                _ = tokio::time::sleep(wait) => {}
                                _ = shutdown.changed() => break,
                            }
                        }
                        // Over its address's rate: closed after the throttle time, which
                        // slows a client reconnecting in a loop.
                        Err(ConnectionThrottle::Ip(wait)) => {
                            let labels = ReasonLabels { reason: "connection_rate" };
                            broker.metrics.connections_closed.get_or_create(&labels).inc();
                            tracing::debug!(%peer, wait_ms = wait.as_millis() as u64,
                                "connection_creation_rate exceeded; closing the connection");
                            conns.spawn(async move {
                                tokio::time::sleep(wait).await;
                                drop(stream);
                            });
                            continue;
                        }
                    }
                    match shared.slots.admit(ip) {
                        Ok(()) => {
                            let _ = stream.set_nodelay(true);
                            let conn = Arc::new(ConnState { shared: Arc::clone(&shared), ip });
                            conns.spawn(connection::serve(
                                stream,
                                peer,
                                Arc::clone(&endpoint),
                                Arc::clone(&broker),
                                conn,
                                shutdown.clone(),
                            ));
                        }
                        Err(Refused::PerIp { limit }) => {
                            let labels = ReasonLabels { reason: "per_ip_limit" };
                            broker.metrics.connections_closed.get_or_create(&labels).inc();
                            tracing::debug!(%peer, limit, "max.connections.per.ip reached; connection closed");
                        }
                    }
                }
                Err(e) => {
                    // Usually EMFILE: back off instead of spinning, and do not flood the log.
                    if last_warning.is_none_or(|t| t.elapsed() >= ACCEPT_WARN_INTERVAL) {
                        last_warning = Some(Instant::now());
                        tracing::warn!(error = %e, "accept failed");
                    } else {
                        tracing::debug!(error = %e, "accept failed");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shared.slots.wait_for_room(), if !room => {}
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            remaining = conns.len(),
            "connections did not drain in time; aborting them"
        );
        conns.abort_all();
    }
}

/// `max.connections`, lowered if need be to three quarters of the open-file limit: the
/// rest is for segment files (`log.open.files.max`, see [`crate::config`]).
fn capped_by_open_files(max_connections: usize) -> usize {
    let Some(soft) = crate::config::open_file_limit() else {
        return max_connections;
    };
    let cap = (soft - soft / 4).max(16);
    if cap < max_connections {
        tracing::info!(
            max_connections = cap,
            open_file_limit = soft,
            "max.connections capped by the open file limit"
        );
    }
    max_connections.min(cap)
}
