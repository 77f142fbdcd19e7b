//! The authorizer: every ACL, indexed by resource type, pattern and
//! principal, so a check costs a few lookups whatever the number of ACLs.
//!
//! Per resource type: a hash map from literal name to the ACLs of that
//! pattern, the literal `*` pattern apart, and a radix tree of prefixed
//! patterns walked once along the requested name. Within a pattern,
//! entries are grouped by principal id (the caller's id is looked up once
//! per check), so only the caller's group and the `User:*` group are read.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::entries::{Ace, PatternAcls, PrincipalId, PrincipalIds, Verdict};
use super::trie::PrefixTrie;
use super::validate::is_concrete;
use super::{
    AclBinding, AclBindingFilter, AclOperation, AclPermission, PatternType, ResourceType,
    WILDCARD_RESOURCE,
};

/// The authorizer's settings (`super.users`,
/// `allow.everyone.if.no.acl.found`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthorizerConfig {
    /// Principals (`User:name`) allowed everything, whatever the ACLs say.
    pub super_users: Vec<String>,
    /// Whether a resource no ACL applies to is open to everyone.
    pub allow_everyone_if_no_acl_found: bool,
}

/// Holds the ACLs and answers authorization questions with Kafka's rules.
/// A plain structure: the broker wraps it in its own lock.
#[derive(Debug, Default)]
pub struct Authorizer {
    /// Sorted, for binary search.
    super_users: Vec<String>,
    allow_everyone_if_no_acl_found: bool,
    bindings: BTreeSet<AclBinding>,
    principals: PrincipalIds,
    /// Indexed by `ResourceType::code()`.
    types: [TypeIndex; 8],
}

#[derive(Debug, Default)]
struct TypeIndex {
    literal: HashMap<Box<str>, PatternAcls>,
    wildcard: PatternAcls,
    prefixed: PrefixTrie<PatternAcls>,
}

impl Authorizer {
    /// An authorizer without ACLs.
    pub fn new(config: AuthorizerConfig) -> Self {
        let mut authorizer = Authorizer::default();
        authorizer.set_config(config);
        authorizer
    }

    /// Replaces the settings, keeping the ACLs.
    pub fn set_config(&mut self, config: AuthorizerConfig) {
        let mut super_users = config.super_users;
        super_users.sort();
        super_users.dedup();
        self.super_users = super_users;
        self.allow_everyone_if_no_acl_found = config.allow_everyone_if_no_acl_found;
    }

    /// Whether `principal` is a super user.
    pub fn is_super_user(&self, principal: &str) -> bool {
        self.super_users
            .binary_search_by(|s| s.as_str().cmp(principal))
            .is_ok()
    }

    /// Number of ACLs held.
    pub fn len(&self) -> usize {
        self.bindings.len()
    }

