//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka uses them
//! (KIP-84): the mechanisms, the stored credential, the server side of the
//! exchange ([`ScramServer`]) and the client side ([`ScramClient`]).
//!
//! The stored credential never holds the password: only the salt, the
//! iteration count, `StoredKey = H(HMAC(SaltedPassword, "Client Key"))` and
//! `ServerKey = HMAC(SaltedPassword, "Server Key")`, where
//! `SaltedPassword = PBKDF2-HMAC(password, salt, iterations)`.

mod client;
#[cfg(test)]
mod client_tests;
mod crypto;
mod server;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use client::{ScramClient, ScramClientError};
pub(crate) use crypto::{client_key_to_stored_key, hmac};
pub use server::{ScramError, ScramServer, UnknownUserSecret, MAX_MESSAGE_LEN};

/// Kafka's lowest accepted iteration count for both mechanisms.
pub const MIN_ITERATIONS: u32 = 4096;
/// Kafka's highest accepted iteration count (AlterUserScramCredentials
/// refuses more).
pub const MAX_ITERATIONS: u32 = 16384;

/// A SCRAM mechanism Kafka supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ScramMechanism {
    /// `SCRAM-SHA-256` (Kafka wire type 1).
    Sha256,
    /// `SCRAM-SHA-512` (Kafka wire type 2).
    Sha512,
}

impl ScramMechanism {
    /// Every supported mechanism, strongest first.
    pub const ALL: [ScramMechanism; 2] = [ScramMechanism::Sha512, ScramMechanism::Sha256];

    /// The SASL mechanism name, as clients send it in SaslHandshake.
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// The mechanism for a SASL mechanism name (exact, as Kafka compares it).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "SCRAM-SHA-256" => Some(ScramMechanism::Sha256),
            "SCRAM-SHA-512" => Some(ScramMechanism::Sha512),
            _ => None,
        }
    }

    /// Kafka's wire id of the mechanism (DescribeUserScramCredentials,
    /// AlterUserScramCredentials, the metadata record): 1 = SHA-256,
    /// 2 = SHA-512.
    pub fn kafka_type(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    /// The mechanism for a Kafka wire id; `None` for 0 (`UNKNOWN`) and any
    /// other value.
    pub fn from_kafka_type(id: i8) -> Option<Self> {
        match id {
            1 => Some(ScramMechanism::Sha256),
            2 => Some(ScramMechanism::Sha512),
            _ => None,
        }
    }

    /// The lowest iteration count Kafka accepts for this mechanism (4096).
    pub fn min_iterations(self) -> u32 {
        MIN_ITERATIONS
    }

    /// The highest iteration count Kafka accepts (16384).
    pub fn max_iterations(self) -> u32 {
        MAX_ITERATIONS
    }

    /// Length in bytes of the mechanism's digest (and of its keys).
    pub fn digest_len(self) -> usize {
        match self {
            ScramMechanism::Sha256 => 32,
            ScramMechanism::Sha512 => 64,
        }
    }
}

impl fmt::Display for ScramMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a credential cannot be stored (Kafka answers these with
/// `UNACCEPTABLE_CREDENTIAL`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// Fewer iterations than the mechanism's minimum.
    #[error("iterations must be at least {min}")]
    TooFewIterations {
        /// The minimum.
        min: u32,
    },
    /// More iterations than Kafka accepts.
    #[error("too many iterations: at most {max} are accepted")]
    TooManyIterations {
        /// The maximum.
        max: u32,
    },
    /// The salt is empty.
    #[error("the salt must not be empty")]
    EmptySalt,
    /// The salted password is empty, or a stored key has the wrong length.
    #[error("the credential's keys do not fit the mechanism")]
    BadKey,
}

/// A user's SCRAM credential for one mechanism, as stored in the metadata log.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredential {
    /// The mechanism the keys belong to.
    pub mechanism: ScramMechanism,
    /// The salt given to PBKDF2.
    pub salt: Vec<u8>,
    /// `H(ClientKey)`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
    /// PBKDF2 iteration count.
    pub iterations: u32,
}

/// `SaltedPassword = PBKDF2-HMAC(password, salt, iterations)` with the
/// mechanism's hash: what AlterUserScramCredentials carries (with the salt)
/// instead of the password.
pub fn salted_password(
    mechanism: ScramMechanism,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
) -> Vec<u8> {
    crypto::salted_password(mechanism, password, salt, iterations)
}

impl ScramCredential {
    /// Derives the credential from a password: PBKDF2 with the mechanism's
    /// HMAC over `salt` and `iterations`, then the client and server keys.
    ///
    /// The iteration count is not checked here; see [`Self::validate`].
    pub fn from_password(
        mechanism: ScramMechanism,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Self {
        let salted = salted_password(mechanism, password, salt, iterations);
        Self::from_salted_password(mechanism, salt, &salted, iterations)
    }

    /// Derives the credential from an already salted password, as Kafka's
    /// AlterUserScramCredentials sends it (salt and salted password, never
    /// the password itself).
    pub fn from_salted_password(
        mechanism: ScramMechanism,
        salt: &[u8],
        salted_password: &[u8],
        iterations: u32,
    ) -> Self {
        let client_key = hmac(mechanism, salted_password, b"Client Key");
        let stored_key = client_key_to_stored_key(mechanism, &client_key);
        let server_key = hmac(mechanism, salted_password, b"Server Key");
        ScramCredential {
            mechanism,
            salt: salt.to_vec(),
            stored_key,
            server_key,
            iterations,
        }
    }

    /// Checks what Kafka checks before it stores a credential: iterations
    /// within `[4096, 16384]`, a non-empty salt, keys of the digest's length.
    pub fn validate(&self) -> Result<(), CredentialError> {
        validate_iterations(self.mechanism, self.iterations)?;
        if self.salt.is_empty() {
            return Err(CredentialError::EmptySalt);
        }
        let len = self.mechanism.digest_len();
        if self.stored_key.len() != len || self.server_key.len() != len {
            return Err(CredentialError::BadKey);
        }
        Ok(())
    }
}

/// Checks an iteration count against the mechanism's bounds (Kafka's
/// AlterUserScramCredentials rule).
pub fn validate_iterations(
    mechanism: ScramMechanism,
    iterations: u32,
) -> Result<(), CredentialError> {
    if iterations < mechanism.min_iterations() {
        return Err(CredentialError::TooFewIterations {
            min: mechanism.min_iterations(),
        });
    }
    if iterations > mechanism.max_iterations() {
        return Err(CredentialError::TooManyIterations {
            max: mechanism.max_iterations(),
        });
    }
    Ok(())
}

impl fmt::Debug for ScramCredential {
    /// Keys are not printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramCredential")
            .field("mechanism", &self.mechanism)
            .field("salt_len", &self.salt.len())
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}
