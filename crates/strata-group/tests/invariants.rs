//! Random sequences of joins, syncs, heartbeats, leaves, write outcomes and
//! time from several clients, checking the group's invariants throughout.

use std::collections::{HashMap, HashSet};

use crate::common::{cfg, protocols};
use bytes::Bytes;
use proptest::prelude::*;
use strata_group::*;

#[derive(Debug, Clone)]
enum Op {
    Join {
        c: usize,
        fresh: bool,
        require_known: bool,
        protos: u8,
    },
    Sync {
        c: usize,
        stale: bool,
    },
    Heartbeat {
        c: usize,
    },
    Leave {
        c: usize,
        by_instance: bool,
    },
    Advance {
        dt: i64,
    },
    Persisted {
        pick: usize,
        ok: bool,
    },
    /// What a well-behaved client would do next.
    Step {
        c: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..4usize, any::<bool>(), any::<bool>(), 0..3u8)
            .prop_map(|(c, fresh, require_known, protos)| Op::Join { c, fresh, require_known, protos }),
        3 => (0..4usize, prop::bool::weighted(0.1)).prop_map(|(c, stale)| Op::Sync { c, stale }),
        2 => (0..4usize).prop_map(|c| Op::Heartbeat { c }),
        1 => (0..4usize, any::<bool>()).prop_map(|(c, by_instance)| Op::Leave { c, by_instance }),
        3 => (0..2_000i64).prop_map(|dt| Op::Advance { dt }),
        1 => (0..30_000i64).prop_map(|dt| Op::Advance { dt }),
        12 => (0..4usize).prop_map(|c| Op::Step { c }),
        2 => (0..4usize, prop::bool::weighted(0.8)).prop_map(|(pick, ok)| Op::Persisted { pick, ok }),
    ]
}

#[derive(Default, Clone)]
struct Client {
    member_id: String,
    generation: i32,
    /// Members handed to this client as leader of `generation`.
    leader_of: Vec<String>,
    /// Must (re)join before anything else.
    needs_join: bool,
    /// Generation whose assignment the client has.
    synced: i32,
}

struct Harness {
    g: Group,
    now: i64,
    clients: Vec<Client>,
    next_req: RequestId,
    owner: HashMap<RequestId, usize>,
    answered: HashSet<RequestId>,
    persists: Vec<PersistToken>,
    max_generation: i32,
}

impl Harness {
    fn instance(c: usize) -> Option<String> {
        // Clients 2 and 3 are static members.
        (c >= 2).then(|| format!("inst-{c}"))
    }

    fn req(&mut self, c: usize) -> RequestId {
        self.next_req += 1;
        self.owner.insert(self.next_req, c);
        self.next_req
    }

    fn absorb(&mut self, fx: Vec<Effect>) {
        for e in fx {
            match e {
                Effect::JoinDone(r, resp) => {
                    assert!(self.owner.contains_key(&r), "answer to unknown request {r}");
                    assert!(self.answered.insert(r), "request {r} answered twice");
                    let cl = &mut self.clients[self.owner[&r]];
                    match resp.error {
                        None => {
                            cl.needs_join = false;
                            cl.member_id = resp.member_id;
                            cl.generation = resp.generation_id;
                            cl.leader_of = resp.members.into_iter().map(|m| m.member_id).collect();
                        }
                        Some(GroupError::MemberIdRequired) => {
                            cl.member_id = resp.member_id;
                            cl.needs_join = true;
                        }
                        Some(GroupError::UnknownMemberId) | Some(GroupError::FencedInstanceId) => {
                            cl.member_id.clear()
                        }
                        Some(_) => cl.needs_join = true,
                    }
                }
                Effect::SyncDone(r, resp) => {
                    assert!(self.owner.contains_key(&r), "answer to unknown request {r}");
                    assert!(self.answered.insert(r), "request {r} answered twice");
                    let cl = &mut self.clients[self.owner[&r]];
                    match resp.error {
                        None => cl.synced = cl.generation,
                        Some(GroupError::UnknownMemberId) | Some(GroupError::FencedInstanceId) => {
                            cl.member_id.clear()
                        }
                        Some(_) => cl.needs_join = true,
                    }
                }
                Effect::Persist { token, value } => {
                    assert_eq!(value.generation, self.g.generation());
                    self.persists.push(token);
                }
                Effect::RebalanceCompleted { generation } => {
                    assert_eq!(generation, self.g.generation())
                }
                Effect::RebalanceStarted { .. } | Effect::MemberRemoved { .. } => {}
            }
        }
    }

