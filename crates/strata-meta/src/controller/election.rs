//! Leadership and ISR decisions, sans-I/O: fencing a broker, electing leaders for
//! offline partitions, moving leadership back to preferred replicas, and ISR changes
//! asked for by partition leaders.
//!
//! Invariants kept by every decision here:
//! - a leader is always a member of the ISR and an unfenced broker; elections pick from
//!   the ISR, except an unclean one: asked for (ElectLeaders with type UNCLEAN) or
//!   allowed by the topic's `unclean.leader.election.enable`, and only for a partition
//!   with no live ISR member, it elects a live replica outside the ISR, whose ISR then
//!   becomes just that replica (records the others acknowledged may be lost);
//! - the leader epoch grows by one exactly when the leader changes;
//! - the partition epoch grows by one on every change, so a request based on an older
//!   state is recognised and refused;
//! - the ISR never becomes empty: when its last member is fenced it stays, as the only
//!   replica known to have every acknowledged record, and the partition has no leader
//!   until that broker returns;
//! - a replica its broker reported offline (a failed log directory,
//!   [`take_replicas_offline`]) counts as fenced for that partition only: it is never
//!   elected (not even uncleanly) and joins no ISR. Every choice asks [`is_eligible`].

use uuid::Uuid;

use crate::image::{MetadataImage, PartitionImage, TopicImage};
use crate::records::MetadataRecord;

mod elect;
mod offline;

pub use elect::{elect_leaders, ElectionError, ElectionOutcome, ElectionType};
pub use offline::take_replicas_offline;

/// Whether `node` is registered and not fenced.
pub fn is_alive(image: &MetadataImage, node: i32) -> bool {
    image.broker(node).is_some_and(|b| !b.fenced)
}

/// Whether `node`'s replica of `partition` of `topic_id` may lead it or join its ISR:
/// the broker is registered and not fenced, and has not reported this replica offline.
pub fn is_eligible(image: &MetadataImage, node: i32, topic_id: Uuid, partition: i32) -> bool {
    image
        .broker(node)
        .is_some_and(|b| !b.fenced && !b.is_offline(topic_id, partition))
}

fn change(
    topic_id: Uuid,
    p: &PartitionImage,
    leader: i32,
    isr: Vec<i32>,
) -> Option<MetadataRecord> {
    if leader == p.leader && isr == p.isr {
        return None;
    }
    let leader_epoch = if leader == p.leader {
        p.leader_epoch
    } else {
        p.leader_epoch + 1
    };
    Some(MetadataRecord::ChangePartition {
        topic_id,
        partition: p.partition,
        leader,
        leader_epoch,
        isr,
        partition_epoch: p.partition_epoch + 1,
    })
}

/// The first replica, in preference order, that is in `isr`, eligible and not `except`.
fn pick_leader(
    image: &MetadataImage,
    topic_id: Uuid,
    p: &PartitionImage,
    isr: &[i32],
    except: i32,
) -> i32 {
    p.replicas
        .iter()
        .copied()
        .find(|&r| r != except && isr.contains(&r) && is_eligible(image, r, topic_id, p.partition))
        .unwrap_or(-1)
}

/// Fences `node` and takes it out of every ISR (unless it is the last member), electing
/// new leaders for the partitions it led. Empty when the broker is unknown or fenced.
pub fn fence_broker(image: &MetadataImage, node: i32) -> Vec<MetadataRecord> {
    if !is_alive(image, node) {
        return Vec::new();
    }
    let mut records = vec![MetadataRecord::FenceBroker { node_id: node }];
    for topic in image.topics() {
        for p in &topic.partitions {
            records.extend(leave_isr(image, topic.topic_id, p, node));
        }
    }
    records
}

/// `node` leaves `p`'s ISR, unless it is the last member: then it stays (the only
/// replica known to have every acknowledged record) and the partition has no leader.
/// Where `node` led, or nobody did, the first other eligible ISR member leads. `None`
/// when `node` is not in the ISR.
fn leave_isr(
    image: &MetadataImage,
    topic_id: Uuid,
    p: &PartitionImage,
    node: i32,
) -> Option<MetadataRecord> {
    if !p.isr.contains(&node) {
        return None;
    }
    let rest: Vec<i32> = p.isr.iter().copied().filter(|&r| r != node).collect();
    let (leader, isr) = if rest.is_empty() {
        (-1, p.isr.clone())
    } else if p.leader == node || p.leader == -1 {
        (pick_leader(image, topic_id, p, &rest, node), rest)
    } else {
        (p.leader, rest)
    };
    change(topic_id, p, leader, isr)
}

