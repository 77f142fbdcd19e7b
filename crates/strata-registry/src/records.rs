//! The `_schemas` topic record format, as Confluent Schema Registry writes it.
//!
//! Keys and values are JSON. Key kinds (`keytype`):
//!
//! * `SCHEMA`: `{"keytype":"SCHEMA","subject":S,"version":V,"magic":1}`, value
//!   [`SchemaValue`]; a null value (tombstone) is a hard delete of that version.
//! * `CONFIG`: `{"keytype":"CONFIG","subject":S|null,"magic":0}`, value
//!   `{"compatibilityLevel":"BACKWARD"}`; null subject = global; null value = deleted.
//! * `MODE`: `{"keytype":"MODE","subject":S|null,"magic":0}`, value `{"mode":"READWRITE"}`.
//! * `DELETE_SUBJECT`: `{"keytype":"DELETE_SUBJECT","subject":S,"magic":0}`, value
//!   `{"subject":S,"version":V}`: soft-deletes every version up to V.
//! * `NOOP`: `{"keytype":"NOOP","magic":0}`, used to read up to the end of the log.
//!
//! Invariants: decoding never panics; garbage is an error (50001), an unknown `keytype`
//! decodes to `Ok(None)` so readers skip it. Encoding writes fields in the order above.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::compat::CompatibilityLevel;
use crate::error::RegistryError;
use crate::mode::Mode;
use crate::schema::{SchemaReference, SchemaType};

/// Raw bytes of one record of the `_schemas` topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The JSON key.
    pub key: Vec<u8>,
    /// The JSON value, `None` for a tombstone.
    pub value: Option<Vec<u8>>,
}

/// The value of a `SCHEMA` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaValue {
    /// The subject.
    pub subject: String,
    /// The version within the subject.
    pub version: i32,
    /// The global schema id.
    pub id: i32,
    /// The type; left out for AVRO.
    #[serde(
        rename = "schemaType",
        default,
        skip_serializing_if = "SchemaType::is_avro",
        deserialize_with = "nullable_type"
    )]
    pub schema_type: SchemaType,
    /// References; left out when empty.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable_refs"
    )]
    pub references: Vec<SchemaReference>,
    /// The schema text.
    pub schema: String,
    /// Soft-deleted flag.
    #[serde(default)]
    pub deleted: bool,
}

fn nullable_type<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SchemaType, D::Error> {
    Ok(Option::<SchemaType>::deserialize(d)?.unwrap_or_default())
}

fn nullable_refs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SchemaReference>, D::Error> {
    Ok(Option::<Vec<SchemaReference>>::deserialize(d)?.unwrap_or_default())
}

/// The value of a `CONFIG` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigValue {
    /// The compatibility level.
    #[serde(rename = "compatibilityLevel")]
    pub compatibility_level: CompatibilityLevel,
}

/// The value of a `MODE` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeValue {
    /// The mode.
    pub mode: Mode,
}

/// The value of a `DELETE_SUBJECT` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteSubjectValue {
    /// The subject.
    pub subject: String,
    /// Every version up to this one is soft-deleted.
    pub version: i32,
}

/// A decoded record of the `_schemas` topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryRecord {
    /// A schema version, `None` = hard delete.
    Schema {
        /// The subject.
        subject: String,
        /// The version.
        version: i32,
        /// The value.
        value: Option<SchemaValue>,
    },
    /// A compatibility setting, `None` = deleted.
    Config {
        /// The subject, `None` = global.
        subject: Option<String>,
        /// The value.
        value: Option<ConfigValue>,
    },
    /// A mode setting, `None` = deleted.
    Mode {
        /// The subject, `None` = global.
        subject: Option<String>,
        /// The value.
        value: Option<ModeValue>,
    },
    /// A subject soft delete.
    DeleteSubject {
        /// The subject.
        subject: String,
        /// The value (`None` is ignored when applied).
        value: Option<DeleteSubjectValue>,
    },
    /// A no-op marker.
    Noop,
}

#[derive(Serialize)]
struct SchemaKeyOut<'a> {
    keytype: &'static str,
    subject: &'a str,
    version: i32,
    magic: u8,
}

#[derive(Serialize)]
struct SubjectKeyOut<'a> {
    keytype: &'static str,
    subject: Option<&'a str>,
    magic: u8,
}

