//! The client's TLS (rustls, ring provider as the broker uses): CA certificates from a
//! PEM file (or the system bundle), an optional client certificate for mutual TLS, and
//! the server name from the address being dialled (IP SANs work), which the broker's
//! certificate must carry unless `ssl.endpoint.identification.algorithm=none`.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig as RustlsConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use strata_auth::server_cert::PeerCertVerifier;

use crate::error::{ClientError, Result};
use crate::security::SecurityConfig;

/// Where the system's CA bundle usually is (Debian/Ubuntu, Fedora/RHEL, Alpine/macOS).
const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

fn config_err(m: String) -> ClientError {
    ClientError::Config(m)
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path)
        .map_err(|e| config_err(format!("cannot read {what} {}: {e}", path.display())))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| config_err(format!("{what} {} is not valid PEM: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(config_err(format!(
            "{what} {} holds no certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// Builds the rustls client config for `s` (files are read here, once per client).
pub(crate) fn connector(s: &SecurityConfig) -> Result<tokio_rustls::TlsConnector> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = RustlsConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| config_err(format!("TLS protocol versions: {e}")))?;
    let builder = if s.ssl_verify {
        let mut roots = RootCertStore::empty();
        let (path, what) = match &s.ssl_ca_location {
            Some(p) => (p.clone(), "ssl.ca.location"),
            None => {
                let found = SYSTEM_CA_BUNDLES
                    .iter()
                    .map(Path::new)
                    .find(|p| p.is_file());
                let p = found.ok_or_else(|| {
                    config_err(
                        "no ssl.ca.location given and no system CA bundle found; set \
                         ssl.ca.location to the CA that signed the brokers' certificates"
                            .into(),
                    )
                })?;
                (p.to_path_buf(), "the system CA bundle")
            }
        };
        let (added, _) = roots.add_parsable_certificates(read_certs(&path, what)?);
        if added == 0 {
            return Err(config_err(format!(
                "{what} {} holds no usable CA certificate",
                path.display()
            )));
        }
        let verifier = PeerCertVerifier::new(
            Arc::new(roots),
            Arc::clone(&provider),
            !s.ssl_skip_host_name_check,
        )
        .map_err(|e| config_err(format!("{what} {}: {e}", path.display())))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    };
    let config = match (&s.ssl_certificate_location, &s.ssl_key_location) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert, "ssl.certificate.location")?;
            let key_pem = std::fs::read(key).map_err(|e| {
                config_err(format!(
                    "cannot read ssl.key.location {}: {e}",
                    key.display()
                ))
            })?;
            let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
                config_err(format!(
                    "ssl.key.location {} holds no unencrypted private key (PKCS#8, PKCS#1 or SEC1 PEM)",
                    key.display()
                ))
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                config_err(format!(
                    "the client key does not match the certificate, or is not supported: {e}"
                ))
            })?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// The TLS server name for `addr` (`host:port`, `[v6]:port`): a DNS name or an IP address.
pub(crate) fn server_name(addr: &str) -> Result<ServerName<'static>> {
    let host = match addr.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string())
        .map_err(|_| config_err(format!("'{host}' is not a valid TLS server name")))
}

/// Whether an I/O error from a TLS handshake is a TLS failure (certificate, protocol)
/// rather than a network one; its text if so.
pub(crate) fn handshake_failure(e: &std::io::Error) -> Option<String> {
    let inner = e.get_ref()?;
    inner
        .downcast_ref::<rustls::Error>()
        .map(|tls| tls.to_string())
}

/// `enable.ssl.certificate.verification=false`: any certificate is accepted, but the
/// handshake signatures are still checked.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_from_addresses() {
        assert!(matches!(
            server_name("127.0.0.1:9093").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]:9093").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("broker1.example.com:9093").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(server_name("bad host:1").is_err());
    }

    /// A CA's certificate and a server config whose certificate, signed by it, names
    /// only `other.example`.
    fn server(ca_name: &str) -> (String, Arc<rustls::ServerConfig>) {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, ca_name);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["other.example".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
        (ca.pem(), Arc::new(config))
    }

    /// A handshake through [`connector`] with `settings` (`-X` style) and a CA file
    /// holding `trusted`, to `server` addressed as 127.0.0.1; the client's error if any.
    async fn connect(
        trusted: &str,
        server: Arc<rustls::ServerConfig>,
        settings: &[(&str, &str)],
    ) -> std::result::Result<(), String> {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, trusted).unwrap();
        let mut s = SecurityConfig::plaintext();
        s.set("security.protocol", "SSL").unwrap();
        s.set("ssl.ca.location", ca.to_str().unwrap()).unwrap();
        for (k, v) in settings {
            s.set(k, v).unwrap();
        }
        let tls = connector(&s).unwrap();
        let (c, srv) = tokio::io::duplex(64 * 1024);
        let serving = tokio::spawn(tokio_rustls::TlsAcceptor::from(server).accept(srv));
        let res = tls
            .connect(server_name("127.0.0.1:9093").unwrap(), c)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
        drop(serving.await);
        res
    }

    #[tokio::test]
    async fn host_name_check_follows_endpoint_identification() {
        let (ca, config) = server("cluster");
        let key = "ssl.endpoint.identification.algorithm";
        let e = connect(&ca, Arc::clone(&config), &[]).await.unwrap_err();
        assert!(e.contains("not valid for name"), "{e}");
        let e = connect(&ca, Arc::clone(&config), &[(key, "https")])
            .await
            .unwrap_err();
        assert!(e.contains("not valid for name"), "{e}");
        connect(&ca, config, &[(key, "none")]).await.unwrap();
    }

    #[tokio::test]
    async fn without_the_host_name_check_the_ca_still_counts() {
        let (_, config) = server("stranger");
        let (ca, _) = server("cluster");
        let key = "ssl.endpoint.identification.algorithm";
        let e = connect(&ca, config, &[(key, "none")]).await.unwrap_err();
        assert!(e.contains("UnknownIssuer"), "{e}");
    }

    #[test]
    fn missing_files_are_named() {
        let s = SecurityConfig {
            protocol: crate::security::SecurityProtocol::Ssl,
            ssl_ca_location: Some("/nonexistent/ca.pem".into()),
            ..SecurityConfig::plaintext()
        };
        let e = connector(&s).err().expect("no file").to_string();
        assert!(
            e.contains("ssl.ca.location") && e.contains("/nonexistent/ca.pem"),
            "{e}"
        );
    }
}
