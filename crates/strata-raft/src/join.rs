//! A node outside the voter list joins the cluster as a learner by itself.

use std::sync::Weak;
use std::time::Duration;

use crate::network::messages::{JoinReply, Request, Response};
use crate::node::Inner;
use crate::types::NodeId;

/// Per-attempt timeout: adding a learner commits a membership entry.
const JOIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after an attempt that went nowhere.
const JOIN_RETRY: Duration = Duration::from_millis(200);

/// Asks the voters, in turn (the leader first once one is named), to add this node as
/// a learner at `addr`, until one leader says it is done. Ends when the node is
/// dropped or shut down.
pub(crate) async fn join_as_learner(
    node: Weak<Inner>,
    voters: Vec<(NodeId, String)>,
    addr: String,
) {
    let mut next = 0usize;
    loop {
        let Some(inner) = node.upgrade() else { return };
        let (target_id, target_addr) = voters[next % voters.len()].clone();
        let request = Request::JoinLearner {
            node_id: inner.node_id,
            addr: addr.clone(),
        };
        let reply = inner.pool.call(&target_addr, &request, JOIN_TIMEOUT).await;
        let me = inner.node_id;
        drop(inner);
        match reply {
            Ok(Response::JoinLearner(JoinReply::Ok)) => {
                tracing::info!(
                    node = me,
                    via = target_id,
                    "joined the metadata quorum as a learner"
                );
                return;
            }
            Ok(Response::JoinLearner(JoinReply::NotLeader(Some(leader))))
                if leader != target_id =>
            {
                if let Some(i) = voters.iter().position(|(id, _)| *id == leader) {
                    next = i;
                    continue;
                }
                next += 1;
            }
            Ok(other) => {
                tracing::debug!(node = me, via = target_id, reply = ?other, "learner join not done yet");
                next += 1;
            }
            Err(e) => {
                tracing::debug!(node = me, via = target_id, error = %e, "learner join attempt failed");
                next += 1;
            }
        }
        tokio::time::sleep(JOIN_RETRY).await;
    }
}
