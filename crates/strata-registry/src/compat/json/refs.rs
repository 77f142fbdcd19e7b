//! `$ref` resolution: JSON pointers inside a schema and into the referenced schemas.

use serde_json::Value;

use super::Node;

/// `$ref`s followed in a row before giving up (a cycle such as `{"$ref": "#"}`, or a
/// hostile chain).
const MAX_REF_HOPS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Side {
    Reader,
    Writer,
}

/// Which document a node belongs to: the schema itself (0) or its i-th reference (i + 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct DocId {
    pub(crate) side: Side,
    pub(crate) idx: usize,
}

impl DocId {
    pub(crate) fn root(side: Side) -> Self {
        Self { side, idx: 0 }
    }
}

/// One side's schema and the schemas it references, by reference name.
pub(crate) struct Docs<'a> {
    main: &'a Value,
    ext: &'a [(String, Value)],
}

impl<'a> Docs<'a> {
    pub(crate) fn new(main: &'a Value, ext: &'a [(String, Value)]) -> Self {
        Self { main, ext }
    }

    fn root(&self, idx: usize) -> Option<&'a Value> {
        if idx == 0 {
            Some(self.main)
        } else {
            self.ext.get(idx - 1).map(|(_, v)| v)
        }
    }

    /// True when a `$ref` means the same on both sides: every document is equal
    /// (compared within a bound).
    pub(crate) fn same_as(&self, other: &Docs<'_>) -> bool {
        if self.ext.len() != other.ext.len() {
            return false;
        }
        if !bounded_eq(self.main, other.main) {
            return false;
        }
        self.ext
            .iter()
            .zip(other.ext.iter())
            .all(|((an, av), (bn, bv))| an == bn && bounded_eq(av, bv))
    }

    /// Follows `$ref`s from `n` to a node without one. Returns the node and the hops made,
    /// or why it does not resolve.
    pub(crate) fn resolve(&self, n: Node<'a>) -> Result<(Node<'a>, usize), String> {
        let mut cur = n;
        let mut hops = 0;
        loop {
            let Some(Value::String(r)) = cur.v.as_object().and_then(|m| m.get("$ref")) else {
                return Ok((cur, hops));
            };
            if hops >= MAX_REF_HOPS {
                return Err(format!(
                    "more than {MAX_REF_HOPS} chained '$ref's, the last '{r}' (a cycle?)"
                ));
            }
            hops += 1;
            cur = self
                .lookup(r, cur.doc)
                .ok_or_else(|| format!("'$ref' '{r}' does not resolve"))?;
        }
    }

    fn lookup(&self, r: &str, from: DocId) -> Option<Node<'a>> {
        let (base, fragment) = r.split_once('#').unwrap_or((r, ""));
        let doc = if base.is_empty() {
            from
        } else if let Some(i) = self.ext.iter().position(|(name, _)| name == base) {
            DocId {
                side: from.side,
                idx: i + 1,
            }
        } else if self.main.get("$id").and_then(Value::as_str) == Some(base) {
            DocId {
                side: from.side,
                idx: 0,
            }
        } else {
            return None;
        };
        let root = self.root(doc.idx)?;
        let fragment = percent_decode(fragment)?;
        if fragment.is_empty() {
            return Some(Node { v: root, doc });
        }
        let pointer = fragment.strip_prefix('/')?; // `$anchor` names are not supported
        let mut v = root;
        for token in pointer.split('/') {
            let token = token.replace("~1", "/").replace("~0", "~");
            v = match v {
                Value::Object(m) => m.get(&token)?,
                Value::Array(a) => a.get(token.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(Node { v, doc })
    }
}

/// Decodes `%XX` escapes of a URI fragment; `None` when malformed or not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Structural equality without recursion, giving up (false) past a bound.
pub(crate) fn bounded_eq(a: &Value, b: &Value) -> bool {
    bounded_eq_within(a, b, 1 << 16, true).is_some()
}

/// Structural equality without recursion, visiting at most `budget` nodes; an object
/// holding `$ref` counts as different unless `refs_comparable` (both sides resolve it
/// in the same documents). Returns the nodes visited when equal, `None` when not equal
/// or past the budget.
pub(crate) fn bounded_eq_within(
    a: &Value,
    b: &Value,
    budget: usize,
    refs_comparable: bool,
) -> Option<usize> {
    let mut left = budget;
    let mut stack: Vec<(&Value, &Value)> = vec![(a, b)];
    while let Some((a, b)) = stack.pop() {
        left = left.checked_sub(1)?;
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                if x.len() != y.len() || (!refs_comparable && x.contains_key("$ref")) {
                    return None;
                }
                for (k, xv) in x {
                    stack.push((xv, y.get(k)?));
                }
            }
            (Value::Array(x), Value::Array(y)) => {
                if x.len() != y.len() {
                    return None;
                }
                stack.extend(x.iter().zip(y.iter()));
            }
            (x, y) => {
                if x != y {
                    return None;
                }
            }
        }
    }
    Some(budget - left)
}