    fn apply(&mut self, op: Op) {
        let now = self.now;
        match op {
            Op::Join {
                c,
                fresh,
                require_known,
                protos,
            } => {
                let r = self.req(c);
                let cl = &self.clients[c];
                let mut req = crate::common::join_req(
                    r,
                    if fresh { "" } else { &cl.member_id },
                    &format!("client{c}"),
                );
                req.group_instance_id = Self::instance(c);
                req.require_known_member_id = require_known;
                req.protocols = match protos {
                    0 => protocols(&["range", "roundrobin"]),
                    1 => protocols(&["roundrobin"]),
                    _ => vec![("range".into(), Bytes::from(format!("changed-{c}")))],
                };
                let fx = self.g.join(req, now, &cfg());
                self.absorb(fx);
            }
            Op::Sync { c, stale } => {
                let r = self.req(c);
                let cl = &self.clients[c];
                let generation = if stale {
                    cl.generation - 1
                } else {
                    cl.generation
                };
                let mut req = crate::common::sync_req(r, &cl.member_id, generation);
                req.group_instance_id = Self::instance(c);
                req.protocol_name = None;
                req.assignments = cl
                    .leader_of
                    .iter()
                    .map(|m| (m.clone(), Bytes::from(format!("gen{generation}:{m}"))))
                    .collect();
                let fx = self.g.sync(req, now);
                self.absorb(fx);
            }
            Op::Heartbeat { c } => {
                let cl = &self.clients[c];
                let _ = self.g.heartbeat(
                    &cl.member_id,
                    Self::instance(c).as_deref(),
                    cl.generation,
                    now,
                );
            }
            Op::Leave { c, by_instance } => {
                let id = (!by_instance).then(|| self.clients[c].member_id.clone());
                let (res, fx) = self.g.leave(vec![(id, Self::instance(c))], now);
                assert_eq!(res.len(), 1);
                self.absorb(fx);
            }
            Op::Advance { dt } => self.advance_to(now + dt),
            Op::Step { c } => {
                let cl = self.clients[c].clone();
                let next = if cl.member_id.is_empty() {
                    Op::Join {
                        c,
                        fresh: true,
                        require_known: true,
                        protos: 0,
                    }
                } else if cl.needs_join {
                    Op::Join {
                        c,
                        fresh: false,
                        require_known: true,
                        protos: 0,
                    }
                } else if cl.synced != cl.generation {
                    Op::Sync { c, stale: false }
                } else {
                    match self.g.heartbeat(
                        &cl.member_id,
                        Self::instance(c).as_deref(),
                        cl.generation,
                        now,
                    ) {
                        Ok(()) => {}
                        Err(GroupError::UnknownMemberId) | Err(GroupError::FencedInstanceId) => {
                            self.clients[c].member_id.clear()
                        }
                        Err(_) => self.clients[c].needs_join = true,
                    }
                    Op::Advance { dt: 0 }
                };
                return self.apply(next);
            }
            Op::Persisted { pick, ok } => {
                if !self.persists.is_empty() {
                    let token = self.persists.remove(pick % self.persists.len());
                    let result = if ok {
                        Ok(())
                    } else {
                        Err(GroupError::NotCoordinator)
                    };
                    let fx = self.g.persisted(token, result, now);
                    self.absorb(fx);
                }
            }
        }
        self.check();
    }

    fn advance_to(&mut self, until: i64) {
        for _ in 0..10_000 {
            match self.g.next_deadline() {
                Some(d) if d <= until => {
                    self.now = self.now.max(d);
                    let fx = self.g.tick(self.now);
                    self.absorb(fx);
                    self.check();
                }
                _ => break,
            }
        }
        self.now = self.now.max(until);
    }

    fn check(&mut self) {
        let g = &self.g;
        assert!(
            g.generation() >= self.max_generation,
            "generation went backwards"
        );
        self.max_generation = g.generation();
        let members = g.members();
        match g.leader() {
            Some(l) => assert!(members.iter().any(|m| m == l), "leader {l} not a member"),
            None => assert!(members.is_empty(), "members without a leader"),
        }
        match g.state() {
            GroupState::Empty => assert!(members.is_empty(), "Empty group with members"),
            GroupState::Stable | GroupState::CompletingRebalance => {
                assert!(!members.is_empty(), "{:?} without members", g.state())
            }
            _ => {}
        }
        if g.state() == GroupState::Stable {
            let prefix = format!("gen{}:", g.generation());
            for m in &members {
                let a = g.assignment(m).unwrap_or_default();
                assert!(
                    a.starts_with(prefix.as_bytes()),
                    "member {m} has {a:?} in generation {}",
                    g.generation()
                );
            }
        }
        let unique: HashSet<_> = members.iter().collect();
        assert_eq!(unique.len(), members.len(), "duplicate member ids");
        if let Some(d) = g.next_deadline() {
            assert!(d >= 0);
        }
    }

    /// Let every write succeed and all time pass: the group must end Empty
    /// with every request answered.
    fn quiesce(&mut self) {
        for _ in 0..1_000 {
            while let Some(token) = self.persists.pop() {
                let fx = self.g.persisted(token, Ok(()), self.now);
                self.absorb(fx);
            }
            match self.g.next_deadline() {
                Some(d) => self.advance_to(d.max(self.now)),
                None if self.persists.is_empty() => break,
                None => {}
            }
        }
        assert_eq!(self.g.state(), GroupState::Empty);
        assert!(self.g.members().is_empty());
        let unanswered: Vec<_> = self
            .owner
            .keys()
            .filter(|r| !self.answered.contains(r))
            .collect();
        assert!(unanswered.is_empty(), "never answered: {unanswered:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_sessions_keep_invariants(ops in prop::collection::vec(op(), 1..80)) {
        let mut h = Harness {
            g: Group::new("g".into(), 0),
            now: 0,
            clients: vec![Client::default(); 4],
            next_req: 0,
            owner: HashMap::new(),
            answered: HashSet::new(),
            persists: Vec::new(),
            max_generation: 0,
        };
        for op in ops {
            h.apply(op);
        }
        h.quiesce();
    }
}
