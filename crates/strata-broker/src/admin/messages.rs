//! Records of one partition for the message browser: from an offset or from the first
//! record at or after a timestamp, read from the local log of a partition this broker
//! leads (below the high-water mark, as a consumer sees them), on a blocking thread.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use serde::Serialize;
use strata_auth::acl::AclOperation;
use strata_proto::batch::{self, OffsetRule};

use super::decode::{self, Payload};
use super::{AdminError, Caller};
use crate::Broker;

/// Most records one call returns.
pub const MAX_RECORDS: usize = 100;
/// Log bytes one call reads at most (whole batches; at least one).
const MAX_READ_BYTES: usize = 8 << 20;
/// Bytes read from the log per step.
const READ_STEP: usize = 1 << 20;
/// Headers shown per record, and bytes shown per header value.
const MAX_HEADERS: usize = 32;
const MAX_HEADER_BYTES: usize = 1024;

/// Where to start reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At this offset (the log start when below it).
    Offset(i64),
    /// At the first record with this timestamp (ms) or a later one.
    Timestamp(i64),
}

/// A record header.
#[derive(Debug, Serialize)]
pub struct HeaderView {
    /// Header key.
    pub key: String,
    /// Header value (`None`: null).
    pub value: Option<Payload>,
}

/// One record.
#[derive(Debug, Serialize)]
pub struct RecordView {
    /// Offset.
    pub offset: i64,
    /// Timestamp (ms since the epoch).
    pub timestamp: i64,
    /// `create` or `log_append`.
    pub timestamp_type: &'static str,
    /// Key (`None`: null).
    pub key: Option<Payload>,
    /// Value (`None`: null, a tombstone).
    pub value: Option<Payload>,
    /// Headers.
    pub headers: Vec<HeaderView>,
}

/// A page of records.
#[derive(Debug, Serialize)]
pub struct MessagePage {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The offset reading started at.
    pub start_offset: i64,
    /// Log start offset.
    pub log_start: i64,
    /// High-water mark (reading stops below it).
    pub high_watermark: i64,
    /// The offset to read the next page from.
    pub next_offset: i64,
    /// Records, by offset.
    pub records: Vec<RecordView>,
}

struct Raw {
    offset: i64,
    timestamp: i64,
    log_append: bool,
    key: Option<Bytes>,
    value: Option<Bytes>,
    headers: Vec<(String, Option<Bytes>)>,
}

impl Broker {
    /// Up to `limit` records of `topic`-`partition` (Fetch: READ on the topic).
    pub async fn admin_messages(
        self: &Arc<Self>,
        caller: &Caller,
        topic: &str,
        partition: i32,
        start: Start,
        limit: usize,
    ) -> Result<MessagePage, AdminError> {
        let limit = limit.clamp(1, MAX_RECORDS);
        if !self.admin_access(caller).topic(AclOperation::Read, topic) {
            return Err(AdminError::Forbidden(format!(
                "not authorized to read topic '{topic}'"
            )));
        }
        let p = self.led_replica(topic, partition).map_err(|e| match e {
            ResponseError::UnknownTopicOrPartition => {
                AdminError::NotFound(format!("no partition {topic}-{partition}"))
            }
            _ => self.not_leader_here(topic, partition),
        })?;
        let from = match start {
            Start::Offset(o) => o,
            Start::Timestamp(ts) => p
                .run(move |log| log.offset_for_timestamp(ts))
                .await
                .map_err(|e| AdminError::Internal(format!("reading the time index: {e}")))?
                .map_or(p.high_watermark(), |(offset, _)| offset),
        };
        let part = Arc::clone(&p);
        let (raw, next, from) = tokio::task::spawn_blocking(move || read(&part, from, limit))
            .await
            .map_err(|e| AdminError::Internal(e.to_string()))?
            .map_err(|e| AdminError::Internal(format!("reading {topic}-{partition}: {e}")))?;
        let mut records: Vec<RecordView> = raw.iter().map(view).collect();
        self.decode_with_registry(&raw, &mut records).await;
        Ok(MessagePage {
            topic: topic.to_string(),
            partition,
            start_offset: from,
            log_start: p.log_start_offset(),
            high_watermark: p.high_watermark(),
            next_offset: next,
            records,
        })
    }

