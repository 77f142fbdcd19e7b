//! The API versions Strata advertises in ApiVersions, and which of them it can decode.
//!
//! Invariant: every key listed here has a handler in the broker (SASL's two are
//! answered by the connection). A version in
//! `advertised_min..decode_min` is one Kafka 4 removed: we still advertise it because
//! librdkafka only enables features (e.g. compression) when the advertised range overlaps
//! the one it expects, but a request that actually uses it is rejected with
//! `UNSUPPORTED_VERSION`.

use kafka_protocol::messages::ApiKey;

/// One row of the advertised table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiSupport {
    /// The API.
    pub key: ApiKey,
    /// Lowest version advertised to clients.
    pub advertised_min: i16,
    /// Lowest version we can actually decode and serve.
    pub decode_min: i16,
    /// Highest version advertised and served.
    pub max: i16,
}

const fn row(key: ApiKey, advertised_min: i16, decode_min: i16, max: i16) -> ApiSupport {
    ApiSupport {
        key,
        advertised_min,
        decode_min,
        max,
    }
}

/// The APIs this broker serves. Maxima stop where a newer version needs semantics we do
/// not implement yet (e.g. Produce v13 addresses topics by id only).
pub const SUPPORTED: &[ApiSupport] = &[
    row(ApiKey::Produce, 0, 3, 12),
    row(ApiKey::Fetch, 0, 4, 17),
    row(ApiKey::ListOffsets, 0, 1, 10),
    row(ApiKey::Metadata, 0, 0, 13),
    row(ApiKey::ApiVersions, 0, 0, 4),
    row(ApiKey::CreateTopics, 2, 2, 7),
    row(ApiKey::DeleteTopics, 1, 1, 6),
    row(ApiKey::CreatePartitions, 0, 0, 3),
    row(ApiKey::AlterPartitionReassignments, 0, 0, 1),
    row(ApiKey::ListPartitionReassignments, 0, 0, 0),
    row(ApiKey::DescribeConfigs, 1, 1, 4),
    row(ApiKey::DescribeCluster, 0, 0, 2),
    row(ApiKey::InitProducerId, 0, 0, 5),
    row(ApiKey::FindCoordinator, 0, 0, 6),
    row(ApiKey::JoinGroup, 0, 0, 9),
    row(ApiKey::SyncGroup, 0, 0, 5),
    row(ApiKey::Heartbeat, 0, 0, 4),
    row(ApiKey::LeaveGroup, 0, 0, 5),
    row(ApiKey::OffsetCommit, 2, 2, 9),
    row(ApiKey::OffsetFetch, 1, 1, 9),
    row(ApiKey::OffsetDelete, 0, 0, 0),
    row(ApiKey::TxnOffsetCommit, 0, 0, 5),
    row(ApiKey::ListGroups, 0, 0, 5),
    row(ApiKey::DescribeGroups, 0, 0, 6),
    row(ApiKey::DeleteGroups, 0, 0, 2),
    row(ApiKey::AlterConfigs, 0, 0, 2),
    row(ApiKey::DeleteRecords, 0, 0, 2),
    row(ApiKey::OffsetForLeaderEpoch, 2, 2, 4),
    row(ApiKey::IncrementalAlterConfigs, 0, 0, 1),
    // Answered by the connection itself (network/sasl.rs), not a handler.
    row(ApiKey::SaslHandshake, 0, 0, 1),
    row(ApiKey::SaslAuthenticate, 0, 0, 2),
    row(ApiKey::DescribeUserScramCredentials, 0, 0, 0),
    row(ApiKey::AlterUserScramCredentials, 0, 0, 0),
    row(ApiKey::DescribeAcls, 1, 1, 3),
    row(ApiKey::CreateAcls, 1, 1, 3),
    row(ApiKey::DeleteAcls, 1, 1, 3),
    row(ApiKey::DescribeClientQuotas, 0, 0, 1),
    row(ApiKey::AlterClientQuotas, 0, 0, 1),
    // Sent by transaction coordinators to partition leaders (inter-broker). Kafka 4
    // and kafka-protocol 0.18 know only v1 (flexible); v0 was removed.
    row(ApiKey::WriteTxnMarkers, 1, 1, 1),
    // Transactions (the coordinator side).
    row(ApiKey::AddPartitionsToTxn, 0, 0, 5),
    row(ApiKey::AddOffsetsToTxn, 0, 0, 4),
    row(ApiKey::EndTxn, 0, 0, 5),
    row(ApiKey::DescribeTransactions, 0, 0, 0),
    row(ApiKey::ListTransactions, 0, 0, 2),
    row(ApiKey::DescribeProducers, 0, 0, 0),
    // Cluster operations.
    row(ApiKey::ElectLeaders, 0, 0, 2),
    row(ApiKey::DescribeTopicPartitions, 0, 0, 0),
    row(ApiKey::DescribeQuorum, 0, 0, 2),
    // Log directories (kafka-protocol 0.18, like Kafka 4, starts both at v1).
    row(ApiKey::DescribeLogDirs, 1, 1, 4),
    row(ApiKey::AlterReplicaLogDirs, 1, 1, 2),
];

