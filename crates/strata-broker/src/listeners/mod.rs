//! Named listeners with Kafka's settings: `listeners`, `advertised.listeners`,
//! `listener.security.protocol.map`, `inter.broker.listener.name`, and the `ssl.*` /
//! `sasl.*` settings of each (with `listener.name.<name>.` overrides).
//!
//! Pure parsing: [`resolve`] turns the raw settings into [`ListenerConfig`]s or an error
//! naming the setting at fault. Loading certificate files happens when the listener
//! starts (`network::tls`).

use std::collections::BTreeMap;
use std::path::PathBuf;

pub mod dynamic;
mod peers;
mod ssl_params;

pub use peers::{check_inter_broker, controller_tls, http_tls, inter_broker_sasl_mechanism};
pub use ssl_params::{provider as tls_provider, TlsProtocols};

/// How a listener secures its connections (Kafka's `SecurityProtocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecurityProtocol {
    /// No TLS, no authentication: every client is `User:ANONYMOUS`.
    Plaintext,
    /// TLS; with client certificates (mTLS) the principal comes from the subject.
    Ssl,
    /// SASL authentication without TLS.
    SaslPlaintext,
    /// SASL authentication over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Kafka's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }

    /// Kafka's id (DescribeCluster and broker registrations carry it).
    pub fn id(self) -> i16 {
        match self {
            Self::Plaintext => 0,
            Self::Ssl => 1,
            Self::SaslPlaintext => 2,
            Self::SaslSsl => 3,
        }
    }

    /// Parses a name, case-insensitively.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Self::Plaintext,
            "SSL" => Self::Ssl,
            "SASL_PLAINTEXT" => Self::SaslPlaintext,
            "SASL_SSL" => Self::SaslSsl,
            _ => return None,
        })
    }

    /// Whether connections are TLS.
    pub fn tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    /// Whether clients authenticate with SASL.
    pub fn sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

/// `ssl.client.auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate is asked for.
    None,
    /// A certificate is asked for; a client without one still connects.
    Requested,
    /// A client without a certificate the truststore accepts is refused.
    Required,
}

/// Where a PEM item comes from: a file (`*.location`) or the setting's value itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pem {
    /// A file, read at start and again when it changes.
    File(PathBuf),
    /// PEM text given inline (`ssl.keystore.key`, `ssl.keystore.certificate.chain`,
    /// `ssl.truststore.certificates`).
    Inline(String),
}

/// One listener's TLS settings (KIP-651 PEM stores only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The private key; with `ssl.keystore.location` the same file holds the chain.
    pub key: Pem,
    /// The certificate chain, leaf first.
    pub chain: Pem,
    /// CA certificates client certificates must chain to.
    pub truststore: Option<Pem>,
    /// `ssl.client.auth`.
    pub client_auth: ClientAuth,
    /// `ssl.principal.mapping.rules` (Kafka's syntax), if set.
    pub principal_mapping_rules: Option<String>,
    /// `ssl.enabled.protocols`.
    pub protocols: TlsProtocols,
    /// `ssl.cipher.suites` that Strata implements, in the provider's order; empty: all.
    pub cipher_suites: Vec<rustls::CipherSuite>,
    /// `ssl.endpoint.identification.algorithm` (`https`, else empty): whether this node,
    /// connecting to a peer, checks that the peer's certificate names the host dialled.
    /// Listeners never check client certificates' names, as in Kafka.
    pub verify_host_name: bool,
}

/// One resolved listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    /// The listener's name, upper case (`PLAINTEXT`, `SECURE`, ...).
    pub name: String,
    /// Where it binds (`HOST:PORT`; port 0 picks a free one).
    pub bind: String,
    /// The host clients are told to connect to.
    pub advertised_host: String,
    /// The port clients are told to connect to (0: the bound port).
    pub advertised_port: i32,
    /// Its security protocol.
    pub protocol: SecurityProtocol,
    /// TLS settings, for SSL and SASL_SSL listeners.
    pub tls: Option<TlsSettings>,
    /// `sasl.enabled.mechanisms`, for SASL listeners.
    pub sasl_mechanisms: Vec<String>,
}