#[derive(Serialize)]
struct NoopKeyOut {
    keytype: &'static str,
    magic: u8,
}

fn store_err(what: &str, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Store(format!("cannot encode {what}: {e}"))
}

fn to_bytes<T: Serialize>(what: &str, v: &T) -> Result<Vec<u8>, RegistryError> {
    serde_json::to_vec(v).map_err(|e| store_err(what, e))
}

fn opt_bytes<T: Serialize>(what: &str, v: &Option<T>) -> Result<Option<Vec<u8>>, RegistryError> {
    v.as_ref().map(|v| to_bytes(what, v)).transpose()
}

impl RegistryRecord {
    /// Encodes the record as Confluent does.
    pub fn encode(&self) -> Result<Record, RegistryError> {
        let (key, value) = match self {
            Self::Schema {
                subject,
                version,
                value,
            } => (
                to_bytes(
                    "key",
                    &SchemaKeyOut {
                        keytype: "SCHEMA",
                        subject,
                        version: *version,
                        magic: 1,
                    },
                )?,
                opt_bytes("schema value", value)?,
            ),
            Self::Config { subject, value } => (
                to_bytes(
                    "key",
                    &SubjectKeyOut {
                        keytype: "CONFIG",
                        subject: subject.as_deref(),
                        magic: 0,
                    },
                )?,
                opt_bytes("config value", value)?,
            ),
            Self::Mode { subject, value } => (
                to_bytes(
                    "key",
                    &SubjectKeyOut {
                        keytype: "MODE",
                        subject: subject.as_deref(),
                        magic: 0,
                    },
                )?,
                opt_bytes("mode value", value)?,
            ),
            Self::DeleteSubject { subject, value } => (
                to_bytes(
                    "key",
                    &SubjectKeyOut {
                        keytype: "DELETE_SUBJECT",
                        subject: Some(subject),
                        magic: 0,
                    },
                )?,
                opt_bytes("delete-subject value", value)?,
            ),
            Self::Noop => (
                to_bytes(
                    "key",
                    &NoopKeyOut {
                        keytype: "NOOP",
                        magic: 0,
                    },
                )?,
                None,
            ),
        };
        Ok(Record { key, value })
    }

