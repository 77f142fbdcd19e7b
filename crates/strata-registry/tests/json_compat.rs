//! Table-driven JSON Schema compatibility: (writer, reader, compatible?) pairs.

use serde_json::{json, Value};
use strata_registry::compat::json;

fn obj(props: Value, required: &[&str], additional: Option<bool>) -> Value {
    let mut o = json!({"type": "object", "properties": props, "required": required});
    if let Some(a) = additional {
        o["additionalProperties"] = json!(a);
    }
    o
}

#[test]
fn table() {
    let cases: Vec<(Value, Value, bool)> = vec![
        (json!({"type": "string"}), json!({"type": "string"}), true),
        (json!({"type": "string"}), json!({"type": "integer"}), false),
        (json!({"type": "integer"}), json!({"type": "number"}), true),
        (json!({"type": "number"}), json!({"type": "integer"}), false),
        (
            json!({"type": "string"}),
            json!({"type": ["string", "null"]}),
            true,
        ),
        (
            json!({"type": ["string", "null"]}),
            json!({"type": "string"}),
            false,
        ),
        (json!({}), json!({"type": "string"}), false),
        (json!({"type": "string"}), json!({}), true),
        (json!(true), json!({"type": "string"}), false),
        (json!({"type": "string"}), json!(true), true),
        (json!({"type": "string"}), json!(false), false),
        (json!(false), json!({"type": "string"}), true),
        // required
        (
            obj(json!({"a": {"type": "string"}}), &[], None),
            obj(json!({"a": {"type": "string"}}), &["a"], None),
            false,
        ),
        (
            obj(json!({"a": {"type": "string"}}), &["a"], None),
            obj(json!({"a": {"type": "string"}}), &[], None),
            true,
        ),
        (
            obj(json!({"a": {"type": "string"}}), &["a"], None),
            obj(json!({"a": {"type": "string"}}), &["a"], None),
            true,
        ),
        // properties and content models
        (
            obj(
                json!({"a": {"type": "string"}, "b": {"type": "integer"}}),
                &[],
                None,
            ),
            obj(json!({"a": {"type": "string"}}), &[], Some(false)),
            false,
        ),
        (
            obj(
                json!({"a": {"type": "string"}, "b": {"type": "integer"}}),
                &[],
                Some(false),
            ),
            obj(json!({"a": {"type": "string"}}), &[], None),
            true,
        ),
        (
            obj(json!({"a": {"type": "string"}}), &[], Some(false)),
            obj(json!({"a": {"type": "string"}}), &[], Some(false)),
            true,
        ),
        (
            obj(json!({"a": {"type": "string"}}), &[], None),
            obj(json!({"a": {"type": "string"}}), &[], Some(false)),
            false,
        ),
        (
            obj(json!({"a": {"type": "string"}}), &[], Some(false)),
            obj(
                json!({"a": {"type": "string"}, "b": {"type": "integer"}}),
                &[],
                Some(false),
            ),
            true,
        ),
        (
            obj(json!({"a": {"type": "integer"}}), &[], None),
            obj(json!({"a": {"type": "string"}}), &[], None),
            false,
        ),
        (
            obj(json!({"a": {"type": "integer"}}), &[], None),
            obj(json!({"a": {"type": "number"}}), &[], None),
            true,
        ),
        // enums
        (
            json!({"enum": ["a", "b"]}),
            json!({"enum": ["a", "b", "c"]}),
            true,
        ),
        (
            json!({"enum": ["a", "b", "c"]}),
            json!({"enum": ["a", "b"]}),
            false,
        ),
        (
            json!({"type": "string"}),
            json!({"type": "string", "enum": ["a"]}),
            false,
        ),
        (
            json!({"type": "string", "enum": ["a"]}),
            json!({"type": "string"}),
            true,
        ),
        // numeric bounds
        (
            json!({"type": "integer", "minimum": 0}),
            json!({"type": "integer", "minimum": 5}),
            false,
        ),
        (
            json!({"type": "integer", "minimum": 5}),
            json!({"type": "integer", "minimum": 0}),
            true,
        ),
        (
            json!({"type": "integer", "maximum": 10}),
            json!({"type": "integer", "maximum": 5}),
            false,
        ),
        (
            json!({"type": "integer", "maximum": 5}),
            json!({"type": "integer", "maximum": 10}),
            true,
        ),
        (
            json!({"type": "integer"}),
            json!({"type": "integer", "maximum": 10}),
            false,
        ),
        (
            json!({"type": "string", "maxLength": 10}),
            json!({"type": "string", "maxLength": 20}),
            true,
        ),
        (
            json!({"type": "string", "maxLength": 20}),
            json!({"type": "string", "maxLength": 10}),
            false,
        ),
        (
            json!({"type": "string", "minLength": 1}),
            json!({"type": "string"}),
            true,
        ),
        // arrays
        (
            json!({"type": "array", "items": {"type": "integer"}}),
            json!({"type": "array", "items": {"type": "number"}}),
            true,
        ),
        (
            json!({"type": "array", "items": {"type": "number"}}),
            json!({"type": "array", "items": {"type": "integer"}}),
            false,
        ),
        (
            json!({"type": "array"}),
            json!({"type": "array", "items": {"type": "string"}}),
            false,
        ),
        (
            json!({"type": "array", "maxItems": 3}),
            json!({"type": "array", "maxItems": 2}),
            false,
        ),
    ];
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for (w, r, ok) in &cases {
        let msgs = json::check(r, w);
        if msgs.is_empty() != *ok {
            failures.push(format!(
                "writer {w}\nreader {r}\nexpected compatible={ok}, got {msgs:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn messages_name_the_rule_and_path() {
    let w = obj(json!({"a": {"type": "integer", "minimum": 0}}), &[], None);
    let r = obj(
        json!({"a": {"type": "integer", "minimum": 1}}),
        &["a"],
        None,
    );
    let msgs = json::check(&r, &w);
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("REQUIRED_PROPERTY_ADDED")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("MINIMUM_TIGHTENED at '#/properties/a'")),
        "{msgs:?}"
    );
}
