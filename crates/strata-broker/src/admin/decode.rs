//! A record's key or value as people read it: text when it is UTF-8, pretty JSON when
//! it parses, hex always; and, when it starts with Confluent's magic byte 0 and the id
//! of a schema the registry knows, the value decoded with that schema (Avro, JSON
//! Schema, Protobuf) as JSON.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value as Json;
use strata_registry::schema::SchemaBody;
use strata_registry::{ParsedSchema, Registry};

/// Bytes of a payload shown (text, JSON, hex); longer payloads are cut.
pub const MAX_SHOWN_BYTES: usize = 16 * 1024;

/// One key or value.
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct Payload {
    /// Bytes in the record.
    pub size: usize,
    /// Whether the forms below show only the first [`MAX_SHOWN_BYTES`].
    pub truncated: bool,
    /// The bytes as text, if they are UTF-8.
    pub text: Option<String>,
    /// Pretty-printed, if the text parses as JSON.
    pub json: Option<String>,
    /// Lower-case hex.
    pub hex: String,
    /// Decoded through the registry (magic byte 0 + a known schema id).
    pub schema: Option<SchemaDecoded>,
}

/// A payload decoded with a registered schema.
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct SchemaDecoded {
    /// The schema id in the payload.
    pub schema_id: i32,
    /// A subject holding that schema.
    pub subject: Option<String>,
    /// `AVRO`, `JSON` or `PROTOBUF`.
    pub schema_type: &'static str,
    /// The decoded value as JSON (absent when decoding failed).
    pub value: Option<Json>,
    /// Why decoding failed.
    pub error: Option<String>,
}

/// The plain forms of `bytes` (no registry).
pub fn payload(bytes: &[u8]) -> Payload {
    payload_within(bytes, MAX_SHOWN_BYTES)
}

/// The plain forms of the first `max` bytes of `bytes`.
pub fn payload_within(bytes: &[u8], max: usize) -> Payload {
    let truncated = bytes.len() > max;
    let shown = &bytes[..bytes.len().min(max)];
    let text = match std::str::from_utf8(shown) {
        Ok(s) => Some(s.to_string()),
        // A cut in the middle of a character still shows the text before it.
        Err(e) if truncated && e.error_len().is_none() => {
            Some(String::from_utf8_lossy(&shown[..e.valid_up_to()]).into_owned())
        }
        Err(_) => None,
    };
    let json = text
        .as_deref()
        .filter(|t| !truncated && looks_like_json(t))
        .and_then(|t| serde_json::from_str::<Json>(t).ok())
        .and_then(|v| serde_json::to_string_pretty(&v).ok());
    Payload {
        size: bytes.len(),
        truncated,
        text,
        json,
        hex: hex(shown),
        schema: None,
    }
}

fn looks_like_json(t: &str) -> bool {
    matches!(t.trim_start().chars().next(), Some('{' | '[' | '"'))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// The schema id of a payload in Confluent's wire format (magic byte 0, then the id as
/// a big-endian 32-bit integer), if it has that shape.
pub fn schema_id(bytes: &[u8]) -> Option<i32> {
    match bytes {
        [0, a, b, c, d, ..] => Some(i32::from_be_bytes([*a, *b, *c, *d])).filter(|id| *id > 0),
        _ => None,
    }
}

/// Decodes payloads with the schemas of one registry state, each schema parsed once.
pub struct Decoder<'a> {
    registry: &'a Registry,
    parsed: HashMap<i32, Option<(ParsedSchema, Option<String>)>>,
}

impl<'a> Decoder<'a> {
    /// A decoder over `registry`.
    pub fn new(registry: &'a Registry) -> Self {
        Self {
            registry,
            parsed: HashMap::new(),
        }
    }

    /// `bytes` decoded with the schema its header names; `None` when it has no such
    /// header or the registry does not know the id.
    pub fn decode(&mut self, bytes: &[u8]) -> Option<SchemaDecoded> {
        let id = schema_id(bytes)?;
        let registry = self.registry;
        let entry = self.parsed.entry(id).or_insert_with(|| {
            let s = registry.schema_by_id(id).ok()?;
            let subject = registry
                .subjects_of_id(id, false)
                .ok()
                .and_then(|v| v.into_iter().next());
            registry
                .parse(s.schema_type, &s.schema, &s.references)
                .ok()
                .map(|p| (p, subject))
        });
        let (schema, subject) = entry.as_ref()?;
        let body = &bytes[5..];
        let result = match schema.body() {
            SchemaBody::Avro { schema, named } => decode_avro(schema, named, body),
            SchemaBody::Json(_) => {
                serde_json::from_slice::<Json>(body).map_err(|e| format!("not JSON: {e}"))
            }
            SchemaBody::Protobuf(file) => decode_protobuf(file, body),
        };
        let (value, error) = match result {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(e)),
        };
        Some(SchemaDecoded {
            schema_id: id,
            subject: subject.clone(),
            schema_type: schema.schema_type().as_str(),
            value,
            error,
        })
    }
}

fn decode_avro(
    schema: &apache_avro::Schema,
    named: &[apache_avro::Schema],
    mut body: &[u8],
) -> Result<Json, String> {
    let value = if named.is_empty() {
        apache_avro::from_avro_datum(schema, &mut body, None)
    } else {
        apache_avro::from_avro_datum_schemata(schema, named.iter().collect(), &mut body, None)
    }
    .map_err(|e| format!("Avro: {e}"))?;
    Json::try_from(value).map_err(|e| format!("Avro value as JSON: {e}"))
}