/// The Kafka name of an API this broker serves (`"Produce"`, `"DescribeLogDirs"`), for
/// metric labels and logs; `"Other"` for the rest. Made once from [`SUPPORTED`], so
/// every served API has its name without a second table to keep in step.
pub fn api_name(key: ApiKey) -> &'static str {
    // Indexed by API key (all under 100 in Kafka 4): one load per request.
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let len = SUPPORTED
            .iter()
            .map(|s| s.key as usize + 1)
            .max()
            .unwrap_or(0);
        let mut names = vec!["Other"; len];
        for s in SUPPORTED {
            names[s.key as usize] = Box::leak(format!("{:?}", s.key).into_boxed_str());
        }
        names
    });
    usize::try_from(key as i16)
        .ok()
        .and_then(|i| names.get(i).copied())
        .unwrap_or("Other")
}

/// Looks up the row for a raw API key, if we serve it.
pub fn support_for(key: i16) -> Option<&'static ApiSupport> {
    SUPPORTED.iter().find(|s| s.key as i16 == key)
}

/// What the broker should do with a request of the given key and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionCheck {
    /// Decode and serve it.
    Serve(ApiKey),
    /// Advertised (or too new) but not servable: reply `UNSUPPORTED_VERSION` where the
    /// protocol lets us, else close.
    Unsupported(ApiKey),
    /// An API key we do not serve at all.
    UnknownKey,
}

/// Classifies a request by its header's key and version.
pub fn check(key: i16, version: i16) -> VersionCheck {
    match support_for(key) {
        None => VersionCheck::UnknownKey,
        Some(s) if version >= s.decode_min && version <= s.max => VersionCheck::Serve(s.key),
        Some(s) => VersionCheck::Unsupported(s.key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_api_is_named_as_kafka_names_it() {
        assert_eq!(api_name(ApiKey::Produce), "Produce");
        assert_eq!(api_name(ApiKey::DescribeLogDirs), "DescribeLogDirs");
        assert_eq!(api_name(ApiKey::AlterPartition), "Other", "not served");
        for s in SUPPORTED {
            let name = api_name(s.key);
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric()) && name != "Other",
                "{name}"
            );
        }
    }

    #[test]
    fn decodable_range_is_within_the_crate_range() {
        for s in SUPPORTED {
            let crate_range = s.key.valid_versions();
            assert!(s.advertised_min <= s.decode_min, "{:?}", s.key);
            assert!(s.decode_min >= crate_range.min, "{:?}", s.key);
            assert!(s.max <= crate_range.max, "{:?}", s.key);
        }
    }

    #[test]
    fn produce_is_advertised_from_zero_but_served_from_three() {
        assert_eq!(check(0, 0), VersionCheck::Unsupported(ApiKey::Produce));
        assert_eq!(check(0, 2), VersionCheck::Unsupported(ApiKey::Produce));
        assert_eq!(check(0, 3), VersionCheck::Serve(ApiKey::Produce));
        assert_eq!(check(0, 99), VersionCheck::Unsupported(ApiKey::Produce));
        assert_eq!(check(9999, 0), VersionCheck::UnknownKey);
    }
}
