//! Authentication glue: SCRAM credentials from the metadata image, the secret that
//! makes unknown users look like known ones, and the delay before a failure answer.
//! The rules themselves are in `strata-auth` (sans-I/O).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use rand::RngCore;
use strata_auth::scram::{ScramCredential, ScramMechanism, UnknownUserSecret};
use strata_auth::throttle::FailureThrottle;
use strata_meta::records::ScramCredentialRecord;
use strata_meta::MetadataImage;

pub(crate) mod authorizer;
pub(crate) mod bootstrap;

/// Addresses whose recent failures are remembered (older ones are forgotten first).
const TRACKED_ADDRESSES: usize = 10_000;

/// `connection.failed.authentication.delay.ms` default (Kafka's).
const DEFAULT_FAILED_DELAY: Duration = Duration::from_millis(100);

/// A broker's authentication state.
pub struct Security {
    unknown_user_secret: UnknownUserSecret,
    throttle: parking_lot::Mutex<FailureThrottle>,
    failed_delay: Duration,
    /// `connections.max.reauth.ms` (zero: sessions do not expire).
    pub(crate) reauth: Duration,
}

impl Security {
    /// From the broker's security settings (validated at config time).
    pub(crate) fn new(settings: &std::collections::BTreeMap<String, String>) -> Self {
        let ms = |key: &str| {
            settings
                .get(key)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_millis)
        };
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        Self {
            unknown_user_secret: UnknownUserSecret::new(secret),
            throttle: parking_lot::Mutex::new(FailureThrottle::new(TRACKED_ADDRESSES)),
            failed_delay: ms("connection.failed.authentication.delay.ms")
                .unwrap_or(DEFAULT_FAILED_DELAY),
            reauth: ms("connections.max.reauth.ms").unwrap_or(Duration::ZERO),
        }
    }

    /// The secret for fake credentials of unknown users.
    pub(crate) fn unknown_user_secret(&self) -> &UnknownUserSecret {
        &self.unknown_user_secret
    }

    /// How long to wait before answering a failed authentication from `ip`: the
    /// configured delay, growing with that address's recent failures.
    pub(crate) fn on_failure(&self, ip: IpAddr) -> Duration {
        let extra = self.throttle.lock().on_failure(ip, Instant::now());
        self.failed_delay.max(extra)
    }

    /// A successful authentication from `ip` clears its failures.
    pub(crate) fn on_success(&self, ip: IpAddr) {
        self.throttle.lock().on_success(ip);
    }
}

/// `user`'s credential for `mechanism`, if the image has one.
pub(crate) fn credential(
    image: &MetadataImage,
    user: &str,
    mechanism: ScramMechanism,
) -> Option<ScramCredential> {
    let r = image.scram_credential(user, mechanism.kafka_type())?;
    Some(ScramCredential {
        mechanism,
        salt: r.salt.clone(),
        stored_key: r.stored_key.clone(),
        server_key: r.server_key.clone(),
        iterations: r.iterations,
    })
}

/// Every credential `user` has.
pub(crate) fn credentials(image: &MetadataImage, user: &str) -> Vec<ScramCredential> {
    [ScramMechanism::Sha512, ScramMechanism::Sha256]
        .into_iter()
        .filter_map(|m| credential(image, user, m))
        .collect()
}

/// The record form of a credential.
pub(crate) fn record(c: &ScramCredential) -> ScramCredentialRecord {
    ScramCredentialRecord {
        salt: c.salt.clone(),
        stored_key: c.stored_key.clone(),
        server_key: c.server_key.clone(),
        iterations: c.iterations,
    }
}

/// A credential no password matches, checked for unknown PLAIN users so that they cost
/// the same PBKDF2 run as known ones.
pub(crate) fn unknown_user_credential() -> ScramCredential {
    let m = ScramMechanism::Sha512;
    ScramCredential {
        mechanism: m,
        salt: vec![0; 32],
        stored_key: vec![0; m.digest_len()],
        server_key: vec![0; m.digest_len()],
        iterations: bootstrap::ITERATIONS,
    }
}

/// The HTTP side of security (strata-http asks these).
impl crate::Broker {
    /// Whether clients must authenticate somewhere: a SASL listener, a listener
    /// requiring client certificates, or an authorizer. Then the HTTP API asks for
    /// credentials too (except `http.auth.exempt.paths`).
    pub fn security_enabled(&self) -> bool {
        self.authz.is_some()
            || self.listeners.iter().any(|l| {
                l.config.protocol.sasl()
                    || l.config
                        .tls
                        .as_ref()
                        .is_some_and(|t| t.client_auth == crate::listeners::ClientAuth::Required)
            })
    }

    /// Whether `path` is served without credentials: `http.auth.exempt.paths`, a
    /// comma-separated list of path prefixes (default `/health`, for load balancers).
    pub fn http_path_exempt(&self, path: &str) -> bool {
        let list = self
            .config
            .security
            .get("http.auth.exempt.paths")
            .map(String::as_str)
            .unwrap_or("/health");
        list.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .any(|p| path == p || path.starts_with(&format!("{}/", p.trim_end_matches('/'))))
    }

    /// HTTP basic authentication against the SCRAM credentials: the principal, or
    /// `None` after the same delay a failed SASL login gets.
    pub async fn http_authenticate(
        &self,
        user: &str,
        password: &str,
        ip: IpAddr,
    ) -> Option<String> {
        let creds = credentials(&self.meta.image(), user);
        let pw = password.as_bytes().to_vec();
        let ok = tokio::task::spawn_blocking(move || {
            if creds.is_empty() {
                let _ = strata_auth::plain::verify(&unknown_user_credential(), &pw);
                false
            } else {
                strata_auth::plain::verify_any(&creds, &pw)
            }
        })
        .await
        .unwrap_or(false);
        if ok {
            self.security.on_success(ip);
            Some(format!("User:{user}"))
        } else {
            let delay = self.security.on_failure(ip);
            tokio::time::sleep(delay).await;
            None
        }
    }

    /// Whether `principal` may read group information over HTTP: DESCRIBE on the group
    /// (one group) or on the cluster (the list).
    pub fn http_may_describe_group(
        &self,
        principal: &str,
        ip: IpAddr,
        group: Option<&str>,
    ) -> bool {
        let access = crate::auth::authorizer::Access::new(
            self.authorizer_now(),
            std::sync::Arc::from(principal),
            ip.to_canonical(),
        );
        let op = strata_auth::acl::AclOperation::Describe;
        match group {
            Some(g) => access.group(op, g) || access.cluster(op),
            None => access.cluster(op),
        }
    }
}
