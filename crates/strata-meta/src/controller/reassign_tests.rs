use uuid::Uuid;

use super::*;

const T: Uuid = Uuid::from_u128(7);

fn image_with(replicas: &[i32]) -> MetadataImage {
    let mut records: Vec<MetadataRecord> = (1..=4)
        .map(|n| MetadataRecord::RegisterBroker {
            node_id: n,
            host: "h".into(),
            port: 9000 + n,
            rack: None,
            incarnation: Uuid::from_u128(n as u128),
            endpoints: Vec::new(),
        })
        .collect();
    records.push(MetadataRecord::CreateTopic {
        name: "t".into(),
        topic_id: T,
        configs: Default::default(),
    });
    records.push(MetadataRecord::CreatePartition {
        topic_id: T,
        partition: 0,
        replicas: replicas.to_vec(),
        isr: replicas.to_vec(),
        leader: replicas[0],
        leader_epoch: 0,
    });
    MetadataImage::new().applied(&records).expect("valid setup")
}

fn apply(image: &MetadataImage, records: &[MetadataRecord]) -> MetadataImage {
    let next = image.applied(records).expect("decided records apply");
    check_invariants(&next);
    next
}

fn check_invariants(image: &MetadataImage) {
    for t in image.topics() {
        for p in &t.partitions {
            assert!(!p.isr.is_empty(), "ISR never empty: {p:?}");
            assert!(
                p.isr.iter().all(|r| p.replicas.contains(r)),
                "ISR ⊆ replicas"
            );
            assert!(p.leader == -1 || p.isr.contains(&p.leader), "leader ∈ ISR");
        }
    }
}

fn part(image: &MetadataImage) -> PartitionImage {
    image.partition("t", 0).cloned().expect("partition")
}

fn pending(image: &MetadataImage) -> Option<Reassignment> {
    image
        .topic("t")
        .and_then(|t| t.reassignments.get(&0).cloned())
}

/// The leader (`by`) asks for `isr` and the controller completes what it can, as the
/// broker's controller does on every AlterPartition.
fn expand(image: &MetadataImage, by: i32, isr: &[i32]) -> MetadataImage {
    let p = part(image);
    let records = crate::controller::election::alter_isr(
        image,
        T,
        0,
        by,
        p.leader_epoch,
        p.partition_epoch,
        isr,
    )
    .expect("ISR change accepted");
    let after = apply(image, &records);
    match complete_reassignment(&after, T, 0) {
        Some(done) => apply(&after, &[done]),
        None => after,
    }
}

#[test]
fn a_move_adds_the_target_then_completes_once_all_are_in_sync() {
    let image = image_with(&[1]);
    let records = alter_reassignment(&image, "t", 0, Some(&[2, 3]), true).expect("accepted");
    let moving = apply(&image, &records);
    let p = part(&moving);
    assert_eq!(p.replicas, vec![2, 3, 1]);
    assert_eq!(p.isr, vec![1]);
    assert_eq!(p.leader, 1);
    assert_eq!(
        p.leader_epoch, 1,
        "a replica-set change bumps the leader epoch"
    );
    assert_eq!(
        pending(&moving),
        Some(Reassignment {
            adding: vec![2, 3],
            removing: vec![1],
        })
    );
    // One target replica in sync is not enough.
    let half = expand(&moving, 1, &[1, 2]);
    assert!(pending(&half).is_some());
    assert_eq!(part(&half).replicas, vec![2, 3, 1]);
    // All of them: completed, the leader moves to the first target replica.
    let done = expand(&half, 1, &[1, 2, 3]);
    let p = part(&done);
    assert_eq!(pending(&done), None);
    assert_eq!(p.replicas, vec![2, 3]);
    assert_eq!(p.isr, vec![2, 3]);
    assert_eq!(p.leader, 2);
    assert_eq!(p.leader_epoch, 2);
    // The completed state survives a snapshot.
    let rebuilt = MetadataImage::new()
        .applied(done.snapshot_records().iter())
        .expect("snapshot applies");
    assert_eq!(rebuilt, done);
}

#[test]
fn a_pending_move_survives_a_snapshot() {
    let image = image_with(&[1, 2]);
    let records = alter_reassignment(&image, "t", 0, Some(&[3, 4]), true).expect("accepted");
    let moving = apply(&image, &records);
    let rebuilt = MetadataImage::new()
        .applied(moving.snapshot_records().iter())
        .expect("snapshot applies");
    assert_eq!(rebuilt, moving);
    assert!(pending(&rebuilt).is_some());
}

#[test]
fn the_leader_stays_when_it_is_part_of_the_target() {
    let image = image_with(&[1, 2]);
    let moving = apply(
        &image,
        &alter_reassignment(&image, "t", 0, Some(&[3, 1]), true).expect("accepted"),
    );
    assert_eq!(part(&moving).replicas, vec![3, 1, 2]);
    let done = expand(&moving, 1, &[1, 2, 3]);
    let p = part(&done);
    assert_eq!((p.replicas.clone(), p.leader), (vec![3, 1], 1));
    assert_eq!(p.isr, vec![1, 3]);
}

