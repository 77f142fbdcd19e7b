//! Authorization of requests that name one resource (a group, the cluster): a request
//! the principal may not make is answered here with the Kafka error and never reaches
//! its handler. APIs over many topics or groups check each one in their handler.

use kafka_protocol::messages::{
    AlterUserScramCredentialsResponse, DescribeUserScramCredentialsResponse, HeartbeatResponse,
    InitProducerIdResponse, JoinGroupResponse, LeaveGroupResponse, OffsetCommitResponse,
    OffsetFetchResponse, ProducerId, RequestKind, ResponseKind, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;
use strata_auth::acl::{AclOperation, ResourceType};
use strata_proto::error_code::{
    CLUSTER_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED, TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
};

use crate::auth::authorizer::Access;

/// The refusal for `req`, or `None` if the principal may make it (or it is checked
/// item by item in its handler).
pub(crate) fn refuse(access: &Access, req: &RequestKind, version: i16) -> Option<ResponseKind> {
    if !access.enabled() {
        return None;
    }
    let group = |id: &str| !access.group(AclOperation::Read, id);
    Some(match req {
        RequestKind::JoinGroup(r) if group(r.group_id.as_str()) => ResponseKind::JoinGroup(
            JoinGroupResponse::default()
                .with_error_code(GROUP_AUTHORIZATION_FAILED)
                .with_generation_id(-1)
                .with_protocol_name((version >= 7).then(StrBytes::default)),
        ),
        RequestKind::SyncGroup(r) if group(r.group_id.as_str()) => ResponseKind::SyncGroup(
            SyncGroupResponse::default().with_error_code(GROUP_AUTHORIZATION_FAILED),
        ),
        RequestKind::Heartbeat(r) if group(r.group_id.as_str()) => ResponseKind::Heartbeat(
            HeartbeatResponse::default().with_error_code(GROUP_AUTHORIZATION_FAILED),
        ),
        RequestKind::LeaveGroup(r) if group(r.group_id.as_str()) => ResponseKind::LeaveGroup(
            LeaveGroupResponse::default().with_error_code(GROUP_AUTHORIZATION_FAILED),
        ),
        // A commit to a group it may not use: every partition gets the group error
        // (topics it may not read are refused one by one in `gate_items`).
        RequestKind::OffsetCommit(r) if group(r.group_id.as_str()) => {
            ResponseKind::OffsetCommit(OffsetCommitResponse::default().with_topics(
                super::gate_items::commit_refusals(&r.topics, GROUP_AUTHORIZATION_FAILED),
            ))
        }
        // As Kafka: WRITE on the transactional id, then READ on the group (topics are
        // checked in the handler).
        RequestKind::TxnOffsetCommit(r)
            if !access.transactional_id(AclOperation::Write, r.transactional_id.as_str()) =>
        {
            ResponseKind::TxnOffsetCommit(super::txn_offset_commit::refused(
                r,
                TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            ))
        }
        RequestKind::TxnOffsetCommit(r) if group(r.group_id.as_str()) => {
            ResponseKind::TxnOffsetCommit(super::txn_offset_commit::refused(
                r,
                GROUP_AUTHORIZATION_FAILED,
            ))
        }
        RequestKind::OffsetDelete(r)
            if !access.group(AclOperation::Delete, r.group_id.as_str()) =>
        {
            ResponseKind::OffsetDelete(
                kafka_protocol::messages::OffsetDeleteResponse::default()
                    .with_error_code(GROUP_AUTHORIZATION_FAILED),
            )
        }
        RequestKind::OffsetFetch(r)
            if version < 8 && !access.group(AclOperation::Describe, r.group_id.as_str()) =>
        {
            ResponseKind::OffsetFetch(
                OffsetFetchResponse::default().with_error_code(GROUP_AUTHORIZATION_FAILED),
            )
        }
        RequestKind::InitProducerId(r) => {
            // Transactions are not served yet; an idempotent producer needs
            // IDEMPOTENT_WRITE on the cluster or WRITE on some topic (Kafka 3+).
            if r.transactional_id.is_some()
                || access.cluster(AclOperation::IdempotentWrite)
                || access.any_of_type(AclOperation::Write, ResourceType::Topic)
            {
                return None;
            }
            ResponseKind::InitProducerId(
                InitProducerIdResponse::default()
                    .with_error_code(CLUSTER_AUTHORIZATION_FAILED)
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1),
            )
        }
        RequestKind::DescribeUserScramCredentials(_) if !access.cluster(AclOperation::Describe) => {
            ResponseKind::DescribeUserScramCredentials(
                DescribeUserScramCredentialsResponse::default()
                    .with_error_code(CLUSTER_AUTHORIZATION_FAILED)
                    .with_error_message(Some(StrBytes::from_static_str(
                        "cluster authorization failed",
                    ))),
            )
        }
        RequestKind::AlterUserScramCredentials(r) if !access.cluster(AclOperation::Alter) => {
            let users: std::collections::BTreeSet<&str> = r
                .deletions
                .iter()
                .map(|d| d.name.as_str())
                .chain(r.upsertions.iter().map(|u| u.name.as_str()))
                .collect();
            ResponseKind::AlterUserScramCredentials(
                AlterUserScramCredentialsResponse::default().with_results(
                    users
                        .into_iter()
                        .map(|u| {
                            kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult::default()
                                .with_user(StrBytes::from_string(u.to_string()))
                                .with_error_code(CLUSTER_AUTHORIZATION_FAILED)
                        })
                        .collect(),
                ),
            )
        }
        RequestKind::DescribeClientQuotas(_) if !access.cluster(AclOperation::DescribeConfigs) => {
            ResponseKind::DescribeClientQuotas(
                kafka_protocol::messages::DescribeClientQuotasResponse::default()
                    .with_error_code(CLUSTER_AUTHORIZATION_FAILED)
                    .with_error_message(Some(StrBytes::from_static_str(
                        "cluster authorization failed",
                    ))),
            )
        }
        RequestKind::AlterClientQuotas(r) if !access.cluster(AclOperation::AlterConfigs) => {
            ResponseKind::AlterClientQuotas(super::alter_client_quotas::refused(
                r,
                CLUSTER_AUTHORIZATION_FAILED,
            ))
        }
        _ => return None,
    })
}
