//! Applying [`MetadataRecord::ReassignPartition`]: a partition's replica set and its
//! pending reassignment (KIP-455), kept in [`super::TopicImage::reassignments`].

use super::{check_partition, has_duplicates, ApplyError, MetadataImage};
use crate::records::MetadataRecord;

/// A pending reassignment of one partition. The partition's `replicas` are the target
/// followed by `removing`; `adding` are target replicas that were not replicas before.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reassignment {
    /// Replicas being added (target minus original).
    pub adding: Vec<i32>,
    /// Replicas being removed (original minus target).
    pub removing: Vec<i32>,
}

impl Reassignment {
    /// The target replica list, in its order: `replicas` without those being removed.
    pub fn target(&self, replicas: &[i32]) -> Vec<i32> {
        replicas
            .iter()
            .copied()
            .filter(|r| !self.removing.contains(r))
            .collect()
    }

    /// The replicas before the move: `replicas` without those being added.
    pub fn original(&self, replicas: &[i32]) -> Vec<i32> {
        replicas
            .iter()
            .copied()
            .filter(|r| !self.adding.contains(r))
            .collect()
    }
}

impl MetadataImage {
    /// Applies a `ReassignPartition` record (any other record is ignored).
    pub(super) fn reassign_partition(&mut self, record: &MetadataRecord) -> Result<(), ApplyError> {
        let MetadataRecord::ReassignPartition {
            topic_id,
            partition,
            replicas,
            isr,
            leader,
            leader_epoch,
            partition_epoch,
            adding_replicas,
            removing_replicas,
        } = record
        else {
            return Ok(());
        };
        let invalid = |reason: String| ApplyError::InvalidPartition {
            topic_id: *topic_id,
            partition: *partition,
            reason,
        };
        // The same checks as ChangePartition: the image takes any state the records
        // describe (a snapshot rewrites a partition with its ISR as it is, even empty);
        // the controller's rules (controller/reassign.rs) never write an empty ISR.
        check_partition(replicas, isr, *leader, *leader_epoch).map_err(invalid)?;
        for (what, list) in [("adding", adding_replicas), ("removing", removing_replicas)] {
            if has_duplicates(list) || list.iter().any(|r| !replicas.contains(r)) {
                return Err(invalid(format!(
                    "{what} replicas {list:?} not in {replicas:?}"
                )));
            }
        }
        if adding_replicas
            .iter()
            .any(|r| removing_replicas.contains(r))
        {
            return Err(invalid("a replica is both added and removed".into()));
        }
        if removing_replicas.len() >= replicas.len() {
            return Err(invalid("every replica is being removed".into()));
        }
        let topic = self.topic_mut(topic_id)?;
        let p = usize::try_from(*partition)
            .ok()
            .and_then(|i| topic.partitions.get_mut(i))
            .ok_or_else(|| invalid("no such partition".into()))?;
        if *leader_epoch < p.leader_epoch || *partition_epoch <= p.partition_epoch {
            return Err(invalid(format!(
                "epochs go back: leader epoch {} -> {leader_epoch}, partition epoch {} -> {partition_epoch}",
                p.leader_epoch, p.partition_epoch
            )));
        }
        p.replicas = replicas.clone();
        p.isr = isr.clone();
        p.leader = *leader;
        p.leader_epoch = *leader_epoch;
        p.partition_epoch = *partition_epoch;
        if adding_replicas.is_empty() && removing_replicas.is_empty() {
            topic.reassignments.remove(partition);
        } else {
            topic.reassignments.insert(
                *partition,
                Reassignment {
                    adding: adding_replicas.clone(),
                    removing: removing_replicas.clone(),
                },
            );
        }
        // A broker that is no longer a replica has no replica to be offline; should it
        // become one again, its new replica starts in a working directory.
        let replicas = replicas.clone();
        self.forget_offline_replicas(*topic_id, Some((*partition, &replicas)));
        Ok(())
    }
}
