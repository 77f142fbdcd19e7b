//! Registry operations: effects, log replay, deletes, config and mode, bad input.

use strata_registry::{
    CompatibilityLevel, Effect, Mode, Record, RegisterRequest, Registry, RegistryError,
    SchemaReference, SchemaType, VersionSpec,
};

/// A registry plus the log of every record it applied.
#[derive(Default)]
struct Node {
    reg: Registry,
    log: Vec<Record>,
}

impl Node {
    fn commit<T>(&mut self, e: Result<Effect<T>, RegistryError>) -> Result<T, RegistryError> {
        let e = e?;
        for r in &e.records {
            self.reg.apply_encoded(r).unwrap();
            self.log.push(r.clone());
        }
        Ok(e.answer)
    }

    fn register(&mut self, subject: &str, schema: &str) -> Result<(i32, i32), RegistryError> {
        let req = RegisterRequest {
            subject: subject.into(),
            schema: schema.into(),
            ..Default::default()
        };
        let e = self.reg.register(&req);
        self.commit(e).map(|r| (r.id, r.version))
    }

    fn replayed(&self) -> Registry {
        let mut fresh = Registry::new();
        for r in &self.log {
            fresh.apply(&r.key, r.value.as_deref()).unwrap();
        }
        fresh
    }
}

