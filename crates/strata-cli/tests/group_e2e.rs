//! End-to-end tests of consumer groups through the `strata-client` API against a real
//! `strata server`: assignment, commits, close, restart, static membership, cooperative
//! rebalancing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::Broker;
use parking_lot::Mutex;
use strata_client::{
    Admin, AssignmentStrategy, ClientConfig, Consumer, ConsumerConfig, Listener, OffsetAndMetadata,
    OffsetReset, Producer, ProducerRecord, RebalanceListener, TopicPartition,
};
use tokio::task::JoinHandle;

fn client(b: &Broker) -> ClientConfig {
    ClientConfig {
        request_timeout: Duration::from_secs(10),
        ..ClientConfig::new(&b.addr)
    }
}

/// A group consumer config tuned for fast tests (short heartbeats, manual commits).
fn group_config(b: &Broker, group: &str) -> ConsumerConfig {
    ConsumerConfig {
        client: client(b),
        group_id: Some(group.to_string()),
        auto_offset_reset: OffsetReset::Earliest,
        session_timeout: Duration::from_secs(6),
        heartbeat_interval: Duration::from_millis(200),
        rebalance_timeout: Duration::from_secs(20),
        auto_commit: false,
        fetch_max_wait: Duration::from_millis(100),
        ..ConsumerConfig::default()
    }
}

async fn create_topic(b: &Broker, name: &str, partitions: i32) {
    Admin::new(client(b))
        .expect("admin")
        .create_topic(name, Some(partitions), Some(1), &[])
        .await
        .expect("create topic");
}

/// Produces `values` round-robin over `partitions` partitions.
async fn produce(b: &Broker, topic: &str, partitions: i32, values: std::ops::Range<usize>) {
    let producer = Producer::builder()
        .bootstrap(&b.addr)
        .build()
        .expect("producer");
    let mut pending = Vec::new();
    for i in values {
        let mut r = ProducerRecord::new(topic, format!("v{i}"));
        r.partition = Some(i as i32 % partitions);
        pending.push(producer.enqueue(r).await.expect("enqueue"));
    }
    for f in pending {
        f.await.expect("delivered");
    }
    producer.close().await;
}

/// What a running consumer has seen.
#[derive(Default)]
struct Seen {
    values: Vec<String>,
    assignment: Vec<TopicPartition>,
    generation: Option<i32>,
}

/// A consumer polling (and committing synchronously after every poll) on its own task.
struct Runner {
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<Consumer>,
}

impl Runner {
    fn start(mut consumer: Consumer, topics: &[&str]) -> Runner {
        consumer.subscribe(topics).expect("subscribe");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (seen.clone(), stop.clone());
        let task = tokio::spawn(async move {
            while !st.load(Ordering::Relaxed) {
                let records = consumer
                    .poll(Duration::from_millis(200))
                    .await
                    .expect("poll");
                if !records.is_empty() {
                    let results = consumer.commit_offsets().await.expect("commit");
                    assert!(results.values().all(Result::is_ok), "{results:?}");
                }
                let mut seen = s.lock();
                seen.values.extend(records.iter().map(|r| {
                    String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()
                }));
                seen.assignment = consumer.assignment();
                seen.generation = consumer.group_membership().map(|(g, _)| g);
            }
            consumer
        });
        Runner { seen, stop, task }
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        self.seen.lock().assignment.clone()
    }

    async fn stop(self) -> (Consumer, Seen) {
        self.stop.store(true, Ordering::Relaxed);
        let consumer = self.task.await.expect("consumer task");
        let seen = std::mem::take(&mut *self.seen.lock());
        (consumer, seen)
    }
}

