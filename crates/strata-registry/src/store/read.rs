//! Read operations: answers from the current state, never records.

use crate::compat::{check_against, check_pair, CompatibilityLevel};
use crate::error::RegistryError;
use crate::mode::Mode;
use crate::schema::{SchemaReference, SchemaType};

use super::{Registry, SchemaById, SubjectState, SubjectVersion, VersionSpec};

/// The answer to a compatibility check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompatibilityResult {
    /// True when the schema is compatible.
    pub is_compatible: bool,
    /// The incompatibilities (only filled when `verbose` was asked).
    pub messages: Vec<String>,
}

impl Registry {
    fn visible_subject(
        &self,
        subject: &str,
        deleted: bool,
    ) -> Result<&SubjectState, RegistryError> {
        self.subjects
            .get(subject)
            .filter(|s| {
                if deleted {
                    !s.versions.is_empty()
                } else {
                    s.has_live()
                }
            })
            .ok_or_else(|| RegistryError::SubjectNotFound(subject.to_string()))
    }

    /// The schema with `id` (also while only soft-deleted versions use it); 40403 otherwise.
    pub fn schema_by_id(&self, id: i32) -> Result<SchemaById, RegistryError> {
        self.by_id
            .get(&id)
            .map(|e| e.schema.clone())
            .ok_or_else(|| RegistryError::SchemaNotFound(format!("Schema {id} not found")))
    }

    /// The (subject, version) pairs using `id`, live ones only unless `deleted`.
    pub fn versions_of_id(
        &self,
        id: i32,
        deleted: bool,
    ) -> Result<Vec<(String, i32)>, RegistryError> {
        let e = self
            .by_id
            .get(&id)
            .ok_or_else(|| RegistryError::SchemaNotFound(format!("Schema {id} not found")))?;
        Ok(e.users
            .iter()
            .filter(|(s, v)| {
                deleted
                    || self
                        .subjects
                        .get(s)
                        .and_then(|st| st.versions.get(v))
                        .is_some_and(|sv| !sv.value.deleted)
            })
            .cloned()
            .collect())
    }

    /// Whether a live version of `subject` uses schema `id`.
    pub fn id_in_subject(&self, id: i32, subject: &str) -> bool {
        self.by_id.get(&id).is_some_and(|entry| {
            entry.users.iter().any(|(s, v)| {
                s == subject
                    && self
                        .subjects
                        .get(s)
                        .and_then(|st| st.versions.get(v))
                        .is_some_and(|sv| !sv.value.deleted)
            })
        })
    }

    /// The record name of schema `id` (see [`crate::ParsedSchema::record_name`]), used
    /// by the record name strategies; `None` when unknown or unnamed.
    pub fn record_name_of(&self, id: i32) -> Option<String> {
        let entry = self.by_id.get(&id)?;
        self.parse(
            entry.schema.schema_type,
            &entry.schema.schema,
            &entry.schema.references,
        )
        .ok()?
        .record_name()
    }

    /// The subjects using `id`, live ones only unless `deleted`.
    pub fn subjects_of_id(&self, id: i32, deleted: bool) -> Result<Vec<String>, RegistryError> {
        let mut out: Vec<String> = self
            .versions_of_id(id, deleted)?
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        out.dedup();
        Ok(out)
    }

