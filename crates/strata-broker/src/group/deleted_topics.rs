//! Committed offsets of a deleted topic go with it (as in Kafka): a topic created again
//! under the same name starts without the old topic's positions.

use std::collections::HashMap;
use std::sync::Arc;

use uuid::Uuid;

use super::coordinator::GroupCoordinator;
use crate::Broker;

impl GroupCoordinator {
    /// Records the topics of the image the coordinator starts from.
    pub(crate) fn remember_topics(&self, index: u64, image: &strata_meta::MetadataImage) {
        let mut state = self.state.lock();
        state.topic_ids = image
            .topics()
            .map(|t| (t.name.clone(), t.topic_id))
            .collect();
        state.topics_seen_at = Some(index);
    }

    /// Compares the topics of the newest image with those of the last call; for every
    /// topic gone (or whose name now belongs to a new topic id), writes tombstones for
    /// the offsets this coordinator holds for it. Without [`Self::remember_topics`]
    /// first, the first call only records the topics.
    pub(crate) async fn drop_offsets_of_deleted_topics(&self, broker: &Arc<Broker>) {
        let (index, image) = broker.meta.current();
        let doomed: Vec<(String, Vec<(String, i32)>)> = {
            let mut state = self.state.lock();
            if state.topics_seen_at == Some(index) {
                return;
            }
            let now: HashMap<String, Uuid> = image
                .topics()
                .map(|t| (t.name.clone(), t.topic_id))
                .collect();
            let before = std::mem::replace(&mut state.topic_ids, now);
            let first = state.topics_seen_at.replace(index).is_none();
            if first {
                return;
            }
            let gone: Vec<&String> = before
                .iter()
                .filter(|(name, id)| state.topic_ids.get(*name) != Some(id))
                .map(|(name, _)| name)
                .collect();
            if gone.is_empty() {
                return;
            }
            // Committed offsets and pending transactional ones alike.
            let mut doomed: HashMap<String, Vec<(String, i32)>> = HashMap::new();
            let groups: std::collections::BTreeSet<String> = state
                .offsets
                .keys()
                .chain(state.txn.values().flat_map(|t| t.offsets.groups()))
                .cloned()
                .collect();
            for group in groups {
                let mut parts: Vec<(String, i32)> = state
                    .offsets
                    .get(&group)
                    .into_iter()
                    .flat_map(|m| m.keys().cloned())
                    .chain(state.txn_pending(&group))
                    .filter(|(topic, _)| gone.contains(&topic))
                    .collect();
                parts.sort();
                parts.dedup();
                if !parts.is_empty() {
                    doomed.insert(group, parts);
                }
            }
            doomed.into_iter().collect()
        };
        self.drop_offsets(broker, doomed, "topic deleted").await;
    }
}
