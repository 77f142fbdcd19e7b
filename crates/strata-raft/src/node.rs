//! Starting, inspecting and stopping a metadata Raft node.

use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{InitializeError, RaftError};
use openraft::{BasicNode, Config, RaftMetrics, ServerState, SnapshotPolicy};
use parking_lot::{Mutex, RwLock};
use strata_meta::MetadataImage;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::hook::ApplyHook;
use crate::join::join_as_learner;
use crate::network::client::NetworkFactory;
use crate::network::pool::Pool;
use crate::network::server::{serve, ServerCtx};
use crate::options::{RaftOptions, StartError};
use crate::storage::{LogStore, Published, SnapshotStore, StateMachine, WriteRetry};
use crate::types::{NodeId, Raft};

/// Name openraft logs the cluster under.
const CLUSTER_NAME: &str = "strata-metadata";

pub(crate) struct Inner {
    pub(crate) node_id: NodeId,
    pub(crate) local_addr: SocketAddr,
    pub(crate) raft: Raft,
    pub(crate) metrics: watch::Receiver<RaftMetrics<NodeId, BasicNode>>,
    pub(crate) published: watch::Receiver<Published>,
    pub(crate) ctx: Arc<ServerCtx>,
    pub(crate) pool: Arc<Pool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Storage writes waiting out a full disk (see `storage/retry.rs`).
    retry: Arc<WriteRetry>,
    /// One clone per live storage object (log store handles, state machine, snapshot
    /// builds); shutdown waits for them to be dropped.
    alive: Arc<()>,
}

/// One node of the metadata quorum: a voter or a learner replicating the cluster's
/// metadata records with openraft, applying them to a [`MetadataImage`].
///
/// Cheap to clone; every clone is the same node. Call [`MetadataRaft::shutdown`] to
/// stop it (dropping the handles does not stop the Raft tasks).
#[derive(Clone)]
pub struct MetadataRaft {
    pub(crate) inner: Arc<Inner>,
}

fn validate(opts: &RaftOptions) -> Result<(), StartError> {
    let bad = |s: &str| Err(StartError::Config(s.to_string()));
    if opts.voters.is_empty() {
        return bad("the voter list is empty");
    }
    let mut ids: Vec<NodeId> = opts.voters.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() != opts.voters.len() {
        return bad("a node id appears twice in the voter list");
    }
    if opts.snapshot_every == 0 {
        return bad("snapshot_every must be at least 1");
    }
    if opts.heartbeat_ms == 0 {
        return bad("heartbeat_ms must be at least 1");
    }
    Ok(())
}

fn raft_config(opts: &RaftOptions) -> Result<Config, StartError> {
    let config = Config {
        cluster_name: CLUSTER_NAME.to_string(),
        heartbeat_interval: opts.heartbeat_ms,
        election_timeout_min: opts.election_min_ms,
        election_timeout_max: opts.election_max_ms,
        // Generous: a busy machine must not turn a snapshot transfer into a retry loop.
        install_snapshot_timeout: 10_000,
        max_payload_entries: 128,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(opts.snapshot_every),
        // Nothing is kept behind a snapshot: a follower that far behind gets the
        // snapshot, which for metadata is small.
        max_in_snapshot_log_to_keep: 0,
        snapshot_max_chunk_size: 1024 * 1024,
        ..Config::default()
    };
    config
        .validate()
        .map_err(|e| StartError::Config(e.to_string()))
}

