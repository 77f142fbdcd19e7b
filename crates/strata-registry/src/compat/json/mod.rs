//! JSON Schema compatibility, after Confluent's rules.
//!
//! The question asked is the same as for Avro: can every document valid under the
//! `writer` schema be read by (is it valid under) the `reader` schema? BACKWARD asks it
//! with the new schema as reader, FORWARD with the new schema as writer. Each finding is
//! reported as `TAG at '<path>': detail`, the tag being Confluent's name for the change
//! where Confluent has one.
//!
//! * References (`refs.rs`): `$ref` is resolved inside the schema (`#`, JSON pointers
//!   such as `#/definitions/a`, `#/$defs/a`, with `~0`/`~1` and percent escapes) and to the
//!   schemas given as references (`name#/pointer`, the name being the reference's name).
//!   Siblings of `$ref` are ignored (draft-07). A `$ref` that does not resolve, or a chain
//!   of more than 64 `$ref`s, is reported (`REFERENCE_UNRESOLVED`) unless both sides hold
//!   the same unresolved `$ref` at the same place. Recursive schemas terminate: a pair of
//!   (reader, writer) subschemas met again while being compared is assumed compatible.
//! * Combined schemas (`combined.rs`): `oneOf`/`anyOf` are sum types (the reader must
//!   accept every writer alternative: `SUM_TYPE_NARROWED` otherwise, adding alternatives
//!   is compatible), `allOf` a product type (every reader part must accept the writer:
//!   `PRODUCT_TYPE_EXTENDED` otherwise, dropping parts is compatible). A plain schema may
//!   become a sum containing it and a singleton sum may become its only alternative.
//!   Changing the combinator follows Confluent: to `anyOf` is fine, to `oneOf` only from a
//!   singleton, to `allOf` only singleton to singleton (`COMBINED_TYPE_CHANGED`). A schema
//!   with a combinator and other keywords is the product of both. `not`: the reader's
//!   negated schema must be accepted by the writer's (`NOT_TYPE_EXTENDED`, `NOT_TYPE_ADDED`).
//! * Values (`keywords.rs`): `TYPE_CHANGED` / `TYPE_NARROWED` (`integer` is allowed by
//!   `number`; a writer without `type` has the types of its `enum`/`const`), `ENUM_NARROWED`,
//!   `ENUM_ADDED`, `CONST_ADDED`, `CONST_CHANGED`, `PATTERN_ADDED`, `PATTERN_CHANGED` (a
//!   reader pattern must be the writer's, character for character), bounds (`minimum`,
//!   `exclusiveMinimum`, `minLength`, `minItems`, `minProperties` may not rise, the `max*`
//!   may not fall, none may be added: `*_ADDED`, `*_TIGHTENED`), `multipleOf` (the reader's
//!   must divide the writer's: `MULTIPLE_OF_ADDED`, `MULTIPLE_OF_EXPANDED`,
//!   `MULTIPLE_OF_CHANGED`). Keywords of a type the writer cannot produce are not compared.
//! * Objects (`object.rs`): `REQUIRED_PROPERTY_ADDED` (not when the reader's property has a
//!   `default`, as Confluent), properties compared by name; a property the reader adds is
//!   `PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL` when the writer's content model is open (unless
//!   the reader's schema for it is empty), fine when it is closed, and checked against the
//!   writer's matching `patternProperties` or `additionalProperties` schema when it is
//!   partially open (`PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL`); the
//!   reverse for properties the reader drops (`PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL`,
//!   `PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL`); `patternProperties`
//!   compared by pattern the same way; `ADDITIONAL_PROPERTIES_REMOVED` / `_NARROWED`;
//!   `dependencies`, `dependentRequired`, `dependentSchemas` (`DEPENDENCY_ARRAY_ADDED`,
//!   `_EXTENDED`, `_CHANGED`, `DEPENDENCY_SCHEMA_ADDED`). Patterns are matched with a small
//!   regex subset (`pattern.rs`); a pattern outside it is assumed to maybe match.
//! * Arrays (`array.rs`): `items` as one schema, tuples (`items` as an array with
//!   `additionalItems`, or `prefixItems` with `items`) position by position
//!   (`ITEM_ADDED_TO_OPEN_CONTENT_MODEL`, `ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL`,
//!   `ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL`, `ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL`,
//!   `ADDITIONAL_ITEMS_REMOVED`, `ADDITIONAL_ITEMS_NARROWED`), `UNIQUE_ITEMS_ADDED`.
//!
//! Not compared: `if`/`then`/`else`, `contains`, `propertyNames`, `format`,
//! `unevaluated*`, `$anchor`/`$id`-relative references, metadata (Confluent's reserved
//! properties). Limits: at most 128 nested comparisons (`TOO_DEEP`) and 50,000 in all
//! (`TOO_COMPLEX`); past them the answer is "incompatible", never a panic or a stack
//! overflow.

