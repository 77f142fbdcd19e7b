//! Prints a normalised `FileDescriptorProto` back as `.proto` source text: the text a
//! PROTOBUF schema registered with `normalize=true` is stored as.
//!
//! The layout follows the one Confluent's registry uses for normalised schemas: the
//! `syntax` line, the `package`, a block of imports, a block of file options sorted by
//! name, then messages, enums, `extend` blocks and services. In a body, sections are
//! separated by a blank line (reserved ranges and names, options, fields, extension
//! ranges, nested messages then nested enums, `extend` blocks). Type names are printed
//! fully qualified with a leading dot, map fields as `map<K, V>`, options of a field in
//! brackets on one line, sorted by name (`default` and `json_name` among them).
//!
//! Everything whose order is part of the descriptor keeps the descriptor's order: imports,
//! fields (oneofs are printed where their first field is), enum values, nested messages
//! (a message declared before a map or group field is printed before it, so the map
//! entry / group type keeps its place), extensions. So compiling the printed text gives
//! back the same normalised descriptor, the identity of the schema.
//!
//! The printer is total: it returns `None` (the caller then keeps the base64 form) for
//! anything it cannot express faithfully: uninterpreted options, options on extension
//! ranges, syntaxes other than proto2/proto3, names that are not identifiers, a map
//! entry type no field uses, nesting deeper than [`MAX_DEPTH`], and so on. Options the
//! descriptor types do not model (custom options) are detected by the caller.

mod options;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
    ServiceDescriptorProto,
};

use options::{
    enum_options, enum_value_options, field_options, file_options, message_options, method_options,
    service_options, statements,
};

/// The deepest message nesting printed (the descriptor decoder already bounds it).
pub const MAX_DEPTH: usize = 100;

/// One past the highest field number: a message range ending here is printed `to max`.
const FIELD_END: i32 = 536_870_912;

/// Lines of text at relative indentation 0, sections separated by empty lines.
type Lines = Vec<String>;

/// Prints `f`; `None` when the text could not express it faithfully (see module docs).
pub fn print_file(f: &FileDescriptorProto) -> Option<String> {
    let proto3 = match f.syntax.as_deref() {
        None | Some("proto2") => false,
        Some("proto3") => true,
        Some(_) => return None,
    };
    let mut head: Lines = vec![format!(
        "syntax = \"{}\";",
        if proto3 { "proto3" } else { "proto2" }
    )];
    let scope = match f.package.as_deref() {
        Some(p) if !p.is_empty() => {
            if !is_full_ident(p) {
                return None;
            }
            head.push(format!("package {p};"));
            format!(".{p}")
        }
        _ => String::new(),
    };
    let mut sections: Vec<Lines> = vec![head];

    let mut imports = Lines::new();
    for (i, dep) in f.dependency.iter().enumerate() {
        let i = i32::try_from(i).ok()?;
        let public = f.public_dependency.contains(&i);
        let weak = f.weak_dependency.contains(&i);
        let kind = match (public, weak) {
            (false, false) => "",
            (true, false) => "public ",
            (false, true) => "weak ",
            (true, true) => return None,
        };
        imports.push(format!("import {kind}{};", quote(dep)));
    }
    sections.push(imports);
    sections.push(statements(file_options(f.options.as_ref())?));

    let cx = Cx { proto3 };
    let mut types = Lines::new();
    for m in &f.message_type {
        types.extend(cx.message(m, &scope, 0)?);
    }
    for e in &f.enum_type {
        types.extend(cx.enumeration(e)?);
    }
    sections.push(types);
    sections.push(cx.extends(&f.extension)?);
    let mut services = Lines::new();
    for s in &f.service {
        services.extend(service(s)?);
    }
    sections.push(services);

    let mut out = String::new();
    for line in join_sections(sections) {
        out.push_str(&line);
        out.push('\n');
    }
    Some(out)
}

/// Joins the non-empty sections with an empty line between them.
fn join_sections(sections: Vec<Lines>) -> Lines {
    let mut out = Lines::new();
    for s in sections.into_iter().filter(|s| !s.is_empty()) {
        if !out.is_empty() {
            out.push(String::new());
        }
        out.extend(s);
    }
    out
}

/// `header {` + the indented body + `}`, or `header {}` for an empty body.
fn block(header: &str, body: Lines) -> Lines {
    if body.is_empty() {
        return vec![format!("{header} {{}}")];
    }
    let mut out = vec![format!("{header} {{")];
    out.extend(
        body.into_iter()
            .map(|l| if l.is_empty() { l } else { format!("  {l}") }),
    );
    out.push("}".to_string());
    out
}

/// Printing context: what the file's syntax changes.
struct Cx {
    proto3: bool,
}

