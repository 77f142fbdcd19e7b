//! AlterClientQuotas (KIP-546): validating a request into the changes to write.
//!
//! Each entry (an entity and its operations) is judged on its own and either contributes
//! all its changes or none:
//! - the entity must be valid (see [`QuotaEntity::from_parts`]); `ip` entities are refused
//!   here, since this store holds only user and client-id quotas;
//! - an entity named by more than one entry of the request fails in every such entry
//!   (Kafka answers "ignoring duplicate entity");
//! - a key named twice in one entry fails the entry;
//! - every key must be known and every value valid for its key
//!   ([`QuotaKey::validate`]); removals need no value.
//!
//! Operations that change nothing (removing an absent key, setting the current value)
//! produce no change. `validate_only` is the caller's: it answers with the results and
//! writes no changes.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::entity::{EntityPart, QuotaChange, QuotaEntity, QuotaKey};
use crate::error::QuotaError;
use crate::store::QuotaStore;

/// One operation on an entity: set a key to a value, or remove it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlterOp {
    /// The quota key name, as sent.
    pub key: String,
    /// The new value, or `None` to remove the key.
    pub value: Option<f64>,
}

impl AlterOp {
    /// Sets `key` to `value`.
    pub fn set(key: &str, value: f64) -> Self {
        AlterOp {
            key: key.to_owned(),
            value: Some(value),
        }
    }

    /// Removes `key`.
    pub fn remove(key: &str) -> Self {
        AlterOp {
            key: key.to_owned(),
            value: None,
        }
    }

    /// From the wire form, where removal is a flag and the value is then ignored.
    pub fn from_wire(key: &str, value: f64, remove: bool) -> Self {
        if remove {
            Self::remove(key)
        } else {
            Self::set(key, value)
        }
    }
}

/// One entry of an AlterClientQuotas request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlterEntry {
    /// The entity, as sent.
    pub entity: Vec<EntityPart>,
    /// The operations on it.
    pub ops: Vec<AlterOp>,
}

/// The answer for one entry, in request order.
#[derive(Debug, Clone, PartialEq)]
pub struct AlterResult {
    /// The entity, echoed as sent.
    pub entity: Vec<EntityPart>,
    /// Why the entry was refused, if it was.
    pub error: Option<QuotaError>,
}

/// What validating a request produced: one result per entry and the changes of the
/// entries that passed, to be written to the metadata log (unless `validate_only`) and
/// then applied with [`QuotaStore::apply`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlterOutcome {
    /// One result per entry, in request order.
    pub results: Vec<AlterResult>,
    /// The changes to write, entry by entry, op by op.
    pub changes: Vec<QuotaChange>,
}

impl QuotaStore {
    /// Validates an AlterClientQuotas request against the current configuration (see the
    /// module docs for the rules). The store is not changed.
    pub fn validate_alter(&self, entries: &[AlterEntry]) -> AlterOutcome {
        let parsed: Vec<Result<QuotaEntity, QuotaError>> = entries
            .iter()
            .map(|entry| QuotaEntity::from_parts(&entry.entity))
            .collect();
        let mut seen: HashMap<&QuotaEntity, usize> = HashMap::new();
        for entity in parsed.iter().flatten() {
            *seen.entry(entity).or_default() += 1;
        }
        let mut outcome = AlterOutcome::default();
        for (entry, entity) in entries.iter().zip(&parsed) {
            let checked = entity.clone().and_then(|entity| {
                if seen[&entity] > 1 {
                    return Err(QuotaError::DuplicateEntity(entity.to_string()));
                }
                self.changes_for(entity, &entry.ops)
            });
            let error = match checked {
                Ok(changes) => {
                    outcome.changes.extend(changes);
                    None
                }
                Err(error) => Some(error),
            };
            outcome.results.push(AlterResult {
                entity: entry.entity.clone(),
                error,
            });
        }
        outcome
    }