fn rec(fields: &str) -> String {
    format!(r#"{{"type":"record","name":"User","fields":[{fields}]}}"#)
}

const V1: &str = r#"{"type":"record","name":"User","fields":[{"name":"a","type":"int"}]}"#;

fn v2() -> String {
    rec(r#"{"name":"a","type":"int"},{"name":"b","type":"string","default":""}"#)
}

#[test]
fn same_schema_twice_same_id_and_version() {
    let mut n = Node::default();
    assert_eq!(n.register("s", V1).unwrap(), (1, 1));
    let again = n
        .reg
        .register(&RegisterRequest {
            subject: "s".into(),
            schema: r#"{ "type" : "record", "fields":[{"type":"int","name":"a"}], "name":"User"}"#
                .into(),
            ..Default::default()
        })
        .unwrap();
    assert!(again.records.is_empty(), "no write for an existing schema");
    assert_eq!((again.answer.id, again.answer.version), (1, 1));
    assert_eq!(n.reg.versions("s", false).unwrap(), vec![1]);
}

#[test]
fn same_schema_two_subjects_same_id() {
    let mut n = Node::default();
    assert_eq!(n.register("a", V1).unwrap(), (1, 1));
    assert_eq!(n.register("b", V1).unwrap(), (1, 1));
    assert_eq!(n.register("b", &v2()).unwrap(), (2, 2));
    assert_eq!(
        n.reg.subjects_of_id(1, false).unwrap(),
        vec!["a".to_string(), "b".to_string()]
    );
    assert_eq!(
        n.reg.versions_of_id(2, false).unwrap(),
        vec![("b".to_string(), 2)]
    );
    assert_eq!(n.reg.schema_by_id(1).unwrap().schema, V1);
    assert_eq!(n.reg.schema_by_id(9).unwrap_err().code(), 40403);
}

#[test]
fn incompatible_under_backward_passes_under_none() {
    let mut n = Node::default();
    n.register("s", V1).unwrap();
    let bad = rec(r#"{"name":"a","type":"string"},{"name":"c","type":"int"}"#);
    let before = n.log.len();
    let err = n.register("s", &bad).unwrap_err();
    assert_eq!(err.code(), 409);
    assert_eq!(err.http_status(), 409);
    match &err {
        RegistryError::IncompatibleSchema { messages, .. } => {
            assert_eq!(messages.len(), 2, "{messages:?}")
        }
        other => panic!("{other:?}"),
    }
    assert!(err.message().contains("TYPE_MISMATCH"));
    assert_eq!(n.log.len(), before);
    let r = n
        .reg
        .check_compatibility("s", &bad, SchemaType::Avro, &[], None, true)
        .unwrap();
    assert!(!r.is_compatible);
    assert_eq!(r.messages.len(), 2);
    let quiet = n
        .reg
        .check_compatibility(
            "s",
            &bad,
            SchemaType::Avro,
            &[],
            Some(VersionSpec::Latest),
            false,
        )
        .unwrap();
    assert!(!quiet.is_compatible && quiet.messages.is_empty());
    n.commit(n.reg.set_config(Some("s"), "NONE")).unwrap();
    assert_eq!(n.register("s", &bad).unwrap(), (2, 2));
}

#[test]
fn transitive_checks_all_versions() {
    let mut n = Node::default();
    n.commit(n.reg.set_config(None, "none")).unwrap();
    n.register("s", V1).unwrap(); // a:int
    n.register(
        "s",
        &rec(r#"{"name":"a","type":"int"},{"name":"b","type":"string"}"#),
    )
    .unwrap();
    // Reads v2 (has b) but not v1 (b missing, no default).
    let v3 = rec(r#"{"name":"b","type":"string"}"#);
    n.commit(n.reg.set_config(Some("s"), "BACKWARD")).unwrap();
    assert!(
        n.reg
            .check_compatibility("s", &v3, SchemaType::Avro, &[], None, true)
            .unwrap()
            .is_compatible
    );
    n.commit(n.reg.set_config(Some("s"), "BACKWARD_TRANSITIVE"))
        .unwrap();
    assert!(
        !n.reg
            .check_compatibility("s", &v3, SchemaType::Avro, &[], None, true)
            .unwrap()
            .is_compatible
    );
    assert_eq!(n.register("s", &v3).unwrap_err().code(), 409);
    n.commit(n.reg.set_config(Some("s"), "FORWARD")).unwrap();
    // Latest (a, b) reading v3 data (b only): a has no default -> incompatible.
    assert_eq!(n.register("s", &v3).unwrap_err().code(), 409);
}

#[test]
fn soft_then_hard_delete_version() {
    let mut n = Node::default();
    n.register("s", V1).unwrap();
    n.register("s", &v2()).unwrap();
    assert_eq!(
        n.commit(n.reg.delete_version("s", VersionSpec::Number(1), true))
            .unwrap_err()
            .code(),
        40407
    );
    assert_eq!(
        n.commit(n.reg.delete_version("s", VersionSpec::Number(1), false))
            .unwrap(),
        1
    );
    assert_eq!(n.reg.versions("s", false).unwrap(), vec![2]);
    assert_eq!(n.reg.versions("s", true).unwrap(), vec![1, 2]);
    assert_eq!(
        n.reg
            .version("s", VersionSpec::Number(1), false)
            .unwrap_err()
            .code(),
        40402
    );
    assert!(
        n.reg
            .version("s", VersionSpec::Number(1), true)
            .unwrap()
            .deleted
    );
    assert_eq!(
        n.commit(n.reg.delete_version("s", VersionSpec::Number(1), false))
            .unwrap_err()
            .code(),
        40406
    );
    // The id of a soft-deleted version still resolves.
    assert_eq!(n.reg.schema_by_id(1).unwrap().id, 1);
    assert_eq!(
        n.commit(n.reg.delete_version("s", VersionSpec::Number(1), true))
            .unwrap(),
        1
    );
    assert_eq!(n.reg.versions("s", true).unwrap(), vec![2]);
    assert_eq!(n.reg.schema_by_id(1).unwrap_err().code(), 40403);
    assert_eq!(
        n.commit(n.reg.delete_version("s", VersionSpec::Number(7), false))
            .unwrap_err()
            .code(),
        40402
    );
    assert_eq!(
        n.commit(n.reg.delete_version("nope", VersionSpec::Latest, false))
            .unwrap_err()
            .code(),
        40401
    );
}

#[test]
fn soft_then_hard_delete_subject_and_ids_never_reused() {
    let mut n = Node::default();
    n.register("s", V1).unwrap();
    n.register("s", &v2()).unwrap();
    n.commit(n.reg.set_config(Some("s"), "FULL")).unwrap();
    assert_eq!(
        n.commit(n.reg.delete_subject("s", true))
            .unwrap_err()
            .code(),
        40405
    );
    assert_eq!(
        n.commit(n.reg.delete_subject("s", false)).unwrap(),
        vec![1, 2]
    );
    assert_eq!(n.reg.subjects(false), Vec::<String>::new());
    assert_eq!(n.reg.subjects(true), vec!["s".to_string()]);
    assert_eq!(n.reg.versions("s", false).unwrap_err().code(), 40401);
    let e = n.commit(n.reg.delete_subject("s", false)).unwrap_err();
    assert_eq!(e.code(), 40404);
    assert_eq!(
        e.message(),
        "Subject 's' was soft deleted. Set permanent=true to delete permanently"
    );
    assert_eq!(
        n.commit(n.reg.delete_subject("s", true)).unwrap(),
        vec![1, 2]
    );
    assert_eq!(n.reg.subjects(true), Vec::<String>::new());
    assert_eq!(n.reg.config(Some("s"), false).unwrap_err().code(), 40408);
    assert_eq!(n.reg.schema_by_id(1).unwrap_err().code(), 40403);
    // Re-registering: a fresh id and versions continuing after the highest seen.
    assert_eq!(n.register("s", V1).unwrap(), (3, 3));
    let fresh = n.replayed();
    assert_eq!(fresh.max_id(), 3);
    assert_eq!(
        fresh.version("s", VersionSpec::Latest, false).unwrap().id,
        3
    );
}

#[test]
fn read_only_mode_refuses_register() {
    let mut n = Node::default();
    n.commit(n.reg.set_mode(Some("s"), "READONLY", false))
        .unwrap();
    let e = n.register("s", V1).unwrap_err();
    assert_eq!((e.code(), e.http_status()), (42205, 422));
    assert_eq!(n.register("t", V1).unwrap(), (1, 1));
    n.commit(n.reg.set_mode(None, "READONLY_OVERRIDE", false))
        .unwrap();
    assert_eq!(n.register("t", &v2()).unwrap_err().code(), 42205);
    assert_eq!(
        n.commit(n.reg.delete_version("t", VersionSpec::Latest, false))
            .unwrap_err()
            .code(),
        42205
    );
    assert_eq!(
        n.commit(n.reg.delete_mode(None)).unwrap(),
        Mode::ReadOnlyOverride
    );
    assert_eq!(n.reg.mode(None, false).unwrap(), Mode::ReadWrite);
    assert_eq!(n.reg.mode(Some("t"), false).unwrap_err().code(), 40409);
    assert_eq!(n.reg.mode(Some("s"), false).unwrap(), Mode::ReadOnly);
    assert_eq!(
        n.reg.set_mode(None, "SLEEPY", false).unwrap_err().code(),
        42204
    );
    assert_eq!(
        n.reg.set_mode(None, "IMPORT", false).unwrap_err().code(),
        42205
    );
}

#[test]
fn import_mode_explicit_ids() {
    let mut n = Node::default();
    let explicit = RegisterRequest {
        subject: "s".into(),
        schema: V1.into(),
        id: Some(100),
        version: Some(5),
        ..Default::default()
    };
    assert_eq!(
        n.commit(n.reg.register(&explicit)).unwrap_err().code(),
        42205
    );
    n.commit(n.reg.set_mode(None, "IMPORT", false)).unwrap();
    let r = n.commit(n.reg.register(&explicit)).unwrap();
    assert_eq!((r.id, r.version), (100, 5));
    let clash = RegisterRequest {
        subject: "t".into(),
        schema: v2(),
        id: Some(100),
        ..Default::default()
    };
    assert_eq!(n.commit(n.reg.register(&clash)).unwrap_err().code(), 42205);
    n.commit(n.reg.set_mode(None, "READWRITE", false)).unwrap();
    assert_eq!(n.register("t", &v2()).unwrap(), (101, 1));
}

#[test]
fn config_default_to_global() {
    let mut n = Node::default();
    assert_eq!(
        n.reg.config(None, false).unwrap(),
        CompatibilityLevel::Backward
    );
    assert_eq!(n.reg.config(Some("s"), false).unwrap_err().code(), 40408);
    assert_eq!(
        n.reg.config(Some("s"), true).unwrap(),
        CompatibilityLevel::Backward
    );
    n.commit(n.reg.set_config(None, "FULL_TRANSITIVE")).unwrap();
    assert_eq!(
        n.reg.config(Some("s"), true).unwrap(),
        CompatibilityLevel::FullTransitive
    );
    n.commit(n.reg.set_config(Some("s"), "forward")).unwrap();
    assert_eq!(
        n.reg.config(Some("s"), true).unwrap(),
        CompatibilityLevel::Forward
    );
    assert_eq!(
        n.commit(n.reg.delete_config(Some("s"))).unwrap(),
        CompatibilityLevel::Forward
    );
    assert_eq!(n.reg.config(Some("s"), false).unwrap_err().code(), 40408);
    assert_eq!(
        n.commit(n.reg.delete_config(None)).unwrap(),
        CompatibilityLevel::FullTransitive
    );
    assert_eq!(
        n.reg.config(None, false).unwrap(),
        CompatibilityLevel::Backward
    );
    assert_eq!(
        n.reg.set_config(None, "SOMETIMES").unwrap_err().code(),
        42203
    );
}

#[test]
fn lookup_and_versions() {
    let mut n = Node::default();
    n.register("s", V1).unwrap();
    n.register("s", &v2()).unwrap();
    let hit = n
        .reg
        .lookup("s", &v2(), SchemaType::Avro, &[], false)
        .unwrap();
    assert_eq!((hit.version, hit.id), (2, 2));
    assert_eq!(
        n.reg
            .lookup("s", r#""string""#, SchemaType::Avro, &[], false)
            .unwrap_err()
            .code(),
        40403
    );
    assert_eq!(
        n.reg
            .lookup("x", V1, SchemaType::Avro, &[], false)
            .unwrap_err()
            .code(),
        40401
    );
    assert_eq!(
        n.reg
            .lookup("s", "{", SchemaType::Avro, &[], false)
            .unwrap_err()
            .code(),
        42201
    );
    assert_eq!(
        n.reg
            .version("s", VersionSpec::parse("latest").unwrap(), false)
            .unwrap()
            .version,
        2
    );
    assert_eq!(
        n.reg
            .version("s", VersionSpec::parse("-1").unwrap(), false)
            .unwrap()
            .version,
        2
    );
    assert_eq!(
        n.reg
            .version("s", VersionSpec::parse("1").unwrap(), false)
            .unwrap()
            .schema,
        V1
    );
    for bad in ["0", "-2", "abc", "2147483648", "", "1.5"] {
        assert_eq!(VersionSpec::parse(bad).unwrap_err().code(), 42202, "{bad}");
    }
}

#[test]
fn json_schemas_and_normalize() {
    let mut n = Node::default();
    let req = RegisterRequest {
        subject: "j".into(),
        schema: r#"{"type":"object", "properties":{"a":{"type":"string"}}}"#.into(),
        schema_type: SchemaType::Json,
        normalize: true,
        ..Default::default()
    };
    let r = n.commit(n.reg.register(&req)).unwrap();
    let got = n.reg.schema_by_id(r.id).unwrap();
    assert_eq!(got.schema_type, SchemaType::Json);
    assert_eq!(
        got.schema,
        r#"{"properties":{"a":{"type":"string"}},"type":"object"}"#
    );
    let narrowed = RegisterRequest {
        schema: r#"{"type":"object","properties":{"a":{"type":"integer"}}}"#.into(),
        normalize: false,
        ..req.clone()
    };
    assert_eq!(n.commit(n.reg.register(&narrowed)).unwrap_err().code(), 409);
    let proto = RegisterRequest {
        schema_type: SchemaType::Protobuf,
        schema: "syntax = \"proto3\"; message {".into(),
        ..req
    };
    assert_eq!(n.commit(n.reg.register(&proto)).unwrap_err().code(), 42201);
}

#[test]
fn references_are_stored_and_block_deletes() {
    let mut n = Node::default();
    n.register(
        "dep",
        r#"{"type":"record","name":"x.Dep","fields":[{"name":"a","type":"int"}]}"#,
    )
    .unwrap();
    let reference = SchemaReference {
        name: "x.Dep".into(),
        subject: "dep".into(),
        version: 1,
    };
    let req = RegisterRequest {
        subject: "main".into(),
        schema: r#"{"type":"record","name":"x.Main","fields":[{"name":"d","type":"x.Dep"}]}"#
            .into(),
        references: vec![reference.clone()],
        ..Default::default()
    };
    let r = n.commit(n.reg.register(&req)).unwrap();
    assert_eq!(
        n.reg.schema_by_id(r.id).unwrap().references,
        vec![reference.clone()]
    );
    assert_eq!(
        n.commit(n.reg.delete_subject("dep", false))
            .unwrap_err()
            .code(),
        42206
    );
    let missing = RegisterRequest {
        references: vec![SchemaReference {
            version: 9,
            ..reference
        }],
        subject: "m2".into(),
        ..req
    };
    assert_eq!(
        n.commit(n.reg.register(&missing)).unwrap_err().code(),
        42201
    );
    assert_eq!(
        n.replayed().schema_by_id(r.id).unwrap(),
        n.reg.schema_by_id(r.id).unwrap()
    );
}

#[test]
fn bad_input_changes_nothing() {
    let mut n = Node::default();
    n.register("s", V1).unwrap();
    let before = n.log.len();
    for (schema, ty, code) in [
        ("{", SchemaType::Avro, 42201),
        ("not json", SchemaType::Json, 42201),
        ("[1,2]", SchemaType::Json, 42201),
        (
            r#"{"type":"record","name":"User"}"#,
            SchemaType::Avro,
            42201,
        ),
        (
            r#"{"type":"enum","name":"E","symbols":["A","A"]}"#,
            SchemaType::Avro,
            42201,
        ),
    ] {
        let req = RegisterRequest {
            subject: "s".into(),
            schema: schema.into(),
            schema_type: ty,
            ..Default::default()
        };
        assert_eq!(n.reg.register(&req).unwrap_err().code(), code, "{schema}");
    }
    assert_eq!(n.log.len(), before);
    assert_eq!(n.reg.versions("s", true).unwrap(), vec![1]);
}

#[test]
fn replay_gives_same_answers() {
    let mut n = Node::default();
    n.register("a", V1).unwrap();
    n.register("a", &v2()).unwrap();
    n.register("b", V1).unwrap();
    n.commit(n.reg.set_config(Some("b"), "NONE")).unwrap();
    n.register("b", r#""string""#).unwrap();
    n.commit(n.reg.set_mode(Some("c"), "READONLY", false))
        .unwrap();
    n.commit(n.reg.delete_version("a", VersionSpec::Number(1), false))
        .unwrap();
    n.commit(n.reg.delete_subject("b", false)).unwrap();
    n.register("b", V1).unwrap();
    let fresh = n.replayed();
    for deleted in [false, true] {
        assert_eq!(fresh.subjects(deleted), n.reg.subjects(deleted));
        for s in n.reg.subjects(true) {
            assert_eq!(fresh.versions(&s, deleted), n.reg.versions(&s, deleted));
            for v in n.reg.versions(&s, true).unwrap() {
                assert_eq!(
                    fresh.version(&s, VersionSpec::Number(v), deleted),
                    n.reg.version(&s, VersionSpec::Number(v), deleted)
                );
            }
        }
        for id in 1..=n.reg.max_id() + 1 {
            assert_eq!(fresh.schema_by_id(id), n.reg.schema_by_id(id));
            assert_eq!(
                fresh.versions_of_id(id, deleted),
                n.reg.versions_of_id(id, deleted)
            );
        }
    }
    assert_eq!(
        fresh.config(Some("b"), false),
        n.reg.config(Some("b"), false)
    );
    assert_eq!(fresh.mode(Some("c"), false), n.reg.mode(Some("c"), false));
    assert_eq!(fresh.max_id(), n.reg.max_id());
}

#[test]
fn garbage_records_never_panic() {
    let mut reg = Registry::new();
    // Small deterministic generator (xorshift) over bytes and JSON-ish fragments.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let pieces: [&[u8]; 12] = [
        b"{",
        b"}",
        b"\"keytype\":",
        b"\"SCHEMA\"",
        b"\"subject\":\"s\"",
        b",",
        b"\"version\":",
        b"1",
        b"null",
        b"\"schema\":\"{\"",
        b"\"id\":-5",
        b"\xff",
    ];
    for _ in 0..5000 {
        let mut key = Vec::new();
        let mut val = Vec::new();
        for _ in 0..(next() % 12) {
            let p = next() as usize % (pieces.len() + 1);
            if p == pieces.len() {
                key.push(next() as u8)
            } else {
                key.extend_from_slice(pieces[p])
            }
            let q = next() as usize % pieces.len();
            val.extend_from_slice(pieces[q]);
        }
        let value = if next() % 3 == 0 {
            None
        } else {
            Some(val.as_slice())
        };
        let _ = reg.apply(&key, value);
    }
    // Well-formed keys with odd values.
    let key = br#"{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}"#;
    assert!(reg.apply(key, Some(b"{\"id\":1}")).is_err());
    assert!(reg
        .apply(
            key,
            Some(br#"{"subject":"s","version":1,"id":1,"schema":"{not avro"}"#)
        )
        .is_ok());
    assert!(reg
        .apply(br#"{"keytype":"SOMETHING_NEW","magic":0}"#, None)
        .is_ok());
}
