//! `/api/v1/schemas`: registry subjects and their versions (this broker's copy).

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use strata_broker::Broker;

use super::params::Params;
use super::{ok, path, ApiResult};

/// Subjects per page: default and most.
const SUBJECTS_PAGE: (usize, usize) = (50, 500);

/// `GET /api/v1/schemas?search=&offset=&limit=`.
pub(super) async fn list(State(broker): State<Arc<Broker>>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Params::parse(q.as_deref(), &["search", "offset", "limit"])?;
    let page = q.page(SUBJECTS_PAGE.0, SUBJECTS_PAGE.1)?;
    ok(broker
        .admin_subjects(q.text("search"), page.offset, page.limit)
        .await?)
}

/// `GET /api/v1/schemas/{subject}`.
pub(super) async fn describe(
    State(broker): State<Arc<Broker>>,
    p: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let subject = path(p)?;
    Params::parse(q.as_deref(), &[])?;
    ok(broker.admin_subject(&subject).await?)
}
