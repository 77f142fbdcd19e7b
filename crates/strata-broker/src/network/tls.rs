//! TLS for a listener (rustls): the server config built from the listener's PEM
//! settings, rebuilt when the files change so certificates renew without a restart.
//! With a truststore the same settings also make a client config (this node's
//! certificate, the truststore's CAs to verify the peer, the host-name check as
//! `ssl.endpoint.identification.algorithm` says): the inter-broker listener's is what
//! followers fetch with, and the controller port's serves both ways.
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
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use strata_auth::server_cert::PeerCertVerifier;
use tokio::sync::watch;

use crate::listeners::{ClientAuth, Pem, TlsSettings};

/// How often the PEM files are checked for changes.
const RELOAD_CHECK: Duration = Duration::from_secs(10);

/// A listener's TLS acceptor (and connector, with a truststore), swapped when its files
/// change or its settings do (a dynamic keystore or truststore, `tls_dynamic.rs`).
pub(crate) struct Tls {
    listener: String,
    /// The settings `current` was built from and their files' modification times,
    /// held through a whole rebuild so a file reload and a settings change never
    /// interleave (the loser would otherwise install configs from stale settings).
    loaded: parking_lot::Mutex<Loaded>,
    current: parking_lot::RwLock<Configs>,
}

struct Loaded {
    settings: TlsSettings,
    stamps: Vec<Option<SystemTime>>,
}

/// The configs built from one reading of the files.
#[derive(Clone)]
struct Configs {
    acceptor: tokio_rustls::TlsAcceptor,
    /// With a truststore only: nothing else could verify a peer.
    connector: Option<tokio_rustls::TlsConnector>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

fn configs(s: &TlsSettings) -> anyhow::Result<Configs> {
    let acceptor = Arc::new(server_config(s)?).into();
    let connector = match &s.truststore {
        Some(_) => Some(Arc::new(client_config(s)?).into()),
        None => None,
    };
    Ok(Configs {
        acceptor,
        connector,
    })
}

/// Whether `s` loads: its files read and parse, its key matches its certificate.
pub(crate) fn check(s: &TlsSettings) -> anyhow::Result<()> {
    configs(s).map(|_| ())
}

/// Whether the certificate of `s` chains to its own truststore: a node's peers verify
/// it with the same CAs on the inter-broker listener and the controller port (Kafka
/// checks this before it takes a new keystore there). Host names are not checked.
pub(crate) fn check_trusted_by_own_truststore(s: &TlsSettings) -> anyhow::Result<()> {
    let Some(trust) = &s.truststore else {
        return Ok(());
    };
    let provider = Arc::new(crate::listeners::tls_provider(&s.cipher_suites));
    let verifier = PeerCertVerifier::new(roots(trust)?, provider, false)
        .context("the truststore (ssl.truststore)")?;
    let chain = certificates(&s.chain, "the certificate chain (ssl.keystore)")?;
    let (leaf, intermediates) = chain
        .split_first()
        .context("the keystore holds no certificate")?;
    let any_name =
        rustls::pki_types::ServerName::try_from("peer.invalid").context("a server name")?;
    use rustls::client::danger::ServerCertVerifier;
    verifier
        .verify_server_cert(leaf, intermediates, &any_name, &[], rustls::pki_types::UnixTime::now())
        .map(|_| ())
        .context("the new certificate does not chain to the listener's truststore, so peers would refuse it")
}

impl Tls {
    /// Builds the configs; an error names the listener and the file at fault.
    pub(crate) fn new(listener: &str, settings: &TlsSettings) -> anyhow::Result<Arc<Self>> {
        let config =
            configs(settings).with_context(|| format!("listener {listener}: TLS settings"))?;
        Ok(Arc::new(Self {
            listener: listener.to_string(),
            loaded: parking_lot::Mutex::new(Loaded {
                settings: settings.clone(),
                stamps: stamps(settings),
            }),
            current: parking_lot::RwLock::new(config),
        }))
    }

    /// [`Tls::new`] on a blocking thread (it reads the PEM files).
    pub(crate) async fn load(listener: &str, settings: &TlsSettings) -> anyhow::Result<Arc<Self>> {
        let (name, s) = (listener.to_string(), settings.clone());
        tokio::task::spawn_blocking(move || Tls::new(&name, &s)).await?
    }

    /// The acceptor for a new connection.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        self.current.read().acceptor.clone()
    }

    /// The connector for a connection to a peer, when the settings have a truststore.
    pub(crate) fn connector(&self) -> Option<tokio_rustls::TlsConnector> {
        self.current.read().connector.clone()
    }

