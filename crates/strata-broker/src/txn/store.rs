//! Durable records in a partition of `__transaction_state`: one keyed record written
//! with `acks=all` (the group coordinator's writer, `group/store.rs`), and a whole
//! partition read back when loading. The record formats live in `strata-txn`.

use bytes::Bytes;
use kafka_protocol::ResponseError;
use strata_log::LogError;

use crate::broker::now_ms;
use crate::config::FlushPolicy;
use crate::group::store::{self as keyed, KeyedRecord, WriteError};
use crate::topics::TRANSACTION_STATE_TOPIC;
use crate::Broker;

/// The error a transactional client gets for a failed write, as Kafka's coordinator
/// maps them: this broker no longer leads the partition (or its disk failed) sends the
/// client to find the coordinator again; too few in-sync replicas or a replication
/// timeout is COORDINATOR_NOT_AVAILABLE (retriable).
pub(super) fn write_error(e: &WriteError) -> ResponseError {
    match e {
        WriteError::Log(LogError::MessageTooLarge { .. }) => ResponseError::UnknownServerError,
        WriteError::Log(_) | WriteError::NotLeader => ResponseError::NotCoordinator,
        WriteError::Unavailable(_) | WriteError::TimedOut => ResponseError::CoordinatorNotAvailable,
    }
}

/// Writes `key` → `value` (a tombstone when `None`), preceded by `key` → `before` in
/// the same batch when given, to `__transaction_state` partition `partition` and waits
/// until every in-sync replica has it (`durable`) or only until it is in the log.
pub(super) async fn write(
    broker: &Broker,
    partition: i32,
    key: Bytes,
    before: Option<Bytes>,
    value: Option<Bytes>,
    durable: bool,
) -> Result<(), ResponseError> {
    let Some(p) = broker.replicas.get(TRANSACTION_STATE_TOPIC, partition) else {
        return Err(ResponseError::NotCoordinator);
    };
    let mut records = Vec::with_capacity(2);
    if let Some(b) = before {
        records.push((key.clone(), Some(b)));
    }
    records.push((key, value));
    let policy = if durable {
        broker.config.flush_policy
    } else {
        FlushPolicy::Never
    };
    let pending = keyed::append(&p, records, now_ms(), policy).map_err(|e| write_error(&e))?;
    if !durable {
        return pending.appended().await.map(|_| ()).map_err(|e| {
            tracing::warn!(partition, error = %e, "{TRANSACTION_STATE_TOPIC} write failed");
            write_error(&e)
        });
    }
    pending.committed().await.map(|_| ()).map_err(|e| {
        tracing::warn!(partition, error = %e, "{TRANSACTION_STATE_TOPIC} write failed");
        write_error(&e)
    })
}

/// Every keyed record of partition `partition`, in log order. Blocking.
pub(super) fn read_blocking(broker: &Broker, partition: i32) -> Result<Vec<KeyedRecord>, LogError> {
    match broker.replicas.get(TRANSACTION_STATE_TOPIC, partition) {
        // Nothing writes transactional or control batches to this topic: every record
        // is a plain keyed one.
        Some(p) => Ok(keyed::read_to_end_blocking(&p)?
            .into_iter()
            .filter(|r| !r.control)
            .map(|r| (r.key, r.value))
            .collect()),
        None => Err(LogError::Io(std::io::Error::other(format!(
            "{TRANSACTION_STATE_TOPIC}-{partition} is not hosted here"
        )))),
    }
}
