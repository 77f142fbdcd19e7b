//! Step 3 of Produce: the appends, each judged and counted.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::produce_response::BatchIndexAndErrorMessage;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strata_log::AppendInfo;
use strata_proto::batch::BatchError;

use crate::handlers::log_error_code;
use crate::replica::{Partition, QueuedAppend};
use crate::Broker;

/// A partition and how its append ended: the refusal with its code, message and the
/// records it names (KIP-467).
pub(super) type Appended = (
    Arc<Partition>,
    Result<AppendInfo, (ResponseError, String, Vec<BatchIndexAndErrorMessage>)>,
);

/// Appends each partition's records (one blocking-pool hop per group of partitions,
/// see [`Partition::enqueue_many`]), then judges each result. The connection's next
/// Produce may start once the appends are queued; `turn` is dropped once they are
/// written (see `handlers::turn`). A batch a compacted topic refused for keyless
/// records comes back with each one's index, as the validation walk found them
/// (KIP-467's per-record errors).
pub(super) async fn append_all(
    broker: &Arc<Broker>,
    items: Vec<(Arc<Partition>, Bytes)>,
    now: i64,
    mut turn: crate::handlers::Turn,
) -> Vec<Appended> {
    let queued = Partition::enqueue_many(&items, now);
    turn.appends_queued();
    let results = QueuedAppend::all_appended(queued).await;
    // The appends are written: requests after this one may see them.
    drop(turn);
    let mut out = Vec::with_capacity(items.len());
    for ((p, records), result) in items.into_iter().zip(results) {
        // The walk that refused keyless records (compacted topics) names each one.
        let keyless = match &result {
            Err(strata_log::LogError::Batch(BatchError::KeylessRecords { records, .. })) => {
                records.iter().copied().map(keyless_record_error).collect()
            }
            _ => Vec::new(),
        };
        let judged = judge_append(broker, &p, &records, result);
        out.push((
            p,
            judged.map_err(|(code, message)| (code, message, keyless)),
        ));
    }
    out
}

fn keyless_record_error(batch_index: i32) -> BatchIndexAndErrorMessage {
    BatchIndexAndErrorMessage::default()
        .with_batch_index(batch_index)
        .with_batch_index_error_message(Some(StrBytes::from_static_str(
            "the record has no key, which a compacted topic requires",
        )))
}

/// Counts one partition's append; a refusal is answered with its error code and a
/// message (a sequence gap that an earlier refusal here explains with that refusal's
/// error, see `replica/refusals.rs`).
fn judge_append(
    broker: &Broker,
    p: &Partition,
    records: &Bytes,
    appended: Result<AppendInfo, strata_log::LogError>,
) -> Result<AppendInfo, (ResponseError, String)> {
    let len = records.len() as u64;
    match appended {
        Ok(info) => {
            // A retried idempotent batch is answered with its original offsets, not
            // stored again.
            if !info.duplicate {
                broker.metrics.records_in.inc_by(info.record_count as u64);
                broker.metrics.produce_bytes.inc_by(len);
                p.stats
                    .appended(len, info.record_count as u64, info.uncompressed_bytes);
                p.note_written(records);
            }
            Ok(info)
        }
        Err(e) => match p.explained_gap(&e) {
            Some(code) => Err((
                code,
                format!("an earlier batch of this producer was refused here ({code:?}); it goes first: {e}"),
            )),
            None => {
                let code = log_error_code(&e);
                p.note_refusal(records, code);
                Err((code, e.to_string()))
            }
        },
    }
}
