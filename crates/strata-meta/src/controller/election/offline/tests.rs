//! Offline replicas: taken out of the ISR and leadership like a fenced broker, for
//! their partitions only, and never chosen again until the broker restarts.

use std::collections::BTreeMap;

use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::controller::election::fixtures::*;
use crate::controller::election::{
    alter_isr, elect_leaders, elect_offline_leaders, fence_broker, is_eligible,
    preferred_leader_moves, AlterIsrError, ElectionError, ElectionType,
};
use crate::controller::reassign::alter_reassignment;
use crate::image::PartitionImage;

fn cluster() -> MetadataImage {
    cluster_with(BTreeMap::new())
}

fn unclean_cluster() -> MetadataImage {
    cluster_with(BTreeMap::from([(
        "unclean.leader.election.enable".to_string(),
        "true".to_string(),
    )]))
}

/// The fixture's incarnation of `node` (see `fixtures::register`).
fn inc(node: i32) -> Uuid {
    Uuid::from_u128(node as u128)
}

fn offline(image: &MetadataImage, node: i32) -> MetadataImage {
    apply(
        image,
        &take_replicas_offline(image, node, inc(node), &[(T, 0)]),
    )
}

/// A new run of `node`: a registration with another incarnation.
fn restart(node: i32) -> MetadataRecord {
    let MetadataRecord::RegisterBroker {
        node_id,
        host,
        port,
        rack,
        endpoints,
        ..
    } = register(node)
    else {
        unreachable!("register gives a registration")
    };
    MetadataRecord::RegisterBroker {
        node_id,
        host,
        port,
        rack,
        incarnation: Uuid::from_u128(1000 + node as u128),
        endpoints,
    }
}

fn t0() -> Vec<(String, i32)> {
    vec![("t".to_string(), 0)]
}

#[test]
fn an_offline_leader_hands_over_and_leaves_the_isr() {
    let image = offline(&cluster(), 1);
    let p = part(&image);
    assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (2, 1, 1));
    assert_eq!(p.isr, vec![2, 3]);
    let b = image.broker(1).expect("registered");
    assert!(!b.fenced, "only the replica is offline, not the broker");
    assert!(image.is_replica_offline(1, T, 0));
    assert!(!is_eligible(&image, 1, T, 0));
    assert!(
        is_eligible(&image, 1, T, 1),
        "another partition is not affected"
    );
    // Idempotent: reported again, nothing more happens.
    assert!(take_replicas_offline(&image, 1, inc(1), &[(T, 0)]).is_empty());
    // Fencing the broker later does not touch the partition it already left.
    let fenced = fence_broker(&image, 1);
    assert_eq!(fenced, vec![MetadataRecord::FenceBroker { node_id: 1 }]);
}

#[test]
fn an_offline_follower_leaves_the_isr_and_the_leader_keeps_its_epoch() {
    let image = offline(&cluster(), 3);
    let p = part(&image);
    assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (1, 0, 1));
    assert_eq!(p.isr, vec![1, 2]);
}

#[test]
fn reports_that_do_not_apply_give_no_records() {
    let image = cluster();
    let other = Uuid::from_u128(55);
    assert!(take_replicas_offline(&image, 1, Uuid::from_u128(99), &[(T, 0)]).is_empty());
    assert!(take_replicas_offline(&image, 9, inc(9), &[(T, 0)]).is_empty());
    assert!(take_replicas_offline(&image, 1, inc(1), &[(other, 0), (T, 4)]).is_empty());
    assert!(take_replicas_offline(&image, 1, inc(1), &[]).is_empty());
    // Unknown entries are left out of a report that has a real one; repeats once.
    let records = take_replicas_offline(&image, 1, inc(1), &[(other, 0), (T, 0), (T, 0)]);
    assert!(matches!(
        &records[0],
        MetadataRecord::ReplicasOffline { partitions, .. } if partitions == &vec![(T, 0)]
    ));
    apply(&image, &records);
}

#[test]
fn the_last_isr_member_stays_without_leading_and_is_never_elected_unclean() {
    let mut image = unclean_cluster();
    // Followers fenced first, so 1 is the last ISR member; it is then taken offline.
    image = apply(&image, &fence_broker(&image, 3));
    image = apply(&image, &fence_broker(&image, 2));
    image = offline(&image, 1);
    let p = part(&image);
    assert_eq!(p.leader, -1, "an offline replica leads nothing");
    assert_eq!(p.isr, vec![1], "the ISR never becomes empty");
    // Broker 1 is alive, but its replica is offline: no election, clean or unclean.
    assert!(elect_offline_leaders(&image).is_empty());
    let (outcomes, records) = elect_leaders(&image, ElectionType::Unclean, Some(&t0()));
    assert_eq!(outcomes[0].result, Err(ElectionError::NoEligibleLeader));
    assert!(records.is_empty());
    // Broker 2 returns (out of the ISR): the unclean election takes it, not broker 1.
    image = apply(&image, &[register(2)]);
    let elect = elect_offline_leaders(&image);
    image = apply(&image, &elect);
    let p = part(&image);
    assert_eq!((p.leader, p.isr.clone()), (2, vec![2]));
}

