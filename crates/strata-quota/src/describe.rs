//! DescribeClientQuotas (KIP-546): which configured entities a filter selects.
//!
//! A filter is a list of components, each naming an entity type at most once:
//! - EXACT (match type 0) selects entities whose component of that type has this name;
//! - DEFAULT (1) selects entities whose component of that type is `<default>`;
//! - ANY (2, "any specified name") selects entities that have a component of that type,
//!   named or default.
//!
//! A non-strict filter also selects entities with components of types it does not
//! mention; a strict one only entities with no other components. No components and not
//! strict selects everything; no components and strict selects nothing.

use crate::entity::{EntityName, QuotaEntity, QuotaKey, QuotaValues, CLIENT_ID, IP, USER};
use crate::error::QuotaError;
use crate::store::QuotaStore;

/// How one filter component matches names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityMatch {
    /// This specific name.
    Exact(String),
    /// The `<default>` name.
    Default,
    /// Any name, the default included (the component must be present).
    Any,
}

impl EntityMatch {
    fn matches(&self, name: Option<&EntityName>) -> bool {
        match (self, name) {
            (_, None) => false,
            (EntityMatch::Exact(want), Some(EntityName::Named(have))) => want == have,
            (EntityMatch::Exact(_), Some(EntityName::Default)) => false,
            (EntityMatch::Default, Some(name)) => name.is_default(),
            (EntityMatch::Any, Some(_)) => true,
        }
    }
}

/// One component of a DescribeClientQuotas filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterComponent {
    /// The entity type: `user`, `client-id` or `ip`.
    pub entity_type: String,
    /// How names of that type are matched.
    pub matcher: EntityMatch,
}

impl FilterComponent {
    /// A component from its typed parts.
    pub fn new(entity_type: &str, matcher: EntityMatch) -> Self {
        FilterComponent {
            entity_type: entity_type.to_owned(),
            matcher,
        }
    }

    /// A component from its wire form: match type 0 (EXACT) needs a match string, 1
    /// (DEFAULT) and 2 (ANY) must not have one; other match types are refused.
    pub fn from_wire(
        entity_type: &str,
        match_type: i8,
        name: Option<&str>,
    ) -> Result<Self, QuotaError> {
        let matcher = match (match_type, name) {
            (0, Some(name)) => EntityMatch::Exact(name.to_owned()),
            (0, None) => return Err(QuotaError::ExactWithoutName(entity_type.to_owned())),
            (1, None) => EntityMatch::Default,
            (1, Some(_)) => {
                return Err(QuotaError::UnexpectedName(
                    entity_type.to_owned(),
                    "DEFAULT",
                ))
            }
            (2, None) => EntityMatch::Any,
            (2, Some(_)) => return Err(QuotaError::UnexpectedName(entity_type.to_owned(), "ANY")),
            (other, _) => return Err(QuotaError::UnknownMatchType(other)),
        };
        Ok(FilterComponent::new(entity_type, matcher))
    }
}

/// A validated DescribeClientQuotas filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeFilter {
    user: Option<EntityMatch>,
    client_id: Option<EntityMatch>,
    ip: Option<EntityMatch>,
    strict: bool,
}

impl DescribeFilter {
    /// Validates a filter: no empty or unknown entity type, no type twice, and no `ip`
    /// component together with a `user` or `client-id` one.
    pub fn new(components: &[FilterComponent], strict: bool) -> Result<Self, QuotaError> {
        let mut filter = DescribeFilter {
            user: None,
            client_id: None,
            ip: None,
            strict,
        };
        for component in components {
            let slot = match component.entity_type.as_str() {
                "" => return Err(QuotaError::EmptyEntityType),
                USER => &mut filter.user,
                CLIENT_ID => &mut filter.client_id,
                IP => &mut filter.ip,
                other => return Err(QuotaError::UnsupportedEntityType(other.to_owned())),
            };
            if slot.is_some() {
                return Err(QuotaError::DuplicateEntityType(
                    component.entity_type.clone(),
                ));
            }
            *slot = Some(component.matcher.clone());
        }
        if filter.ip.is_some() && (filter.user.is_some() || filter.client_id.is_some()) {
            return Err(QuotaError::IpCombined);
        }
        Ok(filter)
    }

