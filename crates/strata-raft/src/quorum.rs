//! The metadata quorum as the leader sees it, for Kafka's DescribeQuorum: who leads in
//! which term, how far the log is committed, and how far each voter and learner has
//! replicated. Only the leader knows the followers' progress, so only it describes.
//!
//! Offsets are Kafka's: a log of entries `0..=i` has the end offset `i + 1`, and the
//! high watermark is the end offset of the committed (here: applied) entries.
//! Openraft keeps no fetch times; the leader's own replica and every follower that has
//! replicated the leader's whole log count as caught up at the time asked.

use serde::{Deserialize, Serialize};

use crate::node::MetadataRaft;
use crate::types::NodeId;

/// One replica of the metadata log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaProgress {
    /// The node.
    pub id: NodeId,
    /// Its log end offset as the leader knows it, -1 if unknown.
    pub log_end_offset: i64,
    /// When it last fetched (ms since the epoch), -1 if unknown.
    pub last_fetch_ms: i64,
    /// When it last had the leader's whole log (ms since the epoch), -1 if unknown.
    pub last_caught_up_ms: i64,
}

/// The quorum, described by its leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumView {
    /// The leader.
    pub leader: NodeId,
    /// Its term (Kafka's leader epoch).
    pub term: u64,
    /// End offset of the committed entries.
    pub high_watermark: i64,
    /// The voters, by id.
    pub voters: Vec<ReplicaProgress>,
    /// The learners (Kafka's observers), by id.
    pub observers: Vec<ReplicaProgress>,
    /// Every member's controller address, by id.
    pub nodes: Vec<(NodeId, String)>,
}

fn offset(index: Option<u64>) -> i64 {
    index.map_or(0, |i| {
        i64::try_from(i.saturating_add(1)).unwrap_or(i64::MAX)
    })
}

impl MetadataRaft {
    /// The quorum as this node sees it at `now_ms`, if it leads (`None` otherwise).
    pub fn quorum_view(&self, now_ms: i64) -> Option<QuorumView> {
        let rx = self.metrics();
        let m = rx.borrow();
        if m.current_leader != Some(m.id) {
            return None;
        }
        let replication = m.replication.as_ref()?;
        let end = offset(m.last_log_index);
        let progress = |id: NodeId| {
            if id == m.id {
                return ReplicaProgress {
                    id,
                    log_end_offset: end,
                    last_fetch_ms: now_ms,
                    last_caught_up_ms: now_ms,
                };
            }
            let matched = replication
                .get(&id)
                .map(|l| offset(l.as_ref().map(|l| l.index)));
            ReplicaProgress {
                id,
                log_end_offset: matched.unwrap_or(-1),
                last_fetch_ms: -1,
                last_caught_up_ms: if matched == Some(end) { now_ms } else { -1 },
            }
        };
        let membership = m.membership_config.membership();
        let mut voters: Vec<NodeId> = membership.voter_ids().collect();
        let mut learners: Vec<NodeId> = membership.learner_ids().collect();
        voters.sort_unstable();
        learners.sort_unstable();
        let mut nodes: Vec<(NodeId, String)> = membership
            .nodes()
            .map(|(id, n)| (*id, n.addr.clone()))
            .collect();
        nodes.sort_unstable();
        Some(QuorumView {
            leader: m.id,
            term: m.current_term,
            high_watermark: offset(m.last_applied.as_ref().map(|l| l.index)),
            voters: voters.into_iter().map(progress).collect(),
            observers: learners.into_iter().map(progress).collect(),
            nodes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_one_past_the_last_index() {
        assert_eq!(offset(None), 0);
        assert_eq!(offset(Some(0)), 1);
        assert_eq!(offset(Some(41)), 42);
        assert_eq!(offset(Some(u64::MAX)), i64::MAX);
    }
}
