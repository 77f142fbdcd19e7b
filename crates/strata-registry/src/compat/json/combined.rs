//! `oneOf` / `anyOf` (sum types), `allOf` (product types) and the schemas that mix a
//! combinator with other keywords (the product of both).

use serde_json::{Map, Value};

use super::refs::DocId;
use super::{empty_map, keywords, Checker, Item, Node, CONSTRAINTS};

const COMBINATORS: [&str; 3] = ["allOf", "anyOf", "oneOf"];

/// How a schema is compared.
enum View<'a> {
    True,
    False,
    /// No combinator: compared keyword by keyword.
    Plain(&'a Map<String, Value>),
    /// Only a `oneOf` or an `anyOf`: its alternatives.
    Union(&'static str, &'a [Value]),
    /// `allOf`, several combinators, or a combinator with other keywords: its parts.
    Inter(&'a Map<String, Value>),
}

fn doc_of(i: &Item<'_>) -> DocId {
    match i {
        Item::Val(n) => n.doc,
        Item::Rest(_, d) | Item::Alts(_, _, d) => *d,
    }
}

fn combinator<'a>(m: &'a Map<String, Value>, kw: &str) -> Option<&'a Vec<Value>> {
    m.get(kw).and_then(Value::as_array)
}

/// True when the schema has constraint keywords besides its combinators.
fn has_rest(m: &Map<String, Value>) -> bool {
    CONSTRAINTS
        .iter()
        .any(|k| !COMBINATORS.contains(k) && m.contains_key(*k))
}

fn view<'a>(i: Item<'a>) -> View<'a> {
    match i {
        Item::Rest(m, _) => View::Plain(m),
        Item::Alts(kw, alts, _) => View::Union(kw, alts),
        Item::Val(n) => match n.v {
            Value::Bool(false) => View::False,
            Value::Object(m) => {
                let present: Vec<&'static str> = COMBINATORS
                    .iter()
                    .copied()
                    .filter(|k| combinator(m, k).is_some())
                    .collect();
                match present.as_slice() {
                    [] => View::Plain(m),
                    [kw @ ("anyOf" | "oneOf")] if !has_rest(m) => match combinator(m, kw) {
                        Some(alts) => View::Union(kw, alts),
                        None => View::Plain(m),
                    },
                    _ => View::Inter(m),
                }
            }
            // `true`, and values that are not schemas, accept everything.
            _ => View::True,
        },
    }
}

/// The parts of a product: the other keywords, each `allOf` part, each sum.
fn parts<'a>(m: &'a Map<String, Value>, doc: DocId) -> Vec<(Item<'a>, String)> {
    let mut out = Vec::new();
    if has_rest(m) {
        out.push((Item::Rest(m, doc), String::new()));
    }
    if let Some(all) = combinator(m, "allOf") {
        for (i, v) in all.iter().enumerate() {
            out.push((Item::Val(Node { v, doc }), format!("/allOf/{i}")));
        }
    }
    for kw in ["anyOf", "oneOf"] {
        if let Some(alts) = combinator(m, kw) {
            out.push((Item::Alts(kw, alts, doc), String::new()));
        }
    }
    out
}

/// `(combinator, number of subschemas)` of a schema that is nothing but one combinator.
fn pure(v: &View<'_>) -> Option<(&'static str, usize)> {
    match v {
        View::Union(kw, alts) => Some((kw, alts.len())),
        View::Inter(m) if !has_rest(m) => match (
            combinator(m, "allOf"),
            combinator(m, "anyOf"),
            combinator(m, "oneOf"),
        ) {
            (Some(all), None, None) => Some(("allOf", all.len())),
            _ => None,
        },
        _ => None,
    }
}

