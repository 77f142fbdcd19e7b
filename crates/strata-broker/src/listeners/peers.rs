//! Security between nodes: TLS on the controller port (always with client
//! certificates), and how a follower reaches the inter-broker listener of a leader.
//!
//! - The controller port takes the settings of the listener named by
//!   `controller.listener.names` (default `CONTROLLER`): its protocol from
//!   `listener.security.protocol.map` (PLAINTEXT when unmapped, or SSL), its PEM files
//!   from `listener.name.controller.ssl.*`, else the unprefixed `ssl.*`. SSL there means
//!   mTLS: a truststore is required and `ssl.client.auth` may only be `required`.
//! - Followers connect to the inter-broker listener with its own settings: TLS needs its
//!   truststore (to verify the leader, and this node's certificate is presented), SASL
//!   logs in as the admin user (`STRATA_ADMIN_USER`), a super user, with
//!   `sasl.mechanism.inter.broker.protocol` (default: the listener's strongest
//!   mechanism).

use std::collections::BTreeMap;

use super::TlsSettings;
use super::{protocol_map, setting, tls_settings, ClientAuth, ListenerConfig, SecurityProtocol};

/// The controller port's TLS settings, `None` for plain TCP.
pub fn controller_tls(settings: &BTreeMap<String, String>) -> Result<Option<TlsSettings>, String> {
    let name = settings
        .get("controller.listener.names")
        .and_then(|v| v.split(',').map(str::trim).find(|n| !n.is_empty()))
        .map_or_else(|| "CONTROLLER".to_string(), str::to_ascii_uppercase);
    let map = protocol_map(settings.get("listener.security.protocol.map"))?;
    let protocol = map
        .get(&name)
        .copied()
        .unwrap_or(SecurityProtocol::Plaintext);
    match protocol {
        SecurityProtocol::Plaintext => Ok(None),
        SecurityProtocol::Ssl => {
            let get = |key: &str| setting(settings, &name, protocol, key);
            let mut tls = tls_settings(&name, &get)?;
            match get("ssl.client.auth") {
                None => tls.client_auth = ClientAuth::Required,
                Some(_) if tls.client_auth == ClientAuth::Required => {}
                Some(other) => {
                    return Err(format!(
                        "controller listener {name}: ssl.client.auth={other}, but the \
                         controller port only takes nodes with a certificate the cluster \
                         trusts: set it to required (or leave it unset)"
                    ))
                }
            }
            if tls.truststore.is_none() {
                return Err(format!(
                    "controller listener {name} uses SSL but has no truststore: set \
                     ssl.truststore.location (the CA certificates every node's certificate \
                     chains to)"
                ));
            }
            Ok(Some(tls))
        }
        SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl => Err(format!(
            "controller listener {name} is {}: the controller port authenticates nodes \
             with certificates only; map it to SSL (or PLAINTEXT on a private network)",
            protocol.name()
        )),
    }
}

/// The HTTP port's TLS settings (`None`: plain HTTP): the `HTTP` entry of
/// `listener.security.protocol.map` (PLAINTEXT or SSL) with `listener.name.http.ssl.*`,
/// else the unprefixed `ssl.*`. `ssl.client.auth` works as on Kafka listeners: with a
/// certificate the client is authenticated as its certificate's principal.
pub fn http_tls(settings: &BTreeMap<String, String>) -> Result<Option<TlsSettings>, String> {
    let map = protocol_map(settings.get("listener.security.protocol.map"))?;
    match map.get("HTTP").copied() {
        None | Some(SecurityProtocol::Plaintext) => Ok(None),
        Some(SecurityProtocol::Ssl) => {
            let get = |key: &str| setting(settings, "HTTP", SecurityProtocol::Ssl, key);
            tls_settings("HTTP", &get).map(Some)
        }
        Some(p) => Err(format!(
            "the HTTP listener is mapped to {}: it takes PLAINTEXT or SSL (HTTPS); \
             HTTP clients authenticate with basic credentials or certificates",
            p.name()
        )),
    }
}

/// The SASL mechanism followers log in with on `listener`: the
/// `sasl.mechanism.inter.broker.protocol` setting, else the strongest one it enables.
pub fn inter_broker_sasl_mechanism(
    settings: &BTreeMap<String, String>,
    listener: &ListenerConfig,
) -> Result<String, String> {
    if let Some(m) = settings.get("sasl.mechanism.inter.broker.protocol") {
        let m = m.trim().to_ascii_uppercase();
        if !listener.sasl_mechanisms.contains(&m) {
            return Err(format!(
                "sasl.mechanism.inter.broker.protocol is {m}, which listener {} does not \
                 enable (sasl.enabled.mechanisms: {})",
                listener.name,
                listener.sasl_mechanisms.join(",")
            ));
        }
        return Ok(m);
    }
    ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
        .into_iter()
        .find(|m| listener.sasl_mechanisms.iter().any(|e| e == m))
        .map(str::to_string)
        .ok_or_else(|| format!("listener {} enables no SASL mechanism", listener.name))
}

