//! Shared helpers for driving a `Group` through whole protocol exchanges.
#![allow(dead_code)]

use bytes::Bytes;
use strata_group::*;

pub const SESSION: i32 = 10_000;
pub const REBALANCE: i32 = 20_000;
pub const DELAY: i64 = 100;

pub fn cfg() -> GroupConfig {
    GroupConfig {
        initial_rebalance_delay_ms: DELAY,
        ..GroupConfig::default()
    }
}

pub fn protocols(names: &[&str]) -> Vec<(String, Bytes)> {
    names
        .iter()
        .map(|n| (n.to_string(), Bytes::from(format!("meta-{n}"))))
        .collect()
}

pub fn join_req(request_id: RequestId, member_id: &str, client_id: &str) -> JoinRequest {
    JoinRequest {
        request_id,
        member_id: member_id.to_string(),
        group_instance_id: None,
        client_id: client_id.to_string(),
        client_host: "/127.0.0.1".to_string(),
        session_timeout_ms: SESSION,
        rebalance_timeout_ms: REBALANCE,
        protocol_type: "consumer".to_string(),
        protocols: protocols(&["range", "roundrobin"]),
        reason: None,
        require_known_member_id: true,
        supports_skip_assignment: true,
    }
}

pub fn sync_req(request_id: RequestId, member_id: &str, generation: i32) -> SyncRequest {
    SyncRequest {
        request_id,
        member_id: member_id.to_string(),
        group_instance_id: None,
        generation_id: generation,
        protocol_type: Some("consumer".to_string()),
        protocol_name: Some("range".to_string()),
        assignments: Vec::new(),
    }
}

pub fn joins(fx: &[Effect]) -> Vec<(RequestId, JoinResponse)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::JoinDone(r, j) => Some((*r, j.clone())),
            _ => None,
        })
        .collect()
}

pub fn join_for(fx: &[Effect], request_id: RequestId) -> JoinResponse {
    let mut found = joins(fx).into_iter().filter(|(r, _)| *r == request_id);
    let (_, j) = found
        .next()
        .unwrap_or_else(|| panic!("no JoinDone for {request_id} in {fx:?}"));
    assert!(found.next().is_none(), "two answers for {request_id}");
    j
}

pub fn syncs(fx: &[Effect]) -> Vec<(RequestId, SyncResponse)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::SyncDone(r, s) => Some((*r, s.clone())),
            _ => None,
        })
        .collect()
}

pub fn sync_for(fx: &[Effect], request_id: RequestId) -> SyncResponse {
    let mut found = syncs(fx).into_iter().filter(|(r, _)| *r == request_id);
    let (_, s) = found
        .next()
        .unwrap_or_else(|| panic!("no SyncDone for {request_id} in {fx:?}"));
    assert!(found.next().is_none(), "two answers for {request_id}");
    s
}

pub fn persists(fx: &[Effect]) -> Vec<(PersistToken, GroupMetadataValue)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Persist { token, value } => Some((*token, value.clone())),
            _ => None,
        })
        .collect()
}

pub fn count_rebalances(fx: &[Effect]) -> usize {
    fx.iter()
        .filter(|e| matches!(e, Effect::RebalanceStarted { .. }))
        .count()
}

/// Ticks at every deadline up to and including `until`.
pub fn run_until(g: &mut Group, until: i64) -> Vec<Effect> {
    let mut fx = Vec::new();
    while let Some(d) = g.next_deadline() {
        if d > until {
            break;
        }
        fx.extend(g.tick(d));
    }
    fx
}

/// A dynamic member's two-step join (MEMBER_ID_REQUIRED, then rejoin);
/// returns its member id and the effects of the second join.
pub fn join_two_step(
    g: &mut Group,
    req_base: RequestId,
    client: &str,
    now: i64,
) -> (String, Vec<Effect>) {
    let fx = g.join(join_req(req_base, "", client), now, &cfg());
    let first = join_for(&fx, req_base);
    assert_eq!(first.error, Some(GroupError::MemberIdRequired));
    let fx = g.join(
        join_req(req_base + 1, &first.member_id, client),
        now,
        &cfg(),
    );
    (first.member_id, fx)
}

/// A stable group with `n` dynamic members at generation 1; returns the
/// group, member ids in join order, and the time reached.
pub fn stable_group(n: usize) -> (Group, Vec<String>, i64) {
    let mut g = Group::new("g".into(), 0);
    let mut ids = Vec::new();
    let mut fx = Vec::new();
    for k in 0..n {
        let (id, f) = join_two_step(&mut g, 100 * k as u64 + 1, &format!("c{k}"), 0);
        ids.push(id);
        fx.extend(f);
    }
    fx.extend(run_until(&mut g, 10 * DELAY));
    assert_eq!(g.state(), GroupState::CompletingRebalance);
    assert_eq!(joins(&fx).len(), n);
    let t = 10 * DELAY;
    complete_sync(&mut g, &ids, t);
    assert_eq!(g.state(), GroupState::Stable);
    (g, ids, t)
}

/// Every member syncs (leader last, assigning `"<member>@<generation>"`),
/// the write succeeds; returns the sync answers' effects.
pub fn complete_sync(g: &mut Group, ids: &[String], now: i64) -> Vec<Effect> {
    let gen = g.generation();
    let leader = g.leader().expect("leader").to_string();
    let mut fx = Vec::new();
    for (k, id) in ids.iter().enumerate() {
        if *id != leader {
            fx.extend(g.sync(sync_req(9000 + k as u64, id, gen), now));
        }
    }
    let mut req = sync_req(9999, &leader, gen);
    req.assignments = ids
        .iter()
        .map(|id| (id.clone(), Bytes::from(format!("{id}@{gen}"))))
        .collect();
    let f = g.sync(req, now);
    let (token, _) = persists(&f)[0].clone();
    fx.extend(f);
    fx.extend(g.persisted(token, Ok(()), now));
    fx
}