/// SASL mechanisms Strata serves.
pub const SASL_MECHANISMS: &[&str] = &["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];
/// `sasl.enabled.mechanisms` when not set (PLAIN sends the password itself, so it is
/// served only where it is listed).
pub(crate) const DEFAULT_SASL_MECHANISMS: &[&str] = &["SCRAM-SHA-256", "SCRAM-SHA-512"];

/// Security settings taken as they are (validated by [`resolve`]).
const PLAIN_KEYS: &[&str] = &[
    "listeners",
    "advertised.listeners",
    "listener.security.protocol.map",
    "inter.broker.listener.name",
    "security.inter.broker.protocol",
    "sasl.enabled.mechanisms",
    "sasl.mechanism.inter.broker.protocol",
    "controller.listener.names",
    "connections.max.reauth.ms",
    "connection.failed.authentication.delay.ms",
    "super.users",
    "authorizer.class.name",
    "allow.everyone.if.no.acl.found",
    "http.auth.exempt.paths",
];

/// `ssl.*` settings Strata understands (alone or with a `listener.name.<l>.` prefix).
const SSL_KEYS: &[&str] = &[
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
    "ssl.key.password",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.certificates",
    "ssl.client.auth",
    "ssl.principal.mapping.rules",
    "ssl.enabled.protocols",
    "ssl.cipher.suites",
    "ssl.protocol",
    "ssl.endpoint.identification.algorithm",
];

/// Whether `key` is a listener or security setting (kept raw in
/// `BrokerConfig::security` and resolved by [`resolve`]).
pub fn is_security_key(key: &str) -> bool {
    let bare = strip_listener_prefix(key).map_or(key, |(_, k)| k);
    PLAIN_KEYS.contains(&key)
        || SSL_KEYS.contains(&bare)
        || bare == "sasl.enabled.mechanisms"
        || crate::quota::is_quota_key(key)
}

/// `listener.name.<name>.<key>` → (`name`, `key`).
fn strip_listener_prefix(key: &str) -> Option<(&str, &str)> {
    key.strip_prefix("listener.name.")?.split_once('.')
}

/// The listeners the raw settings describe. `listen` and `advertise` are the short form
/// (one PLAINTEXT listener) used when `listeners` is not set.
pub fn resolve(
    settings: &BTreeMap<String, String>,
    listen: &str,
    advertise: (&str, i32),
) -> Result<Vec<ListenerConfig>, String> {
    for key in settings.keys() {
        if !is_security_key(key) {
            return Err(format!("unknown security setting '{key}'"));
        }
    }
    let Some(spec) = settings.get("listeners") else {
        if settings.contains_key("advertised.listeners") {
            return Err("advertised.listeners is set but listeners is not".into());
        }
        return Ok(vec![ListenerConfig {
            name: "PLAINTEXT".into(),
            bind: listen.to_string(),
            advertised_host: advertise.0.to_string(),
            advertised_port: advertise.1,
            protocol: SecurityProtocol::Plaintext,
            tls: None,
            sasl_mechanisms: Vec::new(),
        }]);
    };
    let map = protocol_map(settings.get("listener.security.protocol.map"))?;
    let bound = parse_endpoints("listeners", spec)?;
    let advertised = match settings.get("advertised.listeners") {
        Some(a) => parse_endpoints("advertised.listeners", a)?,
        None => bound.clone(),
    };
    let mut out = Vec::new();
    for (name, host, port) in &bound {
        let protocol = match map.get(name) {
            Some(p) => *p,
            None => SecurityProtocol::from_name(name).ok_or_else(|| {
                format!(
                    "listener {name} has no security protocol: add {name}:<PROTOCOL> to \
                     listener.security.protocol.map"
                )
            })?,
        };
        let (adv_host, adv_port) = match advertised.iter().find(|(n, _, _)| n == name) {
            Some((_, h, p)) => (h.clone(), *p),
            None => (host.clone(), *port),
        };
        if adv_host.is_empty() || adv_host == "0.0.0.0" || adv_host == "::" {
            return Err(format!(
                "listener {name} binds all interfaces ({}): set its address clients can \
                 reach in advertised.listeners",
                bind_addr(host, *port)
            ));
        }
        let get = |key: &str| setting(settings, name, protocol, key);
        out.push(ListenerConfig {
            name: name.clone(),
            bind: bind_addr(host, *port),
            advertised_host: adv_host,
            advertised_port: adv_port,
            protocol,
            tls: if protocol.tls() {
                Some(tls_settings(name, &get)?)
            } else {
                None
            },
            sasl_mechanisms: if protocol.sasl() {
                sasl_mechanisms(name, &get)?
            } else {
                Vec::new()
            },
        });
    }
    for (name, _, _) in &advertised {
        if !bound.iter().any(|(n, _, _)| n == name) {
            return Err(format!(
                "advertised.listeners names {name}, which is not in listeners"
            ));
        }
    }
    Ok(out)
}

/// The listener other brokers use (replication): `inter.broker.listener.name`, else the
/// listener named after `security.inter.broker.protocol` (default PLAINTEXT), else the
/// first one.
pub fn inter_broker_listener(
    settings: &BTreeMap<String, String>,
    listeners: &[ListenerConfig],
) -> Result<String, String> {
    if let Some(n) = settings.get("inter.broker.listener.name") {
        let n = n.trim().to_ascii_uppercase();
        if settings.contains_key("security.inter.broker.protocol") {
            return Err(
                "set only one of inter.broker.listener.name and security.inter.broker.protocol"
                    .into(),
            );
        }
        return listeners
            .iter()
            .find(|l| l.name == n)
            .map(|l| l.name.clone())
            .ok_or_else(|| format!("inter.broker.listener.name {n} is not in listeners"));
    }
    if let Some(p) = settings.get("security.inter.broker.protocol") {
        let p = SecurityProtocol::from_name(p.trim())
            .ok_or_else(|| format!("security.inter.broker.protocol: unknown protocol '{p}'"))?;
        return listeners
            .iter()
            .find(|l| l.protocol == p)
            .map(|l| l.name.clone())
            .ok_or_else(|| {
                format!(
                    "security.inter.broker.protocol is {} but no listener uses it",
                    p.name()
                )
            });
    }
    Ok(listeners
        .iter()
        .find(|l| l.name == "PLAINTEXT")
        .or(listeners.first())
        .map(|l| l.name.clone())
        .unwrap_or_default())
}

/// One setting for listener `name`: `listener.name.<name>.<key>` first, then `key` —
/// except `ssl.client.auth` on SASL_SSL listeners, which only the prefixed form sets
/// (KIP-684: SASL clients authenticate with SASL, not certificates).
pub(crate) fn setting<'a>(
    settings: &'a BTreeMap<String, String>,
    name: &str,
    protocol: SecurityProtocol,
    key: &str,
) -> Option<&'a str> {
    let prefixed = format!("listener.name.{}.{key}", name.to_ascii_lowercase());
    if let Some(v) = settings.get(&prefixed) {
        return Some(v.trim());
    }
    if key == "ssl.client.auth" && protocol == SecurityProtocol::SaslSsl {
        return None;
    }
    settings.get(key).map(|v| v.trim())
}

