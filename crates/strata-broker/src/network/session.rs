//! Who a connection is, and which requests it may send (sans-I/O).
//!
//! On a SASL listener a connection starts unauthenticated: it may ask for ApiVersions
//! and must then authenticate (SaslHandshake, then SaslAuthenticate requests, or raw
//! tokens after a v0 handshake, KIP-152). Anything else before that closes it, as Kafka
//! does. With `connections.max.reauth.ms` the authentication expires: the client
//! re-authenticates on the same connection (KIP-368), and a request after expiry
//! closes it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::ApiKey;

/// The principal of a connection nobody authenticated.
pub(crate) const ANONYMOUS: &str = "User:ANONYMOUS";

/// What to do with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Run its handler.
    Serve,
    /// It is part of authentication: the connection answers it itself.
    Sasl,
    /// Close the connection; the reason is logged.
    Refuse(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// A SASL listener's connection before its handshake.
    AwaitHandshake,
    /// Between handshake and the end of the exchange; `raw` after a v0 handshake
    /// (tokens without request headers); `reauth` when an authenticated connection
    /// authenticates again.
    Exchanging {
        mechanism: String,
        raw: bool,
        reauth: bool,
    },
    /// Authenticated (or a listener without SASL).
    Open,
}

/// One connection's authentication state.
#[derive(Debug)]
pub(crate) struct Session {
    principal: Arc<str>,
    state: State,
    /// When the authentication expires (`connections.max.reauth.ms`).
    expires_at: Option<Instant>,
}

impl Session {
    /// A connection on a listener without SASL: `principal` is ANONYMOUS or the client
    /// certificate's.
    pub(crate) fn open(principal: Arc<str>) -> Self {
        Self {
            principal,
            state: State::Open,
            expires_at: None,
        }
    }

    /// A connection on a SASL listener, before it authenticates.
    pub(crate) fn sasl() -> Self {
        Self {
            principal: ANONYMOUS.into(),
            state: State::AwaitHandshake,
            expires_at: None,
        }
    }

    /// The authenticated principal (`User:ANONYMOUS` before authentication).
    pub(crate) fn principal(&self) -> &Arc<str> {
        &self.principal
    }

    /// Whether the next frame is a raw SASL token (after a v0 handshake).
    pub(crate) fn expects_raw_token(&self) -> bool {
        matches!(self.state, State::Exchanging { raw: true, .. })
    }

    /// The mechanism being exchanged, if any.
    pub(crate) fn mechanism(&self) -> Option<&str> {
        match &self.state {
            State::Exchanging { mechanism, .. } => Some(mechanism),
            _ => None,
        }
    }

    /// Whether the exchange under way re-authenticates an authenticated connection.
    pub(crate) fn reauthenticating(&self) -> bool {
        matches!(self.state, State::Exchanging { reauth: true, .. })
    }

    /// What to do with a request of `key` arriving at `now`.
    pub(crate) fn gate(&self, key: ApiKey, now: Instant) -> Gate {
        let sasl_api = matches!(key, ApiKey::SaslHandshake | ApiKey::SaslAuthenticate);
        match &self.state {
            State::AwaitHandshake => match key {
                ApiKey::ApiVersions => Gate::Serve,
                ApiKey::SaslHandshake => Gate::Sasl,
                ApiKey::SaslAuthenticate => Gate::Refuse("SaslAuthenticate before SaslHandshake"),
                _ => Gate::Refuse("request before SASL authentication"),
            },
            State::Exchanging { reauth: false, .. } => match key {
                ApiKey::SaslAuthenticate => Gate::Sasl,
                _ => Gate::Refuse("request during SASL authentication"),
            },
            // Re-authenticating: other requests go on until the old session expires;
            // an exchange left unfinished does not extend it.
            State::Exchanging { reauth: true, .. } => match key {
                ApiKey::SaslAuthenticate => Gate::Sasl,
                ApiKey::SaslHandshake => Gate::Refuse("SaslHandshake during re-authentication"),
                _ => self.serve_unless_expired(now),
            },
            State::Open if sasl_api => Gate::Sasl,
            State::Open => self.serve_unless_expired(now),
        }
    }

    fn serve_unless_expired(&self, now: Instant) -> Gate {
        match self.expires_at {
            Some(t) if now >= t => Gate::Refuse("SASL session expired (connections.max.reauth.ms)"),
            _ => Gate::Serve,
        }
    }

