//! JSON Schema compatibility: a subset of Confluent's rules.
//!
//! The question asked is the same as for Avro: can every document valid under the
//! `writer` schema be read by (is it valid under) the `reader` schema? Rules implemented,
//! each reported with an upper-case tag:
//!
//! * `TYPE_CHANGED` / `TYPE_NARROWED`: every writer `type` must be allowed by the reader
//!   (`integer` is allowed by `number`); a reader `type` where the writer had none narrows.
//! * `REQUIRED_PROPERTY_ADDED`: the reader requires a property the writer did not require.
//! * `PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL`: a writer property the reader does not
//!   declare while the reader has `additionalProperties: false`.
//! * `ADDITIONAL_PROPERTIES_REMOVED`: the reader closes (`additionalProperties: false`) a
//!   content model the writer left open.
//! * `ENUM_ADDED` / `ENUM_NARROWED`: the reader's `enum` must contain every writer value
//!   (widening is compatible).
//! * `*_ADDED` / `*_TIGHTENED` for numeric bounds: `minimum`, `exclusiveMinimum`,
//!   `minLength`, `minItems`, `minProperties` may not rise, the `max*` ones may not fall,
//!   and none may appear in the reader when the writer had none.
//! * `properties`, `additionalProperties` (as schemas) and `items` (single schema) are
//!   compared recursively; boolean schemas are supported (`true`/`{}` accepts everything).
//!
//! Not implemented: `$ref` resolution, `oneOf`/`anyOf`/`allOf`, `not`, `const`,
//! `pattern`, `patternProperties`, `dependencies`, tuple `items`, `multipleOf`, and
//! Confluent's "property added to open content model" rule. Never panics.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// Checks that documents valid under `writer` are valid under `reader`.
/// Returns the incompatibilities; empty means compatible.
pub fn check(reader: &Value, writer: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check_at(reader, writer, "#", &mut out);
    out
}

const LOWER_BOUNDS: [&str; 5] = [
    "minimum",
    "exclusiveMinimum",
    "minLength",
    "minItems",
    "minProperties",
];
const UPPER_BOUNDS: [&str; 5] = [
    "maximum",
    "exclusiveMaximum",
    "maxLength",
    "maxItems",
    "maxProperties",
];

static TRUE_SCHEMA: Value = Value::Bool(true);

static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();

fn empty_map() -> &'static Map<String, Value> {
    EMPTY.get_or_init(Map::new)
}

fn check_at(reader: &Value, writer: &Value, path: &str, out: &mut Vec<String>) {
    // Writer `false` accepts nothing; reader `true` accepts everything.
    if writer == &Value::Bool(false) || reader == &Value::Bool(true) {
        return;
    }
    let r = match reader {
        Value::Object(m) => m,
        _ => {
            out.push(format!(
                "SCHEMA_FALSE at '{path}': the reader rejects every document"
            ));
            return;
        }
    };
    let w = match writer {
        Value::Object(m) => m,
        _ => empty_map(), // `true` behaves like `{}`
    };
    check_types(r, w, path, out);
    check_enum(r, w, path, out);
    check_bounds(r, w, path, out);
    check_object(r, w, path, out);
    check_items(r, w, path, out);
}

fn type_set(m: &Map<String, Value>) -> Option<BTreeSet<String>> {
    match m.get("type")? {
        Value::String(s) => Some(BTreeSet::from([s.clone()])),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        ),
        _ => None,
    }
}

fn check_types(r: &Map<String, Value>, w: &Map<String, Value>, path: &str, out: &mut Vec<String>) {
    let Some(rtypes) = type_set(r) else { return };
    let Some(wtypes) = type_set(w) else {
        out.push(format!(
            "TYPE_NARROWED at '{path}': the writer allows any type, the reader only {rtypes:?}"
        ));
        return;
    };
    for wt in &wtypes {
        let ok = rtypes.contains(wt) || (wt == "integer" && rtypes.contains("number"));
        if !ok {
            out.push(format!(
                "TYPE_CHANGED at '{path}': writer type '{wt}' is not allowed by reader types {rtypes:?}"
            ));
        }
    }
}

