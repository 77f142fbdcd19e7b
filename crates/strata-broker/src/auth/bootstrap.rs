//! The first admin user: created at start from `STRATA_ADMIN_USER` and
//! `STRATA_ADMIN_PASSWORD` (or `admin.user` / `admin.password` in the config) when it
//! has no credential yet, so a secured cluster can be managed from its first minute.
//! An existing credential is never overwritten (a changed password is set with
//! AlterUserScramCredentials or `strata user set-password`).

use rand::RngCore;
use strata_auth::scram::{ScramCredential, ScramMechanism};
use strata_meta::MetadataRecord;

/// PBKDF2 iterations of credentials Strata derives itself (Kafka's tools use 4096;
/// more makes every PLAIN check and brute force slower alike).
pub(crate) const ITERATIONS: u32 = 8192;

/// Records that create `user` with `password` for both SCRAM mechanisms, skipping
/// mechanisms the user already has. CPU-heavy: call on a blocking thread.
pub(crate) fn admin_records(
    image: &strata_meta::MetadataImage,
    user: &str,
    password: &str,
) -> Vec<MetadataRecord> {
    let mut out = Vec::new();
    for m in [ScramMechanism::Sha256, ScramMechanism::Sha512] {
        if image.scram_credential(user, m.kafka_type()).is_some() {
            continue;
        }
        let mut salt = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let c = ScramCredential::from_password(m, password.as_bytes(), &salt, ITERATIONS);
        out.push(MetadataRecord::SetScramCredential {
            user: user.to_string(),
            mechanism: m.kafka_type(),
            credential: Some(super::record(&c)),
        });
    }
    out
}
