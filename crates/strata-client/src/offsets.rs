//! ListOffsets: earliest / latest / by-timestamp offsets, routed to each partition's leader.

use std::collections::{BTreeMap, HashMap};

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::cluster::Cluster;
use crate::error::{ClientError, Result};

/// Which offset to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The log end offset (high-water mark): where the next record will go.
    Latest,
    /// The last stable offset: the end a `read_committed` consumer reaches (below the
    /// first record of a transaction still open). `Latest` asked with isolation level
    /// READ_COMMITTED (ListOffsets v2+).
    LastStable,
    /// The first offset whose timestamp is at or after this (ms since the epoch).
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest | OffsetSpec::LastStable => -1,
            OffsetSpec::Timestamp(t) => t,
        }
    }
}

/// A `(topic, partition)` pair.
pub type TopicPartition = (String, i32);

/// Looks up `spec` for every partition in `tps`, retrying retriable errors.
pub(crate) async fn list_offsets(
    cluster: &Cluster,
    tps: &[TopicPartition],
    spec: OffsetSpec,
) -> Result<HashMap<TopicPartition, i64>> {
    let mut out = HashMap::new();
    let mut todo: Vec<TopicPartition> = tps.to_vec();
    let deadline = tokio::time::Instant::now() + cluster.config.request_timeout;
    loop {
        let mut failed = Vec::new();
        let mut last_err = None;
        // Group by leader so each broker gets one request.
        let mut by_leader: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
        for tp in &todo {
            match cluster.topic(&tp.0).await {
                Ok(meta) => {
                    let leader = meta
                        .partitions
                        .iter()
                        .find(|p| p.partition == tp.1)
                        .map(|p| p.leader)
                        .ok_or_else(|| {
                            ClientError::from_code(
                                crate::error::codes::UNKNOWN_TOPIC_OR_PARTITION,
                                None,
                                &format!("partition {} of topic '{}' does not exist", tp.1, tp.0),
                            )
                        })?;
                    by_leader.entry(leader).or_default().push(tp.clone());
                }
                Err(e) if e.is_retriable() => {
                    failed.push(tp.clone());
                    last_err = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        for (leader, group) in by_leader {
            match list_from_leader(cluster, leader, &group, spec).await {
                Ok((found, errs)) => {
                    out.extend(found);
                    for (tp, e) in errs {
                        if !e.is_retriable() {
                            return Err(e);
                        }
                        cluster.invalidate(&tp.0);
                        failed.push(tp);
                        last_err = Some(e);
                    }
                }
                Err(e) if e.is_retriable() => {
                    for tp in &group {
                        cluster.invalidate(&tp.0);
                    }
                    failed.extend(group);
                    last_err = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        if failed.is_empty() {
            return Ok(out);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(last_err.unwrap_or_else(|| ClientError::Timeout("list offsets".into())));
        }
        todo = failed;
        tokio::time::sleep(cluster.config.retry_backoff).await;
    }
}

type LeaderResult = (
    Vec<(TopicPartition, i64)>,
    Vec<(TopicPartition, ClientError)>,
);

async fn list_from_leader(
    cluster: &Cluster,
    leader: i32,
    group: &[TopicPartition],
    spec: OffsetSpec,
) -> Result<LeaderResult> {
    let conn = cluster.broker_connection(leader).await?;
    let version = conn.version_for::<ListOffsetsRequest>(None)?;
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in group {
        topics.entry(t.as_str()).or_default().push(*p);
    }
    let mut req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(
            topics
                .iter()
                .map(|(t, ps)| {
                    ListOffsetsTopic::default()
                        .with_name(TopicName(StrBytes::from_string(t.to_string())))
                        .with_partitions(
                            ps.iter()
                                .map(|p| {
                                    ListOffsetsPartition::default()
                                        .with_partition_index(*p)
                                        .with_timestamp(spec.wire())
                                })
                                .collect(),
                        )
                })
                .collect(),
        );
    if spec == OffsetSpec::LastStable {
        if version < 2 {
            return Err(ClientError::UnsupportedVersion {
                api: "ListOffsets with an isolation level (v2+)".into(),
            });
        }
        req.isolation_level = 1;
    }
    if version >= 10 {
        req.timeout_ms =
            i32::try_from(cluster.config.request_timeout.as_millis()).unwrap_or(i32::MAX);
    }
    let resp = conn
        .request(&req, version, cluster.config.request_timeout)
        .await?;
    let mut found = Vec::new();
    let mut errs = Vec::new();
    for t in resp.topics {
        let name = t.name.0.as_str().to_string();
        for p in t.partitions {
            let tp = (name.clone(), p.partition_index);
            if p.error_code != 0 {
                let e = ClientError::from_code(
                    p.error_code,
                    None,
                    &format!("listing offsets of {}-{}", tp.0, tp.1),
                );
                errs.push((tp, e));
            } else {
                found.push((tp, p.offset));
            }
        }
    }
    Ok((found, errs))
}
