//! The controller port: accepts peers' connections and answers their requests one
//! at a time per connection. Anything that is not a well-formed request (bad length,
//! undecodable JSON) closes that connection and nothing else. With TLS configured, a
//! peer that does not complete the handshake (no certificate the cluster trusts, or not
//! TLS at all) is refused before any request is read, and the refusal is logged and
//! counted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers};
use parking_lot::RwLock;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::frame::{read_frame, write_frame};
use super::messages::{ForwardReply, JoinReply, Request, Response};
use super::stream::{ControllerTls, PeerStream};
use crate::types::{NodeId, Raft};

/// The application's handler for forwarded requests.
pub type ForwardHandler = Arc<dyn Fn(Vec<u8>) -> BoxFuture<'static, Vec<u8>> + Send + Sync>;

/// What the server needs to answer requests.
pub(crate) struct ServerCtx {
    /// The local Raft.
    pub(crate) raft: Raft,
    /// This node.
    pub(crate) node_id: NodeId,
    /// The registered forward handler, if any.
    pub(crate) forward: RwLock<Option<ForwardHandler>>,
    /// TLS for accepted connections, when configured.
    pub(crate) tls: Option<Arc<dyn ControllerTls>>,
    /// Connections refused because their TLS handshake failed.
    pub(crate) refused: AtomicU64,
}

impl ServerCtx {
    /// The leader as this node currently believes.
    pub(crate) fn current_leader(&self) -> Option<NodeId> {
        self.raft.metrics().borrow().current_leader
    }
}

/// Accepts connections until the task is aborted; aborting it also ends every
/// connection it accepted.
pub(crate) async fn serve(listener: TcpListener, ctx: Arc<ServerCtx>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    tracing::trace!(%peer, "controller connection");
                    let ctx = Arc::clone(&ctx);
                    conns.spawn(async move {
                        match PeerStream::accept(tcp, ctx.tls.as_ref()).await {
                            Ok(stream) => serve_connection(stream, ctx).await,
                            Err(e) => {
                                ctx.refused.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!(%peer, error = %e,
                                    "controller connection refused: TLS handshake failed");
                            }
                        }
                    });
                }
                Err(e) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "controller accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn serve_connection(mut stream: PeerStream, ctx: Arc<ServerCtx>) {
    loop {
        let frame = match read_frame(&mut stream).await {
            Ok(Some(frame)) => frame,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(error = %e, "closing controller connection");
                return;
            }
        };
        let request = match super::decode_request(&frame) {
            Ok(r) => r,
            Err(why) => {
                tracing::debug!(why, "bad controller request; closing");
                return;
            }
        };
        let response = dispatch(&ctx, request).await;
        let bytes = match serde_json::to_vec(&response) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "cannot encode controller response");
                return;
            }
        };
        if write_frame(&mut stream, &bytes).await.is_err() {
            return;
        }
    }
}

/// Shape checks openraft assumes of its peers; a request failing them is garbage, and
/// must not reach (and trip) openraft's internal assertions.
pub(super) fn check(request: &Request) -> Result<(), &'static str> {
    if let Request::AppendEntries(rpc) = request {
        // Checked: a prev_log_id at u64::MAX has no next index (in a build without
        // overflow checks `index + 1` wrapped to 0 and let entries from index 0 through).
        let first = match rpc.prev_log_id {
            None => Some(0),
            Some(p) => p.index.checked_add(1),
        };
        let consecutive = rpc.entries.iter().enumerate().all(|(i, entry)| {
            first.and_then(|f| f.checked_add(i as u64)) == Some(entry.log_id.index)
        });
        if !consecutive {
            return Err("append-entries with non-consecutive entries");
        }
        if let (Some(prev), Some(first)) = (rpc.prev_log_id, rpc.entries.first()) {
            if first.log_id.leader_id < prev.leader_id {
                return Err("append-entries with a term going back");
            }
        }
        let terms_ordered = rpc
            .entries
            .windows(2)
            .all(|w| w[0].log_id.leader_id <= w[1].log_id.leader_id);
        if !terms_ordered {
            return Err("append-entries with terms going back");
        }
    }
    Ok(())
}