mod array;
mod combined;
mod keywords;
mod object;
mod pattern;
mod refs;

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use refs::{DocId, Docs, Side};

/// Checks that documents valid under `writer` are valid under `reader`.
/// Returns the incompatibilities; empty means compatible.
pub fn check(reader: &Value, writer: &Value) -> Vec<String> {
    check_with_references(reader, &[], writer, &[])
}

/// The first `$ref` of `schema` (or of the schemas it references) that does not resolve
/// to a part of `schema` or of a referenced schema, with why; `None` when every one
/// does. Bounded: at most [`MAX_REF_SCAN`] nodes are looked at.
pub fn unresolved_ref(schema: &Value, references: &[(String, Value)]) -> Option<String> {
    let docs = Docs::new(schema, references);
    let roots = std::iter::once((schema, 0))
        .chain(references.iter().enumerate().map(|(i, (_, v))| (v, i + 1)));
    let mut budget = MAX_REF_SCAN;
    for (root, idx) in roots {
        let mut stack = vec![root];
        while let Some(v) = stack.pop() {
            budget = budget.checked_sub(1)?;
            match v {
                Value::Object(m) => {
                    // `$anchor` fragments (`#name`) are not followed: not judged either.
                    let pointer = |r: &str| {
                        r.split_once('#')
                            .is_none_or(|(_, f)| f.is_empty() || f.starts_with('/'))
                    };
                    if matches!(m.get("$ref"), Some(Value::String(r)) if pointer(r)) {
                        let doc = DocId {
                            side: Side::Writer,
                            idx,
                        };
                        if let Err(why) = docs.resolve(Node { v, doc }) {
                            return Some(why);
                        }
                    }
                    stack.extend(m.values());
                }
                Value::Array(a) => stack.extend(a.iter()),
                _ => {}
            }
        }
    }
    None
}

/// How many nodes [`unresolved_ref`] looks at, at most.
const MAX_REF_SCAN: usize = 1 << 20;

/// [`check`] with the schemas each side references, as `(reference name, schema)`: a
/// `$ref` whose part before `#` is a reference name resolves into that schema.
pub fn check_with_references(
    reader: &Value,
    reader_refs: &[(String, Value)],
    writer: &Value,
    writer_refs: &[(String, Value)],
) -> Vec<String> {
    let mut c = Checker::new(
        Docs::new(reader, reader_refs),
        Docs::new(writer, writer_refs),
    );
    let r = Node {
        v: reader,
        doc: DocId::root(Side::Reader),
    };
    let w = Node {
        v: writer,
        doc: DocId::root(Side::Writer),
    };
    c.item(Item::Val(r), Item::Val(w), "#");
    if c.exhausted && !c.out.iter().any(|m| m.starts_with("TOO_COMPLEX")) {
        c.out.push(too_complex("#"));
    }
    let mut out: Vec<String> = Vec::with_capacity(c.out.len());
    for m in c.out {
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

/// Nested comparisons allowed (each level is a handful of stack frames).
const MAX_DEPTH: usize = 128;
/// Comparisons allowed in one check.
const MAX_STEPS: usize = 50_000;
/// Nodes an equality shortcut may look at.
const MAX_EQ_NODES: usize = 4_096;

static TRUE_SCHEMA: Value = Value::Bool(true);

static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();

fn empty_map() -> &'static Map<String, Value> {
    EMPTY.get_or_init(Map::new)
}

fn too_complex(path: &str) -> String {
    format!("TOO_COMPLEX at '{path}': the comparison exceeded {MAX_STEPS} steps")
}

/// A schema value and the document its `$ref`s resolve in.
#[derive(Clone, Copy)]
pub(crate) struct Node<'a> {
    v: &'a Value,
    doc: DocId,
}

/// What is compared: a whole schema, the keywords of a schema other than its
/// combinators, or the alternatives of one `oneOf` / `anyOf`.
#[derive(Clone, Copy)]
enum Item<'a> {
    Val(Node<'a>),
    Rest(&'a Map<String, Value>, DocId),
    Alts(&'static str, &'a [Value], DocId),
}

type Key = (usize, DocId, usize, DocId);

pub(crate) struct Checker<'a> {
    reader: Docs<'a>,
    writer: Docs<'a>,
    out: Vec<String>,
    steps: usize,
    depth: usize,
    exhausted: bool,
    /// Both sides have the same documents, so equal subschemas are equal even with `$ref`s.
    same_docs: bool,
    /// Times a limit (depth, steps) cut a comparison short: such results are not memoized.
    limit_hits: usize,
    /// Times a pair under comparison was met again and assumed compatible.
    assumptions: usize,
    in_progress: HashSet<Key>,
    memo: HashMap<Key, Vec<String>>,
}

