//! Partition reassignment decisions (Kafka's KIP-455), sans-I/O.
//!
//! A reassignment gives a partition a target replica list. While it is pending the
//! partition's replicas are the target followed by the original replicas that leave
//! (`removing`); the target's new members (`adding`) are created on their brokers and
//! catch up as followers. When every target replica is in the ISR the controller
//! completes it: replicas = target, ISR = ISR ∩ target, and the leader moves to the
//! first target replica if it was leaving. Cancelling (a null target) reverts to the
//! original replicas.
//!
//! Invariants kept by every record decided here (and checked again by `apply`):
//! - the leader is in the ISR, the ISR is a non-empty subset of the replicas;
//! - a move completes only once every target replica is in the ISR;
//! - the leader epoch grows by one with every replica-set or leader change, so the
//!   leader starts its follower tracking afresh over the new replicas;
//! - the partition epoch grows by one with every change.

use std::collections::BTreeSet;

use strata_proto::error_code;
use uuid::Uuid;

use super::election::is_eligible;
use crate::image::{MetadataImage, PartitionImage, Reassignment};
use crate::records::MetadataRecord;

/// Why a reassignment was refused; each maps to a Kafka error code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReassignError {
    /// UNKNOWN_TOPIC_OR_PARTITION (3).
    #[error("{0}")]
    UnknownTopicOrPartition(String),
    /// INVALID_REPLICATION_FACTOR (38): the request forbids changing it.
    #[error("{0}")]
    InvalidReplicationFactor(String),
    /// INVALID_REPLICA_ASSIGNMENT (39).
    #[error("{0}")]
    InvalidReplicaAssignment(String),
    /// NO_REASSIGNMENT_IN_PROGRESS (85): a cancel of a partition that is not moving.
    #[error("{0}")]
    NoReassignmentInProgress(String),
}

impl ReassignError {
    /// Kafka's numeric error code.
    pub fn kafka_code(&self) -> i16 {
        match self {
            ReassignError::UnknownTopicOrPartition(_) => error_code::UNKNOWN_TOPIC_OR_PARTITION,
            ReassignError::InvalidReplicationFactor(_) => error_code::INVALID_REPLICATION_FACTOR,
            ReassignError::InvalidReplicaAssignment(_) => error_code::INVALID_REPLICA_ASSIGNMENT,
            ReassignError::NoReassignmentInProgress(_) => error_code::NO_REASSIGNMENT_IN_PROGRESS,
        }
    }
}

/// The partition's new state, before it becomes a record.
struct NextState {
    replicas: Vec<i32>,
    isr: Vec<i32>,
    pending: Reassignment,
}

/// Decides AlterPartitionReassignments for one partition: `target` sets (or replaces)
/// the target replicas, `None` cancels the pending move. With
/// `allow_replication_factor_change` false, a target whose length differs from the
/// original replica count is refused. Returns no records when nothing changes.
pub fn alter_reassignment(
    image: &MetadataImage,
    topic: &str,
    partition: i32,
    target: Option<&[i32]>,
    allow_replication_factor_change: bool,
) -> Result<Vec<MetadataRecord>, ReassignError> {
    let unknown = || {
        ReassignError::UnknownTopicOrPartition(format!(
            "topic '{topic}' partition {partition} does not exist"
        ))
    };
    let t = image.topic(topic).ok_or_else(unknown)?;
    let p = t.partition(partition).ok_or_else(unknown)?;
    let pending = t.reassignments.get(&partition);
    let original = pending.map_or_else(|| p.replicas.clone(), |r| r.original(&p.replicas));
    let next = match target {
        None => {
            if pending.is_none() {
                return Err(ReassignError::NoReassignmentInProgress(format!(
                    "no reassignment of '{topic}' partition {partition} is in progress"
                )));
            }
            let isr = kept(&p.isr, &original);
            NextState {
                replicas: original,
                isr,
                pending: Reassignment::default(),
            }
        }
        Some(target) => {
            check_target(image, target)?;
            if !allow_replication_factor_change && target.len() != original.len() {
                return Err(ReassignError::InvalidReplicationFactor(format!(
                    "the target has {} replicas but the partition has {}, and the request does not allow changing it",
                    target.len(),
                    original.len()
                )));
            }
            moving_to(p, &original, target)
        }
    };
    if next.isr.is_empty() {
        return Err(ReassignError::InvalidReplicaAssignment(format!(
            "no replica of {:?} is in sync (ISR {:?}): the partition would have none",
            next.replicas, p.isr
        )));
    }
    Ok(record(image, t.topic_id, p, next).into_iter().collect())
}