/// Whether followers can fetch through the inter-broker listener `name` as configured
/// (checked at start of a node in a multi-node cluster; the error names the setting).
pub fn check_inter_broker(
    settings: &BTreeMap<String, String>,
    listeners: &[ListenerConfig],
    name: &str,
    has_admin: bool,
) -> Result<(), String> {
    let Some(l) = listeners.iter().find(|l| l.name == name) else {
        return Ok(());
    };
    if let Some(tls) = &l.tls {
        if tls.truststore.is_none() {
            return Err(format!(
                "inter-broker listener {name} uses TLS but has no truststore: set \
                 ssl.truststore.location (or listener.name.{}.ssl.truststore.location) so \
                 followers can verify the leader's certificate",
                name.to_ascii_lowercase()
            ));
        }
    }
    if l.protocol.sasl() {
        if !has_admin {
            return Err(format!(
                "inter-broker listener {name} is {}: followers log in as the admin user; \
                 set STRATA_ADMIN_USER and STRATA_ADMIN_PASSWORD (or admin.user and \
                 admin.password in the config file) on every node",
                l.protocol.name()
            ));
        }
        inter_broker_sasl_mechanism(settings, l)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::settings;
    use super::super::{resolve, Pem};
    use super::*;

    #[test]
    fn controller_port_is_plain_unless_mapped_to_ssl() {
        assert_eq!(controller_tls(&settings(&[])).unwrap(), None);
        let s = settings(&[
            (
                "listener.security.protocol.map",
                "CONTROLLER:SSL,PLAINTEXT:PLAINTEXT",
            ),
            ("ssl.keystore.location", "/k.pem"),
            (
                "listener.name.controller.ssl.truststore.location",
                "/ca.pem",
            ),
        ]);
        let tls = controller_tls(&s).unwrap().unwrap();
        assert_eq!(tls.client_auth, ClientAuth::Required);
        assert_eq!(tls.truststore, Some(Pem::File("/ca.pem".into())));
        assert!(tls.verify_host_name);
        // Another name through controller.listener.names.
        let s = settings(&[
            ("controller.listener.names", "ctl"),
            ("listener.security.protocol.map", "CTL:SSL"),
            ("ssl.keystore.location", "/k.pem"),
            ("ssl.truststore.location", "/ca.pem"),
            ("ssl.client.auth", "required"),
            (
                "listener.name.ctl.ssl.endpoint.identification.algorithm",
                "",
            ),
        ]);
        let tls = controller_tls(&s).unwrap().unwrap();
        assert!(
            !tls.verify_host_name,
            "the Raft port's connector skips host names"
        );
    }

    #[test]
    fn controller_mistakes_are_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[
                    ("listener.security.protocol.map", "CONTROLLER:SSL"),
                    ("ssl.keystore.location", "/k.pem"),
                ],
                "ssl.truststore.location",
            ),
            (
                &[
                    ("listener.security.protocol.map", "CONTROLLER:SSL"),
                    ("ssl.keystore.location", "/k.pem"),
                    ("ssl.truststore.location", "/ca.pem"),
                    ("listener.name.controller.ssl.client.auth", "requested"),
                ],
                "required",
            ),
            (
                &[("listener.security.protocol.map", "CONTROLLER:SASL_SSL")],
                "certificates only",
            ),
        ];
        for (pairs, want) in cases {
            let err = controller_tls(&settings(pairs)).unwrap_err();
            assert!(err.contains(want), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn inter_broker_needs_a_truststore_and_admin_for_sasl() {
        let s = settings(&[
            (
                "listeners",
                "PLAINTEXT://127.0.0.1:1,TLS://127.0.0.1:2,SASL://127.0.0.1:3,BARE://127.0.0.1:4",
            ),
            (
                "listener.security.protocol.map",
                "PLAINTEXT:PLAINTEXT,TLS:SSL,SASL:SASL_SSL,BARE:SSL",
            ),
            ("ssl.keystore.location", "/k.pem"),
            ("listener.name.tls.ssl.truststore.location", "/ca.pem"),
            ("listener.name.sasl.ssl.truststore.location", "/ca.pem"),
            (
                "listener.name.sasl.sasl.enabled.mechanisms",
                "PLAIN,SCRAM-SHA-256",
            ),
        ]);
        let l = resolve(&s, "unused", ("unused", 1)).unwrap();
        assert!(check_inter_broker(&s, &l, "PLAINTEXT", false).is_ok());
        assert!(check_inter_broker(&s, &l, "TLS", false).is_ok());
        assert!(check_inter_broker(&s, &l, "BARE", true)
            .unwrap_err()
            .contains("truststore"));
        assert!(check_inter_broker(&s, &l, "SASL", false)
            .unwrap_err()
            .contains("STRATA_ADMIN_USER"));
        assert!(check_inter_broker(&s, &l, "SASL", true).is_ok());
        let sasl = l.iter().find(|l| l.name == "SASL").unwrap();
        assert_eq!(
            inter_broker_sasl_mechanism(&s, sasl).unwrap(),
            "SCRAM-SHA-256"
        );
        let mut s2 = s.clone();
        s2.insert(
            "sasl.mechanism.inter.broker.protocol".into(),
            "scram-sha-512".into(),
        );
        assert!(inter_broker_sasl_mechanism(&s2, sasl)
            .unwrap_err()
            .contains("does not enable"));
    }
}
