//! `/subjects`: list, register, look up, read versions, delete.

use axum::extract::{Path, Request};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use strata_registry::{
    RegisterRequest, RegistryError, SchemaReference, SchemaType, SubjectVersion, VersionSpec,
};

use super::{error, handle, ok, Call, Shared, CONTENT_TYPE};

/// A schema as a request body gives it (`schema`, `schemaType`, `references`, and in
/// IMPORT mode `id` and `version`).
pub(super) struct SchemaInput {
    pub schema: String,
    pub schema_type: SchemaType,
    pub references: Vec<SchemaReference>,
    pub id: Option<i32>,
    pub version: Option<i32>,
}

impl SchemaInput {
    /// Reads the body; a missing or non-string schema, an unknown type or malformed
    /// references are 42201.
    pub fn read(call: &Call) -> Result<Self, Response> {
        let m = call.json_body()?;
        let invalid = |why: String| error(&RegistryError::InvalidSchema(why));
        let schema = match m.get("schema") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(invalid("Empty schema".to_string()))
            }
            Some(_) => return Err(invalid("the schema must be a JSON string".to_string())),
        };
        let schema_type = match m.get("schemaType") {
            None | Some(Value::Null) => SchemaType::Avro,
            Some(Value::String(t)) => SchemaType::parse(Some(t)).map_err(|e| error(&e))?,
            Some(_) => return Err(invalid("schemaType must be a string".to_string())),
        };
        let references = match m.get("references") {
            None | Some(Value::Null) => Vec::new(),
            Some(r) => serde_json::from_value::<Vec<SchemaReference>>(r.clone())
                .map_err(|e| invalid(format!("malformed references: {e}")))?,
        };
        let int = |name: &str| -> Result<Option<i32>, Response> {
            match m.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .map(Some)
                    .ok_or_else(|| invalid(format!("{name} must be a 32-bit integer"))),
            }
        };
        Ok(Self {
            schema,
            schema_type,
            references,
            id: int("id")?,
            version: int("version")?,
        })
    }
}

/// A stored version as Confluent answers it (`schemaType` left out for AVRO,
/// `references` when empty).
pub(super) fn version_json(v: &SubjectVersion) -> Value {
    let mut out = json!({
        "subject": v.subject,
        "version": v.version,
        "id": v.id,
        "schema": v.schema,
    });
    if !v.schema_type.is_avro() {
        out["schemaType"] = json!(v.schema_type.as_str());
    }
    if !v.references.is_empty() {
        out["references"] = json!(v.references);
    }
    out
}

/// The schema text itself (the `/schema` sub-resources).
pub(super) fn raw_schema(text: String) -> Response {
    let mut r = text.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    r
}

fn version_spec(v: &str) -> Result<VersionSpec, Response> {
    VersionSpec::parse(v).map_err(|e| error(&e))
}

/// `GET /subjects?deleted=&subjectPrefix=`.
pub(super) async fn list(axum::extract::State(b): Shared, req: Request) -> Response {
    handle(b, req, |call| async move {
        let deleted = call.flag("deleted");
        let prefix = call.query.get("subjectPrefix").cloned().unwrap_or_default();
        let subjects = call
            .read_registry(|r| Ok(r.subjects(deleted)))
            .await?
            .into_iter()
            .filter(|s| s.starts_with(&prefix))
            .collect::<Vec<_>>();
        Ok(ok(&subjects))
    })
    .await
}

/// `GET /subjects/{s}/versions?deleted=`.
pub(super) async fn versions(
    axum::extract::State(b): Shared,
    Path(subject): Path<String>,
    req: Request,
) -> Response {
    handle(b, req, |call| async move {
        let deleted = call.flag("deleted");
        let v = call
            .read_registry(|r| r.versions(&subject, deleted))
            .await?;
        Ok(ok(&v))
    })
    .await
}