    /// Subjects with a live version (or, with `deleted`, with any stored version), sorted.
    pub fn subjects(&self, deleted: bool) -> Vec<String> {
        self.subjects
            .iter()
            .filter(|(_, s)| {
                if deleted {
                    !s.versions.is_empty()
                } else {
                    s.has_live()
                }
            })
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The versions of a subject, ascending; 40401 when none is visible.
    pub fn versions(&self, subject: &str, deleted: bool) -> Result<Vec<i32>, RegistryError> {
        let s = self.visible_subject(subject, deleted)?;
        Ok(s.versions
            .values()
            .filter(|v| deleted || !v.value.deleted)
            .map(|v| v.value.version)
            .collect())
    }

    /// One version of a subject (`deleted` lets soft-deleted ones be seen).
    /// Errors: 40401 subject, 40402 version.
    pub fn version(
        &self,
        subject: &str,
        version: VersionSpec,
        deleted: bool,
    ) -> Result<SubjectVersion, RegistryError> {
        let s = self.visible_subject(subject, deleted)?;
        let (found, label) = match version {
            VersionSpec::Latest => (s.latest(deleted), "latest".to_string()),
            VersionSpec::Number(n) => (
                s.versions.get(&n).filter(|v| deleted || !v.value.deleted),
                n.to_string(),
            ),
        };
        found
            .map(Self::subject_version)
            .ok_or(RegistryError::VersionNotFound(label))
    }

    /// The ids of the live schemas (of any subject) that reference `subject` at
    /// `version`, ascending; 40401 / 40402 when that version is not visible.
    pub fn referenced_by_ids(
        &self,
        subject: &str,
        version: VersionSpec,
    ) -> Result<Vec<i32>, RegistryError> {
        let v = self.version(subject, version, false)?.version;
        let mut ids: Vec<i32> = self
            .subjects
            .values()
            .flat_map(|s| s.versions.values())
            .filter(|sv| {
                !sv.value.deleted
                    && sv
                        .value
                        .references
                        .iter()
                        .any(|r| r.subject == subject && r.version == v)
            })
            .map(|sv| sv.value.id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// Finds `schema` among the versions of `subject` (soft-deleted too with `deleted`).
    /// Errors: 42201 bad schema, 40401 subject, 40403 not registered there.
    pub fn lookup(
        &self,
        subject: &str,
        schema: &str,
        schema_type: SchemaType,
        references: &[SchemaReference],
        deleted: bool,
    ) -> Result<SubjectVersion, RegistryError> {
        let parsed = self.parse(schema_type, schema, references)?;
        let s = self.visible_subject(subject, deleted)?;
        s.versions
            .values()
            .rev()
            .find(|v| {
                (deleted || !v.value.deleted)
                    && v.value.schema_type == schema_type
                    && v.canonical == parsed.canonical()
                    && v.value.references == references
            })
            .map(Self::subject_version)
            .ok_or_else(|| RegistryError::SchemaNotFound("Schema not found".to_string()))
    }

    /// The compatibility level: global (`None`, BACKWARD when unset) or the subject's;
    /// an unset subject level falls back to the global one with `default_to_global`, else 40408.
    pub fn config(
        &self,
        subject: Option<&str>,
        default_to_global: bool,
    ) -> Result<CompatibilityLevel, RegistryError> {
        match subject {
            None => Ok(self.global_config.unwrap_or_default()),
            Some(s) => match self.subject_config.get(s) {
                Some(l) => Ok(*l),
                None if default_to_global => Ok(self.global_config.unwrap_or_default()),
                None => Err(RegistryError::SubjectCompatibilityNotConfigured(
                    s.to_string(),
                )),
            },
        }
    }

    /// The mode: global (`None`, READWRITE when unset) or the subject's; an unset subject
    /// mode falls back to the global one with `default_to_global`, else 40409.
    pub fn mode(
        &self,
        subject: Option<&str>,
        default_to_global: bool,
    ) -> Result<Mode, RegistryError> {
        match subject {
            None => Ok(self.global_mode.unwrap_or_default()),
            Some(s) => match self.subject_mode.get(s) {
                Some(m) => Ok(*m),
                None if default_to_global => Ok(self.global_mode.unwrap_or_default()),
                None => Err(RegistryError::SubjectModeNotConfigured(s.to_string())),
            },
        }
    }

    /// Tests `schema` against one version of `subject` (`Some`) or against the versions
    /// the subject's level selects (`None`; compatible when the subject has none).
    /// Messages are returned only when `verbose`.
    /// Errors: 42201 bad schema, 40401 subject, 40402 version.
    pub fn check_compatibility(
        &self,
        subject: &str,
        schema: &str,
        schema_type: SchemaType,
        references: &[SchemaReference],
        version: Option<VersionSpec>,
        verbose: bool,
    ) -> Result<CompatibilityResult, RegistryError> {
        let parsed = self.parse(schema_type, schema, references)?;
        let level = self.effective_compatibility(subject);
        let messages = match version {
            Some(spec) => {
                let sv = self.version(subject, spec, false)?;
                let old = self
                    .parse(sv.schema_type, &sv.schema, &sv.references)
                    .map_err(|e| {
                        RegistryError::Store(format!("stored schema does not parse: {e}"))
                    })?;
                let mut out = Vec::new();
                if matches!(
                    level,
                    CompatibilityLevel::Backward
                        | CompatibilityLevel::BackwardTransitive
                        | CompatibilityLevel::Full
                        | CompatibilityLevel::FullTransitive
                ) {
                    out.extend(check_pair(&parsed, &old));
                }
                if matches!(
                    level,
                    CompatibilityLevel::Forward
                        | CompatibilityLevel::ForwardTransitive
                        | CompatibilityLevel::Full
                        | CompatibilityLevel::FullTransitive
                ) {
                    out.extend(check_pair(&old, &parsed));
                }
                out
            }
            None => {
                let previous = self.live_parsed(subject);
                let refs: Vec<_> = previous.iter().collect();
                check_against(level, &parsed, &refs)
            }
        };
        Ok(CompatibilityResult {
            is_compatible: messages.is_empty(),
            messages: if verbose { messages } else { Vec::new() },
        })
    }
}
