//! Avro reader/writer compatibility, written over `apache-avro`'s parsed [`Schema`].
//!
//! The rules follow the "Schema Resolution" section of the Avro specification. A writer
//! schema is compatible with a reader schema when every datum the writer can produce can
//! be read by the reader:
//!
//! * same primitive types; promotions int→long/float/double, long→float/double,
//!   float→double, string→bytes and bytes→string;
//! * arrays and maps: items/values compared recursively;
//! * named types (record, enum, fixed) must have the same full name, or the reader lists
//!   the writer's full name among its aliases;
//! * fixed: same size; enums: every writer symbol exists in the reader unless the reader
//!   has a default symbol;
//! * records: fields matched by name (or by a reader field alias); a reader field absent
//!   from the writer needs a default; writer fields absent from the reader are skipped;
//! * unions: every writer branch must resolve against the reader; a non-union writer
//!   against a union reader must match one of its branches;
//! * logical types are compared by their underlying type (decimal → bytes/fixed,
//!   date/time-millis → int, timestamps/time-micros → long, uuid → string).
//!
//! Recursive named types are handled by assuming a pair of names compatible while it is
//! being checked (co-induction), so the walk always ends. A reader union may try several
//! branches at every level (aliases can make more than one match), so the walk has a
//! budget of [`MAX_STEPS`] comparisons: a pair that needs more is reported incompatible
//! ("too complex") rather than costing time exponential in its depth. The result is a
//! list of human-readable messages; empty means compatible. Never panics.

use std::collections::{HashMap, HashSet};

use apache_avro::schema::{Aliases, EnumSchema, FixedSchema, Name, RecordSchema, Schema};

/// Most type comparisons one check makes (real schemas need a few hundred).
pub const MAX_STEPS: u32 = 100_000;

/// Checks that data written with `writer` can be read with `reader`.
///
/// `*_named` are the named schemas the references of each side resolved to (used to
/// resolve `Schema::Ref`). Returns the incompatibilities; empty means compatible.
pub fn check(
    reader: &Schema,
    reader_named: &[Schema],
    writer: &Schema,
    writer_named: &[Schema],
) -> Vec<String> {
    let mut rnames = HashMap::new();
    for s in reader_named.iter().chain(std::iter::once(reader)) {
        collect_names(s, &mut rnames);
    }
    let mut wnames = HashMap::new();
    for s in writer_named.iter().chain(std::iter::once(writer)) {
        collect_names(s, &mut wnames);
    }
    let mut checker = Checker {
        rnames,
        wnames,
        in_progress: HashSet::new(),
        steps: 0,
    };
    let mut out = Vec::new();
    let r = view(reader, &checker.rnames);
    let w = view(writer, &checker.wnames);
    checker.check(r, w, "", &mut out);
    if checker.steps > MAX_STEPS {
        out.retain(|m| !m.is_empty());
        out.push(format!(
            "TOO_COMPLEX at '/': comparing the schemas takes more than {MAX_STEPS} steps"
        ));
    }
    out
}

fn collect_names<'a>(s: &'a Schema, map: &mut HashMap<String, &'a Schema>) {
    match s {
        Schema::Array(a) => collect_names(&a.items, map),
        Schema::Map(m) => collect_names(&m.types, map),
        Schema::Union(u) => u.variants().iter().for_each(|v| collect_names(v, map)),
        Schema::Record(r) => {
            map.insert(r.name.fullname(None), s);
            r.fields.iter().for_each(|f| collect_names(&f.schema, map));
        }
        Schema::Enum(e) => {
            map.insert(e.name.fullname(None), s);
        }
        Schema::Fixed(f) => {
            map.insert(f.name.fullname(None), s);
        }
        Schema::Decimal(d) => collect_names(&d.inner, map),
        _ => {}
    }
}

