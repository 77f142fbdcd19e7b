//! The client side of one SCRAM exchange (RFC 5802, RFC 7677), sans-I/O:
//! client-first → (server-first) → client-final → (server-final).
//!
//! The caller supplies the client nonce (fresh random printable data per
//! exchange) and moves the messages; this type checks what the server sends:
//! the combined nonce must extend ours, the iteration count must be within
//! Kafka's bounds (a hostile server cannot make us run PBKDF2 for long), and
//! the server-final signature must prove the server knows our credential.

use std::fmt;

use base64::Engine;
use subtle::ConstantTimeEq;

use super::crypto::{client_key_to_stored_key, hmac, salted_password, xor};
use super::server::{escape_saslname, is_printable_nonce, B64};
use super::{ScramMechanism, MAX_ITERATIONS, MAX_MESSAGE_LEN, MIN_ITERATIONS};

/// The GS2 header we send: no channel binding, no authorization id.
const GS2_HEADER: &str = "n,,";
/// `base64("n,,")`, the channel binding attribute of client-final.
const CHANNEL_BINDING: &str = "biws";
/// Longest salt accepted from a server, in bytes (decoded).
const MAX_SALT_LEN: usize = 1024;

/// Why the client ended an exchange.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScramClientError {
    /// The server answered `e=...` in server-final (its reason, verbatim).
    #[error("server refused the authentication: {0}")]
    ServerError(String),
    /// The server's signature did not match: it does not know our
    /// credential (or the exchange was tampered with).
    #[error("the server's signature is invalid: it could not prove it knows the credential")]
    BadServerSignature,
    /// The server's message does not follow the protocol.
    #[error("malformed SCRAM message from the server: {0}")]
    Malformed(String),
    /// A message arrived in the wrong state.
    #[error("SCRAM message out of order: {0}")]
    OutOfOrder(&'static str),
}

fn malformed(what: &str) -> ScramClientError {
    ScramClientError::Malformed(what.to_owned())
}

enum State {
    Initial,
    AwaitingServerFirst,
    AwaitingServerFinal { server_signature: Vec<u8> },
    Done,
    Failed,
}

/// One SCRAM exchange on the client side.
pub struct ScramClient {
    mechanism: ScramMechanism,
    password: Vec<u8>,
    client_nonce: String,
    client_first_bare: String,
    state: State,
}

