//! Transactional offset commits: pending until the marker, log order decides, replay
//! equals the live state; the producer sequences of the coordinator's batches; and the
//! KIP-447 fencing of TxnOffsetCommit.

use std::collections::HashMap;

use crate::common::*;
use proptest::prelude::*;
use strata_group::*;

fn v(offset: i64) -> OffsetCommitValue {
    OffsetCommitValue {
        offset,
        leader_epoch: -1,
        metadata: String::new(),
        commit_timestamp: 0,
        expire_timestamp: None,
    }
}

fn tp(p: i32) -> TopicPartition {
    ("t".to_string(), p)
}

fn committed_offset(c: &HashMap<String, CommittedOffsets>, g: &str, p: i32) -> Option<i64> {
    c.get(g).and_then(|m| m.get(&tp(p))).map(|(_, v)| v.offset)
}

#[test]
fn pending_until_commit_marker() {
    let mut txn = TxnOffsets::new();
    let mut c: HashMap<String, CommittedOffsets> = HashMap::new();
    let w = txn.begin("g", 7, vec![(tp(0), v(10)), (tp(1), v(11))]);
    assert!(txn.is_pending("g", "t", 0) && txn.is_pending("g", "t", 1));
    assert!(!txn.is_pending("g", "t", 2) && !txn.is_pending("other", "t", 0));
    assert_eq!(txn.written(w, 100, &mut c), 0);
    assert!(c.is_empty(), "pending offsets are not committed offsets");
    assert_eq!(txn.pending_partitions("g"), vec![tp(0), tp(1)]);
    assert_eq!(txn.producers("g"), vec![7]);

    // Another producer's marker changes nothing.
    let done = txn.complete(8, true, &mut c);
    assert_eq!(done, Completion::default());
    assert!(txn.is_pending("g", "t", 0));

    let done = txn.complete(7, true, &mut c);
    assert_eq!((done.groups, done.materialized), (vec!["g".to_string()], 2));
    assert_eq!(committed_offset(&c, "g", 0), Some(10));
    assert_eq!(c["g"][&tp(1)].0, 100, "the record's log offset orders it");
    assert!(!txn.is_pending("g", "t", 0));
    assert!(txn.is_empty());
}

#[test]
fn abort_marker_keeps_the_old_offsets() {
    let mut txn = TxnOffsets::new();
    let mut c: HashMap<String, CommittedOffsets> = HashMap::new();
    materialize(c.entry("g".into()).or_default(), tp(0), 5, v(1));
    let w = txn.begin("g", 7, vec![(tp(0), v(10))]);
    txn.written(w, 100, &mut c);
    let done = txn.complete(7, false, &mut c);
    assert_eq!((done.materialized, done.dropped), (0, 1));
    assert_eq!(committed_offset(&c, "g", 0), Some(1));
    assert!(!txn.is_pending("g", "t", 0));
}

#[test]
fn log_order_decides_between_regular_and_transactional_commits() {
    let mut txn = TxnOffsets::new();
    let mut c: HashMap<String, CommittedOffsets> = HashMap::new();
    // Transactional commit at 10, then a regular commit at 20 of the same partition.
    let w = txn.begin("g", 7, vec![(tp(0), v(100))]);
    txn.written(w, 10, &mut c);
    assert!(materialize(
        c.entry("g".into()).or_default(),
        tp(0),
        20,
        v(200)
    ));
    let done = txn.complete(7, true, &mut c);
    assert_eq!((done.materialized, done.dropped), (0, 1));
    assert_eq!(
        committed_offset(&c, "g", 0),
        Some(200),
        "the later record wins"
    );

    // A transactional commit written after the regular one wins once committed.
    let w = txn.begin("g", 7, vec![(tp(0), v(300))]);
    txn.written(w, 30, &mut c);
    assert_eq!(committed_offset(&c, "g", 0), Some(200));
    txn.complete(7, true, &mut c);
    assert_eq!(committed_offset(&c, "g", 0), Some(300));
    // A regular commit whose durability wait ends late but was written earlier loses.
    assert!(!materialize(c.get_mut("g").unwrap(), tp(0), 25, v(250)));
    assert_eq!(committed_offset(&c, "g", 0), Some(300));
}