#[test]
fn shrinking_or_reordering_in_sync_replicas_completes_at_once() {
    let image = image_with(&[1, 2, 3]);
    let records = alter_reassignment(&image, "t", 0, Some(&[3, 2]), true).expect("accepted");
    let done = apply(&image, &records);
    let p = part(&done);
    assert_eq!(pending(&done), None);
    assert_eq!(p.replicas, vec![3, 2]);
    assert_eq!(
        p.leader, 3,
        "the removed leader hands over to the first target"
    );
    let same = alter_reassignment(&done, "t", 0, Some(&[3, 2]), true).expect("accepted");
    assert!(same.is_empty(), "the current assignment changes nothing");
}

#[test]
fn cancel_reverts_to_the_original_replicas() {
    let image = image_with(&[1]);
    let moving = apply(
        &image,
        &alter_reassignment(&image, "t", 0, Some(&[2, 3]), true).expect("accepted"),
    );
    let half = expand(&moving, 1, &[1, 2]);
    let cancelled = apply(
        &half,
        &alter_reassignment(&half, "t", 0, None, true).expect("cancel accepted"),
    );
    let p = part(&cancelled);
    assert_eq!(pending(&cancelled), None);
    assert_eq!(
        (p.replicas.clone(), p.isr.clone(), p.leader),
        (vec![1], vec![1], 1)
    );
    assert_eq!(
        alter_reassignment(&cancelled, "t", 0, None, true)
            .expect_err("nothing to cancel")
            .kafka_code(),
        85
    );
}

#[test]
fn a_new_target_replaces_a_pending_one() {
    let image = image_with(&[1]);
    let moving = apply(
        &image,
        &alter_reassignment(&image, "t", 0, Some(&[2, 3]), true).expect("accepted"),
    );
    let half = expand(&moving, 1, &[1, 2]);
    let again = apply(
        &half,
        &alter_reassignment(&half, "t", 0, Some(&[2, 4]), true).expect("accepted"),
    );
    let p = part(&again);
    assert_eq!(p.replicas, vec![2, 4, 1]);
    assert_eq!(p.isr, vec![1, 2], "broker 3 left; 2 stays in sync");
    assert_eq!(
        pending(&again),
        Some(Reassignment {
            adding: vec![2, 4],
            removing: vec![1],
        })
    );
}

#[test]
fn bad_assignments_are_refused() {
    let image = image_with(&[1]);
    let code = |target: Option<&[i32]>, partition: i32, topic: &str| {
        alter_reassignment(&image, topic, partition, target, true)
            .expect_err("refused")
            .kafka_code()
    };
    assert_eq!(code(Some(&[]), 0, "t"), 39);
    assert_eq!(code(Some(&[2, 2]), 0, "t"), 39);
    assert_eq!(code(Some(&[2, 9]), 0, "t"), 39);
    assert_eq!(code(Some(&[2]), 1, "t"), 3);
    assert_eq!(code(Some(&[2]), 0, "nope"), 3);
    assert_eq!(code(None, 0, "t"), 85);
    let rf = alter_reassignment(&image, "t", 0, Some(&[2, 3]), false).expect_err("refused");
    assert_eq!(rf.kafka_code(), 38);
    assert!(alter_reassignment(&image, "t", 0, Some(&[2]), false).is_ok());
}

#[test]
fn nothing_completes_while_a_target_replica_is_out_of_sync() {
    let image = image_with(&[1, 2]);
    let moving = apply(
        &image,
        &alter_reassignment(&image, "t", 0, Some(&[2, 3]), true).expect("accepted"),
    );
    assert!(complete_reassignment(&moving, T, 0).is_none());
    assert!(complete_reassignments(&moving).is_empty());
    // A fenced old replica leaves the ISR; still waiting for 3.
    let fenced = apply(
        &moving,
        &crate::controller::election::fence_broker(&moving, 1),
    );
    assert_eq!(part(&fenced).leader, 2);
    assert!(complete_reassignments(&fenced).is_empty());
    let done = expand(&fenced, 2, &[2, 3]);
    assert_eq!(part(&done).replicas, vec![2, 3]);
    assert_eq!(pending(&done), None);
}

#[test]
fn apply_refuses_inconsistent_reassign_records() {
    let image = image_with(&[1]);
    let bad = MetadataRecord::ReassignPartition {
        topic_id: T,
        partition: 0,
        replicas: vec![1, 2],
        isr: vec![1],
        leader: 1,
        leader_epoch: 1,
        partition_epoch: 1,
        adding_replicas: vec![3],
        removing_replicas: Vec::new(),
    };
    assert!(image.applied([&bad]).is_err(), "adding a non-replica");
    let leader_outside_isr = MetadataRecord::ReassignPartition {
        topic_id: T,
        partition: 0,
        replicas: vec![1, 2],
        isr: vec![1],
        leader: 2,
        leader_epoch: 1,
        partition_epoch: 1,
        adding_replicas: vec![2],
        removing_replicas: Vec::new(),
    };
    assert!(image.applied([&leader_outside_isr]).is_err());
}