    /// The filter that selects every entity.
    pub fn all() -> Self {
        DescribeFilter {
            user: None,
            client_id: None,
            ip: None,
            strict: false,
        }
    }

    /// Whether the filter selects the `ip` entity of `ip` (`None`: `ip=<default>`). Only
    /// filters with no user or client-id component select ip entities.
    pub fn matches_ip(&self, ip: Option<std::net::IpAddr>) -> bool {
        if self.user.is_some() || self.client_id.is_some() {
            return false;
        }
        match (&self.ip, ip) {
            (None, _) => !self.strict,
            (Some(EntityMatch::Any), _) => true,
            (Some(EntityMatch::Default), ip) => ip.is_none(),
            (Some(EntityMatch::Exact(want)), Some(ip)) => want
                .parse::<std::net::IpAddr>()
                .is_ok_and(|want| want.to_canonical() == ip),
            (Some(EntityMatch::Exact(_)), None) => false,
        }
    }

    /// Whether the filter selects this entity.
    pub fn matches(&self, entity: &QuotaEntity) -> bool {
        // The store holds no ip entities, so an ip component selects nothing.
        if self.ip.is_some() {
            return false;
        }
        let component_ok = |matcher: &Option<EntityMatch>, name: Option<&EntityName>| match matcher
        {
            Some(matcher) => matcher.matches(name),
            None => !self.strict || name.is_none(),
        };
        component_ok(&self.user, entity.user.as_ref())
            && component_ok(&self.client_id, entity.client_id.as_ref())
    }
}

/// One entry of a DescribeClientQuotas answer.
#[derive(Debug, Clone, PartialEq)]
pub struct DescribedQuotas {
    /// The entity.
    pub entity: QuotaEntity,
    /// Its configured values.
    pub values: QuotaValues,
}

impl DescribedQuotas {
    /// The values as `(key name, value)` pairs, as the response carries them.
    pub fn named_values(&self) -> Vec<(&'static str, f64)> {
        self.values
            .iter()
            .map(|(key, value): (QuotaKey, f64)| (key.name(), value))
            .collect()
    }
}

