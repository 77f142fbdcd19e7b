//! Topic lookups with auto-creation, and the controller calls that change topics.

use std::sync::Arc;

use kafka_protocol::ResponseError;

use strata_meta::controller::{self, BrokerDefaults, CreateTopicRequest, TopicError};
use strata_meta::{MetadataRecord, TopicImage};

use crate::metadata::DecideError;
use crate::Broker;

/// The internal topic holding committed offsets and group metadata.
pub(crate) use strata_meta::controller::OFFSETS_TOPIC;
/// The internal topic holding the transaction coordinator's state.
pub(crate) use strata_meta::controller::TRANSACTION_STATE_TOPIC;
/// Kafka's `offsets.topic.replication.factor` default; capped at the live brokers.
const OFFSETS_TOPIC_REPLICATION_FACTOR: usize = 3;

/// Why a topic could not be found or auto-created.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TopicLookupError {
    /// No such topic and auto-creation is off (or not allowed by the request).
    #[error("unknown topic")]
    Unknown,
    /// The name is not a legal topic name.
    #[error("{0}")]
    InvalidName(String),
    /// Auto-creation was attempted and failed.
    #[error("auto-creation failed: {0}")]
    CreateFailed(String),
}

impl TopicLookupError {
    /// The Kafka error for this lookup failure.
    pub(crate) fn code(&self) -> ResponseError {
        match self {
            TopicLookupError::Unknown => ResponseError::UnknownTopicOrPartition,
            TopicLookupError::InvalidName(_) => ResponseError::InvalidTopicException,
            TopicLookupError::CreateFailed(_) => ResponseError::LeaderNotAvailable,
        }
    }
}

impl Broker {
    /// The topic named `name`, auto-creating it with the broker defaults if `allow_auto`
    /// (the caller has already combined the broker's and the request's permission).
    pub(crate) async fn topic_or_create(
        self: &Arc<Self>,
        name: &str,
        allow_auto: bool,
    ) -> Result<Arc<TopicImage>, TopicLookupError> {
        if let Some(t) = self.meta.image().topic(name) {
            return Ok(Arc::clone(t));
        }
        if name == OFFSETS_TOPIC {
            self.ensure_offsets_topic()
                .await
                .map_err(|e| TopicLookupError::CreateFailed(e.to_string()))?;
            return self
                .meta
                .image()
                .topic(name)
                .cloned()
                .ok_or(TopicLookupError::Unknown);
        }
        if let Err(e) = controller::validate_topic_name(name) {
            return Err(TopicLookupError::InvalidName(e.to_string()));
        }
        if !allow_auto || !self.config.auto_create_topics {
            return Err(TopicLookupError::Unknown);
        }
        let results = self
            .create_topics(vec![CreateTopicRequest::new(name)], false)
            .await;
        match results.into_iter().next() {
            Some(Ok(_)) | Some(Err(TopicError::TopicAlreadyExists(_))) => {}
            Some(Err(e)) => return Err(TopicLookupError::CreateFailed(e.to_string())),
            None => return Err(TopicLookupError::CreateFailed("no result".into())),
        }
        tracing::info!(topic = name, "auto-created topic");
        self.meta
            .image()
            .topic(name)
            .cloned()
            .ok_or(TopicLookupError::Unknown)
    }

    /// Creates `__consumer_offsets` (compacted, `offsets.topic.num.partitions`, replication
    /// factor 3 capped at the live brokers, as Kafka's `offsets.topic.replication.factor`)
    /// unless it exists, and waits until this broker serves the groups of the
    /// partitions it leads.
    pub(crate) async fn ensure_offsets_topic(self: &Arc<Self>) -> Result<(), TopicError> {
        if self.meta.image().topic(OFFSETS_TOPIC).is_none() {
            let live = Self::live_brokers(&self.meta.image()).len();
            let replication_factor = live.clamp(1, OFFSETS_TOPIC_REPLICATION_FACTOR) as i16;
            self.create_internal_topic(
                OFFSETS_TOPIC,
                self.config.offsets_topic_num_partitions,
                replication_factor,
                &[
                    ("cleanup.policy", "compact".to_string()),
                    ("segment.bytes", "104857600".to_string()),
                ],
            )
            .await?;
            tracing::info!(
                partitions = self.config.offsets_topic_num_partitions,
                replication_factor,
                "created {OFFSETS_TOPIC}"
            );
            self.groups.catch_up(self).await;
        }
        Ok(())
    }

