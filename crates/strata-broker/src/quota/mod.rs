//! Client quotas in the broker (KIP-13, KIP-124, KIP-219, KIP-546, KIP-612): the
//! configuration replayed from the metadata image (`SetClientQuota` records) into a
//! `strata_quota::QuotaStore` and `IpQuotas`, the usage budgets (a sharded
//! `QuotaManager`), and the connection-creation rates (`connections.rs`). The rules are in
//! `strata-quota`; this is the glue.
//!
//! Hot path: a request pays one relaxed atomic load when no user or client-id quota is
//! configured ([`Quotas::enabled`]); otherwise a read lock to clone the store's `Arc`, at
//! most four hash lookups per key, and one short lock on the shard of its budget.

use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use strata_meta::records::QuotaEntityPart;
use strata_meta::MetadataImage;
use strata_quota::{
    EntityPart, IpChange, IpQuotas, QuotaChange, QuotaConfig, QuotaEntity, QuotaKey, QuotaManager,
    QuotaStore, RateConfig, SensorRef, CONNECTION_CREATION_RATE,
};
use tokio::sync::watch;

pub(crate) mod connections;
pub(crate) mod enforce;
mod settings;

pub use settings::is_quota_key;
pub(crate) use settings::QuotaSettings;

/// Budget shards: requests of different users / client ids rarely share a lock.
const SHARDS: usize = 16;
/// How often idle budgets and connection rates are dropped.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);

/// The image whose quotas the store holds, and its Raft index.
struct Synced {
    index: u64,
    image: Option<Arc<MetadataImage>>,
}

/// A broker's client quotas.
pub(crate) struct Quotas {
    /// Whether any user or client-id quota is configured.
    active: AtomicBool,
    store: RwLock<Arc<QuotaStore>>,
    ips: RwLock<Arc<IpQuotas>>,
    synced: Mutex<Synced>,
    shards: Box<[Mutex<QuotaManager>]>,
    hasher: std::collections::hash_map::RandomState,
    rate: RateConfig,
    /// Connection-creation rates (KIP-612).
    pub(crate) connections: connections::ConnectionLimits,
}

impl Quotas {
    /// From the broker's settings (validated by [`QuotaSettings::parse`]).
    pub(crate) fn new(settings: &QuotaSettings) -> Self {
        let config = QuotaConfig {
            rate: settings.rate,
            max_sensors: QuotaConfig::default().max_sensors / SHARDS,
            ..QuotaConfig::default()
        };
        Self {
            active: AtomicBool::new(false),
            store: RwLock::new(Arc::new(QuotaStore::new())),
            ips: RwLock::new(Arc::new(IpQuotas::new())),
            synced: Mutex::new(Synced {
                index: 0,
                image: None,
            }),
            shards: (0..SHARDS)
                .map(|_| Mutex::new(QuotaManager::new(config)))
                .collect(),
            hasher: Default::default(),
            rate: settings.rate,
            connections: connections::ConnectionLimits::new(settings),
        }
    }

    /// Whether any user or client-id quota is configured (one relaxed load): without
    /// one, requests skip quota accounting altogether.
    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// The user and client-id quotas.
    pub(crate) fn store(&self) -> Arc<QuotaStore> {
        Arc::clone(&self.store.read())
    }

    /// The ip quotas.
    pub(crate) fn ips(&self) -> Arc<IpQuotas> {
        Arc::clone(&self.ips.read())
    }

    /// The sampling of every rate.
    pub(crate) fn rate(&self) -> RateConfig {
        self.rate
    }

    /// Brings the quotas in line with `image` (the image at Raft index `index`); an
    /// older image than the last one seen is ignored, and an image whose quota map is
    /// the one already loaded costs a pointer comparison.
    pub(crate) fn sync(&self, index: u64, image: &Arc<MetadataImage>) {
        let mut synced = self.synced.lock();
        if index < synced.index {
            return;
        }
        let unchanged = synced
            .image
            .as_ref()
            .is_some_and(|old| old.same_client_quotas(image));
        synced.index = index;
        synced.image = Some(Arc::clone(image));
        if unchanged {
            return;
        }
        let (store, ips) = load(image);
        self.active.store(!store.is_empty(), Ordering::Relaxed);
        self.connections.set_ip_rates(&ips);
        *self.store.write() = Arc::new(store);
        *self.ips.write() = Arc::new(ips);
    }

    /// The shard holding the budget `sensor`.
    fn shard(&self, sensor: &SensorRef<'_>) -> &Mutex<QuotaManager> {
        let mut h = self.hasher.build_hasher();
        sensor.user.hash(&mut h);
        sensor.client_id.hash(&mut h);
        let n = std::hash::Hasher::finish(&h) as usize % SHARDS;
        &self.shards[n]
    }

