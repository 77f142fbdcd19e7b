use super::*;

use AclOperation as Op;
use AclPermission::{Allow, Deny};
use PatternType::{Literal, Prefixed};
use ResourceType::{Group, Topic};

const ALICE: &str = "User:alice";
const BOB: &str = "User:bob";
const HOST: &str = "10.0.0.1";

fn acl(
    pattern: PatternType,
    name: &str,
    principal: &str,
    host: &str,
    op: AclOperation,
    perm: AclPermission,
) -> AclBinding {
    AclBinding::new(Topic, name, pattern, principal, host, op, perm)
}

fn allow(pattern: PatternType, name: &str, principal: &str, op: AclOperation) -> AclBinding {
    acl(pattern, name, principal, "*", op, Allow)
}

fn deny(pattern: PatternType, name: &str, principal: &str, op: AclOperation) -> AclBinding {
    acl(pattern, name, principal, "*", op, Deny)
}

fn authorizer(acls: &[AclBinding], allow_everyone: bool) -> Authorizer {
    let mut a = Authorizer::new(AuthorizerConfig {
        super_users: vec!["User:admin".into()],
        allow_everyone_if_no_acl_found: allow_everyone,
    });
    for b in acls {
        assert!(a.add(b.clone()));
    }
    a
}

struct Case {
    what: &'static str,
    acls: Vec<AclBinding>,
    allow_everyone: bool,
    principal: &'static str,
    host: &'static str,
    op: AclOperation,
    resource_type: ResourceType,
    name: &'static str,
    expected: bool,
}

fn case(what: &'static str, acls: Vec<AclBinding>, op: AclOperation, name: &'static str) -> Case {
    Case {
        what,
        acls,
        allow_everyone: false,
        principal: ALICE,
        host: HOST,
        op,
        resource_type: Topic,
        name,
        expected: true,
    }
}

impl Case {
    fn denied(mut self) -> Self {
        self.expected = false;
        self
    }
    fn everyone(mut self) -> Self {
        self.allow_everyone = true;
        self
    }
    fn by(mut self, principal: &'static str) -> Self {
        self.principal = principal;
        self
    }
    fn from(mut self, host: &'static str) -> Self {
        self.host = host;
        self
    }
    fn on(mut self, resource_type: ResourceType) -> Self {
        self.resource_type = resource_type;
        self
    }
}

