//! Which configured quota applies to a connection, and which budget its usage is
//! accounted under.
//!
//! Kafka's precedence (KIP-55), most specific first:
//!
//! 1. `/users/<user>/clients/<client-id>`
//! 2. `/users/<user>/clients/<default>`
//! 3. `/users/<user>`
//! 4. `/users/<default>/clients/<client-id>`
//! 5. `/users/<default>/clients/<default>`
//! 6. `/users/<default>`
//! 7. `/clients/<client-id>`
//! 8. `/clients/<default>`
//!
//! The first level with a value for the key wins. The usage is accounted under a sensor
//! named by the components the matched level has, filled with the connection's *actual*
//! names (as Kafka's default quota callback tags its metrics): levels 1, 2, 4 and 5 account
//! per (user, client id), levels 3 and 6 per user (so all clients of a user share one
//! budget), levels 7 and 8 per client id (shared by every user with that client id). A
//! default level is therefore a per-name budget, not one budget shared by all names.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::entity::{EntityName, QuotaEntity, QuotaKey, QuotaValues};
use crate::store::QuotaStore;

/// One of the eight precedence levels, most specific first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QuotaLevel {
    /// `/users/<user>/clients/<client-id>`
    UserClient,
    /// `/users/<user>/clients/<default>`
    UserDefaultClient,
    /// `/users/<user>`
    User,
    /// `/users/<default>/clients/<client-id>`
    DefaultUserClient,
    /// `/users/<default>/clients/<default>`
    DefaultUserDefaultClient,
    /// `/users/<default>`
    DefaultUser,
    /// `/clients/<client-id>`
    Client,
    /// `/clients/<default>`
    DefaultClient,
}

impl QuotaLevel {
    /// All levels in precedence order.
    pub const ALL: [QuotaLevel; 8] = [
        QuotaLevel::UserClient,
        QuotaLevel::UserDefaultClient,
        QuotaLevel::User,
        QuotaLevel::DefaultUserClient,
        QuotaLevel::DefaultUserDefaultClient,
        QuotaLevel::DefaultUser,
        QuotaLevel::Client,
        QuotaLevel::DefaultClient,
    ];

    /// The level an entity is configured at.
    pub fn of(entity: &QuotaEntity) -> Option<QuotaLevel> {
        use EntityName::{Default as D, Named as N};
        Some(match (&entity.user, &entity.client_id) {
            (Some(N(_)), Some(N(_))) => QuotaLevel::UserClient,
            (Some(N(_)), Some(D)) => QuotaLevel::UserDefaultClient,
            (Some(N(_)), None) => QuotaLevel::User,
            (Some(D), Some(N(_))) => QuotaLevel::DefaultUserClient,
            (Some(D), Some(D)) => QuotaLevel::DefaultUserDefaultClient,
            (Some(D), None) => QuotaLevel::DefaultUser,
            (None, Some(N(_))) => QuotaLevel::Client,
            (None, Some(D)) => QuotaLevel::DefaultClient,
            (None, None) => return None,
        })
    }

    /// The configured entity this level stands for, for a connection's names.
    pub fn entity(self, user: &str, client_id: &str) -> QuotaEntity {
        let u = || EntityName::named(user);
        let c = || EntityName::named(client_id);
        let (user, client) = match self {
            QuotaLevel::UserClient => (Some(u()), Some(c())),
            QuotaLevel::UserDefaultClient => (Some(u()), Some(EntityName::Default)),
            QuotaLevel::User => (Some(u()), None),
            QuotaLevel::DefaultUserClient => (Some(EntityName::Default), Some(c())),
            QuotaLevel::DefaultUserDefaultClient => {
                (Some(EntityName::Default), Some(EntityName::Default))
            }
            QuotaLevel::DefaultUser => (Some(EntityName::Default), None),
            QuotaLevel::Client => (None, Some(c())),
            QuotaLevel::DefaultClient => (None, Some(EntityName::Default)),
        };
        QuotaEntity::new(user, client)
    }

    /// Whether usage under this level is accounted per user.
    pub fn accounts_user(self) -> bool {
        !matches!(self, QuotaLevel::Client | QuotaLevel::DefaultClient)
    }

    /// Whether usage under this level is accounted per client id.
    pub fn accounts_client(self) -> bool {
        !matches!(self, QuotaLevel::User | QuotaLevel::DefaultUser)
    }
}

