//! ElectLeaders: elections an operator asks for, partition by partition (Kafka's
//! `kafka-leader-election`, `Admin.electLeaders`).
//!
//! - PREFERRED moves leadership to the partition's first replica when it is eligible
//!   (alive, its replica not offline) and in the ISR; ELECTION_NOT_NEEDED when it
//!   leads already, PREFERRED_LEADER_NOT_AVAILABLE when it cannot.
//! - UNCLEAN is only for a partition without an eligible leader: an eligible ISR
//!   member if there is one (a clean election), else the first eligible replica, whose
//!   ISR becomes just itself; ELECTION_NOT_NEEDED when the partition has a leader,
//!   ELIGIBLE_LEADERS_NOT_AVAILABLE when no replica is eligible.
//!
//! With no partitions named, every partition is tried and only the ones where something
//! happened (or failed) are reported, as Kafka does.

use std::collections::HashSet;

use super::{change, is_eligible, pick_leader, pick_unclean};
use crate::image::{MetadataImage, PartitionImage, TopicImage};
use crate::records::MetadataRecord;

/// Kafka's election types (`ElectLeadersRequest.election_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElectionType {
    /// 0: the preferred (first) replica.
    Preferred,
    /// 1: any live replica of a leaderless partition, in the ISR or not.
    Unclean,
}

impl ElectionType {
    /// The type for Kafka's code, if it is one.
    pub fn from_code(code: i8) -> Option<Self> {
        match code {
            0 => Some(Self::Preferred),
            1 => Some(Self::Unclean),
            _ => None,
        }
    }
}

/// Why one partition's election did not happen (Kafka's ElectLeaders errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ElectionError {
    /// UNKNOWN_TOPIC_OR_PARTITION.
    #[error("unknown topic or partition")]
    UnknownPartition,
    /// ELECTION_NOT_NEEDED: the preferred replica leads already (preferred), or the
    /// partition has a leader (unclean).
    #[error("leader election not needed for this partition")]
    NotNeeded,
    /// PREFERRED_LEADER_NOT_AVAILABLE: the preferred replica is not alive, is
    /// offline or is not in the ISR.
    #[error("the preferred leader is not alive or not in the ISR")]
    PreferredNotAvailable,
    /// ELIGIBLE_LEADERS_NOT_AVAILABLE: no replica is alive (and online).
    #[error("no replica of the partition is alive")]
    NoEligibleLeader,
}

/// One partition's outcome: `Ok` when its leader was elected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElectionOutcome {
    /// The topic's name.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The election's result.
    pub result: Result<(), ElectionError>,
}

/// Decides the elections of `kind` for `partitions` (topic name, partition), or for
/// every partition when `None`. Returns the per-partition outcomes and the records that
/// carry out the elections. A partition named twice is decided once; its outcome is
/// repeated.
pub fn elect_leaders(
    image: &MetadataImage,
    kind: ElectionType,
    partitions: Option<&[(String, i32)]>,
) -> (Vec<ElectionOutcome>, Vec<MetadataRecord>) {
    let mut outcomes = Vec::new();
    let mut records = Vec::new();
    match partitions {
        None => {
            for topic in image.topics() {
                for p in &topic.partitions {
                    let result = decide(image, kind, topic, p, &mut records);
                    if result != Err(ElectionError::NotNeeded) {
                        outcomes.push(ElectionOutcome {
                            topic: topic.name.clone(),
                            partition: p.partition,
                            result,
                        });
                    }
                }
            }
        }
        Some(named) => {
            let mut seen: HashSet<(&str, i32)> = HashSet::with_capacity(named.len());
            let mut decided: Vec<ElectionOutcome> = Vec::with_capacity(named.len());
            for (name, partition) in named {
                let result = if seen.insert((name.as_str(), *partition)) {
                    match image
                        .topic(name)
                        .and_then(|t| Some((t, t.partition(*partition)?)))
                    {
                        None => Err(ElectionError::UnknownPartition),
                        Some((t, p)) => decide(image, kind, t, p, &mut records),
                    }
                } else {
                    decided
                        .iter()
                        .find(|o| o.topic == *name && o.partition == *partition)
                        .map_or(Err(ElectionError::UnknownPartition), |o| o.result)
                };
                decided.push(ElectionOutcome {
                    topic: name.clone(),
                    partition: *partition,
                    result,
                });
            }
            outcomes = decided;
        }
    }
    (outcomes, records)
}

/// One partition's election; its record, if any, goes to `records`.
fn decide(
    image: &MetadataImage,
    kind: ElectionType,
    topic: &TopicImage,
    p: &PartitionImage,
    records: &mut Vec<MetadataRecord>,
) -> Result<(), ElectionError> {
    let (leader, isr) = match kind {
        ElectionType::Preferred => {
            let preferred = p
                .replicas
                .first()
                .copied()
                .ok_or(ElectionError::PreferredNotAvailable)?;
            if p.leader == preferred {
                return Err(ElectionError::NotNeeded);
            }
            if !p.isr.contains(&preferred)
                || !is_eligible(image, preferred, topic.topic_id, p.partition)
            {
                return Err(ElectionError::PreferredNotAvailable);
            }
            (preferred, p.isr.clone())
        }
        ElectionType::Unclean => {
            if p.leader != -1 && is_eligible(image, p.leader, topic.topic_id, p.partition) {
                return Err(ElectionError::NotNeeded);
            }
            match pick_leader(image, topic.topic_id, p, &p.isr, -1) {
                -1 => match pick_unclean(image, topic.topic_id, p) {
                    -1 => return Err(ElectionError::NoEligibleLeader),
                    r => (r, vec![r]),
                },
                r => (r, p.isr.clone()),
            }
        }
    };
    records.extend(change(topic.topic_id, p, leader, isr));
    Ok(())
}

#[cfg(test)]
mod tests;
