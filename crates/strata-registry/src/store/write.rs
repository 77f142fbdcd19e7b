//! Write operations: each validates against the current state and returns an
//! [`Effect`] (records to append + answer) or an error. None of them mutates the state;
//! the caller applies the records (see the module docs of [`crate::store`]).

use crate::compat::{check_against, CompatibilityLevel};
use crate::error::RegistryError;
use crate::mode::Mode;
use crate::records::{
    ConfigValue, DeleteSubjectValue, ModeValue, Record, RegistryRecord, SchemaValue,
};
use crate::schema::{SchemaReference, SchemaType};

use super::{Effect, Registry, VersionSpec};

/// A request to register a schema under a subject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterRequest {
    /// The subject.
    pub subject: String,
    /// The schema text.
    pub schema: String,
    /// The schema type (AVRO when absent in the REST body).
    pub schema_type: SchemaType,
    /// References to schemas of other subjects.
    pub references: Vec<SchemaReference>,
    /// Store the canonical form instead of the given text.
    pub normalize: bool,
    /// Explicit id (IMPORT mode only).
    pub id: Option<i32>,
    /// Explicit version (IMPORT mode only).
    pub version: Option<i32>,
}

/// The answer to a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registered {
    /// The global schema id.
    pub id: i32,
    /// The version under the subject.
    pub version: i32,
}

fn encode(records: Vec<RegistryRecord>) -> Result<Vec<Record>, RegistryError> {
    records.iter().map(RegistryRecord::encode).collect()
}

impl Registry {
    fn ensure_writable(&self, subject: &str) -> Result<Mode, RegistryError> {
        let mode = self.effective_mode(subject);
        if mode.is_read_only() {
            return Err(RegistryError::OperationNotPermitted(format!(
                "Subject {subject} is in read-only mode"
            )));
        }
        Ok(mode)
    }

    /// Registers a schema: the existing id and version when the same schema is already a
    /// live version of the subject (no records), else one `SCHEMA` record.
    ///
    /// Errors: 42205 read-only mode or explicit id/version outside IMPORT mode, 42201
    /// bad schema, 409 incompatible.
    pub fn register(&self, req: &RegisterRequest) -> Result<Effect<Registered>, RegistryError> {
        let mode = self.ensure_writable(&req.subject)?;
        let import = mode == Mode::Import;
        if !import && (req.id.is_some() || req.version.is_some()) {
            return Err(RegistryError::OperationNotPermitted(
                "An explicit id or version can only be given in IMPORT mode".to_string(),
            ));
        }
        let parsed = self.parse(req.schema_type, &req.schema, &req.references)?;
        parsed.check_references_resolve()?;
        let subject = self.subjects.get(&req.subject);
        if let Some(existing) = subject.and_then(|s| {
            s.versions.values().find(|v| {
                !v.value.deleted
                    && v.value.schema_type == req.schema_type
                    && v.canonical == parsed.canonical()
                    && v.value.references == req.references
            })
        }) {
            let same_id = req.id.is_none_or(|id| id == existing.value.id);
            if same_id {
                return Ok(Effect {
                    records: Vec::new(),
                    answer: Registered {
                        id: existing.value.id,
                        version: existing.value.version,
                    },
                });
            }
        }
        if !import {
            let level = self.effective_compatibility(&req.subject);
            if level != CompatibilityLevel::None {
                let previous = self.live_parsed(&req.subject);
                let refs: Vec<_> = previous.iter().collect();
                let messages = check_against(level, &parsed, &refs);
                if !messages.is_empty() {
                    return Err(RegistryError::IncompatibleSchema {
                        subject: req.subject.clone(),
                        messages,
                    });
                }
            }
        }
        let content = (
            req.schema_type,
            parsed.canonical().to_string(),
            req.references.clone(),
        );
        let id = match req.id {
            Some(id) => {
                if id < 1 {
                    return Err(RegistryError::OperationNotPermitted(format!(
                        "Schema id {id} is not valid"
                    )));
                }
                if let Some(e) = self.by_id.get(&id) {
                    if (e.schema.schema_type, &e.canonical, &e.schema.references)
                        != (content.0, &content.1, &content.2)
                    {
                        return Err(RegistryError::OperationNotPermitted(format!(
                            "Overwrite new schema with id {id} is not permitted."
                        )));
                    }
                }
                id
            }
            None => match self.by_content.get(&content) {
                Some(id) => *id,
                None => self
                    .max_id
                    .checked_add(1)
                    .ok_or_else(|| RegistryError::Store("schema ids are exhausted".to_string()))?,
            },
        };
        let highest = subject.map_or(0, |s| s.highest_version);
        let version = match req.version {
            Some(v) => {
                if v < 1 || subject.is_some_and(|s| s.versions.contains_key(&v)) {
                    return Err(RegistryError::OperationNotPermitted(format!(
                        "Version {v} of subject {} cannot be imported",
                        req.subject
                    )));
                }
                v
            }
            None => highest.checked_add(1).ok_or_else(|| {
                RegistryError::Store("versions are exhausted for the subject".to_string())
            })?,
        };
        let value = SchemaValue {
            subject: req.subject.clone(),
            version,
            id,
            schema_type: req.schema_type,
            references: req.references.clone(),
            schema: parsed.stored_text(&req.schema, req.normalize),
            deleted: false,
        };
        let rec = RegistryRecord::Schema {
            subject: req.subject.clone(),
            version,
            value: Some(value),
        };
        Ok(Effect {
            records: encode(vec![rec])?,
            answer: Registered { id, version },
        })
    }

