//! openraft's outgoing side: one [`PeerClient`] per target, all sharing one
//! connection [`Pool`].

use std::sync::Arc;
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Timeout, Unreachable,
};
use openraft::network::{Backoff, RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, RPCTypes};

use super::messages::{Request, Response};
use super::pool::{CallError, Pool};
use crate::types::{NodeId, TypeConfig};

/// Makes a [`PeerClient`] per replication target / election peer.
pub(crate) struct NetworkFactory {
    /// This node.
    pub(crate) node_id: NodeId,
    /// Connections shared by every client of this node.
    pub(crate) pool: Arc<Pool>,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerClient {
        PeerClient {
            node_id: self.node_id,
            target,
            addr: node.addr.clone(),
            pool: Arc::clone(&self.pool),
        }
    }
}

/// Sends openraft RPCs to one peer.
pub(crate) struct PeerClient {
    node_id: NodeId,
    target: NodeId,
    addr: String,
    pool: Arc<Pool>,
}

type RpcResult<T, E> = Result<T, RPCError<NodeId, BasicNode, E>>;

impl PeerClient {
    async fn call<E: std::error::Error>(
        &self,
        action: RPCTypes,
        request: Request,
        ttl: Duration,
    ) -> RpcResult<Response, E> {
        self.pool
            .call(&self.addr, &request, ttl)
            .await
            .map_err(|e| match e {
                CallError::Connect { .. } => RPCError::Unreachable(Unreachable::new(&e)),
                CallError::Timeout(_) => RPCError::Timeout(Timeout {
                    action,
                    id: self.node_id,
                    target: self.target,
                    timeout: ttl,
                }),
                CallError::Io { .. } | CallError::Codec { .. } => {
                    RPCError::Network(NetworkError::new(&e))
                }
            })
    }

    fn remote<E: std::error::Error>(&self, e: E) -> RPCError<NodeId, BasicNode, E> {
        RPCError::RemoteError(RemoteError::new(self.target, e))
    }

    fn mismatch<E: std::error::Error>(&self, got: &Response) -> RPCError<NodeId, BasicNode, E> {
        let e = std::io::Error::other(format!("unexpected response {got:?}"));
        RPCError::Network(NetworkError::new(&e))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, RaftError<NodeId>> {
        let resp = self
            .call(
                RPCTypes::AppendEntries,
                Request::AppendEntries(rpc),
                option.hard_ttl(),
            )
            .await?;
        match resp {
            Response::AppendEntries(r) => r.map_err(|e| self.remote(e)),
            other => Err(self.mismatch(&other)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>> {
        let resp = self
            .call(
                RPCTypes::InstallSnapshot,
                Request::InstallSnapshot(rpc),
                option.hard_ttl(),
            )
            .await?;
        match resp {
            Response::InstallSnapshot(r) => r.map_err(|e| self.remote(e)),
            other => Err(self.mismatch(&other)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, RaftError<NodeId>> {
        let resp = self
            .call(RPCTypes::Vote, Request::Vote(rpc), option.hard_ttl())
            .await?;
        match resp {
            Response::Vote(r) => r.map_err(|e| self.remote(e)),
            other => Err(self.mismatch(&other)),
        }
    }

    fn backoff(&self) -> Backoff {
        // An unreachable peer is retried every 200 ms: often enough that a restarted
        // node catches up quickly, rarely enough not to spin.
        Backoff::new(std::iter::repeat(Duration::from_millis(200)))
    }
}
