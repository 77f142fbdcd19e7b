//! The server side of one SCRAM exchange:
//! client-first → server-first → client-final → server-final.

use std::fmt;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use subtle::ConstantTimeEq;

use super::crypto::{client_key_to_stored_key, hmac, xor};
use super::{ScramCredential, ScramMechanism};

/// Longest SCRAM message accepted from a client, in bytes. Longer ones are
/// refused as malformed before they are parsed.
pub const MAX_MESSAGE_LEN: usize = 4096;

/// Iterations announced for users that do not exist (Kafka's default for
/// new credentials, so the fake looks like most real ones).
const FAKE_ITERATIONS: u32 = 4096;
/// Length of the salt announced for users that do not exist: Kafka's tools
/// generate salts of about 26 base-36 characters.
const FAKE_SALT_LEN: usize = 26;

/// Standard base64, padding optional on input (as Java's decoder accepts),
/// written with padding.
pub(crate) const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why an exchange failed. Neither kind says which part of a credential was
/// wrong: an unknown user and a wrong password are the same
/// [`ScramError::AuthenticationFailed`], at the same step.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    /// The user, the password (proof) or the requested authorization id did
    /// not check out.
    #[error("authentication failed: invalid credentials")]
    AuthenticationFailed,
    /// The message does not follow the protocol (syntax, length, order,
    /// nonce, channel binding). The text is safe to send to the client.
    #[error("malformed SCRAM message: {0}")]
    Malformed(String),
}

fn malformed(what: &str) -> ScramError {
    ScramError::Malformed(what.to_owned())
}

/// A per-process secret from which the server derives the fake credential of
/// a user that does not exist, so that such a user gets a stable salt and
/// fails at the same step as a wrong password. Fill it from the OS random
/// source once at start-up and share it among all exchanges.
#[derive(Clone)]
pub struct UnknownUserSecret([u8; 32]);

impl UnknownUserSecret {
    /// Wraps 32 random bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        UnknownUserSecret(bytes)
    }
}

impl fmt::Debug for UnknownUserSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UnknownUserSecret(..)")
    }
}

/// One SCRAM exchange on the server side. Create one per authentication
/// attempt; it refuses messages out of order and, once failed, everything.
pub struct ScramServer {
    mechanism: ScramMechanism,
    server_nonce: String,
    secret: UnknownUserSecret,
    token_auth: bool,
    state: State,
}

enum State {
    Initial,
    AwaitingFinal(Box<Exchange>),
    Done,
    Failed,
}

/// What client-first established, kept for client-final.
struct Exchange {
    username: String,
    credential: ScramCredential,
    /// `false` when the credential is the fake one of an unknown user.
    known: bool,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

impl ScramServer {
    /// Starts an exchange. `server_nonce` is the server's part of the nonce
    /// (appended to the client's): fresh random data per exchange, printable
    /// ASCII without commas (see [`ScramServer::nonce_from_bytes`]).
    pub fn new(
        mechanism: ScramMechanism,
        server_nonce: String,
        unknown_user_secret: &UnknownUserSecret,
    ) -> Self {
        ScramServer {
            mechanism,
            server_nonce,
            secret: unknown_user_secret.clone(),
            token_auth: false,
            state: State::Initial,
        }
    }

