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
