//! AlterClientQuotas (KIP-546): set or remove client quotas. Entries are validated one
//! by one by `strata-quota` (user / client-id entities by the `QuotaStore`, ip entities
//! by `IpQuotas`); the changes of the valid ones become `SetClientQuota` records,
//! committed together (none with `validate_only`). Authorization (ALTER_CONFIGS on the
//! cluster) is in `gate.rs`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use kafka_protocol::messages::alter_client_quotas_response::{EntityData, EntryData};
use kafka_protocol::messages::{AlterClientQuotasRequest, AlterClientQuotasResponse};
use kafka_protocol::protocol::StrBytes;
use strata_meta::MetadataRecord;
use strata_quota::{
    is_ip_entity, AlterEntry, AlterOp, EntityPart, IpQuotas, QuotaError, QuotaStore,
    CONNECTION_CREATION_RATE,
};

use crate::quota::record_entity;
use crate::Broker;

/// Serves AlterClientQuotas v0–v1.
pub async fn handle(
    broker: &Arc<Broker>,
    req: AlterClientQuotasRequest,
) -> AlterClientQuotasResponse {
    let entries = entries(&req);
    let (index, image) = broker.meta.current();
    broker.quotas.sync(index, &image);
    let (mut results, records) = validate(&broker.quotas.store(), &broker.quotas.ips(), &entries);
    if !req.validate_only && !records.is_empty() {
        match broker.meta.commit(records).await {
            // In force for the next request, whoever sends it.
            Ok(_) => {
                let (index, image) = broker.meta.current();
                broker.quotas.sync(index, &image);
            }
            Err(e) => {
                let code = crate::topics::commit_error_code(&e);
                for r in results.iter_mut().filter(|r| r.is_none()) {
                    *r = Some((code, e.to_string()));
                }
            }
        }
    }
    respond(&req, results)
}

/// Every entry refused with `code` (an unauthorized caller).
pub(crate) fn refused(req: &AlterClientQuotasRequest, code: i16) -> AlterClientQuotasResponse {
    let why = Some((code, "cluster authorization failed".to_string()));
    respond(req, vec![why; req.entries.len()])
}

/// The response: each entry echoed as sent, with its result.
fn respond(
    req: &AlterClientQuotasRequest,
    results: Vec<Option<(i16, String)>>,
) -> AlterClientQuotasResponse {
    let entries = req
        .entries
        .iter()
        .zip(results)
        .map(|(entry, result)| {
            let (code, message) = result.unwrap_or((0, String::new()));
            EntryData::default()
                .with_error_code(code)
                .with_error_message((code != 0).then(|| StrBytes::from_string(message)))
                .with_entity(
                    entry
                        .entity
                        .iter()
                        .map(|e| {
                            EntityData::default()
                                .with_entity_type(e.entity_type.clone())
                                .with_entity_name(e.entity_name.clone())
                        })
                        .collect(),
                )
        })
        .collect();
    AlterClientQuotasResponse::default().with_entries(entries)
}

/// The request's entries in `strata-quota`'s form.
fn entries(req: &AlterClientQuotasRequest) -> Vec<AlterEntry> {
    req.entries
        .iter()
        .map(|e| AlterEntry {
            entity: e
                .entity
                .iter()
                .map(|p| EntityPart::new(&p.entity_type, p.entity_name.as_deref()))
                .collect(),
            ops: e
                .ops
                .iter()
                .map(|o| AlterOp::from_wire(&o.key, o.value, o.remove))
                .collect(),
        })
        .collect()
}

/// Per entry, in order, `None` or its error (code, message); and the records of the
/// valid entries.
type Validated = (Vec<Option<(i16, String)>>, Vec<MetadataRecord>);

