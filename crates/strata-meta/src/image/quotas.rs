//! The image's client quotas (KIP-546): values per entity and key, as Kafka's
//! `ClientQuotaRecord`s leave them. What the keys mean is the broker's business
//! (`strata-quota`); the image only keeps well-formed entries.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{ApplyError, MetadataImage};
use crate::records::QuotaEntityPart;

/// Entity (components sorted by type) → key → value.
pub(crate) type ClientQuotas = BTreeMap<Vec<QuotaEntityPart>, BTreeMap<String, f64>>;

impl MetadataImage {
    /// Every entity with at least one quota, with its values, in entity order.
    pub fn client_quotas(
        &self,
    ) -> impl ExactSizeIterator<Item = (&[QuotaEntityPart], &BTreeMap<String, f64>)> + '_ {
        self.client_quotas.iter().map(|(e, v)| (e.as_slice(), v))
    }

    /// Whether the client quotas are the very same map as in `other` (pointer
    /// comparison: no quota record came between the two images).
    pub fn same_client_quotas(&self, other: &MetadataImage) -> bool {
        Arc::ptr_eq(&self.client_quotas, &other.client_quotas)
    }

    pub(super) fn set_client_quota(
        &mut self,
        entity: &[QuotaEntityPart],
        key: &str,
        value: Option<f64>,
    ) -> Result<(), ApplyError> {
        let bad = |why: String| Err(ApplyError::InvalidQuotaRecord(why));
        if entity.is_empty() {
            return bad("empty entity".into());
        }
        if key.is_empty() {
            return bad("empty quota key".into());
        }
        if value.is_some_and(|v| !v.is_finite()) {
            return bad(format!("value {value:?} for {key} is not a finite number"));
        }
        let mut entity = entity.to_vec();
        entity.sort();
        for (i, part) in entity.iter().enumerate() {
            if part.entity_type.is_empty() {
                return bad("empty entity type".into());
            }
            if i > 0 && entity[i - 1].entity_type == part.entity_type {
                return bad(format!("entity type {} twice", part.entity_type));
            }
        }
        match value {
            Some(v) => {
                if self.client_quotas.get(&entity).and_then(|m| m.get(key)) != Some(&v) {
                    let map = Arc::make_mut(&mut self.client_quotas);
                    map.entry(entity).or_default().insert(key.to_string(), v);
                }
            }
            None => {
                if self
                    .client_quotas
                    .get(&entity)
                    .is_some_and(|m| m.contains_key(key))
                {
                    let map = Arc::make_mut(&mut self.client_quotas);
                    if let Some(values) = map.get_mut(&entity) {
                        values.remove(key);
                        if values.is_empty() {
                            map.remove(&entity);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::MetadataRecord;

    fn part(t: &str, n: Option<&str>) -> QuotaEntityPart {
        QuotaEntityPart {
            entity_type: t.into(),
            name: n.map(String::from),
        }
    }

    fn set(entity: Vec<QuotaEntityPart>, key: &str, value: Option<f64>) -> MetadataRecord {
        MetadataRecord::SetClientQuota {
            entity,
            key: key.into(),
            value,
        }
    }

    #[test]
    fn quotas_set_replace_and_remove_with_sorted_entities() {
        let mut image = MetadataImage::new();
        let a = vec![part("user", Some("alice")), part("client-id", None)];
        let sorted = vec![part("client-id", None), part("user", Some("alice"))];
        image
            .apply(&set(a.clone(), "producer_byte_rate", Some(1024.0)))
            .unwrap();
        let before = image.clone();
        // The same value again shares the map.
        image
            .apply(&set(sorted.clone(), "producer_byte_rate", Some(1024.0)))
            .unwrap();
        assert!(image.same_client_quotas(&before));
        let all: Vec<_> = image.client_quotas().collect();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0, sorted.as_slice());
        assert_eq!(all[0].1.get("producer_byte_rate"), Some(&1024.0));
        image.apply(&set(a, "producer_byte_rate", None)).unwrap();
        assert_eq!(image.client_quotas().len(), 0);
        assert!(!image.same_client_quotas(&before));
    }

    #[test]
    fn malformed_quota_records_do_not_apply() {
        let mut image = MetadataImage::new();
        let ip = vec![part("ip", Some("10.0.0.1"))];
        for bad in [
            set(vec![], "k", Some(1.0)),
            set(ip.clone(), "", Some(1.0)),
            set(ip.clone(), "k", Some(f64::NAN)),
            set(vec![part("", None)], "k", Some(1.0)),
            set(
                vec![part("user", None), part("user", Some("a"))],
                "k",
                Some(1.0),
            ),
        ] {
            assert!(matches!(
                image.apply(&bad),
                Err(ApplyError::InvalidQuotaRecord(_))
            ));
        }
        assert_eq!(image.client_quotas().len(), 0);
    }

    #[test]
    fn old_records_without_a_value_load_as_removals() {
        let json = r#"{"type":"SetClientQuota","entity":[{"entity_type":"user"}],"key":"k"}"#;
        let r: MetadataRecord = serde_json::from_str(json).unwrap();
        assert_eq!(r, set(vec![part("user", None)], "k", None));
    }
}