    /// Whether no ACL is held.
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }

    /// Adds an ACL. `false` if it is already present, or is not concrete
    /// (an `Any` / `Match` field or an empty name: see
    /// [`super::validate_binding`] for what CreateAcls accepts).
    pub fn add(&mut self, binding: AclBinding) -> bool {
        if !is_concrete(&binding) || self.bindings.contains(&binding) {
            return false;
        }
        let id = self.principals.acquire(&binding.entry.principal);
        self.pattern_mut(&binding).insert(id, ace_of(&binding));
        self.bindings.insert(binding);
        true
    }

    /// Removes every ACL the filter selects and returns them (sorted).
    pub fn remove_matching(&mut self, filter: &AclBindingFilter) -> Vec<AclBinding> {
        let removed = self.describe(filter);
        for binding in &removed {
            self.bindings.remove(binding);
            let principal = binding.entry.principal.as_str();
            let Some(id) = self.principals.get(principal) else {
                continue;
            };
            self.principals.release(principal);
            let ace = ace_of(binding);
            let index = &mut self.types[type_slot(binding.pattern.resource_type)];
            let name = binding.pattern.name.as_str();
            match binding.pattern.pattern_type {
                PatternType::Literal if name == WILDCARD_RESOURCE => {
                    index.wildcard.remove(id, &ace);
                }
                PatternType::Literal => {
                    if let Some(acls) = index.literal.get_mut(name) {
                        acls.remove(id, &ace);
                        if acls.is_empty() {
                            index.literal.remove(name);
                        }
                    }
                }
                _ => {
                    if let Some(acls) = index.prefixed.get_mut(name) {
                        acls.remove(id, &ace);
                        if acls.is_empty() {
                            index.prefixed.remove(name);
                        }
                    }
                }
            }
        }
        removed
    }

    /// Every ACL the filter selects (sorted by resource, then entry).
    pub fn describe(&self, filter: &AclBindingFilter) -> Vec<AclBinding> {
        self.bindings
            .iter()
            .filter(|b| filter.matches(b))
            .cloned()
            .collect()
    }

    /// Every ACL held (sorted).
    pub fn iter(&self) -> impl Iterator<Item = &AclBinding> {
        self.bindings.iter()
    }

    /// Whether `principal` (`User:name`) connecting from `host` may perform
    /// `op` on the resource `name` of `resource_type`, with Kafka's rules:
    /// - super users may do anything;
    /// - the ACLs that apply are those of the literal `name`, the literal `*`
    ///   and every prefixed pattern that is a prefix of `name`, whose
    ///   principal is `principal` or `User:*` and whose host is `host` or `*`;
    /// - a DENY of `op` or `All` wins over any ALLOW;
    /// - an ALLOW of `op` or `All` allows, and so does an ALLOW of Read,
    ///   Write, Delete or Alter for Describe, and of AlterConfigs for
    ///   DescribeConfigs;
    /// - when no ACL at all exists on the resource (for anyone),
    ///   `allow_everyone_if_no_acl_found` decides.
    ///
    /// `Any` as operation or resource type is never allowed.
    pub fn authorize(
        &self,
        principal: &str,
        host: &str,
        op: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        if op == AclOperation::Any || resource_type == ResourceType::Any {
            return false;
        }
        if self.is_super_user(principal) {
            return true;
        }
        let index = &self.types[type_slot(resource_type)];
        let principal = self.principals.get(principal);
        let mut verdict = Verdict::default();
        if !index.literal.is_empty() {
            if let Some(acls) = index.literal.get(name) {
                acls.judge(principal, host, op, &mut verdict);
            }
        }
        index.wildcard.judge(principal, host, op, &mut verdict);
        if verdict.denied {
            return false;
        }
        index.prefixed.for_each_prefix_of(name, |acls| {
            acls.judge(principal, host, op, &mut verdict);
            verdict.denied
        });
        if verdict.denied {
            return false;
        }
        if !verdict.any_acl {
            return self.allow_everyone_if_no_acl_found;
        }
        verdict.allowed
    }

    /// Whether `principal` from `host` may perform `op` on at least one
    /// resource of `resource_type` (Kafka's `authorizeByResourceType`, used
    /// for idempotent produce without a transactional id and for listing):
    /// 1. allowed if `authorize` allows `op` on a literal resource named
    ///    `hardcode` (this lets super users through, and the
    ///    no-ACL default applies as in Kafka);
    /// 2. otherwise, over the ACLs of that type for `principal` or `User:*`,
    ///    host `host` or `*`, operation `op` or `All` (no implied
    ///    operations): a DENY on the literal `*` refuses; an ALLOW on the
    ///    literal `*` allows; else allowed if some literal ALLOW has neither a
    ///    literal DENY of the same name nor a prefixed DENY on a prefix of
    ///    it, or some prefixed ALLOW has no prefixed DENY on a prefix of it
    ///    (itself included).
    ///
    /// `Any` as operation or resource type is never allowed.
    pub fn authorize_any_of_type(
        &self,
        principal: &str,
        host: &str,
        op: AclOperation,
        resource_type: ResourceType,
    ) -> bool {
        if op == AclOperation::Any || resource_type == ResourceType::Any {
            return false;
        }
        if self.authorize(principal, host, op, resource_type, "hardcode") {
            return true;
        }
        let index = &self.types[type_slot(resource_type)];
        let principal: Option<PrincipalId> = self.principals.get(principal);
        let relevant = |ace: &&Ace| ace.operation == op || ace.operation == AclOperation::All;
        let permissions = |acls: &PatternAcls, permission: AclPermission| {
            acls.entries_for(principal, host)
                .filter(relevant)
                .any(|ace| ace.permission == permission)
        };
        if permissions(&index.wildcard, AclPermission::Deny) {
            return false;
        }
        if permissions(&index.wildcard, AclPermission::Allow) {
            return true;
        }
        let denied_literal: HashSet<&str> = index
            .literal
            .iter()
            .filter(|(_, acls)| permissions(acls, AclPermission::Deny))
            .map(|(name, _)| &**name)
            .collect();
        let mut denied_prefix: HashSet<String> = HashSet::new();
        let mut allowed_prefix: Vec<String> = Vec::new();
        index.prefixed.for_each(|name, acls| {
            if permissions(acls, AclPermission::Deny) {
                denied_prefix.insert(name.to_owned());
            }
            if permissions(acls, AclPermission::Allow) {
                allowed_prefix.push(name.to_owned());
            }
        });
        let dominated = |name: &str| {
            name.char_indices()
                .map(|(i, c)| &name[..i + c.len_utf8()])
                .any(|prefix| denied_prefix.contains(prefix))
        };
        let literal_ok = index.literal.iter().any(|(name, acls)| {
            permissions(acls, AclPermission::Allow)
                && !denied_literal.contains(&**name)
                && !dominated(name)
        });
        literal_ok || allowed_prefix.iter().any(|name| !dominated(name))
    }

    fn pattern_mut(&mut self, binding: &AclBinding) -> &mut PatternAcls {
        let index = &mut self.types[type_slot(binding.pattern.resource_type)];
        let name = binding.pattern.name.as_str();
        match binding.pattern.pattern_type {
            PatternType::Literal if name == WILDCARD_RESOURCE => &mut index.wildcard,
            PatternType::Literal => index.literal.entry(name.into()).or_default(),
            _ => index.prefixed.get_or_default(name),
        }
    }
}

fn type_slot(resource_type: ResourceType) -> usize {
    resource_type.code() as usize
}

fn ace_of(binding: &AclBinding) -> Ace {
    let entry = &binding.entry;
    Ace {
        host: entry.host.as_str().into(),
        operation: entry.operation,
        permission: entry.permission,
    }
}
