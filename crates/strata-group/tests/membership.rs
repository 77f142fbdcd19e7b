//! Heartbeats, session expiry and LeaveGroup.

use crate::common::*;
use strata_group::*;

#[test]
fn heartbeat_by_state() {
    let (mut g, ids, t) = stable_group(2);
    assert_eq!(g.heartbeat(&ids[1], None, 1, t), Ok(()));
    assert_eq!(
        g.heartbeat(&ids[1], None, 0, t),
        Err(GroupError::IllegalGeneration)
    );
    assert_eq!(
        g.heartbeat("nobody", None, 1, t),
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        g.heartbeat(&ids[1], Some("inst"), 1, t),
        Err(GroupError::UnknownMemberId)
    );
    let _ = g.join(join_req(1, &ids[0], "c0"), t, &cfg());
    assert_eq!(
        g.heartbeat(&ids[1], None, 1, t),
        Err(GroupError::RebalanceInProgress)
    );
    let _ = g.join(join_req(2, &ids[1], "c1"), t, &cfg());
    assert_eq!(g.state(), GroupState::CompletingRebalance);
    assert_eq!(g.heartbeat(&ids[1], None, 2, t), Ok(()));
    assert_eq!(
        g.heartbeat(&ids[1], None, 1, t).map_err(GroupError::code),
        Err(22)
    );

    let mut empty = Group::new("e".into(), 0);
    assert_eq!(
        empty.heartbeat("x", None, 0, 0),
        Err(GroupError::UnknownMemberId)
    );
    let _ = empty.delete(0);
    assert_eq!(
        empty.heartbeat("x", None, 0, 0),
        Err(GroupError::CoordinatorNotAvailable)
    );
}

#[test]
fn heartbeats_keep_the_session_alive_and_silence_expires_it() {
    let (mut g, ids, t) = stable_group(2);
    let s = i64::from(SESSION);
    for k in 1..=5 {
        assert_eq!(g.heartbeat(&ids[0], None, 1, t + k * s / 2), Ok(()));
        assert_eq!(g.heartbeat(&ids[1], None, 1, t + k * s / 2), Ok(()));
        assert!(run_until(&mut g, t + k * s / 2).is_empty());
    }
    let last = t + 5 * s / 2;
    let _ = g.heartbeat(&ids[0], None, 1, last + s - 1);
    let fx = run_until(&mut g, last + s);
    assert!(fx.contains(&Effect::MemberRemoved {
        member_id: ids[1].clone(),
        reason: RemovalReason::SessionExpired
    }));
    assert_eq!(count_rebalances(&fx), 1);
    assert_eq!(g.state(), GroupState::PreparingRebalance);
    // The survivor rejoins: the group completes without the dead member.
    let fx = g.join(join_req(5, &ids[0], "c0"), last + s, &cfg());
    assert_eq!(join_for(&fx, 5).generation_id, 2);
    assert_eq!(g.members(), vec![ids[0].clone()]);
}

#[test]
fn last_member_expiring_empties_group_and_bumps_generation() {
    let (mut g, ids, t) = stable_group(1);
    let fx = run_until(&mut g, t + i64::from(SESSION));
    assert!(fx.contains(&Effect::MemberRemoved {
        member_id: ids[0].clone(),
        reason: RemovalReason::SessionExpired
    }));
    assert_eq!(g.state(), GroupState::Empty);
    assert_eq!(g.generation(), 2, "Kafka starts a new (empty) generation");
    assert_eq!(g.leader(), None);
    assert_eq!(g.protocol_name(), None);
    let p = persists(&fx);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].1.generation, 2);
    assert!(p[0].1.members.is_empty());
    assert_eq!(p[0].1.protocol, None);
    assert_eq!(p[0].1.protocol_type, "consumer");
    assert_eq!(g.next_deadline(), None, "nothing left to time out");
}

#[test]
fn leave_by_member_id_and_instance_id() {
    let (mut g, ids, t) = stable_group(3);
    let (res, fx) = g.leave(
        vec![(Some(ids[2].clone()), None), (Some("ghost".into()), None)],
        t,
    );
    assert_eq!(res, vec![Ok(()), Err(GroupError::UnknownMemberId)]);
    assert!(fx.contains(&Effect::MemberRemoved {
        member_id: ids[2].clone(),
        reason: RemovalReason::Left
    }));
    assert_eq!(count_rebalances(&fx), 1);
    assert_eq!(g.state(), GroupState::PreparingRebalance);

    let (res, _) = g.leave(
        vec![(None, Some("no-such-instance".into())), (None, None)],
        t,
    );
    assert_eq!(
        res,
        vec![
            Err(GroupError::UnknownMemberId),
            Err(GroupError::UnknownMemberId)
        ]
    );

    // Leaving during the join phase lets it complete when the rest are in.
    let _ = g.join(join_req(1, &ids[1], "c1"), t, &cfg());
    let (res, fx) = g.leave(vec![(Some(ids[0].clone()), None)], t);
    assert_eq!(res, vec![Ok(())]);
    let r = join_for(&fx, 1);
    assert_eq!((r.generation_id, r.leader.as_str()), (2, ids[1].as_str()));
}

#[test]
fn leave_of_member_parked_in_join_answers_it() {
    let (mut g, ids, t) = stable_group(2);
    let _ = g.join(join_req(1, &ids[0], "c0"), t, &cfg());
    let (_, fx) = g.leave(vec![(Some(ids[0].clone()), None)], t);
    assert_eq!(join_for(&fx, 1).error, Some(GroupError::UnknownMemberId));
}

#[test]
fn leave_of_all_members_empties_group() {
    let (mut g, ids, t) = stable_group(2);
    let (res, fx) = g.leave(ids.iter().map(|i| (Some(i.clone()), None)).collect(), t);
    assert!(res.iter().all(Result::is_ok));
    assert_eq!(g.state(), GroupState::Empty);
    assert_eq!(g.generation(), 2);
    assert_eq!(persists(&fx).len(), 1);
}

#[test]
fn leave_of_pending_member() {
    let (mut g, _ids, t) = stable_group(1);
    let pending = join_for(&g.join(join_req(1, "", "p"), t, &cfg()), 1).member_id;
    let (res, _) = g.leave(vec![(Some(pending.clone()), None)], t);
    assert_eq!(res, vec![Ok(())]);
    let r = join_for(&g.join(join_req(2, &pending, "p"), t, &cfg()), 2);
    assert_eq!(r.error, Some(GroupError::UnknownMemberId));
}

#[test]
fn leave_on_dead_group() {
    let mut g = Group::new("g".into(), 0);
    g.delete(0).unwrap();
    let (res, fx) = g.leave(vec![(Some("a".into()), None)], 0);
    assert_eq!(res, vec![Err(GroupError::CoordinatorNotAvailable)]);
    assert!(fx.is_empty());
}
