//! SCRAM user administration: DescribeUserScramCredentials and AlterUserScramCredentials.
//! Passwords are salted here, on the client: the request carries the salt and the salted
//! password (KIP-554), never the password.

use bytes::Bytes;
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest,
};
use kafka_protocol::protocol::StrBytes;
use rand::RngCore;
use strata_auth::scram::{salted_password, validate_iterations, ScramMechanism};

use crate::admin::Admin;
use crate::error::{ClientError, Result};

/// Bytes of CSPRNG salt per credential.
const SALT_LEN: usize = 32;

/// One user and the mechanisms it has credentials for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserScramCredentials {
    /// The user name.
    pub user: String,
    /// Mechanism and iteration count of each credential.
    pub credentials: Vec<(ScramMechanism, u32)>,
}

/// A change to one user's credentials.
#[derive(Clone, PartialEq, Eq)]
pub enum ScramChange {
    /// Sets (creates or replaces) the user's credential for a mechanism.
    Upsert {
        /// The user.
        user: String,
        /// The mechanism.
        mechanism: ScramMechanism,
        /// PBKDF2 iterations (4096 to 16384).
        iterations: u32,
        /// The password; salted before it leaves the client.
        password: String,
    },
    /// Deletes the user's credential for a mechanism.
    Delete {
        /// The user.
        user: String,
        /// The mechanism.
        mechanism: ScramMechanism,
    },
}

impl ScramChange {
    /// The user the change is for.
    pub fn user(&self) -> &str {
        match self {
            ScramChange::Upsert { user, .. } | ScramChange::Delete { user, .. } => user,
        }
    }
}

impl std::fmt::Debug for ScramChange {
    /// The password is not printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScramChange::Upsert {
                user,
                mechanism,
                iterations,
                ..
            } => write!(f, "Upsert({user}, {mechanism}, {iterations} iterations)"),
            ScramChange::Delete { user, mechanism } => write!(f, "Delete({user}, {mechanism})"),
        }
    }
}

/// The request for `changes`, with fresh salts from the OS random source.
pub(crate) fn alter_request(changes: &[ScramChange]) -> Result<AlterUserScramCredentialsRequest> {
    let mut req = AlterUserScramCredentialsRequest::default();
    for c in changes {
        match c {
            ScramChange::Upsert {
                user,
                mechanism,
                iterations,
                password,
            } => {
                validate_iterations(*mechanism, *iterations)
                    .map_err(|e| ClientError::Config(format!("{mechanism}: {e}")))?;
                let mut salt = vec![0u8; SALT_LEN];
                rand::rngs::OsRng.fill_bytes(&mut salt);
                let salted = salted_password(*mechanism, password.as_bytes(), &salt, *iterations);
                req.upsertions.push(
                    ScramCredentialUpsertion::default()
                        .with_name(StrBytes::from_string(user.clone()))
                        .with_mechanism(mechanism.kafka_type())
                        .with_iterations(*iterations as i32)
                        .with_salt(Bytes::from(salt))
                        .with_salted_password(Bytes::from(salted)),
                );
            }
            ScramChange::Delete { user, mechanism } => req.deletions.push(
                ScramCredentialDeletion::default()
                    .with_name(StrBytes::from_string(user.clone()))
                    .with_mechanism(mechanism.kafka_type()),
            ),
        }
    }
    Ok(req)
}