pub(crate) fn tls_settings<'a>(
    name: &str,
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<TlsSettings, String> {
    for key in ["ssl.keystore.type", "ssl.truststore.type"] {
        if let Some(t) = get(key).filter(|t| !t.eq_ignore_ascii_case("PEM")) {
            return Err(format!(
                "listener {name}: {key}={t} is not supported; use PEM stores (KIP-651)"
            ));
        }
    }
    if get("ssl.key.password").is_some_and(|p| !p.is_empty()) {
        return Err(format!(
            "listener {name}: encrypted private keys (ssl.key.password) are not supported; \
             give an unencrypted PKCS#8 key with file permissions protecting it"
        ));
    }
    let (key, chain) = match (
        get("ssl.keystore.location"),
        get("ssl.keystore.key"),
        get("ssl.keystore.certificate.chain"),
    ) {
        (Some(loc), None, None) => (Pem::File(loc.into()), Pem::File(loc.into())),
        (None, Some(k), Some(c)) => (Pem::Inline(k.into()), Pem::Inline(c.into())),
        (None, None, None) => {
            return Err(format!(
                "listener {name} uses TLS but has no key: set ssl.keystore.location (a PEM \
                 file with the key and certificate chain) or ssl.keystore.key and \
                 ssl.keystore.certificate.chain"
            ))
        }
        _ => {
            return Err(format!(
                "listener {name}: set either ssl.keystore.location or both ssl.keystore.key \
                 and ssl.keystore.certificate.chain"
            ))
        }
    };
    let truststore = match (
        get("ssl.truststore.location"),
        get("ssl.truststore.certificates"),
    ) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "listener {name}: set only one of ssl.truststore.location and \
                 ssl.truststore.certificates"
            ))
        }
        (Some(loc), None) => Some(Pem::File(loc.into())),
        (None, Some(c)) => Some(Pem::Inline(c.into())),
        (None, None) => None,
    };
    let client_auth = match get("ssl.client.auth")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("none") => ClientAuth::None,
        Some("requested") => ClientAuth::Requested,
        Some("required") => ClientAuth::Required,
        Some(other) => {
            return Err(format!(
                "listener {name}: ssl.client.auth '{other}' is not none, requested or required"
            ))
        }
    };
    if client_auth != ClientAuth::None && truststore.is_none() {
        return Err(format!(
            "listener {name}: ssl.client.auth={} needs ssl.truststore.location (the CA \
             certificates client certificates must chain to)",
            if client_auth == ClientAuth::Required {
                "required"
            } else {
                "requested"
            }
        ));
    }
    let protocols = ssl_params::protocols(name, get("ssl.enabled.protocols"))?;
    let cipher_suites = ssl_params::cipher_suites(name, get("ssl.cipher.suites"), protocols)?;
    let verify_host_name =
        ssl_params::verify_host_name(name, get("ssl.endpoint.identification.algorithm"))?;
    Ok(TlsSettings {
        key,
        chain,
        truststore,
        client_auth,
        principal_mapping_rules: get("ssl.principal.mapping.rules").map(String::from),
        protocols,
        cipher_suites,
        verify_host_name,
    })
}

