//! Client settings like kcat's: `-X key=value` (repeatable) and `-F FILE` /
//! `--config-file` / `STRATA_CLIENT_CONFIG` (a properties file with the same keys, `#`
//! comments), by librdkafka's names. The file is read first; `-X` overrides it.

use std::path::Path;

use anyhow::{bail, Context, Result};
use strata_client::{ClientConfig, SecurityConfig};

/// One `key=value` setting and where it came from (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
    /// `-X` or `FILE line N`.
    pub origin: String,
}

/// Parses a properties file: `key=value` lines (spaces around `=` ignored), blank lines
/// and `#` / `!` comments skipped.
pub fn parse_properties(text: &str, name: &str) -> Result<Vec<Setting>> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let origin = format!("{name} line {}", i + 1);
        let Some((k, v)) = line.split_once('=') else {
            bail!("{origin}: expected key=value");
        };
        let key = k.trim();
        if key.is_empty() {
            bail!("{origin}: empty key");
        }
        out.push(Setting {
            key: key.to_string(),
            value: v.trim().to_string(),
            origin,
        });
    }
    Ok(out)
}

/// The file's settings followed by the `-X` ones.
pub fn collect(file: Option<&Path>, x: &[(String, String)]) -> Result<Vec<Setting>> {
    let mut settings = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading client config file {}", path.display()))?;
            parse_properties(&text, &path.display().to_string())?
        }
        None => Vec::new(),
    };
    settings.extend(x.iter().map(|(k, v)| Setting {
        key: k.clone(),
        value: v.clone(),
        origin: "-X".to_string(),
    }));
    Ok(settings)
}

/// Applies the security settings to `client`; the others are returned when `extra_keys`
/// accepts them (e.g. consumer settings for `consume`), refused otherwise with the list of
/// known keys. A value is never echoed for `sasl.password`.
pub fn apply(
    client: &mut ClientConfig,
    settings: &[Setting],
    extra_keys: &dyn Fn(&str) -> bool,
    extra_names: &[&str],
) -> Result<Vec<(String, String)>> {
    let mut security = client.security.clone();
    let mut extra = Vec::new();
    for s in settings {
        if SecurityConfig::is_key(&s.key) {
            security
                .set(&s.key, &s.value)
                .map_err(|e| anyhow::anyhow!("{}: {e}", s.origin))?;
        } else if extra_keys(&s.key) {
            extra.push((s.key.clone(), s.value.clone()));
        } else {
            let mut known: Vec<&str> = SecurityConfig::KEYS.to_vec();
            known.extend_from_slice(extra_names);
            bail!(
                "{}: unknown setting '{}' (known: {})",
                s.origin,
                s.key,
                known.join(", ")
            );
        }
    }
    security.validate()?;
    if security.protocol.uses_tls() && !security.ssl_verify {
        eprintln!(
            "WARNING: enable.ssl.certificate.verification=false: broker certificates are NOT \
             verified; anyone on the network path can impersonate the brokers"
        );
    }
    client.security = security;
    Ok(extra)
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_client::{SaslMechanism, SecurityProtocol};

    fn x(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn properties_file_with_comments() {
        let text =
            "# a comment\n\n  security.protocol = SASL_SSL\n! another\nsasl.password=a=b#c\n";
        let s = parse_properties(text, "f.properties").expect("parse");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].key, "security.protocol");
        assert_eq!(s[0].value, "SASL_SSL");
        assert_eq!(s[0].origin, "f.properties line 3");
        assert_eq!(
            s[1].value, "a=b#c",
            "only the first = splits; # inside a value stays"
        );
        let e = parse_properties("novalue\n", "f").unwrap_err().to_string();
        assert!(e.contains("f line 1"), "{e}");
    }

    #[test]
    fn x_overrides_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("client.properties");
        std::fs::write(
            &path,
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=a\nsasl.password=p\n",
        )
        .expect("write");
        let settings = collect(
            Some(&path),
            &x(&[("sasl.mechanisms", "SCRAM-SHA-256"), ("sasl.username", "b")]),
        )
        .expect("collect");
        let mut client = ClientConfig::default();
        let extra = apply(&mut client, &settings, &|_| false, &[]).expect("apply");
        assert!(extra.is_empty());
        assert_eq!(client.security.protocol, SecurityProtocol::SaslPlaintext);
        assert_eq!(
            client.security.sasl_mechanism,
            Some(SaslMechanism::ScramSha256)
        );
        assert_eq!(client.security.sasl_username.as_deref(), Some("b"));
        assert_eq!(client.security.sasl_password.as_deref(), Some("p"));
    }

    #[test]
    fn unknown_keys_are_named_with_the_known_ones() {
        let settings = collect(None, &x(&[("ssl.ca.locaton", "/x")])).expect("collect");
        let e = apply(&mut ClientConfig::default(), &settings, &|_| false, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("'ssl.ca.locaton'"), "{e}");
        assert!(
            e.contains("ssl.ca.location") && e.contains("sasl.mechanism"),
            "{e}"
        );
        // A consumer key is fine where the command takes consumer settings.
        let settings = collect(None, &x(&[("session.timeout.ms", "10000")])).expect("collect");
        let extra = apply(
            &mut ClientConfig::default(),
            &settings,
            &|k| k == "session.timeout.ms",
            &["session.timeout.ms"],
        )
        .expect("apply");
        assert_eq!(extra, x(&[("session.timeout.ms", "10000")]));
    }

    #[test]
    fn errors_never_echo_the_password() {
        let settings = collect(
            None,
            &x(&[
                ("security.protocol", "PLAINTEXT"),
                ("sasl.password", "hunter2"),
            ]),
        )
        .expect("collect");
        let e = apply(&mut ClientConfig::default(), &settings, &|_| false, &[])
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("security.protocol"), "{e}");
    }
}
