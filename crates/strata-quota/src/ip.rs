//! `ip` quota entities (KIP-612): the per-address `connection_creation_rate`, set with
//! AlterClientQuotas like the other quotas but held apart from [`crate::QuotaStore`]
//! (which resolves user and client-id quotas) and enforced by
//! [`crate::ConnectionRate::set_ip_rate`].
//!
//! Kafka's rules for an `ip` entity: it is the only component, its name is an IP
//! address or null (`<default>`), and `connection_creation_rate` is the only key, a
//! positive whole number (Kafka types it as an int).

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::alter::AlterOp;
use crate::describe::DescribeFilter;
use crate::entity::{EntityPart, IP};
use crate::error::QuotaError;

/// The quota key of `ip` entities: new connections per second.
pub const CONNECTION_CREATION_RATE: &str = "connection_creation_rate";

/// Whether an entity (as sent) has an `ip` component; such an entity is validated with
/// [`IpQuotas::validate_alter`], the others with [`crate::QuotaStore::validate_alter`].
pub fn is_ip_entity(parts: &[EntityPart]) -> bool {
    parts.iter().any(|p| p.entity_type == IP)
}

/// One change of an `ip` quota: `ip: None` is `ip=<default>`, `value: None` removes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IpChange {
    /// The address (canonical: an IPv4-mapped IPv6 address is its IPv4 address).
    pub ip: Option<IpAddr>,
    /// The new rate, or `None` to remove it.
    pub value: Option<f64>,
}

/// The configured `connection_creation_rate` of every `ip` entity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IpQuotas {
    rates: BTreeMap<Option<IpAddr>, f64>,
}

impl IpQuotas {
    /// No ip quotas.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one change; returns whether anything changed.
    pub fn apply(&mut self, change: &IpChange) -> bool {
        match change.value {
            Some(v) => self.rates.insert(change.ip, v) != Some(v),
            None => self.rates.remove(&change.ip).is_some(),
        }
    }

    /// The rate configured for exactly this entity (`None` ip: the default).
    pub fn get(&self, ip: Option<IpAddr>) -> Option<f64> {
        self.rates.get(&ip).copied()
    }

