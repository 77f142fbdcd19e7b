//! WriteTxnMarkers (API 27, v1): a transaction coordinator ends a producer's
//! transaction in every partition it touched by having each partition's leader append
//! a COMMIT or ABORT marker.
//!
//! Steps per marker × topic × partition, as Kafka does: the caller needs
//! `ClusterAction` on the cluster (brokers only); the partition must be led here
//! (`UNKNOWN_TOPIC_OR_PARTITION`, `NOT_LEADER_OR_FOLLOWER`) with enough in-sync
//! replicas (`NOT_ENOUGH_REPLICAS`); the marker is appended through the partition's
//! queue with the leader epoch, where the log fences an older producer epoch
//! (`INVALID_PRODUCER_EPOCH`) or coordinator epoch (`TRANSACTION_COORDINATOR_FENCED`);
//! then it waits like an `acks=all` produce (fsync under `log.flush=batch`, every
//! in-sync replica). A marker that lands in `__consumer_offsets` completes the
//! producer's pending transactional offset commits in the group coordinator.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::join_all;
use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{WriteTxnMarkersRequest, WriteTxnMarkersResponse};
use kafka_protocol::ResponseError;
use strata_auth::acl::AclOperation;
use strata_proto::batch::control::{marker_batch, ControlType};

use super::log_error_code;
use crate::auth::authorizer::Access;
use crate::broker::now_ms;
use crate::config::FlushPolicy;
use crate::replica::Partition;
use crate::topics::OFFSETS_TOPIC;
use crate::Broker;

/// How long a marker waits for the in-sync replicas (Kafka: `request.timeout.ms`).
const REPLICATION_TIMEOUT: Duration = Duration::from_secs(30);

/// One marker for one partition.
#[derive(Debug, Clone, Copy)]
struct Target {
    producer_id: i64,
    producer_epoch: i16,
    control: ControlType,
    coordinator_epoch: i32,
}

/// Serves WriteTxnMarkers v1.
pub async fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    req: WriteTxnMarkersRequest,
) -> WriteTxnMarkersResponse {
    write_all(broker, req, access.cluster(AclOperation::ClusterAction)).await
}

/// The markers a coordinator on this broker sends to partitions led here: written
/// directly, without a request to itself over the network.
pub(crate) async fn write_local(
    broker: &Arc<Broker>,
    req: WriteTxnMarkersRequest,
) -> WriteTxnMarkersResponse {
    write_all(broker, req, true).await
}

async fn write_all(
    broker: &Arc<Broker>,
    req: WriteTxnMarkersRequest,
    allowed: bool,
) -> WriteTxnMarkersResponse {
    let deadline = tokio::time::Instant::now() + REPLICATION_TIMEOUT;
    let markers = req.markers.into_iter().map(|m| {
        let target = Target {
            producer_id: m.producer_id.0,
            producer_epoch: m.producer_epoch,
            control: if m.transaction_result {
                ControlType::Commit
            } else {
                ControlType::Abort
            },
            coordinator_epoch: m.coordinator_epoch,
        };
        let topics = m.topics.into_iter().map(move |t| async move {
            let name = t.name.0.as_str();
            let partitions = t.partition_indexes.iter().map(|&index| async move {
                let result = if allowed {
                    write_one(broker, name, index, target, deadline).await
                } else {
                    Err(ResponseError::ClusterAuthorizationFailed)
                };
                // NONE is error code 0.
                let code = result.err().map_or(0, |e| e.code());
                WritableTxnMarkerPartitionResult::default()
                    .with_partition_index(index)
                    .with_error_code(code)
            });
            WritableTxnMarkerTopicResult::default()
                .with_partitions(join_all(partitions).await)
                .with_name(t.name)
        });
        async move {
            WritableTxnMarkerResult::default()
                .with_producer_id(m.producer_id)
                .with_topics(join_all(topics).await)
        }
    });
    WriteTxnMarkersResponse::default().with_markers(join_all(markers).await)
}

/// Writes one marker to one partition and waits as `acks=all` does.
async fn write_one(
    broker: &Arc<Broker>,
    topic: &str,
    index: i32,
    target: Target,
    deadline: tokio::time::Instant,
) -> Result<(), ResponseError> {
    let p = leader_for_marker(broker, topic, index)?;
    let marker = Bytes::from(marker_batch(
        target.producer_id,
        target.producer_epoch,
        target.control,
        target.coordinator_epoch,
        now_ms(),
    ));
    let info = match p.append_marker(marker, now_ms()).await {
        Ok(info) => info,
        Err(e) => {
            tracing::debug!(topic, partition = index, error = %e, "transaction marker refused");
            return Err(log_error_code(&e));
        }
    };
    wait_acks_all(broker, &p, info.last_offset, deadline).await?;
    if topic == OFFSETS_TOPIC {
        // The group coordinator settles the producer's pending offsets of this partition:
        // only now, with the marker on every in-sync replica, as a reload would see it.
        broker.groups.complete_transaction(
            index,
            target.producer_id,
            target.control == ControlType::Commit,
        );
    }
    Ok(())
}

/// The partition, if this broker leads it with enough in-sync replicas for an
/// `acks=all` write.
fn leader_for_marker(
    broker: &Arc<Broker>,
    topic: &str,
    index: i32,
) -> Result<Arc<Partition>, ResponseError> {
    let p = broker
        .led_replica(topic, index)
        .map_err(|code| match code {
            // No leader right now: the coordinator retries until there is one.
            ResponseError::LeaderNotAvailable => ResponseError::NotLeaderOrFollower,
            other => other,
        })?;
    if p.acks_all_refusal().is_some() {
        return Err(ResponseError::NotEnoughReplicas);
    }
    Ok(p)
}

/// Waits until the marker at `last_offset` is durable (under `log.flush=batch`) and
/// every in-sync replica has it.
async fn wait_acks_all(
    broker: &Arc<Broker>,
    p: &Arc<Partition>,
    last_offset: i64,
    deadline: tokio::time::Instant,
) -> Result<(), ResponseError> {
    if broker.config.flush_policy == FlushPolicy::Batch {
        if let Err(e) = p.wait_durable(last_offset).await {
            tracing::error!(error = %e, "fsync of a transaction marker failed");
            return Err(ResponseError::KafkaStorageError);
        }
    }
    match p.wait_replicated(last_offset, deadline).await.refusal() {
        None => Ok(()),
        Some((code, _)) => Err(code),
    }
}