// One case per line reads as a table.
#[rustfmt::skip]
fn authorize_cases() -> Vec<Case> {
    vec![
        case("super user, despite a deny", vec![deny(Literal, "t", "User:*", Op::All)], Op::Write, "t").by("User:admin"),
        case("no acl, default deny", vec![], Op::Read, "t").denied(),
        case("no acl, allow everyone", vec![], Op::Read, "t").everyone(),
        case("acl for someone else closes the resource", vec![allow(Literal, "t", BOB, Op::Read)], Op::Read, "t").everyone().denied(),
        case("acls on other resources keep the default", vec![allow(Literal, "u", BOB, Op::Read)], Op::Read, "t").everyone(),
        case("literal allow", vec![allow(Literal, "t", ALICE, Op::Read)], Op::Read, "t"),
        case("literal allow, other name", vec![allow(Literal, "t", ALICE, Op::Read)], Op::Read, "t2").denied(),
        case("literal allow, other operation", vec![allow(Literal, "t", ALICE, Op::Read)], Op::Write, "t").denied(),
        case("literal allow, other principal", vec![allow(Literal, "t", BOB, Op::Read)], Op::Read, "t").denied(),
        case("wildcard resource", vec![allow(Literal, "*", ALICE, Op::Read)], Op::Read, "anything"),
        case("wildcard principal", vec![allow(Literal, "t", "User:*", Op::Read)], Op::Read, "t"),
        case("prefixed allow", vec![allow(Prefixed, "pay", ALICE, Op::Read)], Op::Read, "payments"),
        case("prefixed allow, the prefix itself", vec![allow(Prefixed, "pay", ALICE, Op::Read)], Op::Read, "pay"),
        case("prefixed allow, shorter name", vec![allow(Prefixed, "pay", ALICE, Op::Read)], Op::Read, "pa").denied(),
        case("prefixed is not wildcard", vec![allow(Prefixed, "*", ALICE, Op::Read)], Op::Read, "t").denied(),
        case("prefixed on a multibyte name", vec![allow(Prefixed, "zü", ALICE, Op::Read)], Op::Read, "zürich"),
        case("prefixed multibyte, diverging", vec![allow(Prefixed, "zü", ALICE, Op::Read)], Op::Read, "zz").denied(),
        case("deny wins over allow", vec![allow(Literal, "t", ALICE, Op::Read), deny(Literal, "t", ALICE, Op::Read)], Op::Read, "t").denied(),
        case("prefixed deny wins over literal allow", vec![allow(Literal, "payments", ALICE, Op::Read), deny(Prefixed, "pay", ALICE, Op::Read)], Op::Read, "payments").denied(),
        case("wildcard deny wins", vec![allow(Literal, "t", ALICE, Op::Read), deny(Literal, "*", ALICE, Op::Read)], Op::Read, "t").denied(),
        case("deny for everyone", vec![allow(Literal, "t", ALICE, Op::Read), deny(Literal, "t", "User:*", Op::Read)], Op::Read, "t").denied(),
        case("deny for someone else", vec![allow(Literal, "t", ALICE, Op::Read), deny(Literal, "t", BOB, Op::Read)], Op::Read, "t"),
        case("deny All", vec![allow(Literal, "t", ALICE, Op::All), deny(Literal, "t", ALICE, Op::All)], Op::Describe, "t").denied(),
        case("deny of another operation", vec![allow(Literal, "t", ALICE, Op::All), deny(Literal, "t", ALICE, Op::Write)], Op::Read, "t"),
        case("deny Read does not deny Describe", vec![allow(Literal, "t", ALICE, Op::Describe), deny(Literal, "t", ALICE, Op::Read)], Op::Describe, "t"),
        case("allow All", vec![allow(Literal, "t", ALICE, Op::All)], Op::ClusterAction, "t"),
        case("Read implies Describe", vec![allow(Literal, "t", ALICE, Op::Read)], Op::Describe, "t"),
        case("Write implies Describe", vec![allow(Literal, "t", ALICE, Op::Write)], Op::Describe, "t"),
        case("Delete implies Describe", vec![allow(Literal, "t", ALICE, Op::Delete)], Op::Describe, "t"),
        case("Alter implies Describe", vec![allow(Literal, "t", ALICE, Op::Alter)], Op::Describe, "t"),
        case("Create does not imply Describe", vec![allow(Literal, "t", ALICE, Op::Create)], Op::Describe, "t").denied(),
        case("AlterConfigs implies DescribeConfigs", vec![allow(Literal, "t", ALICE, Op::AlterConfigs)], Op::DescribeConfigs, "t"),
        case("DescribeConfigs does not imply AlterConfigs", vec![allow(Literal, "t", ALICE, Op::DescribeConfigs)], Op::AlterConfigs, "t").denied(),
        case("Describe implies nothing", vec![allow(Literal, "t", ALICE, Op::Describe)], Op::Read, "t").denied(),
        case("allow from that host", vec![acl(Literal, "t", ALICE, HOST, Op::Read, Allow)], Op::Read, "t"),
        case("allow from another host", vec![acl(Literal, "t", ALICE, HOST, Op::Read, Allow)], Op::Read, "t").from("10.0.0.2").denied(),
        case("deny from another host", vec![allow(Literal, "t", ALICE, Op::Read), acl(Literal, "t", ALICE, "10.0.0.2", Op::Read, Deny)], Op::Read, "t"),
        case("deny from this host", vec![allow(Literal, "t", ALICE, Op::Read), acl(Literal, "t", ALICE, HOST, Op::Read, Deny)], Op::Read, "t").denied(),
        case("other resource type", vec![allow(Literal, "t", ALICE, Op::Read)], Op::Read, "t").on(Group).denied(),
        case("requester is User:*", vec![allow(Literal, "t", "User:*", Op::Read)], Op::Read, "t").by("User:*"),
        case("Any operation is refused", vec![allow(Literal, "t", ALICE, Op::All)], Op::Any, "t").denied(),
        case("Any resource type is refused", vec![allow(Literal, "t", ALICE, Op::All)], Op::Read, "t").on(ResourceType::Any).everyone().denied(),
    ]
}

