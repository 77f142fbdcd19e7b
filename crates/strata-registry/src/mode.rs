//! Registry modes (Confluent's `READWRITE`, `READONLY`, `READONLY_OVERRIDE`, `IMPORT`).
//!
//! READWRITE is the default. READONLY and READONLY_OVERRIDE refuse registrations and
//! deletions (error 42205); IMPORT allows registering with an explicit id and version and
//! skips compatibility checks.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::RegistryError;

/// A registry mode, global or per subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// Normal operation (the default).
    #[default]
    ReadWrite,
    /// Writes refused.
    ReadOnly,
    /// Writes refused, and the setting overrides subject-level modes.
    ReadOnlyOverride,
    /// Schemas are imported with their ids; no compatibility checks.
    Import,
}

impl Mode {
    /// Confluent's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadWrite => "READWRITE",
            Self::ReadOnly => "READONLY",
            Self::ReadOnlyOverride => "READONLY_OVERRIDE",
            Self::Import => "IMPORT",
        }
    }

    /// True when writes are refused.
    pub fn is_read_only(self) -> bool {
        matches!(self, Self::ReadOnly | Self::ReadOnlyOverride)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = RegistryError;

    /// Parses a mode name, case-insensitively; unknown names give error 42204.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "READWRITE" => Self::ReadWrite,
            "READONLY" => Self::ReadOnly,
            "READONLY_OVERRIDE" => Self::ReadOnlyOverride,
            "IMPORT" => Self::Import,
            _ => return Err(RegistryError::InvalidMode(s.to_string())),
        })
    }
}

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
