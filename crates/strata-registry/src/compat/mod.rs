//! Compatibility levels and the checks between a new schema and earlier versions.
//!
//! [`avro`], [`json`] and [`protobuf`] answer one question for a (reader, writer) pair: can data
//! written with the writer be read with the reader? This module lifts that to Confluent's
//! levels: BACKWARD means the new schema reads data written with the latest version,
//! FORWARD means the latest version reads data written with the new schema, FULL is both,
//! the `_TRANSITIVE` forms check against every given version instead of the latest only,
//! and NONE accepts everything.
//!
//! Invariant: checks never panic; an empty list of messages means compatible.

pub mod avro;
pub mod json;
pub mod protobuf;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::RegistryError;
use crate::schema::{ParsedSchema, SchemaBody};

/// Confluent's compatibility levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CompatibilityLevel {
    /// No check.
    None,
    /// The new schema reads data of the latest version (the default).
    #[default]
    Backward,
    /// The new schema reads data of every version.
    BackwardTransitive,
    /// The latest version reads data of the new schema.
    Forward,
    /// Every version reads data of the new schema.
    ForwardTransitive,
    /// Backward and forward against the latest version.
    Full,
    /// Backward and forward against every version.
    FullTransitive,
}

impl CompatibilityLevel {
    /// Confluent's name, e.g. `BACKWARD_TRANSITIVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Backward => "BACKWARD",
            Self::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Self::Forward => "FORWARD",
            Self::ForwardTransitive => "FORWARD_TRANSITIVE",
            Self::Full => "FULL",
            Self::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    /// True for the `_TRANSITIVE` levels.
    pub fn is_transitive(self) -> bool {
        matches!(
            self,
            Self::BackwardTransitive | Self::ForwardTransitive | Self::FullTransitive
        )
    }

    fn backward(self) -> bool {
        matches!(
            self,
            Self::Backward | Self::BackwardTransitive | Self::Full | Self::FullTransitive
        )
    }

    fn forward(self) -> bool {
        matches!(
            self,
            Self::Forward | Self::ForwardTransitive | Self::Full | Self::FullTransitive
        )
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CompatibilityLevel {
    type Err = RegistryError;

    /// Parses a level name, case-insensitively; unknown names give error 42203.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "NONE" => Self::None,
            "BACKWARD" => Self::Backward,
            "BACKWARD_TRANSITIVE" => Self::BackwardTransitive,
            "FORWARD" => Self::Forward,
            "FORWARD_TRANSITIVE" => Self::ForwardTransitive,
            "FULL" => Self::Full,
            "FULL_TRANSITIVE" => Self::FullTransitive,
            _ => return Err(RegistryError::InvalidCompatibilityLevel(s.to_string())),
        })
    }
}

impl Serialize for CompatibilityLevel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CompatibilityLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Checks that data written with `writer` can be read with `reader`.
pub fn check_pair(reader: &ParsedSchema, writer: &ParsedSchema) -> Vec<String> {
    match (reader.body(), writer.body()) {
        (
            SchemaBody::Avro {
                schema: r,
                named: rn,
            },
            SchemaBody::Avro {
                schema: w,
                named: wn,
            },
        ) => avro::check(r, rn, w, wn),
        (SchemaBody::Json(r), SchemaBody::Json(w)) => {
            json::check_with_references(r, reader.json_references(), w, writer.json_references())
        }
        (SchemaBody::Protobuf(r), SchemaBody::Protobuf(w)) => protobuf::check(r, w),
        _ => vec![format!(
            "SCHEMA_TYPE_CHANGED: reader type {} differs from writer type {}",
            reader.schema_type(),
            writer.schema_type()
        )],
    }
}

/// Checks `new` against `previous` (oldest first, only live versions) under `level`.
///
/// Non-transitive levels look at the last element only. Returns every incompatibility
/// found, without duplicates; empty means compatible.
pub fn check_against(
    level: CompatibilityLevel,
    new: &ParsedSchema,
    previous: &[&ParsedSchema],
) -> Vec<String> {
    let targets: &[&ParsedSchema] = if level.is_transitive() {
        previous
    } else {
        match previous.split_last() {
            Some((last, _)) => std::slice::from_ref(last),
            None => &[],
        }
    };
    let mut out: Vec<String> = Vec::new();
    for old in targets.iter().rev() {
        let mut found = Vec::new();
        if level.backward() {
            found.extend(check_pair(new, old));
        }
        if level.forward() {
            found.extend(
                check_pair(old, new)
                    .into_iter()
                    .map(|m| format!("{m} (forward: existing schema reading new data)")),
            );
        }
        for m in found {
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    out
}
