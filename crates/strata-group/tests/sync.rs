use crate::common::*;
use bytes::Bytes;
use strata_group::*;

/// Two members joined generation 1, nobody synced yet.
fn completing_group() -> (Group, Vec<String>, i64) {
    let mut g = Group::new("g".into(), 0);
    let (a, _) = join_two_step(&mut g, 1, "a", 0);
    let (b, _) = join_two_step(&mut g, 11, "b", 0);
    let _ = run_until(&mut g, 10 * DELAY);
    assert_eq!(g.state(), GroupState::CompletingRebalance);
    (g, vec![a, b], 10 * DELAY)
}

#[test]
fn followers_park_until_leader_assignment_is_persisted() {
    let (mut g, ids, t) = completing_group();
    let fx = g.sync(sync_req(20, &ids[1], 1), t);
    assert!(fx.is_empty(), "follower parks: {fx:?}");
    assert_eq!(
        g.heartbeat(&ids[1], None, 1, t),
        Ok(()),
        "heartbeat ok while awaiting sync"
    );

    let mut req = sync_req(21, &ids[0], 1);
    req.assignments = vec![
        (ids[0].clone(), Bytes::from_static(b"A")),
        (ids[1].clone(), Bytes::from_static(b"B")),
    ];
    let fx = g.sync(req, t);
    assert!(syncs(&fx).is_empty(), "nobody is answered before the write");
    let p = persists(&fx);
    assert_eq!(p.len(), 1);
    let (token, value) = p[0].clone();
    assert_eq!(value.generation, 1);
    assert_eq!(value.leader.as_deref(), Some(ids[0].as_str()));
    assert_eq!(value.protocol.as_deref(), Some("range"));
    assert_eq!(value.protocol_type, "consumer");
    assert_eq!(value.members.len(), 2);
    assert_eq!(value.members[1].assignment, Bytes::from_static(b"B"));
    assert_eq!(
        value.members[1].subscription,
        Bytes::from_static(b"meta-range")
    );
    assert_eq!(g.state(), GroupState::CompletingRebalance);

    let fx = g.persisted(token, Ok(()), t + 5);
    assert_eq!(sync_for(&fx, 20).assignment, Bytes::from_static(b"B"));
    let leader = sync_for(&fx, 21);
    assert_eq!(leader.assignment, Bytes::from_static(b"A"));
    assert_eq!(leader.protocol_name.as_deref(), Some("range"));
    assert_eq!(leader.protocol_type.as_deref(), Some("consumer"));
    assert!(fx.contains(&Effect::RebalanceCompleted { generation: 1 }));
    assert_eq!(g.state(), GroupState::Stable);
    let mut now = g.to_record();
    assert_eq!(
        now.current_state_timestamp,
        t + 5,
        "Stable since the write completed"
    );
    now.current_state_timestamp = value.current_state_timestamp;
    assert_eq!(now, value, "persisted record matches the stable group");

    // A late sync in Stable gets the stored assignment at once.
    let s = sync_for(&g.sync(sync_req(22, &ids[1], 1), t + 6), 22);
    assert_eq!((s.error, s.assignment), (None, Bytes::from_static(b"B")));
    // Stale tokens are ignored.
    assert!(g.persisted(token, Ok(()), t + 7).is_empty());
}

#[test]
fn members_missing_from_leader_map_get_empty_assignment() {
    let (mut g, ids, t) = completing_group();
    let _ = g.sync(sync_req(20, &ids[1], 1), t);
    let mut req = sync_req(21, &ids[0], 1);
    req.assignments = vec![
        (ids[0].clone(), Bytes::from_static(b"A")),
        ("stranger".into(), Bytes::from_static(b"X")),
    ];
    let fx = g.sync(req, t);
    let (token, value) = persists(&fx)[0].clone();
    assert_eq!(value.members.len(), 2, "only current members are recorded");
    let fx = g.persisted(token, Ok(()), t);
    assert_eq!(sync_for(&fx, 20).assignment, Bytes::new());
    assert_eq!(g.assignment(&ids[1]), Some(Bytes::new()));
}

