//! SCRAM users: list (mechanisms and iteration counts, never a salt or a key), set a
//! password, delete. Changes are the `SetScramCredential` records
//! AlterUserScramCredentials commits, through the controller, with its rules (a user
//! name, a known mechanism, Kafka's iteration bounds) and its ACL (ALTER on the
//! cluster; DESCRIBE on the cluster to list, as DescribeUserScramCredentials).
//!
//! Kafka's clients salt the password themselves and send the salted password; here
//! the password arrives over the (authenticated) HTTP listener and the broker draws the
//! salt from the OS random source and derives the keys, as the bootstrap admin user's
//! are. Only the derived keys are stored.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use strata_auth::acl::AclOperation;
use strata_auth::scram::{ScramCredential, ScramMechanism};
use strata_meta::{MetadataImage, MetadataRecord};

use super::{matches, AdminError, Caller};
use crate::Broker;

/// Longest user name accepted (bytes).
pub const MAX_USER_NAME_BYTES: usize = 1024;
/// Longest password accepted (bytes). The shortest is one character: Kafka's tools
/// refuse only an empty password.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Bytes of random salt per credential.
const SALT_BYTES: usize = 32;

/// One mechanism of a user.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CredentialView {
    /// `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub mechanism: &'static str,
    /// PBKDF2 iterations.
    pub iterations: u32,
}

/// A user and its mechanisms.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserView {
    /// User name (the principal is `User:<name>`).
    pub user: String,
    /// Its credentials, by mechanism.
    pub credentials: Vec<CredentialView>,
}

/// A page of users.
#[derive(Debug, Serialize)]
pub struct UserPage {
    /// Users matching (all pages).
    pub total: usize,
    /// First index of this page.
    pub offset: usize,
    /// Page size asked for.
    pub limit: usize,
    /// This page, by name.
    pub users: Vec<UserView>,
}

/// A password to set for one mechanism of a user.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScramUpsert {
    /// `SCRAM-SHA-256` or `SCRAM-SHA-512` (any case).
    pub mechanism: String,
    /// The password.
    pub password: String,
    /// PBKDF2 iterations, 4096 to 16384 (8192 when absent).
    pub iterations: Option<i64>,
}

/// A checked [`ScramUpsert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedUpsert {
    /// The mechanism.
    pub mechanism: ScramMechanism,
    /// The iterations.
    pub iterations: u32,
}

/// What a password change did.
#[derive(Debug, Serialize)]
pub struct UserChange {
    /// User name.
    pub user: String,
    /// Mechanism.
    pub mechanism: &'static str,
    /// Iterations.
    pub iterations: u32,
    /// Whether the user had no credential for the mechanism before.
    pub created: bool,
}

/// Checks a user name as AlterUserScramCredentials does (not empty), with a length cap.
pub fn check_user_name(name: &str) -> Result<(), AdminError> {
    if name.is_empty() {
        return Err(AdminError::BadRequest(
            "the user name must not be empty".into(),
        ));
    }
    if name.len() > MAX_USER_NAME_BYTES {
        return Err(AdminError::BadRequest(format!(
            "the user name is longer than {MAX_USER_NAME_BYTES} bytes"
        )));
    }
    Ok(())
}

/// A SCRAM mechanism by name, any case.
pub fn parse_mechanism(s: &str) -> Result<ScramMechanism, AdminError> {
    ScramMechanism::from_name(&s.trim().to_ascii_uppercase()).ok_or_else(|| {
        AdminError::BadRequest(format!(
            "unknown mechanism '{s}': use SCRAM-SHA-256 or SCRAM-SHA-512"
        ))
    })
}

impl ScramUpsert {
    /// Checks the request for user `name`: Kafka's rules (a user name, a known
    /// mechanism, iterations within 4096..=16384) and a password of 1 to
    /// [`MAX_PASSWORD_BYTES`] bytes.
    pub fn check(&self, name: &str) -> Result<CheckedUpsert, AdminError> {
        check_user_name(name)?;
        let mechanism = parse_mechanism(&self.mechanism)?;
        if self.password.is_empty() {
            return Err(AdminError::BadRequest(
                "the password must not be empty".into(),
            ));
        }
        if self.password.len() > MAX_PASSWORD_BYTES {
            return Err(AdminError::BadRequest(format!(
                "the password is longer than {MAX_PASSWORD_BYTES} bytes"
            )));
        }
        let (min, max) = (mechanism.min_iterations(), mechanism.max_iterations());
        let iterations = match self.iterations {
            None => crate::auth::bootstrap::ITERATIONS,
            Some(n) => u32::try_from(n)
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| {
                    AdminError::BadRequest(format!(
                        "'iterations' must be between {min} and {max} (Kafka's bounds), not {n}"
                    ))
                })?,
        };
        strata_auth::scram::validate_iterations(mechanism, iterations)
            .map_err(|e| AdminError::BadRequest(e.to_string()))?;
        Ok(CheckedUpsert {
            mechanism,
            iterations,
        })
    }
}

