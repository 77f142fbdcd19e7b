//! Security settings of a client, by librdkafka's names: `security.protocol`, `sasl.*` and
//! `ssl.*`. Every connection a client makes (bootstrap, brokers, group coordinator) uses
//! the same settings.

use std::fmt;
use std::path::PathBuf;

use crate::error::{ClientError, Result};

/// How a connection is secured (Kafka's `security.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    /// Neither TLS nor SASL.
    #[default]
    Plaintext,
    /// TLS (with a client certificate for mutual TLS).
    Ssl,
    /// SASL on a plain TCP connection.
    SaslPlaintext,
    /// SASL inside TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Whether connections start with a TLS handshake.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether connections authenticate with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }

    /// Kafka's name.
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }
}

impl std::str::FromStr for SecurityProtocol {
    type Err = ClientError;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Ok(SecurityProtocol::Plaintext),
            "SSL" => Ok(SecurityProtocol::Ssl),
            "SASL_PLAINTEXT" => Ok(SecurityProtocol::SaslPlaintext),
            "SASL_SSL" => Ok(SecurityProtocol::SaslSsl),
            _ => Err(ClientError::Config(format!(
                "security.protocol must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, not '{s}'"
            ))),
        }
    }
}

/// A SASL mechanism the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    /// `PLAIN`: the password in clear (use it over TLS only).
    Plain,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
}

impl SaslMechanism {
    /// The mechanism's SASL name.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

impl std::str::FromStr for SaslMechanism {
    type Err = ClientError;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_uppercase().as_str() {
            "PLAIN" => Ok(SaslMechanism::Plain),
            "SCRAM-SHA-256" => Ok(SaslMechanism::ScramSha256),
            "SCRAM-SHA-512" => Ok(SaslMechanism::ScramSha512),
            _ => Err(ClientError::Config(format!(
                "sasl.mechanism must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, not '{s}'"
            ))),
        }
    }
}

/// Connection security: protocol, SASL credentials, TLS files.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecurityConfig {
    /// `security.protocol`.
    pub protocol: SecurityProtocol,
    /// `sasl.mechanism` (or `sasl.mechanisms`).
    pub sasl_mechanism: Option<SaslMechanism>,
    /// `sasl.username`.
    pub sasl_username: Option<String>,
    /// `sasl.password`; never printed.
    pub sasl_password: Option<String>,
    /// `ssl.ca.location`: PEM file with the CA certificates that sign the brokers'
    /// certificates. Unset: the system's CA bundle.
    pub ssl_ca_location: Option<PathBuf>,
    /// `ssl.certificate.location`: the client certificate (chain) for mutual TLS.
    pub ssl_certificate_location: Option<PathBuf>,
    /// `ssl.key.location`: the client certificate's unencrypted private key.
    pub ssl_key_location: Option<PathBuf>,
    /// `enable.ssl.certificate.verification`: `false` accepts any broker certificate.
    pub ssl_verify: bool,
    /// `ssl.endpoint.identification.algorithm=none`: check the chain only, not that a
    /// broker's certificate names the host dialled (for brokers whose certificates lack
    /// the address they are reached by). Off by default (`https`), so a config built
    /// with `Default` still checks names.
    pub ssl_skip_host_name_check: bool,
}

impl SecurityConfig {
    /// The settings [`SecurityConfig::set`] knows, by librdkafka's names.
    pub const KEYS: &'static [&'static str] = &[
        "security.protocol",
        "sasl.mechanism",
        "sasl.mechanisms",
        "sasl.username",
        "sasl.password",
        "ssl.ca.location",
        "ssl.certificate.location",
        "ssl.key.location",
        "enable.ssl.certificate.verification",
        "ssl.endpoint.identification.algorithm",
    ];

    /// Plaintext, certificate verification (host names included) on.
    pub fn plaintext() -> Self {
        SecurityConfig {
            ssl_verify: true,
            ..SecurityConfig::default()
        }
    }

    /// Whether `key` is one of [`SecurityConfig::KEYS`].
    pub fn is_key(key: &str) -> bool {
        Self::KEYS.contains(&key)
    }

    /// Sets one setting by its librdkafka name. An error names the key, never the value
    /// of `sasl.password`.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let path = |v: &str| -> Result<Option<PathBuf>> {
            if v.is_empty() {
                return Err(ClientError::Config(format!("{key} must not be empty")));
            }
            Ok(Some(PathBuf::from(v)))
        };
        match key {
            "security.protocol" => self.protocol = value.parse()?,
            "sasl.mechanism" | "sasl.mechanisms" => {
                if value.contains(',') || value.contains(' ') {
                    return Err(ClientError::Config(format!(
                        "{key} takes one mechanism, not a list ('{value}')"
                    )));
                }
                self.sasl_mechanism = Some(value.parse()?)
            }
            "sasl.username" => self.sasl_username = Some(value.to_string()),
            "sasl.password" => self.sasl_password = Some(value.to_string()),
            "ssl.ca.location" => self.ssl_ca_location = path(value)?,
            "ssl.certificate.location" => self.ssl_certificate_location = path(value)?,
            "ssl.key.location" => self.ssl_key_location = path(value)?,
            "enable.ssl.certificate.verification" => {
                self.ssl_verify = match value.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(ClientError::Config(format!(
                            "{key} must be true or false, not '{value}'"
                        )))
                    }
                }
            }
            "ssl.endpoint.identification.algorithm" => {
                self.ssl_skip_host_name_check = match value.to_ascii_lowercase().as_str() {
                    "https" => false,
                    "none" => true,
                    _ => {
                        // Java clients turn the check off with an empty value.
                        let hint = if value.is_empty() {
                            " (give none for the Java clients' empty value)"
                        } else {
                            ""
                        };
                        return Err(ClientError::Config(format!(
                            "{key} must be https or none, not '{value}'{hint}"
                        )));
                    }
                }
            }
            other => {
                return Err(ClientError::Config(format!(
                    "unknown setting '{other}' (known: {})",
                    Self::KEYS.join(", ")
                )))
            }
        }
        Ok(())
    }

    /// Checks the settings hang together: SASL needs a mechanism, a user name and a
    /// password; a client certificate needs its key; SASL or TLS settings need a protocol
    /// that uses them.
    pub fn validate(&self) -> Result<()> {
        let err = |m: String| Err(ClientError::Config(m));
        let p = self.protocol;
        if p.uses_sasl() {
            if self.sasl_mechanism.is_none() {
                return err(format!(
                    "security.protocol={} needs sasl.mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)",
                    p.name()
                ));
            }
            if self.sasl_username.as_deref().unwrap_or("").is_empty() {
                return err(format!(
                    "security.protocol={} needs sasl.username",
                    p.name()
                ));
            }
            if self.sasl_password.is_none() {
                return err(format!(
                    "security.protocol={} needs sasl.password",
                    p.name()
                ));
            }
        } else if self.sasl_mechanism.is_some()
            || self.sasl_username.is_some()
            || self.sasl_password.is_some()
        {
            return err(format!(
                "sasl.* settings are given but security.protocol is {} (use SASL_PLAINTEXT or SASL_SSL)",
                p.name()
            ));
        }
        let tls_files = self.ssl_ca_location.is_some()
            || self.ssl_certificate_location.is_some()
            || self.ssl_key_location.is_some();
        if !p.uses_tls() && tls_files {
            return err(format!(
                "ssl.* settings are given but security.protocol is {} (use SSL or SASL_SSL)",
                p.name()
            ));
        }
        if self.ssl_certificate_location.is_some() != self.ssl_key_location.is_some() {
            return err(
                "ssl.certificate.location and ssl.key.location go together (mutual TLS)".into(),
            );
        }
        Ok(())
    }
}