/// Validates every entry against the current quotas: user / client-id entries by the
/// store, ip entries here (an ip entity named by two entries fails in both).
fn validate(store: &QuotaStore, ips: &IpQuotas, entries: &[AlterEntry]) -> Validated {
    let (ip_idx, other_idx): (Vec<usize>, Vec<usize>) =
        (0..entries.len()).partition(|i| is_ip_entity(&entries[*i].entity));
    let mut results: Vec<Option<(i16, String)>> = vec![None; entries.len()];
    let mut records = Vec::new();
    let fail = |e: &QuotaError| Some((e.error_code(), e.to_string()));
    let others: Vec<AlterEntry> = other_idx.iter().map(|i| entries[*i].clone()).collect();
    let outcome = store.validate_alter(&others);
    for (i, r) in other_idx.iter().zip(&outcome.results) {
        results[*i] = r.error.as_ref().and_then(fail);
    }
    records.extend(
        outcome
            .changes
            .iter()
            .map(|c| MetadataRecord::SetClientQuota {
                entity: record_entity(&c.entity.to_parts()),
                key: c.key.name().to_string(),
                value: c.value,
            }),
    );
    let parsed: Vec<Option<Option<IpAddr>>> = ip_idx
        .iter()
        .map(|i| IpQuotas::parse_entity(&entries[*i].entity).ok())
        .collect();
    let mut seen: HashMap<Option<IpAddr>, usize> = HashMap::new();
    for ip in parsed.iter().flatten() {
        *seen.entry(*ip).or_default() += 1;
    }
    for (i, ip) in ip_idx.iter().zip(&parsed) {
        let entry = &entries[*i];
        let checked = match ip {
            Some(ip) if seen[ip] > 1 => Err(QuotaError::DuplicateEntity(format!(
                "/ips/{}",
                ip.map_or("<default>".to_string(), |ip| ip.to_string())
            ))),
            _ => ips.validate_alter(&entry.entity, &entry.ops),
        };
        match checked {
            Ok(changes) => {
                records.extend(changes.into_iter().map(|c| MetadataRecord::SetClientQuota {
                    entity: record_entity(&IpQuotas::entity_parts(c.ip)),
                    key: CONNECTION_CREATION_RATE.to_string(),
                    value: c.value,
                }))
            }
            Err(e) => results[*i] = fail(&e),
        }
    }
    (results, records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(parts: &[(&str, Option<&str>)], ops: Vec<AlterOp>) -> AlterEntry {
        AlterEntry {
            entity: parts.iter().map(|(t, n)| EntityPart::new(t, *n)).collect(),
            ops,
        }
    }

    #[test]
    fn entries_validate_in_order_with_kafka_codes() {
        let entries = [
            entry(
                &[("user", Some("alice"))],
                vec![AlterOp::set("producer_byte_rate", 1000.0)],
            ),
            entry(
                &[("ip", Some("10.0.0.1"))],
                vec![AlterOp::set(CONNECTION_CREATION_RATE, 5.0)],
            ),
            entry(&[("user", Some("bob"))], vec![AlterOp::set("bogus", 1.0)]),
            entry(
                &[("ip", Some("10.0.0.2"))],
                vec![AlterOp::set(CONNECTION_CREATION_RATE, 1.0)],
            ),
            entry(
                &[("ip", Some("10.0.0.2"))],
                vec![AlterOp::set(CONNECTION_CREATION_RATE, 2.0)],
            ),
            entry(
                &[("ip", None), ("user", None)],
                vec![AlterOp::set(CONNECTION_CREATION_RATE, 1.0)],
            ),
            entry(
                &[("client-id", Some("c"))],
                vec![AlterOp::set("consumer_byte_rate", -1.0)],
            ),
        ];
        let (results, records) = validate(&QuotaStore::new(), &IpQuotas::new(), &entries);
        let codes: Vec<i16> = results
            .iter()
            .map(|r| r.as_ref().map_or(0, |r| r.0))
            .collect();
        assert_eq!(codes, [0, 0, 42, 42, 42, 42, 42]);
        assert!(results[2].as_ref().unwrap().1.contains("bogus"));
        assert_eq!(records.len(), 2);
        let image = strata_meta::MetadataImage::new().applied(&records).unwrap();
        assert_eq!(image.client_quotas().len(), 2);
    }
}
