//! Learners, snapshots, damaged logs and hostile input, over real TCP and files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::*;
use openraft::ServerState;
use strata_raft::ProposeError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learner_joins_by_itself_follows_and_never_leads() {
    let root = tempfile::tempdir().unwrap();
    let voters = voters(1);
    let voter = start(1, &voters[0].1, &voters, &root.path().join("n1"), None).await;
    voter.node.set_forward_handler(echo_handler(1));
    eventually("the voter to lead", || voter.node.is_leader()).await;
    for name in ["a", "b", "c"] {
        propose(&voter.node, topic(name)).await;
    }

    let learner_dir = root.path().join("n10");
    let learner = start(10, "127.0.0.1:0", &voters, &learner_dir, None).await;
    eventually("the learner to be added", || {
        voter.node.learners() == vec![10]
    })
    .await;
    applied(&learner.node, voter.node.applied_index()).await;
    assert_eq!(*learner.node.image(), *voter.node.image());
    assert_eq!(learner.node.voters(), vec![1]);

    let (last, _) = propose(&voter.node, topic("d")).await;
    applied(&learner.node, last).await;
    assert_eq!(topic_names(&learner.node.image()), vec!["a", "b", "c", "d"]);
    assert_eq!(
        learner.node.propose(topic("e")).await.unwrap_err(),
        ProposeError::NotLeader { leader: Some(1) }
    );
    let answer = learner
        .node
        .forward_to_leader(b"q".to_vec(), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(answer, b"1:q".to_vec());

    // Restarted on another port, the learner updates its address and catches up.
    learner.node.shutdown().await;
    let (last, _) = propose(&voter.node, topic("while-away")).await;
    let learner = start(10, "127.0.0.1:0", &voters, &learner_dir, None).await;
    let new_addr = learner.node.local_addr().to_string();
    eventually("the leader to know the learner's new address", || {
        voter
            .node
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .get_node(&10)
            .is_some_and(|n| n.addr == new_addr)
    })
    .await;
    applied(&learner.node, last).await;
    assert_eq!(*learner.node.image(), *voter.node.image());

    // Without the voter, the learner stays a learner: watch it for several election
    // timeouts.
    voter.node.shutdown().await;
    let watch_until = Instant::now() + Duration::from_millis(2_000);
    while Instant::now() < watch_until {
        let state = learner.node.metrics().borrow().state;
        assert_eq!(state, ServerState::Learner);
        assert!(!learner.node.is_leader());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    learner.node.shutdown().await;
}

fn metrics_purged(node: &strata_raft::MetadataRaft) -> u64 {
    node.metrics().borrow().purged.map_or(0, |p| p.index)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_node_catches_up_through_a_snapshot() {
    let root = tempfile::tempdir().unwrap();
    let voters = voters(3);
    let every = Some(10);
    let mut nodes = start_cluster(root.path(), &voters, every).await;
    let handles: Vec<_> = nodes.iter().map(|n| &n.node).collect();
    let leader_id = agreed_leader(&handles).await;
    let leader_pos = nodes.iter().position(|n| n.id == leader_id).unwrap();
    let (first, _) = propose(&nodes[leader_pos].node, topic("t0")).await;
    for n in &nodes {
        applied(&n.node, first).await;
    }

    let follower_pos = nodes.iter().position(|n| n.id != leader_id).unwrap();
    let down = nodes.remove(follower_pos);
    let down_at = down.node.applied_index();
    down.node.shutdown().await;
    let leader = &nodes.iter().find(|n| n.id == leader_id).unwrap().node;
    let mut last = 0;
    for i in 1..=60 {
        last = propose(leader, topic(&format!("t{i}"))).await.0;
    }
    eventually(
        "the leader to snapshot and purge past the stopped node",
        || metrics_purged(leader) > down_at + 10,
    )
    .await;
    assert!(leader.metrics().borrow().snapshot.is_some());

    let back = start(down.id, &down.addr, &voters, &down.dir, every).await;
    applied(&back.node, last).await;
    eventually("equal images", || *back.node.image() == *leader.image()).await;
    assert_eq!(back.node.image().topic_count(), 61);
    // The log it needed was gone: the state came as a snapshot, announced to the
    // hook as a whole image after the start-up sync.
    let syncs: Vec<_> = back
        .hook
        .calls()
        .into_iter()
        .filter(|c| c.records == 0)
        .collect();
    assert!(
        syncs.len() >= 2,
        "expected a start-up and a snapshot sync: {syncs:?}"
    );
    assert!(
        syncs[1].topics > 1,
        "the snapshot carried the state: {syncs:?}"
    );
    assert_eq!(syncs[1].already_published, Some(false));
    let expected = leader.image();
    nodes.push(back);

    // Everyone restarts from snapshot + purged log and agrees again.
    let mut restarted = Vec::new();
    for n in nodes {
        n.node.shutdown().await;
        restarted.push((n.id, n.addr, n.dir));
    }
    let mut nodes = Vec::new();
    for (id, addr, dir) in restarted {
        nodes.push(start(id, &addr, &voters, &dir, every).await);
    }
    let handles: Vec<_> = nodes.iter().map(|n| &n.node).collect();
    let leader_id = agreed_leader(&handles).await;
    let leader = &nodes.iter().find(|n| n.id == leader_id).unwrap().node;
    let (after, _) = propose(leader, topic("after-restart")).await;
    for n in &nodes {
        applied(&n.node, after).await;
        let image = n.node.image();
        assert_eq!(image.topic_count(), 62, "node {}", n.id);
        assert!(expected.topics().all(|t| image.topic(&t.name).is_some()));
    }
    for n in &nodes {
        n.node.shutdown().await;
    }
}

fn last_segment(dir: &Path) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("log"))
        .unwrap()
        .map(|d| d.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    files.pop().expect("a log segment")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_log_tail_is_truncated_on_restart() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("n1");
    let voters = vec![(1, "127.0.0.1:0".to_string())];
    let n = start(1, "127.0.0.1:0", &voters, &dir, None).await;
    eventually("leader", || n.node.is_leader()).await;
    for i in 0..5 {
        propose(&n.node, topic(&format!("t{i}"))).await;
    }
    n.node.shutdown().await;

    // A crash in the middle of the last append: its frame is cut short.
    let segment = last_segment(&dir);
    let len = std::fs::metadata(&segment).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap();
    file.set_len(len - 5).unwrap();
    drop(file);

    let n = start(1, "127.0.0.1:0", &voters, &dir, None).await;
    eventually("leader after restart", || n.node.is_leader()).await;
    assert_eq!(topic_names(&n.node.image()), vec!["t0", "t1", "t2", "t3"]);
    propose(&n.node, topic("t5")).await;
    let expected = n.node.image();
    assert!(expected.topic("t4").is_none());
    n.node.shutdown().await;

    let n = start(1, "127.0.0.1:0", &voters, &dir, None).await;
    eventually("the log to replay", || *n.node.image() == *expected).await;
    n.node.shutdown().await;
}

/// Sends `bytes` on a fresh connection and expects the node to close it.
async fn expect_closed(addr: &str, bytes: &[u8], half_close: bool) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    if half_close {
        s.shutdown().await.unwrap();
    }
    let mut sink = Vec::new();
    let read = tokio::time::timeout(DEADLINE, s.read_to_end(&mut sink)).await;
    match read {
        Ok(Ok(_)) | Ok(Err(_)) => assert!(sink.is_empty(), "got an answer to garbage"),
        Err(_) => panic!("the node kept a garbage connection open"),
    }
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_controller_port_is_survived() {
    let root = tempfile::tempdir().unwrap();
    let voters = vec![(1, "127.0.0.1:0".to_string())];
    let n = start(1, "127.0.0.1:0", &voters, &root.path().join("n1"), None).await;
    eventually("leader", || n.node.is_leader()).await;
    n.node.set_forward_handler(echo_handler(1));
    let addr = n.addr.clone();

    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    expect_closed(&addr, &noise, true).await;
    expect_closed(&addr, &[0xff, 0xff, 0xff, 0xff, 1, 2, 3], false).await;
    expect_closed(&addr, &frame(b"{not json"), false).await;
    expect_closed(&addr, &frame(br#"{"Vote":{"nonsense":true}}"#), false).await;
    expect_closed(&addr, &frame(br#"{"Forward":"not bytes"}"#), false).await;
    expect_closed(&addr, &[0, 0, 1, 0, b'{'], true).await;
    // Well-formed JSON, but entries that do not follow each other.
    let gappy = serde_json::json!({"AppendEntries": {
        "vote": {"leader_id": {"term": 99, "node_id": 7}, "committed": true},
        "prev_log_id": null,
        "leader_commit": null,
        "entries": [
            {"log_id": {"leader_id": {"term": 99, "node_id": 7}, "index": 5}, "payload": "Blank"},
            {"log_id": {"leader_id": {"term": 99, "node_id": 7}, "index": 3}, "payload": "Blank"}
        ]
    }});
    expect_closed(&addr, &frame(gappy.to_string().as_bytes()), false).await;

    // The port still serves well-formed requests...
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(&frame(br#"{"Forward":[104,105]}"#))
        .await
        .unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).await.unwrap();
    let reply: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        reply,
        serde_json::json!({"Forward": {"Ok": b"1:hi".to_vec()}})
    );

    // ...and the node still works.
    let (_, image) = propose(&n.node, topic("still-alive")).await;
    assert!(image.topic("still-alive").is_some());
    assert!(n.node.is_leader());
    n.node.shutdown().await;
}
