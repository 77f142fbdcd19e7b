//! Start-up options and errors of a metadata Raft node.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::network::ControllerTls;

use crate::types::NodeId;

/// How to run one node of the metadata quorum.
#[derive(Clone, Debug)]
pub struct RaftOptions {
    /// This node's id; stable across restarts.
    pub node_id: NodeId,
    /// Address the controller port binds to (`host:port`; port 0 picks a free one).
    pub listen: String,
    /// Address other nodes use to reach this one; defaults to the bound address.
    pub advertised: Option<String>,
    /// The voters `(node_id, controller address)`: the initial membership, the same
    /// list on every node. A node not in this list joins as a learner.
    pub voters: Vec<(NodeId, String)>,
    /// Directory holding this node's vote, log and snapshot.
    pub dir: PathBuf,
    /// Leader heartbeat interval, milliseconds.
    pub heartbeat_ms: u64,
    /// Lower bound of the randomized election timeout, milliseconds.
    pub election_min_ms: u64,
    /// Upper bound of the randomized election timeout, milliseconds.
    pub election_max_ms: u64,
    /// Take a snapshot every this many log entries (and purge the log behind it).
    pub snapshot_every: u64,
    /// TLS (with client certificates) on the controller port, both ways; plain TCP
    /// when `None`.
    pub tls: Option<Arc<dyn ControllerTls>>,
}

impl RaftOptions {
    /// Options with the default timings: heartbeat 100 ms, elections after 300–600 ms
    /// without a leader, a snapshot every 10 000 entries.
    pub fn new(
        node_id: NodeId,
        listen: impl Into<String>,
        voters: Vec<(NodeId, String)>,
        dir: impl Into<PathBuf>,
    ) -> Self {
        RaftOptions {
            node_id,
            listen: listen.into(),
            advertised: None,
            voters,
            dir: dir.into(),
            heartbeat_ms: 100,
            election_min_ms: 300,
            election_max_ms: 600,
            snapshot_every: 10_000,
            tls: None,
        }
    }

    /// Whether this node is one of the voters.
    pub fn is_voter(&self) -> bool {
        self.voters.iter().any(|(id, _)| *id == self.node_id)
    }
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The options are inconsistent.
    #[error("invalid raft options: {0}")]
    Config(String),
    /// The controller port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The bind error.
        source: io::Error,
    },
    /// The vote, log or snapshot could not be read (or are damaged).
    #[error("metadata raft storage: {0}")]
    Storage(#[from] io::Error),
    /// openraft refused to start or to initialize the cluster.
    #[error("metadata raft: {0}")]
    Raft(String),
}

/// Why a proposal (or a linearizable read) did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// This node is not the leader; the leader it knows of, if any.
    #[error("not the metadata leader (leader: {leader:?})")]
    NotLeader {
        /// The current leader, when known.
        leader: Option<NodeId>,
    },
    /// The batch was committed but did not apply: a no-op on every node.
    #[error("metadata batch rejected: {0}")]
    Rejected(String),
    /// Raft could not serve the request (shutting down, no quorum, storage failure).
    #[error("metadata raft unavailable: {0}")]
    Unavailable(String),
}

/// Why [`crate::MetadataRaft::forward_to_leader`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForwardError {
    /// No leader answered within the timeout.
    #[error("no answer from the metadata leader in time")]
    Timeout,
    /// The leader has no forward handler registered.
    #[error("the metadata leader has no forward handler")]
    NoHandler,
    /// The connection broke after the request was sent: it may or may not have been
    /// handled.
    #[error("forwarding to the metadata leader failed: {0}")]
    Failed(String),
    /// This node is shutting down.
    #[error("metadata raft is shut down")]
    Shutdown,
}
