//! Keywords on values: `type`, `enum`, `const`, bounds, `multipleOf`, `pattern`, `not`;
//! then the object and array keywords (`object.rs`, `array.rs`).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::refs::DocId;
use super::{array, object, Checker, Item, Node};

const NUMERIC_BOUNDS: [(&str, bool); 4] = [
    ("minimum", true),
    ("exclusiveMinimum", true),
    ("maximum", false),
    ("exclusiveMaximum", false),
];
const STRING_BOUNDS: [(&str, bool); 2] = [("minLength", true), ("maxLength", false)];
const ARRAY_BOUNDS: [(&str, bool); 2] = [("minItems", true), ("maxItems", false)];
const OBJECT_BOUNDS: [(&str, bool); 2] = [("minProperties", true), ("maxProperties", false)];

/// Compares two schemas without combinators, keyword by keyword.
pub(super) fn plain<'a>(
    c: &mut Checker<'a>,
    r: &'a Map<String, Value>,
    rd: DocId,
    w: &'a Map<String, Value>,
    wd: DocId,
    path: &str,
) {
    let wtypes = writer_types(w);
    // Keywords of a type the writer never produces do not matter.
    let may = |t: &str| match &wtypes {
        None => true,
        Some(s) => s.contains(t) || (t == "number" && s.contains("integer")),
    };
    check_types(c, r, wtypes.as_ref(), path);
    check_values(c, r, w, path);
    if may("string") {
        check_bounds(c, r, w, &STRING_BOUNDS, path);
        check_pattern(c, r, w, path);
    }
    if may("number") {
        check_bounds(c, r, w, &NUMERIC_BOUNDS, path);
        check_multiple_of(c, r, w, path);
    }
    if may("object") {
        check_bounds(c, r, w, &OBJECT_BOUNDS, path);
        object::check(c, r, rd, w, wd, path);
    }
    if may("array") {
        check_bounds(c, r, w, &ARRAY_BOUNDS, path);
        array::check(c, r, rd, w, wd, path);
    }
    check_not(c, r, rd, w, wd, wtypes.as_ref(), path);
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

fn value_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The values a schema restricts documents to (`const`, else `enum`).
fn allowed_values(m: &Map<String, Value>) -> Option<Vec<&Value>> {
    if let Some(c) = m.get("const") {
        return Some(vec![c]);
    }
    match m.get("enum") {
        Some(Value::Array(a)) => Some(a.iter().collect()),
        _ => None,
    }
}

/// The writer's types: its `type`, else the types of its `enum` / `const` values.
fn writer_types(w: &Map<String, Value>) -> Option<BTreeSet<String>> {
    type_set(w).or_else(|| {
        allowed_values(w).map(|vs| vs.into_iter().map(|v| value_type(v).to_string()).collect())
    })
}

fn check_types(
    c: &mut Checker<'_>,
    r: &Map<String, Value>,
    wtypes: Option<&BTreeSet<String>>,
    path: &str,
) {
    let Some(rtypes) = type_set(r) else { return };
    let Some(wtypes) = wtypes else {
        c.push(format!(
            "TYPE_NARROWED at '{path}': the writer allows any type, the reader only {rtypes:?}"
        ));
        return;
    };
    for wt in wtypes {
        let ok = rtypes.contains(wt) || (wt == "integer" && rtypes.contains("number"));
        if !ok {
            c.push(format!(
                "TYPE_CHANGED at '{path}': writer type '{wt}' is not allowed by reader types {rtypes:?}"
            ));
        }
    }
}

fn check_values(c: &mut Checker<'_>, r: &Map<String, Value>, w: &Map<String, Value>, path: &str) {
    let wvalues = allowed_values(w);
    if let Some(Value::Array(renum)) = r.get("enum") {
        match &wvalues {
            Some(wv) => {
                let missing: Vec<String> = wv
                    .iter()
                    .filter(|v| !renum.contains(v))
                    .map(|v| v.to_string())
                    .collect();
                if !missing.is_empty() {
                    c.push(format!(
                        "ENUM_NARROWED at '{path}': reader enum lacks writer values [{}]",
                        missing.join(", ")
                    ));
                }
            }
            None => c.push(format!(
                "ENUM_ADDED at '{path}': the reader restricts values to an enum the writer did not have"
            )),
        }
    }
    if let Some(rc) = r.get("const") {
        match &wvalues {
            Some(wv) if wv.iter().all(|v| *v == rc) => {}
            Some(_) => c.push(format!(
                "CONST_CHANGED at '{path}': the reader's const {rc} differs from the writer's values"
            )),
            None => c.push(format!(
                "CONST_ADDED at '{path}': the reader restricts values to the const {rc}"
            )),
        }
    }
}

fn check_bounds(
    c: &mut Checker<'_>,
    r: &Map<String, Value>,
    w: &Map<String, Value>,
    keys: &[(&str, bool)],
    path: &str,
) {
    for (key, lower) in keys {
        let Some(rv) = r.get(*key).and_then(Value::as_f64) else {
            continue;
        };
        match w.get(*key).and_then(Value::as_f64) {
            None => c.push(format!(
                "{}_ADDED at '{path}': the reader adds {key} {rv}",
                upper_snake(key)
            )),
            Some(wv) if (*lower && rv > wv) || (!*lower && rv < wv) => c.push(format!(
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

/// True when `a` is a whole multiple of `b` (both positive).
fn is_multiple(a: &Value, b: &Value) -> bool {
    if let (Some(a), Some(b)) = (a.as_u64(), b.as_u64()) {
        return b != 0 && a % b == 0;
    }
    let (Some(a), Some(b)) = (a.as_f64(), b.as_f64()) else {
        return false;
    };
    let q = a / b;
    q.is_finite() && q >= 1.0 - 1e-9 && (q - q.round()).abs() <= 1e-9 * q.max(1.0)
}

/// The reader's `multipleOf` must divide the writer's (Confluent: reducing it is
/// compatible, expanding, changing or adding it is not).
fn check_multiple_of(
    c: &mut Checker<'_>,
    r: &Map<String, Value>,
    w: &Map<String, Value>,
    path: &str,
) {
    let Some(rm) = r
        .get("multipleOf")
        .filter(|v| v.as_f64().is_some_and(|f| f > 0.0))
    else {
        return;
    };
    match w.get("multipleOf").filter(|v| v.as_f64().is_some()) {
        None => c.push(format!(
            "MULTIPLE_OF_ADDED at '{path}': the reader adds multipleOf {rm}"
        )),
        Some(wm) if is_multiple(wm, rm) => {}
        Some(wm) if is_multiple(rm, wm) => c.push(format!(
            "MULTIPLE_OF_EXPANDED at '{path}': multipleOf changed from {wm} to {rm}"
        )),
        Some(wm) => c.push(format!(
            "MULTIPLE_OF_CHANGED at '{path}': multipleOf changed from {wm} to {rm}, which does not divide it"
        )),
    }
}

/// A reader `pattern` must be the writer's, character for character.
fn check_pattern(c: &mut Checker<'_>, r: &Map<String, Value>, w: &Map<String, Value>, path: &str) {
    let Some(rp) = r.get("pattern").and_then(Value::as_str) else {
        return;
    };
    match w.get("pattern").and_then(Value::as_str) {
        None => c.push(format!(
            "PATTERN_ADDED at '{path}': the reader adds pattern '{rp}'"
        )),
        Some(wp) if wp != rp => c.push(format!(
            "PATTERN_CHANGED at '{path}': pattern changed from '{wp}' to '{rp}'"
        )),
        Some(_) => {}
    }
}

/// `not`: what the reader excludes must be excluded by the writer too, that is the
/// writer's negated schema must accept the reader's.
fn check_not<'a>(
    c: &mut Checker<'a>,
    r: &'a Map<String, Value>,
    rd: DocId,
    w: &'a Map<String, Value>,
    wd: DocId,
    wtypes: Option<&BTreeSet<String>>,
    path: &str,
) {
    let Some(rn) = r.get("not") else { return };
    if rn == &Value::Bool(false) {
        return;
    }
    let sub = format!("{path}/not");
    match w.get("not") {
        Some(wn) => {
            let (reader, writer) = (
                Item::Val(Node { v: wn, doc: wd }),
                Item::Val(Node { v: rn, doc: rd }),
            );
            let (ok, found) = c.trial(|c| c.item(reader, writer, &sub));
            if !ok {
                c.push(format!(
                    "NOT_TYPE_EXTENDED at '{sub}': the reader excludes documents the writer allows"
                ));
                c.out.extend(found);
            }
        }
        None => {
            // `not: {"type": X}` with a writer that never produces X excludes nothing.
            let disjoint = rn.as_object().is_some_and(|m| {
                m.len() == 1
                    && type_set(m).zip(wtypes).is_some_and(|(nt, wt)| {
                        wt.iter()
                            .all(|t| !(nt.contains(t) || (t == "integer" && nt.contains("number"))))
                    })
            });
            if !disjoint {
                c.push(format!(
                    "NOT_TYPE_ADDED at '{sub}': the reader excludes documents the writer allows"
                ));
            }
        }
    }
}
