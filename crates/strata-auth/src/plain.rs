//! SASL PLAIN (RFC 4616): `[authzid] NUL authcid NUL passwd`, checked
//! against the user's SCRAM credentials, so one store serves both
//! mechanisms and no password is ever kept.

use std::fmt;

use subtle::ConstantTimeEq;

use crate::scram::{
    client_key_to_stored_key, hmac, salted_password, ScramCredential, ScramMechanism,
};

/// Longest PLAIN token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 4096;
/// Longest authorization id or user name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 1024;
/// Longest password accepted, in bytes.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Why a PLAIN token was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlainError {
    /// The token does not have the RFC 4616 shape, or is too long.
    #[error("malformed PLAIN token: {0}")]
    Malformed(&'static str),
    /// The client asked for an authorization id other than its user name
    /// (Kafka refuses this).
    #[error("authentication failed: the authorization id differs from the user name")]
    AuthorizationIdMismatch,
}

/// A parsed PLAIN token.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainToken {
    /// The requested authorization id; empty when absent, else equal to
    /// `username`.
    pub authzid: String,
    /// The authentication id (user name), never empty.
    pub username: String,
    /// The password, never empty.
    pub password: Vec<u8>,
}

impl fmt::Debug for PlainToken {
    /// The password is not printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainToken")
            .field("authzid", &self.authzid)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Parses a PLAIN token: exactly three NUL-separated fields, the user name
/// and password non-empty, names UTF-8, each field within its bound, and an
/// authorization id, if given, equal to the user name.
pub fn parse(token: &[u8]) -> Result<PlainToken, PlainError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(PlainError::Malformed("token too long"));
    }
    let mut fields = token.split(|b| *b == 0);
    let (Some(authzid), Some(username), Some(password), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(PlainError::Malformed("expected three NUL-separated fields"));
    };
    if authzid.len() > MAX_NAME_LEN || username.len() > MAX_NAME_LEN {
        return Err(PlainError::Malformed("name too long"));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(PlainError::Malformed("password too long"));
    }
    if username.is_empty() {
        return Err(PlainError::Malformed("empty user name"));
    }
    if password.is_empty() {
        return Err(PlainError::Malformed("empty password"));
    }
    let authzid =
        std::str::from_utf8(authzid).map_err(|_| PlainError::Malformed("name is not UTF-8"))?;
    let username =
        std::str::from_utf8(username).map_err(|_| PlainError::Malformed("name is not UTF-8"))?;
    if !authzid.is_empty() && authzid != username {
        return Err(PlainError::AuthorizationIdMismatch);
    }
    Ok(PlainToken {
        authzid: authzid.to_owned(),
        username: username.to_owned(),
        password: password.to_vec(),
    })
}

/// Whether `password` is the one `cred` was derived from: recomputes the
/// salted password with the credential's salt and iterations, then the
/// stored key, and compares in constant time. A credential whose iteration
/// count is outside Kafka's bounds never matches (that bounds the work an
/// attempt costs).
pub fn verify(cred: &ScramCredential, password: &[u8]) -> bool {
    let m = cred.mechanism;
    if cred.iterations < m.min_iterations() || cred.iterations > m.max_iterations() {
        return false;
    }
    let salted = salted_password(m, password, &cred.salt, cred.iterations);
    let client_key = hmac(m, &salted, b"Client Key");
    let stored_key = client_key_to_stored_key(m, &client_key);
    stored_key.ct_eq(&cred.stored_key).into()
}

/// Checks `password` against a user's credentials: the SCRAM-SHA-512 one if
/// the user has it, else the SCRAM-SHA-256 one (one PBKDF2 run per attempt).
/// `false` when the user has neither.
pub fn verify_any(creds: &[ScramCredential], password: &[u8]) -> bool {
    ScramMechanism::ALL
        .iter()
        .find_map(|m| creds.iter().find(|c| c.mechanism == *m))
        .is_some_and(|cred| verify(cred, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(m: ScramMechanism, pw: &str) -> ScramCredential {
        ScramCredential::from_password(m, pw.as_bytes(), b"salt", 4096)
    }

    #[test]
    fn parses_rfc4616_tokens() {
        let t = parse(b"\0alice\0secret").unwrap();
        assert_eq!((t.authzid.as_str(), t.username.as_str()), ("", "alice"));
        assert_eq!(t.password, b"secret");
        let t = parse(b"alice\0alice\0pw").unwrap();
        assert_eq!(t.authzid, "alice");
        assert!(!format!("{t:?}").contains("pw"));
    }

    #[test]
    fn refuses_bad_tokens() {
        let bad: &[&[u8]] = &[
            b"",
            b"alice",
            b"\0alice",
            b"\0\0pw",
            b"\0alice\0",
            b"\0alice\0pw\0",
            b"\0al\xffice\0pw",
        ];
        for token in bad {
            assert!(
                matches!(parse(token), Err(PlainError::Malformed(_))),
                "{token:?}"
            );
        }
        assert_eq!(
            parse(b"bob\0alice\0pw"),
            Err(PlainError::AuthorizationIdMismatch)
        );
    }

    #[test]
    fn length_bounds() {
        let long_name = format!("\0{}\0pw", "a".repeat(MAX_NAME_LEN + 1));
        assert!(parse(long_name.as_bytes()).is_err());
        let long_pw = format!("\0alice\0{}", "p".repeat(MAX_PASSWORD_LEN + 1));
        assert!(parse(long_pw.as_bytes()).is_err());
        let max = format!(
            "\0{}\0{}",
            "a".repeat(MAX_NAME_LEN),
            "p".repeat(MAX_PASSWORD_LEN)
        );
        assert!(parse(max.as_bytes()).is_ok());
        assert!(parse(&vec![b'a'; MAX_TOKEN_LEN + 1]).is_err());
    }

    #[test]
    fn verify_against_scram_credentials() {
        for m in ScramMechanism::ALL {
            let c = cred(m, "secret");
            assert!(verify(&c, b"secret"));
            assert!(!verify(&c, b"Secret"));
            assert!(!verify(&c, b""));
        }
        let mut too_many = cred(ScramMechanism::Sha256, "secret");
        too_many.iterations = 1_000_000;
        assert!(!verify(&too_many, b"secret"));
    }

    #[test]
    fn verify_any_prefers_sha512() {
        let both = [
            cred(ScramMechanism::Sha256, "old"),
            cred(ScramMechanism::Sha512, "new"),
        ];
        assert!(verify_any(&both, b"new"));
        assert!(!verify_any(&both, b"old"));
        assert!(verify_any(&both[..1], b"old"));
        assert!(!verify_any(&[], b"old"));
    }
}
