//! `ssl.enabled.protocols` and `ssl.cipher.suites`: which TLS versions and cipher suites
//! a listener (and this node's TLS connections to its peers) will negotiate;
//! `ssl.endpoint.identification.algorithm`: whether those connections check host names.
//!
//! Kafka's names carry over: `TLSv1.2` / `TLSv1.3`, and cipher suites by their IANA
//! (Java) names, `TLS_AES_128_GCM_SHA256` for TLS 1.3 and
//! `TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384` for TLS 1.2. A listed suite Strata does not
//! implement (a CBC suite, say) is left out with a warning, so a Kafka config naming more
//! suites than rustls has still starts; only suites listed are ever enabled, and a list
//! that leaves none usable under the enabled protocols is an error.

use rustls::{CipherSuite, ProtocolVersion, SupportedCipherSuite};

/// The TLS versions enabled (`ssl.enabled.protocols`; both by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsProtocols {
    /// TLS 1.2.
    pub tls12: bool,
    /// TLS 1.3.
    pub tls13: bool,
}

impl Default for TlsProtocols {
    fn default() -> Self {
        Self {
            tls12: true,
            tls13: true,
        }
    }
}

impl TlsProtocols {
    /// rustls's versions for these.
    pub fn versions(self) -> Vec<&'static rustls::SupportedProtocolVersion> {
        [
            (self.tls13, &rustls::version::TLS13),
            (self.tls12, &rustls::version::TLS12),
        ]
        .into_iter()
        .filter_map(|(on, v)| on.then_some(v))
        .collect()
    }

    fn allows(self, version: ProtocolVersion) -> bool {
        match version {
            ProtocolVersion::TLSv1_2 => self.tls12,
            ProtocolVersion::TLSv1_3 => self.tls13,
            _ => false,
        }
    }
}

/// Parses `ssl.enabled.protocols` (absent: both).
pub(crate) fn protocols(name: &str, value: Option<&str>) -> Result<TlsProtocols, String> {
    let Some(value) = value else {
        return Ok(TlsProtocols::default());
    };
    let mut p = TlsProtocols {
        tls12: false,
        tls13: false,
    };
    for v in value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
        match v {
            "TLSv1.2" => p.tls12 = true,
            "TLSv1.3" => p.tls13 = true,
            _ => {
                return Err(format!(
                    "listener {name}: ssl.enabled.protocols '{v}' is not TLSv1.2 or TLSv1.3"
                ))
            }
        }
    }
    if !p.tls12 && !p.tls13 {
        return Err(format!(
            "listener {name}: ssl.enabled.protocols is empty; give TLSv1.2, TLSv1.3 or both"
        ));
    }
    Ok(p)
}

/// The cipher suites the built-in provider implements.
pub(crate) fn implemented() -> Vec<SupportedCipherSuite> {
    rustls::crypto::ring::default_provider().cipher_suites
}

/// A suite's Kafka (IANA / Java) name: rustls names the TLS 1.3 ones `TLS13_...`.
fn kafka_name(suite: CipherSuite) -> String {
    let name = suite
        .as_str()
        .map_or_else(|| format!("{suite:?}"), String::from);
    match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name,
    }
}

/// Parses `ssl.cipher.suites` (absent or empty: every implemented suite), keeping the
/// provider's order of preference. Names match case-insensitively.
pub(crate) fn cipher_suites(
    name: &str,
    value: Option<&str>,
    protocols: TlsProtocols,
) -> Result<Vec<CipherSuite>, String> {
    let wanted: Vec<&str> = value
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    // Each implemented suite with its Kafka name, and whether the protocols allow it.
    let named: Vec<(String, CipherSuite, bool)> = implemented()
        .iter()
        .map(|s| {
            let usable = protocols.allows(s.version().version);
            (kafka_name(s.suite()), s.suite(), usable)
        })
        .collect();
    let is_named = |w: &str| named.iter().any(|(n, _, _)| n.eq_ignore_ascii_case(w));
    let unknown: Vec<&str> = wanted.iter().copied().filter(|w| !is_named(w)).collect();
    if !unknown.is_empty() && first_time(name, "ssl.cipher.suites") {
        tracing::warn!(listener = name, suites = ?unknown,
            "ssl.cipher.suites names suites Strata does not implement; they are left out");
    }
    let listed = |n: &str| wanted.iter().any(|w| w.eq_ignore_ascii_case(n));
    let chosen: Vec<CipherSuite> = named
        .iter()
        .filter(|(n, _, usable)| *usable && listed(n))
        .map(|(_, suite, _)| *suite)
        .collect();
    if chosen.is_empty() {
        let offered: Vec<&str> = named
            .iter()
            .filter(|(_, _, usable)| *usable)
            .map(|(n, _, _)| n.as_str())
            .collect();
        return Err(format!(
            "listener {name}: no suite in ssl.cipher.suites can be used with \
             ssl.enabled.protocols; Strata implements {}",
            offered.join(", ")
        ));
    }
    Ok(chosen)
}

