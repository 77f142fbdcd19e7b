//! Why a quota request is refused, with the Kafka error code to answer with.

use strata_proto::error_code::{INVALID_REQUEST, UNSUPPORTED_VERSION};

/// A refused quota key, value, entity or filter. The message names what was wrong and is
/// meant to go into the response's `error_message`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuotaError {
    /// A quota key this broker does not know.
    #[error("unknown quota key `{0}`")]
    UnknownKey(String),
    /// A value that is zero, negative, NaN or infinite.
    #[error("value {value} for quota `{key}` must be a positive, finite number")]
    NotPositive {
        /// The quota key.
        key: &'static str,
        /// The refused value.
        value: f64,
    },
    /// A fractional (or out of range) value for a key Kafka types as a long.
    #[error("value {value} for quota `{key}` must be a whole number")]
    NotWhole {
        /// The quota key.
        key: &'static str,
        /// The refused value.
        value: f64,
    },
    /// The same key appears twice among one entity's operations.
    #[error("duplicate quota key `{0}`: not altering this entity")]
    DuplicateKey(String),
    /// An entity with no components.
    #[error("invalid empty client quota entity")]
    EmptyEntity,
    /// An entity type given with an empty name (`""`; the default is a null name).
    #[error("empty {0} name is not supported")]
    EmptyEntityName(String),
    /// An empty entity type string.
    #[error("invalid empty entity type")]
    EmptyEntityType,
    /// The same entity type twice in one entity or one filter.
    #[error("entity type `{0}` appears more than once")]
    DuplicateEntityType(String),
    /// An entity type other than `user` and `client-id` in an alteration.
    #[error("unhandled client quota entity type `{0}`")]
    UnknownEntityType(String),
    /// An entity type other than `user`, `client-id` and `ip` in a describe filter.
    #[error("unsupported entity type `{0}`")]
    UnsupportedEntityType(String),
    /// `ip` entities are not held by this store (connection-rate limits are configured on
    /// [`crate::ConnectionRate`] directly).
    #[error("ip quota entities are not supported")]
    IpEntityUnsupported,
    /// The same entity appears in more than one entry of one AlterClientQuotas request.
    #[error("duplicate entity {0}: ignoring every entry for it")]
    DuplicateEntity(String),
    /// A filter component with match type EXACT but no name to match.
    #[error("filter on `{0}` has match type EXACT but no match string")]
    ExactWithoutName(String),
    /// A filter component with match type DEFAULT or ANY that also carries a name.
    #[error("filter on `{0}` has match type {1} but also a match string")]
    UnexpectedName(String, &'static str),
    /// A filter match type other than 0 (EXACT), 1 (DEFAULT) and 2 (ANY).
    #[error("unknown match type {0}")]
    UnknownMatchType(i8),
    /// An `ip` entity component together with a `user` or `client-id` one in an
    /// alteration (Kafka: "invalid quota entity combination").
    #[error("an ip entity cannot be combined with user or client-id components")]
    IpEntityCombined,
    /// An `ip` entity name that is not an IP address.
    #[error("`{0}` is not a valid IP address")]
    InvalidIp(String),
    /// A quota key that does not apply to the entity's type (`connection_creation_rate`
    /// is for `ip` entities only, the others for user and client-id entities).
    #[error("quota `{key}` cannot be set on {entity_type} entities")]
    KeyNotForEntity {
        /// The key, as sent.
        key: String,
        /// The entity type.
        entity_type: &'static str,
    },
    /// An `ip` filter component together with a `user` or `client-id` one.
    #[error("an ip filter component cannot be combined with user or client-id components")]
    IpCombined,
}

impl QuotaError {
    /// The Kafka error code to answer with: `UNSUPPORTED_VERSION` for match types and
    /// entity types a describe filter cannot use (as Kafka does: it answers an unknown
    /// entity type in a DescribeClientQuotas filter with it), `INVALID_REQUEST` otherwise.
    pub fn error_code(&self) -> i16 {
        match self {
            QuotaError::UnsupportedEntityType(_) | QuotaError::UnknownMatchType(_) => {
                UNSUPPORTED_VERSION
            }
            _ => INVALID_REQUEST,
        }
    }
}
