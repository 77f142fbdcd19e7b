//! JSON Schema compatibility beyond the basics: `$ref`, combined schemas, `not`, `const`,
//! `pattern`, content models, dependencies, tuples, `multipleOf`, `uniqueItems`; and
//! hostile schemas, which must give an answer quickly without panicking.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use strata_registry::compat::{self, json, CompatibilityLevel};
use strata_registry::{ParsedSchema, SchemaReference, SchemaType};

/// `(what, old, new, BACKWARD ok, FORWARD ok)`: BACKWARD reads old data with the new
/// schema, FORWARD reads new data with the old one; FULL is both.
type Case = (&'static str, Value, Value, bool, bool);

fn cases() -> Vec<Case> {
    let defs = |s: Value| {
        json!({"type": "object", "properties": {"x": {"$ref": "#/definitions/s"}},
               "definitions": {"s": s}})
    };
    let open = |props: Value| json!({"type": "object", "properties": props});
    let closed = |props: Value| json!({"type": "object", "properties": props, "additionalProperties": false});
    let partial = |props: Value| {
        json!({"type": "object", "properties": props,
               "patternProperties": {"^x_": {"type": "string"}},
               "additionalProperties": false})
    };
    let by_additional = |props: Value| {
        json!({"type": "object", "properties": props,
               "additionalProperties": {"type": "string"}})
    };
    let node = |name: Value| {
        json!({"$ref": "#/definitions/node", "definitions": {"node": {
            "type": "object",
            "properties": {"name": name,
                           "children": {"type": "array", "items": {"$ref": "#/definitions/node"}}}}}})
    };
    let deps = |kw: &str, d: Value| {
        let mut o = open(json!({"a": {"type": "string"}, "b": {"type": "string"},
                                "c": {"type": "string"}}));
        o[kw] = d;
        o
    };
    vec![
        // $ref inside the schema
        (
            "ref widened",
            defs(json!({"type": "string"})),
            defs(json!({"type": ["string", "null"]})),
            true,
            false,
        ),
        (
            "ref to $defs vs inline",
            json!({"type": "object", "properties": {"x": {"$ref": "#/$defs/n"}},
              "$defs": {"n": {"type": "integer"}}}),
            open(json!({"x": {"type": "number"}})),
            true,
            false,
        ),
        (
            "pointer escapes ~0 ~1",
            json!({"properties": {"x": {"$ref": "#/definitions/a~1b"}}, "definitions": {"a/b": {"type": "string"}}}),
            json!({"properties": {"x": {"$ref": "#/definitions/c~0d"}}, "definitions": {"c~d": {"type": "string"}}}),
            true,
            true,
        ),
        (
            "pointer percent escape",
            json!({"properties": {"x": {"$ref": "#/definitions/e%20f"}}, "definitions": {"e f": {"type": "string"}}}),
            json!({"properties": {"x": {"$ref": "#/definitions/e%20f"}}, "definitions": {"e f": {"type": "integer"}}}),
            false,
            false,
        ),
        (
            "ref retargeted to another type",
            json!({"properties": {"x": {"$ref": "#/definitions/s"}}, "definitions": {"s": {"type": "string"}, "i": {"type": "integer"}}}),
            json!({"properties": {"x": {"$ref": "#/definitions/i"}}, "definitions": {"s": {"type": "string"}, "i": {"type": "integer"}}}),
            false,
            false,
        ),
        (
            "recursive list widened",
            json!({"type": "object", "properties": {"v": {"type": "integer"}, "next": {"$ref": "#"}}}),
            json!({"type": "object", "properties": {"v": {"type": "number"}, "next": {"$ref": "#"}}}),
            true,
            false,
        ),
        (
            "recursive tree narrowed",
            node(json!({"type": "string"})),
            node(json!({"type": "string", "maxLength": 10})),
            false,
            true,
        ),
        (
            "ref to a missing pointer",
            json!({"type": "string"}),
            json!({"$ref": "#/definitions/missing"}),
            false,
            false,
        ),
        // oneOf / anyOf / allOf
        (
            "plain to oneOf containing it",
            json!({"type": "string"}),
            json!({"oneOf": [{"type": "string"}, {"type": "null"}]}),
            true,
            false,
        ),
        (
            "oneOf alternative added",
            json!({"oneOf": [{"type": "string"}, {"type": "integer"}]}),
            json!({"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}),
            true,
            false,
        ),
        (
            "anyOf alternative removed",
            json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
            json!({"anyOf": [{"type": "string"}]}),
            false,
            true,
        ),
        (
            "oneOf to anyOf",
            json!({"oneOf": [{"type": "string"}, {"type": "integer"}]}),
            json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
            true,
            false,
        ),
        (
            "singleton oneOf and its alternative",
            json!({"oneOf": [{"type": "string"}]}),
            json!({"type": "string"}),
            true,
            true,
        ),
        (
            "allOf part added",
            json!({"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}}]}),
            json!({"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}}, {"required": ["a"]}]}),
            false,
            true,
        ),
        (
            "allOf to oneOf",
            json!({"allOf": [{"minLength": 1}, {"maxLength": 5}]}),
            json!({"oneOf": [{"minLength": 1}, {"maxLength": 5}]}),
            false,
            false,
        ),
        (
            "oneOf alternatives reordered and one extended",
            json!({"oneOf": [closed(json!({"a": {"type": "string"}})), {"type": "string"}]}),
            json!({"oneOf": [{"type": "string"}, closed(json!({"a": {"type": "string"}, "b": {"type": "integer"}}))]}),
            true,
            false,
        ),
        (
            "type with oneOf, description changed",
            json!({"type": "object", "properties": {"kind": {"type": "string"}},
                "oneOf": [{"required": ["x"]}, {"required": ["y"]}]}),
            json!({"type": "object", "description": "d", "properties": {"kind": {"type": "string"}},
                "oneOf": [{"required": ["x"]}, {"required": ["y"]}]}),
            true,
            true,
        ),
        (
            "allOf of $refs, one widened",
            json!({"allOf": [{"$ref": "#/definitions/a"}], "definitions": {"a": {"type": "integer"}}}),
            json!({"allOf": [{"$ref": "#/definitions/a"}], "definitions": {"a": {"type": "number"}}}),
            true,
            false,
        ),
        // not
        (
            "not narrowed",
            json!({"type": "string", "not": {"enum": ["a", "b"]}}),
            json!({"type": "string", "not": {"enum": ["a"]}}),
            true,
            false,
        ),
        (
            "not added",
            json!({"type": "string"}),
            json!({"type": "string", "not": {"const": "x"}}),
            false,
            true,
        ),
        (
            "not of a type the writer never has",
            json!({"type": "string"}),
            json!({"type": "string", "not": {"type": "integer"}}),
            true,
            true,
        ),
        // const
        (
            "const added",
            json!({"type": "string"}),
            json!({"type": "string", "const": "a"}),
            false,
            true,
        ),
        (
            "const changed",
            json!({"const": "a"}),
            json!({"const": "b"}),
            false,
            false,
        ),
        (
            "const to an enum holding it",
            json!({"const": "a"}),
            json!({"enum": ["a", "b"]}),
            true,
            false,
        ),
        // pattern
        (
            "pattern added",
            json!({"type": "string"}),
            json!({"type": "string", "pattern": "^a"}),
            false,
            true,
        ),
        (
            "pattern changed",
            json!({"type": "string", "pattern": "^a"}),
            json!({"type": "string", "pattern": "^b"}),
            false,
            false,
        ),
        (
            "same pattern, maxLength raised",
            json!({"type": "string", "pattern": "^a", "maxLength": 5}),
            json!({"type": "string", "pattern": "^a", "maxLength": 10}),
            true,
            false,
        ),
        // content models
        (
            "property added to open content model",
            open(json!({"a": {"type": "string"}})),
            open(json!({"a": {"type": "string"}, "b": {"type": "integer"}})),
            false,
            true,
        ),
        (
            "property with empty schema added to open content model",
            open(json!({"a": {"type": "string"}})),
            open(json!({"a": {"type": "string"}, "b": {}})),
            true,
            true,
        ),
        (
            "required property added to closed content model",
            closed(json!({"a": {"type": "string"}})),
            {
                let mut n = closed(json!({"a": {"type": "string"}, "b": {"type": "integer"}}));
                n["required"] = json!(["b"]);
                n
            },
            false,
            false,
        ),
        (
            "property covered by patternProperties",
            partial(json!({"a": {"type": "string"}})),
            partial(json!({"a": {"type": "string"}, "x_b": {"type": "string"}})),
            true,
            true,
        ),
        (
            "property not covered by patternProperties",
            partial(json!({"a": {"type": "string"}})),
            partial(json!({"a": {"type": "string"}, "x_c": {"type": "integer"}})),
            false,
            false,
        ),
        (
            "property matching no pattern added to a closed model",
            partial(json!({"a": {"type": "string"}})),
            partial(json!({"a": {"type": "string"}, "y": {"type": "integer"}})),
            true,
            false,
        ),
        (
            "property covered by additionalProperties",
            by_additional(json!({"a": {"type": "string"}})),
            by_additional(json!({"a": {"type": "string"}, "b": {"type": "string"}})),
            true,
            true,
        ),
        (
            "property not covered by additionalProperties",
            by_additional(json!({"a": {"type": "string"}})),
            by_additional(json!({"a": {"type": "string"}, "b": {"type": "integer"}})),
            false,
            false,
        ),
        (
            "additionalProperties narrowed",
            json!({"type": "object"}),
            json!({"type": "object", "additionalProperties": {"type": "string"}}),
            false,
            true,
        ),
        (
            "patternProperties added to open content model",
            json!({"type": "object"}),
            json!({"type": "object", "patternProperties": {"^x": {"type": "string"}}}),
            false,
            true,
        ),
        (
            "patternProperties schema widened",
            json!({"type": "object", "patternProperties": {"^x": {"type": "integer"}}}),
            json!({"type": "object", "patternProperties": {"^x": {"type": "number"}}}),
            true,
            false,
        ),
        (
            "required property with default added",
            open(json!({"a": {"type": "string"}})),
            json!({"type": "object", "properties": {"a": {"type": "string", "default": "x"}}, "required": ["a"]}),
            true,
            true,
        ),
        // dependencies
        (
            "dependency array added",
            deps("x-none", json!(null)),
            deps("dependencies", json!({"a": ["b"]})),
            false,
            true,
        ),
        (
            "dependentRequired narrowed",
            deps("dependentRequired", json!({"a": ["b", "c"]})),
            deps("dependentRequired", json!({"a": ["b"]})),
            true,
            false,
        ),
        (
            "dependency on an always-required property",
            {
                let mut o = deps("x-none", json!(null));
                o["required"] = json!(["b"]);
                o
            },
            {
                let mut o = deps("dependencies", json!({"a": ["b"]}));
                o["required"] = json!(["b"]);
                o
            },
            true,
            true,
        ),
        (
            "dependentSchemas added",
            deps("x-none", json!(null)),
            deps("dependentSchemas", json!({"a": {"required": ["b"]}})),
            false,
            true,
        ),
        (
            "schema dependency widened",
            deps(
                "dependencies",
                json!({"a": {"properties": {"b": {"type": "integer"}}}}),
            ),
            deps(
                "dependencies",
                json!({"a": {"properties": {"b": {"type": "number"}}}}),
            ),
            true,
            false,
        ),
        // tuples
        (
            "tuple item added to open tuple",
            json!({"type": "array", "items": [{"type": "string"}]}),
            json!({"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}),
            false,
            true,
        ),
        (
            "tuple item added to closed tuple",
            json!({"type": "array", "items": [{"type": "string"}], "additionalItems": false}),
            json!({"type": "array", "items": [{"type": "string"}, {"type": "integer"}], "additionalItems": false}),
            true,
            false,
        ),
        (
            "prefixItems item covered by items",
            json!({"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "integer"}}),
            json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": {"type": "integer"}}),
            true,
            true,
        ),
        (
            "additionalItems removed",
            json!({"type": "array", "items": [{"type": "string"}]}),
            json!({"type": "array", "items": [{"type": "string"}], "additionalItems": false}),
            false,
            true,
        ),
        (
            "additionalItems narrowed",
            json!({"type": "array", "items": [{"type": "string"}]}),
            json!({"type": "array", "items": [{"type": "string"}], "additionalItems": {"type": "string"}}),
            false,
            true,
        ),
        (
            "tuple item widened",
            json!({"type": "array", "items": [{"type": "integer"}]}),
            json!({"type": "array", "items": [{"type": "number"}]}),
            true,
            false,
        ),
        // multipleOf, uniqueItems
        (
            "multipleOf reduced",
            json!({"type": "number", "multipleOf": 10}),
            json!({"type": "number", "multipleOf": 5}),
            true,
            false,
        ),
        (
            "multipleOf changed",
            json!({"type": "number", "multipleOf": 4}),
            json!({"type": "number", "multipleOf": 6}),
            false,
            false,
        ),
        (
            "multipleOf added",
            json!({"type": "integer"}),
            json!({"type": "integer", "multipleOf": 2}),
            false,
            true,
        ),
        (
            "fractional multipleOf reduced",
            json!({"type": "number", "multipleOf": 0.5}),
            json!({"type": "number", "multipleOf": 0.25}),
            true,
            false,
        ),
        (
            "uniqueItems added",
            json!({"type": "array"}),
            json!({"type": "array", "uniqueItems": true}),
            false,
            true,
        ),
    ]
}

#[test]
fn rules_table() {
    let cases = cases();
    assert!(cases.len() >= 40);
    let mut failures = Vec::new();
    for (what, old, new, backward, forward) in &cases {
        for (dir, reader, writer, expected) in [
            ("BACKWARD", new, old, backward),
            ("FORWARD", old, new, forward),
        ] {
            let msgs = json::check(reader, writer);
            if msgs.is_empty() != *expected {
                failures.push(format!(
                    "{what} ({dir}): expected compatible={expected}, got {msgs:?}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn levels_through_parsed_schemas() {
    let parse =
        |v: &Value| ParsedSchema::parse(SchemaType::Json, &v.to_string(), vec![], &[]).unwrap();
    for (what, old, new, backward, forward) in cases() {
        let (old, new) = (parse(&old), parse(&new));
        for (level, ok) in [
            (CompatibilityLevel::Backward, backward),
            (CompatibilityLevel::Forward, forward),
            (CompatibilityLevel::Full, backward && forward),
        ] {
            let msgs = compat::check_against(level, &new, &[&old]);
            assert_eq!(msgs.is_empty(), ok, "{what} {level}: {msgs:?}");
        }
    }
}

#[test]
fn messages_name_confluent_rules() {
    let has = |r: Value, w: Value, tag: &str| {
        let msgs = json::check(&r, &w);
        assert!(msgs.iter().any(|m| m.starts_with(tag)), "{tag}: {msgs:?}");
    };
    has(
        json!({"type": "object", "properties": {"a": {"type": "string"}}}),
        json!({"type": "object"}),
        "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL at '#/properties/a'",
    );
    has(
        json!({"type": "string"}),
        json!({"oneOf": [{"type": "string"}, {"type": "null"}]}),
        "SUM_TYPE_NARROWED at '#/oneOf/1'",
    );
    has(
        json!({"allOf": [{"type": "string"}, {"maxLength": 3}]}),
        json!({"allOf": [{"type": "string"}]}),
        "PRODUCT_TYPE_EXTENDED at '#/allOf/1'",
    );
    has(
        json!({"oneOf": [{"type": "string"}, {"type": "null"}]}),
        json!({"anyOf": [{"type": "string"}, {"type": "null"}]}),
        "COMBINED_TYPE_CHANGED",
    );
    has(
        json!({"type": "string", "pattern": "b"}),
        json!({"type": "string", "pattern": "a"}),
        "PATTERN_CHANGED",
    );
    has(
        json!({"type": "integer", "multipleOf": 6}),
        json!({"type": "integer", "multipleOf": 3}),
        "MULTIPLE_OF_EXPANDED",
    );
    has(json!({"$ref": "#/nope"}), json!({}), "REFERENCE_UNRESOLVED");
}

#[test]
fn references_to_other_subjects_resolve_by_name() {
    let address_v1 = r#"{"type":"object","properties":{"street":{"type":"string"}}}"#;
    let address_v2 =
        r#"{"type":"object","properties":{"street":{"type":"string"},"zip":{"type":"integer"}}}"#;
    let customer = r##"{"type":"object","properties":{"address":{"$ref":"address.json"},
        "billing":{"$ref":"address.json#/properties/street"}}}"##;
    let reference = |version| SchemaReference {
        name: "address.json".into(),
        subject: "address".into(),
        version,
    };
    let parse = |text: &str, version: i32| {
        ParsedSchema::parse(
            SchemaType::Json,
            customer,
            vec![reference(version)],
            &[("address.json".to_string(), text.to_string())],
        )
        .unwrap()
    };
    let (old, new) = (parse(address_v1, 1), parse(address_v2, 2));
    assert_eq!(old.json_references().len(), 1);
    // The new address adds `zip` to an open content model: not BACKWARD, but FORWARD.
    let back = compat::check_against(CompatibilityLevel::Backward, &new, &[&old]);
    assert!(
        back.iter().any(|m| m.starts_with(
            "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL at '#/properties/address/properties/zip'"
        )),
        "{back:?}"
    );
    assert!(compat::check_against(CompatibilityLevel::Forward, &new, &[&old]).is_empty());
    // Without the referenced schema the `$ref` does not resolve.
    let bare = ParsedSchema::parse(SchemaType::Json, customer, vec![], &[]).unwrap();
    let msgs = compat::check_against(CompatibilityLevel::Backward, &bare, &[&old]);
    assert!(
        msgs.iter().any(|m| m.starts_with("REFERENCE_UNRESOLVED")),
        "{msgs:?}"
    );
    // An external schema's own `#` pointers resolve in that schema.
    let ext = vec![(
        "t.json".to_string(),
        json!({"definitions": {"n": {"type": "integer"}}, "$ref": "#/definitions/n"}),
    )];
    let ext_wide = vec![(
        "t.json".to_string(),
        json!({"definitions": {"n": {"type": "number"}}, "$ref": "#/definitions/n"}),
    )];
    let s = json!({"properties": {"x": {"$ref": "t.json"}}});
    assert!(json::check_with_references(&s, &ext_wide, &s, &ext).is_empty());
    assert!(!json::check_with_references(&s, &ext, &s, &ext_wide).is_empty());
}

/// Runs `f` on a small stack and fails if it takes too long.
fn quick<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let start = Instant::now();
    let out = std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn_scoped(s, f)
            .unwrap()
            .join()
            .unwrap()
    });
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    out
}

#[test]
fn hostile_references_terminate() {
    let string = json!({"type": "string"});
    // A schema that is nothing but a reference to itself.
    let me = json!({"$ref": "#"});
    quick(|| {
        assert!(!json::check(&me, &string).is_empty());
        assert!(!json::check(&string, &me).is_empty());
        assert!(json::check(&me, &me).is_empty());
        // Two definitions referring to each other.
        let ab = json!({"$ref": "#/definitions/a",
                        "definitions": {"a": {"$ref": "#/definitions/b"}, "b": {"$ref": "#/definitions/a"}}});
        assert!(!json::check(&ab, &string).is_empty());
        // Missing and malformed pointers.
        for bad in [
            "#/definitions/none",
            "#/definitions/%zz",
            "#/0/1",
            "other.json#/a",
            "#anchor",
        ] {
            let s = json!({"properties": {"x": {"$ref": bad}}});
            let ok = json!({"properties": {"x": {"type": "string"}}});
            assert!(!json::check(&s, &ok).is_empty(), "{bad}");
            assert!(!json::check(&ok, &s).is_empty(), "{bad}");
        }
    });
}

fn chain(n: usize, wrap_in_all_of: bool, last: &Value) -> Value {
    let mut defs = serde_json::Map::new();
    for i in 0..n {
        let r = json!({"$ref": format!("#/definitions/a{}", i + 1)});
        let v = if wrap_in_all_of {
            json!({"allOf": [r]})
        } else {
            r
        };
        defs.insert(format!("a{i}"), v);
    }
    defs.insert(format!("a{n}"), last.clone());
    json!({"$ref": "#/definitions/a0", "definitions": defs})
}

#[test]
fn long_reference_chains_are_cut_off() {
    let string = json!({"type": "string"});
    let refs = chain(10_000, false, &string);
    let all_of = chain(10_000, true, &json!({"type": "integer"}));
    let all_of_wide = chain(10_000, true, &json!({"type": "number"}));
    quick(|| {
        for (r, w) in [
            (&refs, &string),
            (&string, &refs),
            (&all_of, &string),
            (&all_of_wide, &all_of),
        ] {
            let msgs = json::check(r, w);
            assert!(!msgs.is_empty());
            assert!(
                msgs.iter()
                    .any(|m| m.starts_with("REFERENCE_UNRESOLVED") || m.starts_with("TOO_DEEP")),
                "{msgs:?}"
            );
        }
        // A short chain resolves.
        assert!(json::check(&chain(20, false, &string), &string).is_empty());
        assert!(json::check(
            &chain(20, true, &json!({"type": "number"})),
            &chain(20, true, &json!({"type": "integer"}))
        )
        .is_empty());
    });
}

#[test]
fn deep_nesting_is_bounded() {
    // Text nested past serde_json's limit is an invalid schema.
    let deep_text = format!(
        "{}{{}}{}",
        r#"{"allOf":["#.repeat(10_000),
        "]}".repeat(10_000)
    );
    let err = ParsedSchema::parse(SchemaType::Json, &deep_text, vec![], &[]).unwrap_err();
    assert_eq!(err.code(), 42201);
    // Parsed nesting within the limit gets an answer.
    let nested = |depth: usize, leaf: &str| {
        format!(
            "{}{leaf}{}",
            r#"{"allOf":["#.repeat(depth),
            "]}".repeat(depth)
        )
    };
    let a = ParsedSchema::parse(
        SchemaType::Json,
        &nested(60, r#"{"type":"integer"}"#),
        vec![],
        &[],
    )
    .unwrap();
    let b = ParsedSchema::parse(
        SchemaType::Json,
        &nested(60, r#"{"type":"number"}"#),
        vec![],
        &[],
    )
    .unwrap();
    quick(|| {
        let _ = compat::check_pair(&b, &a);
        let _ = compat::check_pair(&a, &b);
    });
    // Values built in code can be deeper than any parsed text; the check stays on a small
    // stack. (Built and dropped on a large stack: dropping them recurses.)
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            let mut x = json!({"type": "integer"});
            let mut y = json!({"type": "number"});
            // (Not `json!`, which would copy the value it wraps.)
            let wrap = |v: Value, describe: bool| {
                let mut m = serde_json::Map::new();
                m.insert("allOf".to_string(), Value::Array(vec![v]));
                if describe {
                    m.insert("description".to_string(), json!("x"));
                }
                Value::Object(m)
            };
            for _ in 0..20_000 {
                x = wrap(x, true);
                y = wrap(y, false);
            }
            quick(|| {
                assert!(!json::check(&y, &x).is_empty());
                assert!(!json::check(&x, &y).is_empty());
            });
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn exponential_schemas_hit_the_budget() {
    // Each level is a oneOf of two references to the next: 2^40 paths.
    let level = |i: usize, last: &str| {
        let mut defs = serde_json::Map::new();
        for j in 0..40 {
            let next = format!("#/definitions/l{}", j + 1);
            defs.insert(
                format!("l{j}"),
                json!({"oneOf": [{"$ref": next}, {"type": "array", "items": {"$ref": next}}]}),
            );
        }
        defs.insert("l40".to_string(), json!({"type": last}));
        json!({"$ref": format!("#/definitions/l{i}"), "definitions": defs})
    };
    let (a, b) = (level(0, "integer"), level(0, "number"));
    quick(|| {
        let _ = json::check(&a, &b);
        let _ = json::check(&b, &a);
    });
}
