//! The broker's view of cluster metadata: the image replicated by the Raft quorum
//! (`strata-raft`), and the way this broker asks the active controller for changes.
//!
//! Invariants:
//! - The image only changes by applying committed Raft entries, in order, on every node.
//! - The apply hook brings the hosted replicas in line with a new image before that
//!   image is visible, so no request can see a partition whose log is not open.
//! - Changes are decided against an image and sent with its index; the controller
//!   commits them only if its image is still that one (optimistic concurrency), so a
//!   decision never rests on a stale image. On a conflict the caller decides again.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use strata_meta::{MetadataImage, MetadataRecord};
use strata_raft::{ApplyHook, MetadataRaft, RaftOptions};

use crate::controller::{ControllerRequest, ControllerResponse};
use crate::Broker;

/// How long a request to the active controller may take (including a failover).
const CONTROLLER_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a metadata change was not committed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The controller's image moved past the one the change was decided on.
    #[error("metadata changed meanwhile (controller at index {0})")]
    Conflict(u64),
    /// The records contradict the image (a bug in the deciding code, or a race).
    #[error("metadata records do not apply: {0}")]
    Apply(String),
    /// No controller could be reached, or it failed.
    #[error("controller unavailable: {0}")]
    Unavailable(String),
    /// The request reached the controller (or may have) but no answer came in time:
    /// the change may still be applied.
    #[error("no answer from the controller in time ({0}); the change may still be applied")]
    TimedOut(String),
}

impl From<strata_raft::ForwardError> for CommitError {
    fn from(e: strata_raft::ForwardError) -> Self {
        match e {
            strata_raft::ForwardError::Timeout | strata_raft::ForwardError::Failed(_) => {
                CommitError::TimedOut(e.to_string())
            }
            strata_raft::ForwardError::NoHandler | strata_raft::ForwardError::Shutdown => {
                CommitError::Unavailable(e.to_string())
            }
        }
    }
}

/// How long a fenced broker stays listed in Metadata responses. librdkafka decommissions
/// a broker that disappears from Metadata, and when that races with moving a partition to
/// its new leader (both happen on the same response) it drops the new leader and waits
/// for its next one-second leader query. Listed but leading nothing for a while, the
/// dead broker vanishes on a later response, after the partitions have moved.
pub(crate) const FENCED_LISTING_GRACE: Duration = Duration::from_secs(5);

/// The apply hook: hands each new image to the broker (once it exists).
#[derive(Default)]
pub(crate) struct BrokerHook {
    broker: OnceLock<Weak<Broker>>,
    /// When this node applied each broker's fencing (local: not part of the image).
    fenced_at: Mutex<HashMap<i32, Instant>>,
}

impl BrokerHook {
    pub(crate) fn attach(&self, broker: &Arc<Broker>) {
        let _ = self.broker.set(Arc::downgrade(broker));
    }
}

impl ApplyHook for BrokerHook {
    fn before_publish(&self, image: &MetadataImage, records: &[MetadataRecord]) {
        // Replayed at start-up (no broker yet) they are old news: not recorded.
        if self.broker.get().is_some() {
            let mut fenced_at = self.fenced_at.lock();
            for r in records {
                match r {
                    MetadataRecord::FenceBroker { node_id } => {
                        fenced_at.insert(*node_id, Instant::now());
                    }
                    MetadataRecord::RegisterBroker { node_id, .. }
                    | MetadataRecord::UnregisterBroker { node_id, .. } => {
                        fenced_at.remove(node_id);
                    }
                    _ => {}
                }
            }
        }
        if let Some(broker) = self.broker.get().and_then(Weak::upgrade) {
            count_isr_changes(&broker, &broker.meta.image(), image, records);
            // Logs first opened in this process recover as the start found them: a
            // scan after an unclean stop.
            broker.replicas.sync_with_image(image, broker.clean_start);
        }
    }
}

/// Counts, for `/metrics`, the ISR shrinks and expansions of partitions this broker
/// leads before and after `records` (requested by it, or the controller fencing a
/// replica).
fn count_isr_changes(
    broker: &Broker,
    before: &MetadataImage,
    after: &MetadataImage,
    records: &[MetadataRecord],
) {
    let me = broker.config.node_id;
    let mut seen = std::collections::HashSet::new();
    for r in records {
        let MetadataRecord::ChangePartition {
            topic_id,
            partition,
            ..
        } = r
        else {
            continue;
        };
        if !seen.insert((*topic_id, *partition)) {
            continue;
        }
        let isr = |image: &MetadataImage| {
            image
                .topic_by_id(topic_id)
                .and_then(|t| t.partition(*partition))
                .filter(|p| p.leader == me)
                .map(|p| p.isr.len())
        };
        let family = match (isr(before), isr(after)) {
            (Some(old), Some(new)) if new < old => &broker.metrics.isr_shrinks,
            (Some(old), Some(new)) if new > old => &broker.metrics.isr_expands,
            _ => continue,
        };
        if let Some(t) = after.topic_by_id(topic_id) {
            let labels = crate::metrics::TopicLabels {
                topic: t.name.to_string(),
            };
            family.get_or_create(&labels).inc();
        }
    }
}