/// The first eligible replica, in preference order, outside the ISR rules: the choice
/// of an unclean election once no ISR member is eligible. Never an offline replica: it
/// has no log to serve.
fn pick_unclean(image: &MetadataImage, topic_id: Uuid, p: &PartitionImage) -> i32 {
    p.replicas
        .iter()
        .copied()
        .find(|&r| is_eligible(image, r, topic_id, p.partition))
        .unwrap_or(-1)
}

/// Whether the topic allows automatic unclean elections.
fn unclean_allowed(topic: &TopicImage) -> bool {
    topic
        .configs
        .get("unclean.leader.election.enable")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Elects a leader, from the ISR, for every partition without one, as far as an ISR
/// member is alive; where none is and the topic sets `unclean.leader.election.enable`,
/// a live replica outside the ISR (unclean). `image` must already show the brokers that
/// came back.
pub fn elect_offline_leaders(image: &MetadataImage) -> Vec<MetadataRecord> {
    let mut records = Vec::new();
    for topic in image.topics() {
        for p in &topic.partitions {
            if p.leader != -1 && is_eligible(image, p.leader, topic.topic_id, p.partition) {
                continue;
            }
            let leader = pick_leader(image, topic.topic_id, p, &p.isr, -1);
            if leader != -1 {
                records.extend(change(topic.topic_id, p, leader, p.isr.clone()));
            } else if unclean_allowed(topic) {
                let leader = pick_unclean(image, topic.topic_id, p);
                if leader != -1 {
                    records.extend(change(topic.topic_id, p, leader, vec![leader]));
                }
            }
        }
    }
    records
}

/// Moves leadership back to each partition's preferred replica (the first one) where
/// that replica is eligible, in the ISR and not the leader already.
pub fn preferred_leader_moves(image: &MetadataImage) -> Vec<MetadataRecord> {
    let mut records = Vec::new();
    for topic in image.topics() {
        for p in &topic.partitions {
            let Some(&preferred) = p.replicas.first() else {
                continue;
            };
            if p.leader != preferred
                && p.isr.contains(&preferred)
                && is_eligible(image, preferred, topic.topic_id, p.partition)
            {
                records.extend(change(topic.topic_id, p, preferred, p.isr.clone()));
            }
        }
    }
    records
}

/// Why a leader's ISR change was refused (Kafka's AlterPartition errors).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AlterIsrError {
    /// UNKNOWN_TOPIC_OR_PARTITION.
    #[error("unknown topic or partition")]
    UnknownPartition,
    /// NOT_LEADER_OR_FOLLOWER: the requester does not lead the partition.
    #[error("broker {0} does not lead the partition")]
    NotLeader(i32),
    /// FENCED_LEADER_EPOCH: the request names an older leader epoch.
    #[error("leader epoch {got} is not the current {current}")]
    FencedLeaderEpoch {
        /// Epoch in the request.
        got: i32,
        /// Current epoch.
        current: i32,
    },
    /// INVALID_UPDATE_VERSION: the request is based on an older partition state.
    #[error("partition epoch {got} is not the current {current}")]
    InvalidUpdateVersion {
        /// Epoch in the request.
        got: i32,
        /// Current epoch.
        current: i32,
    },
    /// INVALID_REQUEST: the new ISR is not a subset of the replicas containing the
    /// leader.
    #[error("invalid ISR {0:?}")]
    InvalidIsr(Vec<i32>),
    /// INELIGIBLE_REPLICA (107): the new ISR adds a fenced or unregistered broker, or
    /// holds a replica its broker reported offline (Kafka refuses such an ISR alike;
    /// the leader goes back to its committed ISR).
    #[error("replica {replica} may not be in the ISR: {reason}")]
    IneligibleReplica {
        /// The broker.
        replica: i32,
        /// Why: "fenced" or "offline".
        reason: &'static str,
    },
}

/// The partition, if `leader` leads it in `leader_epoch` (a request from its leader).
fn led_partition(
    image: &MetadataImage,
    topic_id: Uuid,
    partition: i32,
    leader: i32,
    leader_epoch: i32,
) -> Result<&PartitionImage, AlterIsrError> {
    let p = image
        .topic_by_id(&topic_id)
        .and_then(|t| t.partition(partition))
        .ok_or(AlterIsrError::UnknownPartition)?;
    if p.leader != leader {
        return Err(AlterIsrError::NotLeader(leader));
    }
    if leader_epoch != p.leader_epoch {
        return Err(AlterIsrError::FencedLeaderEpoch {
            got: leader_epoch,
            current: p.leader_epoch,
        });
    }
    Ok(p)
}

