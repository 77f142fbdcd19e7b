//! PROTOBUF schemas: parsing the two forms clients send, and the canonical form.
//!
//! A PROTOBUF schema is one `.proto` file, sent either as source text (proto2 or proto3)
//! or as the base64 of a serialized `FileDescriptorProto` (what confluent-kafka-python
//! registers). Text that consists only of base64 characters is taken as a descriptor,
//! anything else as source text. Both forms are compiled with `protox` against an
//! in-memory set of files:
//!
//! * the schema itself, under the fixed name [`SCHEMA_FILE`] (a descriptor's own `name`
//!   is replaced, so the file name a client chose is not part of the identity);
//! * each reference under its reference name (the import path, e.g. `other.proto`),
//!   itself in either form;
//! * Google's well-known types (`google/protobuf/*.proto`), without references.
//!
//! The canonical form is the base64 of the compiled `FileDescriptorProto` after
//! normalisation: no `source_code_info`, type names fully qualified, `json_name` dropped
//! where it is the default one, `syntax = "proto2"` written as absent, empty options
//! dropped. It does not depend on whitespace, comments or the input form, and it parses
//! again to itself (so it can be stored when normalisation is asked).
//!
//! With `normalize`, a schema is stored as `.proto` source text printed from the
//! normalised descriptor ([`normalized_text`], printer in [`print`]), as Confluent stores
//! normalised schemas. That text compiles back to the same canonical form (checked each
//! time); when it would not, or the descriptor carries options the printer cannot write
//! (custom options, uninterpreted options, ...), the base64 canonical form is stored.
//!
//! Limits (so that no input can exhaust the stack): source text may nest brackets at
//! most [`MAX_NESTING`] deep; descriptors are decoded with prost's recursion limit.
//! Every failure is [`RegistryError::InvalidSchema`]; nothing here panics.

mod print;

use std::collections::HashMap;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, FileDescriptor, Value};
use prost_types::{DescriptorProto, FileDescriptorProto};
use protox::file::{File, FileResolver, GoogleFileResolver};

use crate::error::RegistryError;

/// The file name the schema itself is compiled under.
pub const SCHEMA_FILE: &str = "__strata_schema__.proto";

/// The deepest bracket nesting accepted in source text.
pub const MAX_NESTING: usize = 64;

/// Standard alphabet, padding optional on decode, written with padding.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn invalid(msg: impl Into<String>) -> RegistryError {
    RegistryError::InvalidSchema(msg.into())
}

/// Parses a PROTOBUF schema; `references` are `(import name, schema text)` pairs.
/// Returns the canonical form and the compiled file.
pub fn parse(
    text: &str,
    references: &[(String, String)],
) -> Result<(String, FileDescriptor), RegistryError> {
    let mut files: HashMap<String, File> = HashMap::new();
    for (name, ref_text) in references {
        if name == SCHEMA_FILE {
            return Err(invalid(format!("reference name '{name}' is reserved")));
        }
        if files.contains_key(name) {
            continue;
        }
        let file = to_file(name, ref_text).map_err(|e| match e {
            RegistryError::InvalidSchema(m) => invalid(format!("reference '{name}': {m}")),
            other => other,
        })?;
        files.insert(name.clone(), file);
    }
    files.insert(SCHEMA_FILE.to_string(), to_file(SCHEMA_FILE, text)?);
    let mut compiler = protox::Compiler::with_file_resolver(MemoryResolver { files });
    compiler
        .include_source_info(false)
        .open_file(SCHEMA_FILE)
        .map_err(|e| invalid(format!("invalid protobuf schema: {e}")))?;
    let pool = compiler.descriptor_pool();
    let file = pool
        .get_file_by_name(SCHEMA_FILE)
        .ok_or_else(|| invalid("the compiled schema is missing"))?;
    let mut proto = file.file_descriptor_proto().clone();
    normalize_file(&mut proto);
    Ok((B64.encode(proto.encode_to_vec()), file))
}

/// True when `text` (whitespace ignored) is non-empty and only base64 characters.
fn looks_like_base64(text: &str) -> bool {
    let mut any = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=') {
            any = true;
        } else if !c.is_ascii_whitespace() {
            return false;
        }
    }
    any
}

/// Turns one schema text (source or base64 descriptor) into a protox file named `name`.
fn to_file(name: &str, text: &str) -> Result<File, RegistryError> {
    if text.trim().is_empty() {
        return Err(invalid("empty protobuf schema"));
    }
    if looks_like_base64(text) {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let bytes = B64
            .decode(compact.as_bytes())
            .map_err(|e| invalid(format!("invalid base64 FileDescriptorProto: {e}")))?;
        let mut proto = FileDescriptorProto::decode(bytes.as_slice())
            .map_err(|e| invalid(format!("invalid serialized FileDescriptorProto: {e}")))?;
        proto.name = Some(name.to_string());
        proto.source_code_info = None;
        return Ok(File::from_file_descriptor_proto(proto));
    }
    check_nesting(text)?;
    File::from_source(name, text).map_err(|e| invalid(format!("invalid protobuf schema: {e}")))
}