    /// Rebuilds the config when a file changed (call on a blocking thread). `true` if a
    /// new config is in use.
    fn reload_if_changed(&self) -> bool {
        let mut loaded = self.loaded.lock();
        let now = stamps(&loaded.settings);
        if loaded.stamps == now {
            return false;
        }
        loaded.stamps = now;
        match configs(&loaded.settings) {
            Ok(c) => {
                *self.current.write() = c;
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

    /// Switches to `settings` (call on a blocking thread: it reads their files) when
    /// they differ from those in use; `Ok(true)` if new configs are in use. On an error
    /// (a missing file, a key that does not match) the old ones stay.
    pub(crate) fn reconfigure(&self, settings: &TlsSettings) -> anyhow::Result<bool> {
        let mut loaded = self.loaded.lock();
        if loaded.settings == *settings {
            return Ok(false);
        }
        let built = configs(settings)
            .with_context(|| format!("listener {}: new TLS settings", self.listener))?;
        *loaded = Loaded {
            settings: settings.clone(),
            stamps: stamps(settings),
        };
        *self.current.write() = built;
        tracing::info!(listener = %self.listener, "TLS settings changed: new keystore or truststore in use");
        Ok(true)
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

/// TLS for the HTTP listener (HTTPS), for the HTTP server: the acceptor (renewed with
/// the files) and the principal of a client certificate.
pub struct HttpTls {
    tls: Arc<Tls>,
    mapping: Option<strata_auth::principal::PrincipalMappingRules>,
}

impl HttpTls {
    /// Loads the settings (`listeners::http_tls`); the error names the file or rule at
    /// fault.
    pub(crate) async fn load(settings: &TlsSettings) -> anyhow::Result<Arc<HttpTls>> {
        let mapping = match settings.principal_mapping_rules.as_deref() {
            Some(rules) => Some(
                strata_auth::principal::PrincipalMappingRules::parse(rules).map_err(|e| {
                    anyhow::anyhow!("HTTP listener: ssl.principal.mapping.rules: {e}")
                })?,
            ),
            None => None,
        };
        Ok(Arc::new(HttpTls {
            tls: Tls::load("HTTP", settings).await?,
            mapping,
        }))
    }

    /// The acceptor for a new connection.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        self.tls.acceptor()
    }

    /// TLS over `stream` to another broker's HTTPS listener (the schema registry
    /// forwards writes so): its certificate must chain to the truststore and name `host`
    /// (unless `ssl.endpoint.identification.algorithm` is empty); this node's certificate
    /// is presented if asked. `None` without a truststore.
    pub async fn connect(
        &self,
        host: &str,
        stream: tokio::net::TcpStream,
    ) -> Option<std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>> {
        let connector = self.tls.connector()?;
        let name = match rustls::pki_types::ServerName::try_from(host.to_string()) {
            Ok(n) => n,
            Err(e) => {
                return Some(Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("'{host}' is not a host name or address: {e}"),
                )))
            }
        };
        Some(connector.connect(name, stream).await)
    }

    /// `User:<subject>` (after the mapping rules) of a client certificate chain the
    /// handshake verified, leaf first; `None` without a usable one.
    pub fn principal(&self, chain: &[rustls::pki_types::CertificateDer<'_>]) -> Option<String> {
        let leaf = chain.first()?;
        super::sasl::certificate_principal(leaf, self.mapping.as_ref()).ok()
    }

    /// Re-reads the files when they change, until shutdown.
    pub(crate) async fn watch_files(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        Arc::clone(&self.tls).watch_files(shutdown).await
    }

    /// The listener's TLS, for settings that change at run time.
    pub(crate) fn tls(&self) -> &Arc<Tls> {
        &self.tls
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

/// The truststore's CA certificates, as rustls's verifiers take them.
fn roots(trust: &Pem) -> anyhow::Result<Arc<RootCertStore>> {
    let mut roots = RootCertStore::empty();
    for c in certificates(trust, "the truststore (ssl.truststore)")? {
        roots
            .add(c)
            .context("a truststore certificate is not a usable CA certificate")?;
    }
    Ok(Arc::new(roots))
}

fn certificates(p: &Pem, what: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = read(p, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{what} is not valid PEM"))?;
    anyhow::ensure!(!certs.is_empty(), "{what} holds no certificate");
    Ok(certs)
}

impl strata_raft::ControllerTls for Tls {
    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        Tls::acceptor(self)
    }

    fn connector(&self) -> Option<tokio_rustls::TlsConnector> {
        Tls::connector(self)
    }
}

/// The client config for `s`: this node's certificate chain (presented when the peer
/// asks for one) and the truststore's CAs, which the peer's certificate must chain to;
/// it must also name the address connected to unless
/// `ssl.endpoint.identification.algorithm` is empty.
pub(crate) fn client_config(s: &TlsSettings) -> anyhow::Result<ClientConfig> {
    let provider = Arc::new(crate::listeners::tls_provider(&s.cipher_suites));
    let trust = s
        .truststore
        .as_ref()
        .context("no truststore (ssl.truststore.location) to verify peers with")?;
    let verifier = PeerCertVerifier::new(roots(trust)?, Arc::clone(&provider), s.verify_host_name)
        .context("the truststore (ssl.truststore)")?;
    let chain = certificates(&s.chain, "the certificate chain (ssl.keystore)")?;
    let key_pem = read(&s.key, "the private key (ssl.keystore)")?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .context("the keystore holds no unencrypted private key (PKCS#8, PKCS#1 or SEC1 PEM)")?;
    ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&s.protocols.versions())
        .context("TLS protocol versions (ssl.enabled.protocols, ssl.cipher.suites)")?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(chain, key)
        .context("the private key does not match the certificate, or is not supported")
}

/// The rustls config for `s`.
pub(crate) fn server_config(s: &TlsSettings) -> anyhow::Result<ServerConfig> {
    let provider = Arc::new(crate::listeners::tls_provider(&s.cipher_suites));
    let chain = certificates(&s.chain, "the certificate chain (ssl.keystore)")?;
    let key_pem = read(&s.key, "the private key (ssl.keystore)")?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .context("the keystore holds no unencrypted private key (PKCS#8, PKCS#1 or SEC1 PEM)")?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&s.protocols.versions())
        .context("TLS protocol versions (ssl.enabled.protocols, ssl.cipher.suites)")?;
    let builder = match (&s.truststore, s.client_auth) {
        (Some(trust), auth) if auth != ClientAuth::None => {
            let verifier = WebPkiClientVerifier::builder_with_provider(roots(trust)?, provider);
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

#[cfg(test)]
mod tests;