    fn changes_for(
        &self,
        entity: QuotaEntity,
        ops: &[AlterOp],
    ) -> Result<Vec<QuotaChange>, QuotaError> {
        for (i, op) in ops.iter().enumerate() {
            if ops[..i].iter().any(|earlier| earlier.key == op.key) {
                return Err(QuotaError::DuplicateKey(op.key.clone()));
            }
        }
        let mut changes = Vec::with_capacity(ops.len());
        for op in ops {
            let key = QuotaKey::from_name(&op.key)?;
            if let Some(value) = op.value {
                key.validate(value)?;
            }
            if self.get(&entity, key) != op.value {
                changes.push(QuotaChange {
                    entity: entity.clone(),
                    key,
                    value: op.value,
                });
            }
        }
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::{CLIENT_ID, IP, USER};

    fn entry(entity: &[(&str, Option<&str>)], ops: Vec<AlterOp>) -> AlterEntry {
        AlterEntry {
            entity: entity.iter().map(|(t, n)| EntityPart::new(t, *n)).collect(),
            ops,
        }
    }

    fn errors(outcome: &AlterOutcome) -> Vec<Option<QuotaError>> {
        outcome.results.iter().map(|r| r.error.clone()).collect()
    }

    #[test]
    fn valid_entries_become_changes_that_apply() {
        let mut store = QuotaStore::new();
        let outcome = store.validate_alter(&[
            entry(
                &[(USER, Some("alice"))],
                vec![AlterOp::set("producer_byte_rate", 1024.0)],
            ),
            entry(
                &[(USER, None), (CLIENT_ID, Some("app"))],
                vec![
                    AlterOp::set("request_percentage", 12.5),
                    AlterOp::set("controller_mutation_rate", 0.5),
                ],
            ),
        ]);
        assert_eq!(errors(&outcome), [None, None]);
        assert_eq!(outcome.changes.len(), 3);
        for change in &outcome.changes {
            store.apply(change);
        }
        assert_eq!(
            store.get(&QuotaEntity::user("alice"), QuotaKey::ProducerByteRate),
            Some(1024.0)
        );
        // Setting the same value again and removing an absent key change nothing.
        let again = store.validate_alter(&[entry(
            &[(USER, Some("alice"))],
            vec![
                AlterOp::set("producer_byte_rate", 1024.0),
                AlterOp::remove("consumer_byte_rate"),
            ],
        )]);
        assert_eq!(errors(&again), [None]);
        assert!(again.changes.is_empty());
        let removal = store.validate_alter(&[entry(
            &[(USER, Some("alice"))],
            vec![AlterOp::from_wire("producer_byte_rate", 0.0, true)],
        )]);
        assert_eq!(removal.changes.len(), 1);
        assert_eq!(removal.changes[0].value, None);
    }

    #[test]
    fn a_bad_op_fails_its_whole_entry_only() {
        let store = QuotaStore::new();
        let outcome = store.validate_alter(&[
            entry(
                &[(USER, Some("alice"))],
                vec![
                    AlterOp::set("producer_byte_rate", 10.0),
                    AlterOp::set("bogus_rate", 1.0),
                ],
            ),
            entry(
                &[(USER, Some("bob"))],
                vec![AlterOp::set("consumer_byte_rate", 10.0)],
            ),
        ]);
        assert_eq!(
            errors(&outcome),
            [Some(QuotaError::UnknownKey("bogus_rate".into())), None]
        );
        assert_eq!(outcome.changes.len(), 1);
        assert_eq!(outcome.changes[0].entity, QuotaEntity::user("bob"));
        let message = outcome.results[0].error.as_ref().unwrap().to_string();
        assert!(message.contains("bogus_rate"), "{message}");
    }

    #[test]
    fn values_are_validated() {
        let store = QuotaStore::new();
        let alice = [(USER, Some("alice"))];
        let cases = [
            AlterOp::set("producer_byte_rate", 0.0),
            AlterOp::set("consumer_byte_rate", -5.0),
            AlterOp::set("request_percentage", f64::NAN),
            AlterOp::set("controller_mutation_rate", f64::INFINITY),
            AlterOp::set("producer_byte_rate", 99.5),
        ];
        for op in cases {
            let outcome = store.validate_alter(&[entry(&alice, vec![op.clone()])]);
            let error = outcome.results[0].error.clone();
            assert!(
                matches!(
                    error,
                    Some(QuotaError::NotPositive { .. } | QuotaError::NotWhole { .. })
                ),
                "{op:?}: {error:?}"
            );
            assert!(outcome.changes.is_empty());
        }
    }

    #[test]
    fn entity_and_duplicate_errors() {
        let store = QuotaStore::new();
        let set = || vec![AlterOp::set("producer_byte_rate", 1.0)];
        let outcome = store.validate_alter(&[
            entry(&[], set()),
            entry(&[(USER, Some("a")), (USER, Some("b"))], set()),
            entry(&[("group", Some("g"))], set()),
            entry(&[(CLIENT_ID, Some(""))], set()),
            entry(&[(IP, Some("10.1.1.1"))], set()),
            entry(
                &[(USER, Some("dup"))],
                vec![
                    AlterOp::set("producer_byte_rate", 1.0),
                    AlterOp::remove("producer_byte_rate"),
                ],
            ),
            entry(&[(CLIENT_ID, Some("twice"))], set()),
            entry(&[(CLIENT_ID, Some("twice"))], set()),
        ]);
        let errs = errors(&outcome);
        assert_eq!(errs[0], Some(QuotaError::EmptyEntity));
        assert_eq!(errs[1], Some(QuotaError::DuplicateEntityType(USER.into())));
        assert_eq!(errs[2], Some(QuotaError::UnknownEntityType("group".into())));
        assert_eq!(errs[3], Some(QuotaError::EmptyEntityName(CLIENT_ID.into())));
        assert_eq!(errs[4], Some(QuotaError::IpEntityUnsupported));
        assert_eq!(
            errs[5],
            Some(QuotaError::DuplicateKey("producer_byte_rate".into()))
        );
        assert!(matches!(errs[6], Some(QuotaError::DuplicateEntity(_))));
        assert!(matches!(errs[7], Some(QuotaError::DuplicateEntity(_))));
        assert!(outcome.changes.is_empty());
        assert!(errs
            .iter()
            .flatten()
            .all(|e| e.error_code() == strata_proto::error_code::INVALID_REQUEST));
    }
}
