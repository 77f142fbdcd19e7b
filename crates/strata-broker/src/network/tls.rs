//! TLS for a listener (rustls): the server config built from the listener's PEM
//! settings, rebuilt when the files change so certificates renew without a restart.
//!
//! A rebuild that fails (a half-written file, a key that does not match) keeps the
//! config in use and logs why; the next change is tried again.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::sync::watch;

use crate::listeners::{ClientAuth, Pem, TlsSettings};

/// How often the PEM files are checked for changes.
const RELOAD_CHECK: Duration = Duration::from_secs(10);

/// A listener's TLS acceptor, swapped when its files change.
pub(crate) struct Tls {
    listener: String,
    settings: TlsSettings,
    current: parking_lot::RwLock<tokio_rustls::TlsAcceptor>,
    stamps: parking_lot::Mutex<Vec<Option<SystemTime>>>,
}

impl Tls {
    /// Builds the acceptor; an error names the listener and the file at fault.
    pub(crate) fn new(listener: &str, settings: &TlsSettings) -> anyhow::Result<Arc<Self>> {
        let config = server_config(settings)
            .with_context(|| format!("listener {listener}: TLS settings"))?;
        Ok(Arc::new(Self {
            listener: listener.to_string(),
            settings: settings.clone(),
            current: parking_lot::RwLock::new(Arc::new(config).into()),
            stamps: parking_lot::Mutex::new(stamps(settings)),
        }))
    }

    /// The acceptor for a new connection.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        self.current.read().clone()
    }

    /// Rebuilds the config when a file changed (call on a blocking thread). `true` if a
    /// new config is in use.
    fn reload_if_changed(&self) -> bool {
        let now = stamps(&self.settings);
        if *self.stamps.lock() == now {
            return false;
        }
        *self.stamps.lock() = now;
        match server_config(&self.settings) {
            Ok(c) => {
                *self.current.write() = Arc::new(c).into();
                tracing::info!(listener = %self.listener, "TLS certificates reloaded");
                true
            }
            Err(e) => {
                tracing::error!(listener = %self.listener, error = %format!("{e:#}"),
                    "TLS files changed but cannot be loaded; keeping the previous certificates");
                false
            }
        }
    }

    /// Checks the files every ten seconds until shutdown.
    pub(crate) async fn watch_files(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(RELOAD_CHECK) => {}
                _ = shutdown.changed() => return,
            }
            let tls = Arc::clone(&self);
            let _ = tokio::task::spawn_blocking(move || tls.reload_if_changed()).await;
        }
    }
}

fn files(s: &TlsSettings) -> Vec<PathBuf> {
    [&s.key, &s.chain]
        .into_iter()
        .chain(s.truststore.as_ref())
        .filter_map(|p| match p {
            Pem::File(f) => Some(f.clone()),
            Pem::Inline(_) => None,
        })
        .collect()
}

fn stamps(s: &TlsSettings) -> Vec<Option<SystemTime>> {
    files(s)
        .iter()
        .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .collect()
}

fn read(p: &Pem, what: &str) -> anyhow::Result<Vec<u8>> {
    match p {
        Pem::File(f) => {
            std::fs::read(f).with_context(|| format!("cannot read {what} {}", f.display()))
        }
        Pem::Inline(s) => Ok(s.as_bytes().to_vec()),
    }
}

fn certificates(p: &Pem, what: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = read(p, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{what} is not valid PEM"))?;
    anyhow::ensure!(!certs.is_empty(), "{what} holds no certificate");
    Ok(certs)
}

/// The rustls config for `s`.
pub(crate) fn server_config(s: &TlsSettings) -> anyhow::Result<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates(&s.chain, "the certificate chain (ssl.keystore)")?;
    let key_pem = read(&s.key, "the private key (ssl.keystore)")?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .context("the keystore holds no unencrypted private key (PKCS#8, PKCS#1 or SEC1 PEM)")?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match (&s.truststore, s.client_auth) {
        (Some(trust), auth) if auth != ClientAuth::None => {
            let mut roots = RootCertStore::empty();
            for c in certificates(trust, "the truststore (ssl.truststore)")? {
                roots
                    .add(c)
                    .context("a truststore certificate is not a usable CA certificate")?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if auth == ClientAuth::Requested {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build().context("client verifier")?)
        }
        _ => builder.with_no_client_auth(),
    };
    builder
        .with_single_cert(chain, key)
        .context("the private key does not match the certificate, or is not supported")
}
