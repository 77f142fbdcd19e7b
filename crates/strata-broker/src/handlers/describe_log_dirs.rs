//! DescribeLogDirs v1–v4: this broker's log dirs (`log.dirs`), each with its error
//! (KAFKA_STORAGE_ERROR once it failed), its space (v4) and the replicas in it: size,
//! offset lag, and whether it is the future copy of a replica moving between dirs
//! (AlterReplicaLogDirs). A null topic list means every replica. Needs DESCRIBE on the
//! cluster, as in Kafka.
//!
//! Replicas are located and the dirs' space read on the blocking pool (a log's
//! directory is read under its lock), one hop for the request.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strata_auth::acl::AclOperation;

use crate::auth::authorizer::Access;
use crate::replica::Partition;
use crate::Broker;

/// One replica's line, before grouping by dir and topic.
struct Row {
    dir: usize,
    topic: Arc<str>,
    partition: DescribeLogDirsPartition,
}

/// Serves DescribeLogDirs.
pub async fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    req: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    if !access.cluster(AclOperation::Describe) {
        return DescribeLogDirsResponse::default()
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code());
    }
    let wanted: Option<HashSet<(String, i32)>> = req.topics.map(|topics| {
        topics
            .into_iter()
            .flat_map(|t| {
                let name = t.topic.0.to_string();
                t.partitions.into_iter().map(move |p| (name.clone(), p))
            })
            .collect()
    });
    // Log locks and statvfs (a hung disk blocks it): off the runtime.
    let b = Arc::clone(broker);
    let results = tokio::task::spawn_blocking(move || results(&b, locate(&b, wanted.as_ref())))
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "DescribeLogDirs task failed");
            Vec::new()
        });
    DescribeLogDirsResponse::default().with_results(results)
}

/// Every hosted replica (and moving replica's future copy) `wanted` asks for, with the
/// dir it is in. Blocking.
fn locate(broker: &Broker, wanted: Option<&HashSet<(String, i32)>>) -> Vec<Row> {
    let dirs = broker.replicas.log_dirs();
    let asked = |p: &Partition| wanted.is_none_or(|w| w.contains(&(p.topic.to_string(), p.index)));
    let mut rows = Vec::new();
    for p in broker.replicas.filter(asked) {
        let Some(dir) = p.log_root_blocking().and_then(|r| dirs.position(&r)) else {
            continue;
        };
        let end = p.log_end_offset();
        rows.push(Row {
            dir,
            topic: p.topic.clone(),
            partition: DescribeLogDirsPartition::default()
                .with_partition_index(p.index)
                .with_partition_size(p.size_bytes() as i64)
                .with_offset_lag((p.high_watermark() - end).max(0))
                .with_is_future_key(false),
        });
        if let Some(future) = broker.replicas.moving(&p.topic, p.index) {
            rows.push(Row {
                dir: future.dir,
                topic: p.topic.clone(),
                partition: DescribeLogDirsPartition::default()
                    .with_partition_index(p.index)
                    .with_partition_size(future.copied_bytes as i64)
                    .with_offset_lag((end - future.copied_end).max(0))
                    .with_is_future_key(true),
            });
        }
    }
    rows
}

/// One result per log dir, its replicas grouped by topic. Blocking (asks each dir's
/// filesystem for its space).
fn results(broker: &Broker, rows: Vec<Row>) -> Vec<DescribeLogDirsResult> {
    let dirs = broker.replicas.log_dirs().all();
    let mut per_dir: Vec<BTreeMap<Arc<str>, Vec<DescribeLogDirsPartition>>> =
        dirs.iter().map(|_| BTreeMap::new()).collect();
    for row in rows {
        if let Some(topics) = per_dir.get_mut(row.dir) {
            topics.entry(row.topic).or_default().push(row.partition);
        }
    }
    dirs.iter()
        .zip(per_dir)
        .map(|(dir, topics)| {
            let path = StrBytes::from_string(dir.path.display().to_string());
            if dir.is_offline() {
                return DescribeLogDirsResult::default()
                    .with_log_dir(path)
                    .with_error_code(ResponseError::KafkaStorageError.code());
            }
            let space = crate::metrics::process::read_dir_space(&dir.path);
            DescribeLogDirsResult::default()
                .with_log_dir(path)
                .with_total_bytes(space.as_ref().map_or(-1, |s| s.capacity_bytes as i64))
                .with_usable_bytes(space.as_ref().map_or(-1, |s| s.free_bytes as i64))
                .with_topics(
                    topics
                        .into_iter()
                        .map(|(name, mut partitions)| {
                            partitions.sort_by_key(|p| (p.partition_index, p.is_future_key));
                            DescribeLogDirsTopic::default()
                                .with_name(TopicName(StrBytes::from_string(name.to_string())))
                                .with_partitions(partitions)
                        })
                        .collect(),
                )
        })
        .collect()
}
