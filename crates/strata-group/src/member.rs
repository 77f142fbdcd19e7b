//! One member of a classic group.

use bytes::Bytes;

use crate::types::{MemberId, RequestId};

/// A member as the group tracks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) id: MemberId,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) rebalance_timeout_ms: i32,
    pub(crate) session_timeout_ms: i32,
    pub(crate) protocol_type: String,
    pub(crate) protocols: Vec<(String, Bytes)>,
    pub(crate) assignment: Bytes,
    /// A parked JoinGroup waiting for the join phase to complete.
    pub(crate) awaiting_join: Option<RequestId>,
    /// A parked SyncGroup waiting for the leader's assignment.
    pub(crate) awaiting_sync: Option<RequestId>,
    /// Joined during the current join phase; such members may expire while
    /// their JoinGroup is parked (they cannot heartbeat yet).
    pub(crate) is_new: bool,
    /// When the member's session expires unless renewed; `None` once an
    /// expiry found the member legitimately waiting (it is re-armed when the
    /// wait ends), mirroring a one-shot timer.
    pub(crate) heartbeat_deadline: Option<i64>,
}

impl Member {
    /// The member's metadata for `protocol`, empty when it has none.
    pub(crate) fn metadata(&self, protocol: Option<&str>) -> Bytes {
        protocol
            .and_then(|p| self.protocols.iter().find(|(name, _)| name == p))
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    /// A member waiting on the group (parked join or sync) is not expected to
    /// heartbeat, except a new member, which is bounded by the join timeout.
    pub(crate) fn has_satisfied_heartbeat(&self) -> bool {
        !self.is_new && (self.awaiting_join.is_some() || self.awaiting_sync.is_some())
    }

    /// The member's first supported protocol among `candidates`.
    pub(crate) fn vote<'a>(&'a self, candidates: &[&str]) -> Option<&'a str> {
        self.protocols
            .iter()
            .map(|(name, _)| name.as_str())
            .find(|name| candidates.contains(name))
    }

    pub(crate) fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|(name, _)| name == protocol)
    }

    pub(crate) fn rearm(&mut self, now_ms: i64) {
        self.heartbeat_deadline =
            Some(now_ms.saturating_add(i64::from(self.session_timeout_ms.max(0))));
    }
}
