//! Metadata Raft nodes over real TCP on 127.0.0.1 with real files.

use std::time::Duration;

use crate::common::*;
use strata_meta::MetadataRecord;
use strata_raft::{ForwardError, ProposeError};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_voter_elects_itself_and_restores_from_disk() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("n1");
    let voters = vec![(1, "127.0.0.1:0".to_string())];
    let n = start(1, "127.0.0.1:0", &voters, &dir, None).await;
    eventually("the lone voter to lead", || n.node.is_leader()).await;
    assert_eq!(n.node.voters(), vec![1]);

    let mut sub = n.node.subscribe();
    sub.borrow_and_update();
    let mut last = 0;
    for name in ["a", "b", "c"] {
        let (index, image) = propose(&n.node, topic(name)).await;
        assert!(index > last, "indexes grow: {index} after {last}");
        last = index;
        assert!(image.topic(name).is_some());
        // Subscribers already see it when the proposal returns.
        assert!(sub.has_changed().unwrap());
        let (seen, seen_image) = sub.borrow_and_update().clone();
        assert_eq!((seen, &*seen_image), (index, &*image));
    }
    assert_eq!(n.node.applied_index(), last);
    assert_eq!(topic_names(&n.node.image()), vec!["a", "b", "c"]);
    // Each proposal reached the hook before it was published.
    let calls = n.hook.calls();
    let with_records: Vec<_> = calls.iter().filter(|c| c.records > 0).collect();
    assert_eq!(with_records.len(), 3);
    assert!(with_records
        .iter()
        .all(|c| c.already_published == Some(false)));
    assert_eq!(
        calls[0].records, 0,
        "the first call syncs the whole (empty) image"
    );
    let before = n.node.image();
    n.node.shutdown().await;

    let n = start(1, "127.0.0.1:0", &voters, &dir, None).await;
    applied(&n.node, last).await;
    assert_eq!(*n.node.image(), *before);
    assert_eq!(n.node.applied_index(), last);
    let calls = n.hook.calls();
    assert_eq!(
        calls[0].records, 0,
        "restart starts with a whole-image sync"
    );
    assert_eq!(calls.last().map(|c| c.topics), Some(3));

    eventually("the restarted voter to lead", || n.node.is_leader()).await;
    let (index, image) = propose(&n.node, topic("d")).await;
    assert!(index > last);
    assert_eq!(image.topic_count(), 4);
    n.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_voters_replicate_reject_and_forward() {
    let root = tempfile::tempdir().unwrap();
    let voters = voters(3);
    let nodes = start_cluster(root.path(), &voters, None).await;
    let handles: Vec<_> = nodes.iter().map(|n| &n.node).collect();
    let leader_id = agreed_leader(&handles).await;
    let leader = &nodes[(leader_id - 1) as usize].node;
    assert_eq!(leader.voters(), vec![1, 2, 3]);

    let mut last = 0;
    for i in 0..5 {
        last = propose(leader, topic(&format!("t{i}"))).await.0;
    }
    for n in &nodes {
        applied(&n.node, last).await;
    }
    let image = leader.image();
    assert_eq!(image.topic_count(), 5);
    for n in &nodes {
        assert_eq!(*n.node.image(), *image, "node {} differs", n.id);
    }

    // A follower refuses and names the leader.
    let follower = nodes.iter().find(|n| n.id != leader_id).unwrap();
    assert_eq!(
        follower.node.propose(topic("nope")).await.unwrap_err(),
        ProposeError::NotLeader {
            leader: Some(leader_id)
        }
    );
    assert!(follower.node.image().topic("nope").is_none());

    // A batch that does not apply is committed as a no-op everywhere.
    let bad = vec![
        MetadataRecord::CreateTopic {
            name: "half".into(),
            topic_id: Uuid::new_v4(),
            configs: Default::default(),
        },
        MetadataRecord::DeleteTopic {
            topic_id: Uuid::new_v4(),
        },
    ];
    match leader.propose(bad).await {
        Err(ProposeError::Rejected(why)) => assert!(why.contains("unknown topic id"), "{why}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    let (after, _) = propose(leader, topic("after")).await;
    assert!(after >= last + 2, "the rejected batch took a log index");
    for n in &nodes {
        applied(&n.node, after).await;
        let image = n.node.image();
        assert!(
            image.topic("half").is_none(),
            "node {} applied half a batch",
            n.id
        );
        assert!(image.topic("after").is_some());
        assert_eq!(*image, *leader.image());
    }

    // Forwarding: from a follower to the leader's handler, and locally on the leader.
    let timeout = Duration::from_secs(10);
    // Without a handler the leader answers NoHandler; the follower retries (a handler may be
    // registered a moment later) until its deadline and then reports NoHandler, also when
    // the deadline passes in the middle of a retry.
    assert_eq!(
        follower
            .node
            .forward_to_leader(b"hi".to_vec(), Duration::from_secs(2))
            .await,
        Err(ForwardError::NoHandler),
        "no handler registered yet"
    );
    for n in &nodes {
        n.node.set_forward_handler(echo_handler(n.id));
    }
    let answer = follower
        .node
        .forward_to_leader(b"hi".to_vec(), timeout)
        .await
        .unwrap();
    assert_eq!(answer, format!("{leader_id}:hi").into_bytes());
    let answer = leader
        .forward_to_leader(b"me".to_vec(), timeout)
        .await
        .unwrap();
    assert_eq!(answer, format!("{leader_id}:me").into_bytes());

    // Linearizable reads on the leader only.
    assert_eq!(*leader.linearizable_image().await.unwrap(), *leader.image());
    assert!(matches!(
        follower.node.linearizable_image().await,
        Err(ProposeError::NotLeader { leader: Some(l) }) if l == leader_id
    ));

    for n in &nodes {
        n.node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_failover_then_the_old_leader_catches_up() {
    let root = tempfile::tempdir().unwrap();
    let voters = voters(3);
    let mut nodes = start_cluster(root.path(), &voters, None).await;
    let handles: Vec<_> = nodes.iter().map(|n| &n.node).collect();
    let old_leader = agreed_leader(&handles).await;
    for n in &nodes {
        n.node.set_forward_handler(echo_handler(n.id));
    }
    let leader = &nodes[(old_leader - 1) as usize].node;
    let (first, _) = propose(leader, topic("before")).await;
    for n in &nodes {
        applied(&n.node, first).await;
    }

    let gone = nodes.remove((old_leader - 1) as usize);
    let stopped = std::time::Instant::now();
    gone.node.shutdown().await;
    let rest: Vec<_> = nodes.iter().map(|n| &n.node).collect();
    let new_leader = agreed_leader(&rest).await;
    assert_ne!(new_leader, old_leader);
    // Informational only (timing goals belong in benchmarks).
    eprintln!(
        "failover: new leader agreed {:?} after the old one stopped",
        stopped.elapsed()
    );
    let leader = &nodes.iter().find(|n| n.id == new_leader).unwrap().node;
    let mut last = 0;
    for i in 0..3 {
        last = propose(leader, topic(&format!("after{i}"))).await.0;
    }
    // Forwarding follows the leader change.
    let follower = nodes.iter().find(|n| n.id != new_leader).unwrap();
    let answer = follower
        .node
        .forward_to_leader(b"x".to_vec(), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(answer, format!("{new_leader}:x").into_bytes());

    let back = start(old_leader, &gone.addr, &voters, &gone.dir, None).await;
    applied(&back.node, last).await;
    eventually("the restarted node to see the same image", || {
        *back.node.image() == *leader.image()
    })
    .await;
    assert_eq!(back.node.image().topic_count(), 4);
    eventually("the restarted node to follow the new leader", || {
        back.node.leader() == Some(new_leader)
    })
    .await;

    back.node.shutdown().await;
    for n in &nodes {
        n.node.shutdown().await;
    }
}