#[test]
fn a_marker_settles_a_write_whose_append_is_not_reported_yet() {
    let mut txn = TxnOffsets::new();
    let mut c: HashMap<String, CommittedOffsets> = HashMap::new();
    let committed = txn.begin("g", 7, vec![(tp(0), v(10))]);
    let done = txn.complete(7, true, &mut c);
    assert_eq!((done.settling, done.materialized), (1, 0));
    assert!(
        txn.is_pending("g", "t", 0),
        "settling still counts as unstable"
    );
    assert!(c.is_empty());
    assert_eq!(txn.written(committed, 50, &mut c), 1);
    assert_eq!(committed_offset(&c, "g", 0), Some(10));
    assert!(txn.is_empty());

    let aborted = txn.begin("g", 7, vec![(tp(0), v(20))]);
    txn.complete(7, false, &mut c);
    assert_eq!(txn.written(aborted, 60, &mut c), 0);
    assert_eq!(committed_offset(&c, "g", 0), Some(10));
    assert!(txn.is_empty());
}

#[test]
fn failed_writes_and_tombstones_drop_pending_offsets() {
    let mut txn = TxnOffsets::new();
    let mut c: HashMap<String, CommittedOffsets> = HashMap::new();
    let w = txn.begin("g", 7, vec![(tp(0), v(10))]);
    txn.failed(w);
    assert!(!txn.is_pending("g", "t", 0) && txn.is_empty());

    let a = txn.begin("g", 7, vec![(tp(0), v(10)), (tp(1), v(11))]);
    let b = txn.begin("g", 8, vec![(tp(0), v(12))]);
    txn.written(a, 1, &mut c);
    txn.written(b, 2, &mut c);
    let settling = txn.begin("g", 9, vec![(tp(0), v(13))]);
    txn.complete(9, true, &mut c);
    // The tombstone drops partition 0 for every producer, settling writes included.
    txn.remove("g", &[tp(0)]);
    assert!(!txn.is_pending("g", "t", 0));
    assert_eq!(txn.pending_partitions("g"), vec![tp(1)]);
    assert_eq!(txn.written(settling, 3, &mut c), 0);
    txn.complete(7, true, &mut c);
    txn.complete(8, true, &mut c);
    assert_eq!(committed_offset(&c, "g", 0), None);
    assert_eq!(committed_offset(&c, "g", 1), Some(11));

    let w = txn.begin("h", 7, vec![(tp(0), v(1))]);
    txn.written(w, 4, &mut c);
    txn.remove_group("h");
    assert!(txn.is_empty());
}

#[test]
fn a_partition_named_twice_keeps_its_last_offset() {
    let mut txn = TxnOffsets::new();
    let mut c: HashMap<String, CommittedOffsets> = HashMap::new();
    let w = txn.begin("g", 7, vec![(tp(0), v(1)), (tp(0), v(2))]);
    txn.written(w, 9, &mut c);
    txn.complete(7, true, &mut c);
    assert_eq!(committed_offset(&c, "g", 0), Some(2));
}

/// One step of a coordinator partition's history.
#[derive(Debug, Clone)]
enum Op {
    /// A regular commit of (group, partition).
    Regular(u8, u8),
    /// A TxnOffsetCommit of (producer, group, partition); its append is reported
    /// `delay` steps later (the marker may come first).
    Txn(u8, u8, u8, u8),
    /// A marker of (producer, commit).
    Marker(u8, bool),
    /// A tombstone of (group, partition).
    Tombstone(u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..2u8, 0..3u8).prop_map(|(g, p)| Op::Regular(g, p)),
        (0..3u8, 0..2u8, 0..3u8, 0..3u8).prop_map(|(r, g, p, d)| Op::Txn(r, g, p, d)),
        (0..3u8, any::<bool>()).prop_map(|(r, c)| Op::Marker(r, c)),
        (0..2u8, 0..3u8).prop_map(|(g, p)| Op::Tombstone(g, p)),
    ]
}