impl<'a> Checker<'a> {
    fn new(reader: Docs<'a>, writer: Docs<'a>) -> Self {
        let same_docs = reader.same_as(&writer);
        Self {
            reader,
            writer,
            same_docs,
            out: Vec::new(),
            steps: 0,
            depth: 0,
            exhausted: false,
            limit_hits: 0,
            assumptions: 0,
            in_progress: HashSet::new(),
            memo: HashMap::new(),
        }
    }

    fn push(&mut self, msg: String) {
        self.out.push(msg);
    }

    /// Runs `f` with its own message list; returns whether it found nothing and what it found.
    fn trial(&mut self, f: impl FnOnce(&mut Self)) -> (bool, Vec<String>) {
        let saved = std::mem::take(&mut self.out);
        f(self);
        let found = std::mem::replace(&mut self.out, saved);
        (found.is_empty(), found)
    }

    /// Compares two schemas (one step, one level).
    fn item(&mut self, r: Item<'a>, w: Item<'a>, path: &str) {
        if self.exhausted {
            self.push(too_complex(path));
            return;
        }
        self.steps += 1;
        if self.steps > MAX_STEPS {
            self.exhausted = true;
            self.limit_hits += 1;
            self.push(too_complex(path));
            return;
        }
        if self.depth >= MAX_DEPTH {
            self.limit_hits += 1;
            self.push(format!(
                "TOO_DEEP at '{path}': more than {MAX_DEPTH} nested comparisons"
            ));
            return;
        }
        let (r, w) = match (self.resolve_item(r), self.resolve_item(w)) {
            (Ok(r), Ok(w)) => (r, w),
            (Err(re), Err(we)) if re == we => return, // the same opaque `$ref` on both sides
            (Err(e), _) | (_, Err(e)) => {
                self.push(format!("REFERENCE_UNRESOLVED at '{path}': {e}"));
                return;
            }
        };
        let (Item::Val(rn), Item::Val(wn)) = (r, w) else {
            self.depth += 1;
            self.shapes(r, w, path);
            self.depth -= 1;
            return;
        };
        let key: Key = (
            rn.v as *const Value as usize,
            rn.doc,
            wn.v as *const Value as usize,
            wn.doc,
        );
        if self.in_progress.contains(&key) {
            self.assumptions += 1;
            return;
        }
        if let Some(found) = self.memo.get(&key) {
            let found = found.clone();
            self.out.extend(found);
            return;
        }
        if self.equal(rn, wn) {
            return;
        }
        self.in_progress.insert(key);
        self.depth += 1;
        let (before, assumptions, limits) = (self.out.len(), self.assumptions, self.limit_hits);
        self.shapes(r, w, path);
        self.depth -= 1;
        self.in_progress.remove(&key);
        if self.limit_hits == limits {
            let found = &self.out[before..];
            if !found.is_empty() || self.assumptions == assumptions {
                self.memo.insert(key, found.to_vec());
            }
        }
    }

    fn resolve_item(&mut self, i: Item<'a>) -> Result<Item<'a>, String> {
        match i {
            Item::Val(n) => {
                let docs = match n.doc.side {
                    Side::Reader => &self.reader,
                    Side::Writer => &self.writer,
                };
                let (resolved, hops) = docs.resolve(n)?;
                self.steps += hops;
                Ok(Item::Val(resolved))
            }
            other => Ok(other),
        }
    }

    /// Equal schemas are compatible when their `$ref`s (if any) mean the same thing.
    fn equal(&mut self, r: Node<'a>, w: Node<'a>) -> bool {
        let same_docs = self.same_docs && r.doc.idx == w.doc.idx;
        match refs::bounded_eq_within(r.v, w.v, MAX_EQ_NODES, same_docs) {
            Some(visited) => {
                self.steps += visited;
                true
            }
            None => false,
        }
    }
}

/// Keywords that constrain documents (anything else is an annotation).
const CONSTRAINTS: [&str; 35] = [
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "dependencies",
    "dependentRequired",
    "dependentSchemas",
    "propertyNames",
    "items",
    "prefixItems",
    "additionalItems",
    "contains",
    "uniqueItems",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "not",
    "if",
    "allOf",
    "anyOf",
    "oneOf",
    "$ref",
];

/// True for `true` and for schemas without any constraint keyword (`{}`, annotations only).
fn is_empty_schema(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Object(m) => !CONSTRAINTS.iter().any(|k| m.contains_key(*k)),
        _ => false,
    }
}

/// Escapes a property name or pattern for a path (JSON pointer style).
fn seg(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}
