//! The ElectLeaders rules, and the automatic unclean election a topic may allow.

use std::collections::BTreeMap;

use super::*;
use crate::controller::election::fixtures::*;
use crate::controller::election::{elect_offline_leaders, fence_broker};

fn cluster(configs: BTreeMap<String, String>) -> MetadataImage {
    cluster_with(configs)
}

fn t0() -> Vec<(String, i32)> {
    vec![("t".to_string(), 0)]
}

fn results(outcomes: &[ElectionOutcome]) -> Vec<Result<(), ElectionError>> {
    outcomes.iter().map(|o| o.result).collect()
}

/// Leader 2 (1 was fenced and came back), ISR [2, 3] plus 1 once `rejoined`.
fn moved_off_preferred(rejoined: bool) -> MetadataImage {
    let base = cluster(BTreeMap::new());
    let mut image = apply(&base, &fence_broker(&base, 1));
    image = apply(&image, &[register(1)]);
    if rejoined {
        let p = part(&image);
        let expand = crate::controller::election::alter_isr(
            &image,
            T,
            0,
            2,
            p.leader_epoch,
            p.partition_epoch,
            &[2, 3, 1],
        )
        .expect("expand");
        image = apply(&image, &expand);
    }
    image
}

#[test]
fn preferred_election_moves_leadership_back_to_the_first_replica() {
    let image = moved_off_preferred(true);
    let before = part(&image);
    let (outcomes, records) = elect_leaders(&image, ElectionType::Preferred, Some(&t0()));
    assert_eq!(results(&outcomes), vec![Ok(())]);
    let p = part(&apply(&image, &records));
    assert_eq!(p.leader, 1);
    assert_eq!(p.leader_epoch, before.leader_epoch + 1);
    assert_eq!(p.isr, before.isr, "a preferred election keeps the ISR");
    // Asked again: nothing to do.
    let image = apply(&image, &records);
    let (outcomes, records) = elect_leaders(&image, ElectionType::Preferred, Some(&t0()));
    assert_eq!(results(&outcomes), vec![Err(ElectionError::NotNeeded)]);
    assert!(records.is_empty());
}

#[test]
fn preferred_election_needs_the_preferred_replica_alive_and_in_the_isr() {
    // Alive but not back in the ISR yet.
    let image = moved_off_preferred(false);
    let (outcomes, records) = elect_leaders(&image, ElectionType::Preferred, Some(&t0()));
    assert_eq!(
        results(&outcomes),
        vec![Err(ElectionError::PreferredNotAvailable)]
    );
    assert!(records.is_empty());
    // In the ISR (the last member standing) but fenced.
    let mut image = cluster(BTreeMap::new());
    for node in [3, 2, 1] {
        image = apply(&image, &fence_broker(&image, node));
    }
    let (outcomes, _) = elect_leaders(&image, ElectionType::Preferred, Some(&t0()));
    assert_eq!(
        results(&outcomes),
        vec![Err(ElectionError::PreferredNotAvailable)]
    );
}

#[test]
fn unknown_partitions_are_reported_and_duplicates_decided_once() {
    let image = moved_off_preferred(true);
    let asked = vec![
        ("t".to_string(), 0),
        ("t".to_string(), 5),
        ("nope".to_string(), 0),
        ("t".to_string(), 0),
    ];
    let (outcomes, records) = elect_leaders(&image, ElectionType::Preferred, Some(&asked));
    assert_eq!(
        results(&outcomes),
        vec![
            Ok(()),
            Err(ElectionError::UnknownPartition),
            Err(ElectionError::UnknownPartition),
            Ok(()),
        ]
    );
    assert_eq!(records.len(), 1, "one record for the partition named twice");
}

#[test]
fn every_partition_reports_only_what_happened() {
    let image = cluster(BTreeMap::new());
    let (outcomes, records) = elect_leaders(&image, ElectionType::Preferred, None);
    assert!(outcomes.is_empty(), "{outcomes:?}");
    assert!(records.is_empty());
    let image = moved_off_preferred(true);
    let (outcomes, records) = elect_leaders(&image, ElectionType::Preferred, None);
    assert_eq!(outcomes.len(), 1);
    assert_eq!(
        (outcomes[0].topic.as_str(), outcomes[0].partition),
        ("t", 0)
    );
    assert_eq!(records.len(), 1);
}

/// Replica 1 alone in the ISR and fenced; 2 and 3 alive outside it: offline.
fn offline_with_live_replicas(configs: BTreeMap<String, String>) -> MetadataImage {
    let mut image = cluster(configs);
    for node in [3, 2, 1] {
        image = apply(&image, &fence_broker(&image, node));
    }
    apply(&image, &[register(3), register(2)])
}

#[test]
fn unclean_election_elects_a_live_replica_outside_the_isr() {
    let image = offline_with_live_replicas(BTreeMap::new());
    assert_eq!(part(&image).leader, -1);
    assert!(
        elect_offline_leaders(&image).is_empty(),
        "not without the topic's consent"
    );
    let before = part(&image);
    let (outcomes, records) = elect_leaders(&image, ElectionType::Unclean, Some(&t0()));
    assert_eq!(results(&outcomes), vec![Ok(())]);
    let image = apply(&image, &records);
    let p = part(&image);
    assert_eq!(p.leader, 2, "the first live replica in preference order");
    assert_eq!(p.isr, vec![2], "the ISR is the new leader alone");
    assert_eq!(p.leader_epoch, before.leader_epoch + 1);
    // It has a leader now.
    let (outcomes, _) = elect_leaders(&image, ElectionType::Unclean, Some(&t0()));
    assert_eq!(results(&outcomes), vec![Err(ElectionError::NotNeeded)]);
}

#[test]
fn unclean_election_prefers_a_live_isr_member_and_needs_some_live_replica() {
    // The last ISR member is back: the election is clean.
    let mut image = offline_with_live_replicas(BTreeMap::new());
    image = apply(&image, &[register(1)]);
    let (outcomes, records) = elect_leaders(&image, ElectionType::Unclean, Some(&t0()));
    assert_eq!(results(&outcomes), vec![Ok(())]);
    let p = part(&apply(&image, &records));
    assert_eq!((p.leader, p.isr), (1, vec![1]));
    // Nobody alive.
    let mut image = cluster(BTreeMap::new());
    for node in [3, 2, 1] {
        image = apply(&image, &fence_broker(&image, node));
    }
    let (outcomes, records) = elect_leaders(&image, ElectionType::Unclean, Some(&t0()));
    assert_eq!(
        results(&outcomes),
        vec![Err(ElectionError::NoEligibleLeader)]
    );
    assert!(records.is_empty());
}

#[test]
fn a_topic_allowing_unclean_elections_gets_them_automatically() {
    let configs = BTreeMap::from([(
        "unclean.leader.election.enable".to_string(),
        "true".to_string(),
    )]);
    let image = offline_with_live_replicas(configs);
    let image = apply(&image, &elect_offline_leaders(&image));
    let p = part(&image);
    assert_eq!((p.leader, p.isr), (2, vec![2]));
}

#[test]
fn election_types_come_from_kafka_codes() {
    assert_eq!(ElectionType::from_code(0), Some(ElectionType::Preferred));
    assert_eq!(ElectionType::from_code(1), Some(ElectionType::Unclean));
    assert_eq!(ElectionType::from_code(2), None);
}
