use std::collections::BTreeMap;

use proptest::prelude::*;
use uuid::Uuid;

use super::*;

/// Deterministic ids 1, 2, 3, ... (all usable).
fn counter_ids() -> impl FnMut() -> Uuid {
    let mut n = 0u128;
    move || {
        n += 1;
        Uuid::from_u128(n)
    }
}

pub(super) fn req(name: &str, partitions: i32, rf: i16) -> CreateTopicRequest {
    CreateTopicRequest {
        num_partitions: partitions,
        replication_factor: rf,
        ..CreateTopicRequest::new(name)
    }
}

pub(super) fn defaults() -> BrokerDefaults {
    BrokerDefaults {
        num_partitions: 3,
        default_replication_factor: 2,
    }
}

/// Creates topics on `image` and applies the records.
pub(super) fn create(
    image: &mut MetadataImage,
    requests: &[CreateTopicRequest],
) -> Vec<Result<(), TopicError>> {
    let results = create_topics(
        image,
        requests,
        &defaults(),
        &[1, 2, 3],
        &mut random_topic_id,
    );
    results
        .into_iter()
        .map(|r| {
            r.map(|records| {
                *image = image.applied(&records).unwrap();
            })
        })
        .collect()
}

fn one(
    image: &MetadataImage,
    request: CreateTopicRequest,
) -> Result<Vec<MetadataRecord>, TopicError> {
    create_topics(
        image,
        &[request],
        &defaults(),
        &[1, 2, 3],
        &mut counter_ids(),
    )
    .pop()
    .unwrap()
}

#[test]
fn topic_name_table() {
    let max = "a".repeat(249);
    let too_long = "a".repeat(250);
    let ok = [
        "a",
        "orders",
        "my.topic_name-1",
        "...",
        "-",
        "_x",
        max.as_str(),
        "A.b",
    ];
    for name in ok {
        assert_eq!(validate_topic_name(name), Ok(()), "{name}");
    }
    let bad = [
        "",
        ".",
        "..",
        too_long.as_str(),
        "a b",
        "a/b",
        "ü",
        "topic!",
        "a\0",
        "a:b",
    ];
    for name in bad {
        let err = validate_topic_name(name).unwrap_err();
        assert_eq!(err.kafka_code(), 17, "{name}");
        assert!(!err.message().is_empty());
    }
    assert!(validate_topic_name(&too_long)
        .unwrap_err()
        .message()
        .contains("249"));
}

#[test]
fn create_with_defaults_produces_applicable_records() {
    let image = MetadataImage::new();
    let records = one(&image, CreateTopicRequest::new("orders")).unwrap();
    assert_eq!(records.len(), 4);
    let MetadataRecord::CreateTopic {
        name,
        topic_id,
        configs,
    } = &records[0]
    else {
        panic!("first record must create the topic: {records:?}");
    };
    assert_eq!((name.as_str(), configs.len()), ("orders", 0));
    assert!(!topic_id.is_nil());
    let next = image.applied(&records).unwrap();
    let t = next.topic("orders").unwrap();
    assert_eq!(t.partitions.len(), 3);
    for p in &t.partitions {
        assert_eq!(p.replicas.len(), 2);
        assert_eq!(p.leader, p.replicas[0]);
        assert_eq!(p.isr, p.replicas);
        assert_eq!(p.leader_epoch, 0);
    }
}

#[test]
fn already_exists_duplicates_and_collisions() {
    let mut image = MetadataImage::new();
    assert_eq!(create(&mut image, &[req("a.b", 1, 1)]), vec![Ok(())]);
    assert_eq!(one(&image, req("a.b", 1, 1)).unwrap_err().kafka_code(), 36);
    assert_eq!(one(&image, req("a_b", 1, 1)).unwrap_err().kafka_code(), 17);
    let results = create(
        &mut image,
        &[req("x", 1, 1), req("y", 1, 1), req("x", 1, 1)],
    );
    assert_eq!(results[0].as_ref().unwrap_err().kafka_code(), 42);
    assert_eq!(results[1], Ok(()));
    assert_eq!(results[2].as_ref().unwrap_err().kafka_code(), 42);
    // Within one request, the later topic sees the earlier one.
    let results = create(&mut image, &[req("p.q", 1, 1), req("p_q", 1, 1)]);
    assert_eq!(results[0], Ok(()));
    assert_eq!(results[1].as_ref().unwrap_err().kafka_code(), 17);
    assert!(image.topic("x").is_none());
}