/// The identity of a usage budget, borrowing the connection's names: the quota key and the
/// user and client-id components of the matched level (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SensorRef<'a> {
    /// The quota key (each key has its own budgets).
    pub key: QuotaKey,
    /// The user the budget belongs to, if it is per user.
    pub user: Option<&'a str>,
    /// The client id the budget belongs to, if it is per client id.
    pub client_id: Option<&'a str>,
}

impl SensorRef<'_> {
    /// An owned copy, to keep with a connection between requests.
    pub fn to_key(&self) -> SensorKey {
        SensorKey {
            key: self.key,
            user: self.user.map(Arc::from),
            client_id: self.client_id.map(Arc::from),
        }
    }
}

/// The owned form of [`SensorRef`]; the key of the quota manager's sensor map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensorKey {
    /// The quota key.
    pub key: QuotaKey,
    /// The user the budget belongs to, if it is per user.
    pub user: Option<Arc<str>>,
    /// The client id the budget belongs to, if it is per client id.
    pub client_id: Option<Arc<str>>,
}

impl SensorKey {
    /// The borrowed form.
    pub fn as_ref(&self) -> SensorRef<'_> {
        SensorRef {
            key: self.key,
            user: self.user.as_deref(),
            client_id: self.client_id.as_deref(),
        }
    }
}

impl Hash for SensorKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must hash exactly as `SensorRef` does: the map is looked up with either.
        self.as_ref().hash(state);
    }
}

/// Looks a sensor up in a map keyed by [`SensorKey`] with a borrowed [`SensorRef`], so a
/// request's accounting allocates nothing. Implemented by both forms; not meant to be
/// implemented elsewhere.
pub trait SensorLookup {
    /// The borrowed identity.
    fn sensor(&self) -> SensorRef<'_>;
}

impl SensorLookup for SensorKey {
    fn sensor(&self) -> SensorRef<'_> {
        self.as_ref()
    }
}

impl SensorLookup for SensorRef<'_> {
    fn sensor(&self) -> SensorRef<'_> {
        *self
    }
}

impl<'a> Borrow<dyn SensorLookup + 'a> for SensorKey {
    fn borrow(&self) -> &(dyn SensorLookup + 'a) {
        self
    }
}

impl Hash for dyn SensorLookup + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.sensor().hash(state);
    }
}

impl PartialEq for dyn SensorLookup + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.sensor() == other.sensor()
    }
}

impl Eq for dyn SensorLookup + '_ {}

/// The quota that applies to a connection for one key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved<'a> {
    /// The configured value: bytes per second, percent of a thread, or mutations per
    /// second.
    pub bound: f64,
    /// The level it was configured at.
    pub level: QuotaLevel,
    /// The budget the usage is accounted under.
    pub sensor: SensorRef<'a>,
}

#[derive(Debug, Clone, Default)]
struct UserNode {
    alone: QuotaValues,
    default_client: QuotaValues,
    clients: HashMap<String, QuotaValues>,
}

impl UserNode {
    fn is_empty(&self) -> bool {
        self.alone.is_empty() && self.default_client.is_empty() && self.clients.is_empty()
    }
}

/// The store's resolution index: configured values laid out by level so that resolving
/// costs at most four hash lookups (and none for levels with no value for the key).
#[derive(Debug, Clone, Default)]
pub(crate) struct ResolveIndex {
    users: HashMap<String, UserNode>,
    default_user: UserNode,
    clients: HashMap<String, QuotaValues>,
    default_client: QuotaValues,
    /// Entities with a value, per key and level.
    counts: [[u32; 8]; 4],
}

impl ResolveIndex {
    /// Mirrors one applied change.
    pub(crate) fn set(&mut self, entity: &QuotaEntity, key: QuotaKey, value: Option<f64>) {
        let Some(level) = QuotaLevel::of(entity) else {
            return;
        };
        let user = entity.user.as_ref().and_then(EntityName::as_wire);
        let client = entity.client_id.as_ref().and_then(EntityName::as_wire);
        let previous = match level {
            QuotaLevel::UserClient | QuotaLevel::UserDefaultClient | QuotaLevel::User => {
                let user = user.unwrap_or_default();
                if value.is_none() && !self.users.contains_key(user) {
                    return;
                }
                let node = self.users.entry(user.to_owned()).or_default();
                let previous = Self::set_in_node(node, level, client, key, value);
                if node.is_empty() {
                    self.users.remove(user);
                }
                previous
            }
            QuotaLevel::DefaultUserClient
            | QuotaLevel::DefaultUserDefaultClient
            | QuotaLevel::DefaultUser => {
                Self::set_in_node(&mut self.default_user, level, client, key, value)
            }
            QuotaLevel::Client => {
                Self::set_in_map(&mut self.clients, client.unwrap_or_default(), key, value)
            }
            QuotaLevel::DefaultClient => self.default_client.set(key, value),
        };
        let count = &mut self.counts[key.index()][level as usize];
        match (previous.is_some(), value.is_some()) {
            (false, true) => *count += 1,
            (true, false) => *count -= 1,
            _ => {}
        }
    }

