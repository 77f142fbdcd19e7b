//! Object keywords: `required`, `properties`, `patternProperties`,
//! `additionalProperties` (open, closed and partially open content models) and
//! `dependencies` / `dependentRequired` / `dependentSchemas`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::pattern::{matches, Match};
use super::refs::DocId;
use super::{empty_map, is_empty_schema, seg, Checker, Item, Node};

fn required(m: &Map<String, Value>) -> BTreeSet<&str> {
    match m.get("required") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => BTreeSet::new(),
    }
}

fn map_of<'a>(m: &'a Map<String, Value>, key: &str) -> &'a Map<String, Value> {
    match m.get(key) {
        Some(Value::Object(p)) => p,
        _ => empty_map(),
    }
}

/// A property name, or a `patternProperties` pattern standing for the names it matches.
#[derive(Clone, Copy)]
enum Name<'s> {
    Prop(&'s str),
    Pattern(&'s str),
}

impl Name<'_> {
    fn describe(&self) -> String {
        match self {
            Name::Prop(n) => format!("property '{n}'"),
            Name::Pattern(p) => format!("pattern property '{p}'"),
        }
    }
}

/// One side's object content model.
struct Model<'a> {
    props: &'a Map<String, Value>,
    patterns: &'a Map<String, Value>,
    additional: Option<&'a Value>,
    doc: DocId,
}

impl<'a> Model<'a> {
    fn new(m: &'a Map<String, Value>, doc: DocId) -> Self {
        Self {
            props: map_of(m, "properties"),
            patterns: map_of(m, "patternProperties"),
            additional: m.get("additionalProperties"),
            doc,
        }
    }

    fn node(&self, v: &'a Value) -> Item<'a> {
        Item::Val(Node { v, doc: self.doc })
    }

    fn closed(&self) -> bool {
        self.additional == Some(&Value::Bool(false))
    }

    /// The `additionalProperties` schema of a partially open model.
    fn additional_schema(&self) -> Option<&'a Value> {
        self.additional
            .filter(|v| v.is_object() && !is_empty_schema(v))
    }
}

pub(super) fn check<'a>(
    c: &mut Checker<'a>,
    r: &'a Map<String, Value>,
    rd: DocId,
    w: &'a Map<String, Value>,
    wd: DocId,
    path: &str,
) {
    let (rm, wm) = (Model::new(r, rd), Model::new(w, wd));
    let wreq = required(w);
    for p in required(r) {
        // Confluent accepts a required property with a default.
        let has_default = rm
            .props
            .get(p)
            .and_then(Value::as_object)
            .is_some_and(|s| s.contains_key("default"));
        if !wreq.contains(p) && !has_default {
            c.push(format!(
                "REQUIRED_PROPERTY_ADDED at '{path}': the reader requires property '{p}'"
            ));
        }
    }
    for (name, ws) in wm.props {
        let sub = format!("{path}/properties/{}", seg(name));
        match rm.props.get(name) {
            Some(rs) => c.item(rm.node(rs), wm.node(ws), &sub),
            None => reader_covers(c, &rm, ws, &wm, Name::Prop(name), path, &sub),
        }
    }
    for (p, ws) in wm.patterns {
        let sub = format!("{path}/patternProperties/{}", seg(p));
        match rm.patterns.get(p) {
            Some(rs) => c.item(rm.node(rs), wm.node(ws), &sub),
            None => reader_covers(c, &rm, ws, &wm, Name::Pattern(p), path, &sub),
        }
    }
    for (name, rs) in rm.props {
        if !wm.props.contains_key(name) {
            let sub = format!("{path}/properties/{}", seg(name));
            writer_allows(c, &rm, rs, &wm, Name::Prop(name), &sub);
        }
    }
    for (p, rs) in rm.patterns {
        if !wm.patterns.contains_key(p) {
            let sub = format!("{path}/patternProperties/{}", seg(p));
            writer_allows(c, &rm, rs, &wm, Name::Pattern(p), &sub);
        }
    }
    check_additional(c, &rm, &wm, path);
    check_dependencies(c, r, &rm, w, &wm, path);
}

/// The writer has `name` (schema `ws`) and the reader does not declare it: the reader's
/// matching patterns, else its `additionalProperties`, must accept it.
fn reader_covers<'a>(
    c: &mut Checker<'a>,
    rm: &Model<'a>,
    ws: &'a Value,
    wm: &Model<'a>,
    name: Name<'_>,
    path: &str,
    sub: &str,
) {
    if ws == &Value::Bool(false) {
        return; // the writer never has it
    }
    let mut covered = false;
    if let Name::Prop(n) = name {
        for (p, rs) in rm.patterns {
            let m = matches(p, n);
            if m == Match::No {
                continue;
            }
            covered |= m == Match::Yes;
            let (ok, found) = c.trial(|c| c.item(rm.node(rs), wm.node(ws), sub));
            if !ok {
                c.push(format!(
                    "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL at '{sub}': reader pattern property '{p}' does not accept the writer's {}",
                    name.describe()
                ));
                c.out.extend(found);
            }
        }
    }
    if covered {
        return;
    }
    if rm.closed() {
        c.push(format!(
            "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL at '{path}': writer {} is not allowed by the reader",
            name.describe()
        ));
    } else if let Some(ra) = rm.additional_schema() {
        let (ok, found) = c.trial(|c| c.item(rm.node(ra), wm.node(ws), sub));
        if !ok {
            c.push(format!(
                "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL at '{sub}': the reader's additionalProperties do not accept the writer's {}",
                name.describe()
            ));
            c.out.extend(found);
        }
    }
}