#[test]
fn without_unclean_elections_the_partition_waits_for_a_restart() {
    let mut image = cluster();
    image = apply(&image, &fence_broker(&image, 3));
    image = apply(&image, &fence_broker(&image, 2));
    image = offline(&image, 1);
    image = apply(&image, &[register(2), register(3)]);
    assert!(
        elect_offline_leaders(&image).is_empty(),
        "2 and 3 are not in the ISR"
    );
    // Re-registering the same run (after a fence) keeps the replica offline.
    image = apply(&image, &[register(1)]);
    assert!(elect_offline_leaders(&image).is_empty());
    // A restart (new incarnation) brings the replica back: it leads again.
    image = apply(&image, &[restart(1)]);
    assert!(image
        .broker(1)
        .is_some_and(|b| b.offline_replicas.is_empty()));
    image = apply(&image, &elect_offline_leaders(&image));
    let p = part(&image);
    assert_eq!((p.leader, p.isr.clone()), (1, vec![1]));
}

#[test]
fn an_offline_replica_does_not_rejoin_the_isr_until_its_broker_restarts() {
    let mut image = offline(&cluster(), 1);
    let p = part(&image);
    let add = |image: &MetadataImage, p: &PartitionImage| {
        alter_isr(
            image,
            T,
            0,
            2,
            p.leader_epoch,
            p.partition_epoch,
            &[2, 3, 1],
        )
    };
    assert_eq!(
        add(&image, &p),
        Err(AlterIsrError::IneligibleReplica {
            replica: 1,
            reason: "offline"
        })
    );
    assert!(preferred_leader_moves(&image).is_empty());
    let (outcomes, _) = elect_leaders(&image, ElectionType::Preferred, Some(&t0()));
    assert_eq!(
        outcomes[0].result,
        Err(ElectionError::PreferredNotAvailable)
    );
    image = apply(&image, &[restart(1)]);
    image = apply(&image, &add(&image, &p).expect("back after a restart"));
    image = apply(&image, &preferred_leader_moves(&image));
    assert_eq!(part(&image).leader, 1);
}

/// A raw `ReplicasOffline` (without its ISR changes) leaves the replica in the ISR:
/// every choice still passes it over.
fn offline_in_isr(node: i32) -> MetadataImage {
    apply(
        &cluster(),
        &[MetadataRecord::ReplicasOffline {
            node_id: node,
            incarnation: inc(node),
            partitions: vec![(T, 0)],
        }],
    )
}

#[test]
fn every_choice_passes_an_offline_isr_member_over() {
    // The leader itself: elected away from, by the controller's sweep.
    let image = offline_in_isr(1);
    let image = apply(&image, &elect_offline_leaders(&image));
    assert_eq!(part(&image).leader, 2);
    // Not moved back to as the preferred replica.
    assert!(preferred_leader_moves(&image).is_empty());
    let (outcomes, _) = elect_leaders(&image, ElectionType::Preferred, Some(&t0()));
    assert_eq!(
        outcomes[0].result,
        Err(ElectionError::PreferredNotAvailable)
    );
    // An ISR keeping it is refused; one without it is taken.
    let p = part(&image);
    assert_eq!(
        alter_isr(
            &image,
            T,
            0,
            2,
            p.leader_epoch,
            p.partition_epoch,
            &[1, 2, 3]
        ),
        Err(AlterIsrError::IneligibleReplica {
            replica: 1,
            reason: "offline"
        })
    );
    assert!(alter_isr(&image, T, 0, 2, p.leader_epoch, p.partition_epoch, &[2, 3]).is_ok());
    // A damaged leader does not hand over to it.
    let image = offline_in_isr(2);
    let records = super::super::resign_leadership(&image, T, 0, 1, 0).expect("resigns");
    assert_eq!(part(&apply(&image, &records)).leader, 3);
}

#[test]
fn a_reassignment_does_not_move_leadership_to_an_offline_replica() {
    // 1 leads and leaves; 2 comes first in the target but its replica is offline.
    let image = offline_in_isr(2);
    let records = alter_reassignment(&image, "t", 0, Some(&[2, 3]), true).expect("moves");
    let image = apply(&image, &records);
    let p = part(&image);
    assert_eq!(p.replicas, vec![2, 3]);
    assert_eq!(p.leader, 3);
}

