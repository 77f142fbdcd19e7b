//! SASL on a connection: SaslHandshake, then the mechanism's exchange, carried by
//! SaslAuthenticate requests (v1 handshake) or as raw tokens (v0, KIP-152), and the
//! principal of a client certificate. The rules (SCRAM, PLAIN, mapping rules) are in
//! `strata-auth`; the gate (which request may come when) is [`super::session`].
//!
//! A failed authentication is answered after a delay that grows with the address's
//! recent failures, with one message whatever was wrong, and closes the connection.

use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    RequestKind, ResponseKind, SaslAuthenticateResponse, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use rand::RngCore;
use strata_auth::principal::PrincipalMappingRules;
use strata_auth::scram::{ScramMechanism, ScramServer};
use strata_proto::frame::{self, Request};

use super::listener::Endpoint;
use super::session::Session;
use crate::auth;
use crate::metrics::ReasonLabels;
use crate::Broker;

/// What the connection does after a SASL step.
pub(crate) enum SaslOutcome {
    /// Send this frame and go on.
    Reply(Bytes),
    /// Send this frame, then close (a refused handshake or failed authentication).
    ReplyAndClose(Bytes),
    /// Close without an answer (a v0 exchange failed, or the reply cannot be encoded).
    Close,
}

/// A mechanism's exchange in progress.
pub(crate) enum Exchange {
    /// One token: authzid, user, password.
    Plain,
    /// Two round trips; `true` once the client's first message was answered.
    Scram(Box<ScramServer>, bool),
}

/// One step of an exchange.
enum Step {
    /// Send these bytes; the exchange goes on.
    Continue(Vec<u8>),
    /// Authenticated as this user; send these bytes.
    Done(Vec<u8>, String),
    /// Refused.
    Failed,
}

/// The principal of a client certificate: `User:` and its subject (RFC 2253), through
/// `ssl.principal.mapping.rules` when set.
pub(crate) fn certificate_principal(
    der: &[u8],
    rules: Option<&PrincipalMappingRules>,
) -> Result<String, String> {
    let dn = strata_auth::principal::subject_dn(der).map_err(|e| e.to_string())?;
    let name = match rules {
        Some(r) => r.apply(&dn).map_err(|e| format!("subject '{dn}': {e}"))?,
        None => dn,
    };
    Ok(format!("User:{name}"))
}

/// Serves a SaslHandshake or SaslAuthenticate request.
pub(crate) async fn request(
    broker: &Broker,
    endpoint: &Endpoint,
    session: &mut Session,
    exchange: &mut Option<Exchange>,
    req: Request,
    peer: SocketAddr,
) -> SaslOutcome {
    let Request {
        api_key,
        header,
        body,
    } = req;
    let v = header.request_api_version;
    let encode =
        |body: ResponseKind| frame::encode_response(api_key, v, header.correlation_id, &body).ok();
    let (response, close) = match body {
        RequestKind::SaslHandshake(r) => {
            let (resp, close) =
                handshake(broker, endpoint, session, exchange, r.mechanism.as_str(), v);
            (ResponseKind::SaslHandshake(resp), close)
        }
        RequestKind::SaslAuthenticate(r) => {
            let (resp, close) =
                authenticate(broker, session, exchange, &r.auth_bytes, v, peer).await;
            // Without SASL on the listener: ILLEGAL_SASL_STATE, connection kept.
            let close = close && endpoint.config.protocol.sasl();
            (ResponseKind::SaslAuthenticate(resp), close)
        }
        _ => return SaslOutcome::Close,
    };
    match (encode(response), close) {
        (Some(b), false) => SaslOutcome::Reply(b),
        (Some(b), true) => SaslOutcome::ReplyAndClose(b),
        (None, _) => SaslOutcome::Close,
    }
}

/// Serves a raw token (after a v0 handshake): the answer is the bare token, framed.
pub(crate) async fn raw_token(
    broker: &Broker,
    session: &mut Session,
    exchange: &mut Option<Exchange>,
    token: Bytes,
    peer: SocketAddr,
) -> SaslOutcome {
    match step(broker, session, exchange, &token, peer).await {
        Step::Continue(bytes) => SaslOutcome::Reply(raw_frame(&bytes)),
        Step::Done(bytes, user) => {
            if !finish(broker, session, &user, peer) {
                return SaslOutcome::Close;
            }
            SaslOutcome::Reply(raw_frame(&bytes))
        }
        // Kafka closes a v0 connection whose authentication failed, without an answer.
        Step::Failed => {
            failed(broker, peer).await;
            SaslOutcome::Close
        }
    }
}

fn raw_frame(token: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(4 + token.len());
    b.put_i32(token.len() as i32);
    b.put_slice(token);
    b.freeze()
}

