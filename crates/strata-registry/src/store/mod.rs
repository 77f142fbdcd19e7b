//! The registry state, rebuilt by applying `_schemas` records in log order.
//!
//! [`Registry`] holds plain maps. Reads ([`read`]) answer from them. Writes ([`write`])
//! never change them: they validate and return an [`Effect`], the records to append to
//! the `_schemas` topic plus the answer to give once those records are applied. The
//! caller appends the records, then feeds each one to [`Registry::apply`]; only `apply`
//! mutates the state, so replaying the topic into a fresh `Registry` rebuilds the same
//! state. The caller serialises writes (one writer at a time), as Confluent's leader does.
//!
//! Invariants kept by `apply`:
//! * `max_id` is the highest id ever applied, so new ids are never reused, even after
//!   every version using an id was hard deleted;
//! * a subject's `highest_version` is the highest version ever applied to it, so new
//!   versions continue after it, even after hard deletes (our choice; documented in the
//!   crate docs);
//! * `by_id` has an entry for an id while at least one stored version (live or
//!   soft-deleted) uses it, and `by_content` maps each such schema's identity
//!   (type, canonical form, references) to its id.

pub mod read;
pub mod write;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::compat::CompatibilityLevel;
use crate::error::RegistryError;
use crate::mode::Mode;
use crate::records::{Record, RegistryRecord, SchemaValue};
use crate::schema::{ParsedSchema, SchemaReference, SchemaType};

/// The records to append and the answer to return once they are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect<T> {
    /// Records to append to `_schemas`, in order (may be empty: nothing to write).
    pub records: Vec<Record>,
    /// The answer for the client.
    pub answer: T,
}

/// What [`Registry::apply`] did with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The record changed (or confirmed) the state.
    Applied,
    /// The record had an unknown key type and was skipped.
    Skipped,
}

/// A version as requested by a client: a number or the latest live one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSpec {
    /// The latest version (`"latest"` or `-1`).
    Latest,
    /// A version number, 1..=2^31-1.
    Number(i32),
}

impl VersionSpec {
    /// Parses `latest`, `-1` or a number in 1..=2^31-1; anything else gives 42202.
    pub fn parse(s: &str) -> Result<Self, RegistryError> {
        if s.eq_ignore_ascii_case("latest") {
            return Ok(Self::Latest);
        }
        match s.trim().parse::<i64>() {
            Ok(-1) => Ok(Self::Latest),
            Ok(n) if (1..=i64::from(i32::MAX)).contains(&n) => Ok(Self::Number(n as i32)),
            _ => Err(RegistryError::InvalidVersion(s.to_string())),
        }
    }
}

/// A schema as stored under a subject version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectVersion {
    /// The subject.
    pub subject: String,
    /// The version.
    pub version: i32,
    /// The global id.
    pub id: i32,
    /// The schema type.
    pub schema_type: SchemaType,
    /// The stored schema text.
    pub schema: String,
    /// The references.
    pub references: Vec<SchemaReference>,
    /// Soft-deleted flag.
    pub deleted: bool,
}

/// A schema looked up by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaById {
    /// The id.
    pub id: i32,
    /// The schema type.
    pub schema_type: SchemaType,
    /// The schema text (as first stored under this id).
    pub schema: String,
    /// The references.
    pub references: Vec<SchemaReference>,
}

#[derive(Debug, Clone)]
struct StoredVersion {
    value: SchemaValue,
    canonical: String,
}

#[derive(Debug, Clone, Default)]
struct SubjectState {
    versions: BTreeMap<i32, StoredVersion>,
    highest_version: i32,
}

impl SubjectState {
    fn has_live(&self) -> bool {
        self.versions.values().any(|v| !v.value.deleted)
    }

    fn latest(&self, include_deleted: bool) -> Option<&StoredVersion> {
        self.versions
            .values()
            .rev()
            .find(|v| include_deleted || !v.value.deleted)
    }
}

#[derive(Debug, Clone)]
struct IdState {
    schema: SchemaById,
    canonical: String,
    users: BTreeSet<(String, i32)>,
}

type ContentKey = (SchemaType, String, Vec<SchemaReference>);

