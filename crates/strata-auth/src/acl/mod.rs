//! Kafka's ACL model (KIP-11, KIP-290 prefixed patterns) and an indexed
//! authorizer with Kafka's `StandardAuthorizer` semantics.
//!
//! The enums carry Kafka's wire codes; `from_code` returns `None` for
//! `UNKNOWN` (0) and any code Kafka does not define, so an unknown value
//! never reaches the model.

mod authorizer;
mod entries;
mod filter;
mod trie;
mod validate;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use authorizer::{Authorizer, AuthorizerConfig};
pub use filter::{AccessControlEntryFilter, AclBindingFilter, ResourcePatternFilter};
pub use validate::{validate_binding, AclError};

/// The resource name that, in a literal pattern, matches every name.
pub const WILDCARD_RESOURCE: &str = "*";
/// The principal that matches every principal.
pub const WILDCARD_PRINCIPAL: &str = "User:*";
/// The host that matches every host.
pub const WILDCARD_HOST: &str = "*";
/// The only name of the cluster resource.
pub const CLUSTER_NAME: &str = "kafka-cluster";

/// Defines a wire-coded enum with `code`, `from_code` and Kafka's name.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $code:literal => $kafka:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in code order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Kafka's wire code.
            pub fn code(self) -> i8 {
                match self { $($name::$variant => $code),+ }
            }

            /// The value for a wire code; `None` for `UNKNOWN` (0) and codes
            /// Kafka does not define.
            pub fn from_code(code: i8) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// Kafka's name of the value (`TOPIC`, `READ`, ...).
            pub fn kafka_name(self) -> &'static str {
                match self { $($name::$variant => $kafka),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.kafka_name())
            }
        }
    };
}

wire_enum! {
    /// The kind of resource an ACL protects.
    ResourceType {
        /// Matches any type (filters only).
        Any = 1 => "ANY",
        /// A topic.
        Topic = 2 => "TOPIC",
        /// A consumer group.
        Group = 3 => "GROUP",
        /// The cluster (named `kafka-cluster`).
        Cluster = 4 => "CLUSTER",
        /// A transactional id.
        TransactionalId = 5 => "TRANSACTIONAL_ID",
        /// A delegation token.
        DelegationToken = 6 => "DELEGATION_TOKEN",
        /// A user (for CreateTokens / DescribeTokens on behalf of others).
        User = 7 => "USER",
    }
}

wire_enum! {
    /// How a pattern's name matches resource names.
    PatternType {
        /// Literal or prefixed with the given name (filters only).
        Any = 1 => "ANY",
        /// Every pattern that applies to the given literal name (filters only).
        Match = 2 => "MATCH",
        /// The name exactly, or every name when the name is `*`.
        Literal = 3 => "LITERAL",
        /// Every name that starts with the pattern's name.
        Prefixed = 4 => "PREFIXED",
    }
}

wire_enum! {
    /// An operation on a resource.
    AclOperation {
        /// Matches any operation (filters only).
        Any = 1 => "ANY",
        /// Every operation.
        All = 2 => "ALL",
        /// Read.
        Read = 3 => "READ",
        /// Write.
        Write = 4 => "WRITE",
        /// Create.
        Create = 5 => "CREATE",
        /// Delete.
        Delete = 6 => "DELETE",
        /// Alter.
        Alter = 7 => "ALTER",
        /// Describe.
        Describe = 8 => "DESCRIBE",
        /// Inter-broker actions.
        ClusterAction = 9 => "CLUSTER_ACTION",
        /// Describe configs.
        DescribeConfigs = 10 => "DESCRIBE_CONFIGS",
        /// Alter configs.
        AlterConfigs = 11 => "ALTER_CONFIGS",
        /// Idempotent produce.
        IdempotentWrite = 12 => "IDEMPOTENT_WRITE",
        /// Create delegation tokens.
        CreateTokens = 13 => "CREATE_TOKENS",
        /// Describe delegation tokens.
        DescribeTokens = 14 => "DESCRIBE_TOKENS",
    }
}

wire_enum! {
    /// Whether an ACL allows or denies.
    AclPermission {
        /// Matches either (filters only).
        Any = 1 => "ANY",
        /// Denies; a matching DENY wins over every ALLOW.
        Deny = 2 => "DENY",
        /// Allows.
        Allow = 3 => "ALLOW",
    }
}

/// A resource pattern: which resources an ACL applies to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourcePattern {
    /// The type of the resources.
    pub resource_type: ResourceType,
    /// The name (literal, `*`, or a prefix).
    pub name: String,
    /// How `name` matches: `Literal` or `Prefixed` in a stored ACL.
    pub pattern_type: PatternType,
}

/// Who may or may not do what, from where.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccessControlEntry {
    /// `Type:name`, e.g. `User:alice`, or `User:*` for everyone.
    pub principal: String,
    /// A client address as text, or `*` for any.
    pub host: String,
    /// The operation.
    pub operation: AclOperation,
    /// Allow or deny.
    pub permission: AclPermission,
}

/// One ACL: an entry bound to a resource pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AclBinding {
    /// The resources.
    pub pattern: ResourcePattern,
    /// The rule.
    pub entry: AccessControlEntry,
}

impl AclBinding {
    /// Builds a binding from its seven fields.
    pub fn new(
        resource_type: ResourceType,
        name: impl Into<String>,
        pattern_type: PatternType,
        principal: impl Into<String>,
        host: impl Into<String>,
        operation: AclOperation,
        permission: AclPermission,
    ) -> Self {
        AclBinding {
            pattern: ResourcePattern {
                resource_type,
                name: name.into(),
                pattern_type,
            },
            entry: AccessControlEntry {
                principal: principal.into(),
                host: host.into(),
                operation,
                permission,
            },
        }
    }
}

impl fmt::Display for AclBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} on {}:{}:{} for {} from {}",
            self.entry.permission,
            self.entry.operation,
            self.pattern.resource_type,
            self.pattern.pattern_type,
            self.pattern.name,
            self.entry.principal,
            self.entry.host
        )
    }
}

/// Whether an ALLOW of `granted` permits `requested`: equal, `All`, or one
/// of the implied describes (Read / Write / Delete / Alter imply Describe,
/// AlterConfigs implies DescribeConfigs).
pub(crate) fn allow_covers(granted: AclOperation, requested: AclOperation) -> bool {
    use AclOperation::*;
    granted == requested
        || granted == All
        || (requested == Describe && matches!(granted, Read | Write | Delete | Alter))
        || (requested == DescribeConfigs && granted == AlterConfigs)
}

/// Whether a DENY of `denied` refuses `requested`: equal or `All`.
pub(crate) fn deny_covers(denied: AclOperation, requested: AclOperation) -> bool {
    denied == requested || denied == AclOperation::All
}
