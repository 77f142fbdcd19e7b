use super::*;
use proptest::prelude::*;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn create_topic(name: &str, topic_id: Uuid) -> MetadataRecord {
    MetadataRecord::CreateTopic {
        name: name.into(),
        topic_id,
        configs: BTreeMap::new(),
    }
}

fn create_partition(topic_id: Uuid, partition: i32, replicas: Vec<i32>) -> MetadataRecord {
    let leader = replicas[0];
    MetadataRecord::CreatePartition {
        topic_id,
        partition,
        isr: replicas.clone(),
        replicas,
        leader,
        leader_epoch: 0,
    }
}

fn register(node_id: i32) -> MetadataRecord {
    MetadataRecord::RegisterBroker {
        node_id,
        host: format!("host{node_id}"),
        port: 9092,
        rack: None,
        incarnation: id(1000 + node_id as u128),
        endpoints: Vec::new(),
    }
}

#[test]
fn register_and_reregister_broker() {
    let mut image = MetadataImage::new();
    image.apply(&register(1)).unwrap();
    image.apply(&register(2)).unwrap();
    assert_eq!(
        image.brokers().map(|b| b.node_id).collect::<Vec<_>>(),
        vec![1, 2]
    );
    let again = MetadataRecord::RegisterBroker {
        node_id: 1,
        host: "new".into(),
        port: 9093,
        rack: Some("r1".into()),
        incarnation: id(77),
        endpoints: Vec::new(),
    };
    image.apply(&again).unwrap();
    let b = image.broker(1).unwrap();
    assert_eq!(
        (b.host.as_str(), b.port, b.rack.as_deref()),
        ("new", 9093, Some("r1"))
    );
    assert_eq!(b.incarnation, id(77));
    assert_eq!(image.brokers().count(), 2);
}

#[test]
fn unregister_broker() {
    let mut image = MetadataImage::new();
    image.apply(&register(1)).unwrap();
    image
        .apply(&MetadataRecord::UnregisterBroker { node_id: 1 })
        .unwrap();
    assert!(image.broker(1).is_none());
    assert_eq!(
        image.apply(&MetadataRecord::UnregisterBroker { node_id: 1 }),
        Err(ApplyError::UnknownBroker(1))
    );
}

#[test]
fn create_topic_and_partitions() {
    let mut image = MetadataImage::new();
    let mut configs = BTreeMap::new();
    configs.insert("retention.ms".to_string(), "1000".to_string());
    image
        .apply(&MetadataRecord::CreateTopic {
            name: "orders".into(),
            topic_id: id(1),
            configs: configs.clone(),
        })
        .unwrap();
    image
        .apply(&create_partition(id(1), 0, vec![1, 2]))
        .unwrap();
    image
        .apply(&create_partition(id(1), 1, vec![2, 1]))
        .unwrap();
    let t = image.topic("orders").unwrap();
    assert_eq!(t.topic_id, id(1));
    assert_eq!(t.configs, configs);
    assert_eq!(t.partitions.len(), 2);
    assert_eq!(image.partition("orders", 1).unwrap().leader, 2);
    assert_eq!(image.topic_by_id(&id(1)).unwrap().name, "orders");
    assert_eq!(image.partition_count(), 2);
    assert_eq!(image.topic_count(), 1);
    assert!(image.partition("orders", 2).is_none());
    assert!(image.partition("orders", -1).is_none());
}

#[test]
fn create_topic_errors() {
    let mut image = MetadataImage::new();
    image.apply(&create_topic("a", id(1))).unwrap();
    assert_eq!(
        image.apply(&create_topic("a", id(2))),
        Err(ApplyError::TopicNameExists("a".into()))
    );
    assert_eq!(
        image.apply(&create_topic("b", id(1))),
        Err(ApplyError::TopicIdExists(id(1)))
    );
    assert_eq!(
        image.apply(&create_topic("c", Uuid::nil())),
        Err(ApplyError::NilTopicId)
    );
    assert_eq!(
        image.apply(&create_topic("", id(3))),
        Err(ApplyError::EmptyTopicName)
    );
    assert_eq!(image.topic_count(), 1);
}

