//! Dynamic broker configs (AlterConfigs / IncrementalAlterConfigs on a BROKER resource):
//! which keys may change at run time, their validation, and the records that change them.

use strata_meta::controller::{AlterConfigOp, ConfigOpKind, TopicError};
use strata_meta::{topic_config, MetadataImage, MetadataRecord};

use crate::config::topic_key_for;
use crate::listeners::dynamic::{classify, DynamicKey};

/// Broker settings that are not topic defaults but may still change at run time.
pub(crate) const OTHER_DYNAMIC: &[&str] = &[
    "log.cleaner.io.max.bytes.per.second",
    crate::replication::throttle::LEADER_RATE,
    crate::replication::throttle::FOLLOWER_RATE,
];

/// Validates one broker config value; the error names the key and the reason.
pub fn validate(key: &str, value: &str) -> Result<(), TopicError> {
    match classify(key) {
        DynamicKey::Other => {}
        DynamicKey::Unprefixed => {
            return Err(TopicError::InvalidRequest(format!(
                "These security configs can be dynamically updated only per-listener using \
                 the listener prefix: [{key}] (listener.name.<listener>.{key})"
            )))
        }
        DynamicKey::Fixed {
            listener,
            key: bare,
        } => {
            let which = listener.map_or("existing listeners".to_string(), |l| {
                format!("existing listener {l}")
            });
            return Err(TopicError::InvalidRequest(format!(
                "Configs cannot be updated dynamically for {which}: [{key}] ({bare} needs a \
                 restart; at run time only a listener's keystore and truststore settings \
                 change: {})",
                crate::listeners::dynamic::RECONFIGURABLE.join(", ")
            )));
        }
        DynamicKey::Reconfigurable { key: bare, .. } => {
            // Strata reads PEM stores only (KIP-651), as the static settings say.
            if bare.ends_with(".type") && !value.trim().eq_ignore_ascii_case("PEM") {
                return Err(TopicError::InvalidConfig(format!(
                    "broker config '{key}': '{value}' is not PEM, the only store type Strata reads"
                )));
            }
            return match crate::config::broker_defs::def(bare) {
                Some(d) => crate::config::broker_defs::validate(d, value)
                    .map_err(|e| TopicError::InvalidConfig(format!("{key}: {e}"))),
                None => Err(TopicError::InvalidConfig(format!(
                    "unknown broker config '{key}'"
                ))),
            };
        }
    }
    if let Some(topic_key) = topic_key_for(key) {
        return topic_config::validate(topic_key, value)
            .map_err(|e| TopicError::InvalidConfig(format!("broker config '{key}': {e}")));
    }
    if OTHER_DYNAMIC.contains(&key) {
        return match value.trim().parse::<f64>() {
            Ok(v) if v > 0.0 => Ok(()),
            _ => Err(TopicError::InvalidConfig(format!(
                "broker config '{key}': '{value}' is not a positive number"
            ))),
        };
    }
    // Every other key of Kafka's table that Kafka lets change at run time is kept.
    match crate::config::broker_defs::def(key) {
        None => Err(TopicError::InvalidConfig(format!(
            "unknown broker config '{key}'"
        ))),
        Some(d) if !d.dynamic() => Err(TopicError::InvalidRequest(format!(
            "Cannot update these configs dynamically: broker config '{key}' is read-only \
             and cannot be updated dynamically"
        ))),
        Some(d) => {
            crate::config::broker_defs::validate(d, value).map_err(TopicError::InvalidConfig)
        }
    }
}

/// As [`validate`], for one scope: per-broker keys need a broker id, as in Kafka.
fn validate_in_scope(key: &str, value: &str, node_id: Option<i32>) -> Result<(), TopicError> {
    validate(key, value)?;
    // A listener's keystore is one broker's: never a cluster-wide default (Kafka).
    let per_broker = crate::listeners::dynamic::is_reconfigurable(key)
        || crate::config::broker_defs::def(key)
            .is_some_and(|d| d.mode == crate::config::broker_defs::UpdateMode::PerBroker);
    if per_broker && node_id.is_none() && topic_key_for(key).is_none() {
        return Err(TopicError::InvalidRequest(format!(
            "Cannot update these configs at default cluster level, broker id must be \
             specified: broker config '{key}' is per-broker"
        )));
    }
    Ok(())
}

/// The scope a BROKER resource name addresses: "" is the cluster-wide default.
pub fn scope(resource_name: &str, image: &MetadataImage) -> Result<Option<i32>, TopicError> {
    if resource_name.is_empty() {
        return Ok(None);
    }
    let id: i32 = resource_name
        .parse()
        .map_err(|_| TopicError::InvalidRequest(format!("'{resource_name}' is not a broker id")))?;
    if image.broker(id).is_none() {
        return Err(TopicError::InvalidRequest(format!(
            "broker {id} does not exist"
        )));
    }
    Ok(Some(id))
}

