//! Fetching: one Fetch request per partition leader, decoded into records.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::ConsumerConfig;
use crate::batch::decode_fetched;
use crate::cluster::Cluster;
use crate::error::{codes, ClientError, Result};
use crate::offsets::TopicPartition;

/// Fetch v13 addresses topics by id instead of name.
const FIRST_FETCH_VERSION_WITH_TOPIC_IDS: i16 = 13;

/// What one partition of a fetch produced.
pub(super) enum FetchOutcome {
    Records {
        tp: TopicPartition,
        next: Option<i64>,
        recs: Vec<crate::batch::DecodedRecord>,
    },
    OutOfRange(TopicPartition),
    Retry(TopicPartition),
}

/// Fetches `parts` from broker `leader`.
pub(super) async fn fetch_from(
    cluster: &Cluster,
    config: &ConsumerConfig,
    leader: i32,
    parts: Vec<(TopicPartition, i64, Uuid)>,
    max_wait: Duration,
) -> Result<Vec<FetchOutcome>> {
    let conn = match cluster.broker_connection(leader).await {
        Ok(c) => c,
        Err(e) => {
            for (tp, _, _) in &parts {
                cluster.invalidate(&tp.0);
            }
            return Err(e);
        }
    };
    let any_nil = parts.iter().any(|(_, _, id)| id.is_nil());
    let cap = any_nil.then_some(FIRST_FETCH_VERSION_WITH_TOPIC_IDS - 1);
    let version = conn.version_for::<FetchRequest>(cap)?;
    let use_ids = version >= FIRST_FETCH_VERSION_WITH_TOPIC_IDS;

    let mut topics: BTreeMap<&str, (Uuid, Vec<FetchPartition>)> = BTreeMap::new();
    let mut offsets: HashMap<TopicPartition, i64> = HashMap::new();
    let mut names_by_id: HashMap<Uuid, String> = HashMap::new();
    for (tp, offset, id) in &parts {
        let entry = topics
            .entry(tp.0.as_str())
            .or_insert_with(|| (*id, Vec::new()));
        entry.1.push(
            FetchPartition::default()
                .with_partition(tp.1)
                .with_fetch_offset(*offset)
                .with_partition_max_bytes(config.max_partition_fetch_bytes),
        );
        offsets.insert(tp.clone(), *offset);
        names_by_id.insert(*id, tp.0.clone());
    }
    let req = FetchRequest::default()
        .with_max_wait_ms(i32::try_from(max_wait.as_millis()).unwrap_or(i32::MAX))
        .with_min_bytes(config.fetch_min_bytes)
        .with_max_bytes(config.fetch_max_bytes)
        .with_topics(
            topics
                .into_iter()
                .map(|(name, (id, ps))| {
                    let t = FetchTopic::default().with_partitions(ps);
                    if use_ids {
                        t.with_topic_id(id)
                    } else {
                        t.with_topic(TopicName(StrBytes::from_string(name.to_string())))
                    }
                })
                .collect(),
        );
    let resp: FetchResponse = conn
        .request(&req, version, cluster.config.request_timeout + max_wait)
        .await?;
    if resp.error_code != 0 {
        return Err(ClientError::from_code(
            resp.error_code,
            None,
            "fetch failed",
        ));
    }
    let mut out = Vec::new();
    for t in resp.responses {
        let name = if use_ids {
            match names_by_id.get(&t.topic_id) {
                Some(n) => n.clone(),
                None => continue,
            }
        } else {
            t.topic.0.as_str().to_string()
        };
        for p in t.partitions {
            let tp = (name.clone(), p.partition_index);
            let Some(&from) = offsets.get(&tp) else {
                continue;
            };
            match p.error_code {
                0 => {
                    let data = p.records.unwrap_or_default();
                    let decoded = decode_fetched(data, from)?;
                    out.push(FetchOutcome::Records {
                        tp,
                        next: decoded.next_offset.filter(|n| *n > from),
                        recs: decoded.records,
                    });
                }
                codes::OFFSET_OUT_OF_RANGE => out.push(FetchOutcome::OutOfRange(tp)),
                code if crate::error::is_retriable_code(code)
                    || code == codes::UNKNOWN_TOPIC_ID =>
                {
                    out.push(FetchOutcome::Retry(tp))
                }
                code => {
                    return Err(ClientError::from_code(
                        code,
                        None,
                        &format!("fetching {}-{} failed", tp.0, tp.1),
                    ))
                }
            }
        }
    }
    Ok(out)
}