/// Completes the pending reassignment of one partition if every target replica is in
/// its ISR.
pub fn complete_reassignment(
    image: &MetadataImage,
    topic_id: Uuid,
    partition: i32,
) -> Option<MetadataRecord> {
    let t = image.topic_by_id(&topic_id)?;
    let p = t.partition(partition)?;
    let pending = t.reassignments.get(&partition)?;
    let target = pending.target(&p.replicas);
    if target.is_empty() || !target.iter().all(|r| p.isr.contains(r)) {
        return None;
    }
    let next = NextState {
        isr: kept(&p.isr, &target),
        replicas: target,
        pending: Reassignment::default(),
    };
    record(image, topic_id, p, next)
}

/// Completes every pending reassignment whose target replicas are all in the ISR.
pub fn complete_reassignments(image: &MetadataImage) -> Vec<MetadataRecord> {
    image
        .topics()
        .flat_map(|t| {
            t.reassignments
                .keys()
                .filter_map(|&p| complete_reassignment(image, t.topic_id, p))
        })
        .collect()
}

/// The state of a partition moving from `original` to `target`: replicas = target then
/// the leaving ones; completed at once when every target replica is in sync already.
fn moving_to(p: &PartitionImage, original: &[i32], target: &[i32]) -> NextState {
    let adding: Vec<i32> = target
        .iter()
        .copied()
        .filter(|r| !original.contains(r))
        .collect();
    let removing: Vec<i32> = original
        .iter()
        .copied()
        .filter(|r| !target.contains(r))
        .collect();
    let mut replicas = target.to_vec();
    replicas.extend(&removing);
    let isr = kept(&p.isr, &replicas);
    if adding.is_empty() && removing.is_empty() || target.iter().all(|r| isr.contains(r)) {
        return NextState {
            isr: kept(&isr, target),
            replicas: target.to_vec(),
            pending: Reassignment::default(),
        };
    }
    NextState {
        replicas,
        isr,
        pending: Reassignment { adding, removing },
    }
}

/// The members of `isr` that are in `replicas`, in ISR order.
fn kept(isr: &[i32], replicas: &[i32]) -> Vec<i32> {
    isr.iter()
        .copied()
        .filter(|r| replicas.contains(r))
        .collect()
}

/// Non-empty, no broker twice, every broker registered.
fn check_target(image: &MetadataImage, target: &[i32]) -> Result<(), ReassignError> {
    let bad = |why: String| ReassignError::InvalidReplicaAssignment(why);
    if target.is_empty() {
        return Err(bad("the target replica list is empty".into()));
    }
    let mut seen = BTreeSet::new();
    for &b in target {
        if !seen.insert(b) {
            return Err(bad(format!("broker {b} is listed more than once")));
        }
        if image.broker(b).is_none() {
            return Err(bad(format!("broker {b} is not registered")));
        }
    }
    Ok(())
}

/// The record that takes `p` to `next`, or `None` when nothing changes. The leader
/// stays if it is still in sync, else it is the first replica (in the new order) that
/// is in sync and eligible (alive, its replica not offline), else none.
fn record(
    image: &MetadataImage,
    topic_id: Uuid,
    p: &PartitionImage,
    next: NextState,
) -> Option<MetadataRecord> {
    let was_pending = image
        .topic_by_id(&topic_id)
        .and_then(|t| t.reassignments.get(&p.partition));
    let leader = if next.isr.contains(&p.leader) {
        p.leader
    } else {
        next.replicas
            .iter()
            .copied()
            .find(|r| next.isr.contains(r) && is_eligible(image, *r, topic_id, p.partition))
            .unwrap_or(-1)
    };
    let same_pending = was_pending.map_or(next.pending == Reassignment::default(), |r| {
        *r == next.pending
    });
    if next.replicas == p.replicas && next.isr == p.isr && leader == p.leader && same_pending {
        return None;
    }
    let bump = next.replicas != p.replicas || leader != p.leader;
    Some(MetadataRecord::ReassignPartition {
        topic_id,
        partition: p.partition,
        replicas: next.replicas,
        isr: next.isr,
        leader,
        leader_epoch: p.leader_epoch + i32::from(bump),
        partition_epoch: p.partition_epoch + 1,
        adding_replicas: next.pending.adding,
        removing_replicas: next.pending.removing,
    })
}

#[cfg(test)]
#[path = "reassign_tests.rs"]
mod tests;
