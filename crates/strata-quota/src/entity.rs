//! Quota entities (KIP-55, KIP-257), quota keys and the record shape of a quota change.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::QuotaError;

/// Entity type name of the user (principal) component.
pub const USER: &str = "user";
/// Entity type name of the client-id component.
pub const CLIENT_ID: &str = "client-id";
/// Entity type name of the ip component (KIP-612); accepted by describe filters only.
pub const IP: &str = "ip";

/// The name of one entity component: a specific name, or Kafka's `<default>` (a null name
/// on the wire), which stands for every name without a quota of its own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EntityName {
    /// A specific user principal name or client id.
    Named(String),
    /// The default for this component (`<default>`).
    Default,
}

impl EntityName {
    /// A specific name.
    pub fn named(name: impl Into<String>) -> Self {
        EntityName::Named(name.into())
    }

    /// From the wire form, where the default is a null name.
    pub fn from_wire(name: Option<&str>) -> Self {
        match name {
            Some(name) => EntityName::Named(name.to_owned()),
            None => EntityName::Default,
        }
    }

    /// The wire form: the name, or `None` for the default.
    pub fn as_wire(&self) -> Option<&str> {
        match self {
            EntityName::Named(name) => Some(name),
            EntityName::Default => None,
        }
    }

    /// Whether this is the default name.
    pub fn is_default(&self) -> bool {
        matches!(self, EntityName::Default)
    }
}

impl fmt::Display for EntityName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntityName::Named(name) => f.write_str(name),
            EntityName::Default => f.write_str("<default>"),
        }
    }
}

/// What a quota is configured for: a user, a client id, or a user together with a client
/// id, each component either named or `<default>`. At least one component is present in
/// every entity the store holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QuotaEntity {
    /// The user (principal name) component.
    pub user: Option<EntityName>,
    /// The client-id component.
    pub client_id: Option<EntityName>,
}

impl QuotaEntity {
    /// An entity from its two optional components.
    pub fn new(user: Option<EntityName>, client_id: Option<EntityName>) -> Self {
        QuotaEntity { user, client_id }
    }

    /// `/users/<user>`.
    pub fn user(user: impl Into<String>) -> Self {
        Self::new(Some(EntityName::named(user)), None)
    }

    /// `/users/<default>`.
    pub fn default_user() -> Self {
        Self::new(Some(EntityName::Default), None)
    }

    /// `/clients/<client-id>`.
    pub fn client(client_id: impl Into<String>) -> Self {
        Self::new(None, Some(EntityName::named(client_id)))
    }

    /// `/clients/<default>`.
    pub fn default_client() -> Self {
        Self::new(None, Some(EntityName::Default))
    }

    /// `/users/<user>/clients/<client-id>` with either component possibly `<default>`.
    pub fn user_client(user: EntityName, client_id: EntityName) -> Self {
        Self::new(Some(user), Some(client_id))
    }

    /// Whether neither component is present (never stored).
    pub fn is_empty(&self) -> bool {
        self.user.is_none() && self.client_id.is_none()
    }

    /// Number of components present.
    pub fn component_count(&self) -> usize {
        usize::from(self.user.is_some()) + usize::from(self.client_id.is_some())
    }

    /// The wire form: `(entity_type, entity_name)` pairs, user first, the default as a
    /// null name.
    pub fn to_parts(&self) -> Vec<EntityPart> {
        let mut parts = Vec::with_capacity(2);
        if let Some(user) = &self.user {
            parts.push(EntityPart::new(USER, user.as_wire()));
        }
        if let Some(client) = &self.client_id {
            parts.push(EntityPart::new(CLIENT_ID, client.as_wire()));
        }
        parts
    }

