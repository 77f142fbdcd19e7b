//! Schema types, references and parsed schemas.
//!
//! A [`ParsedSchema`] is a schema text that has been validated for its [`SchemaType`]:
//! Avro text is parsed by `apache-avro`, JSON Schema text by `serde_json`, PROTOBUF by
//! `protox`. Each parsed
//! schema has a *canonical form*, a deterministic string that two texts describing the
//! same schema share whatever their whitespace or key order; the registry uses
//! `(type, canonical form, references)` as the identity of a schema (same identity, same id).
//!
//! * Avro: the canonical form is `apache-avro`'s own JSON serialization of the parsed
//!   schema. It is independent of whitespace and key order, and keeps defaults, aliases
//!   and docs (the Avro "Parsing Canonical Form" drops defaults and aliases, which matter
//!   to compatibility, so it is not used for identity).
//! * JSON: the canonical form is the `serde_json` re-serialization with object keys sorted
//!   at every level.
//! * PROTOBUF: `.proto` source text or the base64 of a serialized `FileDescriptorProto`,
//!   compiled with `protox`; the canonical form is the base64 of the normalised compiled
//!   descriptor, the same for both input forms (see [`crate::protobuf`]). Registered with
//!   `normalize`, it is stored as `.proto` text printed from that descriptor.
//!
//! Invariant: parsing never panics; bad text gives [`RegistryError::InvalidSchema`].

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::RegistryError;

/// The kind of a schema, with Confluent's names. An absent `schemaType` means AVRO.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub enum SchemaType {
    /// Apache Avro (the default).
    #[default]
    #[serde(rename = "AVRO")]
    Avro,
    /// JSON Schema.
    #[serde(rename = "JSON")]
    Json,
    /// Protocol Buffers.
    #[serde(rename = "PROTOBUF")]
    Protobuf,
}