fn sasl_mechanisms<'a>(
    name: &str,
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<Vec<String>, String> {
    let list: Vec<String> = match get("sasl.enabled.mechanisms") {
        Some(v) => v
            .split(',')
            .map(|m| m.trim().to_ascii_uppercase())
            .filter(|m| !m.is_empty())
            .collect(),
        None => DEFAULT_SASL_MECHANISMS
            .iter()
            .map(|m| m.to_string())
            .collect(),
    };
    if list.is_empty() {
        return Err(format!(
            "listener {name}: sasl.enabled.mechanisms is empty; a SASL listener needs one of {}",
            SASL_MECHANISMS.join(", ")
        ));
    }
    for m in &list {
        if !SASL_MECHANISMS.contains(&m.as_str()) {
            return Err(format!(
                "listener {name}: SASL mechanism {m} is not supported (supported: {})",
                SASL_MECHANISMS.join(", ")
            ));
        }
    }
    Ok(list)
}

/// `listener.security.protocol.map`: `NAME:PROTOCOL,...`.
pub(crate) fn protocol_map(
    spec: Option<&String>,
) -> Result<BTreeMap<String, SecurityProtocol>, String> {
    let mut map = BTreeMap::new();
    let Some(spec) = spec else {
        return Ok(map);
    };
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, proto) = part.split_once(':').ok_or_else(|| {
            format!("listener.security.protocol.map: '{part}' is not NAME:PROTOCOL")
        })?;
        let p = SecurityProtocol::from_name(proto.trim()).ok_or_else(|| {
            format!(
                "listener.security.protocol.map: unknown protocol '{proto}' (PLAINTEXT, SSL, \
                 SASL_PLAINTEXT or SASL_SSL)"
            )
        })?;
        map.insert(name.trim().to_ascii_uppercase(), p);
    }
    Ok(map)
}

/// `NAME://HOST:PORT,...` → (name, host, port); an empty host means all interfaces.
fn parse_endpoints(key: &str, spec: &str) -> Result<Vec<(String, String, i32)>, String> {
    let mut out: Vec<(String, String, i32)> = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, addr) = part
            .split_once("://")
            .ok_or_else(|| format!("{key}: '{part}' is not NAME://HOST:PORT"))?;
        let name = name.trim().to_ascii_uppercase();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!("{key}: '{name}' is not a valid listener name"));
        }
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| format!("{key}: '{part}' has no port"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("{key}: '{part}': '{port}' is not a port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if out.iter().any(|(n, _, _)| *n == name) {
            return Err(format!("{key}: listener {name} appears twice"));
        }
        out.push((name, host.to_string(), i32::from(port)));
    }
    if out.is_empty() {
        return Err(format!("{key} is empty"));
    }
    Ok(out)
}

fn bind_addr(host: &str, port: i32) -> String {
    match host {
        "" => format!("0.0.0.0:{port}"),
        h if h.contains(':') => format!("[{h}]:{port}"),
        h => format!("{h}:{port}"),
    }
}

#[cfg(test)]
mod tests;