/// Rejects source text whose brackets nest deeper than [`MAX_NESTING`] (comments and
/// string literals are skipped), so the recursive parser cannot exhaust the stack.
fn check_nesting(text: &str) -> Result<(), RegistryError> {
    let bytes = text.as_bytes();
    let (mut i, mut depth) = (0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 1;
            }
            q @ (b'"' | b'\'') => {
                i += 1;
                while i < bytes.len() && bytes[i] != q && bytes[i] != b'\n' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'{' | b'[' | b'(' | b'<' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(invalid(format!(
                        "protobuf schema nests deeper than {MAX_NESTING} levels"
                    )));
                }
            }
            b'}' | b']' | b')' | b'>' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The schema and its references by name, then Google's well-known types.
struct MemoryResolver {
    files: HashMap<String, File>,
}

impl FileResolver for MemoryResolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match self.files.get(name) {
            Some(f) => Ok(f.clone()),
            None => GoogleFileResolver::new().open_file(name),
        }
    }
}

/// Normalises a compiled file descriptor into its canonical shape (see module docs).
fn normalize_file(f: &mut FileDescriptorProto) {
    f.name = Some(SCHEMA_FILE.to_string());
    f.source_code_info = None;
    if f.syntax.as_deref() == Some("proto2") {
        f.syntax = None;
    }
    if f.options.as_ref().is_some_and(|o| *o == Default::default()) {
        f.options = None;
    }
    for m in &mut f.message_type {
        normalize_message(m, 0);
    }
    for e in &mut f.extension {
        normalize_field(e);
    }
    for e in &mut f.enum_type {
        if e.options.as_ref().is_some_and(|o| *o == Default::default()) {
            e.options = None;
        }
    }
}

fn normalize_message(m: &mut DescriptorProto, depth: usize) {
    if m.options.as_ref().is_some_and(|o| *o == Default::default()) {
        m.options = None;
    }
    for f in m.field.iter_mut().chain(m.extension.iter_mut()) {
        normalize_field(f);
    }
    for e in &mut m.enum_type {
        if e.options.as_ref().is_some_and(|o| *o == Default::default()) {
            e.options = None;
        }
    }
    // The descriptor decoder's recursion limit already bounds the depth; this is a guard.
    if depth < 200 {
        for n in &mut m.nested_type {
            normalize_message(n, depth + 1);
        }
    }
}

fn normalize_field(f: &mut prost_types::FieldDescriptorProto) {
    if f.json_name.as_deref() == Some(default_json_name(f.name()).as_str()) {
        f.json_name = None;
    }
    if f.options.as_ref().is_some_and(|o| *o == Default::default()) {
        f.options = None;
    }
}

/// protoc's default JSON name: underscores removed, the letter after each upper-cased.
fn default_json_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The base64 of a file's serialized descriptor (for tests and clients' forms).
pub fn encode_descriptor(proto: &FileDescriptorProto) -> String {
    B64.encode(proto.encode_to_vec())
}

/// The full name (`package.Message`) of the first message of `file`.
pub fn first_message_name(file: &FileDescriptor) -> Option<String> {
    file.messages().next().map(|m| m.full_name().to_string())
}

/// The `.proto` text to store for a schema registered with `normalize`: the normalised
/// descriptor of `file` printed back as source. `None` (store `canonical`, the base64
/// form, instead) when the descriptor has options the printer cannot write, or when the
/// text does not compile (with `references`) back to `canonical`, the schema's identity.
pub fn normalized_text(
    file: &FileDescriptor,
    canonical: &str,
    references: &[(String, String)],
) -> Option<String> {
    if has_unmodelled_fields(file) {
        return None;
    }
    let mut proto = file.file_descriptor_proto().clone();
    normalize_file(&mut proto);
    let text = print::print_file(&proto)?;
    match parse(&text, references) {
        Ok((again, _)) if again == canonical => Some(text),
        _ => None,
    }
}

/// True when the full encoding of `file` holds fields the descriptor types do not
/// model: custom (extension) options, which `prost_types` drops, or unknown fields.
fn has_unmodelled_fields(file: &FileDescriptor) -> bool {
    let Some(desc) =
        DescriptorPool::global().get_message_by_name("google.protobuf.FileDescriptorProto")
    else {
        return true;
    };
    match DynamicMessage::decode(desc, file.encode_to_vec().as_slice()) {
        Ok(m) => has_unknown(&m, 0),
        Err(_) => true,
    }
}

fn has_unknown(m: &DynamicMessage, depth: usize) -> bool {
    if depth > print::MAX_DEPTH * 2 || m.unknown_fields().next().is_some() {
        return true;
    }
    m.fields().any(|(_, v)| value_has_unknown(v, depth))
}

fn value_has_unknown(v: &Value, depth: usize) -> bool {
    match v {
        Value::Message(m) => has_unknown(m, depth + 1),
        Value::List(items) => items.iter().any(|i| value_has_unknown(i, depth)),
        _ => false,
    }
}
