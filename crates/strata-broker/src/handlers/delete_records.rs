//! DeleteRecords: move a partition's log start offset forward (the low watermark).

use crate::auth::authorizer::Access;
use std::sync::Arc;
use strata_auth::acl::AclOperation;

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use kafka_protocol::ResponseError;

use super::log_error_code;
use crate::topics::OFFSETS_TOPIC;
use crate::Broker;

/// Serves DeleteRecords v0–v2. Offset -1 means the high-water mark.
pub async fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    req: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        let allowed = access.topic(AclOperation::Delete, t.name.0.as_str());
        for rp in t.partitions {
            let base = DeleteRecordsPartitionResult::default()
                .with_partition_index(rp.partition_index)
                .with_low_watermark(-1);
            if !allowed {
                partitions
                    .push(base.with_error_code(ResponseError::TopicAuthorizationFailed.code()));
                continue;
            }
            let replica = (t.name.0.as_str() != OFFSETS_TOPIC)
                .then(|| broker.replicas.get(t.name.0.as_str(), rp.partition_index))
                .flatten();
            let Some(p) = replica else {
                partitions
                    .push(base.with_error_code(ResponseError::UnknownTopicOrPartition.code()));
                continue;
            };
            let hw = p.high_watermark();
            let target = if rp.offset == -1 { hw } else { rp.offset };
            if target < 0 || target > hw {
                partitions.push(
                    base.with_low_watermark(p.log_start_offset())
                        .with_error_code(ResponseError::OffsetOutOfRange.code()),
                );
                continue;
            }
            let result = p
                .run(move |log| {
                    log.delete_records_before(target)?;
                    Ok(log.log_start_offset())
                })
                .await;
            partitions.push(match result {
                Ok(low) => base.with_low_watermark(low),
                Err(e) => base.with_error_code(log_error_code(&e).code()),
            });
        }
        topics.push(
            DeleteRecordsTopicResult::default()
                .with_name(t.name)
                .with_partitions(partitions),
        );
    }
    DeleteRecordsResponse::default().with_topics(topics)
}