impl fmt::Debug for SecurityConfig {
    /// The password is shown as `<redacted>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityConfig")
            .field("protocol", &self.protocol)
            .field("sasl_mechanism", &self.sasl_mechanism)
            .field("sasl_username", &self.sasl_username)
            .field(
                "sasl_password",
                &self.sasl_password.as_ref().map(|_| "<redacted>"),
            )
            .field("ssl_ca_location", &self.ssl_ca_location)
            .field("ssl_certificate_location", &self.ssl_certificate_location)
            .field("ssl_key_location", &self.ssl_key_location)
            .field("ssl_verify", &self.ssl_verify)
            .field("ssl_skip_host_name_check", &self.ssl_skip_host_name_check)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<SecurityConfig> {
        let mut c = SecurityConfig::plaintext();
        for (k, v) in pairs {
            c.set(k, v)?;
        }
        c.validate()?;
        Ok(c)
    }

    #[test]
    fn librdkafka_names_are_accepted() {
        let c = with(&[
            ("security.protocol", "sasl_ssl"),
            ("sasl.mechanisms", "SCRAM-SHA-512"),
            ("sasl.username", "alice"),
            ("sasl.password", "pw"),
            ("ssl.ca.location", "/tmp/ca.pem"),
            ("enable.ssl.certificate.verification", "false"),
        ])
        .expect("valid");
        assert_eq!(c.protocol, SecurityProtocol::SaslSsl);
        assert_eq!(c.sasl_mechanism, Some(SaslMechanism::ScramSha512));
        assert!(!c.ssl_verify);
        assert!(SecurityConfig::plaintext().ssl_verify);
    }

    #[test]
    fn endpoint_identification_is_https_or_none() {
        assert!(!SecurityConfig::plaintext().ssl_skip_host_name_check);
        assert!(!SecurityConfig::default().ssl_skip_host_name_check);
        let ssl = ("security.protocol", "SSL");
        let key = "ssl.endpoint.identification.algorithm";
        assert!(
            with(&[ssl, (key, "none")])
                .unwrap()
                .ssl_skip_host_name_check
        );
        assert!(
            !with(&[ssl, (key, "none"), (key, "HTTPS")])
                .unwrap()
                .ssl_skip_host_name_check
        );
        for bad in ["", "http"] {
            let e = with(&[ssl, (key, bad)]).unwrap_err().to_string();
            assert!(
                e.contains(key) && e.contains("https or none"),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let e = with(&[("sasl.usernme", "x")]).unwrap_err().to_string();
        assert!(
            e.contains("sasl.usernme") && e.contains("sasl.username"),
            "{e}"
        );
        let e = with(&[("security.protocol", "TLS")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("security.protocol"), "{e}");
        let e = with(&[("sasl.mechanism", "GSSAPI")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("sasl.mechanism"), "{e}");
        let e = with(&[("enable.ssl.certificate.verification", "maybe")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("enable.ssl.certificate.verification"), "{e}");
    }

    #[test]
    fn inconsistent_settings_are_refused() {
        let e = with(&[("security.protocol", "SASL_PLAINTEXT")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("sasl.mechanism"), "{e}");
        let e = with(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "u"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("sasl.password"), "{e}");
        assert!(
            with(&[("sasl.username", "u")]).is_err(),
            "SASL needs a SASL protocol"
        );
        assert!(
            with(&[("ssl.ca.location", "/x")]).is_err(),
            "TLS needs a TLS protocol"
        );
        assert!(with(&[
            ("security.protocol", "SSL"),
            ("ssl.certificate.location", "/c")
        ])
        .is_err());
    }

    #[test]
    fn password_is_never_printed() {
        let c = with(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "u"),
            ("sasl.password", "hunter2"),
        ])
        .expect("valid");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