    /// Builds an entity from its wire form, as AlterClientQuotas validates it: at least one
    /// component, no type twice, only `user` and `client-id`, no empty names.
    pub fn from_parts(parts: &[EntityPart]) -> Result<Self, QuotaError> {
        if parts.is_empty() {
            return Err(QuotaError::EmptyEntity);
        }
        let mut entity = QuotaEntity::new(None, None);
        let mut seen_ip = false;
        for part in parts {
            let slot = match part.entity_type.as_str() {
                USER => &mut entity.user,
                CLIENT_ID => &mut entity.client_id,
                IP if !seen_ip => {
                    seen_ip = true;
                    continue;
                }
                IP => return Err(QuotaError::DuplicateEntityType(IP.to_owned())),
                "" => return Err(QuotaError::EmptyEntityType),
                other => return Err(QuotaError::UnknownEntityType(other.to_owned())),
            };
            if slot.is_some() {
                return Err(QuotaError::DuplicateEntityType(part.entity_type.clone()));
            }
            if part.name.as_deref() == Some("") {
                return Err(QuotaError::EmptyEntityName(part.entity_type.clone()));
            }
            *slot = Some(EntityName::from_wire(part.name.as_deref()));
        }
        if seen_ip {
            return Err(QuotaError::IpEntityUnsupported);
        }
        Ok(entity)
    }
}

impl fmt::Display for QuotaEntity {
    /// The ZooKeeper-era path form, e.g. `/users/alice/clients/<default>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "/users/{user}")?;
        }
        if let Some(client) = &self.client_id {
            write!(f, "/clients/{client}")?;
        }
        if self.is_empty() {
            f.write_str("(empty entity)")?;
        }
        Ok(())
    }
}

/// One component of an entity as it travels on the wire: a type (`user`, `client-id`,
/// `ip`) and a name, `None` meaning the default.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntityPart {
    /// The entity type.
    pub entity_type: String,
    /// The entity name; `None` is the default.
    pub name: Option<String>,
}

impl EntityPart {
    /// A component from borrowed parts.
    pub fn new(entity_type: &str, name: Option<&str>) -> Self {
        EntityPart {
            entity_type: entity_type.to_owned(),
            name: name.map(str::to_owned),
        }
    }
}

/// A quota key: what kind of usage a quota bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaKey {
    /// Bytes per second produced (a whole number, as Kafka types it as a long).
    ProducerByteRate,
    /// Bytes per second fetched (a whole number).
    ConsumerByteRate,
    /// Request handler time, in percent of one thread per second (KIP-124): 100 is one
    /// thread's worth of time.
    RequestPercentage,
    /// Partition mutations per second (KIP-599): topic and partition creations and
    /// deletions, accounted with a token bucket.
    ControllerMutationRate,
}

impl QuotaKey {
    /// Every key, in the order of [`QuotaKey::index`].
    pub const ALL: [QuotaKey; 4] = [
        QuotaKey::ProducerByteRate,
        QuotaKey::ConsumerByteRate,
        QuotaKey::RequestPercentage,
        QuotaKey::ControllerMutationRate,
    ];

    /// Kafka's config name for this key.
    pub fn name(self) -> &'static str {
        match self {
            QuotaKey::ProducerByteRate => "producer_byte_rate",
            QuotaKey::ConsumerByteRate => "consumer_byte_rate",
            QuotaKey::RequestPercentage => "request_percentage",
            QuotaKey::ControllerMutationRate => "controller_mutation_rate",
        }
    }

    /// The key with this config name; an unknown name is refused, naming it.
    pub fn from_name(name: &str) -> Result<Self, QuotaError> {
        QuotaKey::ALL
            .into_iter()
            .find(|key| key.name() == name)
            .ok_or_else(|| QuotaError::UnknownKey(name.to_owned()))
    }

    /// A dense index (0..4) for per-key arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether Kafka types this key as a long, so its values must be whole numbers.
    pub fn is_whole(self) -> bool {
        matches!(
            self,
            QuotaKey::ProducerByteRate | QuotaKey::ConsumerByteRate
        )
    }

    /// Checks a value for this key: positive and finite, and whole for the byte rates
    /// (within 1e-6, as Kafka allows, and no larger than `i64::MAX`).
    pub fn validate(self, value: f64) -> Result<(), QuotaError> {
        if !value.is_finite() || value <= 0.0 {
            return Err(QuotaError::NotPositive {
                key: self.name(),
                value,
            });
        }
        if self.is_whole() && ((value - value.round()).abs() > 1e-6 || value >= i64::MAX as f64) {
            return Err(QuotaError::NotWhole {
                key: self.name(),
                value,
            });
        }
        Ok(())
    }
}