#[test]
fn authorize_table() {
    for c in authorize_cases() {
        let a = authorizer(&c.acls, c.allow_everyone);
        let got = a.authorize(c.principal, c.host, c.op, c.resource_type, c.name);
        assert_eq!(got, c.expected, "{}", c.what);
    }
}

/// What, ACLs, allow everyone, principal, operation, expected.
type AnyOfTypeCase = (
    &'static str,
    Vec<AclBinding>,
    bool,
    &'static str,
    AclOperation,
    bool,
);

#[rustfmt::skip]
fn any_of_type_cases() -> Vec<AnyOfTypeCase> {
    vec![
        ("no acl", vec![], false, ALICE, Op::Write, false),
        ("no acl, allow everyone", vec![], true, ALICE, Op::Write, true),
        ("super user", vec![deny(Literal, "*", "User:*", Op::All)], false, "User:admin", Op::Write, true),
        ("literal allow", vec![allow(Literal, "t", ALICE, Op::Write)], false, ALICE, Op::Write, true),
        ("allow All", vec![allow(Literal, "t", ALICE, Op::All)], false, ALICE, Op::Write, true),
        ("implied operations do not count", vec![allow(Literal, "t", ALICE, Op::Read)], false, ALICE, Op::Describe, false),
        ("another principal's allow", vec![allow(Literal, "t", BOB, Op::Write)], false, ALICE, Op::Write, false),
        ("allow for everyone", vec![allow(Prefixed, "t", "User:*", Op::Write)], false, ALICE, Op::Write, true),
        ("literal deny of the same name", vec![allow(Literal, "t", ALICE, Op::Write), deny(Literal, "t", ALICE, Op::Write)], false, ALICE, Op::Write, false),
        ("literal deny of another name", vec![allow(Literal, "t", ALICE, Op::Write), deny(Literal, "u", ALICE, Op::Write)], false, ALICE, Op::Write, true),
        ("prefixed deny over a literal allow", vec![allow(Literal, "topic", ALICE, Op::Write), deny(Prefixed, "to", ALICE, Op::Write)], false, ALICE, Op::Write, false),
        ("prefixed deny equal to a prefixed allow", vec![allow(Prefixed, "topic", ALICE, Op::Write), deny(Prefixed, "topic", ALICE, Op::Write)], false, ALICE, Op::Write, false),
        ("longer prefixed deny", vec![allow(Prefixed, "topic", ALICE, Op::Write), deny(Prefixed, "topic-a", ALICE, Op::Write)], false, ALICE, Op::Write, true),
        ("literal deny does not block a prefixed allow", vec![allow(Prefixed, "topic", ALICE, Op::Write), deny(Literal, "topic", ALICE, Op::Write)], false, ALICE, Op::Write, true),
        ("wildcard deny", vec![allow(Literal, "t", ALICE, Op::Write), deny(Literal, "*", "User:*", Op::All)], false, ALICE, Op::Write, false),
        ("wildcard allow", vec![allow(Literal, "*", ALICE, Op::Write), deny(Prefixed, "a", ALICE, Op::Write)], false, ALICE, Op::Write, true),
        ("deny from another host", vec![allow(Literal, "t", ALICE, Op::Write), acl(Literal, "*", ALICE, "10.9.9.9", Op::Write, Deny)], false, ALICE, Op::Write, true),
    ]
}

