//! `/api/v1/groups`: list, describe with lag, offset resets.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::Extension;
use strata_broker::admin::groups::ResetRequest;
use strata_broker::Broker;

use super::params::Params;
use super::{body, caller, ok, path, ApiResult};
use crate::Principal;

/// Groups per page: default and most.
const GROUPS_PAGE: (usize, usize) = (50, 500);

/// `GET /api/v1/groups?search=&offset=&limit=` (the groups this broker coordinates).
pub(super) async fn list(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Params::parse(q.as_deref(), &["search", "offset", "limit"])?;
    let page = q.page(GROUPS_PAGE.0, GROUPS_PAGE.1)?;
    ok(broker.admin_groups(&caller(&who), q.text("search"), page.offset, page.limit))
}

/// `GET /api/v1/groups/{group}`.
pub(super) async fn describe(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    p: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let group = path(p)?;
    Params::parse(q.as_deref(), &[])?;
    ok(broker.admin_group(&caller(&who), &group)?)
}

/// `POST /api/v1/groups/{group}/reset-offsets` with
/// `{"topic", "partitions"?, "to", "dry_run"}`.
pub(super) async fn reset(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    p: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
    bytes: Bytes,
) -> ApiResult {
    let group = path(p)?;
    Params::parse(q.as_deref(), &[])?;
    let req: ResetRequest = body(&bytes)?;
    ok(broker
        .admin_reset_offsets(&caller(&who), &group, req)
        .await?)
}