    /// A server nonce from random bytes (base64: printable, no commas).
    pub fn nonce_from_bytes(random: &[u8]) -> String {
        B64.encode(random)
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> ScramMechanism {
        self.mechanism
    }

    /// Whether the client-first message carried the `tokenauth=true`
    /// extension (delegation-token authentication). The exchange itself runs
    /// as for a user; a broker without delegation tokens refuses it after
    /// [`ScramServer::client_first`].
    pub fn token_auth(&self) -> bool {
        self.token_auth
    }

    /// Whether the exchange completed successfully.
    pub fn is_complete(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Handles the client-first message and returns the server-first
    /// message. `lookup` is called once with the (unescaped) user name and
    /// returns that user's credential for this mechanism, if any. An unknown
    /// user gets a deterministic fake credential and fails only at
    /// [`ScramServer::client_final`], exactly as a wrong password does.
    pub fn client_first(
        &mut self,
        msg: &[u8],
        lookup: impl FnOnce(&str) -> Option<ScramCredential>,
    ) -> Result<Vec<u8>, ScramError> {
        if !matches!(self.state, State::Initial) {
            self.state = State::Failed;
            return Err(malformed("unexpected client-first message"));
        }
        match self.handle_client_first(msg, lookup) {
            Ok((exchange, reply)) => {
                self.state = State::AwaitingFinal(Box::new(exchange));
                Ok(reply)
            }
            Err(e) => {
                self.state = State::Failed;
                Err(e)
            }
        }
    }

    /// Handles the client-final message; on success returns the
    /// server-final message (`v=` server signature) and the authenticated
    /// user name.
    pub fn client_final(&mut self, msg: &[u8]) -> Result<(Vec<u8>, String), ScramError> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        let State::AwaitingFinal(exchange) = state else {
            return Err(malformed("unexpected client-final message"));
        };
        let reply = self.handle_client_final(&exchange, msg)?;
        self.state = State::Done;
        Ok((reply, exchange.username))
    }

    fn handle_client_first(
        &mut self,
        msg: &[u8],
        lookup: impl FnOnce(&str) -> Option<ScramCredential>,
    ) -> Result<(Exchange, Vec<u8>), ScramError> {
        let msg = bounded_utf8(msg)?;
        let first = parse_client_first(msg)?;
        if !is_printable_nonce(&self.server_nonce) {
            return Err(malformed("server nonce is not printable"));
        }
        self.token_auth = first.token_auth;
        if let Some(authzid) = &first.authzid {
            if *authzid != first.username {
                return Err(ScramError::AuthenticationFailed);
            }
        }
        let found = lookup(&first.username)
            .filter(|c| c.mechanism == self.mechanism && c.validate().is_ok());
        let known = found.is_some();
        let credential =
            found.unwrap_or_else(|| fake_credential(self.mechanism, &self.secret, &first.username));
        let nonce = format!("{}{}", first.client_nonce, self.server_nonce);
        let server_first = format!(
            "r={},s={},i={}",
            nonce,
            B64.encode(&credential.salt),
            credential.iterations
        );
        let reply = server_first.clone().into_bytes();
        let exchange = Exchange {
            username: first.username,
            credential,
            known,
            gs2_header: first.gs2_header.to_owned(),
            client_first_bare: first.bare.to_owned(),
            server_first,
            nonce,
        };
        Ok((exchange, reply))
    }

    fn handle_client_final(&self, ex: &Exchange, msg: &[u8]) -> Result<Vec<u8>, ScramError> {
        let msg = bounded_utf8(msg)?;
        let proof_at = msg.rfind(",p=").ok_or_else(|| malformed("missing proof"))?;
        let without_proof = &msg[..proof_at];
        let proof_b64 = &msg[proof_at + 3..];
        let mut attrs = without_proof.split(',');
        let binding = attrs
            .next()
            .and_then(|a| a.strip_prefix("c="))
            .ok_or_else(|| malformed("missing channel binding"))?;
        let binding = B64
            .decode(binding)
            .map_err(|_| malformed("channel binding is not base64"))?;
        if binding != ex.gs2_header.as_bytes() {
            return Err(malformed("channel binding does not match the GS2 header"));
        }
        let nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .ok_or_else(|| malformed("missing nonce"))?;
        // Kafka accepts a client-final nonce that ends with the combined nonce, and
        // librdkafka relies on it: it sends its own nonce followed by the whole
        // server nonce (which already starts with the client's).
        if !nonce.ends_with(&ex.nonce) {
            return Err(malformed("nonce does not match"));
        }
        for ext in attrs {
            parse_extension(ext)?;
        }
        let proof = B64
            .decode(proof_b64)
            .map_err(|_| malformed("proof is not base64"))?;
        let mech = self.mechanism;
        if proof.len() != mech.digest_len() {
            return Err(malformed("proof has the wrong length"));
        }

        let auth_message = format!(
            "{},{},{}",
            ex.client_first_bare, ex.server_first, without_proof
        );
        let cred = &ex.credential;
        let client_signature = hmac(mech, &cred.stored_key, auth_message.as_bytes());
        let client_key = xor(&proof, &client_signature);
        let computed = client_key_to_stored_key(mech, &client_key);
        let proof_ok = computed.ct_eq(&cred.stored_key);
        let known = subtle::Choice::from(u8::from(ex.known));
        if !bool::from(proof_ok & known) {
            return Err(ScramError::AuthenticationFailed);
        }
        let server_signature = hmac(mech, &cred.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)).into_bytes())
    }
}

impl fmt::Debug for ScramServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Initial => "initial",
            State::AwaitingFinal(_) => "awaiting client-final",
            State::Done => "done",
            State::Failed => "failed",
        };
        f.debug_struct("ScramServer")
            .field("mechanism", &self.mechanism)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

