//! Client-quota administration (KIP-546): DescribeClientQuotas and AlterClientQuotas.
//!
//! An entity is a list of `(type, name)` components: `user`, `client-id` or `ip`, with
//! `None` as the name for the type's default entity (`<default>`).

use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::{AlterClientQuotasRequest, DescribeClientQuotasRequest};
use kafka_protocol::protocol::StrBytes;

use crate::admin::Admin;
use crate::error::{ClientError, Result};

/// Entity type of a user principal's name.
pub const QUOTA_USER: &str = "user";
/// Entity type of a client id.
pub const QUOTA_CLIENT_ID: &str = "client-id";
/// Entity type of a client IP address.
pub const QUOTA_IP: &str = "ip";

/// An entity: `(type, name)` components; a `None` name is the type's default.
pub type QuotaEntity = Vec<(String, Option<String>)>;

/// How a describe filter component matches one entity type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaMatch {
    /// That name exactly.
    Exact(String),
    /// The type's default entity.
    Default,
    /// Any entity with a component of this type (named or default).
    Any,
}

/// One component of a describe filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaFilter {
    /// `user`, `client-id` or `ip`.
    pub entity_type: String,
    /// How it matches.
    pub matching: QuotaMatch,
}

/// A change to one quota of an entity.
#[derive(Debug, Clone, PartialEq)]
pub enum QuotaOp {
    /// Sets `key` (e.g. `producer_byte_rate`) to the value.
    Set(String, f64),
    /// Removes `key`.
    Remove(String),
}

/// An entity and its quotas.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaEntry {
    /// The entity, components sorted by type.
    pub entity: QuotaEntity,
    /// Quota keys and values, sorted by key.
    pub values: Vec<(String, f64)>,
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// The DescribeClientQuotas request for `filters` (`strict`: only entities with no other
/// components than the filtered ones).
pub(crate) fn describe_request(
    filters: &[QuotaFilter],
    strict: bool,
) -> DescribeClientQuotasRequest {
    let components = filters
        .iter()
        .map(|f| {
            let (match_type, name) = match &f.matching {
                QuotaMatch::Exact(n) => (0, Some(s(n))),
                QuotaMatch::Default => (1, None),
                QuotaMatch::Any => (2, None),
            };
            ComponentData::default()
                .with_entity_type(s(&f.entity_type))
                .with_match_type(match_type)
                .with_match(name)
        })
        .collect();
    DescribeClientQuotasRequest::default()
        .with_components(components)
        .with_strict(strict)
}

/// The AlterClientQuotas request for `changes`.
pub(crate) fn alter_request(
    changes: &[(QuotaEntity, Vec<QuotaOp>)],
    validate_only: bool,
) -> AlterClientQuotasRequest {
    let entries = changes
        .iter()
        .map(|(entity, ops)| {
            EntryData::default()
                .with_entity(
                    entity
                        .iter()
                        .map(|(t, n)| {
                            EntityData::default()
                                .with_entity_type(s(t))
                                .with_entity_name(n.as_deref().map(s))
                        })
                        .collect(),
                )
                .with_ops(
                    ops.iter()
                        .map(|op| match op {
                            QuotaOp::Set(k, v) => OpData::default().with_key(s(k)).with_value(*v),
                            QuotaOp::Remove(k) => {
                                OpData::default().with_key(s(k)).with_remove(true)
                            }
                        })
                        .collect(),
                )
        })
        .collect();
    AlterClientQuotasRequest::default()
        .with_entries(entries)
        .with_validate_only(validate_only)
}

/// `user=alice,client-id=<default>`: an entity as Kafka's tools print it.
pub fn entity_label(entity: &QuotaEntity) -> String {
    entity
        .iter()
        .map(|(t, n)| format!("{t}={}", n.as_deref().unwrap_or("<default>")))
        .collect::<Vec<_>>()
        .join(",")
}

impl Admin {
    /// The entities `filters` select, with their quotas.
    pub async fn describe_client_quotas(
        &self,
        filters: &[QuotaFilter],
        strict: bool,
    ) -> Result<Vec<QuotaEntry>> {
        let cluster = self.cluster();
        let conn = cluster.any_connection().await?;
        let version = conn.version_for::<DescribeClientQuotasRequest>(None)?;
        let resp = conn
            .request(
                &describe_request(filters, strict),
                version,
                cluster.config.request_timeout,
            )
            .await?;
        ClientError::check(
            resp.error_code,
            resp.error_message.as_ref(),
            "describing client quotas",
        )?;
        let mut out: Vec<QuotaEntry> = resp
            .entries
            .iter()
            .flatten()
            .map(|e| {
                let mut entity: QuotaEntity = e
                    .entity
                    .iter()
                    .map(|c| {
                        (
                            c.entity_type.as_str().to_string(),
                            c.entity_name.as_ref().map(|n| n.as_str().to_string()),
                        )
                    })
                    .collect();
                entity.sort();
                let mut values: Vec<(String, f64)> = e
                    .values
                    .iter()
                    .map(|v| (v.key.as_str().to_string(), v.value))
                    .collect();
                values.sort_by(|a, b| a.0.cmp(&b.0));
                QuotaEntry { entity, values }
            })
            .collect();
        out.sort_by(|a, b| a.entity.cmp(&b.entity));
        Ok(out)
    }

