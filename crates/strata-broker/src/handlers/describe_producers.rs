//! DescribeProducers v0 (KIP-664): the active producers of each partition this broker
//! leads, from the partition's producer-state table: id, epoch, last sequence and
//! timestamp, the coordinator epoch of its last marker and the first offset of its open
//! transaction (-1 when none). Needs READ on the topic, as Kafka; a partition this
//! broker does not lead answers NOT_LEADER_OR_FOLLOWER.
//!
//! The tables are read on the blocking pool, one hop for the whole request.

use std::sync::Arc;

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strata_auth::acl::AclOperation;
use strata_log::ProducerEntry;

use crate::auth::authorizer::Access;
use crate::replica::Partition;
use crate::Broker;

/// Serves DescribeProducers v0.
pub async fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    req: DescribeProducersRequest,
) -> DescribeProducersResponse {
    // (topic index, partition index, the led replica or the refusal)
    let mut work: Vec<(usize, i32, Result<Arc<Partition>, ResponseError>)> = Vec::new();
    let mut names = Vec::with_capacity(req.topics.len());
    for topic in req.topics {
        let t = names.len();
        let name = topic.name.0.as_str();
        let allowed = access.topic(AclOperation::Read, name);
        for index in topic.partition_indexes {
            let replica = if allowed {
                broker.led_replica(name, index)
            } else {
                Err(ResponseError::TopicAuthorizationFailed)
            };
            work.push((t, index, replica));
        }
        names.push(topic.name);
    }
    let answers = read_tables(work).await;
    let mut topics: Vec<TopicResponse> = names
        .into_iter()
        .map(|n| TopicResponse::default().with_name(n))
        .collect();
    for (t, partition) in answers {
        topics[t].partitions.push(partition);
    }
    DescribeProducersResponse::default().with_topics(topics)
}

/// Each partition's answer, read off the runtime.
async fn read_tables(
    work: Vec<(usize, i32, Result<Arc<Partition>, ResponseError>)>,
) -> Vec<(usize, PartitionResponse)> {
    let refusals: Vec<(usize, i32)> = work.iter().map(|(t, i, _)| (*t, *i)).collect();
    let joined = tokio::task::spawn_blocking(move || {
        work.into_iter()
            .map(|(t, index, replica)| (t, describe_partition(index, replica)))
            .collect::<Vec<_>>()
    })
    .await;
    joined.unwrap_or_else(|e| {
        tracing::error!(error = %e, "DescribeProducers task failed");
        refusals
            .into_iter()
            .map(|(t, i)| (t, refused(i, ResponseError::UnknownServerError, None)))
            .collect()
    })
}

fn describe_partition(
    index: i32,
    replica: Result<Arc<Partition>, ResponseError>,
) -> PartitionResponse {
    let p = match replica {
        Ok(p) => p,
        Err(code) => return refused(index, code, None),
    };
    let read = p.run_blocking(|log| {
        Ok(log
            .producer_state()
            .iter()
            .map(|(id, e)| producer(id, e))
            .collect::<Vec<_>>())
    });
    match read {
        Ok(active) => PartitionResponse::default()
            .with_partition_index(index)
            .with_active_producers(active),
        Err(e) => refused(
            index,
            ResponseError::KafkaStorageError,
            Some(format!("reading the producer state: {e}")),
        ),
    }
}

/// One producer as DescribeProducers reports it.
pub(crate) fn producer(id: i64, e: &ProducerEntry) -> ProducerState {
    ProducerState::default()
        .with_producer_id(ProducerId(id))
        .with_producer_epoch(i32::from(e.epoch))
        .with_last_sequence(e.last_seq())
        .with_last_timestamp(e.batches.back().map_or(-1, |b| b.max_timestamp))
        .with_coordinator_epoch(e.coordinator_epoch)
        .with_current_txn_start_offset(e.current_txn_first_offset.unwrap_or(-1))
}

fn refused(index: i32, code: ResponseError, message: Option<String>) -> PartitionResponse {
    PartitionResponse::default()
        .with_partition_index(index)
        .with_error_code(code.code())
        .with_error_message(message.map(StrBytes::from_string))
}