#[test]
fn authorize_any_of_type_table() {
    for (what, acls, everyone, principal, op, expected) in any_of_type_cases() {
        let a = authorizer(&acls, everyone);
        assert_eq!(
            a.authorize_any_of_type(principal, HOST, op, Topic),
            expected,
            "{what}"
        );
        assert!(!a.authorize_any_of_type(principal, HOST, Op::Any, Topic));
    }
}

fn filter(
    resource_type: ResourceType,
    name: Option<&str>,
    pattern_type: PatternType,
) -> AclBindingFilter {
    AclBindingFilter {
        pattern: ResourcePatternFilter {
            resource_type,
            name: name.map(str::to_owned),
            pattern_type,
        },
        entry: AccessControlEntryFilter::any(),
    }
}

fn names(bindings: &[AclBinding]) -> Vec<String> {
    bindings
        .iter()
        .map(|b| format!("{}:{}", b.pattern.pattern_type, b.pattern.name))
        .collect()
}

#[test]
fn filters_follow_kafka() {
    let a = authorizer(
        &[
            allow(Literal, "payments", ALICE, Op::Read),
            allow(Literal, "*", ALICE, Op::Read),
            allow(Literal, "pay", ALICE, Op::Read),
            allow(Prefixed, "pay", ALICE, Op::Read),
            allow(Prefixed, "p", ALICE, Op::Read),
            allow(Prefixed, "q", ALICE, Op::Read),
            allow(Prefixed, "paymentsX", ALICE, Op::Read),
            AclBinding::new(Group, "pay", Prefixed, ALICE, "*", Op::Read, Allow),
        ],
        false,
    );
    let d = |f: AclBindingFilter| names(&a.describe(&f));
    assert_eq!(d(AclBindingFilter::any()).len(), 8);
    assert_eq!(
        d(filter(Topic, Some("pay"), PatternType::Any)),
        ["LITERAL:pay", "PREFIXED:pay"]
    );
    assert_eq!(d(filter(Topic, Some("pay"), Literal)), ["LITERAL:pay"]);
    assert_eq!(d(filter(Topic, Some("pay"), Prefixed)), ["PREFIXED:pay"]);
    assert_eq!(
        d(filter(Topic, Some("payments"), PatternType::Match)),
        [
            "LITERAL:*",
            "PREFIXED:p",
            "PREFIXED:pay",
            "LITERAL:payments"
        ]
    );
    assert_eq!(d(filter(Topic, None, Prefixed)).len(), 4);
    assert_eq!(d(filter(ResourceType::Any, Some("pay"), Prefixed)).len(), 2);
    assert_eq!(d(filter(Topic, None, PatternType::Match)).len(), 7);

    let mut entry = AclBindingFilter::any();
    entry.entry.principal = Some(BOB.into());
    assert!(a.describe(&entry).is_empty());
    entry.entry = AccessControlEntryFilter {
        principal: Some(ALICE.into()),
        host: Some("*".into()),
        operation: Op::Read,
        permission: Allow,
    };
    assert_eq!(a.describe(&entry).len(), 8);
    entry.entry.operation = Op::Write;
    assert!(a.describe(&entry).is_empty());
}

#[test]
fn add_and_remove() {
    let mut a = authorizer(&[], false);
    let b = allow(Prefixed, "pay", ALICE, Op::Read);
    assert!(a.add(b.clone()));
    assert!(!a.add(b.clone()));
    assert!(a.add(allow(Literal, "*", BOB, Op::Read)));
    assert!(a.add(allow(Literal, "x", BOB, Op::Read)));
    assert!(!a.add(allow(PatternType::Match, "x", BOB, Op::Read)));
    assert!(!a.add(allow(Literal, "", BOB, Op::Read)));
    assert!(!a.add(allow(Literal, "x", BOB, Op::Any)));
    assert_eq!(a.len(), 3);
    assert!(a.authorize(ALICE, HOST, Op::Read, Topic, "payroll"));

    let removed = a.remove_matching(&filter(Topic, Some("payroll"), PatternType::Match));
    assert_eq!(names(&removed), ["LITERAL:*", "PREFIXED:pay"]);
    assert_eq!(a.len(), 1);
    assert!(!a.authorize(ALICE, HOST, Op::Read, Topic, "payroll"));
    assert!(!a.authorize(BOB, HOST, Op::Read, Topic, "payroll"));
    assert!(a.authorize(BOB, HOST, Op::Read, Topic, "x"));
    // Nothing left on "payroll": the default applies again.
    a.set_config(AuthorizerConfig {
        super_users: vec![],
        allow_everyone_if_no_acl_found: true,
    });
    assert!(a.authorize(ALICE, HOST, Op::Read, Topic, "payroll"));
    assert_eq!(a.remove_matching(&AclBindingFilter::any()).len(), 1);
    assert!(a.is_empty());
    assert!(a.authorize(ALICE, HOST, Op::Read, Topic, "x"));
}