/// What a field of a message stands for beyond itself.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Plain,
    /// A map field, with the index of its entry type among the nested types.
    Map(usize),
    /// A group field, with the index of its type among the nested types.
    Group(usize),
}

impl Cx {
    fn message(&self, m: &DescriptorProto, parent: &str, depth: usize) -> Option<Lines> {
        let name = ident(m.name.as_deref())?;
        if message_options(m.options.as_ref())?.1 {
            return None; // a map entry is printed as its map field, never on its own
        }
        let body = self.message_body(m, &format!("{parent}.{name}"), depth)?;
        Some(block(&format!("message {name}"), body))
    }

    fn message_body(&self, m: &DescriptorProto, scope: &str, depth: usize) -> Option<Lines> {
        if depth >= MAX_DEPTH {
            return None;
        }
        // Which nested types are map entries or groups, and which field uses each.
        let mut roles = Vec::with_capacity(m.field.len());
        let mut used = vec![false; m.nested_type.len()];
        for f in &m.field {
            let role = self.role(f, m, scope)?;
            if let Role::Map(k) | Role::Group(k) = role {
                if std::mem::replace(used.get_mut(k)?, true) {
                    return None;
                }
            }
            roles.push(role);
        }
        for (k, n) in m.nested_type.iter().enumerate() {
            if !used[k] && message_options(n.options.as_ref())?.1 {
                return None;
            }
        }

        let mut sections: Vec<Lines> = Vec::new();
        let mut reserved = Lines::new();
        if !m.reserved_range.is_empty() {
            let ranges: Option<Vec<String>> = m
                .reserved_range
                .iter()
                .map(|r| range(r.start?, r.end?.checked_sub(1)?, FIELD_END - 1))
                .collect();
            reserved.push(format!("reserved {};", ranges?.join(", ")));
        }
        if !m.reserved_name.is_empty() {
            let names: Vec<String> = m.reserved_name.iter().map(|n| quote(n)).collect();
            reserved.push(format!("reserved {};", names.join(", ")));
        }
        sections.push(reserved);
        sections.push(statements(message_options(m.options.as_ref())?.0));

        // Fields in order, oneofs where their first field is; a nested message declared
        // before a map entry or group type is printed before the field using that type.
        let mut printed = used.clone();
        let mut fields = Lines::new();
        let mut oneofs_done = 0usize;
        let mut i = 0;
        while i < m.field.len() {
            let f = &m.field[i];
            let oneof = f.oneof_index.filter(|_| !f.proto3_optional());
            let end = match oneof {
                Some(o) => {
                    if usize::try_from(o).ok()? != oneofs_done {
                        return None;
                    }
                    oneofs_done += 1;
                    let len = m.field[i..]
                        .iter()
                        .take_while(|g| g.oneof_index == Some(o) && !g.proto3_optional())
                        .count();
                    i + len
                }
                None => i + 1,
            };
            let first_used = roles[i..end].iter().find_map(|r| match r {
                Role::Map(k) | Role::Group(k) => Some(*k),
                Role::Plain => None,
            });
            if let Some(k) = first_used {
                for (j, n) in m.nested_type.iter().enumerate().take(k) {
                    if !printed[j] {
                        printed[j] = true;
                        fields.extend(self.message(n, scope, depth + 1)?);
                    }
                }
            }
            match oneof {
                Some(o) => {
                    let decl = m.oneof_decl.get(usize::try_from(o).ok()?)?;
                    let oneof_name = ident(decl.name.as_deref())?;
                    if decl
                        .options
                        .as_ref()
                        .is_some_and(|o| *o != Default::default())
                    {
                        return None;
                    }
                    let mut body = Lines::new();
                    for (g, role) in m.field[i..end].iter().zip(&roles[i..end]) {
                        body.extend(self.field(g, *role, m, scope, depth, true)?);
                    }
                    fields.extend(block(&format!("oneof {oneof_name}"), body));
                }
                None => fields.extend(self.field(f, roles[i], m, scope, depth, false)?),
            }
            i = end;
        }
        // Every real oneof printed, then one synthetic oneof per proto3 `optional` field.
        let synthetic = m.field.iter().filter(|f| f.proto3_optional()).count();
        if m.oneof_decl.len() != oneofs_done + synthetic {
            return None;
        }
        sections.push(fields);

        if !m.extension_range.is_empty() {
            let ranges: Option<Vec<String>> = m
                .extension_range
                .iter()
                .map(|r| match r.options {
                    Some(_) => None,
                    None => range(r.start?, r.end?.checked_sub(1)?, FIELD_END - 1),
                })
                .collect();
            sections.push(vec![format!("extensions {};", ranges?.join(", "))]);
        }

        let mut nested = Lines::new();
        for (j, n) in m.nested_type.iter().enumerate() {
            if !printed[j] {
                nested.extend(self.message(n, scope, depth + 1)?);
            }
        }
        for e in &m.enum_type {
            nested.extend(self.enumeration(e)?);
        }
        sections.push(nested);
        sections.push(self.extends(&m.extension)?);
        Some(join_sections(sections))
    }

