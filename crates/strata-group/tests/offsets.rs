//! Offset-commit validation and group deletion / unloading.

use crate::common::*;
use strata_group::*;

#[test]
fn simple_commit_only_when_empty() {
    let g = Group::new("g".into(), 0);
    assert_eq!(g.validate_commit("", None, -1), Ok(()));
    let (g, _ids, _) = stable_group(1);
    assert_eq!(
        g.validate_commit("", None, -1),
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(g.validate_txn_commit("", None, -1), Ok(()));
}

#[test]
fn member_commits_by_state() {
    let (mut g, ids, t) = stable_group(2);
    assert_eq!(g.validate_commit(&ids[1], None, 1), Ok(()));
    assert_eq!(
        g.validate_commit(&ids[1], None, 0),
        Err(GroupError::IllegalGeneration)
    );
    assert_eq!(
        g.validate_commit("who", None, 1),
        Err(GroupError::UnknownMemberId)
    );
    let _ = g.join(join_req(1, &ids[0], "c0"), t, &cfg());
    assert_eq!(g.state(), GroupState::PreparingRebalance);
    assert_eq!(
        g.validate_commit(&ids[1], None, 1),
        Ok(()),
        "accepted while preparing"
    );
    let _ = g.join(join_req(2, &ids[1], "c1"), t, &cfg());
    assert_eq!(g.state(), GroupState::CompletingRebalance);
    assert_eq!(
        g.validate_commit(&ids[1], None, 2),
        Err(GroupError::RebalanceInProgress)
    );
    assert_eq!(g.validate_txn_commit(&ids[1], None, 2), Ok(()));
    assert_eq!(
        g.validate_commit(&ids[1], None, 1),
        Err(GroupError::IllegalGeneration)
    );
}

#[test]
fn delete_and_offset_operations() {
    let (mut g, _ids, _t) = stable_group(1);
    assert_eq!(g.validate_delete(), Err(GroupError::NonEmptyGroup));
    assert_eq!(g.delete(0).map_err(GroupError::code), Err(68));
    assert_eq!(
        g.validate_offset_delete(),
        Ok(()),
        "consumer groups check subscriptions instead"
    );
    assert_eq!(g.validate_offset_fetch(), Ok(()));

    let mut e = Group::new("e".into(), 0);
    assert_eq!(e.validate_offset_delete(), Ok(()));
    assert_eq!(e.delete(5), Ok(()));
    assert_eq!(e.state(), GroupState::Dead);
    assert_eq!(e.describe().state, "Dead");
    assert_eq!(e.validate_delete().map_err(GroupError::code), Err(69));
    assert_eq!(e.validate_offset_fetch(), Err(GroupError::GroupIdNotFound));
    assert_eq!(
        e.validate_commit("", None, -1),
        Err(GroupError::CoordinatorNotAvailable)
    );
    let r = join_for(&e.join(join_req(1, "", "c"), 0, &cfg()), 1);
    assert_eq!(r.error, Some(GroupError::CoordinatorNotAvailable));
}

#[test]
fn unload_answers_parked_requests() {
    let mut g = Group::new("g".into(), 0);
    let (_a, _) = join_two_step(&mut g, 1, "a", 0);
    let fx = g.unload(1);
    assert_eq!(join_for(&fx, 2).error, Some(GroupError::NotCoordinator));
    assert_eq!(g.state(), GroupState::Dead);
    assert_eq!(g.next_deadline(), None);
}

#[test]
fn describe_by_state() {
    let mut g = Group::new("g".into(), 0);
    let (a, _) = join_two_step(&mut g, 1, "a", 0);
    let d = g.describe();
    assert_eq!(
        (d.state, d.protocol.as_str(), d.protocol_type.as_str()),
        ("PreparingRebalance", "", "consumer")
    );
    assert!(d.members[0].metadata.is_empty());
    let _ = run_until(&mut g, DELAY);
    assert_eq!(g.describe().state, "CompletingRebalance");
    let _ = complete_sync(&mut g, std::slice::from_ref(&a), DELAY);
    let d = g.describe();
    assert_eq!((d.state, d.protocol.as_str()), ("Stable", "range"));
    let m = &d.members[0];
    assert_eq!(
        (
            m.member_id.as_str(),
            m.client_id.as_str(),
            m.client_host.as_str()
        ),
        (a.as_str(), "a", "/127.0.0.1")
    );
    assert_eq!(m.metadata, bytes::Bytes::from_static(b"meta-range"));
    assert_eq!(m.assignment, bytes::Bytes::from(format!("{a}@1")));
    assert_eq!(Group::new("x".into(), 0).describe().state, "Empty");
}

#[test]
fn reload_from_record() {
    let (g, ids, t) = stable_group(2);
    let rec = g.to_record();
    let bytes = rec.encode();
    let decoded = GroupMetadataValue::decode(&bytes).unwrap();
    assert_eq!(decoded, rec);
    let mut h = Group::from_record("g".into(), decoded, t + 50);
    assert_eq!(h.state(), GroupState::Stable);
    assert_eq!(h.generation(), 1);
    assert_eq!(h.leader(), Some(ids[0].as_str()));
    assert_eq!(h.members(), ids);
    assert_eq!(h.assignment(&ids[1]), g.assignment(&ids[1]));
    assert_eq!(
        h.next_deadline(),
        Some(t + 50 + i64::from(SESSION)),
        "fresh sessions"
    );
    assert_eq!(h.heartbeat(&ids[1], None, 1, t + 60), Ok(()));
    // Only the selected protocol survives a reload, so a follower rejoining
    // with exactly that keeps the loaded generation (as in Kafka).
    let mut req = join_req(1, &ids[1], "c1");
    req.protocols = protocols(&["range"]);
    let r = join_for(&h.join(req, t + 60, &cfg()), 1);
    assert_eq!(r.error, None);
    assert_eq!(r.generation_id, 1);

    let empty = Group::from_record("e".into(), Group::new("e".into(), 7).to_record(), 9);
    assert_eq!(empty.state(), GroupState::Empty);
    assert_eq!(empty.protocol_type(), None);
}