impl MetadataRaft {
    /// Starts the node: binds the controller port, restores vote, log and snapshot
    /// from `opts.dir`, runs `hook` once with the restored image, and joins the
    /// cluster — a voter with an empty store initializes it with the voter list (safe
    /// on every voter), a node outside the voter list asks the leader to add it as a
    /// learner (in the background, until it is added).
    ///
    /// The public async entry points of this crate return boxed futures: a caller that
    /// awaited a plain `async fn` compiled openraft's whole state machine again in its
    /// own crate (each test binary, the broker, the `strata` binary).
    pub fn start(
        opts: RaftOptions,
        hook: Arc<dyn ApplyHook>,
    ) -> BoxFuture<'static, Result<MetadataRaft, StartError>> {
        Box::pin(Self::start_inner(opts, hook))
    }

    async fn start_inner(
        opts: RaftOptions,
        hook: Arc<dyn ApplyHook>,
    ) -> Result<MetadataRaft, StartError> {
        validate(&opts)?;
        let config = Arc::new(raft_config(&opts)?);
        let listener =
            TcpListener::bind(&opts.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: opts.listen.clone(),
                    source,
                })?;
        let local_addr = listener.local_addr()?;
        let advertised = opts
            .advertised
            .clone()
            .unwrap_or_else(|| local_addr.to_string());

        let dir = opts.dir.clone();
        let alive = Arc::new(());
        let retry = Arc::new(WriteRetry::default());
        let log_alive = Arc::clone(&alive);
        let log_retry = Arc::clone(&retry);
        let (log, snapshots) = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            let log = LogStore::open(&dir, log_retry, log_alive)?;
            Ok::<_, std::io::Error>((log, SnapshotStore::open(&dir)?))
        })
        .await
        .map_err(std::io::Error::other)??;
        let (state_machine, published) = StateMachine::restore(
            Arc::new(snapshots),
            hook,
            Arc::clone(&retry),
            Arc::clone(&alive),
        )
        .await?;

        let pool = Arc::new(Pool::new(opts.tls.clone()));
        let network = NetworkFactory {
            node_id: opts.node_id,
            pool: Arc::clone(&pool),
        };
        let raft = Raft::new(opts.node_id, config, network, log, state_machine)
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;

        let ctx = Arc::new(ServerCtx {
            raft: raft.clone(),
            node_id: opts.node_id,
            forward: RwLock::new(None),
            tls: opts.tls.clone(),
            refused: Default::default(),
        });
        let server = tokio::spawn(serve(listener, Arc::clone(&ctx)));
        let node = MetadataRaft {
            inner: Arc::new(Inner {
                node_id: opts.node_id,
                local_addr,
                metrics: raft.metrics(),
                raft,
                published,
                ctx,
                pool,
                tasks: Mutex::new(vec![server]),
                retry,
                alive,
            }),
        };

        if opts.is_voter() {
            if let Err(e) = node.initialize(&opts, &advertised).await {
                node.shutdown().await;
                return Err(e);
            }
        } else {
            let joiner = tokio::spawn(join_as_learner(
                node.clone_weak_parts(),
                opts.voters.clone(),
                advertised,
            ));
            node.inner.tasks.lock().push(joiner);
        }
        Ok(node)
    }

    /// Initializes a pristine voter with the voter list, and speeds up the election of
    /// a lone voter.
    async fn initialize(&self, opts: &RaftOptions, advertised: &str) -> Result<(), StartError> {
        let raft = &self.inner.raft;
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;
        if !initialized {
            let members: BTreeMap<NodeId, BasicNode> = opts
                .voters
                .iter()
                .map(|(id, addr)| {
                    // A lone voter may be configured with port 0; peers need the real one.
                    let addr = if *id == opts.node_id && addr.ends_with(":0") {
                        advertised.to_string()
                    } else {
                        addr.clone()
                    };
                    (*id, BasicNode::new(addr))
                })
                .collect();
            match raft.initialize(members).await {
                Ok(()) => {}
                // Another start, or a peer's log, got there first: the cluster exists.
                Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
                Err(e) => return Err(StartError::Raft(e.to_string())),
            }
        }
        let lone_voter = {
            let m = self.inner.metrics.borrow();
            let voters: Vec<NodeId> = m.membership_config.membership().voter_ids().collect();
            voters == [opts.node_id] && m.state != ServerState::Leader
        };
        if lone_voter {
            // Nobody else can win; do not wait out an election timeout.
            let _ = raft.trigger().elect().await;
        }
        Ok(())
    }

    /// The parts the background joiner needs, without keeping the node alive.
    fn clone_weak_parts(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    /// The address the controller port is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Connections to the controller port refused because their TLS handshake failed
    /// (since start).
    pub fn refused_connections(&self) -> u64 {
        self.inner
            .ctx
            .refused
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.inner.node_id
    }

    /// The latest published image (after the hook ran for it).
    pub fn image(&self) -> Arc<MetadataImage> {
        Arc::clone(&self.inner.published.borrow().1)
    }

    /// Index of the last applied log entry (0 before anything is applied; openraft's
    /// first entry, the initial membership, also has index 0).
    pub fn applied_index(&self) -> u64 {
        self.inner.published.borrow().0
    }

    /// Entries in this node's log not yet applied to its image (committed or not yet
    /// committed): how far the image trails the log this node has received.
    pub fn apply_lag(&self) -> u64 {
        let last = self.inner.metrics.borrow().last_log_index.unwrap_or(0);
        last.saturating_sub(self.applied_index())
    }

    /// Every published `(applied index, image)`, latest first.
    pub fn subscribe(&self) -> watch::Receiver<(u64, Arc<MetadataImage>)> {
        self.inner.published.clone()
    }

    /// The leader this node currently knows of (not a linearizable answer).
    pub fn leader(&self) -> Option<NodeId> {
        self.inner.metrics.borrow().current_leader
    }

    /// Whether this node currently believes it is the leader.
    pub fn is_leader(&self) -> bool {
        self.leader() == Some(self.inner.node_id)
    }

    /// Why this node cannot reach the metadata quorum right now, if it cannot: the Raft
    /// core stopped (a storage error), a storage write is waiting for disk space, no
    /// leader is known (an election is going on or too few voters answer), or this node
    /// leads but no quorum acknowledged it within `max_ack_age_ms`. `None` when the
    /// quorum is reachable.
    pub fn quorum_problem(&self, max_ack_age_ms: u64) -> Option<String> {
        if let Some(full) = self.inner.retry.problem() {
            return Some(format!("metadata storage stuck: {full}"));
        }
        let m = self.inner.metrics.borrow();
        if let Err(fatal) = &m.running_state {
            return Some(format!("metadata raft stopped: {fatal}"));
        }
        match m.current_leader {
            None => Some(format!(
                "no metadata quorum leader known (term {}, {:?})",
                m.current_term, m.state
            )),
            Some(leader) if leader == self.inner.node_id => match m.millis_since_quorum_ack {
                Some(age) if age > max_ack_age_ms => Some(format!(
                    "metadata quorum leader without a quorum for {age} ms"
                )),
                _ => None,
            },
            Some(_) => None,
        }
    }

    /// The voters of the current membership.
    pub fn voters(&self) -> Vec<NodeId> {
        self.inner
            .metrics
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .collect()
    }

    /// The learners of the current membership.
    pub fn learners(&self) -> Vec<NodeId> {
        self.inner
            .metrics
            .borrow()
            .membership_config
            .membership()
            .learner_ids()
            .collect()
    }

    /// Openraft's metrics of this node (state, term, log and replication progress).
    pub fn metrics(&self) -> watch::Receiver<RaftMetrics<NodeId, BasicNode>> {
        self.inner.metrics.clone()
    }

    /// Waits until the entry at `index` is applied and published here. Returns early
    /// if the node shuts down.
    pub async fn wait_applied(&self, index: u64) {
        let mut rx = self.inner.published.clone();
        let _ = rx.wait_for(|(applied, _)| *applied >= index).await;
    }

    /// Stops the node: the controller port closes, background tasks end, openraft
    /// stops. The directory can then be reopened by a new [`MetadataRaft::start`].
    pub fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.shutdown_inner())
    }

    async fn shutdown_inner(&self) {
        // A write waiting for disk space gives up, so openraft can stop.
        self.inner.retry.stop();
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.inner.tasks.lock());
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
        if let Err(e) = self.inner.raft.shutdown().await {
            tracing::warn!(error = %e, "metadata raft did not stop cleanly");
        }
        self.inner.pool.clear();
        // openraft's state-machine worker and snapshot builds outlive its core task
        // briefly; wait for them to let go of the files so a restart from the same
        // directory cannot race a late write.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&self.inner.alive) > 1 {
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!("metadata raft storage still in use after shutdown");
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
