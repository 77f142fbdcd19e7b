//! Applies dynamic listener keystore and truststore settings (`listeners/dynamic.rs`)
//! while the broker runs: after every metadata change that moved this broker's
//! reconfigurable listener settings, each TLS listener (client listeners, the HTTP
//! listener, the controller port) resolves its settings again from the static ones
//! overridden by the dynamic ones, and a listener whose settings differ rebuilds its
//! TLS configs. New connections (and this node's new connections to its peers) use
//! them; open connections keep theirs, as in Kafka. A change that cannot be loaded (a
//! missing file, a key that does not match its certificate) is logged and leaves the
//! listener as it was; it is tried again at the next change.

use std::collections::BTreeMap;
use std::sync::Arc;

use strata_meta::{MetadataImage, MetadataRecord};
use tokio::sync::watch;

use super::tls::Tls;
use crate::listeners::{self, dynamic, TlsSettings};
use crate::Broker;

/// Which TLS endpoint of this node a [`Tls`] serves.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// A Kafka listener, by name.
    Client(String),
    /// The HTTP listener.
    Http,
    /// The controller port.
    Controller,
}

/// Follows the metadata until shutdown; `controller` is the controller port's TLS.
pub(crate) async fn dynamic_tls_loop(
    broker: Arc<Broker>,
    controller: Option<Arc<Tls>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut targets: Vec<(Target, Arc<Tls>)> = broker
        .listeners
        .iter()
        .filter_map(|e| Some((Target::Client(e.config.name.clone()), e.tls.clone()?)))
        .collect();
    targets.extend(
        broker
            .http_tls
            .as_ref()
            .map(|h| (Target::Http, Arc::clone(h.tls()))),
    );
    targets.extend(controller.map(|t| (Target::Controller, t)));
    if targets.is_empty() {
        return;
    }
    let targets = Arc::new(targets);
    let mut images = broker.meta.raft().subscribe();
    // The dynamic settings applied last: the static ones hold until the metadata says
    // more.
    let mut applied: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let image = Arc::clone(&images.borrow_and_update().1);
        let wanted = dynamic::reconfigured(image.broker_configs(Some(broker.config.node_id)));
        if wanted != applied {
            let settings = dynamic::effective(&broker.config.security, &wanted);
            let (b, t) = (Arc::clone(&broker), Arc::clone(&targets));
            if tokio::task::spawn_blocking(move || apply(&b, &settings, &t))
                .await
                .is_ok()
            {
                applied = wanted;
            }
        }
        tokio::select! {
            changed = images.changed() => if changed.is_err() { return },
            _ = shutdown.changed() => return,
        }
    }
}

/// Resolves each target's settings from `settings` and switches those that changed.
/// Blocking (reads key files).
fn apply(broker: &Broker, settings: &BTreeMap<String, String>, targets: &[(Target, Arc<Tls>)]) {
    let resolved = match resolve_all(broker, settings) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "dynamic TLS settings do not resolve; listeners keep theirs");
            return;
        }
    };
    for (target, tls) in targets {
        let Some(new) = resolved.get(target) else {
            continue;
        };
        if let Err(e) = tls.reconfigure(new) {
            tracing::error!(listener = ?target, error = %format!("{e:#}"),
                "dynamic TLS settings cannot be loaded; keeping the previous ones");
        }
    }
}

/// Every TLS endpoint's settings under `settings`.
fn resolve_all(
    broker: &Broker,
    settings: &BTreeMap<String, String>,
) -> Result<BTreeMap<Target, TlsSettings>, String> {
    let c = &broker.config;
    let mut out: BTreeMap<Target, TlsSettings> =
        listeners::resolve(settings, &c.listen, (&c.advertise_host, c.advertise_port))?
            .into_iter()
            .filter_map(|l| Some((Target::Client(l.name), l.tls?)))
            .collect();
    if let Some(t) = listeners::http_tls(settings)? {
        out.insert(Target::Http, t);
    }
    if let Some(t) = listeners::controller_tls(settings)? {
        out.insert(Target::Controller, t);
    }
    Ok(out)
}

/// Checks, on the broker a change is for, that the listener settings `records` (this
/// broker's dynamic config changes, from `dynamic_configs::alter` / `replace`) would
/// leave load (files readable, key matching its
/// certificate; on the inter-broker listener and the controller port, chaining to the
/// listener's own truststore, which peers verify it with), as Kafka does before it
/// stores a new keystore. Only endpoints whose settings change are checked. `Err`
/// names the listener and the reason. A change that leaves the reconfigurable listener settings
/// as they are passes at once.
pub(crate) async fn check_change(
    broker: &Arc<Broker>,
    image: &MetadataImage,
    records: &[MetadataRecord],
) -> Result<(), String> {
    let current = image.broker_configs(Some(broker.config.node_id));
    let mut after = current.cloned().unwrap_or_default();
    for r in records {
        if let MetadataRecord::SetBrokerConfig { key, value, .. } = r {
            match value {
                Some(v) => after.insert(key.clone(), v.clone()),
                None => after.remove(key),
            };
        }
    }
    let wanted = dynamic::reconfigured(Some(&after));
    let now = dynamic::reconfigured(current);
    if wanted == now {
        return Ok(());
    }
    let before = dynamic::effective(&broker.config.security, &now);
    let settings = dynamic::effective(&broker.config.security, &wanted);
    let b = Arc::clone(broker);
    tokio::task::spawn_blocking(move || {
        let unchanged = resolve_all(&b, &before).unwrap_or_default();
        for (target, s) in resolve_all(&b, &settings)? {
            if unchanged.get(&target) == Some(&s) {
                continue;
            }
            super::tls::check(&s).map_err(|e| format!("{target:?}: {e:#}"))?;
            let between_nodes = match &target {
                Target::Client(name) => *name == b.inter_broker_listener,
                Target::Controller => true,
                Target::Http => false,
            };
            if between_nodes {
                super::tls::check_trusted_by_own_truststore(&s)
                    .map_err(|e| format!("{target:?}: {e:#}"))?;
            }
        }
        Ok(())
    })
    .await
    .map_err(|e| e.to_string())?
}