    /// Creates `__transaction_state` unless it exists (as Kafka does on the first
    /// FindCoordinator for a transactional id): compacted,
    /// `transaction.state.log.num.partitions` partitions, replication factor
    /// `transaction.state.log.replication.factor` capped at the live brokers,
    /// `min.insync.replicas` = `transaction.state.log.min.isr` capped at that factor.
    /// Waits until this broker serves the partitions it leads.
    pub(crate) async fn ensure_transaction_state_topic(self: &Arc<Self>) -> Result<(), TopicError> {
        if self.meta.image().topic(TRANSACTION_STATE_TOPIC).is_some() {
            return Ok(());
        }
        let live = Self::live_brokers(&self.meta.image()).len();
        let wanted = self.config.transaction_state_replication_factor.max(1) as usize;
        let replication_factor = live.clamp(1, wanted) as i16;
        let min_isr = self
            .config
            .transaction_state_min_isr
            .clamp(1, replication_factor);
        self.create_internal_topic(
            TRANSACTION_STATE_TOPIC,
            self.config.transaction_state_num_partitions,
            replication_factor,
            &[
                ("cleanup.policy", "compact".to_string()),
                ("segment.bytes", "104857600".to_string()),
                ("min.insync.replicas", min_isr.to_string()),
            ],
        )
        .await?;
        tracing::info!(
            partitions = self.config.transaction_state_num_partitions,
            replication_factor,
            min_isr,
            "created {TRANSACTION_STATE_TOPIC}"
        );
        self.txn.catch_up(self).await;
        Ok(())
    }

    /// Creates the internal topic `name` (`partitions`, `replication_factor`, `configs`);
    /// true when this call created it, false when it existed already.
    pub(crate) async fn create_internal_topic(
        self: &Arc<Self>,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &[(&str, String)],
    ) -> Result<bool, TopicError> {
        let mut req = CreateTopicRequest::new(name);
        req.num_partitions = partitions;
        req.replication_factor = replication_factor;
        req.configs = configs
            .iter()
            .map(|(k, v)| (k.to_string(), Some(v.clone())))
            .collect();
        match self
            .create_topics(vec![req], false)
            .await
            .into_iter()
            .next()
        {
            Some(Ok(_)) => Ok(true),
            Some(Err(TopicError::TopicAlreadyExists(_))) => Ok(false),
            Some(Err(e)) => Err(e),
            None => Err(TopicError::Internal("no result".into())),
        }
    }

    /// Unfenced brokers: where new replicas may go.
    pub(crate) fn live_brokers(image: &strata_meta::MetadataImage) -> Vec<i32> {
        image
            .brokers()
            .filter(|b| !b.fenced)
            .map(|b| b.node_id)
            .collect()
    }

    /// Waits, up to `wait`, while some of `requests` need more brokers than are live and
    /// voters declared in `--voters` have not registered yet: a cluster whose nodes were
    /// just started (the README's three commands) takes a replication factor of 3 from a
    /// fourth command at once instead of refusing it. Returns at once otherwise.
    pub(crate) async fn wait_for_declared_voters(
        &self,
        requests: &[CreateTopicRequest],
        wait: std::time::Duration,
    ) {
        let default_rf = self.config.default_replication_factor;
        let needed = requests
            .iter()
            .filter(|r| r.assignments.is_empty())
            .map(|r| match r.replication_factor {
                rf if rf < 0 => default_rf,
                rf => rf,
            })
            .max()
            .unwrap_or(0)
            .max(0) as usize;
        let deadline = tokio::time::Instant::now() + wait;
        let mut images = self.meta.raft().subscribe();
        loop {
            let image = self.meta.image();
            let unregistered = self
                .config
                .voters
                .iter()
                .any(|(id, _)| image.broker(*id).is_none());
            if !unregistered || Self::live_brokers(&image).len() >= needed {
                return;
            }
            tokio::select! {
                changed = images.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep_until(deadline) => return,
            }
        }
    }