fn check_enum(r: &Map<String, Value>, w: &Map<String, Value>, path: &str, out: &mut Vec<String>) {
    let Some(Value::Array(renum)) = r.get("enum") else {
        return;
    };
    match w.get("enum") {
        Some(Value::Array(wenum)) => {
            let missing: Vec<String> = wenum
                .iter()
                .filter(|v| !renum.contains(v))
                .map(Value::to_string)
                .collect();
            if !missing.is_empty() {
                out.push(format!(
                    "ENUM_NARROWED at '{path}': reader enum lacks writer values [{}]",
                    missing.join(", ")
                ));
            }
        }
        _ => out.push(format!(
            "ENUM_ADDED at '{path}': the reader restricts values to an enum the writer did not have"
        )),
    }
}

fn check_bounds(r: &Map<String, Value>, w: &Map<String, Value>, path: &str, out: &mut Vec<String>) {
    let pairs = LOWER_BOUNDS
        .iter()
        .map(|k| (k, true))
        .chain(UPPER_BOUNDS.iter().map(|k| (k, false)));
    for (key, lower) in pairs {
        let Some(rv) = r.get(*key).and_then(Value::as_f64) else {
            continue;
        };
        match w.get(*key).and_then(Value::as_f64) {
            None => out.push(format!(
                "{}_ADDED at '{path}': the reader adds {key} {rv}",
                upper_snake(key)
            )),
            Some(wv) if (lower && rv > wv) || (!lower && rv < wv) => out.push(format!(
                "{}_TIGHTENED at '{path}': {key} changed from {wv} to {rv}",
                upper_snake(key)
            )),
            Some(_) => {}
        }
    }
}

fn upper_snake(key: &str) -> String {
    let mut s = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            s.push('_');
        }
        s.push(c.to_ascii_uppercase());
    }
    s
}

fn required(m: &Map<String, Value>) -> BTreeSet<&str> {
    match m.get("required") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => BTreeSet::new(),
    }
}

fn properties(m: &Map<String, Value>) -> &Map<String, Value> {
    match m.get("properties") {
        Some(Value::Object(p)) => p,
        _ => empty_map(),
    }
}

fn check_object(r: &Map<String, Value>, w: &Map<String, Value>, path: &str, out: &mut Vec<String>) {
    let wreq = required(w);
    for p in required(r).difference(&wreq) {
        out.push(format!(
            "REQUIRED_PROPERTY_ADDED at '{path}': the reader requires property '{p}'"
        ));
    }
    let (rprops, wprops) = (properties(r), properties(w));
    let r_additional = r.get("additionalProperties");
    let r_closed = r_additional == Some(&Value::Bool(false));
    for (name, wschema) in wprops {
        let sub = format!("{path}/properties/{name}");
        match rprops.get(name) {
            Some(rschema) => check_at(rschema, wschema, &sub, out),
            None if r_closed => out.push(format!(
                "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL at '{path}': writer property '{name}' is not allowed by the reader"
            )),
            None => {
                if let Some(ra @ Value::Object(_)) = r_additional {
                    check_at(ra, wschema, &sub, out);
                }
            }
        }
    }
    let w_additional = w.get("additionalProperties");
    let w_closed = w_additional == Some(&Value::Bool(false));
    if r_closed && !w_closed {
        out.push(format!(
            "ADDITIONAL_PROPERTIES_REMOVED at '{path}': the reader closes the content model the writer left open"
        ));
    } else if let (Some(ra @ Value::Object(_)), Some(wa @ Value::Object(_))) =
        (r_additional, w_additional)
    {
        check_at(ra, wa, &format!("{path}/additionalProperties"), out);
    }
}

fn check_items(r: &Map<String, Value>, w: &Map<String, Value>, path: &str, out: &mut Vec<String>) {
    let Some(ritems @ (Value::Object(_) | Value::Bool(_))) = r.get("items") else {
        return;
    };
    let witems = match w.get("items") {
        Some(wi @ (Value::Object(_) | Value::Bool(_))) => wi,
        _ => &TRUE_SCHEMA,
    };
    check_at(ritems, witems, &format!("{path}/items"), out);
}