/// Confluent's rule on changing the combinator (the reader being the update): to `anyOf`
/// is fine, to `oneOf` only from a singleton, to `allOf` only singleton to singleton.
fn criterion_changed(r: &View<'_>, w: &View<'_>) -> Option<(&'static str, &'static str)> {
    let ((rk, rn), (wk, wn)) = (pure(r)?, pure(w)?);
    let allowed = rk == wk
        || rk == "anyOf"
        || (rk == "oneOf" && wn <= 1)
        || (rk == "allOf" && rn <= 1 && wn <= 1);
    (!allowed).then_some((wk, rk))
}

impl<'a> Checker<'a> {
    /// Compares two resolved items by shape, then keyword by keyword.
    pub(super) fn shapes(&mut self, r: Item<'a>, w: Item<'a>, path: &str) {
        let (rd, wd) = (doc_of(&r), doc_of(&w));
        let rv = view(r);
        let wv = match view(w) {
            View::True => View::Plain(empty_map()),
            other => other,
        };
        match (&rv, &wv) {
            (_, View::False) | (View::True, _) => return,
            (View::False, _) => {
                self.push(format!(
                    "SCHEMA_FALSE at '{path}': the reader rejects every document"
                ));
                return;
            }
            _ => {}
        }
        if let Some((from, to)) = criterion_changed(&rv, &wv) {
            self.push(format!(
                "COMBINED_TYPE_CHANGED at '{path}': the writer's {from} became {to}"
            ));
            return;
        }
        match (rv, wv) {
            (_, View::Union(kw, alts)) => {
                // A sum written: the reader must accept every alternative.
                for (i, v) in alts.iter().enumerate() {
                    let sub = format!("{path}/{kw}/{i}");
                    let alt = Item::Val(Node { v, doc: wd });
                    let (ok, found) = self.trial(|c| c.item(r, alt, &sub));
                    if !ok {
                        self.push(format!(
                            "SUM_TYPE_NARROWED at '{sub}': the reader does not accept this writer alternative"
                        ));
                        self.out.extend(found);
                    }
                }
            }
            (View::Inter(m), _) => {
                // A product read: the writer must satisfy every part.
                for (part, label) in parts(m, rd) {
                    let sub = format!("{path}{label}");
                    if let Item::Val(_) = part {
                        let (ok, found) = self.trial(|c| c.item(part, w, &sub));
                        if !ok {
                            self.push(format!(
                                "PRODUCT_TYPE_EXTENDED at '{sub}': the writer does not satisfy this reader allOf part"
                            ));
                            self.out.extend(found);
                        }
                    } else {
                        self.item(part, w, &sub);
                    }
                }
            }
            (rv @ View::Union(..), wv) | (rv, wv @ View::Inter(_)) => {
                // Enough that one reader alternative accepts the writer, or that the reader
                // accepts one part of the writer's product.
                let mut tries: Vec<(Item<'a>, Item<'a>, String)> = Vec::new();
                if let View::Union(kw, alts) = rv {
                    for (i, v) in alts.iter().enumerate() {
                        let alt = Item::Val(Node { v, doc: rd });
                        tries.push((alt, w, format!("{path}/{kw}/{i}")));
                    }
                }
                if let View::Inter(m) = wv {
                    for (part, _) in parts(m, wd) {
                        tries.push((r, part, path.to_string()));
                    }
                }
                let mut best: Option<Vec<String>> = None;
                for (ri, wi, sub) in tries {
                    let (ok, found) = self.trial(|c| c.item(ri, wi, &sub));
                    if ok {
                        return;
                    }
                    if best.as_ref().is_none_or(|b| found.len() < b.len()) {
                        best = Some(found);
                    }
                }
                self.push(format!(
                    "COMBINED_TYPE_SUBSCHEMAS_CHANGED at '{path}': no reader alternative accepts the writer schema"
                ));
                self.out.extend(best.unwrap_or_default());
            }
            (View::Plain(rm), View::Plain(wm)) => keywords::plain(self, rm, rd, wm, wd, path),
            // `True` / `False` were answered above.
            _ => {}
        }
    }
}
