//! KIP-345 static membership.

use crate::common::*;
use bytes::Bytes;
use strata_group::*;

fn static_req(request_id: RequestId, member_id: &str, instance: &str) -> JoinRequest {
    let mut r = join_req(request_id, member_id, &format!("client-{instance}"));
    r.group_instance_id = Some(instance.to_string());
    r
}

/// Stable group of static members "i0".."i{n-1}"; ids in join order.
fn stable_static(n: usize) -> (Group, Vec<String>, i64) {
    let mut g = Group::new("g".into(), 0);
    let mut fx = Vec::new();
    for k in 0..n {
        // Static members get their id at once, no MEMBER_ID_REQUIRED round trip.
        fx.extend(g.join(static_req(k as u64 + 1, "", &format!("i{k}")), 0, &cfg()));
    }
    assert!(joins(&fx).is_empty());
    let fx = run_until(&mut g, 10 * DELAY);
    let ids = g.members();
    for (k, id) in ids.iter().enumerate() {
        assert!(id.starts_with(&format!("i{k}-")), "{id}");
        assert_eq!(join_for(&fx, k as u64 + 1).member_id, *id);
    }
    let t = 10 * DELAY;
    let gen = g.generation();
    let mut fx = Vec::new();
    for (k, id) in ids.iter().enumerate() {
        let mut s = sync_req(500 + k as u64, id, gen);
        s.group_instance_id = Some(format!("i{k}"));
        if k == 0 {
            s.assignments = ids
                .iter()
                .map(|i| (i.clone(), Bytes::from(format!("{i}@{gen}"))))
                .collect();
        }
        fx.extend(g.sync(s, t));
    }
    let (token, _) = persists(&fx)[0].clone();
    let _ = g.persisted(token, Ok(()), t);
    assert_eq!(g.state(), GroupState::Stable);
    (g, ids, t)
}

#[test]
fn follower_restart_replaces_member_id_without_rebalance() {
    let (mut g, ids, t) = stable_static(2);
    let fx = g.join(static_req(10, "", "i1"), t, &cfg());
    assert_eq!(count_rebalances(&fx), 0);
    assert!(joins(&fx).is_empty(), "answered after the write");
    let (token, value) = persists(&fx)[0].clone();
    let new_id = g.static_member("i1").unwrap().to_string();
    assert_ne!(new_id, ids[1]);
    assert!(new_id.starts_with("i1-"));
    assert!(value
        .members
        .iter()
        .any(|m| m.member_id == new_id && m.group_instance_id.as_deref() == Some("i1")));

    let fx = g.persisted(token, Ok(()), t);
    let r = join_for(&fx, 10);
    assert_eq!(r.error, None);
    assert_eq!(r.member_id, new_id);
    assert_eq!(r.generation_id, 1);
    assert_eq!(r.leader, ids[0]);
    assert!(!r.skip_assignment);
    assert!(r.members.is_empty());
    assert_eq!(g.state(), GroupState::Stable);
    // The assignment carried over to the new id.
    let mut s = sync_req(11, &new_id, 1);
    s.group_instance_id = Some("i1".into());
    let a = sync_for(&g.sync(s, t), 11);
    assert_eq!(a.assignment, Bytes::from(format!("{}@1", ids[1])));

    // The old id is fenced everywhere.
    assert_eq!(
        g.heartbeat(&ids[1], Some("i1"), 1, t),
        Err(GroupError::FencedInstanceId)
    );
    let mut s = sync_req(12, &ids[1], 1);
    s.group_instance_id = Some("i1".into());
    assert_eq!(
        sync_for(&g.sync(s, t), 12).error.map(GroupError::code),
        Some(82)
    );
    assert_eq!(
        g.validate_commit(&ids[1], Some("i1"), 1),
        Err(GroupError::FencedInstanceId)
    );
    let (res, _) = g.leave(vec![(Some(ids[1].clone()), Some("i1".into()))], t);
    assert_eq!(res, vec![Err(GroupError::FencedInstanceId)]);
    let r = join_for(&g.join(static_req(13, &ids[1], "i1"), t, &cfg()), 13);
    assert_eq!(r.error, Some(GroupError::FencedInstanceId));
}

#[test]
fn leader_restart_gets_skip_assignment_on_v9() {
    let (mut g, ids, t) = stable_static(2);
    let fx = g.join(static_req(10, "", "i0"), t, &cfg());
    let (token, _) = persists(&fx)[0].clone();
    let fx = g.persisted(token, Ok(()), t);
    let r = join_for(&fx, 10);
    let new_id = g.static_member("i0").unwrap().to_string();
    assert_eq!(g.leader(), Some(new_id.as_str()));
    assert_eq!(r.leader, new_id);
    assert!(r.skip_assignment);
    assert_eq!(r.members.len(), 2);
    assert_ne!(new_id, ids[0]);
}

