//! PROTOBUF compatibility: our rules on the wire format.
//!
//! The question is the same as for Avro: can a message written with the `writer` file be
//! read with the `reader` file? The first message of each file is the record type; it is
//! compared, and so is every message type reachable from the writer's first message
//! through its fields, matched by full name. Rules, each reported with an upper-case tag
//! and the place (`package.Message` or `package.Message.<field number>`):
//!
//! * `PACKAGE_CHANGED`: the files declare different packages.
//! * `FIRST_MESSAGE_CHANGED`: the reader's first message is another message than the
//!   writer's (which the reader still defines elsewhere).
//! * `MESSAGE_MISSING`: a writer message (the first one or one reachable from it) has no
//!   message of the same full name in the reader.
//! * `FIELD_KIND_CHANGED`: a field number in both has kinds that do not share a wire
//!   encoding. Compatible groups: {int32, uint32, int64, uint64, bool}, {sint32, sint64},
//!   {string, bytes}, {fixed32, sfixed32}, {fixed64, sfixed64}.
//! * `FIELD_TYPE_CHANGED`: a message or enum field whose type's full name changed.
//! * `REQUIRED_FIELD_ADDED` / `REQUIRED_FIELD_REMOVED` / `FIELD_REQUIRED_CHANGED`: a
//!   proto2 `required` field only in the reader, only in the writer, or required on one
//!   side only. Other added or removed fields are compatible.
//! * `FIELD_MOVED_TO_ONEOF`: a field outside any oneof in the writer is inside a (real,
//!   non-synthetic) oneof in the reader.
//! * `FIELD_CARDINALITY_CHANGED`: a message, string or bytes field changes between
//!   singular and repeated (numeric fields may: packed and unpacked parse alike).
//!
//! Field names, enum values, field order and everything else are compatible. Never panics;
//! message cycles are visited once.

use std::collections::{BTreeSet, VecDeque};

use prost_reflect::{Cardinality, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor};

/// Checks that messages written with `writer` can be read with `reader`.
/// Returns the incompatibilities; empty means compatible.
pub fn check(reader: &FileDescriptor, writer: &FileDescriptor) -> Vec<String> {
    let mut out = Vec::new();
    if reader.package_name() != writer.package_name() {
        out.push(format!(
            "PACKAGE_CHANGED: reader package '{}' differs from writer package '{}'",
            reader.package_name(),
            writer.package_name()
        ));
    }
    let Some(w_root) = writer.messages().next() else {
        return out;
    };
    let r_pool = reader.parent_pool();
    match reader.messages().next() {
        Some(r_root) if r_root.full_name() == w_root.full_name() => {}
        Some(r_root) if r_pool.get_message_by_name(w_root.full_name()).is_some() => {
            out.push(format!(
                "FIRST_MESSAGE_CHANGED at '{}': the reader's first message is '{}'",
                w_root.full_name(),
                r_root.full_name()
            ));
            return out;
        }
        _ => {
            out.push(missing(w_root.full_name()));
            return out;
        }
    }
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut queue: VecDeque<MessageDescriptor> = VecDeque::from([w_root]);
    while let Some(w) = queue.pop_front() {
        if !seen.insert(w.full_name().to_string()) {
            continue;
        }
        let Some(r) = r_pool.get_message_by_name(w.full_name()) else {
            out.push(missing(w.full_name()));
            continue;
        };
        for wf in w.fields() {
            if let Kind::Message(m) = wf.kind() {
                if !seen.contains(m.full_name()) {
                    queue.push_back(m);
                }
            }
        }
        check_message(&r, &w, &mut out);
    }
    out
}

fn missing(name: &str) -> String {
    format!("MESSAGE_MISSING at '{name}': the reader has no message '{name}'")
}

