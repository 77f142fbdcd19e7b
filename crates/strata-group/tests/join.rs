use crate::common::*;
use bytes::Bytes;
use strata_group::*;

#[test]
fn member_id_required_then_rejoin_proceeds() {
    let mut g = Group::new("g".into(), 0);
    let fx = g.join(join_req(1, "", "client-a"), 0, &cfg());
    let r = join_for(&fx, 1);
    assert_eq!(r.error, Some(GroupError::MemberIdRequired));
    assert_eq!(r.error.map(GroupError::code), Some(79));
    assert!(r.member_id.starts_with("client-a-"), "{}", r.member_id);
    assert_eq!(r.member_id.len(), "client-a-".len() + 36);
    assert_eq!(g.state(), GroupState::Empty);
    assert!(!g.has_member(&r.member_id), "held as pending, not a member");

    let fx = g.join(join_req(2, &r.member_id, "client-a"), 0, &cfg());
    assert!(joins(&fx).is_empty(), "parked during the initial delay");
    assert_eq!(count_rebalances(&fx), 1);
    assert_eq!(g.state(), GroupState::PreparingRebalance);

    let fx = run_until(&mut g, DELAY);
    let r2 = join_for(&fx, 2);
    assert_eq!(r2.error, None);
    assert_eq!(r2.generation_id, 1);
    assert_eq!(r2.leader, r.member_id);
    assert_eq!(r2.protocol_name.as_deref(), Some("range"));
    assert_eq!(r2.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(r2.members.len(), 1, "the leader gets the member list");
    assert_eq!(r2.members[0].metadata, Bytes::from("meta-range"));
    assert_eq!(g.state(), GroupState::CompletingRebalance);
}

#[test]
fn old_versions_join_directly_without_member_id_round_trip() {
    let mut g = Group::new("g".into(), 0);
    let mut req = join_req(1, "", "old");
    req.require_known_member_id = false;
    let fx = g.join(req, 0, &cfg());
    assert!(joins(&fx).is_empty());
    assert_eq!(g.members().len(), 1);
    let fx = run_until(&mut g, DELAY);
    let r = join_for(&fx, 1);
    assert_eq!(r.error, None);
    assert!(r.member_id.starts_with("old-"));
    assert_eq!(r.member_id, g.members()[0]);
}

#[test]
fn pending_member_expires_after_session_timeout() {
    let mut g = Group::new("g".into(), 0);
    let r = join_for(&g.join(join_req(1, "", "c"), 0, &cfg()), 1);
    assert_eq!(g.next_deadline(), Some(i64::from(SESSION)));
    let _ = g.tick(i64::from(SESSION));
    let fx = g.join(
        join_req(2, &r.member_id, "c"),
        i64::from(SESSION) + 1,
        &cfg(),
    );
    assert_eq!(join_for(&fx, 2).error, Some(GroupError::UnknownMemberId));
}

#[test]
fn invalid_session_timeout_and_group_id() {
    let mut g = Group::new("g".into(), 0);
    let mut req = join_req(1, "m", "c");
    req.session_timeout_ms = 5_999;
    let r = join_for(&g.join(req.clone(), 0, &cfg()), 1);
    assert_eq!(r.error, Some(GroupError::InvalidSessionTimeout));
    assert_eq!(r.member_id, "m");
    req.session_timeout_ms = 1_800_001;
    assert_eq!(
        join_for(&g.join(req, 0, &cfg()), 1)
            .error
            .map(GroupError::code),
        Some(26)
    );

    let mut empty = Group::new(String::new(), 0);
    let r = join_for(&empty.join(join_req(1, "", "c"), 0, &cfg()), 1);
    assert_eq!(r.error.map(GroupError::code), Some(24));
    assert_eq!(validate_group_id(""), Err(GroupError::InvalidGroupId));
    assert_eq!(validate_group_id("x"), Ok(()));
}

#[test]
fn protocol_type_and_protocols_must_match() {
    let (mut g, _ids, t) = stable_group(1);
    let mut req = join_req(1, "", "c");
    req.protocol_type = "connect".into();
    assert_eq!(
        join_for(&g.join(req, t, &cfg()), 1)
            .error
            .map(GroupError::code),
        Some(23)
    );

    let mut req = join_req(2, "", "c");
    req.protocols = protocols(&["sticky"]);
    assert_eq!(
        join_for(&g.join(req, t, &cfg()), 2).error,
        Some(GroupError::InconsistentGroupProtocol)
    );

    // Empty group: an empty protocol type or list is refused too.
    let mut e = Group::new("e".into(), 0);
    let mut req = join_req(3, "", "c");
    req.protocols.clear();
    assert_eq!(
        join_for(&e.join(req, 0, &cfg()), 3).error,
        Some(GroupError::InconsistentGroupProtocol)
    );
}

#[test]
fn protocol_with_most_first_choice_votes_wins() {
    let mut g = Group::new("g".into(), 0);
    let prefs: [&[&str]; 3] = [&["a", "b"], &["b", "a"], &["b", "a", "c"]];
    for (k, p) in prefs.iter().enumerate() {
        let mut req = join_req(k as u64 + 1, "", &format!("c{k}"));
        req.require_known_member_id = false;
        req.protocols = protocols(p);
        let _ = g.join(req, 0, &cfg());
    }
    let fx = run_until(&mut g, 10 * DELAY);
    for (_, r) in joins(&fx) {
        assert_eq!(r.protocol_name.as_deref(), Some("b"));
    }
    assert_eq!(g.protocol_name(), Some("b"));
}

#[test]
fn initial_delay_extends_while_members_keep_joining_up_to_rebalance_timeout() {
    let mut g = Group::new("g".into(), 0);
    let (_a, _) = join_two_step(&mut g, 1, "a", 0);
    assert_eq!(g.next_deadline(), Some(DELAY));
    // Another member arrives before the delay ends: the delay is extended.
    let (_b, _) = join_two_step(&mut g, 11, "b", 50);
    let fx = g.tick(DELAY);
    assert!(joins(&fx).is_empty());
    assert_eq!(g.state(), GroupState::PreparingRebalance);
    assert_eq!(g.next_deadline(), Some(2 * DELAY));
    let fx = g.tick(2 * DELAY);
    assert_eq!(joins(&fx).len(), 2);
    assert_eq!(g.generation(), 1);

    // The extension is bounded by the rebalance timeout.
    let mut g = Group::new("h".into(), 0);
    let mut c = GroupConfig {
        initial_rebalance_delay_ms: 100,
        ..cfg()
    };
    c.initial_rebalance_delay_ms = 100;
    let mut req = join_req(1, "", "x");
    req.require_known_member_id = false;
    req.rebalance_timeout_ms = 250;
    let _ = g.join(req, 0, &c);
    let mut t = 0;
    let mut n = 2;
    let done = loop {
        t += 10;
        let mut req = join_req(n, "", "y");
        req.require_known_member_id = false;
        req.rebalance_timeout_ms = 250;
        n += 1;
        let _ = g.join(req, t, &c);
        let fx = run_until(&mut g, t);
        if !joins(&fx).is_empty() {
            break t;
        }
        assert!(t < 1000, "initial rebalance never completed");
    };
    assert!(done <= 300, "completed at {done}");
}

#[test]
fn rebalance_waits_for_all_members_then_completes_early() {
    let (mut g, ids, t) = stable_group(2);
    // A third member joins: rebalance; it waits for the two existing members.
    let (c, fx) = join_two_step(&mut g, 50, "c", t);
    assert_eq!(count_rebalances(&fx), 1);
    assert_eq!(g.state(), GroupState::PreparingRebalance);
    assert!(joins(&fx).is_empty());
    assert_eq!(
        g.heartbeat(&ids[0], None, 1, t),
        Err(GroupError::RebalanceInProgress)
    );
    let fx = g.join(join_req(60, &ids[0], "c0"), t + 1, &cfg());
    assert!(joins(&fx).is_empty());
    let fx = g.join(join_req(61, &ids[1], "c1"), t + 2, &cfg());
    let answers = joins(&fx);
    assert_eq!(
        answers.len(),
        3,
        "everyone rejoined: completes without waiting"
    );
    assert_eq!(g.generation(), 2);
    let leader = &join_for(&fx, 60);
    assert_eq!(leader.leader, ids[0], "old leader kept");
    assert_eq!(leader.members.len(), 3);
    assert!(
        join_for(&fx, 61).members.is_empty(),
        "followers get no member list"
    );
    assert_eq!(join_for(&fx, 51).member_id, c);
}

#[test]
fn members_that_do_not_rejoin_are_dropped_at_rebalance_timeout_and_leader_moves() {
    let (mut g, ids, t) = stable_group(3);
    // The leader (ids[0]) never rejoins; ids[1] triggers a rebalance.
    let mut req = join_req(70, &ids[1], "c1");
    req.protocols = protocols(&["range", "roundrobin", "sticky"]);
    let fx = g.join(req, t, &cfg());
    assert_eq!(count_rebalances(&fx), 1);
    let _ = g.join(join_req(71, &ids[2], "c2"), t, &cfg());
    // The leader stays alive (heartbeats) but does not rejoin.
    for dt in [9_000, 18_000] {
        assert_eq!(
            g.heartbeat(&ids[0], None, 1, t + dt),
            Err(GroupError::RebalanceInProgress)
        );
    }
    let fx = run_until(&mut g, t + i64::from(REBALANCE));
    assert!(fx.contains(&Effect::MemberRemoved {
        member_id: ids[0].clone(),
        reason: RemovalReason::NotRejoined
    }));
    assert_eq!(g.members(), vec![ids[1].clone(), ids[2].clone()]);
    assert_eq!(
        g.leader(),
        Some(ids[1].as_str()),
        "first rejoined member leads"
    );
    assert_eq!(join_for(&fx, 70).members.len(), 2);
    assert_eq!(g.state(), GroupState::CompletingRebalance);
}

#[test]
fn stable_follower_rejoin_with_same_metadata_returns_current_generation() {
    let (mut g, ids, t) = stable_group(2);
    let fx = g.join(join_req(80, &ids[1], "c1"), t, &cfg());
    let r = join_for(&fx, 80);
    assert_eq!(r.error, None);
    assert_eq!(r.generation_id, 1);
    assert_eq!(r.leader, ids[0]);
    assert!(r.members.is_empty());
    assert_eq!(count_rebalances(&fx), 0);
    assert_eq!(g.state(), GroupState::Stable);
}

#[test]
fn stable_leader_rejoin_or_changed_metadata_rebalances() {
    let (mut g, ids, t) = stable_group(2);
    let fx = g.join(join_req(81, &ids[0], "c0"), t, &cfg());
    assert_eq!(count_rebalances(&fx), 1);
    assert_eq!(g.state(), GroupState::PreparingRebalance);

    let (mut g, ids, t) = stable_group(2);
    let mut req = join_req(82, &ids[1], "c1");
    req.protocols = vec![("range".into(), Bytes::from_static(b"new-subscription"))];
    let fx = g.join(req, t, &cfg());
    assert_eq!(count_rebalances(&fx), 1);
}

#[test]
fn completing_rebalance_rejoin_repeats_answer_or_rebalances() {
    let (mut g, ids, t) = stable_group(2);
    let _ = g.join(join_req(90, &ids[0], "c0"), t, &cfg());
    let _ = g.join(join_req(91, &ids[1], "c1"), t, &cfg());
    assert_eq!(g.state(), GroupState::CompletingRebalance);
    let r = join_for(&g.join(join_req(92, &ids[0], "c0"), t, &cfg()), 92);
    assert_eq!(
        (r.generation_id, r.members.len()),
        (2, 2),
        "leader's lost answer repeated"
    );
    let r = join_for(&g.join(join_req(93, &ids[1], "c1"), t, &cfg()), 93);
    assert_eq!((r.generation_id, r.members.len()), (2, 0));
    assert_eq!(g.state(), GroupState::CompletingRebalance);

    let mut req = join_req(94, &ids[1], "c1");
    req.protocols = protocols(&["roundrobin"]);
    let fx = g.join(req, t, &cfg());
    assert_eq!(count_rebalances(&fx), 1);
    assert_eq!(g.state(), GroupState::PreparingRebalance);
}

#[test]
fn unknown_member_and_empty_group_rejoin() {
    let (mut g, _ids, t) = stable_group(1);
    let r = join_for(&g.join(join_req(1, "nope", "c"), t, &cfg()), 1);
    assert_eq!(r.error, Some(GroupError::UnknownMemberId));
    assert_eq!(r.member_id, "nope");
    let mut e = Group::new("e".into(), 0);
    let r = join_for(&e.join(join_req(2, "ghost", "c"), 0, &cfg()), 2);
    assert_eq!(r.error, Some(GroupError::UnknownMemberId));
}

#[test]
fn group_max_size() {
    let c = GroupConfig {
        max_size: 2,
        ..cfg()
    };
    let (mut g, _ids, t) = stable_group(2);
    let fx = g.join(join_req(1, "", "third"), t, &c);
    let r = join_for(&fx, 1);
    assert_eq!(r.error.map(GroupError::code), Some(81));
    assert_eq!(r.member_id, "");
    assert_eq!(g.members().len(), 2);
    assert_eq!(g.state(), GroupState::Stable);
}

#[test]
fn superseded_parked_join_is_answered() {
    let (mut g, ids, t) = stable_group(2);
    let _ = g.join(join_req(1, &ids[0], "c0"), t, &cfg());
    let fx = g.join(join_req(2, &ids[0], "c0"), t, &cfg());
    assert_eq!(
        join_for(&fx, 1).error,
        Some(GroupError::RebalanceInProgress)
    );
    let fx = g.join(join_req(3, &ids[1], "c1"), t, &cfg());
    assert_eq!(join_for(&fx, 2).error, None);
}

#[test]
fn new_member_parked_too_long_is_dropped() {
    let c = GroupConfig {
        new_member_join_timeout_ms: 5_000,
        ..cfg()
    };
    let (mut g, ids, t) = stable_group(1);
    let _ = g.join(join_req(10, "", "n"), t, &c);
    let newbie = join_for(&g.join(join_req(11, "", "n"), t, &c), 11).member_id;
    let fx = g.join(join_req(12, &newbie, "n"), t, &c);
    assert!(joins(&fx).is_empty());
    // The old member stays alive but never rejoins.
    let _ = g.heartbeat(&ids[0], None, 1, t + 4_000);
    let fx = run_until(&mut g, t + 5_000);
    let r = join_for(&fx, 12);
    assert_eq!(r.error, Some(GroupError::UnknownMemberId));
    assert!(!g.has_member(&newbie));
    assert_eq!(g.state(), GroupState::PreparingRebalance);
}
