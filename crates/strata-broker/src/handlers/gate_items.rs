//! Authorization item by item for offset APIs: topics the principal may not use are
//! taken out of the request before its handler runs (so nothing happens to them) and
//! answered with TOPIC_AUTHORIZATION_FAILED; the rest are served as usual.

use kafka_protocol::messages::offset_commit_request::OffsetCommitRequestTopic;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::OffsetForLeaderTopicResult;
use kafka_protocol::messages::{
    OffsetCommitRequest, OffsetDeleteRequest, OffsetFetchResponse, OffsetForLeaderEpochRequest,
};
use kafka_protocol::ResponseError;
use strata_auth::acl::AclOperation;
use strata_proto::error_code::TOPIC_AUTHORIZATION_FAILED;

use crate::auth::authorizer::Access;

/// Takes the topics `op` is not allowed on out of `topics`.
fn take_denied<T>(
    topics: &mut Vec<T>,
    name: impl Fn(&T) -> &str,
    allowed: impl Fn(&str) -> bool,
) -> Vec<T> {
    let (ok, denied): (Vec<T>, Vec<T>) = std::mem::take(topics)
        .into_iter()
        .partition(|t| allowed(name(t)));
    *topics = ok;
    denied
}

/// OffsetCommit: topics the principal may not READ.
pub(crate) fn offset_commit(
    access: &Access,
    req: &mut OffsetCommitRequest,
) -> Vec<OffsetCommitResponseTopic> {
    let denied = take_denied(
        &mut req.topics,
        |t| t.name.as_str(),
        |n| access.topic(AclOperation::Read, n),
    );
    commit_refusals(&denied, TOPIC_AUTHORIZATION_FAILED)
}

/// Every partition of `topics` answered with `code`.
pub(crate) fn commit_refusals(
    topics: &[OffsetCommitRequestTopic],
    code: i16,
) -> Vec<OffsetCommitResponseTopic> {
    topics
        .iter()
        .map(|t| {
            OffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            OffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(code)
                        })
                        .collect(),
                )
        })
        .collect()
}

/// OffsetDelete: topics the principal may not READ.
pub(crate) fn offset_delete(
    access: &Access,
    req: &mut OffsetDeleteRequest,
) -> Vec<OffsetDeleteResponseTopic> {
    take_denied(
        &mut req.topics,
        |t| t.name.as_str(),
        |n| access.topic(AclOperation::Read, n),
    )
    .into_iter()
    .map(|t| {
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                OffsetDeleteResponsePartition::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(TOPIC_AUTHORIZATION_FAILED)
            })
            .collect();
        OffsetDeleteResponseTopic::default()
            .with_name(t.name)
            .with_partitions(partitions)
    })
    .collect()
}

/// OffsetForLeaderEpoch: a follower (replica id set) needs CLUSTER_ACTION, a client
/// DESCRIBE on each topic.
pub(crate) fn offset_for_leader_epoch(
    access: &Access,
    req: &mut OffsetForLeaderEpochRequest,
) -> Vec<OffsetForLeaderTopicResult> {
    let replica = req.replica_id.0 >= 0;
    let cluster_ok = !replica || access.cluster(AclOperation::ClusterAction);
    let code = if replica {
        ResponseError::ClusterAuthorizationFailed.code()
    } else {
        TOPIC_AUTHORIZATION_FAILED
    };
    take_denied(
        &mut req.topics,
        |t| t.topic.as_str(),
        |n| cluster_ok && (replica || access.topic(AclOperation::Describe, n)),
    )
    .into_iter()
    .map(|t| super::offset_for_leader_epoch::failed_topic(t, code))
    .collect()
}

/// OffsetFetch, after the handler: groups the principal may not DESCRIBE lose their
/// offsets (GROUP_AUTHORIZATION_FAILED, v8+; older versions are refused whole before),
/// and topics it may not DESCRIBE are dropped from "all topics" answers and refused
/// when named (`named`: the request listed topics).
pub(crate) fn offset_fetch(access: &Access, resp: &mut OffsetFetchResponse, named: bool) {
    let topic_ok = |n: &str| access.topic(AclOperation::Describe, n);
    if named {
        for t in &mut resp.topics {
            if !topic_ok(t.name.as_str()) {
                for p in &mut t.partitions {
                    p.error_code = TOPIC_AUTHORIZATION_FAILED;
                    p.committed_offset = -1;
                    p.metadata = None;
                }
            }
        }
    } else {
        resp.topics.retain(|t| topic_ok(t.name.as_str()));
    }
    for g in &mut resp.groups {
        if !access.group(AclOperation::Describe, g.group_id.as_str()) {
            g.error_code = ResponseError::GroupAuthorizationFailed.code();
            g.topics.clear();
            continue;
        }
        if named {
            for t in &mut g.topics {
                if !topic_ok(t.name.as_str()) {
                    for p in &mut t.partitions {
                        p.error_code = TOPIC_AUTHORIZATION_FAILED;
                        p.committed_offset = -1;
                        p.metadata = None;
                    }
                }
            }
        } else {
            g.topics.retain(|t| topic_ok(t.name.as_str()));
        }
    }
}
