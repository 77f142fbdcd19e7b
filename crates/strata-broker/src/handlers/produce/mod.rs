//! Produce: validate and append record batches; acknowledge per `acks`.
//!
//! `acks=0` gets no response; `acks=1` is acknowledged once the batches are in the log
//! (page cache); `acks=-1` additionally waits until every in-sync replica has them and,
//! under the `batch` flush policy, for an fsync covering them.
//!
//! The steps, in order (each its own module):
//! 1. [`admit`]: per topic and partition, the checks that need no log (acks, ACLs,
//!    internal topics, auto-creation, leadership, `min.insync.replicas`): a [`Plan`] of
//!    what to append and what is answered already.
//! 2. [`checks`]: KIP-890 transaction verification and schema-id validation, each
//!    moving refused batches from the plan's appends to its answers.
//! 3. [`append`]: the appends (one blocking-pool hop per group of partitions), judged
//!    and counted. The connection's next request may start after this step.
//! 4. [`acks`]: the waits `acks` asks for (group commit across the request's
//!    partitions, then replication).
//! 5. [`response`]: the answer, in request order, with Kafka's per-version fields.

mod acks;
mod admit;
mod append;
mod checks;
mod response;

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::produce_response::BatchIndexAndErrorMessage;
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::ResponseError;
use strata_log::AppendInfo;

use super::Turn;
use crate::auth::authorizer::Access;
use crate::broker::now_ms;
use crate::replica::Partition;
use crate::Broker;

/// How one partition of the request ends.
enum Outcome {
    Appended(AppendInfo),
    Failed(ResponseError, Option<String>),
    /// `INVALID_RECORD` naming the offending records by index (KIP-467); the batch's
    /// other records fail with it as collateral.
    InvalidRecords(String, Vec<BatchIndexAndErrorMessage>),
}

/// A partition's place in the response: (topic index, partition index).
type Slot = (usize, i32);

/// The request, partition by partition: what is still to be appended (`slots[i]` is
/// where `appends[i]` is answered) and what is answered already.
struct Plan {
    /// Topic names in request order (the response's order).
    names: Vec<TopicName>,
    slots: Vec<Slot>,
    appends: Vec<(Arc<Partition>, Bytes)>,
    answered: Vec<(usize, i32, Outcome)>,
}

impl Plan {
    /// Answers the appends whose verdict is an outcome (a refusal) with it and keeps
    /// the others; `verdicts` is in the order of `appends`.
    fn refuse(&mut self, verdicts: Vec<Option<Outcome>>) {
        if verdicts.iter().all(Option::is_none) {
            return;
        }
        let slots = std::mem::take(&mut self.slots);
        let appends = std::mem::take(&mut self.appends);
        for ((slot, item), verdict) in slots.into_iter().zip(appends).zip(verdicts) {
            match verdict {
                None => {
                    self.slots.push(slot);
                    self.appends.push(item);
                }
                Some(outcome) => self.answered.push((slot.0, slot.1, outcome)),
            }
        }
    }
}

/// Serves Produce v3–v12. A batch refused for records without keys (compacted topics)
/// lists them in `record_errors` (v8+, KIP-467).
pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    access: &Access,
    req: ProduceRequest,
    turn: Turn,
) -> Option<ProduceResponse> {
    let acks = req.acks;
    let now = now_ms();
    let transactional_id = req.transactional_id.as_ref().map(|t| t.0.to_string());
    if let Some(refusal) = checks::transactional_refusal(access, transactional_id.as_deref(), &req)
    {
        return (acks != 0).then(|| response::refuse_all(req, refusal));
    }
    let deadline = tokio::time::Instant::now()
        + std::time::Duration::from_millis(req.timeout_ms.clamp(0, 300_000) as u64);
    let mut plan = admit::admit(broker, access, acks, req.topic_data).await;
    checks::verify_transactions(broker, version, transactional_id.as_deref(), &mut plan).await;
    checks::check_schemas(broker, &mut plan).await;
    let appended = append::append_all(broker, std::mem::take(&mut plan.appends), now, turn).await;
    let results =
        acks::acknowledge(broker, acks, plan.slots, appended, plan.answered, deadline).await;
    if acks == 0 {
        return None;
    }
    Some(response::build(broker, version, plan.names, results))
}