fn handshake(
    broker: &Broker,
    endpoint: &Endpoint,
    session: &mut Session,
    exchange: &mut Option<Exchange>,
    mechanism: &str,
    version: i16,
) -> (SaslHandshakeResponse, bool) {
    let enabled = &endpoint.config.sasl_mechanisms;
    let list = enabled
        .iter()
        .map(|m| StrBytes::from_string(m.clone()))
        .collect();
    let resp = SaslHandshakeResponse::default().with_mechanisms(list);
    let sasl_listener = endpoint.config.protocol.sasl();
    if !session.handshake_allowed(sasl_listener) {
        // Kafka answers SASL on a listener without it and keeps the connection.
        let resp = resp.with_error_code(ResponseError::IllegalSaslState.code());
        return (resp, sasl_listener);
    }
    if !enabled.iter().any(|m| m == mechanism) {
        count(broker, "sasl_mechanism");
        return (
            resp.with_error_code(ResponseError::UnsupportedSaslMechanism.code()),
            true,
        );
    }
    *exchange = Some(match ScramMechanism::from_name(mechanism) {
        Some(m) => {
            let mut nonce = [0u8; 24];
            rand::rngs::OsRng.fill_bytes(&mut nonce);
            Exchange::Scram(
                Box::new(ScramServer::new(
                    m,
                    ScramServer::nonce_from_bytes(&nonce),
                    broker.security.unknown_user_secret(),
                )),
                false,
            )
        }
        None => Exchange::Plain,
    });
    session.start_exchange(mechanism, version);
    (resp, false)
}

async fn authenticate(
    broker: &Broker,
    session: &mut Session,
    exchange: &mut Option<Exchange>,
    token: &[u8],
    version: i16,
    peer: SocketAddr,
) -> (SaslAuthenticateResponse, bool) {
    let resp = SaslAuthenticateResponse::default();
    let Some(mechanism) = session.mechanism().map(str::to_string) else {
        return (
            resp.with_error_code(ResponseError::IllegalSaslState.code()),
            true,
        );
    };
    match step(broker, session, exchange, token, peer).await {
        Step::Continue(bytes) => (resp.with_auth_bytes(bytes.into()), false),
        Step::Done(bytes, user) => {
            if !finish(broker, session, &user, peer) {
                let msg = "re-authentication must keep the principal";
                return (
                    resp.with_error_code(ResponseError::SaslAuthenticationFailed.code())
                        .with_error_message(Some(StrBytes::from_static_str(msg))),
                    true,
                );
            }
            let lifetime = if version >= 1 {
                broker.security.reauth.as_millis() as i64
            } else {
                0
            };
            (
                resp.with_auth_bytes(bytes.into())
                    .with_session_lifetime_ms(lifetime),
                false,
            )
        }
        Step::Failed => {
            failed(broker, peer).await;
            let msg = format!(
                "Authentication failed during authentication due to invalid credentials with \
                 SASL mechanism {mechanism}"
            );
            (
                resp.with_error_code(ResponseError::SaslAuthenticationFailed.code())
                    .with_error_message(Some(StrBytes::from_string(msg))),
                true,
            )
        }
    }
}

/// Runs one token through the exchange.
async fn step(
    broker: &Broker,
    session: &Session,
    exchange: &mut Option<Exchange>,
    token: &[u8],
    peer: SocketAddr,
) -> Step {
    let image = broker.meta.image();
    match exchange {
        None => Step::Failed,
        Some(Exchange::Plain) => {
            *exchange = None;
            let Ok(t) = strata_auth::plain::parse(token) else {
                tracing::debug!(%peer, "malformed PLAIN token");
                return Step::Failed;
            };
            let creds = auth::credentials(&image, &t.username);
            // PBKDF2 costs milliseconds: never on the async runtime. An unknown user
            // costs the same as a known one.
            let password = t.password.clone();
            let ok = tokio::task::spawn_blocking(move || {
                if creds.is_empty() {
                    let _ = strata_auth::plain::verify(&auth::unknown_user_credential(), &password);
                    false
                } else {
                    strata_auth::plain::verify_any(&creds, &password)
                }
            })
            .await
            .unwrap_or(false);
            if ok {
                Step::Done(Vec::new(), t.username)
            } else {
                Step::Failed
            }
        }
        Some(Exchange::Scram(server, answered_first)) => {
            let result = if *answered_first {
                server
                    .client_final(token)
                    .map(|(reply, user)| Step::Done(reply, user))
            } else {
                let m = server.mechanism();
                let reply = server.client_first(token, |user| auth::credential(&image, user, m));
                if server.token_auth() {
                    // No delegation tokens: refused like a wrong password.
                    Err(strata_auth::scram::ScramError::AuthenticationFailed)
                } else {
                    *answered_first = true;
                    reply.map(Step::Continue)
                }
            };
            match result {
                Ok(Step::Done(reply, user)) => {
                    *exchange = None;
                    Step::Done(reply, user)
                }
                Ok(step) => step,
                Err(e) => {
                    *exchange = None;
                    tracing::debug!(%peer, mechanism = ?session.mechanism(), error = %e, "SCRAM exchange refused");
                    Step::Failed
                }
            }
        }
    }
}

/// Records a successful exchange; `false` if a re-authentication changed principal.
fn finish(broker: &Broker, session: &mut Session, user: &str, peer: SocketAddr) -> bool {
    let principal = format!("User:{user}");
    let ok = session.authenticated(
        &principal,
        broker.security.reauth,
        std::time::Instant::now(),
    );
    if ok {
        broker.security.on_success(peer.ip());
        tracing::debug!(%peer, %principal, "authenticated");
    } else {
        count(broker, "sasl_reauth_principal");
    }
    ok
}

/// Counts a failure and waits out its delay.
async fn failed(broker: &Broker, peer: SocketAddr) {
    count(broker, "sasl_failed");
    let delay = broker.security.on_failure(peer.ip());
    tracing::info!(%peer, "SASL authentication failed");
    tokio::time::sleep(delay).await;
}

fn count(broker: &Broker, reason: &'static str) {
    broker
        .metrics
        .connections_closed
        .get_or_create(&ReasonLabels { reason })
        .inc();
}
