//! Schema registry subjects and versions, from this broker's copy of `_schemas`.

use std::sync::Arc;

use serde::Serialize;
use strata_registry::{Registry, RegistryError, VersionSpec};

use super::{matches, AdminError};
use crate::registry::{RegistryFailure, Route};
use crate::Broker;

/// One subject in a listing.
#[derive(Debug, Serialize)]
pub struct SubjectItem {
    /// Subject.
    pub subject: String,
    /// Latest live version.
    pub latest_version: i32,
    /// Its schema id.
    pub id: i32,
    /// `AVRO`, `JSON` or `PROTOBUF`.
    pub schema_type: &'static str,
    /// Live versions.
    pub versions: usize,
}

/// A page of subjects.
#[derive(Debug, Serialize)]
pub struct SubjectPage {
    /// Subjects matching (all pages).
    pub total: usize,
    /// First index of this page.
    pub offset: usize,
    /// Page size asked for.
    pub limit: usize,
    /// This page, by name.
    pub subjects: Vec<SubjectItem>,
}

/// One version of a subject.
#[derive(Debug, Serialize)]
pub struct VersionView {
    /// Version.
    pub version: i32,
    /// Schema id.
    pub id: i32,
    /// Schema type.
    pub schema_type: &'static str,
    /// Schema text.
    pub schema: String,
    /// References as `name -> subject/version`.
    pub references: Vec<String>,
}

/// A subject with its versions (newest first).
#[derive(Debug, Serialize)]
pub struct SubjectView {
    /// Subject.
    pub subject: String,
    /// Compatibility level in force.
    pub compatibility: String,
    /// Versions, newest first.
    pub versions: Vec<VersionView>,
}

fn failure(e: RegistryFailure) -> AdminError {
    match e {
        RegistryFailure::Registry(RegistryError::SubjectNotFound(s)) => {
            AdminError::NotFound(format!("no subject '{s}'"))
        }
        RegistryFailure::Registry(e) => AdminError::Internal(e.to_string()),
        RegistryFailure::Route(Route::Forward { node_id, .. }) => AdminError::Misdirected {
            message: format!(
                "this broker holds no copy of the registry; ask broker {node_id}'s HTTP listener"
            ),
            node: None,
        },
        RegistryFailure::Route(Route::Unavailable(m)) => AdminError::Unavailable(m),
    }
}

fn item(r: &Registry, subject: String) -> Option<SubjectItem> {
    let latest = r.version(&subject, VersionSpec::Latest, false).ok()?;
    Some(SubjectItem {
        versions: r.versions(&subject, false).map_or(0, |v| v.len()),
        latest_version: latest.version,
        id: latest.id,
        schema_type: latest.schema_type.as_str(),
        subject,
    })
}

impl Broker {
    /// Subjects whose name contains `search`, with their latest version.
    pub async fn admin_subjects(
        self: &Arc<Self>,
        search: &str,
        offset: usize,
        limit: usize,
    ) -> Result<SubjectPage, AdminError> {
        let needle = search.to_lowercase();
        self.registry_read(|r| {
            let names: Vec<String> = r
                .subjects(false)
                .into_iter()
                .filter(|s| matches(s, &needle))
                .collect();
            SubjectPage {
                total: names.len(),
                offset,
                limit,
                subjects: super::page(names, offset, limit)
                    .into_iter()
                    .filter_map(|s| item(r, s))
                    .collect(),
            }
        })
        .await
        .map_err(failure)
    }

    /// One subject's live versions with their schema text.
    pub async fn admin_subject(self: &Arc<Self>, subject: &str) -> Result<SubjectView, AdminError> {
        let subject = subject.to_string();
        self.registry_read(move |r| {
            let versions = r.versions(&subject, false)?;
            let mut out = Vec::with_capacity(versions.len());
            for v in versions.into_iter().rev() {
                let sv = r.version(&subject, VersionSpec::Number(v), false)?;
                out.push(VersionView {
                    version: sv.version,
                    id: sv.id,
                    schema_type: sv.schema_type.as_str(),
                    schema: sv.schema,
                    references: sv
                        .references
                        .iter()
                        .map(|x| format!("{} -> {}/{}", x.name, x.subject, x.version))
                        .collect(),
                });
            }
            Ok::<_, RegistryError>(SubjectView {
                compatibility: r.effective_compatibility(&subject).as_str().to_string(),
                subject,
                versions: out,
            })
        })
        .await
        .map_err(failure)?
        .map_err(|e| failure(RegistryFailure::Registry(e)))
    }
}