/// What a log record of the history holds: the replay's input.
#[derive(Debug, Clone)]
enum Logged {
    Regular(String, i32, i64),
    Txn(i64, String, i32, i64),
    Marker(i64, bool),
    Tombstone(String, i32),
}

proptest! {
    /// The live coordinator (append results reported late, markers arriving in
    /// between) ends with exactly the committed offsets a replay of its log gives, and
    /// with the same partitions pending.
    #[test]
    fn live_state_equals_the_replay_of_the_log(ops in prop::collection::vec(op(), 1..60)) {
        let mut live = TxnOffsets::new();
        let mut live_c: HashMap<String, CommittedOffsets> = HashMap::new();
        let mut log: Vec<Logged> = Vec::new();
        // (due step, write, log offset)
        let mut unreported: Vec<(usize, WriteId, i64)> = Vec::new();
        let group = |g: u8| format!("g{g}");
        for (step, op) in ops.iter().enumerate() {
            let at = log.len() as i64;
            let value = v(step as i64);
            match *op {
                Op::Regular(g, p) => {
                    log.push(Logged::Regular(group(g), i32::from(p), step as i64));
                    materialize(live_c.entry(group(g)).or_default(), tp(i32::from(p)), at, value);
                }
                Op::Txn(r, g, p, delay) => {
                    log.push(Logged::Txn(i64::from(r), group(g), i32::from(p), step as i64));
                    let w = live.begin(&group(g), i64::from(r), vec![(tp(i32::from(p)), value)]);
                    unreported.push((step + usize::from(delay), w, at));
                }
                Op::Marker(r, commit) => {
                    log.push(Logged::Marker(i64::from(r), commit));
                    live.complete(i64::from(r), commit, &mut live_c);
                }
                Op::Tombstone(g, p) => {
                    log.push(Logged::Tombstone(group(g), i32::from(p)));
                    if let Some(m) = live_c.get_mut(&group(g)) {
                        m.remove(&tp(i32::from(p)));
                    }
                    live.remove(&group(g), &[tp(i32::from(p))]);
                }
            }
            let (due, later): (Vec<_>, Vec<_>) =
                unreported.into_iter().partition(|(d, _, _)| *d <= step);
            unreported = later;
            for (_, w, at) in due {
                live.written(w, at, &mut live_c);
            }
        }
        for (_, w, at) in std::mem::take(&mut unreported) {
            live.written(w, at, &mut live_c);
        }

        let mut replay = TxnOffsets::new();
        let mut replay_c: HashMap<String, CommittedOffsets> = HashMap::new();
        for (at, rec) in log.iter().enumerate() {
            let at = at as i64;
            match rec {
                Logged::Regular(g, p, o) => {
                    materialize(replay_c.entry(g.clone()).or_default(), tp(*p), at, v(*o));
                }
                Logged::Txn(r, g, p, o) => replay.replay(g, *r, tp(*p), v(*o), at),
                Logged::Marker(r, commit) => {
                    replay.complete(*r, *commit, &mut replay_c);
                }
                Logged::Tombstone(g, p) => {
                    if let Some(m) = replay_c.get_mut(g) {
                        m.remove(&tp(*p));
                    }
                    replay.remove(g, &[tp(*p)]);
                }
            }
        }
        live_c.retain(|_, m| !m.is_empty());
        replay_c.retain(|_, m| !m.is_empty());
        prop_assert_eq!(&live_c, &replay_c);
        for g in 0..2u8 {
            prop_assert_eq!(live.pending_partitions(&group(g)), replay.pending_partitions(&group(g)));
        }
    }
}