/// The records for an ISR change asked for by the partition's leader.
pub fn alter_isr(
    image: &MetadataImage,
    topic_id: Uuid,
    partition: i32,
    leader: i32,
    leader_epoch: i32,
    partition_epoch: i32,
    new_isr: &[i32],
) -> Result<Vec<MetadataRecord>, AlterIsrError> {
    let p = led_partition(image, topic_id, partition, leader, leader_epoch)?;
    if partition_epoch != p.partition_epoch {
        return Err(AlterIsrError::InvalidUpdateVersion {
            got: partition_epoch,
            current: p.partition_epoch,
        });
    }
    let mut isr: Vec<i32> = Vec::with_capacity(new_isr.len());
    for &r in new_isr {
        if !p.replicas.contains(&r) || isr.contains(&r) {
            return Err(AlterIsrError::InvalidIsr(new_isr.to_vec()));
        }
        // A fenced broker may stay but not join; an offline replica may do neither.
        if !p.isr.contains(&r) && !is_alive(image, r) {
            return Err(AlterIsrError::IneligibleReplica {
                replica: r,
                reason: "fenced",
            });
        }
        if image.is_replica_offline(r, topic_id, partition) {
            return Err(AlterIsrError::IneligibleReplica {
                replica: r,
                reason: "offline",
            });
        }
        isr.push(r);
    }
    if !isr.contains(&leader) {
        return Err(AlterIsrError::InvalidIsr(new_isr.to_vec()));
    }
    Ok(change(topic_id, p, leader, isr).into_iter().collect())
}

/// The records for a leader that lost part of its log to damage and hands the
/// partition to a replica that still has it: another live ISR member leads (the first
/// in preference order) and the damaged replica leaves the ISR until it has fetched the
/// lost range back. Nothing changes (no records) when no other live ISR member exists:
/// the damaged leader then keeps the partition, gap and all.
pub fn resign_leadership(
    image: &MetadataImage,
    topic_id: Uuid,
    partition: i32,
    leader: i32,
    leader_epoch: i32,
) -> Result<Vec<MetadataRecord>, AlterIsrError> {
    let p = led_partition(image, topic_id, partition, leader, leader_epoch)?;
    let rest: Vec<i32> = p.isr.iter().copied().filter(|&r| r != leader).collect();
    let successor = pick_leader(image, topic_id, p, &rest, leader);
    if successor == -1 {
        return Ok(Vec::new());
    }
    Ok(change(topic_id, p, successor, rest).into_iter().collect())
}

/// The image the election tests (here and in `elect/tests.rs`) start from.
#[cfg(test)]
pub(super) mod fixtures {
    use std::collections::BTreeMap;

    use uuid::Uuid;

    use crate::image::{MetadataImage, PartitionImage};
    use crate::records::MetadataRecord;

    pub fn register(node_id: i32) -> MetadataRecord {
        MetadataRecord::RegisterBroker {
            node_id,
            host: "h".into(),
            port: 9000 + node_id,
            rack: None,
            incarnation: Uuid::from_u128(node_id as u128),
            endpoints: Vec::new(),
        }
    }

    pub const T: Uuid = Uuid::from_u128(7);

    /// Three brokers, topic "t" of one partition on replicas [1, 2, 3], leader 1, with
    /// these topic configs.
    pub fn cluster_with(configs: BTreeMap<String, String>) -> MetadataImage {
        MetadataImage::new()
            .applied(&[
                register(1),
                register(2),
                register(3),
                MetadataRecord::CreateTopic {
                    name: "t".into(),
                    topic_id: T,
                    configs,
                },
                MetadataRecord::CreatePartition {
                    topic_id: T,
                    partition: 0,
                    replicas: vec![1, 2, 3],
                    isr: vec![1, 2, 3],
                    leader: 1,
                    leader_epoch: 0,
                },
            ])
            .expect("cluster applies")
    }

    pub fn apply(image: &MetadataImage, records: &[MetadataRecord]) -> MetadataImage {
        image.applied(records).expect("decision applies")
    }

    pub fn part(image: &MetadataImage) -> PartitionImage {
        image.topic("t").expect("topic").partitions[0].clone()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    fn cluster() -> MetadataImage {
        cluster_with(Default::default())
    }

    #[test]
    fn fencing_the_leader_elects_the_next_isr_member_with_a_new_epoch() {
        let image = apply(&cluster(), &fence_broker(&cluster(), 1));
        let p = part(&image);
        assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (2, 1, 1));
        assert_eq!(p.isr, vec![2, 3]);
        assert!(image.broker(1).is_some_and(|b| b.fenced));
        assert!(fence_broker(&image, 1).is_empty(), "already fenced");
    }

