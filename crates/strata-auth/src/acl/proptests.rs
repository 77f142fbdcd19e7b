//! The indexed authorizer against a naive linear scan of Kafka's rules.

use std::collections::HashSet;

use proptest::prelude::*;

use super::*;

const NAMES: &[&str] = &["*", "a", "ab", "abc", "abd", "b", "bz", "é", "éa", "x*"];
const PRINCIPALS: &[&str] = &["User:alice", "User:bob", "User:*", "Group:ops"];
const HOSTS: &[&str] = &["*", "h1", "h2"];
const TYPES: &[ResourceType] = &[ResourceType::Topic, ResourceType::Group];
const OPS: &[AclOperation] = &[
    AclOperation::All,
    AclOperation::Read,
    AclOperation::Write,
    AclOperation::Describe,
    AclOperation::AlterConfigs,
    AclOperation::DescribeConfigs,
    AclOperation::Delete,
    AclOperation::Create,
];

fn binding() -> impl Strategy<Value = AclBinding> {
    (
        prop::sample::select(TYPES),
        prop::sample::select(NAMES),
        prop::bool::ANY,
        prop::sample::select(PRINCIPALS),
        prop::sample::select(HOSTS),
        prop::sample::select(OPS),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(rt, name, prefixed, principal, host, op, deny)| {
            let pattern = if prefixed {
                PatternType::Prefixed
            } else {
                PatternType::Literal
            };
            let perm = if deny {
                AclPermission::Deny
            } else {
                AclPermission::Allow
            };
            AclBinding::new(rt, name, pattern, principal, host, op, perm)
        })
}

#[derive(Clone, Debug)]
struct Query {
    principal: &'static str,
    host: &'static str,
    op: AclOperation,
    resource_type: ResourceType,
    name: String,
}

fn query() -> impl Strategy<Value = Query> {
    let name = prop_oneof![
        prop::sample::select(NAMES).prop_map(str::to_owned),
        "[abéx*]{0,4}",
    ];
    (
        prop::sample::select(&["User:alice", "User:bob", "User:admin", "Group:ops"][..]),
        prop::sample::select(&["h1", "h2"][..]),
        prop::sample::select(OPS).prop_filter("concrete", |o| *o != AclOperation::All),
        prop::sample::select(TYPES),
        name,
    )
        .prop_map(|(principal, host, op, resource_type, name)| Query {
            principal,
            host,
            op,
            resource_type,
            name,
        })
}

fn entry_applies(b: &AclBinding, q: &Query) -> bool {
    (b.entry.principal == q.principal || b.entry.principal == "User:*")
        && (b.entry.host == "*" || b.entry.host == q.host)
}

/// Kafka's rules, one ACL at a time.
fn naive_authorize(acls: &[AclBinding], cfg: &AuthorizerConfig, q: &Query) -> bool {
    if cfg.super_users.iter().any(|s| s == q.principal) {
        return true;
    }
    let on_resource: Vec<&AclBinding> = acls
        .iter()
        .filter(|b| b.pattern.resource_type == q.resource_type)
        .filter(|b| match b.pattern.pattern_type {
            PatternType::Literal => b.pattern.name == q.name || b.pattern.name == "*",
            _ => q.name.starts_with(&b.pattern.name),
        })
        .collect();
    if on_resource.is_empty() {
        return cfg.allow_everyone_if_no_acl_found;
    }
    let applicable = || on_resource.iter().filter(|b| entry_applies(b, q));
    let denied = applicable().any(|b| {
        b.entry.permission == AclPermission::Deny
            && (b.entry.operation == q.op || b.entry.operation == AclOperation::All)
    });
    let allowed = applicable().any(|b| {
        let g = b.entry.operation;
        b.entry.permission == AclPermission::Allow
            && (g == q.op
                || g == AclOperation::All
                || (q.op == AclOperation::Describe
                    && matches!(
                        g,
                        AclOperation::Read
                            | AclOperation::Write
                            | AclOperation::Delete
                            | AclOperation::Alter
                    ))
                || (q.op == AclOperation::DescribeConfigs && g == AclOperation::AlterConfigs))
    });
    !denied && allowed
}