#[test]
fn sequences_continue_the_log_and_restart_with_an_epoch() {
    let mut s = ProducerSequences::new();
    assert!(s.needs_log(7, 0));
    // Unknown to the log: start at 0.
    assert_eq!(s.assign(7, 0, None, 3), 0);
    assert!(!s.needs_log(7, 0));
    assert_eq!(s.assign(7, 0, None, 1), 3, "after 0..=2");
    assert_eq!(
        s.assign(7, 0, Some((0, 99)), 2),
        4,
        "its own numbering wins"
    );
    s.finished(7, true);
    s.finished(7, true);
    s.finished(7, true);
    assert!(!s.needs_log(7, 0));
    // A new epoch starts at 0; the log's state of another epoch does not count.
    assert!(s.needs_log(7, 1));
    assert_eq!(s.assign(7, 1, Some((0, 5)), 1), 0);
    // The log's state of the same epoch is continued.
    assert_eq!(s.assign(8, 2, Some((2, 41)), 1), 42);
    // Sequences wrap past i32::MAX to 0, as the log counts them.
    assert_eq!(s.assign(9, 0, Some((0, i32::MAX - 1)), 2), i32::MAX);
    assert_eq!(s.assign(9, 0, None, 1), 1);
}

#[test]
fn a_failed_write_asks_the_log_again_once_nothing_is_in_flight() {
    let mut s = ProducerSequences::new();
    assert_eq!(s.assign(7, 0, None, 1), 0);
    assert_eq!(s.assign(7, 0, None, 1), 1);
    s.finished(7, false);
    // The other write is still in flight: the log cannot know it yet.
    assert!(!s.needs_log(7, 0));
    assert_eq!(s.assign(7, 0, Some((0, 0)), 1), 2);
    s.finished(7, true);
    s.finished(7, true);
    assert!(s.needs_log(7, 0), "stale after the failure");
    assert_eq!(s.assign(7, 0, Some((0, 5)), 1), 6);
    assert_eq!(s.len(), 1);
}

#[test]
fn txn_commit_fencing_follows_kip_447() {
    // Old clients (v0-v2) send no member: accepted whatever the state.
    let (mut g, ids, t) = stable_group(2);
    assert_eq!(g.validate_txn_commit("", None, -1), Ok(()));
    assert_eq!(g.validate_txn_commit(&ids[0], None, 1), Ok(()));
    assert_eq!(
        g.validate_txn_commit(&ids[0], None, 2),
        Err(GroupError::IllegalGeneration)
    );
    assert_eq!(
        g.validate_txn_commit("zombie", None, 1),
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        g.validate_txn_commit("", None, 1),
        Err(GroupError::UnknownMemberId),
        "a generation without a member id"
    );
    // An instance id nobody holds.
    assert_eq!(
        g.validate_txn_commit(&ids[0], Some("i9"), 1),
        Err(GroupError::UnknownMemberId)
    );
    // A rebalance in progress does not stop a transactional commit of the generation.
    let _ = g.join(join_req(1, &ids[0], "c0"), t, &cfg());
    let _ = g.join(join_req(2, &ids[1], "c1"), t, &cfg());
    assert_eq!(g.state(), GroupState::CompletingRebalance);
    assert_eq!(g.validate_txn_commit(&ids[1], None, 2), Ok(()));
    assert_eq!(
        g.validate_txn_commit(&ids[1], None, 1),
        Err(GroupError::IllegalGeneration),
        "a zombie of the previous generation"
    );

    let mut dead = Group::new("d".into(), 0);
    dead.delete(0).unwrap();
    assert_eq!(
        dead.validate_txn_commit("", None, -1),
        Err(GroupError::CoordinatorNotAvailable)
    );
}

#[test]
fn txn_commit_of_a_replaced_static_member_is_fenced() {
    let mut g = Group::new("g".into(), 0);
    let mut req = join_req(1, "", "c");
    req.group_instance_id = Some("i0".into());
    let mut fx = g.join(req, 0, &cfg());
    fx.extend(run_until(&mut g, DELAY));
    let id = join_for(&fx, 1).member_id;
    assert_eq!(g.static_member("i0"), Some(id.as_str()));
    assert_eq!(
        g.validate_txn_commit(&id, Some("i0"), g.generation()),
        Ok(())
    );
    assert_eq!(
        g.validate_txn_commit("old-id", Some("i0"), g.generation()),
        Err(GroupError::FencedInstanceId)
    );
}