impl Admin {
    /// The SCRAM users (`None`: all of them) and their mechanisms. A named user without
    /// credentials is an error (RESOURCE_NOT_FOUND).
    pub async fn describe_user_scram_credentials(
        &self,
        users: Option<&[String]>,
    ) -> Result<Vec<UserScramCredentials>> {
        let cluster = self.cluster();
        let conn = cluster.any_connection().await?;
        let version = conn.version_for::<DescribeUserScramCredentialsRequest>(None)?;
        let req = DescribeUserScramCredentialsRequest::default().with_users(users.map(|us| {
            us.iter()
                .map(|u| UserName::default().with_name(StrBytes::from_string(u.clone())))
                .collect()
        }));
        let resp = conn
            .request(&req, version, cluster.config.request_timeout)
            .await?;
        ClientError::check(
            resp.error_code,
            resp.error_message.as_ref(),
            "describing SCRAM users",
        )?;
        let mut out = Vec::with_capacity(resp.results.len());
        for r in &resp.results {
            let user = r.user.as_str().to_string();
            if r.error_code != 0 {
                return Err(ClientError::from_code(
                    r.error_code,
                    r.error_message.as_ref().map(|m| m.as_str()),
                    &format!("user '{user}'"),
                ));
            }
            let mut credentials = Vec::with_capacity(r.credential_infos.len());
            for c in &r.credential_infos {
                let m = ScramMechanism::from_kafka_type(c.mechanism).ok_or_else(|| {
                    ClientError::Protocol(format!("undefined SCRAM mechanism {}", c.mechanism))
                })?;
                credentials.push((m, u32::try_from(c.iterations).unwrap_or(0)));
            }
            credentials.sort();
            out.push(UserScramCredentials { user, credentials });
        }
        out.sort_by(|a, b| a.user.cmp(&b.user));
        Ok(out)
    }

    /// Applies `changes` in one request; one result per user, by user name.
    pub async fn alter_user_scram_credentials(
        &self,
        changes: &[ScramChange],
    ) -> Result<Vec<(String, Result<()>)>> {
        let req = alter_request(changes)?;
        let cluster = self.cluster();
        let conn = cluster.controller_connection().await?;
        let version = conn.version_for::<AlterUserScramCredentialsRequest>(None)?;
        let resp = conn
            .request(&req, version, cluster.config.request_timeout)
            .await?;
        Ok(resp
            .results
            .iter()
            .map(|r| {
                let user = r.user.as_str().to_string();
                let result = match r.error_code {
                    0 => Ok(()),
                    c => Err(ClientError::from_code(
                        c,
                        r.error_message.as_ref().map(|m| m.as_str()),
                        &format!("user '{user}'"),
                    )),
                };
                (user, result)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_auth::scram::ScramCredential;

    #[test]
    fn upsertion_carries_salt_and_salted_password_not_the_password() {
        let changes = [
            ScramChange::Upsert {
                user: "alice".into(),
                mechanism: ScramMechanism::Sha512,
                iterations: 4096,
                password: "hunter2".into(),
            },
            ScramChange::Delete {
                user: "bob".into(),
                mechanism: ScramMechanism::Sha256,
            },
        ];
        let req = alter_request(&changes).expect("valid");
        assert_eq!(req.upsertions.len(), 1);
        assert_eq!(req.deletions.len(), 1);
        let u = &req.upsertions[0];
        assert_eq!(u.name.as_str(), "alice");
        assert_eq!((u.mechanism, u.iterations), (2, 4096));
        assert_eq!(u.salt.len(), SALT_LEN);
        assert_eq!(u.salted_password.len(), 64);
        // The broker's derivation from what we send equals the one from the password.
        let from_wire = ScramCredential::from_salted_password(
            ScramMechanism::Sha512,
            &u.salt,
            &u.salted_password,
            4096,
        );
        let from_password =
            ScramCredential::from_password(ScramMechanism::Sha512, b"hunter2", &u.salt, 4096);
        assert_eq!(from_wire, from_password);
        assert!(!format!("{changes:?}").contains("hunter2"));
        assert_eq!(req.deletions[0].mechanism, 1);
        // Fresh salt per request.
        let again = alter_request(&changes).expect("valid");
        assert_ne!(again.upsertions[0].salt, u.salt);
    }

    #[test]
    fn iterations_out_of_range_are_refused_before_sending() {
        let change = ScramChange::Upsert {
            user: "a".into(),
            mechanism: ScramMechanism::Sha256,
            iterations: 100,
            password: "p".into(),
        };
        assert!(alter_request(&[change]).is_err());
    }
}
