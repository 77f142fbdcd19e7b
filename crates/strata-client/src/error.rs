//! The client's error type.

use kafka_protocol::ResponseError;

/// Result alias used throughout the client.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Everything that can go wrong talking to a broker.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The broker answered with a Kafka error code.
    #[error("{message} ({name})")]
    Kafka {
        /// The numeric Kafka error code.
        code: i16,
        /// The protocol's name for the code, e.g. `TOPIC_ALREADY_EXISTS`.
        name: String,
        /// A human-readable description: the broker's message, or one we derive.
        message: String,
    },
    /// No TCP connection could be made.
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// The address we tried.
        addr: String,
        /// Why it failed, e.g. `connection refused`.
        reason: String,
    },
    /// The TLS handshake failed for a reason of TLS itself (an untrusted or mismatched
    /// certificate, a refused client certificate): retrying will not help.
    #[error("TLS handshake with {addr} failed: {reason}")]
    Tls {
        /// The peer.
        addr: String,
        /// What rustls reported.
        reason: String,
    },
    /// SASL authentication failed (wrong credentials, a mechanism the broker does not
    /// enable): retrying will not help.
    #[error("authentication failed: {0}")]
    Authentication(String),
    /// An established connection failed or was closed mid-request.
    #[error("connection to {addr} failed: {reason}")]
    Network {
        /// The peer.
        addr: String,
        /// What happened.
        reason: String,
    },
    /// The peer answered with bytes that are no Kafka response (an HTTP server, a TLS
    /// listener reached without TLS): retrying will not help.
    #[error("{addr} is not a Kafka listener ({detail})")]
    NotKafka {
        /// The peer.
        addr: String,
        /// What it sent, e.g. `got 'HTTP/1.1 400 Bad Request'`.
        detail: String,
    },
    /// A request got no answer in time.
    #[error("request timed out: {0}")]
    Timeout(String),
    /// The broker sent something we could not decode, or broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Client and broker share no version of an API we need.
    #[error("broker does not support {api} in any version this client speaks")]
    UnsupportedVersion {
        /// The API's name.
        api: String,
    },
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The producer or consumer was closed.
    #[error("client is closed")]
    Closed,
    /// A partition has no committed offset (or its position is out of range) and
    /// `auto_offset_reset` is `none`.
    #[error("no offset: {0}")]
    NoOffset(String),
}

impl ClientError {
    /// Builds a [`ClientError::Kafka`] from a wire error code. `message` is used when present,
    /// otherwise `fallback` (a description of what was being attempted) is combined with the code.
    pub fn from_code(code: i16, message: Option<&str>, fallback: &str) -> Self {
        let name = error_code_name(code);
        let message = match message {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => fallback.to_string(),
        };
        ClientError::Kafka {
            code,
            name,
            message,
        }
    }

    /// `Ok` for a response's top-level error code 0, else the error
    /// [`ClientError::from_code`] makes of the code and the response's message.
    pub fn check(
        code: i16,
        message: Option<&kafka_protocol::protocol::StrBytes>,
        fallback: &str,
    ) -> Result<(), Self> {
        if code == 0 {
            return Ok(());
        }
        Err(Self::from_code(code, message.map(|m| m.as_str()), fallback))
    }

    /// The Kafka error code, when this error came from the broker.
    pub fn code(&self) -> Option<i16> {
        match self {
            ClientError::Kafka { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The Kafka error code name (e.g. `NOT_LEADER_OR_FOLLOWER`), when this error came from
    /// the broker.
    pub fn code_name(&self) -> Option<&str> {
        match self {
            ClientError::Kafka { name, .. } => Some(name),
            _ => None,
        }
    }

    /// Whether retrying the same operation (after refreshing metadata) may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            ClientError::Kafka { code, .. } => is_retriable_code(*code),
            // A dead connection or a slow broker may recover; reconnecting is part of a retry.
            ClientError::Network { .. } | ClientError::Timeout(_) | ClientError::Connect { .. } => {
                true
            }
            _ => false,
        }
    }

    /// Whether this error means our view of partition leadership is stale.
    pub(crate) fn invalidates_metadata(&self) -> bool {
        match self {
            ClientError::Kafka { code, .. } => matches!(
                *code,
                codes::UNKNOWN_TOPIC_OR_PARTITION
                    | codes::LEADER_NOT_AVAILABLE
                    | codes::NOT_LEADER_OR_FOLLOWER
                    | codes::FENCED_LEADER_EPOCH
                    | codes::UNKNOWN_LEADER_EPOCH
                    | codes::REPLICA_NOT_AVAILABLE
            ),
            ClientError::Network { .. } | ClientError::Connect { .. } => true,
            _ => false,
        }
    }
}

/// Kafka error codes, by Kafka's names (the one table in `strata_proto::error_code`).
pub use strata_proto::error_code as codes;

/// Whether the protocol marks this error code as retriable.
pub fn is_retriable_code(code: i16) -> bool {
    ResponseError::try_from_code(code).is_some_and(|e| e.is_retriable())
}

/// The protocol's SCREAMING_SNAKE_CASE name for an error code, e.g. 36 → `TOPIC_ALREADY_EXISTS`.
pub use strata_proto::error_name::error_code_name;

/// A short, lower-case reason for an I/O error, without the `(os error N)` suffix.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionRefused => "connection refused".into(),
        ErrorKind::ConnectionReset => "connection reset by peer".into(),
        ErrorKind::ConnectionAborted => "connection aborted".into(),
        ErrorKind::TimedOut => "timed out".into(),
        ErrorKind::UnexpectedEof => "connection closed by peer".into(),
        ErrorKind::BrokenPipe => "broken pipe".into(),
        _ => {
            let text = e.to_string();
            let text = match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            text.to_lowercase()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names_follow_kafka_spelling() {
        assert_eq!(error_code_name(36), "TOPIC_ALREADY_EXISTS");
        assert_eq!(error_code_name(6), "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(error_code_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(error_code_name(-1), "UNKNOWN_SERVER_ERROR");
        assert_eq!(error_code_name(0), "NONE");
        assert_eq!(error_code_name(9999), "UNKNOWN_ERROR_CODE_9999");
    }

    #[test]
    fn display_carries_message_and_name() {
        let e = ClientError::from_code(36, None, "topic 'x' already exists");
        assert_eq!(
            e.to_string(),
            "topic 'x' already exists (TOPIC_ALREADY_EXISTS)"
        );
        let e = ClientError::from_code(36, Some("broker says so"), "ignored");
        assert_eq!(e.to_string(), "broker says so (TOPIC_ALREADY_EXISTS)");
    }

    #[test]
    fn retriable_classification() {
        assert!(ClientError::from_code(6, None, "").is_retriable());
        assert!(ClientError::from_code(5, None, "").is_retriable());
        assert!(!ClientError::from_code(36, None, "").is_retriable());
        assert!(ClientError::from_code(6, None, "").invalidates_metadata());
        assert!(!ClientError::Config("x".into()).is_retriable());
    }

    #[test]
    fn io_reason_strips_os_error() {
        let e = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(io_reason(&e), "connection refused");
        let e = std::io::Error::from_raw_os_error(2);
        assert!(!io_reason(&e).contains("os error"));
    }
}
