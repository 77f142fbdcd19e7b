//! `/config` (compatibility levels) and `/mode`, global and per subject.

use axum::extract::{Path, Request, State};
use axum::response::Response;
use serde_json::{json, Value};
use strata_registry::RegistryError;

use super::{error, handle, ok, Call, Shared};

/// A string field of the body; `missing` when absent or not a string.
fn field(call: &Call, name: &str, missing: RegistryError) -> Result<String, Response> {
    match call.json_body()?.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(error(&missing)),
    }
}

async fn get_config(call: Call, subject: Option<String>) -> Result<Response, Response> {
    let fallback = call.flag("defaultToGlobal");
    let level = call
        .read_registry(|r| r.config(subject.as_deref(), fallback))
        .await?;
    Ok(ok(&json!({"compatibilityLevel": level.as_str()})))
}

async fn put_config(call: Call, subject: Option<String>) -> Result<Response, Response> {
    let level = field(
        &call,
        "compatibility",
        RegistryError::InvalidCompatibilityLevel("null".to_string()),
    )?;
    let set = call
        .write_registry(move |r| r.set_config(subject.as_deref(), &level))
        .await?;
    Ok(ok(&json!({"compatibility": set.as_str()})))
}

async fn delete_config(call: Call, subject: Option<String>) -> Result<Response, Response> {
    let was = call
        .write_registry(move |r| r.delete_config(subject.as_deref()))
        .await?;
    Ok(ok(&json!({"compatibilityLevel": was.as_str()})))
}

async fn get_mode(call: Call, subject: Option<String>) -> Result<Response, Response> {
    let fallback = call.flag("defaultToGlobal");
    let mode = call
        .read_registry(|r| r.mode(subject.as_deref(), fallback))
        .await?;
    Ok(ok(&json!({"mode": mode.as_str()})))
}

async fn put_mode(call: Call, subject: Option<String>) -> Result<Response, Response> {
    let mode = field(
        &call,
        "mode",
        RegistryError::InvalidMode("null".to_string()),
    )?;
    let force = call.flag("force");
    let set = call
        .write_registry(move |r| r.set_mode(subject.as_deref(), &mode, force))
        .await?;
    Ok(ok(&json!({"mode": set.as_str()})))
}

async fn delete_mode(call: Call, subject: Option<String>) -> Result<Response, Response> {
    let was = call
        .write_registry(move |r| r.delete_mode(subject.as_deref()))
        .await?;
    Ok(ok(&json!({"mode": was.as_str()})))
}

/// `GET /config`.
pub(super) async fn get_global(State(b): Shared, req: Request) -> Response {
    handle(b, req, |c| get_config(c, None)).await
}

/// `PUT /config` with `{"compatibility": L}`.
pub(super) async fn put_global(State(b): Shared, req: Request) -> Response {
    handle(b, req, |c| put_config(c, None)).await
}

/// `DELETE /config`: back to the default; answers the level that was set.
pub(super) async fn delete_global(State(b): Shared, req: Request) -> Response {
    handle(b, req, |c| delete_config(c, None)).await
}

/// `GET /config/{s}?defaultToGlobal=`.
pub(super) async fn get_subject(State(b): Shared, Path(s): Path<String>, req: Request) -> Response {
    handle(b, req, |c| get_config(c, Some(s))).await
}

/// `PUT /config/{s}`.
pub(super) async fn put_subject(State(b): Shared, Path(s): Path<String>, req: Request) -> Response {
    handle(b, req, |c| put_config(c, Some(s))).await
}

/// `DELETE /config/{s}`.
pub(super) async fn delete_subject(
    State(b): Shared,
    Path(s): Path<String>,
    req: Request,
) -> Response {
    handle(b, req, |c| delete_config(c, Some(s))).await
}

/// `GET /mode`.
pub(super) async fn get_global_mode(State(b): Shared, req: Request) -> Response {
    handle(b, req, |c| get_mode(c, None)).await
}

/// `PUT /mode?force=` with `{"mode": M}`.
pub(super) async fn put_global_mode(State(b): Shared, req: Request) -> Response {
    handle(b, req, |c| put_mode(c, None)).await
}

/// `DELETE /mode`.
pub(super) async fn delete_global_mode(State(b): Shared, req: Request) -> Response {
    handle(b, req, |c| delete_mode(c, None)).await
}

/// `GET /mode/{s}?defaultToGlobal=`.
pub(super) async fn get_subject_mode(
    State(b): Shared,
    Path(s): Path<String>,
    req: Request,
) -> Response {
    handle(b, req, |c| get_mode(c, Some(s))).await
}

/// `PUT /mode/{s}?force=`.
pub(super) async fn put_subject_mode(
    State(b): Shared,
    Path(s): Path<String>,
    req: Request,
) -> Response {
    handle(b, req, |c| put_mode(c, Some(s))).await
}

/// `DELETE /mode/{s}`.
pub(super) async fn delete_subject_mode(
    State(b): Shared,
    Path(s): Path<String>,
    req: Request,
) -> Response {
    handle(b, req, |c| delete_mode(c, Some(s))).await
}
