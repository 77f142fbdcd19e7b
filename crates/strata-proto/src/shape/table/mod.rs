//! The table: every message Strata decodes from bytes it did not write, by API.

mod admin;
mod cluster;
mod groups;
mod log_dirs;
mod offsets;
mod operations;
mod produce_fetch;
mod reassign;
mod security;
mod transactions;
mod txn_markers;

use kafka_protocol::messages::ApiKey;

use super::dsl::*;

/// The request and response shapes of one API.
#[derive(Debug)]
pub(crate) struct ApiShape {
    /// The API.
    pub(crate) key: ApiKey,
    /// Its request body.
    pub(crate) request: &'static Message,
    /// Its response body.
    pub(crate) response: &'static Message,
}

const fn api(key: ApiKey, request: &'static Message, response: &'static Message) -> ApiShape {
    ApiShape {
        key,
        request,
        response,
    }
}

/// Every API in `versions::SUPPORTED`, over every version kafka-protocol decodes (the Rust
/// client may use versions above the ones the broker serves when its peer offers them).
/// The table may run ahead of `SUPPORTED`: an API's entry can land before its handler
/// (the security APIs, `security.rs`); `decode_request` still refuses a key that
/// `SUPPORTED` lacks, before the shape check.
pub(crate) static APIS: &[ApiShape] = &[
    api(
        ApiKey::Produce,
        &produce_fetch::produce_request::SHAPE,
        &produce_fetch::produce_response::SHAPE,
    ),
    api(
        ApiKey::Fetch,
        &produce_fetch::fetch_request::SHAPE,
        &produce_fetch::fetch_response::SHAPE,
    ),
    api(
        ApiKey::ListOffsets,
        &produce_fetch::list_offsets_request::SHAPE,
        &produce_fetch::list_offsets_response::SHAPE,
    ),
    api(
        ApiKey::WriteTxnMarkers,
        &txn_markers::write_txn_markers_request::SHAPE,
        &txn_markers::write_txn_markers_response::SHAPE,
    ),
    api(
        ApiKey::OffsetForLeaderEpoch,
        &produce_fetch::offset_for_leader_epoch_request::SHAPE,
        &produce_fetch::offset_for_leader_epoch_response::SHAPE,
    ),
    api(
        ApiKey::DeleteRecords,
        &produce_fetch::delete_records_request::SHAPE,
        &produce_fetch::delete_records_response::SHAPE,
    ),
    api(
        ApiKey::Metadata,
        &cluster::metadata_request::SHAPE,
        &cluster::metadata_response::SHAPE,
    ),
    api(
        ApiKey::ApiVersions,
        &cluster::api_versions_request::SHAPE,
        &cluster::api_versions_response::SHAPE,
    ),
    api(
        ApiKey::DescribeCluster,
        &cluster::describe_cluster_request::SHAPE,
        &cluster::describe_cluster_response::SHAPE,
    ),
    api(
        ApiKey::FindCoordinator,
        &cluster::find_coordinator_request::SHAPE,
        &cluster::find_coordinator_response::SHAPE,
    ),
    api(
        ApiKey::InitProducerId,
        &cluster::init_producer_id_request::SHAPE,
        &cluster::init_producer_id_response::SHAPE,
    ),
    api(
        ApiKey::CreateTopics,
        &admin::create_topics_request::SHAPE,
        &admin::create_topics_response::SHAPE,
    ),
    api(
        ApiKey::DeleteTopics,
        &admin::delete_topics_request::SHAPE,
        &admin::delete_topics_response::SHAPE,
    ),
    api(
        ApiKey::CreatePartitions,
        &admin::create_partitions_request::SHAPE,
        &admin::create_partitions_response::SHAPE,
    ),
    api(
        ApiKey::AlterPartitionReassignments,
        &reassign::alter_partition_reassignments_request::SHAPE,
        &reassign::alter_partition_reassignments_response::SHAPE,
    ),
    api(
        ApiKey::ListPartitionReassignments,
        &reassign::list_partition_reassignments_request::SHAPE,
        &reassign::list_partition_reassignments_response::SHAPE,
    ),
    api(
        ApiKey::DescribeConfigs,
        &admin::describe_configs_request::SHAPE,
        &admin::describe_configs_response::SHAPE,
    ),
    api(
        ApiKey::AlterConfigs,
        &admin::alter_configs_request::SHAPE,
        &admin::alter_configs_response::SHAPE,
    ),
    api(
        ApiKey::IncrementalAlterConfigs,
        &admin::incremental_alter_configs_request::SHAPE,
        &admin::incremental_alter_configs_response::SHAPE,
    ),
    api(
        ApiKey::JoinGroup,
        &groups::join_group_request::SHAPE,
        &groups::join_group_response::SHAPE,
    ),
    api(
        ApiKey::SyncGroup,
        &groups::sync_group_request::SHAPE,
        &groups::sync_group_response::SHAPE,
    ),
    api(
        ApiKey::Heartbeat,
        &groups::heartbeat_request::SHAPE,
        &groups::heartbeat_response::SHAPE,
    ),
    api(
        ApiKey::LeaveGroup,
        &groups::leave_group_request::SHAPE,
        &groups::leave_group_response::SHAPE,
    ),
    api(
        ApiKey::ListGroups,
        &groups::list_groups_request::SHAPE,
        &groups::list_groups_response::SHAPE,
    ),
    api(
        ApiKey::DescribeGroups,
        &groups::describe_groups_request::SHAPE,
        &groups::describe_groups_response::SHAPE,
    ),
    api(
        ApiKey::DeleteGroups,
        &groups::delete_groups_request::SHAPE,
        &groups::delete_groups_response::SHAPE,
    ),
    api(
        ApiKey::OffsetCommit,
        &offsets::offset_commit_request::SHAPE,
        &offsets::offset_commit_response::SHAPE,
    ),
    api(
        ApiKey::OffsetFetch,
        &offsets::offset_fetch_request::SHAPE,
        &offsets::offset_fetch_response::SHAPE,
    ),
    api(
        ApiKey::OffsetDelete,
        &offsets::offset_delete_request::SHAPE,
        &offsets::offset_delete_response::SHAPE,
    ),
    api(
        ApiKey::TxnOffsetCommit,
        &offsets::txn_offset_commit_request::SHAPE,
        &offsets::txn_offset_commit_response::SHAPE,
    ),
    api(
        ApiKey::SaslHandshake,
        &security::sasl_handshake_request::SHAPE,
        &security::sasl_handshake_response::SHAPE,
    ),
    api(
        ApiKey::SaslAuthenticate,
        &security::sasl_authenticate_request::SHAPE,
        &security::sasl_authenticate_response::SHAPE,
    ),
    api(
        ApiKey::DescribeAcls,
        &security::describe_acls_request::SHAPE,
        &security::describe_acls_response::SHAPE,
    ),
    api(
        ApiKey::CreateAcls,
        &security::create_acls_request::SHAPE,
        &security::create_acls_response::SHAPE,
    ),
    api(
        ApiKey::DeleteAcls,
        &security::delete_acls_request::SHAPE,
        &security::delete_acls_response::SHAPE,
    ),
    api(
        ApiKey::DescribeClientQuotas,
        &security::describe_client_quotas_request::SHAPE,
        &security::describe_client_quotas_response::SHAPE,
    ),
    api(
        ApiKey::AlterClientQuotas,
        &security::alter_client_quotas_request::SHAPE,
        &security::alter_client_quotas_response::SHAPE,
    ),
    api(
        ApiKey::DescribeUserScramCredentials,
        &security::describe_user_scram_credentials_request::SHAPE,
        &security::describe_user_scram_credentials_response::SHAPE,
    ),
    api(
        ApiKey::AlterUserScramCredentials,
        &security::alter_user_scram_credentials_request::SHAPE,
        &security::alter_user_scram_credentials_response::SHAPE,
    ),
    api(
        ApiKey::AddPartitionsToTxn,
        &transactions::add_partitions_to_txn_request::SHAPE,
        &transactions::add_partitions_to_txn_response::SHAPE,
    ),
    api(
        ApiKey::AddOffsetsToTxn,
        &transactions::add_offsets_to_txn_request::SHAPE,
        &transactions::add_offsets_to_txn_response::SHAPE,
    ),
    api(
        ApiKey::EndTxn,
        &transactions::end_txn_request::SHAPE,
        &transactions::end_txn_response::SHAPE,
    ),
    api(
        ApiKey::DescribeTransactions,
        &transactions::describe_transactions_request::SHAPE,
        &transactions::describe_transactions_response::SHAPE,
    ),
    api(
        ApiKey::ListTransactions,
        &transactions::list_transactions_request::SHAPE,
        &transactions::list_transactions_response::SHAPE,
    ),
    api(
        ApiKey::DescribeProducers,
        &transactions::describe_producers_request::SHAPE,
        &transactions::describe_producers_response::SHAPE,
    ),
    api(
        ApiKey::ElectLeaders,
        &operations::elect_leaders_request::SHAPE,
        &operations::elect_leaders_response::SHAPE,
    ),
    api(
        ApiKey::DescribeTopicPartitions,
        &operations::describe_topic_partitions_request::SHAPE,
        &operations::describe_topic_partitions_response::SHAPE,
    ),
    api(
        ApiKey::DescribeQuorum,
        &operations::describe_quorum_request::SHAPE,
        &operations::describe_quorum_response::SHAPE,
    ),
    api(
        ApiKey::DescribeLogDirs,
        &log_dirs::describe_log_dirs_request::SHAPE,
        &log_dirs::describe_log_dirs_response::SHAPE,
    ),
    api(
        ApiKey::AlterReplicaLogDirs,
        &log_dirs::alter_replica_log_dirs_request::SHAPE,
        &log_dirs::alter_replica_log_dirs_response::SHAPE,
    ),
];

