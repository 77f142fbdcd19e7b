//! Taking some replicas of a broker offline (a failed log directory): the broker stays
//! registered and unfenced, but for these partitions it is treated as fenced.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::leave_isr;
use crate::image::MetadataImage;
use crate::records::MetadataRecord;

/// The records for broker `node` (registration `incarnation`) reporting `partitions`
/// (topic id, partition) offline: the `ReplicasOffline` record, then, per partition as
/// [`super::fence_broker`] does for every partition of a fenced broker, the broker
/// leaves the ISR (unless it is the last member: the ISR never becomes empty, and the
/// partition then has no leader) and where it led another eligible ISR member leads.
///
/// Only partitions that exist, list `node` as a replica and are not offline already are
/// taken; with none left (or an unknown broker, or another incarnation: a report from
/// an earlier run) there are no records, so asking again changes nothing.
pub fn take_replicas_offline(
    image: &MetadataImage,
    node: i32,
    incarnation: Uuid,
    partitions: &[(Uuid, i32)],
) -> Vec<MetadataRecord> {
    let Some(broker) = image.broker(node) else {
        return Vec::new();
    };
    if broker.incarnation != incarnation {
        return Vec::new();
    }
    let fresh: BTreeSet<(Uuid, i32)> = partitions
        .iter()
        .copied()
        .filter(|&(topic_id, partition)| {
            !broker.is_offline(topic_id, partition)
                && image
                    .topic_by_id(&topic_id)
                    .and_then(|t| t.partition(partition))
                    .is_some_and(|p| p.replicas.contains(&node))
        })
        .collect();
    if fresh.is_empty() {
        return Vec::new();
    }
    let mut records = vec![MetadataRecord::ReplicasOffline {
        node_id: node,
        incarnation,
        partitions: fresh.iter().copied().collect(),
    }];
    for (topic_id, partition) in fresh {
        if let Some(p) = image
            .topic_by_id(&topic_id)
            .and_then(|t| t.partition(partition))
        {
            records.extend(leave_isr(image, topic_id, p, node));
        }
    }
    records
}

#[cfg(test)]
mod tests;
