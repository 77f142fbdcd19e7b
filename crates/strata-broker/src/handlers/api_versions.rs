//! ApiVersions: the table of APIs and versions this broker advertises.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::ApiVersionsResponse;
use strata_proto::versions::SUPPORTED;

/// The advertised table (see `strata_proto::versions` for why minima start low).
pub fn table() -> Vec<ApiVersion> {
    SUPPORTED
        .iter()
        .map(|s| {
            ApiVersion::default()
                .with_api_key(s.key as i16)
                .with_min_version(s.advertised_min)
                .with_max_version(s.max)
        })
        .collect()
}

/// Serves ApiVersions at any version we decode (v0–v4).
pub fn handle() -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(table())
}