#[test]
fn partition_and_replication_counts() {
    let image = MetadataImage::new();
    let count = |r: &[MetadataRecord]| r.len() - 1;
    assert_eq!(count(&one(&image, req("t", -1, 1)).unwrap()), 3);
    assert_eq!(count(&one(&image, req("t", 5, 1)).unwrap()), 5);
    for n in [0, -2, i32::MIN] {
        assert_eq!(
            one(&image, req("t", n, 1)).unwrap_err().kafka_code(),
            37,
            "{n}"
        );
    }
    assert_eq!(
        one(&image, req("t", i32::MAX, 1)).unwrap_err().kafka_code(),
        44
    );
    // One topic of 100,000 partitions in one request; one more is refused.
    assert_eq!(count(&one(&image, req("t", 100_000, 1)).unwrap()), 100_000);
    assert_eq!(
        one(&image, req("t", 100_001, 1)).unwrap_err().kafka_code(),
        44
    );
    let rf = |r: &[MetadataRecord]| match &r[1] {
        MetadataRecord::CreatePartition { replicas, .. } => replicas.len(),
        other => panic!("{other:?}"),
    };
    assert_eq!(rf(&one(&image, req("t", 1, -1)).unwrap()), 2);
    assert_eq!(rf(&one(&image, req("t", 1, 3)).unwrap()), 3);
    for r in [0, -2, 4, i16::MAX] {
        assert_eq!(
            one(&image, req("t", 1, r)).unwrap_err().kafka_code(),
            38,
            "{r}"
        );
    }
    let none_live = create_topics(
        &image,
        &[req("t", 1, 1)],
        &defaults(),
        &[],
        &mut counter_ids(),
    );
    assert_eq!(none_live[0].as_ref().unwrap_err().kafka_code(), 38);
}

#[test]
fn configs_are_validated() {
    let image = MetadataImage::new();
    let with = |pairs: &[(&str, Option<&str>)]| {
        let mut r = req("t", 1, 1);
        r.configs = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(String::from)))
            .collect();
        one(&image, r)
    };
    let records = with(&[
        ("retention.ms", Some(" 1000 ")),
        ("cleanup.policy", Some("compact")),
    ])
    .unwrap();
    let MetadataRecord::CreateTopic { configs, .. } = &records[0] else {
        panic!()
    };
    assert_eq!(
        configs.get("retention.ms").map(String::as_str),
        Some("1000")
    );
    assert_eq!(
        configs.get("cleanup.policy").map(String::as_str),
        Some("compact")
    );
    for bad in [
        vec![("nope", Some("1"))],
        vec![("retention.ms", Some("forever"))],
        vec![("segment.bytes", Some("1"))],
        vec![("retention.ms", None)],
        vec![
            ("min.compaction.lag.ms", Some("10")),
            ("max.compaction.lag.ms", Some("1")),
        ],
    ] {
        let err = with(&bad).unwrap_err();
        assert_eq!(err.kafka_code(), 40, "{bad:?}");
        assert!(err.message().contains(bad[0].0), "{}", err.message());
    }
}

fn manual(assign: &[(i32, &[i32])]) -> CreateTopicRequest {
    CreateTopicRequest {
        assignments: assign
            .iter()
            .map(|(p, b)| ReplicaAssignment {
                partition: *p,
                broker_ids: b.to_vec(),
            })
            .collect(),
        ..CreateTopicRequest::new("m")
    }
}

