//! Shared helpers for the cluster tests: real nodes on 127.0.0.1, real files in
//! temporary directories.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use strata_meta::{MetadataImage, MetadataRecord};
use strata_raft::{ApplyHook, ForwardHandler, MetadataRaft, ProposeError, RaftOptions};
use tokio::sync::watch;
use tokio::time::Instant;
use uuid::Uuid;

/// Generous: the machine is small and shared.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// An address on 127.0.0.1 that was free a moment ago (peers need to know each
/// other's address before the nodes start).
///
/// Taken below the kernel's ephemeral range (32768 and up on Linux): a node restarted
/// on its old address must not find the port taken by some other test's outgoing
/// connection, which the kernel gives ephemeral ports.
pub fn free_addr() -> String {
    // Uuid v4 is the random source at hand; ports 20000–32767.
    loop {
        let port = 20_000 + (Uuid::new_v4().as_u128() % 12_768) as u16;
        if let Ok(l) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            return l.local_addr().expect("addr").to_string();
        }
    }
}

/// Polls `cond` until it holds, failing the test after [`DEADLINE`].
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `f` until it returns `Some`, failing the test after [`DEADLINE`].
pub async fn eventually_some<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One hook call as seen by [`RecordingHook`].
#[derive(Clone, Debug)]
pub struct HookCall {
    /// Number of records passed (0 = whole-image sync).
    pub records: usize,
    /// Topics in the image passed.
    pub topics: usize,
    /// Whether the image passed was already visible to subscribers at call time.
    pub already_published: Option<bool>,
}

/// Records every hook call and checks it runs before publication.
#[derive(Default)]
pub struct RecordingHook {
    pub calls: Mutex<Vec<HookCall>>,
    /// Set after start: the node's subscription, to see what is published.
    pub published: OnceLock<watch::Receiver<(u64, Arc<MetadataImage>)>>,
}

impl ApplyHook for RecordingHook {
    fn before_publish(&self, image: &MetadataImage, records: &[MetadataRecord]) {
        let already_published = self
            .published
            .get()
            .map(|rx| std::ptr::eq(&*rx.borrow().1, image));
        self.calls.lock().push(HookCall {
            records: records.len(),
            topics: image.topic_count(),
            already_published,
        });
    }
}

impl RecordingHook {
    pub fn calls(&self) -> Vec<HookCall> {
        self.calls.lock().clone()
    }
}

/// A batch creating topic `name` with one partition on broker 1.
pub fn topic(name: &str) -> Vec<MetadataRecord> {
    let topic_id = Uuid::new_v4();
    vec![
        MetadataRecord::CreateTopic {
            name: name.to_string(),
            topic_id,
            configs: BTreeMap::new(),
        },
        MetadataRecord::CreatePartition {
            topic_id,
            partition: 0,
            replicas: vec![1],
            isr: vec![1],
            leader: 1,
            leader_epoch: 0,
        },
    ]
}

/// Options with the default timings and a small snapshot interval when asked.
pub fn options(
    id: u64,
    listen: &str,
    voters: &[(u64, String)],
    dir: &Path,
    snapshot_every: Option<u64>,
) -> RaftOptions {
    let mut o = RaftOptions::new(id, listen, voters.to_vec(), dir);
    if let Some(n) = snapshot_every {
        o.snapshot_every = n;
    }
    o
}

/// A test node: the handle, its hook, its directory and address.
pub struct TestNode {
    pub id: u64,
    pub addr: String,
    pub dir: PathBuf,
    pub node: MetadataRaft,
    pub hook: Arc<RecordingHook>,
}

/// Starts node `id`, with a fresh recording hook wired to its subscription.
pub async fn start(
    id: u64,
    addr: &str,
    voters: &[(u64, String)],
    dir: &Path,
    snapshot_every: Option<u64>,
) -> TestNode {
    let hook = Arc::new(RecordingHook::default());
    // A restart on the old address may find the port still held for a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    let node = loop {
        match MetadataRaft::start(
            options(id, addr, voters, dir, snapshot_every),
            Arc::clone(&hook) as Arc<dyn ApplyHook>,
        )
        .await
        {
            Ok(n) => break n,
            Err(e) if e.to_string().contains("in use") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("node {id} failed to start: {e}"),
        }
    };
    let _ = hook.published.set(node.subscribe());
    TestNode {
        id,
        addr: node.local_addr().to_string(),
        dir: dir.to_path_buf(),
        node,
        hook,
    }
}

/// Voters `1..=n` on fresh addresses.
pub fn voters(n: u64) -> Vec<(u64, String)> {
    (1..=n).map(|id| (id, free_addr())).collect()
}

/// Starts every voter in its own directory under `root`.
pub async fn start_cluster(
    root: &Path,
    voters: &[(u64, String)],
    snapshot_every: Option<u64>,
) -> Vec<TestNode> {
    let mut nodes = Vec::new();
    for (id, addr) in voters {
        nodes.push(
            start(
                *id,
                addr,
                voters,
                &root.join(format!("n{id}")),
                snapshot_every,
            )
            .await,
        );
    }
    nodes
}

/// Waits until every node names the same leader, one of them, and that leader
/// agrees; returns it.
pub async fn agreed_leader(nodes: &[&MetadataRaft]) -> u64 {
    let mut leader = 0;
    eventually("an agreed leader", || {
        let first = nodes[0].leader();
        let Some(l) = first else { return false };
        let all_agree = nodes.iter().all(|n| n.leader() == Some(l));
        // The leader must be one of `nodes` (a stopped node may still be named by
        // the others for a moment).
        let leader_knows = nodes
            .iter()
            .find(|n| n.node_id() == l)
            .is_some_and(|n| n.is_leader());
        leader = l;
        all_agree && leader_knows
    })
    .await;
    leader
}

/// Proposes on `node`, retrying while leadership is still settling (`NotLeader`
/// means nothing was appended, so a retry cannot apply twice).
pub async fn propose(
    node: &MetadataRaft,
    records: Vec<MetadataRecord>,
) -> (u64, Arc<MetadataImage>) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match node.propose(records.clone()).await {
            Ok(r) => return r,
            Err(ProposeError::NotLeader { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("proposal on node {} failed: {e}", node.node_id()),
        }
    }
}

/// Waits until `node` has applied `index`.
pub async fn applied(node: &MetadataRaft, index: u64) {
    tokio::time::timeout(DEADLINE, node.wait_applied(index))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "node {} did not apply index {index} (at {})",
                node.node_id(),
                node.applied_index()
            )
        });
}

/// A forward handler answering `"<id>:<payload>"`.
pub fn echo_handler(id: u64) -> ForwardHandler {
    Arc::new(move |payload: Vec<u8>| {
        Box::pin(async move {
            let mut out = format!("{id}:").into_bytes();
            out.extend_from_slice(&payload);
            out
        })
    })
}

/// Names of the topics in an image.
pub fn topic_names(image: &MetadataImage) -> Vec<String> {
    image.topics().map(|t| t.name.clone()).collect()
}
