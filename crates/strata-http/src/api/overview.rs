//! `GET /api/v1/overview`.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use strata_broker::Broker;

use super::params::Params;
use super::{ok, ApiExt, ApiResult};

/// Brokers, controller, partition health and throughput (a fresh sample each call).
pub(super) async fn get(
    State(broker): State<Arc<Broker>>,
    state: ApiExt,
    RawQuery(q): RawQuery,
) -> ApiResult {
    Params::parse(q.as_deref(), &[])?;
    ok(broker.admin_overview(&state.sampler).await)
}