/// Every user of `image` with its mechanisms, by name.
fn users_of(image: &MetadataImage) -> BTreeMap<&str, Vec<CredentialView>> {
    let mut by_user: BTreeMap<&str, Vec<CredentialView>> = BTreeMap::new();
    for ((user, mechanism), c) in image.scram_credentials() {
        let Some(m) = ScramMechanism::from_kafka_type(*mechanism) else {
            continue;
        };
        by_user
            .entry(user.as_str())
            .or_default()
            .push(CredentialView {
                mechanism: m.name(),
                iterations: c.iterations,
            });
    }
    by_user
}

/// The records that delete `user`'s credentials (only `only`'s when given); refused
/// when there are none.
fn deletions(
    image: &MetadataImage,
    user: &str,
    only: Option<ScramMechanism>,
) -> Result<(Vec<&'static str>, Vec<MetadataRecord>), AdminError> {
    let mut names = Vec::new();
    let mut records = Vec::new();
    for m in [ScramMechanism::Sha256, ScramMechanism::Sha512] {
        if only.is_some_and(|o| o != m) || image.scram_credential(user, m.kafka_type()).is_none() {
            continue;
        }
        names.push(m.name());
        records.push(MetadataRecord::SetScramCredential {
            user: user.to_string(),
            mechanism: m.kafka_type(),
            credential: None,
        });
    }
    if records.is_empty() {
        return Err(AdminError::NotFound(match only {
            Some(m) => format!("user '{user}' has no {} credential", m.name()),
            None => format!("user '{user}' does not exist"),
        }));
    }
    Ok((names, records))
}

impl Broker {
    fn users_allowed(&self, caller: &Caller, op: AclOperation) -> Result<(), AdminError> {
        if self.admin_access(caller).cluster(op) {
            return Ok(());
        }
        Err(AdminError::Forbidden(format!(
            "not authorized: {} users needs {} on the cluster",
            if op == AclOperation::Describe {
                "listing"
            } else {
                "changing"
            },
            op.kafka_name()
        )))
    }

    /// Users whose name contains `search` (any case), `limit` of them from `offset`
    /// (DescribeUserScramCredentials: DESCRIBE on the cluster).
    pub fn admin_users(
        &self,
        caller: &Caller,
        search: &str,
        offset: usize,
        limit: usize,
    ) -> Result<UserPage, AdminError> {
        self.users_allowed(caller, AclOperation::Describe)?;
        let image = self.meta.image();
        let needle = search.to_lowercase();
        let mut total = 0;
        let mut users = Vec::new();
        for (user, credentials) in users_of(&image) {
            if !matches(user, &needle) {
                continue;
            }
            if total >= offset && users.len() < limit {
                users.push(UserView {
                    user: user.to_string(),
                    credentials,
                });
            }
            total += 1;
        }
        Ok(UserPage {
            total,
            offset,
            limit,
            users,
        })
    }

    /// One user (DESCRIBE on the cluster); 404 when it has no credential.
    pub fn admin_user(&self, caller: &Caller, name: &str) -> Result<UserView, AdminError> {
        check_user_name(name)?;
        self.users_allowed(caller, AclOperation::Describe)?;
        let image = self.meta.image();
        users_of(&image)
            .remove(name)
            .map(|credentials| UserView {
                user: name.to_string(),
                credentials,
            })
            .ok_or_else(|| AdminError::NotFound(format!("user '{name}' does not exist")))
    }

    /// Sets `name`'s password for one mechanism, creating the user if needed
    /// (AlterUserScramCredentials upsertion: ALTER on the cluster).
    pub async fn admin_set_user(
        self: &Arc<Self>,
        caller: &Caller,
        name: &str,
        req: ScramUpsert,
    ) -> Result<UserChange, AdminError> {
        let checked = req.check(name)?;
        self.users_allowed(caller, AclOperation::Alter)?;
        let CheckedUpsert {
            mechanism,
            iterations,
        } = checked;
        let password = req.password;
        // PBKDF2 is CPU-heavy: off the async workers.
        let credential = tokio::task::spawn_blocking(move || {
            let mut salt = [0u8; SALT_BYTES];
            rand::rngs::OsRng.fill_bytes(&mut salt);
            ScramCredential::from_password(mechanism, password.as_bytes(), &salt, iterations)
        })
        .await
        .map_err(|e| AdminError::Internal(format!("deriving the credential failed: {e}")))?;
        credential
            .validate()
            .map_err(|e| AdminError::BadRequest(e.to_string()))?;
        let created = self
            .meta
            .image()
            .scram_credential(name, mechanism.kafka_type())
            .is_none();
        self.meta
            .commit(vec![MetadataRecord::SetScramCredential {
                user: name.to_string(),
                mechanism: mechanism.kafka_type(),
                credential: Some(crate::auth::record(&credential)),
            }])
            .await?;
        Ok(UserChange {
            user: name.to_string(),
            mechanism: mechanism.name(),
            iterations,
            created,
        })
    }