/// Parses `ssl.endpoint.identification.algorithm`: whether this node checks that a
/// peer's certificate names the host it connected to. `https` (any case) or unset: yes,
/// Kafka's default; empty: no, the chain is still verified (Kafka knows no other value).
pub(crate) fn verify_host_name(name: &str, value: Option<&str>) -> Result<bool, String> {
    match value {
        None => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("https") => Ok(true),
        Some("") => Ok(false),
        Some(v) => Err(format!(
            "listener {name}: ssl.endpoint.identification.algorithm '{v}' is not https \
             (check that a peer's certificate names its host) or empty (do not)"
        )),
    }
}

/// Whether this is the first warning about `key` of listener `name` in this process: the
/// settings are resolved more than once at start, the warning is given once.
fn first_time(name: &str, key: &str) -> bool {
    static WARNED: std::sync::Mutex<std::collections::BTreeSet<(String, String)>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut warned = WARNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    warned.insert((name.to_string(), key.to_string()))
}

/// The built-in crypto provider narrowed to `suites` (all of them when empty).
pub fn provider(suites: &[CipherSuite]) -> rustls::crypto::CryptoProvider {
    let mut p = rustls::crypto::ring::default_provider();
    if !suites.is_empty() {
        p.cipher_suites.retain(|s| suites.contains(&s.suite()));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_parse_like_kafka() {
        assert_eq!(protocols("L", None).unwrap(), TlsProtocols::default());
        let p = protocols("L", Some("TLSv1.3")).unwrap();
        assert!(p.tls13 && !p.tls12);
        assert_eq!(p.versions(), vec![&rustls::version::TLS13]);
        let p = protocols("L", Some(" TLSv1.2 , TLSv1.3 ")).unwrap();
        assert!(p.tls13 && p.tls12);
        let e = protocols("L", Some("TLSv1.1")).unwrap_err();
        assert!(e.contains("TLSv1.1"), "{e}");
        let e = protocols("L", Some(" , ")).unwrap_err();
        assert!(e.contains("empty"), "{e}");
    }

    #[test]
    fn suites_by_kafka_names_in_the_providers_order() {
        let all = TlsProtocols::default();
        assert!(cipher_suites("L", None, all).unwrap().is_empty());
        assert!(cipher_suites("L", Some(""), all).unwrap().is_empty());
        let got = cipher_suites(
            "L",
            Some("TLS_AES_128_GCM_SHA256,tls_ecdhe_rsa_with_aes_256_gcm_sha384"),
            all,
        )
        .unwrap();
        assert_eq!(got.len(), 2);
        assert!(got.contains(&CipherSuite::TLS13_AES_128_GCM_SHA256));
        assert!(got.contains(&CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384));
        // Unimplemented names (CBC) are left out when something usable remains.
        let got = cipher_suites(
            "L",
            Some("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384,TLS_AES_256_GCM_SHA384"),
            all,
        )
        .unwrap();
        assert_eq!(got, vec![CipherSuite::TLS13_AES_256_GCM_SHA384]);
        // Nothing usable: an error naming what is implemented.
        let e = cipher_suites("L", Some("TLS_RSA_WITH_AES_128_CBC_SHA"), all).unwrap_err();
        assert!(e.contains("TLS_AES_128_GCM_SHA256"), "{e}");
        let only13 = protocols("L", Some("TLSv1.3")).unwrap();
        let e =
            cipher_suites("L", Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), only13).unwrap_err();
        assert!(e.contains("ssl.enabled.protocols"), "{e}");
    }

    #[test]
    fn every_implemented_suite_has_a_kafka_name_that_parses_back() {
        for s in implemented() {
            let n = kafka_name(s.suite());
            assert!(n.starts_with("TLS_"), "{n}");
            assert!(!n.starts_with("TLS13_"), "{n}");
            let got = cipher_suites("L", Some(&n), TlsProtocols::default()).unwrap();
            assert_eq!(got, vec![s.suite()], "{n}");
        }
    }

    #[test]
    fn endpoint_identification_is_https_or_empty() {
        assert!(verify_host_name("L", None).unwrap());
        assert!(verify_host_name("L", Some("https")).unwrap());
        assert!(verify_host_name("L", Some("HTTPS")).unwrap());
        assert!(!verify_host_name("L", Some("")).unwrap());
        let e = verify_host_name("L", Some("none")).unwrap_err();
        assert!(
            e.contains("ssl.endpoint.identification.algorithm") && e.contains("'none'"),
            "{e}"
        );
        assert!(e.contains("https") && e.contains("empty"), "{e}");
    }

    #[test]
    fn provider_keeps_only_the_chosen_suites() {
        assert_eq!(provider(&[]).cipher_suites.len(), implemented().len());
        let p = provider(&[CipherSuite::TLS13_AES_256_GCM_SHA384]);
        assert_eq!(p.cipher_suites.len(), 1);
        assert_eq!(
            p.cipher_suites[0].suite(),
            CipherSuite::TLS13_AES_256_GCM_SHA384
        );
    }
}
