//! The messages exchanged on the controller port, as JSON in length-prefixed frames.

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};

use crate::types::{NodeId, TypeConfig};

/// A request to a node's controller port.
#[derive(Serialize, Deserialize, Debug)]
pub enum Request {
    /// openraft log replication / heartbeat.
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    /// openraft election.
    Vote(VoteRequest<NodeId>),
    /// One chunk of an openraft snapshot.
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// An opaque application request for the leader's forward handler.
    Forward(Vec<u8>),
    /// A node outside the voter list asks the leader to add it as a learner.
    JoinLearner {
        /// The joining node.
        node_id: NodeId,
        /// Its controller address.
        addr: String,
    },
}

/// Answer to [`Request::Forward`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) enum ForwardReply {
    /// The handler's response.
    Ok(Vec<u8>),
    /// This node is not the leader; the leader it knows of, if any.
    NotLeader(Option<NodeId>),
    /// The leader has no forward handler registered (yet).
    NoHandler,
}

/// Answer to [`Request::JoinLearner`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) enum JoinReply {
    /// The node is a member (learner or voter) with this address.
    Ok,
    /// This node is not the leader; the leader it knows of, if any.
    NotLeader(Option<NodeId>),
    /// The membership change failed; try again later.
    Failed(String),
}

/// A response from a node's controller port, matching the request variant.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum Response {
    /// Answer to [`Request::AppendEntries`].
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    /// Answer to [`Request::Vote`].
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    /// Answer to [`Request::InstallSnapshot`].
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
    /// Answer to [`Request::Forward`].
    Forward(ForwardReply),
    /// Answer to [`Request::JoinLearner`].
    JoinLearner(JoinReply),
}