/// A schema seen through logical types and references.
#[derive(Clone, Copy)]
enum View<'a> {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Duration,
    Array(&'a Schema),
    Map(&'a Schema),
    Union(&'a [Schema]),
    Record(&'a RecordSchema),
    Enum(&'a EnumSchema),
    Fixed(&'a FixedSchema),
    Unresolved(&'a Name),
}

fn view<'a>(s: &'a Schema, names: &HashMap<String, &'a Schema>) -> View<'a> {
    view_depth(s, names, 0)
}

fn view_depth<'a>(s: &'a Schema, names: &HashMap<String, &'a Schema>, depth: u8) -> View<'a> {
    match s {
        Schema::Null => View::Null,
        Schema::Boolean => View::Boolean,
        Schema::Int | Schema::Date | Schema::TimeMillis => View::Int,
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => View::Long,
        Schema::Float => View::Float,
        Schema::Double => View::Double,
        Schema::Bytes | Schema::BigDecimal => View::Bytes,
        Schema::String | Schema::Uuid => View::String,
        Schema::Duration => View::Duration,
        Schema::Array(a) => View::Array(&a.items),
        Schema::Map(m) => View::Map(&m.types),
        Schema::Union(u) => View::Union(u.variants()),
        Schema::Record(r) => View::Record(r),
        Schema::Enum(e) => View::Enum(e),
        Schema::Fixed(f) => View::Fixed(f),
        Schema::Decimal(d) if depth < 4 => view_depth(&d.inner, names, depth + 1),
        Schema::Ref { name } if depth < 4 => match names.get(&name.fullname(None)) {
            Some(target) => view_depth(target, names, depth + 1),
            None => View::Unresolved(name),
        },
        Schema::Ref { name } => View::Unresolved(name),
        Schema::Decimal(_) => View::Bytes,
    }
}

fn describe(v: View<'_>) -> String {
    match v {
        View::Null => "null".into(),
        View::Boolean => "boolean".into(),
        View::Int => "int".into(),
        View::Long => "long".into(),
        View::Float => "float".into(),
        View::Double => "double".into(),
        View::Bytes => "bytes".into(),
        View::String => "string".into(),
        View::Duration => "duration".into(),
        View::Array(_) => "array".into(),
        View::Map(_) => "map".into(),
        View::Union(_) => "union".into(),
        View::Record(r) => format!("record {}", r.name.fullname(None)),
        View::Enum(e) => format!("enum {}", e.name.fullname(None)),
        View::Fixed(f) => format!("fixed {}", f.name.fullname(None)),
        View::Unresolved(n) => format!("unresolved reference {}", n.fullname(None)),
    }
}

fn promotes(writer: View<'_>, reader: View<'_>) -> bool {
    use View as V;
    matches!(
        (writer, reader),
        (V::Int, V::Long | V::Float | V::Double)
            | (V::Long, V::Float | V::Double)
            | (V::Float, V::Double)
            | (V::String, V::Bytes)
            | (V::Bytes, V::String)
    )
}

fn names_match(reader: &Name, reader_aliases: &Aliases, writer: &Name) -> bool {
    let wfull = writer.fullname(None);
    if reader.fullname(None) == wfull {
        return true;
    }
    reader_aliases.as_ref().is_some_and(|aliases| {
        aliases
            .iter()
            .any(|a| a.fullname(reader.namespace.clone()) == wfull)
    })
}

fn at(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

struct Checker<'a> {
    rnames: HashMap<String, &'a Schema>,
    wnames: HashMap<String, &'a Schema>,
    /// Pairs of (reader, writer) named types being checked higher up the walk.
    in_progress: HashSet<(String, String)>,
    /// Comparisons made so far (see [`MAX_STEPS`]).
    steps: u32,
}

impl<'a> Checker<'a> {
    fn check(&mut self, r: View<'a>, w: View<'a>, path: &str, out: &mut Vec<String>) {
        self.steps = self.steps.saturating_add(1);
        if self.steps > MAX_STEPS {
            // Reported once by `check` (the free function); the walk unwinds quickly.
            out.push(String::new());
            return;
        }
        match (r, w) {
            (_, View::Union(branches)) => {
                for (i, b) in branches.iter().enumerate() {
                    let wb = view(b, &self.wnames);
                    self.check(r, wb, &format!("{path}/{i}"), out);
                }
            }
            (View::Union(branches), _) => {
                let matched = branches.iter().any(|b| {
                    let rb = view(b, &self.rnames);
                    let mut scratch = Vec::new();
                    self.check(rb, w, path, &mut scratch);
                    scratch.is_empty()
                });
                if !matched {
                    let names: Vec<String> = branches
                        .iter()
                        .map(|b| describe(view(b, &self.rnames)))
                        .collect();
                    out.push(format!(
                        "MISSING_UNION_BRANCH at '{}': writer type {} matches no branch of the reader union [{}]",
                        at(path),
                        describe(w),
                        names.join(", ")
                    ));
                }
            }
            (View::Array(ri), View::Array(wi)) => {
                let (ri, wi) = (view(ri, &self.rnames), view(wi, &self.wnames));
                self.check(ri, wi, &format!("{path}/items"), out);
            }
            (View::Map(rv), View::Map(wv)) => {
                let (rv, wv) = (view(rv, &self.rnames), view(wv, &self.wnames));
                self.check(rv, wv, &format!("{path}/values"), out);
            }
            (View::Fixed(rf), View::Fixed(wf)) => {
                if !names_match(&rf.name, &rf.aliases, &wf.name) {
                    out.push(name_mismatch(path, &rf.name, &wf.name));
                } else if rf.size != wf.size {
                    out.push(format!(
                        "FIXED_SIZE_MISMATCH at '{}': reader fixed {} has size {}, writer size {}",
                        at(path),
                        rf.name.fullname(None),
                        rf.size,
                        wf.size
                    ));
                }
            }
            (View::Enum(re), View::Enum(we)) => self.check_enum(re, we, path, out),
            (View::Record(rr), View::Record(wr)) => self.check_record(rr, wr, path, out),
            (View::Unresolved(_), _) | (_, View::Unresolved(_)) => {
                out.push(format!(
                    "UNRESOLVED_REFERENCE at '{}': cannot compare reader {} with writer {}",
                    at(path),
                    describe(r),
                    describe(w)
                ));
            }
            _ => {
                if std::mem::discriminant(&r) == std::mem::discriminant(&w) || promotes(w, r) {
                    return;
                }
                out.push(format!(
                    "TYPE_MISMATCH at '{}': reader type {} is not compatible with writer type {}",
                    at(path),
                    describe(r),
                    describe(w)
                ));
            }
        }
    }

    fn check_enum(&self, re: &EnumSchema, we: &EnumSchema, path: &str, out: &mut Vec<String>) {
        if !names_match(&re.name, &re.aliases, &we.name) {
            out.push(name_mismatch(path, &re.name, &we.name));
            return;
        }
        if re.default.is_some() {
            return;
        }
        let missing: Vec<&str> = we
            .symbols
            .iter()
            .filter(|s| !re.symbols.contains(s))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            out.push(format!(
                "MISSING_ENUM_SYMBOLS at '{}': reader enum {} lacks writer symbols [{}] and has no default",
                at(path),
                re.name.fullname(None),
                missing.join(", ")
            ));
        }
    }

    fn check_record(
        &mut self,
        rr: &'a RecordSchema,
        wr: &'a RecordSchema,
        path: &str,
        out: &mut Vec<String>,
    ) {
        if !names_match(&rr.name, &rr.aliases, &wr.name) {
            out.push(name_mismatch(path, &rr.name, &wr.name));
            return;
        }
        let pair = (rr.name.fullname(None), wr.name.fullname(None));
        if !self.in_progress.insert(pair.clone()) {
            return; // already being checked higher up: assume compatible
        }
        for (i, rf) in rr.fields.iter().enumerate() {
            let wf = wr.fields.iter().find(|wf| wf.name == rf.name).or_else(|| {
                rf.aliases
                    .as_ref()
                    .and_then(|aliases| wr.fields.iter().find(|wf| aliases.contains(&wf.name)))
            });
            match wf {
                Some(wf) => {
                    let rv = view(&rf.schema, &self.rnames);
                    let wv = view(&wf.schema, &self.wnames);
                    self.check(rv, wv, &format!("{path}/fields/{i}/type"), out);
                }
                None if rf.default.is_some() => {}
                None => out.push(format!(
                    "READER_FIELD_MISSING_DEFAULT_VALUE at '{}/fields/{i}': reader field '{}' of record {} is missing from the writer and has no default",
                    path,
                    rf.name,
                    rr.name.fullname(None)
                )),
            }
        }
        self.in_progress.remove(&pair);
    }
}

fn name_mismatch(path: &str, reader: &Name, writer: &Name) -> String {
    format!(
        "NAME_MISMATCH at '{}': reader name {} does not match writer name {}",
        at(path),
        reader.fullname(None),
        writer.fullname(None)
    )
}
