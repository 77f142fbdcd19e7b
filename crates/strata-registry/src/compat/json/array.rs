//! Array keywords: `items` (one schema), tuples (`items` as an array with
//! `additionalItems`, or `prefixItems` with `items`) and `uniqueItems`.

use serde_json::{Map, Value};

use super::refs::DocId;
use super::{is_empty_schema, Checker, Item, Node, TRUE_SCHEMA};

/// One side's items: the schemas by position, then the schema of the items after them
/// (`None`: absent, any item is fine).
struct Items<'a> {
    prefix: &'a [Value],
    prefix_kw: &'static str,
    rest: Option<&'a Value>,
    rest_kw: &'static str,
    doc: DocId,
}

impl<'a> Items<'a> {
    fn new(m: &'a Map<String, Value>, doc: DocId) -> Self {
        let schema = |v: Option<&'a Value>| v.filter(|v| v.is_object() || v.is_boolean());
        if let Some(Value::Array(p)) = m.get("prefixItems") {
            return Self {
                prefix: p,
                prefix_kw: "prefixItems",
                rest: schema(m.get("items")),
                rest_kw: "items",
                doc,
            };
        }
        if let Some(Value::Array(p)) = m.get("items") {
            return Self {
                prefix: p,
                prefix_kw: "items",
                rest: schema(m.get("additionalItems")),
                rest_kw: "additionalItems",
                doc,
            };
        }
        Self {
            prefix: &[],
            prefix_kw: "items",
            rest: schema(m.get("items")),
            rest_kw: "items",
            doc,
        }
    }

    fn node(&self, v: &'a Value) -> Item<'a> {
        Item::Val(Node { v, doc: self.doc })
    }

    fn closed(&self) -> bool {
        self.rest == Some(&Value::Bool(false))
    }

    /// The schema of the items after the prefix when it constrains them.
    fn rest_schema(&self) -> Option<&'a Value> {
        self.rest.filter(|v| !is_empty_schema(v))
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
    if r.get("uniqueItems") == Some(&Value::Bool(true))
        && w.get("uniqueItems") != Some(&Value::Bool(true))
    {
        c.push(format!(
            "UNIQUE_ITEMS_ADDED at '{path}': the reader requires unique items"
        ));
    }
    let (ri, wi) = (Items::new(r, rd), Items::new(w, wd));
    if ri.prefix.is_empty() && wi.prefix.is_empty() {
        if let Some(rs) = ri.rest {
            let ws = wi.rest.unwrap_or(&TRUE_SCHEMA);
            c.item(ri.node(rs), wi.node(ws), &format!("{path}/items"));
        }
        return;
    }
    // Positions past the writer's maxItems never occur.
    let wmax = w
        .get("maxItems")
        .and_then(Value::as_u64)
        .map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX));
    let len = ri.prefix.len().max(wi.prefix.len()).min(wmax);
    for i in 0..len {
        match (ri.prefix.get(i), wi.prefix.get(i)) {
            (Some(rs), Some(ws)) => {
                let sub = format!("{path}/{}/{i}", ri.prefix_kw);
                c.item(ri.node(rs), wi.node(ws), &sub);
            }
            (Some(rs), None) => {
                let sub = format!("{path}/{}/{i}", ri.prefix_kw);
                item_added(c, &ri, rs, &wi, &sub);
            }
            (None, Some(ws)) => {
                let sub = format!("{path}/{}/{i}", wi.prefix_kw);
                item_removed(c, &ri, ws, &wi, &sub);
            }
            (None, None) => {}
        }
    }
    if wi.closed() || wmax <= wi.prefix.len().max(ri.prefix.len()) {
        return;
    }
    let sub = format!("{path}/{}", ri.rest_kw);
    if ri.closed() {
        c.push(format!(
            "ADDITIONAL_ITEMS_REMOVED at '{sub}': the reader allows no items past position {} where the writer does",
            ri.prefix.len()
        ));
    } else if let Some(rs) = ri.rest_schema() {
        match wi.rest_schema() {
            Some(ws) => c.item(ri.node(rs), wi.node(ws), &sub),
            None => c.push(format!(
                "ADDITIONAL_ITEMS_NARROWED at '{sub}': the reader restricts items the writer left open"
            )),
        }
    }
}

/// The reader has a schema for a position the writer only covers with its rest.
fn item_added<'a>(c: &mut Checker<'a>, ri: &Items<'a>, rs: &'a Value, wi: &Items<'a>, sub: &str) {
    if wi.closed() || is_empty_schema(rs) {
        return; // ITEM_ADDED_TO_CLOSED_CONTENT_MODEL, ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL
    }
    match wi.rest_schema() {
        Some(ws) => {
            let (ok, found) = c.trial(|c| c.item(ri.node(rs), wi.node(ws), sub));
            if !ok {
                c.push(format!(
                    "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL at '{sub}': the reader's item does not accept the writer's {}",
                    wi.rest_kw
                ));
                c.out.extend(found);
            }
        }
        None => c.push(format!(
            "ITEM_ADDED_TO_OPEN_CONTENT_MODEL at '{sub}': the reader adds an item schema where the writer allowed any item"
        )),
    }
}

/// The writer has a schema for a position the reader only covers with its rest.
fn item_removed<'a>(c: &mut Checker<'a>, ri: &Items<'a>, ws: &'a Value, wi: &Items<'a>, sub: &str) {
    if ws == &Value::Bool(false) {
        return; // ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL
    }
    if ri.closed() {
        c.push(format!(
            "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL at '{sub}': the reader allows no item at this position"
        ));
    } else if let Some(rs) = ri.rest_schema() {
        let (ok, found) = c.trial(|c| c.item(ri.node(rs), wi.node(ws), sub));
        if !ok {
            c.push(format!(
                "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL at '{sub}': the reader's {} does not accept the writer's item",
                ri.rest_kw
            ));
            c.out.extend(found);
        }
    }
}