    fn set_in_node(
        node: &mut UserNode,
        level: QuotaLevel,
        client: Option<&str>,
        key: QuotaKey,
        value: Option<f64>,
    ) -> Option<f64> {
        match level {
            QuotaLevel::UserClient | QuotaLevel::DefaultUserClient => {
                Self::set_in_map(&mut node.clients, client.unwrap_or_default(), key, value)
            }
            QuotaLevel::UserDefaultClient | QuotaLevel::DefaultUserDefaultClient => {
                node.default_client.set(key, value)
            }
            _ => node.alone.set(key, value),
        }
    }

    fn set_in_map(
        map: &mut HashMap<String, QuotaValues>,
        name: &str,
        key: QuotaKey,
        value: Option<f64>,
    ) -> Option<f64> {
        if value.is_none() {
            let values = map.get_mut(name)?;
            let previous = values.set(key, None);
            if values.is_empty() {
                map.remove(name);
            }
            return previous;
        }
        map.entry(name.to_owned()).or_default().set(key, value)
    }

    fn resolve(&self, user: &str, client_id: &str, key: QuotaKey) -> Option<(f64, QuotaLevel)> {
        let counts = &self.counts[key.index()];
        let has = |level: QuotaLevel| counts[level as usize] > 0;
        let in_map = |map: &HashMap<String, QuotaValues>| map.get(client_id)?.get(key);
        if has(QuotaLevel::UserClient)
            || has(QuotaLevel::UserDefaultClient)
            || has(QuotaLevel::User)
        {
            if let Some(node) = self.users.get(user) {
                if has(QuotaLevel::UserClient) {
                    if let Some(bound) = in_map(&node.clients) {
                        return Some((bound, QuotaLevel::UserClient));
                    }
                }
                if let Some(bound) = node.default_client.get(key) {
                    return Some((bound, QuotaLevel::UserDefaultClient));
                }
                if let Some(bound) = node.alone.get(key) {
                    return Some((bound, QuotaLevel::User));
                }
            }
        }
        if has(QuotaLevel::DefaultUserClient) {
            if let Some(bound) = in_map(&self.default_user.clients) {
                return Some((bound, QuotaLevel::DefaultUserClient));
            }
        }
        if let Some(bound) = self.default_user.default_client.get(key) {
            return Some((bound, QuotaLevel::DefaultUserDefaultClient));
        }
        if let Some(bound) = self.default_user.alone.get(key) {
            return Some((bound, QuotaLevel::DefaultUser));
        }
        if has(QuotaLevel::Client) {
            if let Some(bound) = in_map(&self.clients) {
                return Some((bound, QuotaLevel::Client));
            }
        }
        self.default_client
            .get(key)
            .map(|bound| (bound, QuotaLevel::DefaultClient))
    }
}