/// Records for a set of operations on one scope (incremental: only the keys named).
pub fn alter(
    image: &MetadataImage,
    node_id: Option<i32>,
    ops: &[AlterConfigOp],
) -> Result<Vec<MetadataRecord>, TopicError> {
    let current = image.broker_configs(node_id);
    let mut out = Vec::new();
    for op in ops {
        let value = match &op.op {
            ConfigOpKind::Set(v) => {
                validate_in_scope(&op.key, v, node_id)?;
                Some(v.trim().to_string())
            }
            ConfigOpKind::Delete => None,
            ConfigOpKind::Append(_) | ConfigOpKind::Subtract(_) => {
                return Err(TopicError::InvalidRequest(format!(
                    "APPEND and SUBTRACT are not supported for broker config '{}'",
                    op.key
                )))
            }
        };
        if current.and_then(|c| c.get(&op.key)) != value.as_ref() {
            out.push(MetadataRecord::SetBrokerConfig {
                node_id,
                key: op.key.clone(),
                value,
            });
        }
    }
    Ok(out)
}

/// Records that make the scope's dynamic configs exactly `configs` (legacy AlterConfigs).
pub fn replace(
    image: &MetadataImage,
    node_id: Option<i32>,
    configs: &[(String, Option<String>)],
) -> Result<Vec<MetadataRecord>, TopicError> {
    let mut ops = Vec::new();
    for (k, v) in configs {
        let v = v.clone().ok_or_else(|| {
            TopicError::InvalidConfig(format!("broker config '{k}' needs a value"))
        })?;
        ops.push(AlterConfigOp {
            key: k.clone(),
            op: ConfigOpKind::Set(v),
        });
    }
    for k in image
        .broker_configs(node_id)
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        if !configs.iter().any(|(c, _)| c == k) {
            ops.push(AlterConfigOp {
                key: k.clone(),
                op: ConfigOpKind::Delete,
            });
        }
    }
    alter(image, node_id, &ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_key() {
        assert!(validate("log.retention.ms", "1000").is_ok());
        let e = validate("log.retention.ms", "soon").unwrap_err();
        assert!(e.message().contains("log.retention.ms"), "{}", e.message());
        // Kafka lets num.io.threads change (cluster-wide): kept, type-checked.
        assert!(validate("num.io.threads", "8").is_ok());
        assert!(validate("num.io.threads", "eight").is_err());
        let e = validate("log.dirs", "/x").unwrap_err();
        assert_eq!(e.kafka_code(), 42, "{}", e.message());
        assert!(e.message().contains("cannot be updated dynamically"));
        let e = validate("bogus.key", "1").unwrap_err();
        assert_eq!(e.kafka_code(), 40, "{}", e.message());
        assert!(validate_in_scope("sasl.kerberos.min.time.before.relogin", "1", Some(1)).is_ok());
        assert!(validate_in_scope("sasl.kerberos.min.time.before.relogin", "1", None).is_err());
        assert!(validate("log.cleaner.io.max.bytes.per.second", "-1").is_err());
    }

    #[test]
    fn listener_security_changes_as_kafka_allows() {
        let key = "listener.name.secure.ssl.keystore.location";
        assert!(validate_in_scope(key, "/new.pem", Some(1)).is_ok());
        let e = validate_in_scope(key, "/new.pem", None).unwrap_err();
        assert_eq!(e.kafka_code(), 42, "{}", e.message());
        assert!(e.message().contains("broker id must be specified"));
        let e = validate("ssl.keystore.location", "/new.pem").unwrap_err();
        assert_eq!(e.kafka_code(), 42, "{}", e.message());
        assert!(e
            .message()
            .contains("only per-listener using the listener prefix"));
        for fixed in ["listener.name.secure.ssl.client.auth", "ssl.cipher.suites"] {
            let e = validate(fixed, "x").unwrap_err();
            assert_eq!(e.kafka_code(), 42, "{}", e.message());
            assert!(
                e.message().contains("cannot be updated dynamically"),
                "{}",
                e.message()
            );
            assert!(e.message().contains(fixed), "{}", e.message());
        }
        let e = validate("listener.name.secure.ssl.keystore.type", "JKS").unwrap_err();
        assert_eq!(e.kafka_code(), 40, "{}", e.message());
    }

    #[test]
    fn alter_emits_only_changes() {
        let mut image = MetadataImage::new();
        let set = |v: &str| AlterConfigOp {
            key: "log.retention.ms".into(),
            op: ConfigOpKind::Set(v.into()),
        };
        let recs = alter(&image, None, &[set("5000")]).unwrap();
        assert_eq!(recs.len(), 1);
        for r in &recs {
            image.apply(r).unwrap();
        }
        assert!(alter(&image, None, &[set("5000")]).unwrap().is_empty());
        let del = alter(
            &image,
            None,
            &[AlterConfigOp {
                key: "log.retention.ms".into(),
                op: ConfigOpKind::Delete,
            }],
        )
        .unwrap();
        assert_eq!(del.len(), 1);
    }
}