#[test]
fn failed_write_answers_error_and_rebalances() {
    let (mut g, ids, t) = completing_group();
    let _ = g.sync(sync_req(20, &ids[1], 1), t);
    let fx = g.sync(sync_req(21, &ids[0], 1), t);
    let (token, _) = persists(&fx)[0].clone();
    let fx = g.persisted(token, Err(GroupError::from_append_error(6)), t);
    assert_eq!(sync_for(&fx, 20).error, Some(GroupError::NotCoordinator));
    assert_eq!(sync_for(&fx, 21).error, Some(GroupError::NotCoordinator));
    assert_eq!(count_rebalances(&fx), 1);
    assert_eq!(g.state(), GroupState::PreparingRebalance);
}

#[test]
fn sync_errors() {
    let (mut g, ids, t) = completing_group();
    let e = |fx: Vec<Effect>, r| sync_for(&fx, r).error;
    assert_eq!(
        e(g.sync(sync_req(1, &ids[1], 0), t), 1),
        Some(GroupError::IllegalGeneration)
    );
    assert_eq!(
        e(g.sync(sync_req(2, "who", 1), t), 2),
        Some(GroupError::UnknownMemberId)
    );
    let mut req = sync_req(3, &ids[1], 1);
    req.protocol_name = Some("roundrobin".into());
    assert_eq!(
        e(g.sync(req, t), 3),
        Some(GroupError::InconsistentGroupProtocol)
    );
    let mut req = sync_req(4, &ids[1], 1);
    req.protocol_type = Some("connect".into());
    assert_eq!(e(g.sync(req, t), 4).map(GroupError::code), Some(23));
    let mut req = sync_req(5, &ids[1], 1);
    req.group_instance_id = Some("not-mine".into());
    assert_eq!(e(g.sync(req, t), 5), Some(GroupError::UnknownMemberId));
    // Absent protocol fields (SyncGroup < v5) are not checked.
    let mut req = sync_req(6, &ids[1], 1);
    req.protocol_type = None;
    req.protocol_name = None;
    assert!(g.sync(req, t).is_empty());

    // A rebalance while followers wait answers them REBALANCE_IN_PROGRESS.
    let fx = g.join(join_req(7, &ids[0], "a"), t, &cfg());
    let mut fresh = join_req(77, &ids[0], "a");
    fresh.protocols = protocols(&["range"]);
    let fx2 = g.join(fresh, t, &cfg());
    assert!(joins(&fx).len() == 1 && syncs(&fx).is_empty());
    assert_eq!(
        sync_for(&fx2, 6).error,
        Some(GroupError::RebalanceInProgress)
    );
    assert_eq!(g.state(), GroupState::PreparingRebalance);
    assert_eq!(
        e(g.sync(sync_req(8, &ids[1], 1), t), 8).map(GroupError::code),
        Some(27)
    );

    let mut empty = Group::new("e".into(), 0);
    assert_eq!(
        e(empty.sync(sync_req(9, "x", 0), 0), 9),
        Some(GroupError::UnknownMemberId)
    );
}

#[test]
fn missing_sync_expires_at_rebalance_timeout() {
    let (mut g, ids, t) = completing_group();
    // Only the leader syncs; the follower keeps heartbeating but never syncs.
    let fx = g.sync(sync_req(21, &ids[0], 1), t);
    let _ = persists(&fx);
    let _ = g.heartbeat(&ids[1], None, 1, t + 9_000);
    let _ = g.heartbeat(&ids[1], None, 1, t + 18_000);
    let fx = run_until(&mut g, t + i64::from(REBALANCE));
    assert!(fx.contains(&Effect::MemberRemoved {
        member_id: ids[1].clone(),
        reason: RemovalReason::SyncExpired
    }));
    assert_eq!(count_rebalances(&fx), 1);
    assert_eq!(
        sync_for(&fx, 21).error,
        Some(GroupError::RebalanceInProgress)
    );
}

#[test]
fn silent_member_session_expires_while_completing() {
    let (mut g, ids, t) = completing_group();
    // The follower neither syncs nor heartbeats: its session ends first.
    let _ = g.sync(sync_req(21, &ids[0], 1), t);
    let fx = run_until(&mut g, t + i64::from(SESSION));
    assert!(fx.contains(&Effect::MemberRemoved {
        member_id: ids[1].clone(),
        reason: RemovalReason::SessionExpired
    }));
    assert_eq!(
        sync_for(&fx, 21).error,
        Some(GroupError::RebalanceInProgress)
    );
    // The leader is parked in sync, so it was not expected to heartbeat; the
    // rebalance now waits for it to rejoin.
    assert_eq!(g.state(), GroupState::PreparingRebalance);
    assert!(g.has_member(&ids[0]));
}
