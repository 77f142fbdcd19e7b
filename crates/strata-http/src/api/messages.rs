//! `GET /api/v1/topics/{topic}/partitions/{partition}/messages?offset=N|timestamp=MS&limit=K`.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::Extension;
use strata_broker::admin::messages::{Start, MAX_RECORDS};
use strata_broker::Broker;

use super::params::Params;
use super::{caller, ok, partition_index, path, ApiError, ApiResult};
use crate::Principal;

/// Records per call when `limit` is not given.
const DEFAULT_LIMIT: i64 = 20;

/// Where to start: `offset` or `timestamp` (not both; neither: the log start).
pub(crate) fn start(q: &Params) -> Result<Start, ApiError> {
    match (q.has("offset"), q.has("timestamp")) {
        (true, true) => Err(ApiError::bad_request(
            "give 'offset' or 'timestamp', not both",
        )),
        (false, true) => Ok(Start::Timestamp(q.int("timestamp", 0, 0, i64::MAX)?)),
        _ => Ok(Start::Offset(q.int("offset", 0, 0, i64::MAX)?)),
    }
}

/// Records of one partition, read where this broker leads it (else 421).
pub(super) async fn get(
    State(broker): State<Arc<Broker>>,
    Extension(who): Extension<Principal>,
    p: Result<Path<(String, String)>, PathRejection>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let (topic, partition) = path(p)?;
    let partition = partition_index(&partition)?;
    let q = Params::parse(q.as_deref(), &["offset", "timestamp", "limit"])?;
    let start = start(&q)?;
    let limit = q.int("limit", DEFAULT_LIMIT, 1, MAX_RECORDS as i64)? as usize;
    ok(broker
        .admin_messages(&caller(&who), &topic, partition, start, limit)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(raw: &str) -> Result<Start, ApiError> {
        start(&Params::parse(
            Some(raw),
            &["offset", "timestamp", "limit"],
        )?)
    }

    #[test]
    fn offset_or_timestamp() {
        assert_eq!(s("").unwrap(), Start::Offset(0));
        assert_eq!(s("offset=12").unwrap(), Start::Offset(12));
        assert_eq!(
            s("timestamp=1700000000000").unwrap(),
            Start::Timestamp(1_700_000_000_000)
        );
        assert!(s("offset=1&timestamp=2").is_err());
        assert!(s("offset=-1").is_err());
        assert!(s("timestamp=x").is_err());
        assert!(partition_index("-1").is_err() && partition_index("a").is_err());
        assert_eq!(partition_index("3").unwrap(), 3);
    }
}