    /// Drops idle budgets and connection rates.
    fn expire(&self, now: Instant) -> usize {
        let budgets: usize = self.shards.iter().map(|s| s.lock().expire(now)).sum();
        budgets + self.connections.expire(now)
    }
}

/// The quota configuration `image` holds. Records this version cannot read (an unknown
/// key or entity type, from a newer broker) are skipped.
fn load(image: &MetadataImage) -> (QuotaStore, IpQuotas) {
    let mut store = QuotaStore::new();
    let mut ips = IpQuotas::new();
    for (entity, values) in image.client_quotas() {
        let parts: Vec<EntityPart> = entity.iter().map(part).collect();
        if strata_quota::is_ip_entity(&parts) {
            match IpQuotas::parse_entity(&parts) {
                Ok(ip) => {
                    if let Some(v) = values.get(CONNECTION_CREATION_RATE) {
                        ips.apply(&IpChange {
                            ip,
                            value: Some(*v),
                        });
                    }
                }
                Err(e) => tracing::debug!(error = %e, "client quota record skipped"),
            }
            continue;
        }
        let Ok(entity) = QuotaEntity::from_parts(&parts) else {
            continue;
        };
        for (key, value) in values {
            if let Ok(key) = QuotaKey::from_name(key) {
                store.apply(&QuotaChange {
                    entity: entity.clone(),
                    key,
                    value: Some(*value),
                });
            }
        }
    }
    (store, ips)
}

fn part(p: &QuotaEntityPart) -> EntityPart {
    EntityPart::new(&p.entity_type, p.name.as_deref())
}

/// The record form of an entity (as sent: the image sorts the components).
pub(crate) fn record_entity(parts: &[EntityPart]) -> Vec<QuotaEntityPart> {
    parts
        .iter()
        .map(|p| QuotaEntityPart {
            entity_type: p.entity_type.clone(),
            name: p.name.clone(),
        })
        .collect()
}

/// Follows the metadata image (quota records take effect as they apply) and drops idle
/// budgets every [`EXPIRE_EVERY`], sleeping until the next image or deadline.
pub(crate) async fn quota_loop(broker: Arc<crate::Broker>, mut shutdown: watch::Receiver<bool>) {
    let mut images = broker.meta.raft().subscribe();
    let mut next_expiry = tokio::time::Instant::now() + EXPIRE_EVERY;
    loop {
        let (index, image) = images.borrow_and_update().clone();
        broker.quotas.sync(index, &image);
        tokio::select! {
            changed = images.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep_until(next_expiry) => {
                let dropped = broker.quotas.expire(Instant::now());
                if dropped > 0 {
                    tracing::debug!(dropped, "idle quota budgets dropped");
                }
                next_expiry = tokio::time::Instant::now() + EXPIRE_EVERY;
            }
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_meta::MetadataRecord;

    fn record(parts: &[(&str, Option<&str>)], key: &str, value: f64) -> MetadataRecord {
        MetadataRecord::SetClientQuota {
            entity: parts
                .iter()
                .map(|(t, n)| QuotaEntityPart {
                    entity_type: t.to_string(),
                    name: n.map(String::from),
                })
                .collect(),
            key: key.into(),
            value: Some(value),
        }
    }

    #[test]
    fn the_image_loads_into_the_store_and_ip_quotas() {
        let records = [
            record(&[("user", Some("alice"))], "producer_byte_rate", 1000.0),
            record(&[("client-id", None)], "consumer_byte_rate", 500.0),
            record(&[("ip", Some("10.0.0.1"))], "connection_creation_rate", 5.0),
            record(&[("ip", None)], "connection_creation_rate", 9.0),
            // Not understood by this version: skipped.
            record(&[("user", Some("bob"))], "future_rate", 1.0),
            record(&[("group", Some("g"))], "producer_byte_rate", 1.0),
        ];
        let image = Arc::new(MetadataImage::new().applied(&records).unwrap());
        let quotas = Quotas::new(&QuotaSettings::default());
        assert!(!quotas.enabled());
        quotas.sync(1, &image);
        assert!(quotas.enabled());
        let store = quotas.store();
        let p = store.resolve("alice", "x", QuotaKey::ProducerByteRate);
        assert_eq!(p.map(|r| r.bound), Some(1000.0));
        let c = store.resolve("bob", "any", QuotaKey::ConsumerByteRate);
        assert_eq!(c.map(|r| r.bound), Some(500.0));
        assert_eq!(store.len(), 2);
        let ips = quotas.ips();
        assert_eq!(ips.get(Some("10.0.0.1".parse().unwrap())), Some(5.0));
        assert_eq!(ips.get(None), Some(9.0));
        // An older image is ignored; an empty newer one clears everything.
        quotas.sync(0, &Arc::new(MetadataImage::new()));
        assert!(quotas.enabled());
        quotas.sync(2, &Arc::new(MetadataImage::new()));
        assert!(!quotas.enabled());
        assert!(quotas.ips().is_empty());
    }
}