    /// Every configured rate, the default first.
    pub fn iter(&self) -> impl Iterator<Item = (Option<IpAddr>, f64)> + '_ {
        self.rates.iter().map(|(ip, v)| (*ip, *v))
    }

    /// Whether no ip quota is configured.
    pub fn is_empty(&self) -> bool {
        self.rates.is_empty()
    }

    /// The entity's address from its wire form: `ip` alone, an IP address or null.
    pub fn parse_entity(parts: &[EntityPart]) -> Result<Option<IpAddr>, QuotaError> {
        let [part] = parts else {
            return Err(
                if parts.iter().filter(|p| p.entity_type == IP).count() > 1 {
                    QuotaError::DuplicateEntityType(IP.to_owned())
                } else {
                    QuotaError::IpEntityCombined
                },
            );
        };
        match part.name.as_deref() {
            None => Ok(None),
            Some(name) => name
                .parse::<IpAddr>()
                .map(|ip| Some(ip.to_canonical()))
                .map_err(|_| QuotaError::InvalidIp(name.to_owned())),
        }
    }

    /// The wire form of an ip entity.
    pub fn entity_parts(ip: Option<IpAddr>) -> Vec<EntityPart> {
        vec![EntityPart::new(IP, ip.map(|ip| ip.to_string()).as_deref())]
    }

    /// Validates one AlterClientQuotas entry for an `ip` entity into its changes (none
    /// for operations that change nothing). Duplicate entities across entries are the
    /// caller's to refuse.
    pub fn validate_alter(
        &self,
        parts: &[EntityPart],
        ops: &[AlterOp],
    ) -> Result<Vec<IpChange>, QuotaError> {
        let ip = Self::parse_entity(parts)?;
        for (i, op) in ops.iter().enumerate() {
            if ops[..i].iter().any(|earlier| earlier.key == op.key) {
                return Err(QuotaError::DuplicateKey(op.key.clone()));
            }
        }
        let mut changes = Vec::with_capacity(ops.len());
        for op in ops {
            if op.key != CONNECTION_CREATION_RATE {
                return Err(if crate::QuotaKey::from_name(&op.key).is_ok() {
                    QuotaError::KeyNotForEntity {
                        key: op.key.clone(),
                        entity_type: IP,
                    }
                } else {
                    QuotaError::UnknownKey(op.key.clone())
                });
            }
            if let Some(v) = op.value {
                if !v.is_finite() || v <= 0.0 {
                    return Err(QuotaError::NotPositive {
                        key: CONNECTION_CREATION_RATE,
                        value: v,
                    });
                }
                if (v - v.round()).abs() > 1e-6 || v > f64::from(i32::MAX) {
                    return Err(QuotaError::NotWhole {
                        key: CONNECTION_CREATION_RATE,
                        value: v,
                    });
                }
            }
            if self.get(ip) != op.value {
                changes.push(IpChange {
                    ip,
                    value: op.value,
                });
            }
        }
        Ok(changes)
    }

    /// The ip entities a DescribeClientQuotas filter selects, with their rates.
    pub fn describe(&self, filter: &DescribeFilter) -> Vec<(Option<IpAddr>, f64)> {
        self.iter()
            .filter(|(ip, _)| filter.matches_ip(*ip))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::describe::{EntityMatch, FilterComponent};
    use crate::entity::{CLIENT_ID, USER};

    fn ip_part(name: Option<&str>) -> Vec<EntityPart> {
        vec![EntityPart::new(IP, name)]
    }

    #[test]
    fn ip_entries_validate_into_changes() {
        let mut q = IpQuotas::new();
        let set = |v| vec![AlterOp::set(CONNECTION_CREATION_RATE, v)];
        let changes = q.validate_alter(&ip_part(Some("::ffff:10.0.0.1")), &set(5.0));
        let changes = changes.unwrap();
        assert_eq!(
            changes,
            [IpChange {
                ip: Some("10.0.0.1".parse().unwrap()),
                value: Some(5.0)
            }]
        );
        assert!(q.apply(&changes[0]));
        assert!(q
            .validate_alter(&ip_part(Some("10.0.0.1")), &set(5.0))
            .unwrap()
            .is_empty());
        let default = q.validate_alter(&ip_part(None), &set(2.0)).unwrap();
        assert_eq!(default[0].ip, None);
        q.apply(&default[0]);
        assert_eq!(q.iter().next(), Some((None, 2.0)));
        let removal = q
            .validate_alter(&ip_part(None), &[AlterOp::remove(CONNECTION_CREATION_RATE)])
            .unwrap();
        assert!(q.apply(&removal[0]));
        assert_eq!(q.get(None), None);
    }

    #[test]
    fn bad_ip_entries_are_refused() {
        let q = IpQuotas::new();
        let set = |k: &str, v| vec![AlterOp::set(k, v)];
        let rate = CONNECTION_CREATION_RATE;
        let cases = [
            (ip_part(Some("not-an-ip")), set(rate, 1.0)),
            (
                vec![EntityPart::new(IP, None), EntityPart::new(USER, Some("a"))],
                set(rate, 1.0),
            ),
            (ip_part(None), set("producer_byte_rate", 1.0)),
            (ip_part(None), set("bogus", 1.0)),
            (ip_part(None), set(rate, -1.0)),
            (ip_part(None), set(rate, 1.5)),
            (ip_part(None), set(rate, 1e12)),
        ];
        let errs: Vec<_> = cases
            .iter()
            .map(|(p, o)| q.validate_alter(p, o).unwrap_err())
            .collect();
        assert_eq!(errs[0], QuotaError::InvalidIp("not-an-ip".into()));
        assert_eq!(errs[1], QuotaError::IpEntityCombined);
        assert!(matches!(errs[2], QuotaError::KeyNotForEntity { .. }));
        assert_eq!(errs[3], QuotaError::UnknownKey("bogus".into()));
        assert!(matches!(errs[4], QuotaError::NotPositive { .. }));
        assert!(matches!(errs[5], QuotaError::NotWhole { .. }));
        assert!(matches!(errs[6], QuotaError::NotWhole { .. }));
        assert!(errs
            .iter()
            .all(|e| e.error_code() == strata_proto::error_code::INVALID_REQUEST));
        assert!(is_ip_entity(&cases[1].0));
        assert!(!is_ip_entity(&[EntityPart::new(CLIENT_ID, None)]));
    }

    #[test]
    fn describe_selects_ip_entities() {
        let mut q = IpQuotas::new();
        for (ip, v) in [
            (None, 1.0),
            (Some("10.0.0.1"), 2.0),
            (Some("10.0.0.2"), 3.0),
        ] {
            q.apply(&IpChange {
                ip: ip.map(|s: &str| s.parse().unwrap()),
                value: Some(v),
            });
        }
        let f = |c: &[FilterComponent], strict| DescribeFilter::new(c, strict).unwrap();
        let ip = |m| FilterComponent::new(IP, m);
        assert_eq!(q.describe(&f(&[], false)).len(), 3);
        assert!(q.describe(&f(&[], true)).is_empty());
        assert_eq!(q.describe(&f(&[ip(EntityMatch::Any)], true)).len(), 3);
        assert_eq!(
            q.describe(&f(&[ip(EntityMatch::Default)], false)),
            [(None, 1.0)]
        );
        let exact = q.describe(&f(&[ip(EntityMatch::Exact("10.0.0.2".into()))], true));
        assert_eq!(exact, [(Some("10.0.0.2".parse().unwrap()), 3.0)]);
        let user = FilterComponent::new(USER, EntityMatch::Any);
        assert!(q.describe(&f(&[user], false)).is_empty());
    }
}