#[test]
fn manual_assignments() {
    let image = MetadataImage::new();
    let records = one(&image, manual(&[(1, &[3, 1]), (0, &[2, 3])])).unwrap();
    let next = image.applied(&records).unwrap();
    let t = next.topic("m").unwrap();
    assert_eq!(t.partitions[0].replicas, vec![2, 3]);
    assert_eq!(t.partitions[1].replicas, vec![3, 1]);
    assert_eq!(t.partitions[1].leader, 3);

    type Assign<'a> = &'a [(i32, &'a [i32])];
    let cases: Vec<(Assign, i16)> = vec![
        (&[(0, &[1]), (2, &[2])], 39),    // gap
        (&[(1, &[1])], 39),               // does not start at 0
        (&[(0, &[1]), (0, &[2])], 39),    // partition twice
        (&[(0, &[1, 1])], 39),            // broker twice
        (&[(0, &[9])], 39),               // not live
        (&[(0, &[])], 39),                // empty
        (&[(0, &[1, 2]), (1, &[3])], 39), // inconsistent rf
    ];
    for (assign, code) in cases {
        assert_eq!(
            one(&image, manual(assign)).unwrap_err().kafka_code(),
            code,
            "{assign:?}"
        );
    }
    let mut both = manual(&[(0, &[1])]);
    both.num_partitions = 1;
    assert_eq!(one(&image, both).unwrap_err().kafka_code(), 42);
}

#[test]
fn topic_ids_are_usable() {
    let image = MetadataImage::new();
    let dash_first = Uuid::from_bytes([0xF8; 16]);
    let mut queue = vec![Uuid::from_u128(5), dash_first, Uuid::nil()];
    let mut supplier = move || queue.pop().unwrap_or(Uuid::from_u128(6));
    let records = create_topics(&image, &[req("t", 1, 1)], &defaults(), &[1], &mut supplier)
        .pop()
        .unwrap()
        .unwrap();
    assert!(
        matches!(&records[0], MetadataRecord::CreateTopic { topic_id, .. } if *topic_id == Uuid::from_u128(5))
    );
    // An id that is already taken is not reused.
    let next = image.applied(&records).unwrap();
    let mut same = || Uuid::from_u128(5);
    let err = create_topics(&next, &[req("u", 1, 1)], &defaults(), &[1], &mut same)
        .pop()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kafka_code(), -1);
    // The real supplier gives v4 ids.
    let id = random_topic_id();
    assert_eq!(id.get_version_num(), 4);
}

#[test]
fn leaders_spread_across_three_brokers() {
    let mut image = MetadataImage::new();
    assert_eq!(create(&mut image, &[req("big", 6, 2)]), vec![Ok(())]);
    let mut leaders = BTreeMap::new();
    let mut replicas = BTreeMap::new();
    for p in &image.topic("big").unwrap().partitions {
        *leaders.entry(p.leader).or_insert(0) += 1;
        for r in &p.replicas {
            *replicas.entry(*r).or_insert(0) += 1;
        }
    }
    assert_eq!(leaders, BTreeMap::from([(1, 2), (2, 2), (3, 2)]));
    assert_eq!(replicas, BTreeMap::from([(1, 4), (2, 4), (3, 4)]));
    // Single-partition topics rotate their leader too.
    let names = ["s1", "s2", "s3"];
    let results = create(&mut image, &names.map(|n| req(n, 1, 1)));
    assert!(results.iter().all(Result::is_ok));
    let mut small: Vec<i32> = names
        .iter()
        .map(|n| image.partition(n, 0).unwrap().leader)
        .collect();
    small.sort();
    assert_eq!(small, vec![1, 2, 3]);
}

proptest! {
    #[test]
    fn placement_is_valid_and_balanced(
        n in 1usize..8, rf_seed in 0usize..8, count in 0usize..40, start in 0usize..1000
    ) {
        let brokers: Vec<i32> = (0..n as i32).map(|b| b * 10).collect();
        let rf = 1 + rf_seed % n;
        let placed = place_replicas(&brokers, count, rf, start);
        prop_assert_eq!(placed.len(), count);
        let mut leaders = vec![0usize; n];
        for replicas in &placed {
            prop_assert_eq!(replicas.len(), rf);
            for (i, r) in replicas.iter().enumerate() {
                prop_assert!(brokers.contains(r));
                prop_assert!(!replicas[..i].contains(r));
            }
            leaders[(replicas[0] / 10) as usize] += 1;
        }
        let (min, max) = (leaders.iter().min().unwrap(), leaders.iter().max().unwrap());
        prop_assert!(max - min <= 1, "{:?}", leaders);
    }
}

#[test]
fn placement_refuses_impossible_requests() {
    assert!(place_replicas(&[1, 2], 3, 3, 0).is_empty());
    assert!(place_replicas(&[1, 2], 3, 0, 0).is_empty());
}

#[test]
fn create_partitions_rules() {
    let mut image = MetadataImage::new();
    assert_eq!(create(&mut image, &[req("t", 2, 2)]), vec![Ok(())]);
    let live = [1, 2, 3];
    assert_eq!(
        create_partitions(&image, "t", 2, None, &live)
            .unwrap_err()
            .kafka_code(),
        37
    );
    assert_eq!(
        create_partitions(&image, "t", 1, None, &live)
            .unwrap_err()
            .kafka_code(),
        37
    );
    assert_eq!(
        create_partitions(&image, "nope", 5, None, &live)
            .unwrap_err()
            .kafka_code(),
        3
    );
    assert_eq!(
        create_partitions(&image, "t", 5, None, &[1])
            .unwrap_err()
            .kafka_code(),
        38
    );
    assert_eq!(
        create_partitions(&image, "t", i32::MAX, None, &live)
            .unwrap_err()
            .kafka_code(),
        44
    );

    let records = create_partitions(&image, "t", 4, None, &live).unwrap();
    image = image.applied(&records).unwrap();
    let t = image.topic("t").unwrap();
    assert_eq!(t.partitions.len(), 4);
    assert!(t.partitions.iter().all(|p| p.replicas.len() == 2));

    let wrong_count = [vec![1, 2]];
    assert_eq!(
        create_partitions(&image, "t", 6, Some(&wrong_count), &live)
            .unwrap_err()
            .kafka_code(),
        39
    );
    let wrong_rf = [vec![1]];
    assert_eq!(
        create_partitions(&image, "t", 5, Some(&wrong_rf), &live)
            .unwrap_err()
            .kafka_code(),
        39
    );
    let dead = [vec![1, 7]];
    assert_eq!(
        create_partitions(&image, "t", 5, Some(&dead), &live)
            .unwrap_err()
            .kafka_code(),
        39
    );
    let good = [vec![3, 1]];
    let records = create_partitions(&image, "t", 5, Some(&good), &live).unwrap();
    image = image.applied(&records).unwrap();
    assert_eq!(image.partition("t", 4).unwrap().replicas, vec![3, 1]);
}

#[test]
fn delete_and_recreate() {
    let mut image = MetadataImage::new();
    assert_eq!(create(&mut image, &[req("t", 2, 1)]), vec![Ok(())]);
    let old_id = image.topic("t").unwrap().topic_id;
    let names = ["t".to_string(), "missing".to_string()];
    let results = delete_topics(&image, &names);
    assert_eq!(results[1].as_ref().unwrap_err().kafka_code(), 3);
    let dup = delete_topics(&image, &["t".to_string(), "t".to_string()]);
    assert!(dup
        .iter()
        .all(|r| r.as_ref().unwrap_err().kafka_code() == 42));
    image = image.applied(results[0].as_ref().unwrap()).unwrap();
    assert!(image.topic("t").is_none());
    assert_eq!(
        delete_topic_by_id(&image, old_id).unwrap_err().kafka_code(),
        100
    );

    assert_eq!(create(&mut image, &[req("t", 1, 1)]), vec![Ok(())]);
    let new_id = image.topic("t").unwrap().topic_id;
    assert_ne!(new_id, old_id);
    let records = delete_topic_by_id(&image, new_id).unwrap();
    assert!(image.applied(&records).unwrap().topic("t").is_none());
}

#[test]
fn error_codes() {
    let m = String::new;
    let table = [
        (TopicError::UnknownTopicOrPartition(m()), 3),
        (TopicError::InvalidTopic(m()), 17),
        (TopicError::TopicAlreadyExists(m()), 36),
        (TopicError::InvalidPartitions(m()), 37),
        (TopicError::InvalidReplicationFactor(m()), 38),
        (TopicError::InvalidReplicaAssignment(m()), 39),
        (TopicError::InvalidConfig(m()), 40),
        (TopicError::InvalidRequest(m()), 42),
        (TopicError::PolicyViolation(m()), 44),
        (TopicError::UnknownTopicId(m()), 100),
        (TopicError::Internal(m()), -1),
    ];
    for (e, code) in table {
        assert_eq!(e.kafka_code(), code, "{e:?}");
    }
}
