//! Writing to and reading from the metadata log, and forwarding to the leader.

use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use strata_meta::{MetadataImage, MetadataRecord};
use tokio::time::Instant;

use crate::network::messages::{ForwardReply, Request, Response};
use crate::network::pool::CallError;
use crate::network::server::ForwardHandler;
use crate::node::MetadataRaft;
use crate::options::{ForwardError, ProposeError};

/// How long to wait between attempts when no leader is known or it cannot be reached.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

impl MetadataRaft {
    /// Appends `records` as one entry (leader only) and waits until it is committed and
    /// applied here. Returns the entry's log index and the image right after it.
    ///
    /// A batch that does not apply to the image is still committed, as a no-op on
    /// every node, and returns [`ProposeError::Rejected`] with the reason. Without a
    /// quorum this waits; bound it with a timeout.
    pub fn propose(
        &self,
        records: Vec<MetadataRecord>,
    ) -> BoxFuture<'_, Result<(u64, Arc<MetadataImage>), ProposeError>> {
        Box::pin(self.propose_inner(records))
    }

    async fn propose_inner(
        &self,
        records: Vec<MetadataRecord>,
    ) -> Result<(u64, Arc<MetadataImage>), ProposeError> {
        match self.inner.raft.client_write(records).await {
            Ok(resp) => match resp.data.error {
                Some(e) => Err(ProposeError::Rejected(e)),
                None => {
                    let image = resp.data.image.unwrap_or_else(|| self.image());
                    Ok((resp.log_id.index, image))
                }
            },
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Err(ProposeError::NotLeader {
                    leader: f.leader_id,
                })
            }
            Err(e) => Err(ProposeError::Unavailable(e.to_string())),
        }
    }

    /// The image with every entry committed before the call applied (leader only):
    /// leadership is confirmed with a quorum first, so no newer committed state exists
    /// elsewhere.
    pub fn linearizable_image(&self) -> BoxFuture<'_, Result<Arc<MetadataImage>, ProposeError>> {
        Box::pin(self.linearizable_image_inner())
    }

    async fn linearizable_image_inner(&self) -> Result<Arc<MetadataImage>, ProposeError> {
        match self.inner.raft.ensure_linearizable().await {
            Ok(read_log_id) => {
                if let Some(id) = read_log_id {
                    self.wait_applied(id.index).await;
                }
                Ok(self.image())
            }
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
                Err(ProposeError::NotLeader {
                    leader: f.leader_id,
                })
            }
            Err(e) => Err(ProposeError::Unavailable(e.to_string())),
        }
    }

    /// Registers the handler that serves [`MetadataRaft::forward_to_leader`] requests
    /// while this node is the leader (replacing any earlier one).
    pub fn set_forward_handler(&self, handler: ForwardHandler) {
        *self.inner.ctx.forward.write() = Some(handler);
    }

    /// Sends `payload` to the current leader's forward handler and returns its answer.
    ///
    /// Waits for a leader to be known, follows leader changes, and calls the handler
    /// directly when this node is the leader. A request is sent again only when it
    /// certainly was not handled (no connection, or the peer was not the leader); if a
    /// connection breaks after sending, the outcome is unknown and
    /// [`ForwardError::Failed`] is returned.
    pub fn forward_to_leader(
        &self,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Vec<u8>, ForwardError>> {
        Box::pin(self.forward_to_leader_inner(payload, timeout))
    }

    async fn forward_to_leader_inner(
        &self,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, ForwardError> {
        let deadline = Instant::now() + timeout;
        let mut metrics = self.inner.metrics.clone();
        let mut last_problem = ForwardError::Timeout;
        loop {
            let (leader, leader_addr) = {
                let m = metrics.borrow_and_update();
                let addr = m.current_leader.and_then(|l| {
                    m.membership_config
                        .membership()
                        .get_node(&l)
                        .map(|n| n.addr.clone())
                });
                (m.current_leader, addr)
            };
            match (leader, leader_addr) {
                (Some(l), _) if l == self.inner.node_id => {
                    let handler = self.inner.ctx.forward.read().clone();
                    match handler {
                        Some(h) => {
                            return tokio::time::timeout_at(deadline, h(payload))
                                .await
                                .map_err(|_| ForwardError::Timeout);
                        }
                        None => last_problem = ForwardError::NoHandler,
                    }
                }
                (Some(_), Some(addr)) => {
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    let request = Request::Forward(payload.clone());
                    match self.inner.pool.call(&addr, &request, remaining).await {
                        Ok(Response::Forward(ForwardReply::Ok(answer))) => return Ok(answer),
                        Ok(Response::Forward(ForwardReply::NotLeader(_))) => {}
                        Ok(Response::Forward(ForwardReply::NoHandler)) => {
                            last_problem = ForwardError::NoHandler;
                        }
                        Ok(other) => {
                            return Err(ForwardError::Failed(format!(
                                "unexpected response {other:?}"
                            )))
                        }
                        Err(CallError::Connect { .. }) => {}
                        // The deadline passed during a retry: report what the earlier
                        // attempts saw (a leader without a handler) rather than a bare timeout.
                        Err(CallError::Timeout(_)) => return Err(last_problem),
                        Err(e) => return Err(ForwardError::Failed(e.to_string())),
                    }
                }
                _ => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(last_problem);
            }
            let pause = RETRY_PAUSE.min(deadline - now);
            tokio::select! {
                changed = metrics.changed() => {
                    if changed.is_err() {
                        return Err(ForwardError::Shutdown);
                    }
                }
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}
