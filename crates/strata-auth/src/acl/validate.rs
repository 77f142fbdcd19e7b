//! What CreateAcls accepts, with Kafka's checks and messages.

use super::{AclBinding, AclOperation, AclPermission, PatternType, ResourceType, CLUSTER_NAME};

/// Why a binding cannot be created. The broker answers `INVALID_REQUEST`
/// with the message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    /// The binding is not a concrete, well-formed ACL.
    #[error("{0}")]
    InvalidRequest(String),
}

fn invalid(message: String) -> Result<(), AclError> {
    Err(AclError::InvalidRequest(message))
}

/// Checks a binding before it is created, in Kafka's order (the broker's
/// checks, then the controller's):
/// - a `Cluster` resource must be named `kafka-cluster`;
/// - the resource name must not be empty;
/// - the resource type must be concrete (not `Any`);
/// - the pattern type must be `Literal` or `Prefixed`;
/// - the operation must not be `Any`;
/// - the permission must be `Allow` or `Deny`;
/// - the principal must have the `Type:name` form (a colon present).
///
/// Like Kafka, a prefixed pattern named `*` is accepted: it matches names
/// that begin with `*`, not every name.
pub fn validate_binding(binding: &AclBinding) -> Result<(), AclError> {
    let pattern = &binding.pattern;
    let entry = &binding.entry;
    if pattern.resource_type == ResourceType::Cluster && pattern.name != CLUSTER_NAME {
        return invalid(format!(
            "The only valid name for the CLUSTER resource is {CLUSTER_NAME}"
        ));
    }
    if pattern.name.is_empty() {
        return invalid("Invalid empty resource name".to_owned());
    }
    if pattern.resource_type == ResourceType::Any {
        return invalid(format!("Invalid resourceType {}", pattern.resource_type));
    }
    if !matches!(
        pattern.pattern_type,
        PatternType::Literal | PatternType::Prefixed
    ) {
        return invalid(format!("Invalid patternType {}", pattern.pattern_type));
    }
    if entry.operation == AclOperation::Any {
        return invalid(format!("Invalid operation {}", entry.operation));
    }
    if entry.permission == AclPermission::Any {
        return invalid(format!("Invalid permissionType {}", entry.permission));
    }
    if !entry.principal.contains(':') {
        return invalid(format!(
            "Could not parse principal from `{}` (no colon is present separating the \
             principal type from the principal name)",
            entry.principal
        ));
    }
    Ok(())
}

/// Whether the authorizer can index the binding: concrete type, pattern
/// type, operation and permission, and a non-empty name. (Weaker than
/// [`validate_binding`]: what the metadata log holds was validated when it
/// was created.)
pub(crate) fn is_concrete(binding: &AclBinding) -> bool {
    binding.pattern.resource_type != ResourceType::Any
        && matches!(
            binding.pattern.pattern_type,
            PatternType::Literal | PatternType::Prefixed
        )
        && binding.entry.operation != AclOperation::Any
        && binding.entry.permission != AclPermission::Any
        && !binding.pattern.name.is_empty()
}
