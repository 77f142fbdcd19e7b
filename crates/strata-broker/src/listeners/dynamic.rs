//! Listener TLS settings that change at run time, as in Kafka ("Updating SSL Keystore /
//! Truststore of an Existing Listener"): the keystore and truststore settings of one
//! listener, set per broker through AlterConfigs in their `listener.name.<l>.` form.
//!
//! Kafka's rules, kept: the unprefixed form of those settings cannot change at run time
//! ("only per-listener using the listener prefix"), the prefixed form is per broker (a
//! cluster-wide default would give every broker the same key file), and a listener's
//! other settings (protocols, cipher suites, client authentication, ...) need a
//! restart. The broker applies a change by rebuilding that listener's TLS configs
//! (`network/tls_dynamic.rs`); new connections use them, open ones keep theirs.

use std::collections::BTreeMap;

/// The settings of a listener that may change at run time (Kafka's
/// `SslConfigs.RECONFIGURABLE_CONFIGS`, PEM ones included).
pub const RECONFIGURABLE: &[&str] = &[
    "ssl.key.password",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.keystore.type",
    "ssl.truststore.certificates",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.type",
];

/// What a dynamic broker config key is to listener security.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynamicKey<'a> {
    /// Not a listener security setting.
    Other,
    /// A reconfigurable setting without the listener prefix: refused, as in Kafka.
    Unprefixed,
    /// `listener.name.<listener>.<key>` with a reconfigurable `key`: per broker.
    Reconfigurable {
        /// The listener name as written.
        listener: &'a str,
        /// The unprefixed key.
        key: &'a str,
    },
    /// Another TLS setting or `sasl.enabled.mechanisms` of the listeners, prefixed
    /// (`listener.name.<listener>.`) or not: needs a restart.
    Fixed {
        /// The listener name as written, when prefixed.
        listener: Option<&'a str>,
        /// The unprefixed key.
        key: &'a str,
    },
}

/// Classifies a dynamic broker config key.
pub fn classify(key: &str) -> DynamicKey<'_> {
    if RECONFIGURABLE.contains(&key) {
        return DynamicKey::Unprefixed;
    }
    if is_listener_security(key) {
        return DynamicKey::Fixed {
            listener: None,
            key,
        };
    }
    let Some((listener, bare)) = super::strip_listener_prefix(key) else {
        return DynamicKey::Other;
    };
    if listener.is_empty() {
        return DynamicKey::Other;
    }
    if RECONFIGURABLE.contains(&bare) {
        DynamicKey::Reconfigurable {
            listener,
            key: bare,
        }
    } else if is_listener_security(bare) {
        DynamicKey::Fixed {
            listener: Some(listener),
            key: bare,
        }
    } else {
        DynamicKey::Other
    }
}

fn is_listener_security(key: &str) -> bool {
    super::SSL_KEYS.contains(&key) || key == "sasl.enabled.mechanisms"
}

/// Whether `key` is one listener's reconfigurable setting (`listener.name.<l>.<key>`).
pub fn is_reconfigurable(key: &str) -> bool {
    matches!(classify(key), DynamicKey::Reconfigurable { .. })
}

/// The security settings a broker runs with: the static ones, overridden by its
/// reconfigurable listener settings (what [`reconfigured`] picked out of its dynamic
/// per-broker configs).
pub fn effective(
    static_settings: &BTreeMap<String, String>,
    reconfigured: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out = static_settings.clone();
    out.extend(reconfigured.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

/// The reconfigurable listener settings among a broker's dynamic configs, keyed as the
/// static lookup expects (the prefix's listener name lower-cased).
pub fn reconfigured(per_broker: Option<&BTreeMap<String, String>>) -> BTreeMap<String, String> {
    per_broker
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| match classify(k) {
            DynamicKey::Reconfigurable { listener, key } => Some((
                format!("listener.name.{}.{key}", listener.to_ascii_lowercase()),
                v.clone(),
            )),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_classified_as_kafka_does() {
        assert_eq!(classify("ssl.keystore.location"), DynamicKey::Unprefixed);
        assert_eq!(
            classify("ssl.truststore.certificates"),
            DynamicKey::Unprefixed
        );
        assert_eq!(
            classify("listener.name.internal.ssl.keystore.location"),
            DynamicKey::Reconfigurable {
                listener: "internal",
                key: "ssl.keystore.location"
            }
        );
        assert_eq!(
            classify("listener.name.SECURE.ssl.client.auth"),
            DynamicKey::Fixed {
                listener: Some("SECURE"),
                key: "ssl.client.auth"
            }
        );
        assert_eq!(
            classify("listener.name.secure.sasl.enabled.mechanisms"),
            DynamicKey::Fixed {
                listener: Some("secure"),
                key: "sasl.enabled.mechanisms"
            }
        );
        assert_eq!(
            classify("ssl.cipher.suites"),
            DynamicKey::Fixed {
                listener: None,
                key: "ssl.cipher.suites"
            }
        );
        // Not listener security: left to the other rules.
        assert_eq!(classify("listener.name.x.ssl.bogus"), DynamicKey::Other);
        assert_eq!(classify("log.retention.ms"), DynamicKey::Other);
        assert_eq!(
            classify("listener.name.x.max.connection.creation.rate"),
            DynamicKey::Other
        );
        assert_eq!(
            classify("listener.name..ssl.keystore.location"),
            DynamicKey::Other
        );
    }

    #[test]
    fn dynamic_keystore_settings_override_static_ones() {
        let s = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let static_settings = s(&[
            ("ssl.keystore.location", "/old.pem"),
            ("listener.name.secure.ssl.truststore.location", "/ca.pem"),
        ]);
        let dynamic = s(&[
            ("listener.name.SECURE.ssl.keystore.location", "/new.pem"),
            ("listener.name.secure.ssl.client.auth", "required"),
            ("log.retention.ms", "5"),
        ]);
        let e = effective(&static_settings, &reconfigured(Some(&dynamic)));
        assert_eq!(
            e,
            s(&[
                ("ssl.keystore.location", "/old.pem"),
                ("listener.name.secure.ssl.keystore.location", "/new.pem"),
                ("listener.name.secure.ssl.truststore.location", "/ca.pem"),
            ])
        );
        assert_eq!(
            effective(&static_settings, &reconfigured(None)),
            static_settings
        );
    }
}