#[test]
fn create_partition_errors_leave_image_unchanged() {
    let mut image = MetadataImage::new();
    assert_eq!(
        image.apply(&create_partition(id(9), 0, vec![1])),
        Err(ApplyError::UnknownTopicId(id(9)))
    );
    image.apply(&create_topic("a", id(1))).unwrap();
    let before = image.clone();
    assert!(matches!(
        image.apply(&create_partition(id(1), 1, vec![1])),
        Err(ApplyError::PartitionOutOfOrder {
            expected: 0,
            got: 1,
            ..
        })
    ));
    let bad = [
        (vec![], vec![], -1, 0),
        (vec![1, 1], vec![1], 1, 0),
        (vec![1, 2], vec![3], 3, 0),
        (vec![1, 2], vec![1], 2, 0),
        (vec![1, 2], vec![1, 1], 1, 0),
        (vec![1], vec![1], 1, -1),
        (vec![-5], vec![], -1, 0),
    ];
    for (replicas, isr, leader, leader_epoch) in bad {
        let record = MetadataRecord::CreatePartition {
            topic_id: id(1),
            partition: 0,
            replicas: replicas.clone(),
            isr,
            leader,
            leader_epoch,
        };
        assert!(
            matches!(
                image.apply(&record),
                Err(ApplyError::InvalidPartition { .. })
            ),
            "{replicas:?} should be rejected"
        );
    }
    assert_eq!(image, before);
    // A leaderless partition with an empty ISR is structurally valid.
    image
        .apply(&MetadataRecord::CreatePartition {
            topic_id: id(1),
            partition: 0,
            replicas: vec![1],
            isr: vec![],
            leader: -1,
            leader_epoch: 3,
        })
        .unwrap();
}

#[test]
fn set_and_remove_topic_config() {
    let mut image = MetadataImage::new();
    image.apply(&create_topic("a", id(1))).unwrap();
    let set = |v: Option<&str>| MetadataRecord::SetTopicConfig {
        topic_id: id(1),
        key: "cleanup.policy".into(),
        value: v.map(String::from),
    };
    image.apply(&set(Some("compact"))).unwrap();
    assert_eq!(
        image
            .topic("a")
            .unwrap()
            .configs
            .get("cleanup.policy")
            .map(String::as_str),
        Some("compact")
    );
    image.apply(&set(None)).unwrap();
    assert!(image.topic("a").unwrap().configs.is_empty());
    let unknown = MetadataRecord::SetTopicConfig {
        topic_id: id(2),
        key: "k".into(),
        value: None,
    };
    assert_eq!(
        image.apply(&unknown),
        Err(ApplyError::UnknownTopicId(id(2)))
    );
}

#[test]
fn create_delete_recreate_topic() {
    let mut image = MetadataImage::new();
    image.apply(&create_topic("t", id(1))).unwrap();
    image.apply(&create_partition(id(1), 0, vec![1])).unwrap();
    image
        .apply(&MetadataRecord::DeleteTopic { topic_id: id(1) })
        .unwrap();
    assert!(image.topic("t").is_none());
    assert!(image.topic_by_id(&id(1)).is_none());
    assert_eq!(image.partition_count(), 0);
    assert_eq!(
        image.apply(&MetadataRecord::DeleteTopic { topic_id: id(1) }),
        Err(ApplyError::UnknownTopicId(id(1)))
    );
    image.apply(&create_topic("t", id(2))).unwrap();
    image.apply(&create_partition(id(2), 0, vec![1])).unwrap();
    let t = image.topic("t").unwrap();
    assert_eq!(t.topic_id, id(2));
    assert_eq!(t.partitions.len(), 1);
}

#[test]
fn applied_is_all_or_nothing() {
    let mut image = MetadataImage::new();
    image.apply(&create_topic("a", id(1))).unwrap();
    let batch = vec![
        create_partition(id(1), 0, vec![1]),
        create_topic("b", id(2)),
        create_partition(id(3), 0, vec![1]),
    ];
    let err = image.applied(&batch).unwrap_err();
    assert_eq!(err.index, 2);
    assert_eq!(err.error, ApplyError::UnknownTopicId(id(3)));
    assert!(image.topic("b").is_none());
    assert!(image.topic("a").unwrap().partitions.is_empty());
    let next = image.applied(&batch[..2]).unwrap();
    assert!(next.topic("b").is_some());
    assert!(image.topic("b").is_none());
}

#[test]
fn snapshots_share_unchanged_topics() {
    let mut image = MetadataImage::new();
    image.apply(&create_topic("a", id(1))).unwrap();
    image.apply(&create_topic("b", id(2))).unwrap();
    let snapshot = Arc::new(image.clone());
    image.apply(&create_partition(id(2), 0, vec![1])).unwrap();
    // The old snapshot still sees the old state ...
    assert!(snapshot.topic("b").unwrap().partitions.is_empty());
    // ... and the untouched topic is shared, not copied.
    assert!(Arc::ptr_eq(
        snapshot.topic("a").unwrap(),
        image.topic("a").unwrap()
    ));
    assert!(!Arc::ptr_eq(
        snapshot.topic("b").unwrap(),
        image.topic("b").unwrap()
    ));
}