async fn dispatch(ctx: &ServerCtx, request: Request) -> Response {
    match request {
        Request::AppendEntries(rpc) => Response::AppendEntries(ctx.raft.append_entries(rpc).await),
        Request::Vote(rpc) => Response::Vote(ctx.raft.vote(rpc).await),
        Request::InstallSnapshot(rpc) => {
            Response::InstallSnapshot(ctx.raft.install_snapshot(rpc).await)
        }
        Request::Forward(payload) => Response::Forward(forward(ctx, payload).await),
        Request::JoinLearner { node_id, addr } => {
            Response::JoinLearner(join_learner(ctx, node_id, addr).await)
        }
    }
}

async fn forward(ctx: &ServerCtx, payload: Vec<u8>) -> ForwardReply {
    let leader = ctx.current_leader();
    if leader != Some(ctx.node_id) {
        return ForwardReply::NotLeader(leader);
    }
    let handler = ctx.forward.read().clone();
    match handler {
        Some(h) => ForwardReply::Ok(h(payload).await),
        None => ForwardReply::NoHandler,
    }
}

/// Adds `node_id` as a learner at `addr`, or updates its address; a no-op when it is
/// already a member at that address.
pub(crate) async fn join_learner(ctx: &ServerCtx, node_id: NodeId, addr: String) -> JoinReply {
    let (leader, known) = {
        let metrics = ctx.raft.metrics();
        let m = metrics.borrow();
        let membership = m.membership_config.membership();
        let is_voter = membership.voter_ids().any(|v| v == node_id);
        let known = membership
            .get_node(&node_id)
            .map(|n| (is_voter, n.addr == addr));
        (m.current_leader, known)
    };
    if leader != Some(ctx.node_id) {
        return JoinReply::NotLeader(leader);
    }
    let node = BasicNode::new(addr);
    let result = match known {
        // Voters come from the static voter list; joining is for everyone else.
        Some((true, _)) | Some((false, true)) => return JoinReply::Ok,
        Some((false, false)) => {
            let change = ChangeMembers::SetNodes(BTreeMap::from([(node_id, node)]));
            ctx.raft.change_membership(change, true).await
        }
        None => ctx.raft.add_learner(node_id, node, false).await,
    };
    match result {
        Ok(_) => JoinReply::Ok,
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
            JoinReply::NotLeader(f.leader_id)
        }
        Err(e) => JoinReply::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(prev: Option<u64>, entries: &[(u64, u64)]) -> String {
        let log_id = |term: u64, index: u64| serde_json::json!({"leader_id": {"term": term, "node_id": 7}, "index": index});
        let entries: Vec<_> = entries
            .iter()
            .map(|&(term, index)| serde_json::json!({"log_id": log_id(term, index), "payload": "Blank"}))
            .collect();
        serde_json::json!({"AppendEntries": {
            "vote": {"leader_id": {"term": 9, "node_id": 7}, "committed": true},
            "prev_log_id": prev.map(|p| log_id(2, p)),
            "leader_commit": null,
            "entries": entries,
        }})
        .to_string()
    }

    fn parse(json: &str) -> Request {
        serde_json::from_str(json).expect("well-formed request")
    }

    #[test]
    fn append_entries_shape_is_checked() {
        assert!(check(&parse(&append(None, &[(1, 0), (1, 1), (2, 2)]))).is_ok());
        assert!(check(&parse(&append(Some(4), &[(2, 5), (3, 6)]))).is_ok());
        assert!(check(&parse(&append(Some(4), &[]))).is_ok());
        // Gaps, overlaps, a wrong start and terms going back are refused.
        assert!(check(&parse(&append(None, &[(1, 5), (1, 3)]))).is_err());
        assert!(check(&parse(&append(None, &[(1, 1)]))).is_err());
        assert!(check(&parse(&append(Some(4), &[(2, 4)]))).is_err());
        assert!(check(&parse(&append(Some(4), &[(1, 5)]))).is_err());
        assert!(check(&parse(&append(None, &[(2, 0), (1, 1)]))).is_err());
    }
}
