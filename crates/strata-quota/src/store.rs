//! The configured quotas: what every entity has, as replayed from the metadata log.

use std::collections::BTreeMap;

use crate::entity::{QuotaChange, QuotaEntity, QuotaKey, QuotaValues};
use crate::resolve::ResolveIndex;

/// The quota configuration of the cluster: every entity's configured values, kept both in
/// entity order (for DescribeClientQuotas and snapshots) and in an index that resolves a
/// connection's quota with a few hash lookups ([`QuotaStore::resolve`]).
///
/// The store changes only through [`QuotaStore::apply`], with the [`QuotaChange`] records
/// the broker reads from its metadata log; [`QuotaStore::validate_alter`] turns an
/// AlterClientQuotas request into such records.
#[derive(Debug, Clone, Default)]
pub struct QuotaStore {
    entities: BTreeMap<QuotaEntity, QuotaValues>,
    pub(crate) index: ResolveIndex,
    generation: u64,
}

impl QuotaStore {
    /// An empty store: no quotas, so nothing is throttled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one change (a metadata-log record). Setting a value replaces the previous
    /// one; removing the last value of an entity forgets the entity. A change for an empty
    /// entity (no user, no client id) is ignored. The generation advances on every call,
    /// so a caller that cached a resolution knows to resolve again. Returns whether the
    /// configuration changed.
    pub fn apply(&mut self, change: &QuotaChange) -> bool {
        self.generation = self.generation.wrapping_add(1);
        if change.entity.is_empty() {
            return false;
        }
        let previous = match change.value {
            Some(value) => self
                .entities
                .entry(change.entity.clone())
                .or_default()
                .set(change.key, Some(value)),
            None => match self.entities.get_mut(&change.entity) {
                Some(values) => {
                    let previous = values.set(change.key, None);
                    if values.is_empty() {
                        self.entities.remove(&change.entity);
                    }
                    previous
                }
                None => None,
            },
        };
        self.index.set(&change.entity, change.key, change.value);
        previous != change.value
    }

    /// Counts [`QuotaStore::apply`] calls; differs after every one of them.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The value configured for exactly this entity and key (no defaults applied; see
    /// [`QuotaStore::resolve`] for that).
    pub fn get(&self, entity: &QuotaEntity, key: QuotaKey) -> Option<f64> {
        self.entities.get(entity).and_then(|values| values.get(key))
    }

    /// The values configured for exactly this entity.
    pub fn values(&self, entity: &QuotaEntity) -> Option<&QuotaValues> {
        self.entities.get(entity)
    }

    /// Every entity with at least one value, in entity order.
    pub fn entities(&self) -> impl Iterator<Item = (&QuotaEntity, &QuotaValues)> + '_ {
        self.entities.iter()
    }

    /// Number of entities with at least one value.
    pub fn len(&self) -> usize {
        self.entities.len()
    }

    /// Whether no quota is configured.
    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// The whole configuration as changes that rebuild it when applied to an empty store
    /// (a metadata snapshot).
    pub fn snapshot(&self) -> Vec<QuotaChange> {
        self.entities
            .iter()
            .flat_map(|(entity, values)| {
                values.iter().map(move |(key, value)| QuotaChange {
                    entity: entity.clone(),
                    key,
                    value: Some(value),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::EntityName;

    fn set(entity: QuotaEntity, key: QuotaKey, value: Option<f64>) -> QuotaChange {
        QuotaChange { entity, key, value }
    }

    #[test]
    fn apply_sets_replaces_and_removes() {
        let mut store = QuotaStore::new();
        let alice = QuotaEntity::user("alice");
        let g0 = store.generation();
        assert!(store.apply(&set(alice.clone(), QuotaKey::ProducerByteRate, Some(1e6))));
        assert_ne!(store.generation(), g0);
        assert_eq!(store.get(&alice, QuotaKey::ProducerByteRate), Some(1e6));
        assert!(!store.apply(&set(alice.clone(), QuotaKey::ProducerByteRate, Some(1e6))));
        assert!(store.apply(&set(alice.clone(), QuotaKey::ConsumerByteRate, Some(2e6))));
        assert!(store.apply(&set(alice.clone(), QuotaKey::ProducerByteRate, None)));
        assert_eq!(store.len(), 1);
        assert!(store.apply(&set(alice.clone(), QuotaKey::ConsumerByteRate, None)));
        assert!(store.is_empty());
        let g1 = store.generation();
        assert!(!store.apply(&set(alice, QuotaKey::ConsumerByteRate, None)));
        assert_ne!(store.generation(), g1, "every apply moves the generation");
        assert!(!store.apply(&set(
            QuotaEntity::new(None, None),
            QuotaKey::ConsumerByteRate,
            Some(1.0)
        )));
        assert!(store.is_empty());
    }

    #[test]
    fn snapshot_rebuilds_the_store() {
        let mut store = QuotaStore::new();
        let both = QuotaEntity::user_client(EntityName::Default, EntityName::named("app"));
        store.apply(&set(both.clone(), QuotaKey::RequestPercentage, Some(50.0)));
        store.apply(&set(
            QuotaEntity::default_client(),
            QuotaKey::ConsumerByteRate,
            Some(7.0),
        ));
        store.apply(&set(both, QuotaKey::ControllerMutationRate, Some(2.5)));
        let mut copy = QuotaStore::new();
        for change in store.snapshot() {
            copy.apply(&change);
        }
        let a: Vec<_> = store.entities().collect();
        let b: Vec<_> = copy.entities().collect();
        assert_eq!(a, b);
        assert_eq!(
            copy.resolve("u", "app", QuotaKey::RequestPercentage)
                .map(|r| r.bound),
            Some(50.0)
        );
    }
}