    /// Applies quota changes; one result per entity, in order.
    pub async fn alter_client_quotas(
        &self,
        changes: &[(QuotaEntity, Vec<QuotaOp>)],
        validate_only: bool,
    ) -> Result<Vec<Result<()>>> {
        let cluster = self.cluster();
        let conn = cluster.controller_connection().await?;
        let version = conn.version_for::<AlterClientQuotasRequest>(None)?;
        let resp = conn
            .request(
                &alter_request(changes, validate_only),
                version,
                cluster.config.request_timeout,
            )
            .await?;
        if resp.entries.len() != changes.len() {
            return Err(ClientError::Protocol(format!(
                "AlterClientQuotas answered {} entries for {}",
                resp.entries.len(),
                changes.len()
            )));
        }
        Ok(resp
            .entries
            .iter()
            .zip(changes)
            .map(|(e, (entity, _))| match e.error_code {
                0 => Ok(()),
                c => Err(ClientError::from_code(
                    c,
                    e.error_message.as_ref().map(|m| m.as_str()),
                    &format!("quotas of {}", entity_label(entity)),
                )),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::protocol::{Decodable, Encodable};

    fn user_default_client() -> QuotaEntity {
        vec![
            (QUOTA_CLIENT_ID.into(), None),
            (QUOTA_USER.into(), Some("alice".into())),
        ]
    }

    #[test]
    fn alter_request_encodes_default_entities_as_null_and_removals() {
        let req = alter_request(
            &[(
                user_default_client(),
                vec![
                    QuotaOp::Set("producer_byte_rate".into(), 1024.0),
                    QuotaOp::Remove("consumer_byte_rate".into()),
                ],
            )],
            false,
        );
        let e = &req.entries[0];
        assert_eq!(e.entity[0].entity_type.as_str(), "client-id");
        assert!(e.entity[0].entity_name.is_none());
        assert_eq!(
            e.entity[1].entity_name.as_ref().map(|n| n.as_str()),
            Some("alice")
        );
        assert_eq!((e.ops[0].value, e.ops[0].remove), (1024.0, false));
        assert!(e.ops[1].remove);
        // Both versions round-trip (v1 is the flexible one).
        for v in 0..=1 {
            let mut buf = BytesMut::new();
            req.encode(&mut buf, v).expect("encode");
            let back = AlterClientQuotasRequest::decode(&mut buf.freeze(), v).expect("decode");
            assert_eq!(back, req, "v{v}");
        }
    }

    #[test]
    fn alter_request_v0_bytes_follow_kafkas_layout() {
        let req = alter_request(
            &[(
                vec![(QUOTA_USER.into(), None)],
                vec![QuotaOp::Set("request_percentage".into(), 50.0)],
            )],
            true,
        );
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 0).expect("encode");
        let mut want = Vec::new();
        want.extend_from_slice(&1i32.to_be_bytes()); // entries
        want.extend_from_slice(&1i32.to_be_bytes()); // entity components
        want.extend_from_slice(&4i16.to_be_bytes());
        want.extend_from_slice(b"user");
        want.extend_from_slice(&(-1i16).to_be_bytes()); // null name: the default user
        want.extend_from_slice(&1i32.to_be_bytes()); // ops
        want.extend_from_slice(&18i16.to_be_bytes());
        want.extend_from_slice(b"request_percentage");
        want.extend_from_slice(&50.0f64.to_be_bytes());
        want.push(0); // remove = false
        want.push(1); // validate_only = true
        assert_eq!(&buf[..], &want[..]);
    }

    #[test]
    fn describe_request_match_types() {
        let req = describe_request(
            &[
                QuotaFilter {
                    entity_type: QUOTA_USER.into(),
                    matching: QuotaMatch::Exact("alice".into()),
                },
                QuotaFilter {
                    entity_type: QUOTA_CLIENT_ID.into(),
                    matching: QuotaMatch::Default,
                },
                QuotaFilter {
                    entity_type: QUOTA_IP.into(),
                    matching: QuotaMatch::Any,
                },
            ],
            true,
        );
        let c = &req.components;
        assert_eq!(
            (c[0].match_type, c[0]._match.as_ref().map(|m| m.as_str())),
            (0, Some("alice"))
        );
        assert_eq!((c[1].match_type, c[1]._match.is_none()), (1, true));
        assert_eq!((c[2].match_type, c[2]._match.is_none()), (2, true));
        assert!(req.strict);
        for v in 0..=1 {
            let mut buf = BytesMut::new();
            req.encode(&mut buf, v).expect("encode");
            let back = DescribeClientQuotasRequest::decode(&mut buf.freeze(), v).expect("decode");
            assert_eq!(back, req, "v{v}");
        }
    }

    #[test]
    fn entity_labels() {
        assert_eq!(
            entity_label(&user_default_client()),
            "client-id=<default>,user=alice"
        );
    }
}