fn check_message(r: &MessageDescriptor, w: &MessageDescriptor, out: &mut Vec<String>) {
    let name = w.full_name();
    for wf in w.fields() {
        let at = format!("{name}.{}", wf.number());
        match r.get_field(wf.number()) {
            Some(rf) => check_field(&rf, &wf, &at, out),
            None if wf.cardinality() == Cardinality::Required => out.push(format!(
                "REQUIRED_FIELD_REMOVED at '{at}': required field '{}' is missing in the reader",
                wf.name()
            )),
            None => {}
        }
    }
    for rf in r.fields() {
        if rf.cardinality() == Cardinality::Required && w.get_field(rf.number()).is_none() {
            out.push(format!(
                "REQUIRED_FIELD_ADDED at '{name}.{}': the reader requires new field '{}'",
                rf.number(),
                rf.name()
            ));
        }
    }
}

fn check_field(rf: &FieldDescriptor, wf: &FieldDescriptor, at: &str, out: &mut Vec<String>) {
    let (rk, wk) = (rf.kind(), wf.kind());
    match (&rk, &wk) {
        (Kind::Message(a), Kind::Message(b)) if a.full_name() != b.full_name() => {
            out.push(format!(
                "FIELD_TYPE_CHANGED at '{at}': message type '{}' in the writer, '{}' in the reader",
                b.full_name(),
                a.full_name()
            ));
        }
        (Kind::Enum(a), Kind::Enum(b)) if a.full_name() != b.full_name() => {
            out.push(format!(
                "FIELD_TYPE_CHANGED at '{at}': enum type '{}' in the writer, '{}' in the reader",
                b.full_name(),
                a.full_name()
            ));
        }
        (Kind::Message(_), Kind::Message(_)) | (Kind::Enum(_), Kind::Enum(_)) => {}
        _ if wire_group(&rk).is_some() && wire_group(&rk) == wire_group(&wk) => {}
        _ => out.push(format!(
            "FIELD_KIND_CHANGED at '{at}': {} in the writer, {} in the reader",
            describe(&wk),
            describe(&rk)
        )),
    }
    let (r_req, w_req) = (
        rf.cardinality() == Cardinality::Required,
        wf.cardinality() == Cardinality::Required,
    );
    if r_req != w_req {
        out.push(format!(
            "FIELD_REQUIRED_CHANGED at '{at}': {} in the writer, {} in the reader",
            if w_req { "required" } else { "not required" },
            if r_req { "required" } else { "not required" },
        ));
    }
    let in_oneof = |f: &FieldDescriptor| f.containing_oneof().is_some_and(|o| !o.is_synthetic());
    if in_oneof(rf) && !in_oneof(wf) {
        out.push(format!(
            "FIELD_MOVED_TO_ONEOF at '{at}': field '{}' is in a oneof in the reader only",
            rf.name()
        ));
    }
    let length_delimited = |k: &Kind| matches!(k, Kind::Message(_) | Kind::String | Kind::Bytes);
    if rf.is_list() != wf.is_list() && (length_delimited(&rk) || length_delimited(&wk)) {
        let shape = |f: &FieldDescriptor| if f.is_list() { "repeated" } else { "singular" };
        out.push(format!(
            "FIELD_CARDINALITY_CHANGED at '{at}': {} in the writer, {} in the reader",
            shape(wf),
            shape(rf)
        ));
    }
}

/// Kinds that share a wire encoding get the same group number.
fn wire_group(k: &Kind) -> Option<u8> {
    Some(match k {
        Kind::Int32 | Kind::Uint32 | Kind::Int64 | Kind::Uint64 | Kind::Bool => 1,
        Kind::Sint32 | Kind::Sint64 => 2,
        Kind::String | Kind::Bytes => 3,
        Kind::Fixed32 | Kind::Sfixed32 => 4,
        Kind::Fixed64 | Kind::Sfixed64 => 5,
        Kind::Double => 6,
        Kind::Float => 7,
        Kind::Message(_) | Kind::Enum(_) => return None,
    })
}

fn describe(k: &Kind) -> String {
    match k {
        Kind::Message(m) => format!("message '{}'", m.full_name()),
        Kind::Enum(e) => format!("enum '{}'", e.full_name()),
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}
