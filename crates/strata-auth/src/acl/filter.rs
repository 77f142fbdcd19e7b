//! Filters over ACL bindings, with the matching rules of DescribeAcls and
//! DeleteAcls.

use serde::{Deserialize, Serialize};

use super::{
    AccessControlEntry, AclBinding, AclOperation, AclPermission, PatternType, ResourcePattern,
    ResourceType, WILDCARD_RESOURCE,
};

/// Which resource patterns a filter selects.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResourcePatternFilter {
    /// A type, or `Any`.
    pub resource_type: ResourceType,
    /// A name, or `None` for any.
    pub name: Option<String>,
    /// `Literal` / `Prefixed`: that type with exactly that name. `Any`:
    /// literal or prefixed patterns with exactly that name. `Match`: every
    /// pattern that applies to the literal resource `name` (the literal
    /// name, the literal `*`, and every prefix of it).
    pub pattern_type: PatternType,
}

impl ResourcePatternFilter {
    /// Selects every pattern.
    pub fn any() -> Self {
        ResourcePatternFilter {
            resource_type: ResourceType::Any,
            name: None,
            pattern_type: PatternType::Any,
        }
    }

    /// Whether `pattern` is selected.
    pub fn matches(&self, pattern: &ResourcePattern) -> bool {
        if self.resource_type != ResourceType::Any && self.resource_type != pattern.resource_type {
            return false;
        }
        let by_type = matches!(self.pattern_type, PatternType::Any | PatternType::Match)
            || self.pattern_type == pattern.pattern_type;
        if !by_type {
            return false;
        }
        let Some(name) = &self.name else {
            return true;
        };
        if self.pattern_type != PatternType::Match {
            return *name == pattern.name;
        }
        match pattern.pattern_type {
            PatternType::Literal => *name == pattern.name || pattern.name == WILDCARD_RESOURCE,
            PatternType::Prefixed => name.starts_with(pattern.name.as_str()),
            PatternType::Any | PatternType::Match => false,
        }
    }
}

/// Which entries a filter selects; every field compares exactly, `None` and
/// `Any` select everything.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccessControlEntryFilter {
    /// A principal (`Type:name`), or `None` for any.
    pub principal: Option<String>,
    /// A host, or `None` for any.
    pub host: Option<String>,
    /// An operation, or `Any`.
    pub operation: AclOperation,
    /// A permission, or `Any`.
    pub permission: AclPermission,
}

impl AccessControlEntryFilter {
    /// Selects every entry.
    pub fn any() -> Self {
        AccessControlEntryFilter {
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermission::Any,
        }
    }

    /// Whether `entry` is selected.
    pub fn matches(&self, entry: &AccessControlEntry) -> bool {
        self.principal
            .as_ref()
            .is_none_or(|p| *p == entry.principal)
            && self.host.as_ref().is_none_or(|h| *h == entry.host)
            && (self.operation == AclOperation::Any || self.operation == entry.operation)
            && (self.permission == AclPermission::Any || self.permission == entry.permission)
    }
}

/// A filter over bindings, as DescribeAcls and DeleteAcls send it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AclBindingFilter {
    /// The resource side.
    pub pattern: ResourcePatternFilter,
    /// The entry side.
    pub entry: AccessControlEntryFilter,
}

impl AclBindingFilter {
    /// Selects every binding.
    pub fn any() -> Self {
        AclBindingFilter {
            pattern: ResourcePatternFilter::any(),
            entry: AccessControlEntryFilter::any(),
        }
    }

    /// Whether `binding` is selected.
    pub fn matches(&self, binding: &AclBinding) -> bool {
        self.pattern.matches(&binding.pattern) && self.entry.matches(&binding.entry)
    }
}