    /// Whether SASL is possible at all on this connection's listener state: a handshake
    /// on a listener without SASL gets ILLEGAL_SASL_STATE.
    pub(crate) fn handshake_allowed(&self, sasl_listener: bool) -> bool {
        sasl_listener
            && matches!(self.state, State::AwaitHandshake | State::Open)
            && (self.expires_at.is_some() || self.state == State::AwaitHandshake)
    }

    /// A handshake for `mechanism` was accepted; `version` 0 means raw tokens follow.
    pub(crate) fn start_exchange(&mut self, mechanism: &str, version: i16) {
        let reauth = self.state == State::Open;
        self.state = State::Exchanging {
            mechanism: mechanism.to_string(),
            raw: version == 0,
            reauth,
        };
    }

    /// The exchange succeeded for `principal`; `lifetime` is `connections.max.reauth.ms`
    /// (zero: never expires). A re-authentication must keep the principal: `false`
    /// (close) if it changed.
    pub(crate) fn authenticated(
        &mut self,
        principal: &str,
        lifetime: Duration,
        now: Instant,
    ) -> bool {
        if self.reauthenticating() && &*self.principal != principal {
            return false;
        }
        if &*self.principal != principal {
            self.principal = principal.into();
        }
        self.state = State::Open;
        self.expires_at = (!lifetime.is_zero()).then(|| now + lifetime);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sasl_connection_may_only_ask_versions_and_authenticate_first() {
        let now = Instant::now();
        let mut s = Session::sasl();
        assert_eq!(s.gate(ApiKey::ApiVersions, now), Gate::Serve);
        assert!(matches!(s.gate(ApiKey::Metadata, now), Gate::Refuse(_)));
        assert!(matches!(
            s.gate(ApiKey::SaslAuthenticate, now),
            Gate::Refuse(_)
        ));
        assert_eq!(s.gate(ApiKey::SaslHandshake, now), Gate::Sasl);
        assert!(s.handshake_allowed(true));
        s.start_exchange("SCRAM-SHA-256", 1);
        assert!(!s.expects_raw_token());
        assert!(matches!(s.gate(ApiKey::Produce, now), Gate::Refuse(_)));
        assert_eq!(s.gate(ApiKey::SaslAuthenticate, now), Gate::Sasl);
        assert!(s.authenticated("User:alice", Duration::ZERO, now));
        assert_eq!(&**s.principal(), "User:alice");
        assert_eq!(
            s.gate(ApiKey::Produce, now + Duration::from_secs(3600)),
            Gate::Serve
        );
        // Without a session lifetime there is nothing to re-authenticate.
        assert!(!s.handshake_allowed(true));
    }

    #[test]
    fn a_v0_handshake_is_followed_by_raw_tokens() {
        let mut s = Session::sasl();
        s.start_exchange("PLAIN", 0);
        assert!(s.expects_raw_token());
        assert_eq!(s.mechanism(), Some("PLAIN"));
    }

    #[test]
    fn an_expired_session_must_reauthenticate_as_the_same_principal() {
        let now = Instant::now();
        let life = Duration::from_secs(10);
        let mut s = Session::sasl();
        s.start_exchange("PLAIN", 1);
        assert!(s.authenticated("User:alice", life, now));
        assert_eq!(
            s.gate(ApiKey::Fetch, now + Duration::from_secs(9)),
            Gate::Serve
        );
        let late = now + Duration::from_secs(11);
        assert!(matches!(s.gate(ApiKey::Fetch, late), Gate::Refuse(_)));
        // Re-authentication: other requests go on meanwhile, until the old session
        // expires.
        assert!(s.handshake_allowed(true));
        s.start_exchange("PLAIN", 1);
        assert!(s.reauthenticating());
        let before = now + Duration::from_secs(9);
        assert_eq!(s.gate(ApiKey::Fetch, before), Gate::Serve);
        assert!(matches!(s.gate(ApiKey::Fetch, late), Gate::Refuse(_)));
        assert_eq!(s.gate(ApiKey::SaslAuthenticate, late), Gate::Sasl);
        assert!(!s.clone_for_test().authenticated("User:mallory", life, late));
        assert!(s.authenticated("User:alice", life, late));
        assert_eq!(s.gate(ApiKey::Fetch, late), Gate::Serve);
    }

    #[test]
    fn listeners_without_sasl_refuse_handshakes() {
        let s = Session::open(ANONYMOUS.into());
        assert!(!s.handshake_allowed(false));
        assert_eq!(s.gate(ApiKey::Metadata, Instant::now()), Gate::Serve);
    }

    impl Session {
        fn clone_for_test(&self) -> Session {
            Session {
                principal: Arc::clone(&self.principal),
                state: self.state.clone(),
                expires_at: self.expires_at,
            }
        }
    }
}