impl fmt::Display for QuotaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The values configured for one entity, one optional value per [`QuotaKey`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct QuotaValues([Option<f64>; 4]);

impl QuotaValues {
    /// The value for `key`, if configured.
    pub fn get(&self, key: QuotaKey) -> Option<f64> {
        self.0[key.index()]
    }

    /// Sets (`Some`) or removes (`None`) the value for `key`; returns the previous one.
    pub fn set(&mut self, key: QuotaKey, value: Option<f64>) -> Option<f64> {
        std::mem::replace(&mut self.0[key.index()], value)
    }

    /// Whether no key has a value.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    /// The configured `(key, value)` pairs, in [`QuotaKey::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (QuotaKey, f64)> + '_ {
        QuotaKey::ALL
            .into_iter()
            .filter_map(|key| self.get(key).map(|value| (key, value)))
    }
}

/// One change to the quota configuration: the record the broker writes to its metadata
/// log and replays with [`crate::QuotaStore::apply`]. `value: None` removes the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaChange {
    /// The entity the quota is for.
    pub entity: QuotaEntity,
    /// The quota key.
    pub key: QuotaKey,
    /// The new value, or `None` to remove it.
    pub value: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_round_trip_and_unknown_keys_are_named() {
        for key in QuotaKey::ALL {
            assert_eq!(QuotaKey::from_name(key.name()), Ok(key));
        }
        let err = QuotaKey::from_name("producer_bytes_rate").unwrap_err();
        assert_eq!(err, QuotaError::UnknownKey("producer_bytes_rate".into()));
        assert!(err.to_string().contains("producer_bytes_rate"));
    }

    #[test]
    fn values_must_be_positive_finite_and_whole_for_byte_rates() {
        let p = QuotaKey::ProducerByteRate;
        assert!(p.validate(1024.0).is_ok());
        assert!(p.validate(1_024.000_000_1).is_ok());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(matches!(
                p.validate(bad),
                Err(QuotaError::NotPositive { .. })
            ));
        }
        assert!(matches!(p.validate(10.5), Err(QuotaError::NotWhole { .. })));
        assert!(matches!(
            p.validate(1e300),
            Err(QuotaError::NotWhole { .. })
        ));
        assert!(QuotaKey::RequestPercentage.validate(12.5).is_ok());
        assert!(QuotaKey::ControllerMutationRate.validate(0.5).is_ok());
        assert!(QuotaKey::RequestPercentage.validate(0.0).is_err());
    }

    #[test]
    fn entity_parts_round_trip() {
        let entities = [
            QuotaEntity::user("alice"),
            QuotaEntity::default_user(),
            QuotaEntity::client("app"),
            QuotaEntity::default_client(),
            QuotaEntity::user_client(EntityName::named("alice"), EntityName::Default),
            QuotaEntity::user_client(EntityName::Default, EntityName::named("app")),
        ];
        for entity in entities {
            assert_eq!(QuotaEntity::from_parts(&entity.to_parts()), Ok(entity));
        }
    }

    #[test]
    fn entity_parts_are_validated() {
        let part = |t: &str, n: Option<&str>| EntityPart::new(t, n);
        assert_eq!(QuotaEntity::from_parts(&[]), Err(QuotaError::EmptyEntity));
        assert_eq!(
            QuotaEntity::from_parts(&[part(USER, Some("a")), part(USER, Some("b"))]),
            Err(QuotaError::DuplicateEntityType(USER.into()))
        );
        assert_eq!(
            QuotaEntity::from_parts(&[part("group", Some("g"))]),
            Err(QuotaError::UnknownEntityType("group".into()))
        );
        assert_eq!(
            QuotaEntity::from_parts(&[part(CLIENT_ID, Some(""))]),
            Err(QuotaError::EmptyEntityName(CLIENT_ID.into()))
        );
        assert_eq!(
            QuotaEntity::from_parts(&[part(IP, Some("10.0.0.1"))]),
            Err(QuotaError::IpEntityUnsupported)
        );
        assert_eq!(
            QuotaEntity::from_parts(&[part("", None)]),
            Err(QuotaError::EmptyEntityType)
        );
    }

    #[test]
    fn display_uses_the_path_form() {
        let e = QuotaEntity::user_client(EntityName::named("alice"), EntityName::Default);
        assert_eq!(e.to_string(), "/users/alice/clients/<default>");
        assert_eq!(QuotaEntity::client("x").to_string(), "/clients/x");
    }
}