impl SchemaType {
    /// Confluent's name: `AVRO`, `JSON` or `PROTOBUF`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Avro => "AVRO",
            Self::Json => "JSON",
            Self::Protobuf => "PROTOBUF",
        }
    }

    /// Parses Confluent's name (case-insensitive); `None` means AVRO.
    pub fn parse(name: Option<&str>) -> Result<Self, RegistryError> {
        match name.map(str::to_ascii_uppercase).as_deref() {
            None | Some("AVRO") => Ok(Self::Avro),
            Some("JSON") => Ok(Self::Json),
            Some("PROTOBUF") => Ok(Self::Protobuf),
            Some(other) => Err(RegistryError::InvalidSchema(format!(
                "unknown schema type '{other}'"
            ))),
        }
    }

    /// True for AVRO, the type that is left out of records and answers.
    pub fn is_avro(&self) -> bool {
        *self == Self::Avro
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference from a schema to a schema registered under another subject.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SchemaReference {
    /// The name the referring schema uses (for Avro, the full name of the named type).
    pub name: String,
    /// The subject holding the referenced schema.
    pub subject: String,
    /// The version of the referenced schema in that subject.
    pub version: i32,
}

/// The parsed content of a schema.
#[derive(Debug, Clone)]
pub enum SchemaBody {
    /// An Avro schema and the named schemas its references resolved to.
    Avro {
        /// The schema itself.
        schema: Box<apache_avro::Schema>,
        /// The referenced named schemas (empty without references).
        named: Vec<apache_avro::Schema>,
    },
    /// A JSON Schema document.
    Json(Value),
    /// A compiled `.proto` file (its pool also holds the referenced files).
    Protobuf(prost_reflect::FileDescriptor),
}

/// A validated schema with its canonical form.
#[derive(Debug, Clone)]
pub struct ParsedSchema {
    schema_type: SchemaType,
    references: Vec<SchemaReference>,
    canonical: String,
    body: SchemaBody,
    /// For JSON: the referenced schemas that parse as JSON, by reference name (what a
    /// `$ref` names them by); empty otherwise.
    json_references: Vec<(String, Value)>,
    /// For PROTOBUF: the resolved references, to compile the normalised text again.
    protobuf_references: Vec<(String, String)>,
}

impl ParsedSchema {
    /// Parses `text` as a schema of `schema_type`.
    ///
    /// `resolved_references` holds `(reference name, schema text)` for the referenced
    /// schemas and, transitively, what they reference; the caller resolves `references`
    /// to them. For Avro each text must be a named type (record, enum or fixed) and the
    /// names are not used; for PROTOBUF the name is the import path the text answers to.
    pub fn parse(
        schema_type: SchemaType,
        text: &str,
        references: Vec<SchemaReference>,
        resolved_references: &[(String, String)],
    ) -> Result<Self, RegistryError> {
        let mut json_references = Vec::new();
        let mut protobuf_references = Vec::new();
        let (canonical, body) = match schema_type {
            SchemaType::Avro => {
                let texts: Vec<String> =
                    resolved_references.iter().map(|(_, t)| t.clone()).collect();
                parse_avro(text, &texts)?
            }
            SchemaType::Json => {
                // A referenced text that is not JSON cannot be a `$ref` target; it is left
                // out rather than refused, as before references were followed.
                json_references = resolved_references
                    .iter()
                    .filter_map(|(name, t)| {
                        serde_json::from_str::<Value>(t)
                            .ok()
                            .map(|v| (name.clone(), v))
                    })
                    .collect();
                parse_json(text)?
            }
            SchemaType::Protobuf => {
                let (canonical, file) = crate::protobuf::parse(text, resolved_references)?;
                protobuf_references = resolved_references.to_vec();
                (canonical, SchemaBody::Protobuf(file))
            }
        };
        Ok(Self {
            schema_type,
            references,
            canonical,
            body,
            json_references,
            protobuf_references,
        })
    }

    /// The schema type.
    pub fn schema_type(&self) -> SchemaType {
        self.schema_type
    }

    /// Refuses (42201, as Confluent) a JSON schema with a `$ref` that resolves to no
    /// part of it or of the schemas it references. Checked when a schema is
    /// registered, not when stored ones are replayed.
    pub fn check_references_resolve(&self) -> Result<(), RegistryError> {
        match &self.body {
            SchemaBody::Json(v) => {
                match crate::compat::json::unresolved_ref(v, &self.json_references) {
                    Some(why) => Err(RegistryError::InvalidSchema(format!(
                        "Invalid schema: {why}"
                    ))),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// The references carried with the schema.
    pub fn references(&self) -> &[SchemaReference] {
        &self.references
    }

    /// The canonical form (identity of the schema together with type and references).
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// The name the record name strategies use: an Avro named type's full name, a JSON
    /// Schema's `title`, the full name (`package.Message`) of a PROTOBUF file's first
    /// message; `None` for anything else.
    pub fn record_name(&self) -> Option<String> {
        match &self.body {
            SchemaBody::Avro { schema, .. } => match schema.as_ref() {
                apache_avro::Schema::Record(r) => Some(r.name.fullname(None)),
                apache_avro::Schema::Enum(e) => Some(e.name.fullname(None)),
                apache_avro::Schema::Fixed(f) => Some(f.name.fullname(None)),
                _ => None,
            },
            SchemaBody::Json(v) => v.get("title").and_then(Value::as_str).map(str::to_string),
            SchemaBody::Protobuf(file) => crate::protobuf::first_message_name(file),
        }
    }

    /// For JSON, the referenced schemas as `(reference name, schema)`, the targets of
    /// `$ref`s naming them; empty for other types.
    pub fn json_references(&self) -> &[(String, Value)] {
        &self.json_references
    }

    /// The parsed content.
    pub fn body(&self) -> &SchemaBody {
        &self.body
    }

    /// The text to store: `original`, or when `normalize` the normalised text: the
    /// canonical form for AVRO and JSON; for PROTOBUF `.proto` source printed from the
    /// normalised descriptor (as Confluent), or the canonical base64 descriptor when the
    /// printer cannot express it (see [`crate::protobuf::normalized_text`]). Whatever is
    /// stored parses again to the same canonical form, so the identity is unchanged.
    pub fn stored_text(&self, original: &str, normalize: bool) -> String {
        if !normalize {
            return original.to_string();
        }
        match &self.body {
            SchemaBody::Protobuf(file) => {
                crate::protobuf::normalized_text(file, &self.canonical, &self.protobuf_references)
                    .unwrap_or_else(|| self.canonical.clone())
            }
            _ => self.canonical.clone(),
        }
    }
}

fn parse_avro(text: &str, refs: &[String]) -> Result<(String, SchemaBody), RegistryError> {
    let invalid = |e: apache_avro::Error| RegistryError::InvalidSchema(e.to_string());
    let (schema, named) = if refs.is_empty() {
        (
            apache_avro::Schema::parse_str(text).map_err(invalid)?,
            Vec::new(),
        )
    } else {
        apache_avro::Schema::parse_str_with_list(text, refs).map_err(invalid)?
    };
    let canonical =
        serde_json::to_string(&schema).map_err(|e| RegistryError::InvalidSchema(e.to_string()))?;
    Ok((
        canonical,
        SchemaBody::Avro {
            schema: Box::new(schema),
            named,
        },
    ))
}

fn parse_json(text: &str) -> Result<(String, SchemaBody), RegistryError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| RegistryError::InvalidSchema(format!("Invalid JSON: {e}")))?;
    if !(value.is_object() || value.is_boolean()) {
        return Err(RegistryError::InvalidSchema(
            "a JSON schema must be an object or a boolean".to_string(),
        ));
    }
    let canonical = sorted_json(&value).to_string();
    Ok((canonical, SchemaBody::Json(value)))
}

/// A copy of `value` whose objects have their keys inserted in sorted order (so the
/// serialization is sorted whether or not serde_json keeps insertion order).
pub fn sorted_json(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::new();
            for k in keys {
                if let Some(v) = map.get(k) {
                    out.insert(k.clone(), sorted_json(v));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted_json).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_ref_that_resolves_nowhere_is_refused_at_registration() {
        let parse = |text: &str, refs: &[(String, String)]| {
            ParsedSchema::parse(SchemaType::Json, text, vec![], refs)
                .and_then(|p| p.check_references_resolve())
        };
        let ok = r##"{"type":"object","properties":{"a":{"$ref":"#/definitions/A"}},"definitions":{"A":{"type":"string"}}}"##;
        assert!(parse(ok, &[]).is_ok());
        let missing = r##"{"properties":{"a":{"$ref":"#/definitions/B"}},"definitions":{"A":{}}}"##;
        let e = parse(missing, &[]).unwrap_err();
        assert_eq!(e.code(), 42201, "{e:?}");
        let external = r##"{"properties":{"a":{"$ref":"other.json#/x"}}}"##;
        assert!(parse(external, &[]).is_err(), "no such reference");
        let refs = vec![(
            "other.json".to_string(),
            r#"{"x":{"type":"integer"}}"#.to_string(),
        )];
        assert!(parse(external, &refs).is_ok());
        // A cycle is a schema that cannot be resolved either.
        let cycle = r##"{"definitions":{"A":{"$ref":"#/definitions/B"},"B":{"$ref":"#/definitions/A"}},"$ref":"#/definitions/A"}"##;
        assert!(parse(cycle, &[]).is_err());
        // Anchors are not followed, so not refused.
        assert!(parse(r##"{"$ref":"#name"}"##, &[]).is_ok());
    }

    #[test]
    fn avro_canonical_ignores_whitespace_and_key_order() {
        let a = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
        let b = r#"{ "fields": [ {"type": "int", "name": "a"} ], "name": "R", "type": "record" }"#;
        let pa = ParsedSchema::parse(SchemaType::Avro, a, vec![], &[]).unwrap();
        let pb = ParsedSchema::parse(SchemaType::Avro, b, vec![], &[]).unwrap();
        assert_eq!(pa.canonical(), pb.canonical());
    }

    #[test]
    fn avro_canonical_keeps_defaults() {
        let a = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":1}]}"#;
        let b = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":2}]}"#;
        let pa = ParsedSchema::parse(SchemaType::Avro, a, vec![], &[]).unwrap();
        let pb = ParsedSchema::parse(SchemaType::Avro, b, vec![], &[]).unwrap();
        assert_ne!(pa.canonical(), pb.canonical());
    }

    #[test]
    fn json_canonical_sorts_keys() {
        let a = r#"{"type":"object","properties":{"b":{"type":"string"},"a":{"type":"integer"}}}"#;
        let p = ParsedSchema::parse(SchemaType::Json, a, vec![], &[]).unwrap();
        assert_eq!(
            p.canonical(),
            r#"{"properties":{"a":{"type":"integer"},"b":{"type":"string"}},"type":"object"}"#
        );
        assert!(ParsedSchema::parse(SchemaType::Json, "true", vec![], &[]).is_ok());
        assert_eq!(
            ParsedSchema::parse(SchemaType::Json, "12", vec![], &[])
                .unwrap_err()
                .code(),
            42201
        );
    }

    #[test]
    fn avro_garbage_is_invalid() {
        for bad in [
            "",
            "{",
            "{\"type\":\"nope\"}",
            "\"notatype\"",
            "{\"type\":\"record\"}",
        ] {
            let e = ParsedSchema::parse(SchemaType::Avro, bad, vec![], &[]).unwrap_err();
            assert_eq!(e.code(), 42201, "{bad}");
        }
    }

    #[test]
    fn avro_with_reference() {
        let dep = r#"{"type":"record","name":"com.x.Dep","fields":[{"name":"a","type":"int"}]}"#;
        let main =
            r#"{"type":"record","name":"com.x.Main","fields":[{"name":"d","type":"com.x.Dep"}]}"#;
        let r = SchemaReference {
            name: "com.x.Dep".into(),
            subject: "dep".into(),
            version: 1,
        };
        let p = ParsedSchema::parse(
            SchemaType::Avro,
            main,
            vec![r],
            &[("dep".to_string(), dep.to_string())],
        )
        .unwrap();
        assert_eq!(p.references().len(), 1);
        assert!(ParsedSchema::parse(SchemaType::Avro, main, vec![], &[]).is_err());
    }

    #[test]
    fn schema_type_names() {
        assert_eq!(SchemaType::parse(None).unwrap(), SchemaType::Avro);
        assert_eq!(SchemaType::parse(Some("json")).unwrap(), SchemaType::Json);
        assert_eq!(SchemaType::parse(Some("XML")).unwrap_err().code(), 42201);
        assert_eq!(
            serde_json::to_string(&SchemaType::Protobuf).unwrap(),
            "\"PROTOBUF\""
        );
    }
}
