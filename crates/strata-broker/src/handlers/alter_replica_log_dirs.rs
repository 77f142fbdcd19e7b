//! AlterReplicaLogDirs v1–v2: moves replicas of this broker into another of its log
//! dirs (`replica/move_dir.rs` copies while the replica serves, then switches under
//! the log's lock). Per partition: LOG_DIR_NOT_FOUND for a path that is not one of
//! this broker's log dirs, KAFKA_STORAGE_ERROR while a dir is offline,
//! REPLICA_NOT_AVAILABLE for a replica not created yet (it will be created in that
//! dir), as in Kafka. Needs ALTER on the cluster.

use std::path::Path;
use std::sync::Arc;

use kafka_protocol::messages::alter_replica_log_dirs_response::{
    AlterReplicaLogDirPartitionResult, AlterReplicaLogDirTopicResult,
};
use kafka_protocol::messages::{AlterReplicaLogDirsRequest, AlterReplicaLogDirsResponse};
use kafka_protocol::ResponseError;
use strata_auth::acl::AclOperation;

use crate::auth::authorizer::Access;
use crate::Broker;

/// Serves AlterReplicaLogDirs.
pub fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    req: AlterReplicaLogDirsRequest,
) -> AlterReplicaLogDirsResponse {
    let allowed = access.cluster(AclOperation::Alter);
    let mut results: Vec<AlterReplicaLogDirTopicResult> = Vec::new();
    for dir in req.dirs {
        let path = Path::new(dir.path.as_str());
        for topic in dir.topics {
            let partitions = topic
                .partitions
                .iter()
                .map(|&index| {
                    let outcome = if allowed {
                        broker
                            .replicas
                            .alter_log_dir(topic.name.0.as_str(), index, path)
                    } else {
                        Err(ResponseError::ClusterAuthorizationFailed)
                    };
                    AlterReplicaLogDirPartitionResult::default()
                        .with_partition_index(index)
                        .with_error_code(outcome.err().map_or(0, |e| e.code()))
                })
                .collect::<Vec<_>>();
            match results.iter_mut().find(|r| r.topic_name == topic.name) {
                Some(r) => r.partitions.extend(partitions),
                None => results.push(
                    AlterReplicaLogDirTopicResult::default()
                        .with_topic_name(topic.name)
                        .with_partitions(partitions),
                ),
            }
        }
    }
    AlterReplicaLogDirsResponse::default().with_results(results)
}
