use std::collections::BTreeMap;

use strata_meta::image::PartitionImage;

use super::*;

/// A topic of one partition on brokers 1 (leader) and 2, ISR `isr`, with `configs`.
fn topic(isr: &[i32], configs: &[(&str, &str)]) -> TopicImage {
    TopicImage {
        name: "t".into(),
        topic_id: Uuid::from_u128(7),
        partitions: vec![PartitionImage {
            partition: 0,
            replicas: vec![1, 2],
            isr: isr.to_vec(),
            leader: 1,
            leader_epoch: 1,
            partition_epoch: 1,
        }],
        configs: configs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        reassignments: BTreeMap::new(),
    }
}

fn lists(value: &str, partition: i32, broker: i32) -> bool {
    let t = topic(&[1], &[(LEADER_REPLICAS, value)]);
    ThrottledLists::default().names(&t, LEADER_REPLICAS, partition, broker)
}

#[test]
fn throttled_replica_lists() {
    assert!(lists("*", 3, 7));
    assert!(lists("0:1, 3:7", 3, 7));
    assert!(!lists("0:1,3:8", 3, 7));
    assert!(!lists("", 0, 0));
    assert!(!lists("garbage,:,1:", 1, 0));
}

#[test]
fn a_list_is_parsed_again_only_when_its_value_changes() {
    let mut cache = ThrottledLists::default();
    let t = topic(&[1], &[(FOLLOWER_REPLICAS, "0:2")]);
    assert!(cache.names(&t, FOLLOWER_REPLICAS, 0, 2));
    assert!(
        !cache.names(&t, LEADER_REPLICAS, 0, 2),
        "not set: nothing listed"
    );
    let key = (t.topic_id, FOLLOWER_REPLICAS);
    let cached = |c: &ThrottledLists| c.parsed.get(&key).cloned();
    let first = cached(&cache);
    assert_eq!(
        first,
        Some(("0:2".into(), Some(ThrottledReplicas::Listed(vec![(0, 2)]))))
    );
    // The same value: the cached parse answers.
    cache.parsed.get_mut(&key).unwrap().1 = Some(ThrottledReplicas::All);
    assert!(
        cache.names(&t, FOLLOWER_REPLICAS, 0, 9),
        "answered from the cache"
    );
    // A new value (a config change): parsed again.
    let changed = topic(&[1], &[(FOLLOWER_REPLICAS, "0:3")]);
    assert!(!cache.names(&changed, FOLLOWER_REPLICAS, 0, 2));
    assert!(cache.names(&changed, FOLLOWER_REPLICAS, 0, 3));
    assert_eq!(cache.parsed.len(), 1);
}

#[test]
fn only_listed_replicas_outside_the_isr_are_throttled() {
    let mut cache = ThrottledLists::default();
    let listed = topic(&[1], &[(FOLLOWER_REPLICAS, "0:2")]);
    // Broker 2 catching up: throttled, and counted.
    assert_eq!(
        follower_throttles(&mut cache, Some(&listed), 0, 2),
        (true, true)
    );
    // In sync: never held back, but its bytes still count (as in Kafka).
    let in_sync = topic(&[1, 2], &[(FOLLOWER_REPLICAS, "0:2")]);
    assert_eq!(
        follower_throttles(&mut cache, Some(&in_sync), 0, 2),
        (false, true)
    );
    // Another broker's replica, an unlisted partition, a topic gone, the leader list.
    assert_eq!(
        follower_throttles(&mut cache, Some(&listed), 0, 3),
        (false, false)
    );
    assert_eq!(
        follower_throttles(&mut cache, Some(&listed), 1, 2),
        (false, false)
    );
    assert_eq!(follower_throttles(&mut cache, None, 0, 2), (false, false));
    let leader_only = topic(&[1], &[(LEADER_REPLICAS, "*")]);
    assert_eq!(
        follower_throttles(&mut cache, Some(&leader_only), 0, 2),
        (false, false)
    );
    assert!(cache.throttles(&leader_only, LEADER_REPLICAS, 0, 1, 2));
    assert!(!cache.throttles(&in_sync, LEADER_REPLICAS, 0, 1, 2));
}

#[test]
fn the_bucket_empties_and_refills_at_the_rate() {
    let t = ReplicationThrottle::default();
    let now = Instant::now();
    assert!(t.may_send(1000.0, now));
    t.spend(1000.0, 3000, now);
    assert!(!t.may_send(1000.0, now), "2000 bytes in debt");
    assert!(!t.may_send(1000.0, now + Duration::from_millis(1500)));
    assert!(t.may_send(1000.0, now + Duration::from_millis(2100)));
    // A new rate starts a fresh bucket.
    assert!(t.may_send(5000.0, now));
}

#[test]
fn the_follower_leaves_throttled_partitions_out_while_the_rate_is_exceeded() {
    let t = ReplicationThrottle::default();
    let now = Instant::now();
    let fetch_all = FollowerRound::Fetch {
        skip: Vec::new(),
        max_wait: None,
    };
    // No rate, nothing throttled, or tokens left: everything is fetched.
    assert_eq!(t.follower_round(None, &[true], now), fetch_all);
    assert_eq!(t.follower_round(Some(1000.0), &[false], now), fetch_all);
    assert_eq!(
        t.follower_round(Some(1000.0), &[true, false], now),
        fetch_all
    );
    // 2500 bytes received against a full bucket of 1000: 1.5 s of debt.
    t.follower_spend(1000.0, 2500, now);
    let FollowerRound::Wait(wait) = t.follower_round(Some(1000.0), &[true, true], now) else {
        panic!("every partition throttled: the fetcher waits");
    };
    assert!(
        wait >= Duration::from_millis(1500) && wait <= Duration::from_millis(1502),
        "{wait:?}"
    );
    // Others still fetched; the throttled ones come back once the bucket refills.
    let later = now + Duration::from_millis(1000);
    assert_eq!(
        t.follower_round(Some(1000.0), &[true, false], later),
        FollowerRound::Fetch {
            skip: vec![true, false],
            max_wait: Some(Duration::from_millis(501)),
        }
    );
    // The leader's bucket is another one.
    assert!(t.may_send(1000.0, now));
    // After the wait, the bucket has tokens again.
    assert_eq!(
        t.follower_round(Some(1000.0), &[true], now + wait),
        fetch_all
    );
    // Unset again: nothing held back.
    t.follower_spend(1000.0, 10_000, now + wait);
    assert_eq!(t.follower_round(None, &[true], now + wait), fetch_all);
}