impl QuotaStore {
    /// The entities a DescribeClientQuotas filter selects, in entity order, each with all
    /// its configured values.
    pub fn describe(&self, filter: &DescribeFilter) -> Vec<DescribedQuotas> {
        self.entities()
            .filter(|(entity, _)| filter.matches(entity))
            .map(|(entity, values)| DescribedQuotas {
                entity: entity.clone(),
                values: *values,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::QuotaChange;

    fn store() -> QuotaStore {
        let named = EntityName::named;
        let entities = [
            QuotaEntity::user("alice"),
            QuotaEntity::user("bob"),
            QuotaEntity::default_user(),
            QuotaEntity::client("app"),
            QuotaEntity::default_client(),
            QuotaEntity::user_client(named("alice"), named("app")),
            QuotaEntity::user_client(named("alice"), EntityName::Default),
            QuotaEntity::user_client(EntityName::Default, EntityName::Default),
        ];
        let mut store = QuotaStore::new();
        for entity in entities {
            store.apply(&QuotaChange {
                entity,
                key: QuotaKey::ConsumerByteRate,
                value: Some(100.0),
            });
        }
        store
    }

    fn paths(store: &QuotaStore, components: &[FilterComponent], strict: bool) -> Vec<String> {
        let filter = DescribeFilter::new(components, strict).expect("valid filter");
        let mut out: Vec<_> = store
            .describe(&filter)
            .into_iter()
            .map(|d| d.entity.to_string())
            .collect();
        out.sort();
        out
    }

    fn c(entity_type: &str, matcher: EntityMatch) -> FilterComponent {
        FilterComponent::new(entity_type, matcher)
    }

    #[test]
    fn no_components_selects_all_unless_strict() {
        let store = store();
        assert_eq!(paths(&store, &[], false).len(), 8);
        assert!(paths(&store, &[], true).is_empty());
        assert_eq!(store.describe(&DescribeFilter::all()).len(), 8);
    }

    #[test]
    fn exact_match_strict_and_not() {
        let store = store();
        let alice = [c(USER, EntityMatch::Exact("alice".into()))];
        assert_eq!(
            paths(&store, &alice, false),
            [
                "/users/alice",
                "/users/alice/clients/<default>",
                "/users/alice/clients/app"
            ]
        );
        assert_eq!(paths(&store, &alice, true), ["/users/alice"]);
    }

    #[test]
    fn default_match_strict_and_not() {
        let store = store();
        let default_user = [c(USER, EntityMatch::Default)];
        assert_eq!(
            paths(&store, &default_user, false),
            ["/users/<default>", "/users/<default>/clients/<default>"]
        );
        assert_eq!(paths(&store, &default_user, true), ["/users/<default>"]);
        let both = [
            c(USER, EntityMatch::Default),
            c(CLIENT_ID, EntityMatch::Default),
        ];
        assert_eq!(
            paths(&store, &both, true),
            ["/users/<default>/clients/<default>"]
        );
    }

    #[test]
    fn any_match_includes_defaults() {
        let store = store();
        let any_client = [c(CLIENT_ID, EntityMatch::Any)];
        assert_eq!(
            paths(&store, &any_client, true),
            ["/clients/<default>", "/clients/app"]
        );
        assert_eq!(paths(&store, &any_client, false).len(), 5);
        let user_and_client = [c(USER, EntityMatch::Any), c(CLIENT_ID, EntityMatch::Any)];
        assert_eq!(paths(&store, &user_and_client, false).len(), 3);
        assert_eq!(paths(&store, &user_and_client, true).len(), 3);
    }

    #[test]
    fn ip_components_select_nothing_here() {
        let store = store();
        assert!(paths(&store, &[c(IP, EntityMatch::Any)], false).is_empty());
    }

    #[test]
    fn invalid_filters_are_refused() {
        let dup = [c(USER, EntityMatch::Any), c(USER, EntityMatch::Default)];
        assert_eq!(
            DescribeFilter::new(&dup, false),
            Err(QuotaError::DuplicateEntityType(USER.into()))
        );
        let unknown = DescribeFilter::new(&[c("group", EntityMatch::Any)], false).unwrap_err();
        assert_eq!(unknown, QuotaError::UnsupportedEntityType("group".into()));
        assert_eq!(
            unknown.error_code(),
            strata_proto::error_code::UNSUPPORTED_VERSION
        );
        let ip_and_user = [c(IP, EntityMatch::Any), c(USER, EntityMatch::Any)];
        assert_eq!(
            DescribeFilter::new(&ip_and_user, false),
            Err(QuotaError::IpCombined)
        );
        assert_eq!(
            DescribeFilter::new(&[c("", EntityMatch::Any)], false),
            Err(QuotaError::EmptyEntityType)
        );
    }

    #[test]
    fn wire_components_are_checked() {
        assert_eq!(
            FilterComponent::from_wire(USER, 0, Some("a")),
            Ok(c(USER, EntityMatch::Exact("a".into())))
        );
        assert_eq!(
            FilterComponent::from_wire(USER, 1, None),
            Ok(c(USER, EntityMatch::Default))
        );
        assert_eq!(
            FilterComponent::from_wire(USER, 2, None),
            Ok(c(USER, EntityMatch::Any))
        );
        assert_eq!(
            FilterComponent::from_wire(USER, 0, None),
            Err(QuotaError::ExactWithoutName(USER.into()))
        );
        assert!(matches!(
            FilterComponent::from_wire(USER, 1, Some("a")),
            Err(QuotaError::UnexpectedName(..))
        ));
        assert!(matches!(
            FilterComponent::from_wire(USER, 2, Some("a")),
            Err(QuotaError::UnexpectedName(..))
        ));
        assert_eq!(
            FilterComponent::from_wire(USER, 3, None),
            Err(QuotaError::UnknownMatchType(3))
        );
    }

    #[test]
    fn described_values_carry_key_names() {
        let store = store();
        let filter =
            DescribeFilter::new(&[c(USER, EntityMatch::Exact("bob".into()))], true).unwrap();
        let described = store.describe(&filter);
        assert_eq!(described.len(), 1);
        assert_eq!(described[0].named_values(), [("consumer_byte_rate", 100.0)]);
    }
}