/// `POST /subjects/{s}/versions?normalize=`: registers; answers `{"id": N}`.
pub(super) async fn register(
    axum::extract::State(b): Shared,
    Path(subject): Path<String>,
    req: Request,
) -> Response {
    handle(b, req, |call| async move {
        let input = SchemaInput::read(&call)?;
        let request = RegisterRequest {
            subject,
            schema: input.schema,
            schema_type: input.schema_type,
            references: input.references,
            normalize: call.flag("normalize"),
            id: input.id,
            version: input.version,
        };
        let registered = call.write_registry(move |r| r.register(&request)).await?;
        Ok(ok(&json!({"id": registered.id})))
    })
    .await
}

/// `GET /subjects/{s}/versions/{v}?deleted=`.
pub(super) async fn version(
    axum::extract::State(b): Shared,
    Path((subject, version)): Path<(String, String)>,
    req: Request,
) -> Response {
    handle(b, req, |call| async move {
        let v = stored_version(&call, &subject, &version).await?;
        Ok(ok(&version_json(&v)))
    })
    .await
}

/// The version `{v}` of `{s}` the path names (`deleted=true` sees soft-deleted ones).
async fn stored_version(
    call: &Call,
    subject: &str,
    version: &str,
) -> Result<SubjectVersion, Response> {
    let spec = version_spec(version)?;
    let deleted = call.flag("deleted");
    call.read_registry(|r| r.version(subject, spec, deleted))
        .await
}

/// `GET /subjects/{s}/versions/{v}/schema`: the schema text.
pub(super) async fn version_schema(
    axum::extract::State(b): Shared,
    Path((subject, version)): Path<(String, String)>,
    req: Request,
) -> Response {
    handle(b, req, |call| async move {
        let v = stored_version(&call, &subject, &version).await?;
        Ok(raw_schema(v.schema))
    })
    .await
}

/// `GET /subjects/{s}/versions/{v}/referencedby`: ids of the schemas referencing it.
pub(super) async fn referenced_by(
    axum::extract::State(b): Shared,
    Path((subject, version)): Path<(String, String)>,
    req: Request,
) -> Response {
    handle(b, req, |call| async move {
        let spec = version_spec(&version)?;
        let ids = call
            .read_registry(|r| r.referenced_by_ids(&subject, spec))
            .await?;
        Ok(ok(&ids))
    })
    .await
}

/// `POST /subjects/{s}?normalize=&deleted=`: is this schema registered under the subject?
pub(super) async fn lookup(
    axum::extract::State(b): Shared,
    Path(subject): Path<String>,
    req: Request,
) -> Response {
    handle(b, req, |call| async move {
        let input = SchemaInput::read(&call)?;
        let deleted = call.flag("deleted");
        let v = call
            .parse_registry(move |r| {
                r.lookup(
                    &subject,
                    &input.schema,
                    input.schema_type,
                    &input.references,
                    deleted,
                )
            })
            .await?;
        Ok(ok(&version_json(&v)))
    })
    .await
}

/// `DELETE /subjects/{s}?permanent=`: answers the versions deleted.
pub(super) async fn delete_subject(
    axum::extract::State(b): Shared,
    Path(subject): Path<String>,
    req: Request,
) -> Response {
    handle(b, req, |call| async move {
        let permanent = call.flag("permanent");
        let versions = call
            .write_registry(move |r| r.delete_subject(&subject, permanent))
            .await?;
        Ok(ok(&versions))
    })
    .await
}

/// `DELETE /subjects/{s}/versions/{v}?permanent=`: answers the version deleted.
pub(super) async fn delete_version(
    axum::extract::State(b): Shared,
    Path((subject, version)): Path<(String, String)>,
    req: Request,
) -> Response {
    handle(b, req, |call| async move {
        let spec = version_spec(&version)?;
        let permanent = call.flag("permanent");
        let v = call
            .write_registry(move |r| r.delete_version(&subject, spec, permanent))
            .await?;
        Ok(ok(&v))
    })
    .await
}