    /// Live versions of `subject` that parse, oldest first.
    pub(super) fn live_parsed(&self, subject: &str) -> Vec<crate::schema::ParsedSchema> {
        self.subjects
            .get(subject)
            .map(|s| {
                s.versions
                    .values()
                    .filter(|v| !v.value.deleted)
                    .filter_map(|v| {
                        self.parse(v.value.schema_type, &v.value.schema, &v.value.references)
                            .ok()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Live schemas (of any subject) that reference `subject` at `version`.
    fn referenced_by(&self, subject: &str, version: i32) -> bool {
        self.subjects.values().any(|s| {
            s.versions.values().any(|v| {
                !v.value.deleted
                    && v.value
                        .references
                        .iter()
                        .any(|r| r.subject == subject && r.version == version)
            })
        })
    }

    /// Deletes one version: soft (a `SCHEMA` record with `deleted: true`) or, when
    /// `permanent`, hard (a tombstone; the version must be soft-deleted first).
    /// Answers the version number.
    pub fn delete_version(
        &self,
        subject: &str,
        version: VersionSpec,
        permanent: bool,
    ) -> Result<Effect<i32>, RegistryError> {
        self.ensure_writable(subject)?;
        let state = self
            .subjects
            .get(subject)
            .filter(|s| !s.versions.is_empty())
            .ok_or_else(|| RegistryError::SubjectNotFound(subject.to_string()))?;
        let found = match version {
            VersionSpec::Latest => state.latest(permanent),
            VersionSpec::Number(n) => state.versions.get(&n),
        };
        let label = match version {
            VersionSpec::Latest => "latest".to_string(),
            VersionSpec::Number(n) => n.to_string(),
        };
        let sv = found.ok_or(RegistryError::VersionNotFound(label))?;
        let v = sv.value.version;
        if !permanent && sv.value.deleted {
            return Err(RegistryError::SchemaVersionSoftDeleted {
                subject: subject.to_string(),
                version: v,
            });
        }
        if permanent && !sv.value.deleted {
            return Err(RegistryError::VersionNotSoftDeleted {
                subject: subject.to_string(),
                version: v,
            });
        }
        if self.referenced_by(subject, v) {
            return Err(RegistryError::ReferenceExists {
                subject: subject.to_string(),
                version: v,
            });
        }
        let value = if permanent {
            None
        } else {
            let mut value = sv.value.clone();
            value.deleted = true;
            Some(value)
        };
        let rec = RegistryRecord::Schema {
            subject: subject.to_string(),
            version: v,
            value,
        };
        Ok(Effect {
            records: encode(vec![rec])?,
            answer: v,
        })
    }

    /// Deletes a subject: soft (one `DELETE_SUBJECT` record; answers the live versions)
    /// or, when `permanent`, hard (tombstones for every version and for the subject's
    /// config and mode; every version must be soft-deleted first; answers all versions).
    pub fn delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<Effect<Vec<i32>>, RegistryError> {
        self.ensure_writable(subject)?;
        let state = self
            .subjects
            .get(subject)
            .filter(|s| !s.versions.is_empty())
            .ok_or_else(|| RegistryError::SubjectNotFound(subject.to_string()))?;
        let live: Vec<i32> = state
            .versions
            .values()
            .filter(|v| !v.value.deleted)
            .map(|v| v.value.version)
            .collect();
        if let Some(v) = live.iter().find(|v| self.referenced_by(subject, **v)) {
            return Err(RegistryError::ReferenceExists {
                subject: subject.to_string(),
                version: *v,
            });
        }
        if !permanent {
            if live.is_empty() {
                return Err(RegistryError::SubjectSoftDeleted(subject.to_string()));
            }
            let version = *state.versions.keys().next_back().unwrap_or(&0);
            let rec = RegistryRecord::DeleteSubject {
                subject: subject.to_string(),
                value: Some(DeleteSubjectValue {
                    subject: subject.to_string(),
                    version,
                }),
            };
            return Ok(Effect {
                records: encode(vec![rec])?,
                answer: live,
            });
        }
        if !live.is_empty() {
            return Err(RegistryError::SubjectNotSoftDeleted(subject.to_string()));
        }
        let all: Vec<i32> = state.versions.keys().copied().collect();
        let mut recs: Vec<RegistryRecord> = all
            .iter()
            .map(|v| RegistryRecord::Schema {
                subject: subject.to_string(),
                version: *v,
                value: None,
            })
            .collect();
        if self.subject_config.contains_key(subject) {
            recs.push(RegistryRecord::Config {
                subject: Some(subject.to_string()),
                value: None,
            });
        }
        if self.subject_mode.contains_key(subject) {
            recs.push(RegistryRecord::Mode {
                subject: Some(subject.to_string()),
                value: None,
            });
        }
        Ok(Effect {
            records: encode(recs)?,
            answer: all,
        })
    }

    /// Sets the compatibility level, global (`None`) or for a subject. Unknown level: 42203.
    pub fn set_config(
        &self,
        subject: Option<&str>,
        level: &str,
    ) -> Result<Effect<CompatibilityLevel>, RegistryError> {
        let level: CompatibilityLevel = level.parse()?;
        let rec = RegistryRecord::Config {
            subject: subject.map(str::to_string),
            value: Some(ConfigValue {
                compatibility_level: level,
            }),
        };
        Ok(Effect {
            records: encode(vec![rec])?,
            answer: level,
        })
    }

    /// Deletes a compatibility setting; answers the level that was in force. A subject
    /// without its own level gives 40408; the global one falls back to BACKWARD.
    pub fn delete_config(
        &self,
        subject: Option<&str>,
    ) -> Result<Effect<CompatibilityLevel>, RegistryError> {
        let previous = match subject {
            None => self.global_config.unwrap_or_default(),
            Some(s) => *self
                .subject_config
                .get(s)
                .ok_or_else(|| RegistryError::SubjectCompatibilityNotConfigured(s.to_string()))?,
        };
        let rec = RegistryRecord::Config {
            subject: subject.map(str::to_string),
            value: None,
        };
        Ok(Effect {
            records: encode(vec![rec])?,
            answer: previous,
        })
    }

    /// Sets the mode, global (`None`) or for a subject. Unknown mode: 42204. IMPORT is
    /// refused (42205) while schemas exist in scope, unless `force`.
    pub fn set_mode(
        &self,
        subject: Option<&str>,
        mode: &str,
        force: bool,
    ) -> Result<Effect<Mode>, RegistryError> {
        let mode: Mode = mode.parse()?;
        if mode == Mode::Import && !force {
            let non_empty = match subject {
                None => self.subjects.values().any(|s| !s.versions.is_empty()),
                Some(s) => self.subjects.get(s).is_some_and(|s| !s.versions.is_empty()),
            };
            if non_empty {
                return Err(RegistryError::OperationNotPermitted(
                    "Cannot import since found existing subjects".to_string(),
                ));
            }
        }
        let rec = RegistryRecord::Mode {
            subject: subject.map(str::to_string),
            value: Some(ModeValue { mode }),
        };
        Ok(Effect {
            records: encode(vec![rec])?,
            answer: mode,
        })
    }

    /// Deletes a mode setting; answers the mode that was in force. A subject without its
    /// own mode gives 40409; the global one falls back to READWRITE.
    pub fn delete_mode(&self, subject: Option<&str>) -> Result<Effect<Mode>, RegistryError> {
        let previous = match subject {
            None => self.global_mode.unwrap_or_default(),
            Some(s) => *self
                .subject_mode
                .get(s)
                .ok_or_else(|| RegistryError::SubjectModeNotConfigured(s.to_string()))?,
        };
        let rec = RegistryRecord::Mode {
            subject: subject.map(str::to_string),
            value: None,
        };
        Ok(Effect {
            records: encode(vec![rec])?,
            answer: previous,
        })
    }
}