    /// What `f` (a field of `m`, whose full name is `scope`) stands for.
    fn role(&self, f: &FieldDescriptorProto, m: &DescriptorProto, scope: &str) -> Option<Role> {
        let nested = |want_map: bool| -> Option<usize> {
            let local = f
                .type_name
                .as_deref()?
                .strip_prefix(scope)?
                .strip_prefix('.')?;
            let k = m.nested_type.iter().position(|n| n.name() == local)?;
            let is_map = m.nested_type[k]
                .options
                .as_ref()
                .and_then(|o| o.map_entry)
                .unwrap_or(false);
            (is_map == want_map).then_some(k)
        };
        Some(match Type::try_from(f.r#type?).ok()? {
            Type::Group => Role::Group(nested(false)?),
            Type::Message => match nested(true) {
                Some(k) if f.label() == Label::Repeated => Role::Map(k),
                Some(_) => return None,
                None => Role::Plain,
            },
            _ => Role::Plain,
        })
    }

    /// One field (or extension) and, for a group, its body.
    fn field(
        &self,
        f: &FieldDescriptorProto,
        role: Role,
        m: &DescriptorProto,
        scope: &str,
        depth: usize,
        in_oneof: bool,
    ) -> Option<Lines> {
        let name = ident(f.name.as_deref())?;
        let number = f.number?;
        let ty = Type::try_from(f.r#type?).ok()?;
        let label = Label::try_from(f.label?).ok()?;
        let label = match (role, label) {
            (Role::Map(_), _) => "",
            (_, _) if in_oneof => "",
            (_, Label::Repeated) => "repeated ",
            (_, Label::Required) if !self.proto3 => "required ",
            (_, Label::Required) => return None,
            (_, Label::Optional) if !self.proto3 || f.proto3_optional() => "optional ",
            (_, Label::Optional) => "",
        };
        let mut opts = field_options(f.options.as_ref())?;
        if let Some(d) = &f.default_value {
            opts.push(("default".to_string(), default_value(ty, d)?));
        }
        if let Some(j) = &f.json_name {
            opts.push(("json_name".to_string(), quote(j)));
        }
        opts.sort();
        let opts = if opts.is_empty() {
            String::new()
        } else {
            let parts: Vec<String> = opts.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            format!(" [{}]", parts.join(", "))
        };
        match role {
            Role::Group(k) => {
                let g = m.nested_type.get(k)?;
                let gname = ident(g.name.as_deref())?;
                if name != gname.to_ascii_lowercase() || g.options.is_some() {
                    return None;
                }
                let body = self.message_body(g, &format!("{scope}.{gname}"), depth + 1)?;
                Some(block(
                    &format!("{label}group {gname} = {number}{opts}"),
                    body,
                ))
            }
            Role::Map(k) => {
                let entry = m.nested_type.get(k)?;
                let key = entry.field.iter().find(|e| e.number == Some(1))?;
                let value = entry.field.iter().find(|e| e.number == Some(2))?;
                Some(vec![format!(
                    "map<{}, {}> {name} = {number}{opts};",
                    type_text(key)?,
                    type_text(value)?
                )])
            }
            Role::Plain => Some(vec![format!(
                "{label}{} {name} = {number}{opts};",
                type_text(f)?
            )]),
        }
    }

    /// `extend` blocks, one per run of consecutive extensions of the same message.
    fn extends(&self, exts: &[FieldDescriptorProto]) -> Option<Lines> {
        let mut out = Lines::new();
        let mut i = 0;
        while i < exts.len() {
            let extendee = exts[i].extendee.as_deref()?;
            if !is_type_name(extendee) {
                return None;
            }
            let len = exts[i..]
                .iter()
                .take_while(|e| e.extendee.as_deref() == Some(extendee))
                .count();
            let mut body = Lines::new();
            for e in &exts[i..i + len] {
                if e.oneof_index.is_some() || e.r#type == Some(Type::Group as i32) {
                    return None;
                }
                body.extend(self.field(
                    e,
                    Role::Plain,
                    &DescriptorProto::default(),
                    "",
                    0,
                    false,
                )?);
            }
            out.extend(block(&format!("extend {extendee}"), body));
            i += len;
        }
        Some(out)
    }

