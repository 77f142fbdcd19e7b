//! Sans-I/O core of a Confluent-compatible schema registry.
//!
//! This crate opens no socket and reads no clock. It holds:
//!
//! * [`error`]: [`RegistryError`], Confluent's error codes and HTTP statuses;
//! * [`schema`]: schema types, references, and parsing (Avro via `apache-avro`, JSON
//!   Schema via `serde_json`, PROTOBUF via `protox`);
//! * [`protobuf`]: PROTOBUF input forms (`.proto` text or base64 `FileDescriptorProto`),
//!   references as imports, and the canonical form;
//! * [`compat`]: compatibility levels and our Avro, JSON Schema and PROTOBUF
//!   compatibility rules;
//! * [`mode`]: registry modes;
//! * [`records`]: the `_schemas` topic record format (JSON keys and values);
//! * [`store`]: [`Registry`], the state rebuilt by applying records in log order, and the
//!   operations, which return records to write ([`Effect`]) instead of writing them.
//!
//! Choices where Confluent's behaviour is not pinned down here:
//! * version numbers continue from the highest version ever applied to a subject, even
//!   after all its versions were hard deleted;
//! * ids are never reused; an identical schema (same type, canonical form and
//!   references) gets the id it already has while any stored version (live or
//!   soft-deleted) uses it, and a new id once every such version was hard deleted.

#![deny(missing_docs)]

pub mod compat;
pub mod error;
pub mod mode;
pub mod protobuf;
pub mod records;
pub mod schema;
pub mod store;

pub use compat::CompatibilityLevel;
pub use error::{ErrorBody, RegistryError};
pub use mode::Mode;
pub use records::{Record, RegistryRecord};
pub use schema::{ParsedSchema, SchemaReference, SchemaType};
pub use store::read::CompatibilityResult;
pub use store::write::{RegisterRequest, Registered};
pub use store::{Applied, Effect, Registry, SchemaById, SubjectVersion, VersionSpec};