fn arb_record() -> impl Strategy<Value = MetadataRecord> {
    let tid = (1u128..4).prop_map(Uuid::from_u128);
    prop_oneof![
        (0i32..3).prop_map(register),
        (0i32..3).prop_map(|node_id| MetadataRecord::UnregisterBroker { node_id }),
        (0usize..4, tid.clone()).prop_map(|(n, t)| create_topic(["a", "b", "c", "d"][n], t)),
        (
            tid.clone(),
            0i32..3,
            proptest::collection::vec(0i32..4, 1..3)
        )
            .prop_map(|(t, p, r)| create_partition(t, p, r)),
        tid.clone()
            .prop_map(|topic_id| MetadataRecord::DeleteTopic { topic_id }),
        (tid, proptest::option::of("[a-z]{1,3}")).prop_map(|(topic_id, value)| {
            MetadataRecord::SetTopicConfig {
                topic_id,
                key: "k".into(),
                value,
            }
        }),
    ]
}

proptest! {
    /// Replaying the same records gives the same image; a failed record changes
    /// nothing; the partition counter matches the topics.
    #[test]
    fn apply_is_deterministic_and_failures_are_no_ops(
        records in proptest::collection::vec(arb_record(), 0..60)
    ) {
        let mut a = MetadataImage::new();
        let mut b = MetadataImage::new();
        for r in &records {
            let before = a.clone();
            let ra = a.apply(r);
            let rb = b.apply(r);
            prop_assert_eq!(&ra, &rb);
            if ra.is_err() {
                prop_assert_eq!(&a, &before);
            }
        }
        prop_assert_eq!(&a, &b);
        let sum: usize = a.topics().map(|t| t.partitions.len()).sum();
        prop_assert_eq!(a.partition_count(), sum);
        prop_assert_eq!(a.topics().count(), a.topic_count());
        for t in a.topics() {
            for (i, p) in t.partitions.iter().enumerate() {
                prop_assert_eq!(p.partition as usize, i);
            }
        }
    }
}

#[test]
fn producer_id_allocations_only_grow() {
    let mut image = MetadataImage::new();
    assert_eq!(image.next_producer_id(), 0);
    image
        .apply(&MetadataRecord::ProducerIdsAllocated {
            next_producer_id: 1000,
        })
        .unwrap();
    assert_eq!(image.next_producer_id(), 1000);
    let err = image
        .apply(&MetadataRecord::ProducerIdsAllocated {
            next_producer_id: 10,
        })
        .unwrap_err();
    assert!(matches!(err, ApplyError::ProducerIdsGoBack { .. }));
    assert_eq!(image.next_producer_id(), 1000);
}

#[test]
fn broker_configs_by_scope() {
    let mut image = MetadataImage::new();
    let set = |node_id, key: &str, value: Option<&str>| MetadataRecord::SetBrokerConfig {
        node_id,
        key: key.into(),
        value: value.map(Into::into),
    };
    image
        .apply(&set(None, "log.retention.ms", Some("1000")))
        .unwrap();
    image
        .apply(&set(Some(1), "log.retention.ms", Some("2000")))
        .unwrap();
    assert_eq!(
        image.broker_configs(None).unwrap()["log.retention.ms"],
        "1000"
    );
    assert_eq!(
        image.broker_configs(Some(1)).unwrap()["log.retention.ms"],
        "2000"
    );
    let snapshot = image.clone();
    image
        .apply(&set(Some(1), "log.retention.ms", None))
        .unwrap();
    assert!(image.broker_configs(Some(1)).is_none());
    // Snapshots taken before are unaffected.
    assert_eq!(
        snapshot.broker_configs(Some(1)).unwrap()["log.retention.ms"],
        "2000"
    );
}

#[test]
fn same_brokers_and_topics_until_one_of_them_changes() {
    let mut image = MetadataImage::new();
    image.apply(&register(1)).unwrap();
    image.apply(&create_topic("t", id(1))).unwrap();
    image.apply(&create_partition(id(1), 0, vec![1])).unwrap();
    let kept = image.clone();
    assert!(image.same_brokers_and_topics(&kept));
    // A broker config is neither a broker nor a topic.
    image
        .apply(&MetadataRecord::SetBrokerConfig {
            node_id: None,
            key: "log.retention.ms".into(),
            value: Some("1000".into()),
        })
        .unwrap();
    assert!(image.same_brokers_and_topics(&kept));
    let mut partitions = image.clone();
    partitions
        .apply(&create_partition(id(1), 1, vec![1]))
        .unwrap();
    assert!(!partitions.same_brokers_and_topics(&kept));
    let mut brokers = image.clone();
    brokers
        .apply(&MetadataRecord::FenceBroker { node_id: 1 })
        .unwrap();
    assert!(!brokers.same_brokers_and_topics(&kept));
    assert!(
        image.same_brokers_and_topics(&kept),
        "copies never change the original"
    );
}