/// Holds the replicated metadata.
pub struct MetadataManager {
    raft: MetadataRaft,
    pub(crate) hook: Arc<BrokerHook>,
}

impl MetadataManager {
    /// Starts (or restarts from `opts.dir`) this node's part of the metadata quorum.
    pub async fn start(opts: RaftOptions) -> anyhow::Result<Self> {
        let hook = Arc::new(BrokerHook::default());
        let raft = MetadataRaft::start(opts, Arc::clone(&hook) as Arc<dyn ApplyHook>).await?;
        Ok(Self { raft, hook })
    }

    /// Whether `node_id` was fenced less than [`FENCED_LISTING_GRACE`] ago, as this node
    /// applied it.
    pub fn fenced_recently(&self, node_id: i32) -> bool {
        self.hook
            .fenced_at
            .lock()
            .get(&node_id)
            .is_some_and(|at| at.elapsed() < FENCED_LISTING_GRACE)
    }

    /// The Raft node (leadership, forwarding, metrics).
    pub fn raft(&self) -> &MetadataRaft {
        &self.raft
    }

    /// The current image. Cheap: clones an `Arc`.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.raft.image()
    }

    /// The current image with the index of the last entry it includes.
    pub fn current(&self) -> (u64, Arc<MetadataImage>) {
        self.raft.subscribe().borrow().clone()
    }

    /// The active controller's node id, if known.
    pub fn controller_id(&self) -> Option<i32> {
        self.raft.leader().and_then(|l| i32::try_from(l).ok())
    }

    /// Sends a request to the active controller and returns its answer.
    pub(crate) async fn request(
        &self,
        request: &ControllerRequest,
    ) -> Result<ControllerResponse, CommitError> {
        self.request_within(request, CONTROLLER_TIMEOUT).await
    }

    /// [`MetadataManager::request`] with its own time limit (heartbeats use a short one,
    /// so that one sent to a controller that stopped answering gives way to the next,
    /// which goes to whoever leads by then).
    pub(crate) async fn request_within(
        &self,
        request: &ControllerRequest,
        timeout: Duration,
    ) -> Result<ControllerResponse, CommitError> {
        let payload =
            serde_json::to_vec(request).map_err(|e| CommitError::Unavailable(e.to_string()))?;
        let answer = self.raft.forward_to_leader(payload, timeout).await?;
        serde_json::from_slice(&answer).map_err(|e| CommitError::Unavailable(e.to_string()))
    }

    /// Commits `records` unconditionally and waits until this node has applied them.
    pub async fn commit(
        &self,
        records: Vec<MetadataRecord>,
    ) -> Result<Arc<MetadataImage>, CommitError> {
        self.propose(None, records).await
    }

    /// Commits `records`, decided against the image at `based_on`, unless the
    /// controller's image has moved since ([`CommitError::Conflict`]: decide again).
    pub async fn commit_at(
        &self,
        based_on: u64,
        records: Vec<MetadataRecord>,
    ) -> Result<Arc<MetadataImage>, CommitError> {
        self.propose(Some(based_on), records).await
    }

    async fn propose(
        &self,
        based_on: Option<u64>,
        records: Vec<MetadataRecord>,
    ) -> Result<Arc<MetadataImage>, CommitError> {
        match self
            .request(&ControllerRequest::Propose { based_on, records })
            .await?
        {
            ControllerResponse::Committed { index } => {
                self.raft.wait_applied(index).await;
                Ok(self.image())
            }
            ControllerResponse::Conflict { index } => {
                // Catch up first, so the caller's next decision sees the newer image.
                self.raft.wait_applied(index).await;
                Err(CommitError::Conflict(index))
            }
            ControllerResponse::Rejected { reason } => Err(CommitError::Apply(reason)),
            ControllerResponse::Unavailable { reason } => Err(CommitError::Unavailable(reason)),
            other => Err(CommitError::Unavailable(format!(
                "unexpected controller answer {other:?}"
            ))),
        }
    }

    /// Decides with `decide` on the current image and commits the result, deciding
    /// again (up to a bound) when the image moved meanwhile. Returns the decision's
    /// output along with the records committed.
    pub async fn decide_and_commit<T, E, F>(&self, mut decide: F) -> Result<T, DecideError<E>>
    where
        F: FnMut(&MetadataImage) -> Result<(T, Vec<MetadataRecord>), E>,
    {
        let mut attempts = 0;
        loop {
            let (index, image) = self.current();
            let (out, records) = decide(&image).map_err(DecideError::Refused)?;
            if records.is_empty() {
                return Ok(out);
            }
            match self.commit_at(index, records).await {
                Ok(_) => return Ok(out),
                Err(CommitError::Conflict(_)) if attempts < 20 => attempts += 1,
                Err(e) => return Err(DecideError::Commit(e)),
            }
        }
    }

    /// Stops the Raft node.
    pub async fn shutdown(&self) {
        self.raft.shutdown().await;
    }
}

/// Why [`MetadataManager::decide_and_commit`] did not commit.
#[derive(Debug)]
pub enum DecideError<E> {
    /// The decision refused the change.
    Refused(E),
    /// The change was decided but could not be committed.
    Commit(CommitError),
}
