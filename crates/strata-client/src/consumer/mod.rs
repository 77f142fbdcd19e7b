//! A consumer of manually assigned partitions, using Fetch long-polls.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use crate::batch::{decode_fetched, Header};
use crate::cluster::{ClientConfig, Cluster};
use crate::error::{codes, ClientError, Result};
use crate::offsets::{list_offsets, OffsetSpec, TopicPartition};

/// Fetch v13 addresses topics by id instead of name.
const FIRST_FETCH_VERSION_WITH_TOPIC_IDS: i16 = 13;

/// Where to start when a partition has no position or its position is out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    /// Start from the oldest retained record.
    Earliest,
    /// Start after the newest record.
    Latest,
    /// Report an error.
    None,
}

/// Consumer settings.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Connection settings.
    pub client: ClientConfig,
    /// The broker answers as soon as this many bytes are available…
    pub fetch_min_bytes: i32,
    /// …or after this long.
    pub fetch_max_wait: Duration,
    /// Upper bound for a whole fetch response.
    pub fetch_max_bytes: i32,
    /// Upper bound per partition per fetch.
    pub max_partition_fetch_bytes: i32,
    /// Behaviour without a valid position.
    pub auto_offset_reset: OffsetReset,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            client: ClientConfig::default(),
            fetch_min_bytes: 1,
            fetch_max_wait: Duration::from_millis(500),
            fetch_max_bytes: 50 * 1024 * 1024,
            max_partition_fetch_bytes: 1024 * 1024,
            auto_offset_reset: OffsetReset::Latest,
        }
    }
}

/// A record read from a partition.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerRecord {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp, ms since the epoch.
    pub timestamp: i64,
    /// Key.
    pub key: Option<Bytes>,
    /// Value.
    pub value: Option<Bytes>,
    /// Headers.
    pub headers: Vec<Header>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    At(i64),
    Reset(OffsetSpec),
}

/// Consumes assigned partitions. Not shared between tasks: `poll` takes `&mut self`.
pub struct Consumer {
    cluster: Arc<Cluster>,
    config: ConsumerConfig,
    positions: BTreeMap<TopicPartition, Position>,
}

impl Consumer {
    /// Creates a consumer; connects lazily.
    pub fn new(config: ConsumerConfig) -> Result<Consumer> {
        let cluster = Cluster::new(config.client.clone())?;
        Ok(Consumer {
            cluster,
            config,
            positions: BTreeMap::new(),
        })
    }

    /// The partition count of `topic`, from cluster metadata.
    pub async fn partition_count(&self, topic: &str) -> Result<i32> {
        let meta = self.cluster.topic(topic).await?;
        Ok(i32::try_from(meta.partitions.len()).unwrap_or(i32::MAX))
    }

    /// Replaces the assignment. Partitions kept keep their position; new ones start according
    /// to `auto_offset_reset` unless sought.
    pub fn assign(&mut self, partitions: Vec<(String, i32)>) {
        let reset = match self.config.auto_offset_reset {
            OffsetReset::Earliest => Position::Reset(OffsetSpec::Earliest),
            // With `None` there is no committed offset to fall back on (no groups yet); start
            // at the end like Latest and let an out-of-range error surface later.
            OffsetReset::Latest | OffsetReset::None => Position::Reset(OffsetSpec::Latest),
        };
        let mut next = BTreeMap::new();
        for tp in partitions {
            let pos = self.positions.get(&tp).copied().unwrap_or(reset);
            next.insert(tp, pos);
        }
        self.positions = next;
    }