/// Reads one zig-zag varint (Confluent's message-index encoding).
fn zigzag(buf: &mut &[u8]) -> Result<i64, String> {
    let mut out: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf
            .split_first()
            .ok_or("Protobuf: message indexes end early")?;
        *buf = rest;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok((out >> 1) as i64 ^ -((out & 1) as i64));
        }
    }
    Err("Protobuf: message index varint too long".into())
}

/// Most message indexes a payload may name (nesting depth).
const MAX_MESSAGE_INDEXES: i64 = 32;

fn decode_protobuf(file: &prost_reflect::FileDescriptor, mut body: &[u8]) -> Result<Json, String> {
    let count = zigzag(&mut body)?;
    if !(0..=MAX_MESSAGE_INDEXES).contains(&count) {
        return Err(format!("Protobuf: {count} message indexes"));
    }
    let mut indexes = Vec::with_capacity(count as usize);
    for _ in 0..count {
        indexes.push(zigzag(&mut body)?);
    }
    // No indexes: the first message of the file.
    if indexes.is_empty() {
        indexes.push(0);
    }
    let index = |i: i64| usize::try_from(i).map_err(|_| format!("Protobuf: message index {i}"));
    let mut desc = file
        .messages()
        .nth(index(indexes[0])?)
        .ok_or("Protobuf: no such message in the schema")?;
    for i in &indexes[1..] {
        let child = desc
            .child_messages()
            .nth(index(*i)?)
            .ok_or("Protobuf: no such nested message in the schema")?;
        desc = child;
    }
    let msg =
        prost_reflect::DynamicMessage::decode(desc, body).map_err(|e| format!("Protobuf: {e}"))?;
    Ok(message_json(&msg))
}

fn message_json(msg: &prost_reflect::DynamicMessage) -> Json {
    let mut out = serde_json::Map::new();
    for (field, value) in msg.fields() {
        out.insert(
            field.json_name().to_string(),
            value_json(&field.kind(), value),
        );
    }
    Json::Object(out)
}

fn value_json(kind: &prost_reflect::Kind, v: &prost_reflect::Value) -> Json {
    use prost_reflect::Value as V;
    match v {
        V::Bool(b) => Json::Bool(*b),
        V::I32(n) => Json::from(*n),
        V::U32(n) => Json::from(*n),
        // As the protobuf JSON mapping: 64-bit integers as strings.
        V::I64(n) => Json::String(n.to_string()),
        V::U64(n) => Json::String(n.to_string()),
        V::F32(f) => serde_json::Number::from_f64(f64::from(*f)).map_or(Json::Null, Json::Number),
        V::F64(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        V::String(s) => Json::String(s.clone()),
        V::Bytes(b) => Json::String(hex(b)),
        V::EnumNumber(n) => match kind {
            prost_reflect::Kind::Enum(e) => e
                .get_value(*n)
                .map_or(Json::from(*n), |ev| Json::String(ev.name().to_string())),
            _ => Json::from(*n),
        },
        V::Message(m) => message_json(m),
        V::List(items) => Json::Array(items.iter().map(|i| value_json(kind, i)).collect()),
        V::Map(map) => {
            let value_kind = match kind {
                prost_reflect::Kind::Message(m) => m.map_entry_value_field().kind(),
                other => other.clone(),
            };
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Json::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (map_key(k), value_json(&value_kind, v)))
                    .collect(),
            )
        }
    }
}

fn map_key(k: &prost_reflect::MapKey) -> String {
    use prost_reflect::MapKey as K;
    match k {
        K::Bool(b) => b.to_string(),
        K::I32(n) => n.to_string(),
        K::I64(n) => n.to_string(),
        K::U32(n) => n.to_string(),
        K::U64(n) => n.to_string(),
        K::String(s) => s.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_forms() {
        let p = payload(br#"{"a":1}"#);
        assert_eq!(p.text.as_deref(), Some(r#"{"a":1}"#));
        assert_eq!(p.json.as_deref(), Some("{\n  \"a\": 1\n}"));
        assert_eq!(p.hex, "7b2261223a317d");
        let b = payload(&[0xff, 0]);
        assert!(b.text.is_none() && b.json.is_none());
        assert_eq!(b.hex, "ff00");
        let long = vec![b'x'; MAX_SHOWN_BYTES + 10];
        let l = payload(&long);
        assert!(l.truncated && l.hex.len() == 2 * MAX_SHOWN_BYTES && l.size == long.len());
    }

    #[test]
    fn wire_format_header_and_zigzag() {
        assert_eq!(schema_id(&[0, 0, 0, 0, 7, 1]), Some(7));
        assert_eq!(schema_id(&[1, 0, 0, 0, 7]), None);
        assert_eq!(schema_id(&[0, 0, 0]), None);
        assert_eq!(schema_id(&[0, 0xff, 0xff, 0xff, 0xff]), None);
        let mut b: &[u8] = &[0x02, 0x03];
        assert_eq!(zigzag(&mut b), Ok(1));
        assert_eq!(zigzag(&mut b), Ok(-2));
        assert!(zigzag(&mut b).is_err());
        let mut endless: &[u8] = &[0xff; 20];
        assert!(zigzag(&mut endless).is_err());
    }
}