impl QuotaStore {
    /// The quota for `key` that applies to a connection authenticated as `user` (the
    /// principal name; `ANONYMOUS` without authentication) sending `client_id`, or `None`
    /// when no level has a value for the key (the connection is not limited for it).
    ///
    /// Cheap enough to call per request: at most four hash lookups, no allocation. Callers
    /// that cache the answer per connection can check [`QuotaStore::generation`] instead.
    pub fn resolve<'a>(
        &self,
        user: &'a str,
        client_id: &'a str,
        key: QuotaKey,
    ) -> Option<Resolved<'a>> {
        let (bound, level) = self.index.resolve(user, client_id, key)?;
        Some(Resolved {
            bound,
            level,
            sensor: SensorRef {
                key,
                user: level.accounts_user().then_some(user),
                client_id: level.accounts_client().then_some(client_id),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::QuotaChange;

    const KEY: QuotaKey = QuotaKey::ProducerByteRate;

    /// A store with every level configured for `alice` / `app`, level i valued i+1.
    fn all_levels() -> QuotaStore {
        let mut store = QuotaStore::new();
        for (i, level) in QuotaLevel::ALL.into_iter().enumerate() {
            store.apply(&QuotaChange {
                entity: level.entity("alice", "app"),
                key: KEY,
                value: Some((i + 1) as f64),
            });
        }
        store
    }

    fn remove(store: &mut QuotaStore, level: QuotaLevel) {
        store.apply(&QuotaChange {
            entity: level.entity("alice", "app"),
            key: KEY,
            value: None,
        });
    }

    #[test]
    fn each_of_the_eight_levels_wins_when_nothing_more_specific_is_set() {
        let mut store = all_levels();
        for (i, level) in QuotaLevel::ALL.into_iter().enumerate() {
            let resolved = store.resolve("alice", "app", KEY).expect("a level applies");
            assert_eq!(resolved.level, level);
            assert_eq!(resolved.bound, (i + 1) as f64);
            remove(&mut store, level);
        }
        assert_eq!(store.resolve("alice", "app", KEY), None);
        assert!(store.is_empty());
    }

    #[test]
    fn a_more_specific_level_wins_over_every_less_specific_one() {
        for (i, specific) in QuotaLevel::ALL.into_iter().enumerate() {
            for general in &QuotaLevel::ALL[i + 1..] {
                let mut store = QuotaStore::new();
                for (level, value) in [(*general, 1.0), (specific, 2.0)] {
                    store.apply(&QuotaChange {
                        entity: level.entity("alice", "app"),
                        key: KEY,
                        value: Some(value),
                    });
                }
                let resolved = store.resolve("alice", "app", KEY).unwrap();
                assert_eq!(
                    (resolved.level, resolved.bound),
                    (specific, 2.0),
                    "{specific:?} vs {general:?}"
                );
            }
        }
    }

    #[test]
    fn other_names_and_other_keys_do_not_match() {
        let store = all_levels();
        // bob / other only match the default levels.
        let r = store.resolve("bob", "other", KEY).unwrap();
        assert_eq!(r.level, QuotaLevel::DefaultUserDefaultClient);
        let r = store.resolve("alice", "other", KEY).unwrap();
        assert_eq!(r.level, QuotaLevel::UserDefaultClient);
        let r = store.resolve("bob", "app", KEY).unwrap();
        assert_eq!(r.level, QuotaLevel::DefaultUserClient);
        assert_eq!(
            store.resolve("alice", "app", QuotaKey::ConsumerByteRate),
            None
        );
    }

    #[test]
    fn sensors_are_keyed_by_the_matched_levels_components() {
        let mut store = QuotaStore::new();
        let expect = [
            (QuotaLevel::UserClient, Some("alice"), Some("app")),
            (QuotaLevel::UserDefaultClient, Some("alice"), Some("app")),
            (QuotaLevel::User, Some("alice"), None),
            (QuotaLevel::DefaultUserClient, Some("alice"), Some("app")),
            (
                QuotaLevel::DefaultUserDefaultClient,
                Some("alice"),
                Some("app"),
            ),
            (QuotaLevel::DefaultUser, Some("alice"), None),
            (QuotaLevel::Client, None, Some("app")),
            (QuotaLevel::DefaultClient, None, Some("app")),
        ];
        for (level, user, client_id) in expect {
            let mut fresh = QuotaStore::new();
            fresh.apply(&QuotaChange {
                entity: level.entity("alice", "app"),
                key: KEY,
                value: Some(1.0),
            });
            let r = fresh.resolve("alice", "app", KEY).unwrap();
            assert_eq!(
                r.sensor,
                SensorRef {
                    key: KEY,
                    user,
                    client_id
                },
                "{level:?}"
            );
            store = fresh;
        }
        // Under /clients/<default> every client id has its own budget, shared by users.
        let a = store.resolve("alice", "x", KEY).unwrap().sensor;
        let b = store.resolve("bob", "x", KEY).unwrap().sensor;
        let c = store.resolve("bob", "y", KEY).unwrap().sensor;
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn all_clients_of_a_user_share_a_user_level_budget() {
        let mut store = QuotaStore::new();
        store.apply(&QuotaChange {
            entity: QuotaEntity::user("alice"),
            key: KEY,
            value: Some(10.0),
        });
        let one = store.resolve("alice", "c1", KEY).unwrap().sensor;
        let two = store.resolve("alice", "c2", KEY).unwrap().sensor;
        assert_eq!(one, two);
        assert_eq!(one.to_key().as_ref(), one);
    }

    #[test]
    fn the_index_forgets_removed_entities() {
        let mut store = all_levels();
        for level in QuotaLevel::ALL {
            remove(&mut store, level);
        }
        assert!(store.index.users.is_empty());
        assert!(store.index.clients.is_empty());
        assert!(store.index.default_user.is_empty());
        assert!(store.index.counts.iter().flatten().all(|c| *c == 0));
    }
}
