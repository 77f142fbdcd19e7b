//! Broker-side schema validation (`confluent.key.schema.validation`,
//! `confluent.value.schema.validation`, with their `*.subject.name.strategy`): a produced
//! record's key or value must be in Confluent's wire format (magic byte 0, then a
//! big-endian 4-byte schema id) with an id registered under the subject the strategy
//! names, or its batch is refused with `INVALID_RECORD`, every offending record named
//! by its index in the batch (Produce v8+ `record_errors`, KIP-467) so clients report
//! those records as invalid and the others of the batch as collateral.
//!
//! A null key or value (a tombstone) passes: compaction needs them. The check decodes
//! the batches (on a blocking thread) only for topics that turned it on.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use strata_meta::topic_config::{SchemaValidation, SubjectNameStrategy};
use strata_proto::batch::{self, OffsetRule};

use super::RegistryFailure;
use crate::replica::Partition;
use crate::Broker;

/// Which part of a record is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Key,
    Value,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Key => "key",
            Side::Value => "value",
        }
    }
}

/// A refusal: the error code, the message for the client, and the offending records
/// (index in the batch, message) when the refusal is about records.
pub(crate) type Refusal = (ResponseError, String, Vec<(i32, Option<String>)>);

/// How many refused records get a message of their own; later ones are named by index
/// only, so a batch of tiny records cannot make the response many times its size.
const RECORD_MESSAGES: usize = 1000;

fn failure(code: ResponseError, message: String) -> Refusal {
    (code, message, Vec::new())
}

/// Whether `p`'s topic validates schema ids at all.
pub(crate) fn wanted(p: &Partition) -> bool {
    let s = p.settings();
    s.key_schema.enabled || s.value_schema.enabled
}

