//! Step 4 of Produce: the waits `acks` asks for, after the appends.

use std::sync::Arc;

use futures::future::join_all;
use kafka_protocol::ResponseError;

use super::append::Appended;
use super::{Outcome, Slot};
use crate::replica::Partition;
use crate::Broker;

/// Turns the appends into outcomes, after the waits they need: an fsync (group commit
/// across the request's partitions, one filesystem sync for many) where
/// [`Partition::produce_waits_for_fsync`] says so, then with `acks=all` every in-sync
/// replica (the high watermark covering the records, as Kafka does; a duplicate waits
/// too, as its original may not be replicated yet). `answered` holds the outcomes
/// decided before; the appended ones follow.
pub(super) async fn acknowledge(
    broker: &Arc<Broker>,
    acks: i16,
    slots: Vec<Slot>,
    appended: Vec<Appended>,
    answered: Vec<(usize, i32, Outcome)>,
    deadline: tokio::time::Instant,
) -> Vec<(usize, i32, Outcome)> {
    let mut results = answered;
    // (index in `results`, partition, last offset)
    let mut durable_waits = Vec::new();
    let mut replication_waits = Vec::new();
    for ((t, index), (p, r)) in slots.into_iter().zip(appended) {
        match r {
            Ok(info) => {
                if p.produce_waits_for_fsync(acks, broker.config.flush_policy) {
                    durable_waits.push((results.len(), Arc::clone(&p), info.last_offset));
                }
                if acks == -1 {
                    replication_waits.push((results.len(), p, info.last_offset));
                }
                results.push((t, index, Outcome::Appended(info)));
            }
            Err((code, message, record_errors)) => {
                tracing::debug!(error = %message, "produce rejected");
                let outcome = if record_errors.is_empty() {
                    Outcome::Failed(code, Some(message))
                } else {
                    Outcome::InvalidRecords(message, record_errors)
                };
                results.push((t, index, outcome));
            }
        }
    }
    wait_durable(broker, &durable_waits, &mut results).await;
    wait_replicated(&replication_waits, deadline, &mut results).await;
    results
}

/// One group commit for every partition in `waits`; a failed fsync answers
/// KAFKA_STORAGE_ERROR there and wakes the log-dir probe.
async fn wait_durable(
    broker: &Broker,
    waits: &[(usize, Arc<Partition>, i64)],
    results: &mut [(usize, i32, Outcome)],
) {
    if waits.is_empty() {
        return;
    }
    let to_sync: Vec<_> = waits
        .iter()
        .map(|(_, p, last)| (Arc::clone(p), *last))
        .collect();
    let waited = Partition::wait_durable_many(&to_sync).await;
    for ((slot, _, _), w) in waits.iter().zip(waited) {
        if let Err(e) = w {
            tracing::error!(error = %e, "fsync failed");
            broker.replicas.dir_suspected.notify_one();
            results[*slot].2 =
                Outcome::Failed(ResponseError::KafkaStorageError, Some(e.to_string()));
        }
    }
}

/// Waits until every in-sync replica has each partition's records (or the deadline);
/// an append that is still standing is answered with the verdict's refusal.
async fn wait_replicated(
    waits: &[(usize, Arc<Partition>, i64)],
    deadline: tokio::time::Instant,
    results: &mut [(usize, i32, Outcome)],
) {
    let verdicts = join_all(
        waits
            .iter()
            .map(|(_, p, last)| p.wait_replicated(*last, deadline)),
    )
    .await;
    for ((slot, _, _), verdict) in waits.iter().zip(verdicts) {
        if let (Some((code, msg)), Outcome::Appended(_)) = (verdict.refusal(), &results[*slot].2) {
            results[*slot].2 = Outcome::Failed(code, Some(msg.to_string()));
        }
    }
}