/// `ConsumerProtocolSubscription` (JoinGroup member metadata of the `consumer` protocol).
pub(crate) use groups::consumer_protocol_subscription::SHAPE as CONSUMER_PROTOCOL_SUBSCRIPTION;

/// `ConsumerProtocolAssignment` (SyncGroup assignment of the `consumer` protocol).
pub(crate) use groups::consumer_protocol_assignment::SHAPE as CONSUMER_PROTOCOL_ASSIGNMENT;

/// `RequestHeader` v1 (v2 is v1 plus a tagged-field section). `client_id` keeps its
/// `INT16` length in v2: the spec marks it `flexibleVersions: none`.
pub(crate) static REQUEST_HEADER: Message = Message::new(1, 2, 2, &REQUEST_HEADER_FIELDS);

static REQUEST_HEADER_FIELDS: Struct = Struct::new(
    "RequestHeader",
    &[
        field("request_api_key", ALL, Ty::Int16),
        field("request_api_version", ALL, Ty::Int16),
        field("correlation_id", ALL, Ty::Int32),
        field("client_id", ALL, Ty::ClassicString),
    ],
    &[],
);

/// `ResponseHeader` v0 (v1 adds a tagged-field section).
pub(crate) static RESPONSE_HEADER: Message = Message::new(0, 1, 1, &RESPONSE_HEADER_FIELDS);

static RESPONSE_HEADER_FIELDS: Struct = Struct::new(
    "ResponseHeader",
    &[field("correlation_id", ALL, Ty::Int32)],
    &[],
);
