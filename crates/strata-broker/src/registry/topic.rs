//! The `_schemas` topic: created on the first registry write, as Confluent's registry
//! does at start (one partition, compacted, replication factor
//! `schema.registry.topic.replication.factor`-like: 3 capped at the live brokers,
//! `min.insync.replicas` 2 capped at that factor).

use std::sync::Arc;
use std::time::Duration;

use strata_meta::controller::TopicError;

use crate::Broker;

/// Confluent's default `kafkastore.topic`.
pub const SCHEMAS_TOPIC: &str = "_schemas";
/// Replicas of `_schemas` (capped at the live brokers).
const REPLICATION_FACTOR: usize = 3;
/// How long a write waits for a just-created `_schemas` to get a serving leader.
const LEADER_WAIT: Duration = Duration::from_secs(10);

impl Broker {
    /// Creates `_schemas` unless it exists, then waits until its partition has a leader
    /// that serves it (this broker's replica leading, or another broker named leader).
    pub(crate) async fn ensure_schemas_topic(self: &Arc<Self>) -> Result<(), TopicError> {
        if self.meta.image().topic(SCHEMAS_TOPIC).is_none() {
            let live = Self::live_brokers(&self.meta.image()).len();
            let replication_factor = live.clamp(1, REPLICATION_FACTOR) as i16;
            let min_isr = replication_factor.min(2);
            let configs = [
                ("cleanup.policy", "compact".to_string()),
                ("min.insync.replicas", min_isr.to_string()),
            ];
            if self
                .create_internal_topic(SCHEMAS_TOPIC, 1, replication_factor, &configs)
                .await?
            {
                tracing::info!(replication_factor, min_isr, "created {SCHEMAS_TOPIC}");
            }
        }
        let deadline = tokio::time::Instant::now() + LEADER_WAIT;
        loop {
            let leader = self
                .meta
                .image()
                .partition(SCHEMAS_TOPIC, 0)
                .map_or(-1, |p| p.leader);
            let serving = if leader == self.config.node_id {
                self.replicas
                    .get(SCHEMAS_TOPIC, 0)
                    .is_some_and(|p| p.leading_epoch().is_some())
            } else {
                leader >= 0
            };
            if serving || tokio::time::Instant::now() >= deadline {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