    /// Fills in the registry-decoded forms of keys and values that carry a schema id.
    async fn decode_with_registry(self: &Arc<Self>, raw: &[Raw], records: &mut [RecordView]) {
        let wanted: Vec<(usize, bool, Bytes)> = raw
            .iter()
            .enumerate()
            .flat_map(|(i, r)| {
                [(true, &r.key), (false, &r.value)]
                    .into_iter()
                    .filter_map(move |(is_key, b)| b.clone().map(|b| (i, is_key, b)))
            })
            .filter(|(_, _, b)| decode::schema_id(b).is_some())
            .collect();
        if wanted.is_empty() {
            return;
        }
        let decoded = self
            .registry_read_blocking(move |registry| {
                let mut d = decode::Decoder::new(registry);
                wanted
                    .into_iter()
                    .map(|(i, is_key, b)| (i, is_key, d.decode(&b)))
                    .collect::<Vec<_>>()
            })
            .await;
        // Without the registry (no replica of `_schemas` here) the plain forms remain.
        let Ok(decoded) = decoded else { return };
        for (i, is_key, d) in decoded {
            let Some(r) = records.get_mut(i) else {
                continue;
            };
            let target = if is_key { &mut r.key } else { &mut r.value };
            if let Some(p) = target.as_mut() {
                p.schema = d;
            }
        }
    }
}

fn view(r: &Raw) -> RecordView {
    RecordView {
        offset: r.offset,
        timestamp: r.timestamp,
        timestamp_type: if r.log_append { "log_append" } else { "create" },
        key: r.key.as_deref().map(decode::payload),
        value: r.value.as_deref().map(decode::payload),
        headers: r
            .headers
            .iter()
            .take(MAX_HEADERS)
            .map(|(k, v)| HeaderView {
                key: k.clone(),
                value: v
                    .as_deref()
                    .map(|b| decode::payload_within(b, MAX_HEADER_BYTES)),
            })
            .collect(),
    }
}

/// Reads up to `limit` data records from `from` (moved up to the log start) below the
/// high-water mark; control records are skipped. Returns them, the next offset to read
/// and the start used. Blocking.
fn read(
    p: &crate::replica::Partition,
    from: i64,
    limit: usize,
) -> Result<(Vec<Raw>, i64, i64), strata_log::LogError> {
    let from = from.max(p.log_start_offset());
    let decompress_limit = p.log_config_blocking().max_message_bytes as usize;
    let mut out = Vec::new();
    let mut offset = from;
    let mut read_bytes = 0;
    while out.len() < limit && read_bytes < MAX_READ_BYTES && offset < p.high_watermark() {
        let read = p.read_blocking_upto(offset, READ_STEP, true, None)?;
        if read.records.is_empty() {
            break;
        }
        read_bytes += read.records.len();
        let bytes = read.records;
        let mut next = offset;
        for item in batch::batches(&bytes) {
            let corrupt = |e: batch::BatchError| {
                strata_log::LogError::Corrupt(format!("{}-{}: {e}", p.topic, p.index))
            };
            let (header, one) = item.map_err(corrupt)?;
            next = next.max(header.next_offset());
            if header.is_control() {
                continue;
            }
            let set = batch::decode_record_set(
                &bytes.slice_ref(one),
                decompress_limit,
                OffsetRule::Compacted,
            )
            .map_err(corrupt)?;
            for r in set.records {
                if r.offset < offset || out.len() >= limit {
                    continue;
                }
                next = next.max(r.offset + 1);
                out.push(Raw {
                    offset: r.offset,
                    timestamp: r.timestamp,
                    log_append: header.is_log_append_time(),
                    key: r.key,
                    value: r.value,
                    headers: r
                        .headers
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                });
            }
            if out.len() >= limit {
                break;
            }
        }
        if next <= offset {
            break;
        }
        offset = next;
    }
    // The next page starts after the last record returned (a batch may go on).
    let next = out.last().map_or(offset, |r| r.offset + 1);
    Ok((out, next, from))
}