#[test]
fn leader_restart_on_old_version_is_told_the_previous_leader() {
    let (mut g, ids, t) = stable_static(2);
    let mut req = static_req(10, "", "i0");
    req.supports_skip_assignment = false;
    let fx = g.join(req, t, &cfg());
    let (token, _) = persists(&fx)[0].clone();
    let r = join_for(&g.persisted(token, Ok(()), t), 10);
    assert_eq!(
        r.leader, ids[0],
        "old leader id, so the client acts as a follower"
    );
    assert!(!r.skip_assignment);
    assert!(r.members.is_empty());
}

#[test]
fn failed_write_reverts_the_replacement() {
    let (mut g, ids, t) = stable_static(2);
    let fx = g.join(static_req(10, "", "i1"), t, &cfg());
    let (token, _) = persists(&fx)[0].clone();
    let fx = g.persisted(token, Err(GroupError::CoordinatorNotAvailable), t);
    let r = join_for(&fx, 10);
    assert_eq!(r.error, Some(GroupError::CoordinatorNotAvailable));
    assert_eq!(r.member_id, "");
    assert_eq!(g.static_member("i1"), Some(ids[1].as_str()));
    assert_eq!(g.heartbeat(&ids[1], Some("i1"), 1, t), Ok(()));
}

#[test]
fn changed_protocol_rebalances() {
    let (mut g, _ids, t) = stable_static(2);
    let mut req = static_req(10, "", "i1");
    req.protocols = protocols(&["roundrobin", "range"]);
    // Votes tie 1:1, the first member's first choice ("range") stays: no rebalance.
    let fx = g.join(req, t, &cfg());
    assert_eq!(count_rebalances(&fx), 0);

    let (mut g, _ids, t) = stable_static(1);
    let mut req = static_req(11, "", "i0");
    req.protocols = protocols(&["roundrobin"]);
    let fx = g.join(req, t, &cfg());
    assert_eq!(count_rebalances(&fx), 1, "selected protocol would change");
    assert!(persists(&fx).is_empty());
    // The only member has rejoined, so the join phase completes at once.
    let r = join_for(&fx, 11);
    assert_eq!(r.protocol_name.as_deref(), Some("roundrobin"));
    assert_eq!(r.generation_id, 2);
}

#[test]
fn replacement_while_completing_rebalances_and_fences_parked_requests() {
    let (mut g, ids, t) = stable_static(2);
    let _ = g.join(static_req(20, &ids[0], "i0"), t, &cfg());
    let _ = g.join(static_req(21, &ids[1], "i1"), t, &cfg());
    assert_eq!(g.state(), GroupState::CompletingRebalance);
    let mut s = sync_req(22, &ids[1], 2);
    s.group_instance_id = Some("i1".into());
    assert!(g.sync(s, t).is_empty());
    let fx = g.join(static_req(23, "", "i1"), t, &cfg());
    assert_eq!(sync_for(&fx, 22).error, Some(GroupError::FencedInstanceId));
    assert_eq!(count_rebalances(&fx), 1);
    assert_eq!(g.state(), GroupState::PreparingRebalance);
}

#[test]
fn static_members_that_miss_the_join_phase_stay_until_their_session_ends() {
    let (mut g, ids, t) = stable_static(2);
    let _ = g.join(static_req(30, &ids[0], "i0"), t, &cfg());
    let _ = g.heartbeat(&ids[1], Some("i1"), 1, t + 9_000);
    let _ = g.heartbeat(&ids[1], Some("i1"), 1, t + 18_000);
    let fx = run_until(&mut g, t + i64::from(REBALANCE));
    assert_eq!(
        join_for(&fx, 30).members.len(),
        2,
        "not removed at join completion"
    );
    assert!(g.has_member(&ids[1]));
    // Completing the join phase restarted every session.
    assert!(run_until(&mut g, t + i64::from(REBALANCE + SESSION) - 1).is_empty());
    let fx = run_until(&mut g, t + i64::from(REBALANCE + SESSION));
    assert!(fx.contains(&Effect::MemberRemoved {
        member_id: ids[1].clone(),
        reason: RemovalReason::SessionExpired
    }));
}

#[test]
fn admin_leave_by_instance_id() {
    let (mut g, ids, t) = stable_static(2);
    let (res, fx) = g.leave(vec![(None, Some("i1".into()))], t);
    assert_eq!(res, vec![Ok(())]);
    assert!(fx.contains(&Effect::MemberRemoved {
        member_id: ids[1].clone(),
        reason: RemovalReason::Left
    }));
    assert_eq!(g.static_member("i1"), None);
}