    fn enumeration(&self, e: &EnumDescriptorProto) -> Option<Lines> {
        let name = ident(e.name.as_deref())?;
        let mut sections: Vec<Lines> = Vec::new();
        let mut reserved = Lines::new();
        if !e.reserved_range.is_empty() {
            let ranges: Option<Vec<String>> = e
                .reserved_range
                .iter()
                .map(|r| range(r.start?, r.end?, i32::MAX))
                .collect();
            reserved.push(format!("reserved {};", ranges?.join(", ")));
        }
        if !e.reserved_name.is_empty() {
            let names: Vec<String> = e.reserved_name.iter().map(|n| quote(n)).collect();
            reserved.push(format!("reserved {};", names.join(", ")));
        }
        sections.push(reserved);
        sections.push(statements(enum_options(e.options.as_ref())?));
        let mut values = Lines::new();
        for v in &e.value {
            let vname = ident(v.name.as_deref())?;
            let opts = enum_value_options(v.options.as_ref())?;
            let opts = if opts.is_empty() {
                String::new()
            } else {
                let parts: Vec<String> = opts.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                format!(" [{}]", parts.join(", "))
            };
            values.push(format!("{vname} = {}{opts};", v.number?));
        }
        sections.push(values);
        Some(block(&format!("enum {name}"), join_sections(sections)))
    }
}

fn service(s: &ServiceDescriptorProto) -> Option<Lines> {
    let name = ident(s.name.as_deref())?;
    let mut rpcs = Lines::new();
    for m in &s.method {
        let mname = ident(m.name.as_deref())?;
        let (input, output) = (m.input_type.as_deref()?, m.output_type.as_deref()?);
        if !is_type_name(input) || !is_type_name(output) {
            return None;
        }
        let stream = |b: Option<bool>| if b.unwrap_or(false) { "stream " } else { "" };
        let header = format!(
            "rpc {mname} ({}{input}) returns ({}{output})",
            stream(m.client_streaming),
            stream(m.server_streaming)
        );
        let opts = statements(method_options(m.options.as_ref())?);
        if opts.is_empty() {
            rpcs.push(format!("{header};"));
        } else {
            rpcs.extend(block(&header, opts));
        }
    }
    let body = join_sections(vec![statements(service_options(s.options.as_ref())?), rpcs]);
    Some(block(&format!("service {name}"), body))
}

/// A field's type as written: a scalar keyword or the fully-qualified type name.
fn type_text(f: &FieldDescriptorProto) -> Option<String> {
    let scalar = match Type::try_from(f.r#type?).ok()? {
        Type::Double => "double",
        Type::Float => "float",
        Type::Int64 => "int64",
        Type::Uint64 => "uint64",
        Type::Int32 => "int32",
        Type::Fixed64 => "fixed64",
        Type::Fixed32 => "fixed32",
        Type::Bool => "bool",
        Type::String => "string",
        Type::Bytes => "bytes",
        Type::Uint32 => "uint32",
        Type::Sfixed32 => "sfixed32",
        Type::Sfixed64 => "sfixed64",
        Type::Sint32 => "sint32",
        Type::Sint64 => "sint64",
        Type::Message | Type::Enum => {
            let t = f.type_name.as_deref()?;
            return is_type_name(t).then(|| t.to_string());
        }
        Type::Group => return None,
    };
    Some(scalar.to_string())
}

/// A default value as written in `[default = …]`.
fn default_value(ty: Type, d: &str) -> Option<String> {
    match ty {
        Type::String => Some(quote(d)),
        // Already in escaped form (printable ASCII): taken as is when it is a well-formed
        // literal body, that is no bare quote and no dangling backslash.
        Type::Bytes => {
            let b = d.as_bytes();
            let mut i = 0;
            while i < b.len() {
                match b[i] {
                    b'\\' if i + 1 < b.len() => i += 2,
                    b'\\' | b'"' | b'\'' => return None,
                    0x20..=0x7e => i += 1,
                    _ => return None,
                }
            }
            Some(format!("\"{d}\""))
        }
        Type::Message | Type::Group => None,
        _ => {
            let ok = !d.is_empty()
                && d.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+' | '-'));
            ok.then(|| d.to_string())
        }
    }
}

/// `from to to`, `from` alone, or `from to max` (inclusive bounds).
fn range(from: i32, to: i32, max: i32) -> Option<String> {
    Some(if to == from {
        from.to_string()
    } else if to < from {
        return None;
    } else if to == max {
        format!("{from} to max")
    } else {
        format!("{from} to {to}")
    })
}

/// A double-quoted string literal with the protobuf escapes.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii_control() => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn ident(s: Option<&str>) -> Option<&str> {
    s.filter(|s| is_ident(s))
}

/// `a.b.c`: identifiers separated by dots.
fn is_full_ident(s: &str) -> bool {
    s.split('.').all(is_ident)
}

/// `.a.b.C`: a fully-qualified type name.
fn is_type_name(s: &str) -> bool {
    s.strip_prefix('.').is_some_and(is_full_ident)
}