    /// Decides and (unless `validate_only`) commits topic creations, one result per
    /// request, each with the records that created it.
    pub(crate) async fn create_topics(
        self: &Arc<Self>,
        requests: Vec<CreateTopicRequest>,
        validate_only: bool,
    ) -> Vec<Result<Vec<MetadataRecord>, TopicError>> {
        let _decider = self.decider.lock().await;
        let defaults = BrokerDefaults {
            num_partitions: self.config.num_partitions,
            default_replication_factor: self.config.default_replication_factor,
        };
        let decide = |image: &strata_meta::MetadataImage| {
            controller::create_topics(
                image,
                &requests,
                &defaults,
                &Self::live_brokers(image),
                &mut controller::random_topic_id,
            )
        };
        if validate_only {
            return decide(&self.meta.image());
        }
        let outcome = self
            .meta
            .decide_and_commit(|image| {
                let decided = decide(image);
                let records: Vec<MetadataRecord> = decided
                    .iter()
                    .filter_map(|r| r.as_ref().ok())
                    .flatten()
                    .cloned()
                    .collect();
                Ok::<_, TopicError>((decided, records))
            })
            .await;
        match outcome {
            Ok(decided) => decided,
            Err(DecideError::Refused(e)) => requests.iter().map(|_| Err(e.clone())).collect(),
            Err(DecideError::Commit(e)) => {
                tracing::error!(error = %e, "topic creation failed");
                requests.iter().map(|_| Err(commit_error(&e))).collect()
            }
        }
    }

    /// Decides (on the newest image) and commits a change made by `decide`.
    pub(crate) async fn decide_and_commit<F>(self: &Arc<Self>, decide: F) -> Result<(), TopicError>
    where
        F: Fn(&strata_meta::MetadataImage, &[i32]) -> Result<Vec<MetadataRecord>, TopicError>,
    {
        let _decider = self.decider.lock().await;
        self.meta
            .decide_and_commit(|image| Ok(((), decide(image, &Self::live_brokers(image))?)))
            .await
            .map_err(|e| match e {
                DecideError::Refused(e) => e,
                DecideError::Commit(e) => commit_error(&e),
            })
    }
}

/// The Kafka error for a topic change the controller did not commit: a timeout is
/// REQUEST_TIMED_OUT (the change may still be applied, so the client looks before it
/// retries, as with Kafka), anything else UNKNOWN_SERVER_ERROR.
fn commit_error(e: &crate::metadata::CommitError) -> TopicError {
    match e {
        crate::metadata::CommitError::TimedOut(_) => TopicError::RequestTimedOut(e.to_string()),
        _ => TopicError::Internal(e.to_string()),
    }
}

/// The Kafka error code for any metadata change the controller did not commit.
pub(crate) fn commit_error_code(e: &crate::metadata::CommitError) -> i16 {
    commit_error(e).kafka_code()
}

#[cfg(test)]
mod commit_error_tests {
    use super::*;
    use crate::metadata::CommitError;

    #[test]
    fn a_controller_that_does_not_answer_in_time_is_a_timeout_not_a_server_error() {
        let timed_out = CommitError::from(strata_raft::ForwardError::Timeout);
        assert_eq!(commit_error(&timed_out).kafka_code(), 7);
        assert!(commit_error(&timed_out)
            .message()
            .contains("may still be applied"));
        let broken = CommitError::from(strata_raft::ForwardError::Failed("reset".into()));
        assert_eq!(commit_error(&broken).kafka_code(), 7);
        let down = CommitError::from(strata_raft::ForwardError::Shutdown);
        assert_eq!(commit_error(&down).kafka_code(), -1);
    }
}
