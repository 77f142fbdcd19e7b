//! Registry errors with Confluent Schema Registry's error codes and HTTP statuses.
//!
//! Every failure an operation can report is a [`RegistryError`]. Each variant maps to one
//! Confluent `error_code` (five digits, the first three being the HTTP status, except the
//! plain `409` used for incompatible schemas) and one HTTP status. The JSON body a REST
//! layer sends is [`ErrorBody`]: `{"error_code": ..., "message": "..."}`.
//!
//! Invariant: `http_status()` is always the first three digits of `code()` (or `code()`
//! itself when it has three digits).

use serde::{Deserialize, Serialize};

/// An error answered by a registry operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// 40401: the subject does not exist (or has only soft-deleted versions).
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    /// 40402: the version does not exist in the subject.
    #[error("Version {0} not found.")]
    VersionNotFound(String),
    /// 40403: no schema matches the id or the lookup.
    #[error("{0}")]
    SchemaNotFound(String),
    /// 40404: the subject was soft deleted.
    #[error("Subject '{0}' was soft deleted. Set permanent=true to delete permanently")]
    SubjectSoftDeleted(String),
    /// 40405: a hard delete of a subject that was not soft deleted first.
    #[error("Subject '{0}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted(String),
    /// 40406: the version was soft deleted.
    #[error(
        "Version {version} of subject '{subject}' was soft deleted. Set permanent=true to delete permanently"
    )]
    SchemaVersionSoftDeleted {
        /// The subject.
        subject: String,
        /// The version.
        version: i32,
    },
    /// 40407: a hard delete of a version that was not soft deleted first.
    #[error(
        "Version {version} of subject '{subject}' was not deleted first before being permanently deleted"
    )]
    VersionNotSoftDeleted {
        /// The subject.
        subject: String,
        /// The version.
        version: i32,
    },
    /// 40408: no compatibility level set for the subject (and no fallback asked).
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    SubjectCompatibilityNotConfigured(String),
    /// 40409: no mode set for the subject (and no fallback asked).
    #[error("Subject '{0}' does not have subject-level mode configured")]
    SubjectModeNotConfigured(String),
    /// 409: the schema is incompatible with earlier versions; the list says why.
    #[error("Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]", .messages.join(", "))]
    IncompatibleSchema {
        /// The subject.
        subject: String,
        /// One human-readable line per incompatibility.
        messages: Vec<String>,
    },
    /// 42201: the schema text does not parse, or its type is not supported.
    #[error("Invalid schema: {0}")]
    InvalidSchema(String),
    /// 42202: the version string is not `latest`, `-1` or 1..=2^31-1.
    #[error("The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"")]
    InvalidVersion(String),
    /// 42203: the compatibility level string is unknown.
    #[error("Invalid compatibility level '{0}'. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive")]
    InvalidCompatibilityLevel(String),
    /// 42204: the mode string is unknown.
    #[error(
        "Invalid mode '{0}'. Valid values are READWRITE, READONLY, READONLY_OVERRIDE and IMPORT"
    )]
    InvalidMode(String),
    /// 42205: the operation is refused (read-only mode, explicit ids outside IMPORT, ...).
    #[error("{0}")]
    OperationNotPermitted(String),
    /// 42206: a schema being deleted is referenced by another schema.
    #[error("One or more references exist to the schema {{subject={subject}, version={version}}}")]
    ReferenceExists {
        /// The subject.
        subject: String,
        /// The version.
        version: i32,
    },
    /// 50001: the stored state or a record is not usable.
    #[error("Error in the backend data store: {0}")]
    Store(String),
}

/// The JSON error body Confluent's REST API returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Confluent's error code.
    pub error_code: u32,
    /// Human-readable message.
    pub message: String,
}

impl RegistryError {
    /// Confluent's `error_code`.
    pub fn code(&self) -> u32 {
        match self {
            Self::SubjectNotFound(_) => 40401,
            Self::VersionNotFound(_) => 40402,
            Self::SchemaNotFound(_) => 40403,
            Self::SubjectSoftDeleted(_) => 40404,
            Self::SubjectNotSoftDeleted(_) => 40405,
            Self::SchemaVersionSoftDeleted { .. } => 40406,
            Self::VersionNotSoftDeleted { .. } => 40407,
            Self::SubjectCompatibilityNotConfigured(_) => 40408,
            Self::SubjectModeNotConfigured(_) => 40409,
            Self::IncompatibleSchema { .. } => 409,
            Self::InvalidSchema(_) => 42201,
            Self::InvalidVersion(_) => 42202,
            Self::InvalidCompatibilityLevel(_) => 42203,
            Self::InvalidMode(_) => 42204,
            Self::OperationNotPermitted(_) => 42205,
            Self::ReferenceExists { .. } => 42206,
            Self::Store(_) => 50001,
        }
    }

    /// The HTTP status a REST layer answers with.
    pub fn http_status(&self) -> u16 {
        match self.code() {
            c if c >= 10_000 => (c / 100) as u16,
            c => c as u16,
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// The JSON body form.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error_code: self.code(),
            message: self.message(),
        }
    }
}

impl From<&RegistryError> for ErrorBody {
    fn from(e: &RegistryError) -> Self {
        e.body()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_codes() {
        let cases = [
            (RegistryError::SubjectNotFound("s".into()), 40401, 404),
            (
                RegistryError::IncompatibleSchema {
                    subject: "s".into(),
                    messages: vec!["a".into()],
                },
                409,
                409,
            ),
            (RegistryError::InvalidSchema("x".into()), 42201, 422),
            (RegistryError::Store("x".into()), 50001, 500),
        ];
        for (e, code, status) in cases {
            assert_eq!(e.code(), code);
            assert_eq!(e.http_status(), status);
        }
    }

    #[test]
    fn soft_deleted_message_and_body() {
        let e = RegistryError::SubjectSoftDeleted("x".into());
        assert_eq!(
            e.message(),
            "Subject 'x' was soft deleted. Set permanent=true to delete permanently"
        );
        let json = serde_json::to_string(&e.body()).unwrap();
        assert_eq!(
            json,
            r#"{"error_code":40404,"message":"Subject 'x' was soft deleted. Set permanent=true to delete permanently"}"#
        );
    }
}
