//! Verifying the certificate of the server this side connects to (a broker to its
//! peers, a client to brokers), with the host-name check optional as Kafka's
//! `ssl.endpoint.identification.algorithm` makes it (librdkafka: `https` or `none`).
//!
//! Operators turn the check off for servers whose certificates do not name the address
//! dialled (brokers reached by IP, say); the certificate must still chain to a trusted
//! CA, be within its validity dates and carry valid signatures. rustls's verifier checks
//! the chain before the name (rustls 0.23, `WebPkiServerVerifier::verify_server_cert`)
//! and reports a name mismatch as its own error, so forgiving exactly that error never
//! forgives a bad chain; the tests pin this order.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{VerifierBuilderError, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, RootCertStore,
    SignatureScheme,
};

/// WebPKI verification of a server's certificate against `roots`, the host-name check
/// on or off.
#[derive(Debug)]
pub struct PeerCertVerifier {
    inner: Arc<WebPkiServerVerifier>,
    check_host_name: bool,
}

impl PeerCertVerifier {
    /// A verifier trusting `roots`, with `provider`'s signature algorithms;
    /// `check_host_name` false accepts a certificate that does not name the host.
    pub fn new(
        roots: Arc<RootCertStore>,
        provider: Arc<CryptoProvider>,
        check_host_name: bool,
    ) -> Result<Arc<Self>, VerifierBuilderError> {
        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider).build()?;
        Ok(Arc::new(Self {
            inner,
            check_host_name,
        }))
    }
}

/// Whether `e` says only that the certificate does not name the host.
fn is_name_mismatch(e: &Error) -> bool {
    matches!(
        e,
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    )
}

impl ServerCertVerifier for PeerCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(e) if !self.check_host_name && is_name_mismatch(&e) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

    fn ca(cn: &str) -> CertifiedIssuer<'static, KeyPair> {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, cn);
        CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
    }

    /// A leaf naming `names`, issued by `issuer`; `expired` puts its validity in 2000.
    fn leaf(
        issuer: &CertifiedIssuer<'static, KeyPair>,
        names: &[&str],
        expired: bool,
    ) -> CertificateDer<'static> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, "leaf");
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2000, 12, 31);
        }
        let key = KeyPair::generate().unwrap();
        params.signed_by(&key, issuer).unwrap().der().clone()
    }

    fn verifier(trusted: &CertifiedIssuer<'static, KeyPair>, check: bool) -> Arc<PeerCertVerifier> {
        let mut roots = RootCertStore::empty();
        roots.add(trusted.der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        PeerCertVerifier::new(Arc::new(roots), provider, check).unwrap()
    }

    fn verify(v: &PeerCertVerifier, cert: &CertificateDer<'_>, host: &str) -> Result<(), Error> {
        let name = ServerName::try_from(host.to_string()).unwrap();
        v.verify_server_cert(cert, &[], &name, &[], UnixTime::now())
            .map(|_| ())
    }

    const HOSTS: [&str; 2] = ["localhost", "127.0.0.1"];

    #[test]
    fn a_certificate_for_another_name_passes_only_with_the_check_off() {
        let trusted = ca("Test CA");
        let other = leaf(&trusted, &["other.example"], false);
        let (on, off) = (verifier(&trusted, true), verifier(&trusted, false));
        for host in HOSTS {
            let e = verify(&on, &other, host).unwrap_err();
            assert!(is_name_mismatch(&e), "{host}: {e}");
            verify(&off, &other, host).unwrap();
        }
        let right = leaf(&trusted, &HOSTS, false);
        for host in HOSTS {
            verify(&on, &right, host).unwrap();
            verify(&off, &right, host).unwrap();
        }
    }

    /// Every certificate here also names the wrong host: had the name been checked
    /// before the chain, its error would be the forgiven one.
    #[test]
    fn a_bad_chain_fails_with_the_check_on_or_off() {
        let trusted = ca("Test CA");
        let stranger = leaf(&ca("Other CA"), &["other.example"], false);
        // Same issuer name as the trusted CA, another key: the signature does not verify.
        let forged = leaf(&ca("Test CA"), &["other.example"], false);
        let expired = leaf(&trusted, &["other.example"], true);
        for check in [true, false] {
            let v = verifier(&trusted, check);
            for host in HOSTS {
                let e = verify(&v, &stranger, host).unwrap_err();
                let want = Error::InvalidCertificate(CertificateError::UnknownIssuer);
                assert_eq!(e, want, "check {check}, {host}");
                let e = verify(&v, &forged, host).unwrap_err();
                let want = Error::InvalidCertificate(CertificateError::BadSignature);
                assert_eq!(e, want, "check {check}, {host}");
                let e = verify(&v, &expired, host).unwrap_err();
                assert!(
                    matches!(
                        e,
                        Error::InvalidCertificate(
                            CertificateError::Expired | CertificateError::ExpiredContext { .. }
                        )
                    ),
                    "check {check}, {host}: {e}"
                );
            }
        }
    }

    #[test]
    fn signature_checks_are_the_inner_verifiers() {
        let trusted = ca("Test CA");
        let v = verifier(&trusted, false);
        assert!(!v.supported_verify_schemes().is_empty());
        assert_eq!(
            v.supported_verify_schemes(),
            v.inner.supported_verify_schemes()
        );
    }
}
