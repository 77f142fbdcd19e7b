//! `/schemas` (by global id, and the supported types) and `/compatibility`.

use axum::extract::{Path, Request, State};
use axum::response::Response;
use serde_json::json;
use strata_registry::{RegistryError, SchemaById, VersionSpec};

use super::subjects::{raw_schema, SchemaInput};
use super::{error, handle, ok, Call, Shared};

/// The id in the path; anything that is not a positive 32-bit id is not found (40403).
fn schema_id(id: &str) -> Result<i32, Response> {
    id.parse::<i32>().ok().filter(|n| *n > 0).ok_or_else(|| {
        error(&RegistryError::SchemaNotFound(format!(
            "Schema {id} not found"
        )))
    })
}

fn by_id_json(s: &SchemaById) -> serde_json::Value {
    let mut out = json!({"schema": s.schema});
    if !s.schema_type.is_avro() {
        out["schemaType"] = json!(s.schema_type.as_str());
    }
    if !s.references.is_empty() {
        out["references"] = json!(s.references);
    }
    out
}

/// The schema the path's id names.
async fn stored_schema(call: &Call, id: &str) -> Result<SchemaById, Response> {
    let id = schema_id(id)?;
    call.read_registry(|r| r.schema_by_id(id)).await
}

/// `GET /schemas/types`: the types this registry parses.
pub(super) async fn types() -> Response {
    ok(&["AVRO", "JSON", "PROTOBUF"])
}

/// `GET /schemas/ids/{id}`.
pub(super) async fn by_id(State(b): Shared, Path(id): Path<String>, req: Request) -> Response {
    handle(b, req, |call| async move {
        let s = stored_schema(&call, &id).await?;
        Ok(ok(&by_id_json(&s)))
    })
    .await
}

/// `GET /schemas/ids/{id}/schema`: the schema text.
pub(super) async fn by_id_schema(
    State(b): Shared,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    handle(b, req, |call| async move {
        let s = stored_schema(&call, &id).await?;
        Ok(raw_schema(s.schema))
    })
    .await
}

/// `GET /schemas/ids/{id}/subjects?deleted=`.
pub(super) async fn id_subjects(
    State(b): Shared,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    handle(b, req, |call| async move {
        let id = schema_id(&id)?;
        let deleted = call.flag("deleted");
        let s = call
            .read_registry(|r| r.subjects_of_id(id, deleted))
            .await?;
        Ok(ok(&s))
    })
    .await
}

/// `GET /schemas/ids/{id}/versions?deleted=`: `[{"subject", "version"}]`.
pub(super) async fn id_versions(
    State(b): Shared,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    handle(b, req, |call| async move {
        let id = schema_id(&id)?;
        let deleted = call.flag("deleted");
        let v = call
            .read_registry(|r| r.versions_of_id(id, deleted))
            .await?;
        let out: Vec<_> = v
            .into_iter()
            .map(|(subject, version)| json!({"subject": subject, "version": version}))
            .collect();
        Ok(ok(&out))
    })
    .await
}

async fn compatibility(
    call: Call,
    subject: String,
    version: Option<VersionSpec>,
) -> Result<Response, Response> {
    let input = SchemaInput::read(&call)?;
    let verbose = call.flag("verbose");
    let result = call
        .parse_registry(move |r| {
            r.check_compatibility(
                &subject,
                &input.schema,
                input.schema_type,
                &input.references,
                version,
                verbose,
            )
        })
        .await?;
    let mut out = json!({"is_compatible": result.is_compatible});
    if verbose {
        out["messages"] = json!(result.messages);
    }
    Ok(ok(&out))
}

/// `POST /compatibility/subjects/{s}/versions/{v}?verbose=`.
pub(super) async fn compatibility_one(
    State(b): Shared,
    Path((subject, version)): Path<(String, String)>,
    req: Request,
) -> Response {
    handle(b, req, |call| async move {
        let spec = VersionSpec::parse(&version).map_err(|e| error(&e))?;
        compatibility(call, subject, Some(spec)).await
    })
    .await
}

/// `POST /compatibility/subjects/{s}/versions?verbose=`: against the versions the
/// subject's level selects.
pub(super) async fn compatibility_all(
    State(b): Shared,
    Path(subject): Path<String>,
    req: Request,
) -> Response {
    handle(b, req, |call| compatibility(call, subject, None)).await
}
