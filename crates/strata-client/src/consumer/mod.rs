//! The consumer: manual assignment or group subscription, Fetch long-polls, offset commits.

mod config;
mod fetch;
mod group;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;

use crate::batch::Header;
use crate::cluster::Cluster;
use crate::error::{codes, ClientError, Result};
use crate::offsets::{list_offsets, OffsetSpec, TopicPartition};
use fetch::{fetch_from, FetchOutcome};

pub use config::{ConsumerConfig, Listener, OffsetReset, RebalanceListener};
pub(crate) use group::commit_with_retry;
pub use group::{CommitFuture, CommitResult};

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
    /// The next offset to fetch.
    At(i64),
    /// Look the offset up with ListOffsets.
    Reset(OffsetSpec),
    /// Start at the group's committed offset, else per `auto_offset_reset`.
    Committed,
}

/// Consumes assigned partitions. Not shared between tasks: `poll` takes `&mut self`.
pub struct Consumer {
    cluster: Arc<Cluster>,
    config: ConsumerConfig,
    positions: BTreeMap<TopicPartition, Position>,
    /// Group membership and commit state; present when `group_id` is set.
    group: Option<group::GroupState>,
}

impl Consumer {
    /// Creates a consumer; connects lazily.
    pub fn new(config: ConsumerConfig) -> Result<Consumer> {
        config.validate()?;
        let cluster = Cluster::new(config.client.clone())?;
        let group = config
            .group_id
            .as_deref()
            .map(|g| group::GroupState::new(cluster.clone(), g, &config));
        Ok(Consumer {
            cluster,
            config,
            positions: BTreeMap::new(),
            group,
        })
    }

    /// The partition count of `topic`, from cluster metadata.
    pub async fn partition_count(&self, topic: &str) -> Result<i32> {
        let meta = self.cluster.topic(topic).await?;
        Ok(i32::try_from(meta.partitions.len()).unwrap_or(i32::MAX))
    }

    /// Replaces the assignment with these partitions (manual assignment, no group
    /// membership). Partitions kept keep their position; new ones start at the group's
    /// committed offset when `group_id` is set, else per `auto_offset_reset`, unless sought.
    /// Fails while subscribed.
    pub fn assign(&mut self, partitions: Vec<TopicPartition>) -> Result<()> {
        if self.is_subscribed() {
            return Err(ClientError::Config(
                "cannot assign partitions manually while subscribed to topics; unsubscribe first"
                    .into(),
            ));
        }
        let mut next = BTreeMap::new();
        for tp in partitions {
            let pos = self
                .positions
                .get(&tp)
                .copied()
                .unwrap_or(Position::Committed);
            next.insert(tp, pos);
        }
        self.positions = next;
        Ok(())
    }

    /// The current assignment, sorted.
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

    /// The next offset that will be read from a partition, resolving a pending seek or
    /// committed-offset lookup.
    pub async fn position(&mut self, topic: &str, partition: i32) -> Result<i64> {
        self.resolve_positions().await?;
        match self.positions.get(&(topic.to_string(), partition)) {
            Some(Position::At(o)) => Ok(*o),
            _ => Err(ClientError::Config(format!(
                "{topic}-{partition} is not assigned"
            ))),
        }
    }

    fn reset_position(&self, tp: &TopicPartition, why: &str) -> Result<Position> {
        match self.config.auto_offset_reset {
            OffsetReset::Earliest => Ok(Position::Reset(OffsetSpec::Earliest)),
            OffsetReset::Latest => Ok(Position::Reset(OffsetSpec::Latest)),
            OffsetReset::None => Err(ClientError::NoOffset(format!(
                "{}-{}: {why} and auto_offset_reset is none",
                tp.0, tp.1
            ))),
        }
    }

    /// Turns `Committed` and `Reset` positions into offsets.
    async fn resolve_positions(&mut self) -> Result<()> {
        let pending: Vec<TopicPartition> = self
            .positions
            .iter()
            .filter(|(_, p)| **p == Position::Committed)
            .map(|(tp, _)| tp.clone())
            .collect();
        if !pending.is_empty() {
            let committed = match &self.group {
                Some(g) => g.fetch_committed(&pending).await?,
                None => BTreeMap::new(),
            };
            for tp in pending {
                let pos = match committed.get(&tp).cloned().flatten() {
                    Some(om) => Position::At(om.offset),
                    None => self.reset_position(&tp, "no committed offset")?,
                };
                self.positions.insert(tp, pos);
            }
        }
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

    /// Returns the records available now, waiting up to `timeout` for some to arrive. When
    /// subscribed, joins the group first and takes part in rebalances (which may make a call
    /// last longer than `timeout`), and auto-commits when due.
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.group_poll().await?;
            self.resolve_positions().await?;
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            if self.positions.is_empty() {
                // Nothing assigned (yet): wait, but wake up for rebalances.
                tokio::time::sleep(remaining.min(Duration::from_millis(100))).await;
                if tokio::time::Instant::now() >= deadline {
                    return Ok(Vec::new());
                }
                continue;
            }
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
                        // A rebalance may have taken the partition while we fetched.
                        if !self.positions.contains_key(&tp) {
                            continue;
                        }
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
                    FetchOutcome::OutOfRange(tp) => {
                        let pos = self.reset_position(&tp, "offset out of range")?;
                        self.positions.insert(tp, pos);
                    }
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