    /// Decodes a record; `Ok(None)` for an unknown `keytype` (to be skipped).
    pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<Option<Self>, RegistryError> {
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            RegistryError::Store(format!("malformed _schemas {what}: {e}"))
        };
        let k: Value = serde_json::from_slice(key).map_err(|e| bad("key", &e))?;
        let obj = k
            .as_object()
            .ok_or_else(|| bad("key", &"not a JSON object"))?;
        let keytype = obj
            .get("keytype")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("key", &"no keytype"))?;
        let subject = match obj.get("subject") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(bad("key", &"subject is not a string")),
        };
        fn val<T: serde::de::DeserializeOwned>(
            v: Option<&[u8]>,
        ) -> Result<Option<T>, RegistryError> {
            match v {
                None => Ok(None),
                Some(b) => serde_json::from_slice(b)
                    .map(Some)
                    .map_err(|e| RegistryError::Store(format!("malformed _schemas value: {e}"))),
            }
        }
        let need_subject = || subject.clone().ok_or_else(|| bad("key", &"no subject"));
        Ok(Some(match keytype {
            "SCHEMA" => {
                let version = obj
                    .get("version")
                    .and_then(Value::as_i64)
                    .and_then(|v| i32::try_from(v).ok())
                    .ok_or_else(|| bad("key", &"no valid version"))?;
                Self::Schema {
                    subject: need_subject()?,
                    version,
                    value: val(value)?,
                }
            }
            "CONFIG" => Self::Config {
                subject,
                value: val(value)?,
            },
            "MODE" => Self::Mode {
                subject,
                value: val(value)?,
            },
            "DELETE_SUBJECT" => Self::DeleteSubject {
                subject: need_subject()?,
                value: val(value)?,
            },
            "NOOP" => Self::Noop,
            _ => return Ok(None),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(b: &[u8]) -> &str {
        std::str::from_utf8(b).unwrap()
    }

    #[test]
    fn schema_record_exact_bytes() {
        let rec = RegistryRecord::Schema {
            subject: "t-value".into(),
            version: 2,
            value: Some(SchemaValue {
                subject: "t-value".into(),
                version: 2,
                id: 7,
                schema_type: SchemaType::Avro,
                references: vec![],
                schema: "\"string\"".into(),
                deleted: false,
            }),
        };
        let r = rec.encode().unwrap();
        assert_eq!(
            text(&r.key),
            r#"{"keytype":"SCHEMA","subject":"t-value","version":2,"magic":1}"#
        );
        assert_eq!(
            text(r.value.as_ref().unwrap()),
            r#"{"subject":"t-value","version":2,"id":7,"schema":"\"string\"","deleted":false}"#
        );
        assert_eq!(
            RegistryRecord::decode(&r.key, r.value.as_deref()).unwrap(),
            Some(rec)
        );
    }

    #[test]
    fn json_schema_with_references() {
        let v = SchemaValue {
            subject: "s".into(),
            version: 1,
            id: 3,
            schema_type: SchemaType::Json,
            references: vec![SchemaReference {
                name: "a.json".into(),
                subject: "a".into(),
                version: 1,
            }],
            schema: "{}".into(),
            deleted: true,
        };
        let b = serde_json::to_string(&v).unwrap();
        assert_eq!(
            b,
            r#"{"subject":"s","version":1,"id":3,"schemaType":"JSON","references":[{"name":"a.json","subject":"a","version":1}],"schema":"{}","deleted":true}"#
        );
    }

    #[test]
    fn config_mode_delete_noop_keys() {
        let c = RegistryRecord::Config {
            subject: None,
            value: Some(ConfigValue {
                compatibility_level: CompatibilityLevel::Full,
            }),
        }
        .encode()
        .unwrap();
        assert_eq!(
            text(&c.key),
            r#"{"keytype":"CONFIG","subject":null,"magic":0}"#
        );
        assert_eq!(
            text(c.value.as_ref().unwrap()),
            r#"{"compatibilityLevel":"FULL"}"#
        );
        let m = RegistryRecord::Mode {
            subject: Some("s".into()),
            value: Some(ModeValue {
                mode: Mode::ReadOnly,
            }),
        }
        .encode()
        .unwrap();
        assert_eq!(
            text(&m.key),
            r#"{"keytype":"MODE","subject":"s","magic":0}"#
        );
        assert_eq!(text(m.value.as_ref().unwrap()), r#"{"mode":"READONLY"}"#);
        let d = RegistryRecord::DeleteSubject {
            subject: "s".into(),
            value: Some(DeleteSubjectValue {
                subject: "s".into(),
                version: 3,
            }),
        }
        .encode()
        .unwrap();
        assert_eq!(
            text(&d.key),
            r#"{"keytype":"DELETE_SUBJECT","subject":"s","magic":0}"#
        );
        assert_eq!(
            text(d.value.as_ref().unwrap()),
            r#"{"subject":"s","version":3}"#
        );
        let n = RegistryRecord::Noop.encode().unwrap();
        assert_eq!(text(&n.key), r#"{"keytype":"NOOP","magic":0}"#);
    }

    #[test]
    fn decode_tolerates_confluent_extras_and_rejects_garbage() {
        let key = br#"{"magic":1,"keytype":"SCHEMA","subject":"s","version":1}"#;
        let val = br#"{"subject":"s","version":1,"id":1,"schema":"\"int\"","schemaType":null,"references":null,"metadata":null}"#;
        let r = RegistryRecord::decode(key, Some(val)).unwrap().unwrap();
        assert!(matches!(
            r,
            RegistryRecord::Schema {
                value: Some(SchemaValue { deleted: false, .. }),
                ..
            }
        ));
        assert_eq!(
            RegistryRecord::decode(
                br#"{"keytype":"CLEAR_SUBJECT","subject":"s","magic":0}"#,
                None
            )
            .unwrap(),
            None
        );
        for garbage in [
            &b""[..],
            b"{",
            b"[]",
            b"{\"keytype\":1}",
            b"{\"keytype\":\"SCHEMA\"}",
            b"\xff\xfe",
        ] {
            assert_eq!(
                RegistryRecord::decode(garbage, None).unwrap_err().code(),
                50001
            );
        }
        assert!(RegistryRecord::decode(
            br#"{"keytype":"CONFIG","subject":null,"magic":0}"#,
            Some(br#"{"compatibilityLevel":"SOMETIMES"}"#)
        )
        .is_err());
    }
}