/// Checks every record of `records` (a produce payload for `p`) against the registry.
pub(crate) async fn check(
    broker: &Arc<Broker>,
    p: &Arc<Partition>,
    records: Bytes,
) -> Result<(), Refusal> {
    let settings = p.settings();
    let sides: Vec<(Side, SchemaValidation)> = [
        (Side::Key, settings.key_schema),
        (Side::Value, settings.value_schema),
    ]
    .into_iter()
    .filter(|(_, v)| v.enabled)
    .collect();
    if sides.is_empty() {
        return Ok(());
    }
    let part = Arc::clone(p);
    let which: Vec<Side> = sides.iter().map(|(s, _)| *s).collect();
    let (ids, mut bad) = tokio::task::spawn_blocking(move || schema_ids(&part, &records, &which))
        .await
        .map_err(|e| failure(ResponseError::UnknownServerError, e.to_string()))??;
    let distinct: BTreeSet<(Side, i32)> = ids.iter().map(|(_, side, id)| (*side, *id)).collect();
    let topic = p.topic.to_string();
    // Record name strategies parse schemas: off the runtime.
    let refused = broker
        .registry_read_blocking(move |r| {
            distinct
                .iter()
                .filter_map(|(side, id)| {
                    let strategy = sides
                        .iter()
                        .find(|(s, _)| s == side)
                        .map_or(SubjectNameStrategy::TopicName, |(_, v)| v.strategy);
                    let subject = match strategy {
                        SubjectNameStrategy::TopicName => Some(format!("{topic}-{}", side.name())),
                        SubjectNameStrategy::RecordName => r.record_name_of(*id),
                        SubjectNameStrategy::TopicRecordName => {
                            r.record_name_of(*id).map(|n| format!("{topic}-{n}"))
                        }
                    };
                    match subject {
                        Some(s) if r.id_in_subject(*id, &s) => None,
                        other => Some((*side, *id, other)),
                    }
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| {
            let why = match e {
                RegistryFailure::Registry(e) => e.to_string(),
                RegistryFailure::Route(r) => format!("{r:?}"),
            };
            failure(
                ResponseError::UnknownServerError,
                format!("schema validation cannot read the registry here: {why}"),
            )
        })?;
    for (index, side, id) in &ids {
        let Some((_, _, subject)) = refused.iter().find(|(s, i, _)| s == side && i == id) else {
            continue;
        };
        let why = match subject {
            Some(subject) => format!(
                "{} schema id {id} is not registered under subject '{subject}'",
                side.name()
            ),
            None => format!(
                "{} schema id {id} is not a registered schema with a record name",
                side.name()
            ),
        };
        bad.push((*index, why));
    }
    refusal(p, bad)
}

/// The refusal for the records in `bad` (batch index, reason), if any: one
/// `record_errors` entry per record (its reasons joined), the message naming the first.
fn refusal(p: &Partition, mut bad: Vec<(usize, String)>) -> Result<(), Refusal> {
    bad.sort_by_key(|(i, _)| *i);
    let Some((first, why)) = bad.first() else {
        return Ok(());
    };
    let message = format!(
        "{} record(s) of the batch for {}-{} refused by schema validation; record {first}: {why}",
        bad.iter().map(|(i, _)| i).collect::<BTreeSet<_>>().len(),
        p.topic,
        p.index
    );
    let mut records: Vec<(i32, Option<String>)> = Vec::new();
    for (index, why) in bad {
        let index = i32::try_from(index).unwrap_or(i32::MAX);
        match records.last_mut() {
            Some((last, Some(m))) if *last == index => {
                m.push_str("; ");
                m.push_str(&why);
            }
            Some((last, None)) if *last == index => {}
            _ => {
                let with_message = records.len() < RECORD_MESSAGES;
                records.push((index, with_message.then_some(why)));
            }
        }
    }
    Err((ResponseError::InvalidRecord, message, records))
}

/// Ids and refusals of a produce payload: (record index, side, schema id) of every
/// checked non-null key or value in the wire format, and (record index, reason) of
/// those that are not. Blocking (decompression).
type Scanned = (Vec<(usize, Side, i32)>, Vec<(usize, String)>);

fn schema_ids(p: &Partition, records: &Bytes, sides: &[Side]) -> Result<Scanned, Refusal> {
    let limit = p.log_config_blocking().max_message_bytes as usize;
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let mut index = 0usize;
    for item in batch::batches(records) {
        let corrupt = |e: batch::BatchError| failure(ResponseError::CorruptMessage, e.to_string());
        let (_, one) = item.map_err(corrupt)?;
        let set = batch::decode_record_set(&records.slice_ref(one), limit, OffsetRule::Contiguous)
            .map_err(corrupt)?;
        for r in &set.records {
            for side in sides {
                let bytes = match side {
                    Side::Key => r.key.as_ref(),
                    Side::Value => r.value.as_ref(),
                };
                let Some(b) = bytes else { continue };
                match wire_id(b) {
                    Some(id) => out.push((index, *side, id)),
                    None => bad.push((
                        index,
                        format!(
                            "the {} is not in the schema registry's wire format (magic byte 0, then a 4-byte schema id)",
                            side.name()
                        ),
                    )),
                }
            }
            index += 1;
        }
    }
    Ok((out, bad))
}

/// The schema id of a key or value in Confluent's wire format.
fn wire_id(b: &[u8]) -> Option<i32> {
    match b {
        [0, a, b, c, d, ..] => Some(i32::from_be_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::wire_id;

    #[test]
    fn the_wire_format_is_magic_zero_then_a_big_endian_id() {
        assert_eq!(wire_id(&[0, 0, 0, 1, 2, 9, 9]), Some(258));
        assert_eq!(wire_id(&[0, 0, 0, 0, 7]), Some(7));
        assert_eq!(wire_id(&[0, 0, 0, 7]), None, "too short");
        assert_eq!(wire_id(&[1, 0, 0, 0, 7]), None, "wrong magic byte");
        assert_eq!(wire_id(b""), None);
    }
}
