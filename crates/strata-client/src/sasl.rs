//! SASL authentication of a new connection: SaslHandshake v1, then SaslAuthenticate
//! (up to v2) carrying PLAIN or SCRAM-SHA-256/512 (strata-auth's sans-I/O SCRAM client).

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;
use rand::RngCore;
use strata_auth::scram::{ScramClient, ScramMechanism, ScramServer};

use crate::connection::Connection;
use crate::error::{codes, error_code_name, ClientError, Result};
use crate::security::{SaslMechanism, SecurityConfig};

/// Authenticates `conn` as `security` says. Returns the session lifetime the broker
/// announced (SaslAuthenticate v1+), if any.
pub(crate) async fn authenticate(
    conn: &Connection,
    security: &SecurityConfig,
    timeout: Duration,
) -> Result<Option<Duration>> {
    let (Some(mechanism), Some(user), Some(password)) = (
        security.sasl_mechanism,
        security.sasl_username.as_deref(),
        security.sasl_password.as_deref(),
    ) else {
        return Err(ClientError::Config(
            "SASL needs sasl.mechanism, sasl.username and sasl.password".into(),
        ));
    };
    let addr = conn.addr().to_string();
    let fail = |what: String| {
        ClientError::Authentication(format!(
            "{addr} as '{user}' with {}: {what}",
            mechanism.name()
        ))
    };

    let hs_version = conn.version_for::<SaslHandshakeRequest>(Some(1))?;
    if hs_version < 1 {
        return Err(ClientError::UnsupportedVersion {
            api: "SaslHandshake v1".into(),
        });
    }
    let hs =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism.name()));
    let resp = conn.request(&hs, hs_version, timeout).await?;
    if resp.error_code == codes::UNSUPPORTED_SASL_MECHANISM {
        let enabled: Vec<&str> = resp.mechanisms.iter().map(|m| m.as_str()).collect();
        return Err(fail(format!(
            "the broker does not enable this mechanism (enabled: {}) (UNSUPPORTED_SASL_MECHANISM)",
            enabled.join(", ")
        )));
    }
    if resp.error_code != 0 {
        return Err(fail(format!(
            "SaslHandshake refused ({})",
            error_code_name(resp.error_code)
        )));
    }

    let version = conn.version_for::<SaslAuthenticateRequest>(Some(2))?;
    let step = |token: Vec<u8>| async move {
        let req = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token));
        let resp = conn.request(&req, version, timeout).await?;
        if resp.error_code != 0 {
            let msg = resp
                .error_message
                .as_ref()
                .map(|m| m.as_str().to_string())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "refused".into());
            return Err(fail(format!(
                "{msg} ({})",
                error_code_name(resp.error_code)
            )));
        }
        let lifetime = u64::try_from(resp.session_lifetime_ms)
            .ok()
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis);
        Ok((resp.auth_bytes, lifetime))
    };

    let scram = match mechanism {
        SaslMechanism::Plain => {
            let (_, l) = step(plain_token(user, password)).await?;
            return Ok(l);
        }
        SaslMechanism::ScramSha256 => ScramMechanism::Sha256,
        SaslMechanism::ScramSha512 => ScramMechanism::Sha512,
    };
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let mut client = ScramClient::new(scram, user, password, ScramServer::nonce_from_bytes(&nonce));
    let first = client.client_first().map_err(|e| fail(e.to_string()))?;
    let (server_first, _) = step(first).await?;
    let client_final = client
        .server_first(&server_first)
        .map_err(|e| fail(e.to_string()))?;
    let (server_final, lifetime) = step(client_final).await?;
    client
        .server_final(&server_final)
        .map_err(|e| fail(e.to_string()))?;
    Ok(lifetime)
}

/// `authzid NUL authcid NUL password` with an empty authzid (RFC 4616).
fn plain_token(user: &str, password: &str) -> Vec<u8> {
    let mut token = Vec::with_capacity(user.len() + password.len() + 2);
    token.push(0);
    token.extend_from_slice(user.as_bytes());
    token.push(0);
    token.extend_from_slice(password.as_bytes());
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_token_layout() {
        assert_eq!(plain_token("alice", "pw"), b"\0alice\0pw");
    }
}