    /// Deletes `name`'s credential for `mechanism`, or all of them when `None`
    /// (AlterUserScramCredentials deletion: ALTER on the cluster). Returns the
    /// mechanisms deleted; 404 when there was nothing to delete.
    pub async fn admin_delete_user(
        self: &Arc<Self>,
        caller: &Caller,
        name: &str,
        mechanism: Option<&str>,
    ) -> Result<Vec<&'static str>, AdminError> {
        check_user_name(name)?;
        let only = mechanism.map(parse_mechanism).transpose()?;
        self.users_allowed(caller, AclOperation::Alter)?;
        self.meta
            .decide_and_commit(|image| deletions(image, name, only))
            .await
            .map_err(AdminError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_meta::records::ScramCredentialRecord;

    fn upsert(mechanism: &str, password: &str, iterations: Option<i64>) -> ScramUpsert {
        ScramUpsert {
            mechanism: mechanism.into(),
            password: password.into(),
            iterations,
        }
    }

    fn message(e: AdminError) -> String {
        assert!(matches!(e, AdminError::BadRequest(_)), "{e:?}");
        e.to_string()
    }

    #[test]
    fn upserts_follow_kafkas_rules() {
        let ok = upsert("scram-sha-512", "pw", None).check("alice").unwrap();
        assert_eq!(ok.mechanism, ScramMechanism::Sha512);
        assert_eq!(ok.iterations, crate::auth::bootstrap::ITERATIONS);
        let ok = upsert("SCRAM-SHA-256", "pw", Some(4096))
            .check("a")
            .unwrap();
        assert_eq!(
            (ok.mechanism, ok.iterations),
            (ScramMechanism::Sha256, 4096)
        );
        assert!(upsert("SCRAM-SHA-256", "pw", Some(16384))
            .check("a")
            .is_ok());
        for (n, needle) in [
            (4095, "between 4096 and 16384"),
            (16385, "between 4096 and 16384"),
            (-1, "not -1"),
            (i64::MAX, "between"),
        ] {
            let e = upsert("SCRAM-SHA-256", "pw", Some(n))
                .check("a")
                .unwrap_err();
            assert!(message(e).contains(needle), "{n}");
        }
        let e = upsert("SCRAM-SHA-1", "pw", None).check("a").unwrap_err();
        assert!(message(e).contains("unknown mechanism 'SCRAM-SHA-1'"));
        let e = upsert("SCRAM-SHA-512", "", None).check("a").unwrap_err();
        assert!(message(e).contains("password must not be empty"));
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        let e = upsert("SCRAM-SHA-512", &long, None).check("a").unwrap_err();
        assert!(message(e).contains("longer than"));
        let e = upsert("SCRAM-SHA-512", "pw", None).check("").unwrap_err();
        assert!(message(e).contains("user name must not be empty"));
        let e = upsert("SCRAM-SHA-512", "pw", None)
            .check(&"u".repeat(MAX_USER_NAME_BYTES + 1))
            .unwrap_err();
        assert!(message(e).contains("longer than"));
    }

    #[test]
    fn listing_names_mechanisms_never_keys_and_deletions_need_a_credential() {
        let mut image = MetadataImage::new();
        let cred = |iterations| ScramCredentialRecord {
            salt: vec![1; 16],
            stored_key: vec![2; 64],
            server_key: vec![3; 64],
            iterations,
        };
        for (user, m, it) in [("bob", 2, 4096), ("bob", 1, 8192), ("alice", 2, 16384)] {
            image
                .apply(&MetadataRecord::SetScramCredential {
                    user: user.into(),
                    mechanism: m,
                    credential: Some(cred(it)),
                })
                .unwrap();
        }
        let users = users_of(&image);
        assert_eq!(users.keys().copied().collect::<Vec<_>>(), ["alice", "bob"]);
        let bob = serde_json::to_string(&users["bob"]).unwrap();
        assert!(
            bob.contains("SCRAM-SHA-256") && bob.contains("8192"),
            "{bob}"
        );
        assert!(!bob.contains("salt") && !bob.contains("key"), "{bob}");

        let (names, records) = deletions(&image, "bob", None).unwrap();
        assert_eq!(names, ["SCRAM-SHA-256", "SCRAM-SHA-512"]);
        assert_eq!(records.len(), 2);
        let (names, _) = deletions(&image, "bob", Some(ScramMechanism::Sha512)).unwrap();
        assert_eq!(names, ["SCRAM-SHA-512"]);
        let e = deletions(&image, "alice", Some(ScramMechanism::Sha256)).unwrap_err();
        assert!(matches!(e, AdminError::NotFound(_)), "{e:?}");
        let e = deletions(&image, "carol", None).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
    }
}