/// Kafka's default `authorizeByResourceType`, over the list.
fn naive_any_of_type(acls: &[AclBinding], cfg: &AuthorizerConfig, q: &Query) -> bool {
    let probe = Query {
        name: "hardcode".into(),
        ..q.clone()
    };
    if naive_authorize(acls, cfg, &probe) {
        return true;
    }
    let mut deny_lit = HashSet::new();
    let mut deny_pre = HashSet::new();
    let mut allow_lit = HashSet::new();
    let mut allow_pre = HashSet::new();
    let mut wildcard_allow = false;
    for b in acls {
        if b.pattern.resource_type != q.resource_type || !entry_applies(b, q) {
            continue;
        }
        if b.entry.operation != q.op && b.entry.operation != AclOperation::All {
            continue;
        }
        let name = b.pattern.name.as_str();
        let literal = b.pattern.pattern_type == PatternType::Literal;
        match (b.entry.permission, literal) {
            (AclPermission::Deny, true) if name == "*" => return false,
            (AclPermission::Deny, true) => drop(deny_lit.insert(name)),
            (AclPermission::Deny, false) => drop(deny_pre.insert(name)),
            (_, true) if name == "*" => wildcard_allow = true,
            (_, true) => drop(allow_lit.insert(name)),
            (_, false) => drop(allow_pre.insert(name)),
        }
    }
    if wildcard_allow {
        return true;
    }
    let dominated = |s: &str| {
        let mut prefix = String::new();
        s.chars().any(|c| {
            prefix.push(c);
            deny_pre.contains(prefix.as_str())
        })
    };
    allow_lit
        .iter()
        .any(|s| !deny_lit.contains(s) && !dominated(s))
        || allow_pre.iter().any(|s| !dominated(s))
}

fn build(acls: &[AclBinding], cfg: &AuthorizerConfig) -> (Authorizer, Vec<AclBinding>) {
    let mut a = Authorizer::new(cfg.clone());
    let mut unique = Vec::new();
    for b in acls {
        if a.add(b.clone()) {
            unique.push(b.clone());
        }
    }
    (a, unique)
}

fn config(allow_everyone: bool) -> AuthorizerConfig {
    AuthorizerConfig {
        super_users: vec!["User:admin".into()],
        allow_everyone_if_no_acl_found: allow_everyone,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn authorize_matches_naive(
        acls in prop::collection::vec(binding(), 0..40),
        queries in prop::collection::vec(query(), 1..30),
        allow_everyone in prop::bool::ANY,
    ) {
        let cfg = config(allow_everyone);
        let (a, acls) = build(&acls, &cfg);
        for q in &queries {
            prop_assert_eq!(
                a.authorize(q.principal, q.host, q.op, q.resource_type, &q.name),
                naive_authorize(&acls, &cfg, q),
                "{:?}", q
            );
            prop_assert_eq!(
                a.authorize_any_of_type(q.principal, q.host, q.op, q.resource_type),
                naive_any_of_type(&acls, &cfg, q),
                "{:?}", q
            );
        }
    }

    #[test]
    fn remove_matching_keeps_index_consistent(
        acls in prop::collection::vec(binding(), 0..40),
        filter_name in prop::option::of(prop::sample::select(NAMES)),
        filter_pattern in prop::sample::select(PatternType::ALL),
        queries in prop::collection::vec(query(), 1..30),
    ) {
        let cfg = config(true);
        let (mut a, acls) = build(&acls, &cfg);
        let filter = AclBindingFilter {
            pattern: ResourcePatternFilter {
                resource_type: ResourceType::Topic,
                name: filter_name.map(str::to_owned),
                pattern_type: filter_pattern,
            },
            entry: AccessControlEntryFilter::any(),
        };
        let removed = a.remove_matching(&filter);
        let (gone, kept): (Vec<AclBinding>, Vec<AclBinding>) =
            acls.into_iter().partition(|b| filter.matches(b));
        prop_assert_eq!(removed.len(), gone.len());
        prop_assert_eq!(a.len(), kept.len());
        for q in &queries {
            prop_assert_eq!(
                a.authorize(q.principal, q.host, q.op, q.resource_type, &q.name),
                naive_authorize(&kept, &cfg, q),
                "{:?}", q
            );
        }
    }
}