/// Waits until `cond` holds, failing with `what` after 30 s.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn all_values(n: std::ops::Range<usize>) -> BTreeSet<String> {
    n.map(|i| format!("v{i}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_members_split_the_topic_and_the_survivor_takes_over() {
    let b = Broker::start();
    create_topic(&b, "split", 4).await;
    let a = Runner::start(
        Consumer::new(group_config(&b, "g-split")).expect("consumer"),
        &["split"],
    );
    let c = Runner::start(
        Consumer::new(group_config(&b, "g-split")).expect("consumer"),
        &["split"],
    );
    until("both members to hold two partitions", || {
        a.assignment().len() == 2 && c.assignment().len() == 2
    })
    .await;
    let union: BTreeSet<TopicPartition> =
        a.assignment().into_iter().chain(c.assignment()).collect();
    assert_eq!(union.len(), 4, "disjoint and complete: {union:?}");

    // Offsets of an active group cannot be changed from outside (the coordinator refuses
    // a commit without a member id).
    let mut outside = BTreeMap::new();
    outside.insert(("split".to_string(), 0), OffsetAndMetadata::new(0));
    let err = Admin::new(client(&b))
        .expect("admin")
        .alter_group_offsets("g-split", outside)
        .await
        .expect_err("active group");
    assert!(err.to_string().contains("must be inactive"), "{err}");

    produce(&b, "split", 4, 0..200).await;
    until("all 200 records", || {
        a.seen.lock().values.len() + c.seen.lock().values.len() >= 200
    })
    .await;
    let (mut first, seen_a) = a.stop().await;
    first.close().await.expect("close commits and leaves");
    assert!(!seen_a.values.is_empty(), "both members consumed");

    // The survivor gets every partition once the leaver is gone.
    until("the survivor to own all partitions", || {
        c.assignment().len() == 4
    })
    .await;
    produce(&b, "split", 4, 200..300).await;
    until("all 300 records", || {
        seen_a.values.len() + c.seen.lock().values.len() >= 300
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut second, seen_c) = c.stop().await;
    second.close().await.expect("close");

    let mut everything: Vec<String> = seen_a.values.clone();
    everything.extend(seen_c.values.iter().cloned());
    let unique: BTreeSet<String> = everything.iter().cloned().collect();
    assert_eq!(unique, all_values(0..300));
    assert_eq!(everything.len(), 300, "no record read twice");

    let offsets = Admin::new(client(&b))
        .expect("admin")
        .list_group_offsets("g-split")
        .await
        .expect("offsets");
    let total: i64 = offsets.values().map(|o| o.offset).sum();
    assert_eq!(total, 300, "{offsets:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn committed_offsets_survive_a_broker_restart() {
    let mut b = Broker::start();
    create_topic(&b, "durable", 1).await;
    produce(&b, "durable", 1, 0..100).await;
    let mut c = Consumer::new(group_config(&b, "g-durable")).expect("consumer");
    c.subscribe(&["durable"]).expect("subscribe");
    let mut read = 0;
    while read < 40 {
        read += c
            .poll(Duration::from_millis(500))
            .await
            .expect("poll")
            .len();
    }
    let tp: TopicPartition = ("durable".into(), 0);
    let mut explicit = BTreeMap::new();
    explicit.insert(
        tp.clone(),
        OffsetAndMetadata {
            offset: 37,
            metadata: Some("checkpoint-37".into()),
            leader_epoch: None,
        },
    );
    let results = c.commit(explicit).await.expect("commit");
    assert!(results[&tp].is_ok());
    c.close().await.expect("close");

    b.kill_and_restart();

    let mut c = Consumer::new(group_config(&b, "g-durable")).expect("consumer");
    let committed = c
        .committed(std::slice::from_ref(&tp))
        .await
        .expect("committed");
    let om = committed[&tp].clone().expect("an offset survived");
    assert_eq!(om.offset, 37);
    assert_eq!(om.metadata.as_deref(), Some("checkpoint-37"));
    c.subscribe(&["durable"]).expect("subscribe");
    let mut first = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while first.is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing consumed after restart"
        );
        first = c
            .poll(Duration::from_millis(500))
            .await
            .expect("poll")
            .first()
            .map(|r| r.offset);
    }
    assert_eq!(first, Some(37), "resumes at the committed offset");
    c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn static_member_rejoin_keeps_its_assignment() {
    let b = Broker::start();
    create_topic(&b, "static", 4).await;
    let config = |instance: &str| ConsumerConfig {
        group_instance_id: Some(instance.to_string()),
        session_timeout: Duration::from_secs(20),
        ..group_config(&b, "g-static")
    };
    let a = Runner::start(
        Consumer::new(config("host-a")).expect("consumer"),
        &["static"],
    );
    let c = Runner::start(
        Consumer::new(config("host-b")).expect("consumer"),
        &["static"],
    );
    until("a two-way split", || {
        a.assignment().len() == 2 && c.assignment().len() == 2
    })
    .await;
    let before_a = a.assignment();
    let before_c = c.assignment();
    let generation_c = c.seen.lock().generation;

    // A static member's close sends no LeaveGroup: the group keeps its slot.
    let (mut gone, _) = a.stop().await;
    gone.close().await.expect("close");
    drop(gone);
    let a2 = Runner::start(
        Consumer::new(config("host-a")).expect("consumer"),
        &["static"],
    );
    until("the restarted member's assignment", || {
        !a2.assignment().is_empty()
    })
    .await;
    assert_eq!(
        a2.assignment(),
        before_a,
        "same partitions after the static rejoin"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(c.assignment(), before_c, "the other member is undisturbed");
    assert_eq!(
        c.seen.lock().generation,
        generation_c,
        "no rebalance for a known static member"
    );
    for r in [a2, c] {
        let (mut consumer, _) = r.stop().await;
        consumer.close().await.expect("close");
    }
}

/// One callback: member, kind (`assigned`, `revoked`, `lost`), partitions.
type Event = (&'static str, &'static str, Vec<TopicPartition>);

/// Records every callback with the member's name, in one global order.
struct Recorder {
    name: &'static str,
    log: Arc<Mutex<Vec<Event>>>,
}

impl RebalanceListener for Recorder {
    fn on_partitions_revoked(&self, p: &[TopicPartition]) {
        self.log.lock().push((self.name, "revoked", p.to_vec()));
    }
    fn on_partitions_assigned(&self, p: &[TopicPartition]) {
        self.log.lock().push((self.name, "assigned", p.to_vec()));
    }
    fn on_partitions_lost(&self, p: &[TopicPartition]) {
        self.log.lock().push((self.name, "lost", p.to_vec()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cooperative_sticky_moves_only_what_it_must() {
    let b = Broker::start();
    create_topic(&b, "coop", 4).await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let config = |name: &'static str| ConsumerConfig {
        partition_assignment_strategy: vec![AssignmentStrategy::CooperativeSticky],
        rebalance_listener: Some(Listener(Arc::new(Recorder {
            name,
            log: log.clone(),
        }))),
        ..group_config(&b, "g-coop")
    };
    let a = Runner::start(Consumer::new(config("a")).expect("consumer"), &["coop"]);
    until("a to own everything", || a.assignment().len() == 4).await;
    let all_a: BTreeSet<TopicPartition> = a.assignment().into_iter().collect();
    let c = Runner::start(Consumer::new(config("c")).expect("consumer"), &["coop"]);
    until("a 2/2 split", || {
        a.assignment().len() == 2 && c.assignment().len() == 2
    })
    .await;
    let kept: BTreeSet<TopicPartition> = a.assignment().into_iter().collect();
    assert!(kept.is_subset(&all_a));

    let events = log.lock().clone();
    // a never revoked everything: exactly the two partitions that moved, once.
    let revoked_a: Vec<TopicPartition> = events
        .iter()
        .filter(|e| e.0 == "a" && e.1 == "revoked")
        .flat_map(|e| e.2.clone())
        .collect();
    let moved: BTreeSet<TopicPartition> = all_a.difference(&kept).cloned().collect();
    assert_eq!(
        revoked_a.iter().cloned().collect::<BTreeSet<_>>(),
        moved,
        "{events:?}"
    );
    assert_eq!(revoked_a.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e.1 != "lost"), "{events:?}");
    // c got each moved partition only after a revoked it.
    for tp in &moved {
        let revoked_at = events
            .iter()
            .position(|e| e.0 == "a" && e.1 == "revoked" && e.2.contains(tp))
            .expect("revoked");
        let assigned_at = events
            .iter()
            .position(|e| e.0 == "c" && e.1 == "assigned" && e.2.contains(tp))
            .expect("assigned");
        assert!(revoked_at < assigned_at, "{tp:?} owned twice: {events:?}");
    }
    for r in [a, c] {
        let (mut consumer, _) = r.stop().await;
        consumer.close().await.expect("close");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn added_partitions_trigger_a_rebalance() {
    let b = Broker::start();
    create_topic(&b, "grow", 2).await;
    let config = ConsumerConfig {
        metadata_max_age: Duration::from_millis(300),
        ..group_config(&b, "g-grow")
    };
    let a = Runner::start(Consumer::new(config.clone()).expect("consumer"), &["grow"]);
    let c = Runner::start(Consumer::new(config).expect("consumer"), &["grow"]);
    until("one partition each", || {
        a.assignment().len() == 1 && c.assignment().len() == 1
    })
    .await;
    Admin::new(client(&b))
        .expect("admin")
        .create_partitions("grow", 6)
        .await
        .expect("grow to 6");
    until("the new partitions to be assigned", || {
        a.assignment().len() == 3 && c.assignment().len() == 3
    })
    .await;
    produce(&b, "grow", 6, 0..60).await;
    until("all 60 records", || {
        a.seen.lock().values.len() + c.seen.lock().values.len() >= 60
    })
    .await;
    for r in [a, c] {
        let (mut consumer, _) = r.stop().await;
        consumer.close().await.expect("close");
    }
}