    #[test]
    fn a_damaged_leader_hands_over_to_an_isr_member_and_leaves_the_isr() {
        let image = cluster();
        let records = resign_leadership(&image, T, 0, 1, 0).expect("resigns");
        let image = apply(&image, &records);
        let p = part(&image);
        assert_eq!((p.leader, p.leader_epoch), (2, 1));
        assert_eq!(p.isr, vec![2, 3], "back once it has the lost range again");
        // Asked again (or late), by a broker that no longer leads: refused.
        assert_eq!(
            resign_leadership(&image, T, 0, 1, 0),
            Err(AlterIsrError::NotLeader(1))
        );
        assert!(matches!(
            resign_leadership(&image, T, 0, 2, 0),
            Err(AlterIsrError::FencedLeaderEpoch { .. })
        ));
        // The last live ISR member keeps the partition: a gap beats no leader.
        let mut image = apply(&image, &fence_broker(&image, 3));
        assert_eq!(part(&image).isr, vec![2]);
        let epoch = part(&image).leader_epoch;
        assert!(resign_leadership(&image, T, 0, 2, epoch)
            .expect("nothing to do")
            .is_empty());
        // A fenced ISR member is no successor either.
        image = apply(&image, &[register(3)]);
        assert!(resign_leadership(&image, T, 0, 2, epoch)
            .expect("3 is not in the ISR")
            .is_empty());
    }

    #[test]
    fn fencing_a_follower_shrinks_the_isr_but_keeps_the_leader_and_epoch() {
        let image = apply(&cluster(), &fence_broker(&cluster(), 3));
        let p = part(&image);
        assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (1, 0, 1));
        assert_eq!(p.isr, vec![1, 2]);
    }

    #[test]
    fn the_last_isr_member_stays_and_leads_again_when_it_returns() {
        let mut image = cluster();
        for node in [3, 2, 1] {
            image = apply(&image, &fence_broker(&image, node));
        }
        let p = part(&image);
        assert_eq!(p.leader, -1, "offline");
        assert_eq!(p.isr, vec![1], "the last one standing keeps its place");
        // Broker 2 comes back first: it is not in the ISR, so it must not lead.
        image = apply(&image, &[register(2)]);
        assert!(elect_offline_leaders(&image).is_empty());
        image = apply(&image, &[register(1)]);
        image = apply(&image, &elect_offline_leaders(&image));
        let p = part(&image);
        assert_eq!(p.leader, 1);
        assert!(p.leader_epoch > 1);
    }

    #[test]
    fn preferred_leader_returns_once_back_in_the_isr() {
        let mut image = apply(&cluster(), &fence_broker(&cluster(), 1));
        image = apply(&image, &[register(1)]);
        assert!(
            preferred_leader_moves(&image).is_empty(),
            "not in the ISR yet"
        );
        let p = part(&image);
        let expand = alter_isr(
            &image,
            T,
            0,
            2,
            p.leader_epoch,
            p.partition_epoch,
            &[2, 3, 1],
        )
        .expect("leader adds a caught-up follower");
        image = apply(&image, &expand);
        image = apply(&image, &preferred_leader_moves(&image));
        let p = part(&image);
        assert_eq!(p.leader, 1);
        assert_eq!(p.leader_epoch, 2);
    }

    #[test]
    fn alter_isr_refuses_stale_or_foreign_requests() {
        let image = cluster();
        assert_eq!(
            alter_isr(&image, T, 0, 2, 0, 0, &[1, 2]),
            Err(AlterIsrError::NotLeader(2))
        );
        assert!(matches!(
            alter_isr(&image, T, 0, 1, 5, 0, &[1, 2]),
            Err(AlterIsrError::FencedLeaderEpoch { .. })
        ));
        assert!(matches!(
            alter_isr(&image, T, 0, 1, 0, 3, &[1, 2]),
            Err(AlterIsrError::InvalidUpdateVersion { .. })
        ));
        assert!(matches!(
            alter_isr(&image, T, 0, 1, 0, 0, &[2, 3]),
            Err(AlterIsrError::InvalidIsr(_))
        ));
        assert!(matches!(
            alter_isr(&image, T, 0, 1, 0, 0, &[1, 9]),
            Err(AlterIsrError::InvalidIsr(_))
        ));
        let shrink = alter_isr(&image, T, 0, 1, 0, 0, &[1, 3]).expect("shrink");
        assert_eq!(part(&apply(&image, &shrink)).isr, vec![1, 3]);
        assert!(alter_isr(&image, T, 0, 1, 0, 0, &[1, 2, 3])
            .expect("no change")
            .is_empty());
    }

    #[test]
    fn a_fenced_broker_cannot_join_the_isr() {
        let mut image = apply(&cluster(), &fence_broker(&cluster(), 3));
        let p = part(&image);
        assert_eq!(
            alter_isr(
                &image,
                T,
                0,
                1,
                p.leader_epoch,
                p.partition_epoch,
                &[1, 2, 3]
            ),
            Err(AlterIsrError::IneligibleReplica {
                replica: 3,
                reason: "fenced"
            })
        );
        image = apply(&image, &[register(3)]);
        assert!(alter_isr(
            &image,
            T,
            0,
            1,
            p.leader_epoch,
            p.partition_epoch,
            &[1, 2, 3]
        )
        .is_ok());
    }
}