/// The parts of a client-first message.
struct ClientFirst<'a> {
    gs2_header: &'a str,
    authzid: Option<String>,
    bare: &'a str,
    username: String,
    client_nonce: &'a str,
    token_auth: bool,
}

fn bounded_utf8(msg: &[u8]) -> Result<&str, ScramError> {
    if msg.len() > MAX_MESSAGE_LEN {
        return Err(malformed("message too long"));
    }
    std::str::from_utf8(msg).map_err(|_| malformed("message is not UTF-8"))
}

/// `gs2-header client-first-message-bare`, where the GS2 header is `n,,` or
/// `n,a=<saslname>,` (channel binding is not supported).
fn parse_client_first(msg: &str) -> Result<ClientFirst<'_>, ScramError> {
    let rest = match msg.as_bytes().first() {
        Some(b'n') => msg[1..]
            .strip_prefix(',')
            .ok_or_else(|| malformed("bad GS2 header"))?,
        Some(b'y') | Some(b'p') => return Err(malformed("channel binding is not supported")),
        _ => return Err(malformed("bad GS2 header")),
    };
    let comma = rest.find(',').ok_or_else(|| malformed("bad GS2 header"))?;
    let authzid = match &rest[..comma] {
        "" => None,
        a => {
            let name = a
                .strip_prefix("a=")
                .ok_or_else(|| malformed("bad GS2 header"))?;
            Some(unescape_saslname(name)?)
        }
    };
    // "n," + authzid + ","
    let header_len = 2 + comma + 1;
    let gs2_header = &msg[..header_len];
    let bare = &msg[header_len..];

    let mut attrs = bare.split(',');
    let user = attrs.next().unwrap_or_default();
    if user.starts_with("m=") {
        return Err(malformed("mandatory extensions are not supported"));
    }
    let username = user
        .strip_prefix("n=")
        .ok_or_else(|| malformed("missing user name"))
        .and_then(unescape_saslname)?;
    if username.is_empty() {
        return Err(malformed("empty user name"));
    }
    let client_nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or_else(|| malformed("missing nonce"))?;
    if !is_printable_nonce(client_nonce) {
        return Err(malformed("bad nonce"));
    }
    let mut token_auth = false;
    for ext in attrs {
        let (key, value) = parse_extension(ext)?;
        if key == "tokenauth" {
            token_auth = value.eq_ignore_ascii_case("true");
        }
    }
    Ok(ClientFirst {
        gs2_header,
        authzid,
        bare,
        username,
        client_nonce,
        token_auth,
    })
}

/// `key=value` with an alphanumeric key; unknown keys are accepted.
fn parse_extension(ext: &str) -> Result<(&str, &str), ScramError> {
    let (key, value) = ext
        .split_once('=')
        .ok_or_else(|| malformed("bad extension"))?;
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(malformed("bad extension"));
    }
    Ok((key, value))
}

/// RFC 5802 `printable`: `%x21-2B / %x2D-7E` (no comma), at least one.
pub(crate) fn is_printable_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

/// Undoes saslname escaping: `=2C` is `,`, `=3D` is `=`; any other `=` is
/// malformed.
fn unescape_saslname(name: &str) -> Result<String, ScramError> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3);
        match escape {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(malformed("bad escape in name")),
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Escapes a name for a saslname field (`,` → `=2C`, `=` → `=3D`).
pub(crate) fn escape_saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// The credential announced for a user that does not exist: salt and keys
/// derived from the process secret and the name, so a second attempt sees
/// the same salt, as it would for a real user.
fn fake_credential(
    mechanism: ScramMechanism,
    secret: &UnknownUserSecret,
    username: &str,
) -> ScramCredential {
    let derive = |label: &[u8]| {
        let mut data =
            Vec::with_capacity(label.len() + mechanism.name().len() + username.len() + 2);
        data.extend_from_slice(label);
        data.push(0);
        data.extend_from_slice(mechanism.name().as_bytes());
        data.push(0);
        data.extend_from_slice(username.as_bytes());
        hmac(mechanism, &secret.0, &data)
    };
    const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let salt = derive(b"salt")
        .iter()
        .take(FAKE_SALT_LEN)
        .map(|b| BASE36[usize::from(*b) % BASE36.len()])
        .collect();
    ScramCredential {
        mechanism,
        salt,
        stored_key: derive(b"stored key"),
        server_key: derive(b"server key"),
        iterations: FAKE_ITERATIONS,
    }
}