/// The schema registry state. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    subjects: BTreeMap<String, SubjectState>,
    by_id: BTreeMap<i32, IdState>,
    by_content: HashMap<ContentKey, i32>,
    max_id: i32,
    global_config: Option<CompatibilityLevel>,
    subject_config: BTreeMap<String, CompatibilityLevel>,
    global_mode: Option<Mode>,
    subject_mode: BTreeMap<String, Mode>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one `_schemas` record (key bytes, value bytes or `None` for a tombstone).
    ///
    /// Malformed records give error 50001 and leave the state unchanged; unknown key
    /// types are skipped.
    pub fn apply(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<Applied, RegistryError> {
        match RegistryRecord::decode(key, value)? {
            None => Ok(Applied::Skipped),
            Some(rec) => {
                self.apply_record(rec);
                Ok(Applied::Applied)
            }
        }
    }

    /// Applies an already encoded [`Record`].
    pub fn apply_encoded(&mut self, record: &Record) -> Result<Applied, RegistryError> {
        self.apply(&record.key, record.value.as_deref())
    }

    /// Applies a decoded record.
    pub fn apply_record(&mut self, rec: RegistryRecord) {
        match rec {
            RegistryRecord::Schema {
                subject,
                version,
                value: Some(v),
            } => self.put_version(subject, version, v),
            RegistryRecord::Schema {
                subject,
                version,
                value: None,
            } => self.remove_version(&subject, version),
            RegistryRecord::DeleteSubject {
                subject,
                value: Some(v),
            } => {
                if let Some(s) = self.subjects.get_mut(&subject) {
                    for (_, sv) in s.versions.range_mut(..=v.version) {
                        sv.value.deleted = true;
                    }
                }
            }
            RegistryRecord::DeleteSubject { value: None, .. } | RegistryRecord::Noop => {}
            RegistryRecord::Config { subject, value } => {
                let level = value.map(|v| v.compatibility_level);
                match (subject, level) {
                    (None, l) => self.global_config = l,
                    (Some(s), Some(l)) => {
                        self.subject_config.insert(s, l);
                    }
                    (Some(s), None) => {
                        self.subject_config.remove(&s);
                    }
                }
            }
            RegistryRecord::Mode { subject, value } => {
                let mode = value.map(|v| v.mode);
                match (subject, mode) {
                    (None, m) => self.global_mode = m,
                    (Some(s), Some(m)) => {
                        self.subject_mode.insert(s, m);
                    }
                    (Some(s), None) => {
                        self.subject_mode.remove(&s);
                    }
                }
            }
        }
    }

    fn put_version(&mut self, subject: String, version: i32, mut value: SchemaValue) {
        value.subject.clone_from(&subject);
        value.version = version;
        // Identity: the canonical form when the stored text parses, else the raw text
        // (a record must still apply during replay even if it cannot be parsed now).
        let canonical = self
            .parse(value.schema_type, &value.schema, &value.references)
            .map(|p| p.canonical().to_string())
            .unwrap_or_else(|_| value.schema.clone());
        self.remove_version(&subject, version);
        let id = value.id;
        self.max_id = self.max_id.max(id);
        let content: ContentKey = (
            value.schema_type,
            canonical.clone(),
            value.references.clone(),
        );
        let entry = self.by_id.entry(id).or_insert_with(|| IdState {
            schema: SchemaById {
                id,
                schema_type: value.schema_type,
                schema: value.schema.clone(),
                references: value.references.clone(),
            },
            canonical: canonical.clone(),
            users: BTreeSet::new(),
        });
        entry.users.insert((subject.clone(), version));
        self.by_content.entry(content).or_insert(id);
        let state = self.subjects.entry(subject).or_default();
        state.highest_version = state.highest_version.max(version);
        state
            .versions
            .insert(version, StoredVersion { value, canonical });
    }

    fn remove_version(&mut self, subject: &str, version: i32) {
        let Some(old) = self
            .subjects
            .get_mut(subject)
            .and_then(|s| s.versions.remove(&version))
        else {
            return;
        };
        let id = old.value.id;
        let now_unused = match self.by_id.get_mut(&id) {
            Some(e) => {
                e.users.remove(&(subject.to_string(), version));
                e.users.is_empty()
            }
            None => false,
        };
        if now_unused {
            if let Some(e) = self.by_id.remove(&id) {
                let key: ContentKey = (e.schema.schema_type, e.canonical, e.schema.references);
                if self.by_content.get(&key) == Some(&id) {
                    self.by_content.remove(&key);
                }
            }
        }
    }

    /// Parses a schema, resolving its references against the stored versions.
    pub fn parse(
        &self,
        schema_type: SchemaType,
        text: &str,
        references: &[SchemaReference],
    ) -> Result<ParsedSchema, RegistryError> {
        let resolved = self.resolve_references(references)?;
        ParsedSchema::parse(schema_type, text, references.to_vec(), &resolved)
    }

    /// `(reference name, text)` of the referenced schemas and, transitively, of what they
    /// reference (each subject version once, depth first). A missing reference gives 42201.
    fn resolve_references(
        &self,
        refs: &[SchemaReference],
    ) -> Result<Vec<(String, String)>, RegistryError> {
        let mut out = Vec::new();
        let mut seen: HashSet<(String, i32)> = HashSet::new();
        let mut stack: Vec<SchemaReference> = refs.iter().rev().cloned().collect();
        while let Some(r) = stack.pop() {
            let found = self.subjects.get(&r.subject).and_then(|s| {
                if r.version == -1 {
                    s.latest(false)
                } else {
                    s.versions.get(&r.version)
                }
            });
            let Some(sv) = found else {
                return Err(RegistryError::InvalidSchema(format!(
                    "Invalid reference {{name={}, subject={}, version={}}}: not found",
                    r.name, r.subject, r.version
                )));
            };
            if !seen.insert((r.subject.clone(), sv.value.version)) {
                continue;
            }
            out.push((r.name.clone(), sv.value.schema.clone()));
            stack.extend(sv.value.references.iter().rev().cloned());
        }
        Ok(out)
    }

    fn subject_version(sv: &StoredVersion) -> SubjectVersion {
        let v = &sv.value;
        SubjectVersion {
            subject: v.subject.clone(),
            version: v.version,
            id: v.id,
            schema_type: v.schema_type,
            schema: v.schema.clone(),
            references: v.references.clone(),
            deleted: v.deleted,
        }
    }

    /// The compatibility level in force for `subject` (subject, else global, else BACKWARD).
    pub fn effective_compatibility(&self, subject: &str) -> CompatibilityLevel {
        self.subject_config
            .get(subject)
            .copied()
            .or(self.global_config)
            .unwrap_or_default()
    }

    /// The mode in force for `subject`: a global READONLY_OVERRIDE wins, then the
    /// subject's mode, then the global one, else READWRITE.
    pub fn effective_mode(&self, subject: &str) -> Mode {
        if self.global_mode == Some(Mode::ReadOnlyOverride) {
            return Mode::ReadOnlyOverride;
        }
        self.subject_mode
            .get(subject)
            .copied()
            .or(self.global_mode)
            .unwrap_or_default()
    }

    /// The highest id ever applied (0 when none).
    pub fn max_id(&self) -> i32 {
        self.max_id
    }
}
