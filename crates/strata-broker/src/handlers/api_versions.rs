//! ApiVersions: the table of APIs and versions this broker advertises, and the
//! features (KIP-584) it supports and has finalized.

use kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use kafka_protocol::messages::ApiVersionsResponse;
use kafka_protocol::protocol::StrBytes;
use strata_proto::versions::SUPPORTED;

/// KIP-890 part 2 ("transactions v2"): a client that sees `transaction.version`
/// finalized at 2 or more bumps its epoch at every EndTxn (v5), lets Produce v12 and
/// TxnOffsetCommit v5 add their partitions implicitly, and sends no
/// AddPartitionsToTxn / AddOffsetsToTxn. Levels: 0 and 1 the classic protocol, 2 v2.
pub const TRANSACTION_VERSION: &str = "transaction.version";
/// The highest `transaction.version` this broker serves, and the level finalized.
pub const TRANSACTION_VERSION_LEVEL: i16 = 2;
/// The finalized features' epoch. Kafka uses the metadata offset that finalized them;
/// Strata's features are fixed by its code, so one epoch for all brokers and restarts
/// (clients keep the features of the highest epoch they saw). Raise it with any
/// change to the finalized features.
pub const FINALIZED_FEATURES_EPOCH: i64 = 1;

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

/// Serves ApiVersions at any version we decode (v0–v4); the features go out from v3.
pub fn handle() -> ApiVersionsResponse {
    let name = || StrBytes::from_static_str(TRANSACTION_VERSION);
    ApiVersionsResponse::default()
        .with_api_keys(table())
        .with_supported_features(vec![SupportedFeatureKey::default()
            .with_name(name())
            .with_min_version(0)
            .with_max_version(TRANSACTION_VERSION_LEVEL)])
        .with_finalized_features_epoch(FINALIZED_FEATURES_EPOCH)
        .with_finalized_features(vec![FinalizedFeatureKey::default()
            .with_name(name())
            .with_min_version_level(TRANSACTION_VERSION_LEVEL)
            .with_max_version_level(TRANSACTION_VERSION_LEVEL)])
}