#[test]
fn wire_codes() {
    assert_eq!(ResourceType::from_code(0), None);
    assert_eq!(ResourceType::from_code(8), None);
    assert_eq!(ResourceType::from_code(2), Some(Topic));
    assert_eq!(ResourceType::User.code(), 7);
    assert_eq!(PatternType::from_code(4), Some(Prefixed));
    assert_eq!(PatternType::from_code(0), None);
    assert_eq!(AclOperation::from_code(14), Some(Op::DescribeTokens));
    assert_eq!(AclOperation::from_code(15), None);
    assert_eq!(AclOperation::from_code(-1), None);
    assert_eq!(AclPermission::from_code(3), Some(Allow));
    assert_eq!(AclPermission::from_code(0), None);
    for op in AclOperation::ALL {
        assert_eq!(AclOperation::from_code(op.code()), Some(*op));
    }
    assert_eq!(Op::IdempotentWrite.to_string(), "IDEMPOTENT_WRITE");
}

#[test]
fn validation_follows_kafka() {
    let ok = allow(Literal, "t", ALICE, Op::Read);
    assert_eq!(validate_binding(&ok), Ok(()));
    assert_eq!(
        validate_binding(&allow(Prefixed, "*", ALICE, Op::Read)),
        Ok(())
    );
    let cluster = |name: &str| {
        AclBinding::new(
            ResourceType::Cluster,
            name,
            Literal,
            ALICE,
            "*",
            Op::Alter,
            Allow,
        )
    };
    assert_eq!(validate_binding(&cluster(CLUSTER_NAME)), Ok(()));
    let message = |b: AclBinding| match validate_binding(&b) {
        Err(AclError::InvalidRequest(m)) => m,
        Ok(()) => panic!("{b} accepted"),
    };
    assert_eq!(
        message(cluster("other")),
        "The only valid name for the CLUSTER resource is kafka-cluster"
    );
    assert_eq!(
        message(allow(Literal, "", ALICE, Op::Read)),
        "Invalid empty resource name"
    );
    let mut any_type = ok.clone();
    any_type.pattern.resource_type = ResourceType::Any;
    assert_eq!(message(any_type), "Invalid resourceType ANY");
    assert_eq!(
        message(allow(PatternType::Match, "t", ALICE, Op::Read)),
        "Invalid patternType MATCH"
    );
    assert_eq!(
        message(allow(PatternType::Any, "t", ALICE, Op::Read)),
        "Invalid patternType ANY"
    );
    assert_eq!(
        message(allow(Literal, "t", ALICE, Op::Any)),
        "Invalid operation ANY"
    );
    assert_eq!(
        message(acl(Literal, "t", ALICE, "*", Op::Read, AclPermission::Any)),
        "Invalid permissionType ANY"
    );
    assert!(
        message(allow(Literal, "t", "alice", Op::Read)).starts_with("Could not parse principal")
    );
}

#[test]
fn binding_serde_round_trip() {
    let b = allow(Prefixed, "pay", ALICE, Op::Read);
    let json = serde_json::to_string(&b).unwrap();
    assert_eq!(serde_json::from_str::<AclBinding>(&json).unwrap(), b);
}
