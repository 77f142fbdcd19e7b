//! ListOffsets: earliest, latest (the high watermark, or the last stable offset for
//! `read_committed`), max-timestamp, or the first offset at or after a timestamp
//! (through the time index). As in Kafka, a timestamp lookup (max-timestamp included)
//! from v2 on answers only with an offset the asker could fetch: below the high
//! watermark, or below the last stable offset for `read_committed`; otherwise no offset.
//!
//! Offsets a consumer sees never go back across a leader change (KIP-207): while a new
//! leader's high watermark is below the start of its epoch, "latest" and a timestamp
//! lookup with nothing fetchable answer the retriable `OFFSET_NOT_AVAILABLE`.

use crate::auth::authorizer::Access;
use std::sync::Arc;
use strata_auth::acl::AclOperation;

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use kafka_protocol::ResponseError;

use super::log_error_code;
use crate::Broker;

/// The `replica_id` of a consumer's request (others are brokers' and tools').
const CONSUMER_REPLICA_ID: i32 = -1;

/// `timestamp` values with special meaning.
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
/// v9+ (KIP-1005): the last offset moved to tiered storage; without tiered storage
/// nothing is tiered, so no offset (-1), as Kafka answers.
const LATEST_TIERED: i64 = -5;

/// Serves ListOffsets v1–v10 (v10's `timeout_ms` bounds waits for tiered storage,
/// which Strata does not have).
pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    access: &Access,
    req: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        let allowed = access.topic(AclOperation::Describe, t.name.0.as_str());
        for lp in t.partitions {
            let base = ListOffsetsPartitionResponse::default()
                .with_partition_index(lp.partition_index)
                .with_timestamp(-1)
                .with_offset(-1)
                // Leader epochs are on the wire from v4.
                .with_leader_epoch(if version >= 4 { 0 } else { -1 });
            let p = match if allowed {
                broker.led_replica(t.name.0.as_str(), lp.partition_index)
            } else {
                Err(ResponseError::TopicAuthorizationFailed)
            } {
                Ok(p) => p,
                Err(code) => {
                    partitions.push(base.with_error_code(code.code()));
                    continue;
                }
            };
            // v0-1 have no isolation level and no bound (Kafka's log end offset).
            let fetchable = match (version >= 2, req.isolation_level) {
                (false, _) => i64::MAX,
                (true, 1) => p.last_stable_offset(),
                (true, _) => p.high_watermark(),
            };
            let lagging = (req.replica_id.0 == CONSUMER_REPLICA_ID)
                .then(|| p.high_watermark_behind_epoch_start())
                .flatten();
            let not_available = || {
                base.clone()
                    .with_error_code(ResponseError::OffsetNotAvailable.code())
            };
            let found = |hit: Option<(i64, i64)>| match hit {
                Some((ts, off)) if off < fetchable => {
                    base.clone().with_timestamp(ts).with_offset(off)
                }
                _ if lagging.is_some() => not_available(),
                _ => base.clone(),
            };
            let resp = match lp.timestamp {
                LATEST if lagging.is_some() => Ok(not_available()),
                // READ_COMMITTED consumers end at the last stable offset.
                LATEST if req.isolation_level == 1 => {
                    Ok(base.clone().with_offset(p.last_stable_offset()))
                }
                LATEST => Ok(base.clone().with_offset(p.high_watermark())),
                EARLIEST | EARLIEST_LOCAL => Ok(base.clone().with_offset(p.log_start_offset())),
                LATEST_TIERED if version >= 9 => Ok(base.clone()),
                MAX_TIMESTAMP => p.run(|log| log.max_timestamp()).await.map(found),
                ts if ts >= 0 => p
                    .run(move |log| log.offset_for_timestamp(ts))
                    .await
                    .map(|hit| found(hit.map(|(off, ts)| (ts, off)))),
                _ => Ok(base
                    .clone()
                    .with_error_code(ResponseError::InvalidRequest.code())),
            };
            partitions.push(match resp {
                Ok(r) => r,
                Err(e) => base.with_error_code(log_error_code(&e).code()),
            });
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions),
        );
    }
    ListOffsetsResponse::default().with_topics(topics)
}