/// One controller input on the three-broker cluster.
#[derive(Clone, Debug)]
enum Op {
    Fence(i32),
    Register(i32),
    Restart(i32),
    Offline(i32, Vec<i32>),
    ElectOffline,
    Preferred,
    Unclean,
    /// The leader adds every replica back to the ISR (refused if one is ineligible).
    Expand(i32),
}

fn op() -> impl Strategy<Value = Op> {
    let node = 1i32..4;
    prop_oneof![
        node.clone().prop_map(Op::Fence),
        node.clone().prop_map(Op::Register),
        node.clone().prop_map(Op::Restart),
        (node, prop::collection::vec(0i32..3, 1..3)).prop_map(|(n, ps)| Op::Offline(n, ps)),
        Just(Op::ElectOffline),
        Just(Op::Preferred),
        Just(Op::Unclean),
        (0i32..3).prop_map(Op::Expand),
    ]
}

/// Topic "t" with partitions 0..3 on rotating replicas; unclean elections allowed.
fn three_partitions() -> MetadataImage {
    let mut image = unclean_cluster();
    for (partition, replicas) in [(1, vec![2, 3, 1]), (2, vec![3, 1, 2])] {
        image = apply(
            &image,
            &[MetadataRecord::CreatePartition {
                topic_id: T,
                partition,
                leader: replicas[0],
                isr: replicas.clone(),
                replicas,
                leader_epoch: 0,
            }],
        );
    }
    image
}

fn step(image: &MetadataImage, op: &Op) -> Vec<MetadataRecord> {
    match op {
        Op::Fence(n) => fence_broker(image, *n),
        Op::Register(n) => {
            let mut r = register(*n);
            if let (MetadataRecord::RegisterBroker { incarnation, .. }, Some(b)) =
                (&mut r, image.broker(*n))
            {
                *incarnation = b.incarnation;
            }
            vec![r]
        }
        Op::Restart(n) => {
            let current = image.broker(*n).map_or(0, |b| b.incarnation.as_u128());
            let MetadataRecord::RegisterBroker {
                node_id,
                host,
                port,
                ..
            } = register(*n)
            else {
                unreachable!()
            };
            vec![MetadataRecord::RegisterBroker {
                node_id,
                host,
                port,
                rack: None,
                incarnation: Uuid::from_u128(current + 10),
                endpoints: Vec::new(),
            }]
        }
        Op::Offline(n, ps) => {
            let pairs: Vec<(Uuid, i32)> = ps.iter().map(|&p| (T, p)).collect();
            let incarnation = image.broker(*n).map_or(Uuid::nil(), |b| b.incarnation);
            take_replicas_offline(image, *n, incarnation, &pairs)
        }
        Op::ElectOffline => elect_offline_leaders(image),
        Op::Preferred => preferred_leader_moves(image),
        Op::Unclean => elect_leaders(image, ElectionType::Unclean, None).1,
        Op::Expand(partition) => {
            let t = image.topic("t").expect("topic");
            let p = &t.partitions[*partition as usize];
            alter_isr(
                image,
                T,
                p.partition,
                p.leader,
                p.leader_epoch,
                p.partition_epoch,
                &p.replicas,
            )
            .unwrap_or_default()
        }
    }
}

proptest! {
    #[test]
    fn an_offline_replica_never_leads_and_never_shares_an_isr_with_a_leader(
        ops in prop::collection::vec(op(), 0..40)
    ) {
        let mut image = three_partitions();
        for op in &ops {
            let records = step(&image, op);
            image = image
                .applied(records.iter())
                .map_err(|e| TestCaseError::fail(format!("{op:?}: {e}")))?;
            for p in &image.topic("t").expect("topic").partitions {
                prop_assert!(!p.isr.is_empty(), "{op:?}: empty ISR {p:?}");
                if p.leader == -1 {
                    continue;
                }
                prop_assert!(p.isr.contains(&p.leader), "{op:?}: leader outside the ISR");
                prop_assert!(
                    is_eligible(&image, p.leader, T, p.partition),
                    "{op:?}: ineligible leader {p:?}"
                );
                for &r in &p.isr {
                    prop_assert!(
                        !image.is_replica_offline(r, T, p.partition),
                        "{op:?}: offline replica {r} in the ISR of a led partition {p:?}"
                    );
                }
            }
            // Every report is idempotent.
            if let Op::Offline(..) = op {
                prop_assert!(step(&image, op).is_empty(), "{op:?}: not idempotent");
            }
        }
    }
}