impl ScramClient {
    /// Starts an exchange for `username` / `password`. `client_nonce` must be
    /// fresh random printable ASCII without commas per exchange (see
    /// [`super::ScramServer::nonce_from_bytes`]). Kafka does not apply
    /// SASLprep; neither do we.
    pub fn new(
        mechanism: ScramMechanism,
        username: &str,
        password: &str,
        client_nonce: String,
    ) -> Self {
        let client_first_bare = format!("n={},r={}", escape_saslname(username), client_nonce);
        ScramClient {
            mechanism,
            password: password.as_bytes().to_vec(),
            client_nonce,
            client_first_bare,
            state: State::Initial,
        }
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> ScramMechanism {
        self.mechanism
    }

    /// Whether the server's signature was verified.
    pub fn is_complete(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The client-first message.
    pub fn client_first(&mut self) -> Result<Vec<u8>, ScramClientError> {
        if !matches!(self.state, State::Initial) {
            self.state = State::Failed;
            return Err(ScramClientError::OutOfOrder("client-first sent twice"));
        }
        if !is_printable_nonce(&self.client_nonce) {
            self.state = State::Failed;
            return Err(malformed("the client nonce is not printable"));
        }
        self.state = State::AwaitingServerFirst;
        Ok(format!("{GS2_HEADER}{}", self.client_first_bare).into_bytes())
    }

    /// Handles server-first and returns client-final (with the proof).
    pub fn server_first(&mut self, msg: &[u8]) -> Result<Vec<u8>, ScramClientError> {
        if !matches!(self.state, State::AwaitingServerFirst) {
            self.state = State::Failed;
            return Err(ScramClientError::OutOfOrder("unexpected server-first"));
        }
        match self.handle_server_first(msg) {
            Ok((reply, server_signature)) => {
                self.state = State::AwaitingServerFinal { server_signature };
                Ok(reply)
            }
            Err(e) => {
                self.state = State::Failed;
                Err(e)
            }
        }
    }

    /// Handles server-final: `Ok` once the server's signature checks out.
    pub fn server_final(&mut self, msg: &[u8]) -> Result<(), ScramClientError> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        let State::AwaitingServerFinal { server_signature } = state else {
            return Err(ScramClientError::OutOfOrder("unexpected server-final"));
        };
        let msg = bounded_utf8(msg)?;
        let first = msg.split(',').next().unwrap_or_default();
        if let Some(reason) = first.strip_prefix("e=") {
            return Err(ScramClientError::ServerError(reason.to_owned()));
        }
        let verifier = first
            .strip_prefix("v=")
            .ok_or_else(|| malformed("server-final has neither v= nor e="))?;
        let verifier = B64
            .decode(verifier)
            .map_err(|_| malformed("server signature is not base64"))?;
        if !bool::from(verifier.ct_eq(&server_signature)) {
            return Err(ScramClientError::BadServerSignature);
        }
        self.state = State::Done;
        Ok(())
    }

    fn handle_server_first(&self, msg: &[u8]) -> Result<(Vec<u8>, Vec<u8>), ScramClientError> {
        let server_first = bounded_utf8(msg)?;
        let mut attrs = server_first.split(',');
        let first = attrs.next().unwrap_or_default();
        if first.starts_with("m=") {
            return Err(malformed("mandatory extensions are not supported"));
        }
        if let Some(reason) = first.strip_prefix("e=") {
            return Err(ScramClientError::ServerError(reason.to_owned()));
        }
        let nonce = first
            .strip_prefix("r=")
            .ok_or_else(|| malformed("missing nonce"))?;
        if !nonce.starts_with(&self.client_nonce)
            || nonce.len() == self.client_nonce.len()
            || !is_printable_nonce(nonce)
        {
            return Err(malformed(
                "the server nonce does not extend the client nonce",
            ));
        }
        let salt = attrs
            .next()
            .and_then(|a| a.strip_prefix("s="))
            .ok_or_else(|| malformed("missing salt"))?;
        if salt.len() > MAX_SALT_LEN * 4 / 3 + 4 {
            return Err(malformed("salt too long"));
        }
        let salt = B64
            .decode(salt)
            .map_err(|_| malformed("salt is not base64"))?;
        if salt.is_empty() {
            return Err(malformed("empty salt"));
        }
        let iterations: u32 = attrs
            .next()
            .and_then(|a| a.strip_prefix("i="))
            .and_then(|i| i.parse().ok())
            .ok_or_else(|| malformed("missing or bad iteration count"))?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(malformed(&format!(
                "iteration count {iterations} is outside [{MIN_ITERATIONS}, {MAX_ITERATIONS}]"
            )));
        }
        // Extensions after i= are allowed and ignored.

        let mech = self.mechanism;
        let without_proof = format!("c={CHANNEL_BINDING},r={nonce}");
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, server_first, without_proof
        );
        let salted = salted_password(mech, &self.password, &salt, iterations);
        let client_key = hmac(mech, &salted, b"Client Key");
        let stored_key = client_key_to_stored_key(mech, &client_key);
        let client_signature = hmac(mech, &stored_key, auth_message.as_bytes());
        let proof = xor(&client_key, &client_signature);
        let server_key = hmac(mech, &salted, b"Server Key");
        let server_signature = hmac(mech, &server_key, auth_message.as_bytes());
        let reply = format!("{without_proof},p={}", B64.encode(proof)).into_bytes();
        Ok((reply, server_signature))
    }
}

fn bounded_utf8(msg: &[u8]) -> Result<&str, ScramClientError> {
    if msg.len() > MAX_MESSAGE_LEN {
        return Err(malformed("message too long"));
    }
    std::str::from_utf8(msg).map_err(|_| malformed("message is not UTF-8"))
}

impl fmt::Debug for ScramClient {
    /// The password is not printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Initial => "initial",
            State::AwaitingServerFirst => "awaiting server-first",
            State::AwaitingServerFinal { .. } => "awaiting server-final",
            State::Done => "done",
            State::Failed => "failed",
        };
        f.debug_struct("ScramClient")
            .field("mechanism", &self.mechanism)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