/// The reader declares `name` (schema `rs`) and the writer does not: whatever the writer
/// allows under that name (its matching patterns, else its `additionalProperties`) must be
/// accepted.
fn writer_allows<'a>(
    c: &mut Checker<'a>,
    rm: &Model<'a>,
    rs: &'a Value,
    wm: &Model<'a>,
    name: Name<'_>,
    sub: &str,
) {
    if is_empty_schema(rs) {
        return; // PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL
    }
    let not_covered = |c: &mut Checker<'a>, what: String, found: Vec<String>| {
        c.push(format!(
            "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL at '{sub}': the reader's {} does not accept {what}",
            name.describe()
        ));
        c.out.extend(found);
    };
    let mut covered = false;
    match name {
        Name::Prop(n) => {
            for (p, ws) in wm.patterns {
                let m = matches(p, n);
                if m == Match::No {
                    continue;
                }
                covered |= m == Match::Yes;
                let (ok, found) = c.trial(|c| c.item(rm.node(rs), wm.node(ws), sub));
                if !ok {
                    not_covered(c, format!("the writer's pattern property '{p}'"), found);
                }
            }
        }
        Name::Pattern(p) => {
            // The writer's declared properties the new pattern matches must fit it.
            for (n, ws) in wm.props {
                if matches(p, n) == Match::No {
                    continue;
                }
                let (ok, found) = c.trial(|c| c.item(rm.node(rs), wm.node(ws), sub));
                if !ok {
                    not_covered(c, format!("the writer's property '{n}'"), found);
                }
            }
        }
    }
    if covered || wm.closed() {
        return; // OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL
    }
    if let Some(wa) = wm.additional_schema() {
        let (ok, found) = c.trial(|c| c.item(rm.node(rs), wm.node(wa), sub));
        if !ok {
            not_covered(c, "the writer's additionalProperties".to_string(), found);
        }
    } else {
        c.push(format!(
            "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL at '{sub}': the reader adds {} to a content model the writer left open",
            name.describe()
        ));
    }
}

fn check_additional<'a>(c: &mut Checker<'a>, rm: &Model<'a>, wm: &Model<'a>, path: &str) {
    if rm.closed() {
        if !wm.closed() {
            c.push(format!(
                "ADDITIONAL_PROPERTIES_REMOVED at '{path}': the reader closes the content model the writer left open"
            ));
        }
        return;
    }
    let Some(ra) = rm.additional_schema() else {
        return;
    };
    if wm.closed() {
        return;
    }
    match wm.additional_schema() {
        Some(wa) => c.item(
            rm.node(ra),
            wm.node(wa),
            &format!("{path}/additionalProperties"),
        ),
        None => c.push(format!(
            "ADDITIONAL_PROPERTIES_NARROWED at '{path}': the reader restricts additional properties the writer left open"
        )),
    }
}

type Dependencies<'a> = (
    BTreeMap<&'a str, BTreeSet<&'a str>>,
    BTreeMap<&'a str, &'a Value>,
);

/// Property dependencies (`dependencies` arrays, `dependentRequired`) and schema
/// dependencies (`dependencies` schemas, `dependentSchemas`).
fn dependencies(m: &Map<String, Value>) -> Dependencies<'_> {
    let (mut arrays, mut schemas) = (BTreeMap::new(), BTreeMap::new());
    for kw in ["dependencies", "dependentRequired", "dependentSchemas"] {
        for (k, v) in map_of(m, kw) {
            match v {
                Value::Array(a) if kw != "dependentSchemas" => {
                    arrays
                        .entry(k.as_str())
                        .or_insert_with(BTreeSet::new)
                        .extend(a.iter().filter_map(Value::as_str));
                }
                Value::Object(_) | Value::Bool(_) if kw != "dependentRequired" => {
                    schemas.insert(k.as_str(), v);
                }
                _ => {}
            }
        }
    }
    (arrays, schemas)
}

fn check_dependencies<'a>(
    c: &mut Checker<'a>,
    r: &'a Map<String, Value>,
    rm: &Model<'a>,
    w: &'a Map<String, Value>,
    wm: &Model<'a>,
    path: &str,
) {
    let ((rarrays, rschemas), (warrays, wschemas)) = (dependencies(r), dependencies(w));
    let wreq = required(w);
    for (k, rlist) in &rarrays {
        let wlist = warrays.get(k);
        let missing: Vec<&str> = rlist
            .iter()
            .copied()
            .filter(|p| !wreq.contains(p) && !wlist.is_some_and(|l| l.contains(p)))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let tag = match wlist {
            None => "DEPENDENCY_ARRAY_ADDED",
            Some(l) if l.is_subset(rlist) => "DEPENDENCY_ARRAY_EXTENDED",
            Some(_) => "DEPENDENCY_ARRAY_CHANGED",
        };
        c.push(format!(
            "{tag} at '{path}/dependencies/{}': with '{k}' present the reader also requires {missing:?}",
            seg(k)
        ));
    }
    for (k, rs) in &rschemas {
        let sub = format!("{path}/dependencies/{}", seg(k));
        match wschemas.get(k) {
            Some(ws) => c.item(rm.node(rs), wm.node(ws), &sub),
            None if is_empty_schema(rs) => {}
            None => c.push(format!(
                "DEPENDENCY_SCHEMA_ADDED at '{sub}': the reader adds a schema dependency on '{k}'"
            )),
        }
    }
}