    /// The current assignment.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.positions.keys().cloned().collect()
    }

    /// Sets the next offset to read.
    pub fn seek(&mut self, topic: &str, partition: i32, offset: i64) {
        self.positions
            .insert((topic.to_string(), partition), Position::At(offset));
    }

    /// Moves the given partitions (all assigned ones if empty) to their earliest offset.
    pub fn seek_to_beginning(&mut self, partitions: &[TopicPartition]) {
        self.seek_all(partitions, OffsetSpec::Earliest);
    }

    /// Moves the given partitions (all assigned ones if empty) to their end.
    pub fn seek_to_end(&mut self, partitions: &[TopicPartition]) {
        self.seek_all(partitions, OffsetSpec::Latest);
    }

    fn seek_all(&mut self, partitions: &[TopicPartition], spec: OffsetSpec) {
        let targets: Vec<TopicPartition> = if partitions.is_empty() {
            self.positions.keys().cloned().collect()
        } else {
            partitions.to_vec()
        };
        for tp in targets {
            self.positions.insert(tp, Position::Reset(spec));
        }
    }

    /// The next offset that will be read from a partition, resolving a pending seek.
    pub async fn position(&mut self, topic: &str, partition: i32) -> Result<i64> {
        self.resolve_resets().await?;
        match self.positions.get(&(topic.to_string(), partition)) {
            Some(Position::At(o)) => Ok(*o),
            _ => Err(ClientError::Config(format!(
                "{topic}-{partition} is not assigned"
            ))),
        }
    }

    async fn resolve_resets(&mut self) -> Result<()> {
        let mut by_spec: HashMap<OffsetSpec, Vec<TopicPartition>> = HashMap::new();
        for (tp, pos) in &self.positions {
            if let Position::Reset(spec) = pos {
                by_spec.entry(*spec).or_default().push(tp.clone());
            }
        }
        for (spec, tps) in by_spec {
            let found = list_offsets(&self.cluster, &tps, spec).await?;
            for tp in tps {
                if let Some(o) = found.get(&tp) {
                    self.positions.insert(tp, Position::At(*o));
                }
            }
        }
        Ok(())
    }

    /// Returns the records available now, waiting up to `timeout` for some to arrive.
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        if self.positions.is_empty() {
            tokio::time::sleep(timeout).await;
            return Ok(Vec::new());
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.resolve_resets().await?;
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let records = self
                .fetch_once(remaining.min(self.config.fetch_max_wait))
                .await?;
            if !records.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(records);
            }
        }
    }

    async fn fetch_once(&mut self, max_wait: Duration) -> Result<Vec<ConsumerRecord>> {
        // Group positioned partitions by leader; one Fetch per broker, all concurrently.
        let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, i64, Uuid)>> = BTreeMap::new();
        let mut stalled = false;
        for (tp, pos) in &self.positions {
            let Position::At(offset) = pos else {
                stalled = true;
                continue;
            };
            let meta = match self.cluster.topic(&tp.0).await {
                Ok(m) => m,
                Err(e) if e.is_retriable() => {
                    stalled = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            match meta.partitions.iter().find(|p| p.partition == tp.1) {
                Some(p) if p.leader >= 0 => {
                    by_leader
                        .entry(p.leader)
                        .or_default()
                        .push((tp.clone(), *offset, meta.id))
                }
                Some(_) => {
                    self.cluster.invalidate(&tp.0);
                    stalled = true;
                }
                None => {
                    return Err(ClientError::from_code(
                        codes::UNKNOWN_TOPIC_OR_PARTITION,
                        None,
                        &format!("partition {} of topic '{}' does not exist", tp.1, tp.0),
                    ))
                }
            }
        }
        if by_leader.is_empty() {
            if stalled {
                tokio::time::sleep(self.cluster.config.retry_backoff).await;
            }
            return Ok(Vec::new());
        }
        let futures = by_leader.into_iter().map(|(leader, parts)| {
            fetch_from(&self.cluster, &self.config, leader, parts, max_wait)
        });
        let results = futures::future::join_all(futures).await;
        let mut records = Vec::new();
        let mut retry_pause = false;
        for result in results {
            let outcomes = match result {
                Ok(o) => o,
                Err(e) if e.is_retriable() => {
                    retry_pause = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            for outcome in outcomes {
                match outcome {
                    FetchOutcome::Records { tp, next, recs } => {
                        if let Some(next) = next {
                            self.positions.insert(tp.clone(), Position::At(next));
                        }
                        records.extend(recs.into_iter().map(|r| ConsumerRecord {
                            topic: tp.0.clone(),
                            partition: tp.1,
                            offset: r.offset,
                            timestamp: r.timestamp,
                            key: r.key,
                            value: r.value,
                            headers: r.headers,
                        }));
                    }
                    FetchOutcome::OutOfRange(tp) => match self.config.auto_offset_reset {
                        OffsetReset::Earliest => {
                            self.positions
                                .insert(tp, Position::Reset(OffsetSpec::Earliest));
                        }
                        OffsetReset::Latest => {
                            self.positions
                                .insert(tp, Position::Reset(OffsetSpec::Latest));
                        }
                        OffsetReset::None => {
                            return Err(ClientError::from_code(
                                codes::OFFSET_OUT_OF_RANGE,
                                None,
                                &format!("offset out of range for {}-{}", tp.0, tp.1),
                            ))
                        }
                    },
                    FetchOutcome::Retry(tp) => {
                        self.cluster.invalidate(&tp.0);
                        retry_pause = true;
                    }
                }
            }
        }
        if records.is_empty() && retry_pause {
            tokio::time::sleep(self.cluster.config.retry_backoff).await;
        }
        Ok(records)
    }
}

enum FetchOutcome {
    Records {
        tp: TopicPartition,
        next: Option<i64>,
        recs: Vec<crate::batch::DecodedRecord>,
    },
    OutOfRange(TopicPartition),
    Retry(TopicPartition),
}

async fn fetch_from(
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
