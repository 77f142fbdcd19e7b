//! Table-driven PROTOBUF compatibility: (old, new, compatible?) pairs under BACKWARD
//! (new reads data written with old), plus a few FORWARD and FULL cases.

use strata_registry::compat::{check_against, check_pair};
use strata_registry::{CompatibilityLevel, ParsedSchema, SchemaType};

fn parse(text: &str) -> ParsedSchema {
    ParsedSchema::parse(SchemaType::Protobuf, text, vec![], &[])
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// A proto3 file in package `p` with one message `M` holding `body`, then `extra`.
fn p3(body: &str) -> String {
    format!("syntax = \"proto3\"; package p; message M {{ {body} }}")
}

fn p3x(body: &str, extra: &str) -> String {
    format!("syntax = \"proto3\"; package p; message M {{ {body} }} {extra}")
}

fn p2(body: &str) -> String {
    format!("syntax = \"proto2\"; package p; message M {{ {body} }}")
}

#[test]
fn backward_table() {
    let mut cases: Vec<(String, String, bool)> = Vec::new();
    let mut add = |old: String, new: String, ok: bool| cases.push((old, new, ok));

    // Identity, added and removed fields.
    add(p3("int32 a = 1;"), p3("int32 a = 1;"), true);
    add(p3("int32 a = 1;"), p3("int32 a = 1; string b = 2;"), true);
    add(p3("int32 a = 1; string b = 2;"), p3("int32 a = 1;"), true);
    add(p3("int32 a = 1;"), p3("int32 renamed = 1;"), true);
    add(
        p3("int32 a = 1; int32 b = 2;"),
        p3("int32 b = 2; int32 a = 1;"),
        true,
    );
    add(p3("int32 a = 1;"), p3("reserved 1; string b = 2;"), true);
    // Wire-compatible kind groups.
    add(p3("int32 a = 1;"), p3("int64 a = 1;"), true);
    add(p3("int64 a = 1;"), p3("uint32 a = 1;"), true);
    add(p3("bool a = 1;"), p3("uint64 a = 1;"), true);
    add(p3("sint32 a = 1;"), p3("sint64 a = 1;"), true);
    add(p3("string a = 1;"), p3("bytes a = 1;"), true);
    add(p3("bytes a = 1;"), p3("string a = 1;"), true);
    add(p3("fixed32 a = 1;"), p3("sfixed32 a = 1;"), true);
    add(p3("sfixed64 a = 1;"), p3("fixed64 a = 1;"), true);
    // Kinds that do not share an encoding.
    add(p3("int32 a = 1;"), p3("sint32 a = 1;"), false);
    add(p3("int32 a = 1;"), p3("string a = 1;"), false);
    add(p3("fixed32 a = 1;"), p3("fixed64 a = 1;"), false);
    add(p3("float a = 1;"), p3("double a = 1;"), false);
    add(p3("int32 a = 1;"), p3("fixed32 a = 1;"), false);
    add(
        p3x("int32 a = 1;", "enum E { E0 = 0; }"),
        p3x("E a = 1;", "enum E { E0 = 0; }"),
        false,
    );
    // Message and enum types by full name.
    add(
        p3x("N n = 1;", "message N { int32 x = 1; }"),
        p3x("N n = 1;", "message N { int32 x = 1; string y = 2; }"),
        true,
    );
    add(
        p3x("N n = 1;", "message N { int32 x = 1; }"),
        p3x(
            "O n = 1;",
            "message N { int32 x = 1; } message O { int32 x = 1; }",
        ),
        false,
    );
    add(
        p3x("N n = 1;", "message N { int32 x = 1; }"),
        p3x("N n = 1;", "message N { string x = 1; }"),
        false,
    );
    add(
        p3x("E e = 1;", "enum E { E0 = 0; }"),
        p3x("F e = 1;", "enum E { E0 = 0; } enum F { F0 = 0; }"),
        false,
    );
    add(
        p3x("E e = 1;", "enum E { E0 = 0; E1 = 1; }"),
        p3x("E e = 1;", "enum E { E0 = 0; }"),
        true,
    );
    add(
        p3x("E e = 1;", "enum E { E0 = 0; }"),
        p3x("E e = 1;", "enum E { E0 = 0; E1 = 1; E2 = 2; }"),
        true,
    );
    // Nested and recursive messages.
    add(
        p3("Inner i = 1; message Inner { int32 x = 1; }"),
        p3("Inner i = 1; message Inner { bool x = 1; }"),
        true,
    );
    add(
        p3("Inner i = 1; message Inner { int32 x = 1; }"),
        p3("Inner i = 1; message Inner { double x = 1; }"),
        false,
    );
    add(
        p3("M self = 1; int32 a = 2;"),
        p3("M self = 1; int64 a = 2;"),
        true,
    );
    add(
        p3("M self = 1; int32 a = 2;"),
        p3("M self = 1; string a = 2;"),
        false,
    );
    // Package, first message, missing messages.
    add(
        p3("int32 a = 1;"),
        "syntax = \"proto3\"; package q; message M { int32 a = 1; }".into(),
        false,
    );
    add(
        p3("int32 a = 1;"),
        p3x("int32 a = 1;", "message Z {}"),
        true,
    );
    add(
        p3("int32 a = 1;"),
        "syntax = \"proto3\"; package p; message Z {} message M { int32 a = 1; }".into(),
        false,
    );
    add(
        p3("int32 a = 1;"),
        "syntax = \"proto3\"; package p; message Other { int32 a = 1; }".into(),
        false,
    );
    add(
        p3x("N n = 1;", "message N { int32 x = 1; }"),
        p3("reserved 1;"),
        false,
    );
    // proto2 required fields.
    add(
        p2("optional int32 a = 1;"),
        p2("optional int32 a = 1; optional int32 b = 2;"),
        true,
    );
    add(
        p2("optional int32 a = 1;"),
        p2("optional int32 a = 1; required int32 b = 2;"),
        false,
    );
    add(
        p2("optional int32 a = 1; required int32 b = 2;"),
        p2("optional int32 a = 1;"),
        false,
    );
    add(
        p2("required int32 a = 1;"),
        p2("optional int32 a = 1;"),
        false,
    );
    add(
        p2("optional int32 a = 1;"),
        p2("required int32 a = 1;"),
        false,
    );
    add(
        p2("required int32 a = 1;"),
        p2("required int64 a = 1;"),
        true,
    );
    // Oneofs.
    add(p3("int32 a = 1;"), p3("oneof o { int32 a = 1; }"), false);
    add(
        p3("int32 a = 1;"),
        p3("oneof o { int32 a = 1; string b = 2; }"),
        false,
    );
    add(
        p3("oneof o { int32 a = 1; }"),
        p3("oneof o { int32 a = 1; string b = 2; }"),
        true,
    );
    add(p3("int32 a = 1;"), p3("optional int32 a = 1;"), true);
    add(
        p3("int32 a = 1;"),
        p3("int32 a = 1; oneof o { string b = 2; }"),
        true,
    );
    // Singular and repeated.
    add(p3("string a = 1;"), p3("repeated string a = 1;"), false);
    add(p3("repeated bytes a = 1;"), p3("bytes a = 1;"), false);
    add(p3("M a = 1;"), p3("repeated M a = 1;"), false);
    add(p3("int32 a = 1;"), p3("repeated int32 a = 1;"), true);
    add(p3("repeated int64 a = 1;"), p3("int64 a = 1;"), true);
    add(
        p3("map<string, int32> a = 1;"),
        p3("map<string, int64> a = 1;"),
        true,
    );
    add(
        p3("map<string, int32> a = 1;"),
        p3("map<string, string> a = 1;"),
        false,
    );
    // Files without messages.
    add(
        "syntax = \"proto3\"; package p; enum E { A = 0; }".into(),
        p3("int32 a = 1;"),
        true,
    );
    add(
        p3("int32 a = 1;"),
        "syntax = \"proto3\"; package p; enum E { A = 0; }".into(),
        false,
    );

    assert!(cases.len() >= 30, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for (old, new, ok) in &cases {
        let msgs = check_pair(&parse(new), &parse(old));
        if msgs.is_empty() != *ok {
            failures.push(format!(
                "old {old}\nnew {new}\nexpected compatible={ok}, got {msgs:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    eprintln!("{} protobuf pairs checked", cases.len());
}

/// (old, new, [(level, compatible?)])
type LevelCase = (String, String, Vec<(CompatibilityLevel, bool)>);

#[test]
fn levels() {
    use CompatibilityLevel::*;
    let cases: Vec<LevelCase> = vec![
        (
            p2("optional int32 a = 1;"),
            p2("optional int32 a = 1; required int32 b = 2;"),
            vec![
                (Backward, false),
                (Forward, false),
                (Full, false),
                (None, true),
            ],
        ),
        (
            p2("optional int32 a = 1; required int32 b = 2;"),
            p2("optional int32 a = 1;"),
            vec![(Backward, false), (Forward, false), (Full, false)],
        ),
        (
            p3("oneof o { int32 a = 1; }"),
            p3("int32 a = 1;"),
            vec![(Backward, true), (Forward, false), (Full, false)],
        ),
        (
            p3("int32 a = 1;"),
            p3("int32 a = 1; string b = 2;"),
            vec![(Backward, true), (Forward, true), (Full, true)],
        ),
        (
            p3("int32 a = 1;"),
            p3("string a = 1;"),
            vec![
                (Backward, false),
                (Forward, false),
                (FullTransitive, false),
                (None, true),
            ],
        ),
        (
            p3x("N n = 1;", "message N {}"),
            p3("reserved 1;"),
            vec![(Backward, false), (Forward, true), (Full, false)],
        ),
    ];
    for (old, new, expect) in &cases {
        let (o, n) = (parse(old), parse(new));
        for (level, ok) in expect {
            let msgs = check_against(*level, &n, &[&o]);
            assert_eq!(
                msgs.is_empty(),
                *ok,
                "{level} old {old} new {new}: {msgs:?}"
            );
        }
    }
}

#[test]
fn transitive_checks_every_version() {
    let v1 = parse(&p3("int32 a = 1;"));
    let v2 = parse(&p3("reserved 1;"));
    let v3 = parse(&p3("string a = 1;"));
    assert!(check_against(CompatibilityLevel::Backward, &v3, &[&v1, &v2]).is_empty());
    let msgs = check_against(CompatibilityLevel::BackwardTransitive, &v3, &[&v1, &v2]);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
}

#[test]
fn messages_are_readable() {
    let old = parse(&p2(
        "optional int32 a = 1; required int32 b = 2; optional string s = 3;",
    ));
    let new = parse(&p2(
        "optional string a = 1; oneof o { string s = 3; } optional N n = 4; required int32 c = 5; message N {}",
    ));
    let msgs = check_pair(&new, &old);
    let expect = [
        "FIELD_KIND_CHANGED at 'p.M.1': int32 in the writer, string in the reader",
        "REQUIRED_FIELD_REMOVED at 'p.M.2'",
        "FIELD_MOVED_TO_ONEOF at 'p.M.3'",
        "REQUIRED_FIELD_ADDED at 'p.M.5'",
    ];
    for e in expect {
        assert!(msgs.iter().any(|m| m.starts_with(e)), "{e}: {msgs:?}");
    }
    assert_eq!(msgs.len(), expect.len(), "{msgs:?}");
    let other_pkg = parse("syntax = \"proto3\"; package q; message M {}");
    let empty = parse(&p3(""));
    assert_eq!(
        check_pair(&other_pkg, &empty),
        vec![
            "PACKAGE_CHANGED: reader package 'q' differs from writer package 'p'".to_string(),
            "MESSAGE_MISSING at 'p.M': the reader has no message 'p.M'".to_string(),
        ]
    );
    let avro = ParsedSchema::parse(SchemaType::Avro, "\"int\"", vec![], &[]).unwrap();
    assert!(check_pair(&avro, &empty)[0].starts_with("SCHEMA_TYPE_CHANGED"));
}
