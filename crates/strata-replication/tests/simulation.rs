//! A simulated partition with three replicas: a leader driven by `LeaderState`,
//! followers that truncate with the epoch rules and then fetch, a controller that
//! commits or refuses ISR changes, elects leaders from the ISR and fences crashed
//! brokers, and crashes that lose a replica's unflushed tail (everything above its
//! high watermark at most). Logs are vectors of leader epochs, one per offset.
//!
//! Checked after every step: a leader's high watermark never decreases; every member
//! of the (maximal) ISR has at least the high watermark; nothing below any high
//! watermark ever seen is lost or changed; a follower that has truncated holds a
//! prefix of the leader's log; every epoch cache agrees with its log. At the end,
//! every live follower that truncates and fetches until caught up equals the leader.

use proptest::prelude::*;
use strata_replication::{
    follower_high_watermark, plan_truncation, truncation_offset, EpochCache, IsrApplied,
    LeaderInit, LeaderState, TruncationPlan,
};

const REPLICAS: usize = 3;
const LAG_MS: i64 = 50;

#[derive(Debug, Clone)]
enum Op {
    Append(usize),
    Fetch { replica: usize, max: usize },
    Tick(i64),
    Shrink,
    Decide { accept: bool },
    Crash { replica: usize, lose: usize },
    Restart(usize),
    Elect(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1usize..4).prop_map(Op::Append),
        // max 0: the response carried no records (lost, or an empty fetch).
        6 => (0..REPLICAS, 0usize..6).prop_map(|(replica, max)| Op::Fetch { replica, max }),
        2 => (1i64..40).prop_map(Op::Tick),
        1 => Just(Op::Shrink),
        3 => prop_oneof![3 => Just(true), 1 => Just(false)].prop_map(|accept| Op::Decide { accept }),
        1 => (0..REPLICAS, 0usize..6).prop_map(|(replica, lose)| Op::Crash { replica, lose }),
        2 => (0..REPLICAS).prop_map(Op::Restart),
        1 => (0..REPLICAS).prop_map(Op::Elect),
    ]
}

fn id(index: usize) -> i32 {
    index as i32 + 1
}

fn index(id: i32) -> usize {
    (id - 1) as usize
}

#[derive(Debug, Clone, Default)]
struct Replica {
    /// Leader epoch of the record at each offset.
    log: Vec<i32>,
    cache: EpochCache,
    hw: i64,
    alive: bool,
    /// Finished truncating under the current leader.
    truncated: bool,
}

impl Replica {
    fn leo(&self) -> i64 {
        self.log.len() as i64
    }

    fn append(&mut self, epochs: &[i32]) {
        for &epoch in epochs {
            self.cache.append_batch_epoch(epoch, self.leo());
            self.log.push(epoch);
        }
    }

    fn truncate(&mut self, offset: i64) {
        let end = offset.min(self.leo());
        self.log.truncate(end as usize);
        // Even a truncation at the log end drops an epoch this replica started as
        // leader without writing anything: left in place, the next follower append
        // of an older epoch would be taken for a regression and clobber the cache.
        self.cache.truncate_from_end(end);
        self.hw = self.hw.min(end);
    }
}

#[derive(Debug)]
struct Sim {
    now: i64,
    replicas: Vec<Replica>,
    leader: Option<usize>,
    leader_epoch: i32,
    partition_epoch: i32,
    isr: Vec<i32>,
    state: Option<LeaderState>,
    /// The ISR the leader proposed and the partition epoch it was based on.
    proposal: Option<(Vec<i32>, i32)>,
    /// A broker named in the proposal crashed since: the controller will refuse it
    /// (Kafka compares the broker epochs the follower fetched with).
    proposal_stale: bool,
    /// The longest prefix any leader ever reported committed.
    committed: Vec<i32>,
    last_hw: i64,
}

impl Sim {
    fn new() -> Sim {
        let replica = Replica {
            alive: true,
            ..Replica::default()
        };
        let mut sim = Sim {
            now: 0,
            replicas: vec![replica; REPLICAS],
            leader: None,
            leader_epoch: -1,
            partition_epoch: 0,
            isr: (0..REPLICAS).map(id).collect(),
            state: None,
            proposal: None,
            proposal_stale: false,
            committed: Vec::new(),
            last_hw: 0,
        };
        sim.elect(0);
        sim
    }

    fn elect(&mut self, new_leader: usize) {
        self.leader = Some(new_leader);
        self.leader_epoch += 1;
        self.partition_epoch += 1;
        self.proposal = None;
        self.proposal_stale = false;
        let now = self.now;
        let leader = &mut self.replicas[new_leader];
        // The new leader records where its epoch starts, as Kafka's makeLeader does.
        leader.cache.assign(self.leader_epoch, leader.leo());
        leader.truncated = true;
        let state = LeaderState::new(LeaderInit {
            leader_id: id(new_leader),
            leader_epoch: self.leader_epoch,
            partition_epoch: self.partition_epoch,
            replicas: (0..REPLICAS).map(id).collect(),
            isr: self.isr.clone(),
            min_insync_replicas: 1,
            log_end_offset: leader.leo(),
            high_watermark: leader.hw,
            now_ms: now,
        })
        .expect("valid leadership");
        leader.hw = state.high_watermark();
        self.last_hw = state.high_watermark();
        self.state = Some(state);
        for (i, r) in self.replicas.iter_mut().enumerate() {
            if i != new_leader {
                r.truncated = false;
            }
        }
    }

    /// The controller changes the ISR on its own (fencing a crashed broker).
    fn controller_set_isr(&mut self, isr: Vec<i32>) {
        self.isr = isr.clone();
        self.partition_epoch += 1;
        if let Some(state) = self.state.as_mut() {
            let applied = state
                .apply_isr(isr, self.partition_epoch)
                .expect("controller ISR is valid");
            assert!(matches!(applied, IsrApplied::Applied { .. }));
        }
    }

    fn sync_leader_hw(&mut self) {
        if let (Some(l), Some(state)) = (self.leader, self.state.as_ref()) {
            self.replicas[l].hw = state.high_watermark();
        }
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Append(n) => {
                if let (Some(l), Some(state)) = (self.leader, self.state.as_mut()) {
                    let epoch = self.leader_epoch;
                    self.replicas[l].append(&vec![epoch; n]);
                    state
                        .on_leader_append(self.replicas[l].leo())
                        .expect("log end only grows");
                }
            }
            Op::Fetch { replica, max } => self.fetch(replica, max)?,
            Op::Tick(ms) => self.now += ms,
            Op::Shrink => {
                if let Some(state) = self.state.as_mut() {
                    if let Some(isr) = state.maybe_shrink(self.now, LAG_MS) {
                        prop_assert!(isr.contains(&state.leader_id()));
                        self.proposal = Some((isr, self.partition_epoch));
                        self.proposal_stale = false;
                    }
                }
            }
            Op::Decide { accept } => self.decide(accept),
            Op::Crash { replica, lose } => self.crash(replica, lose),
            Op::Restart(replica) => {
                let r = &mut self.replicas[replica];
                if !r.alive {
                    r.alive = true;
                    r.truncated = false;
                    if self.leader.is_none() && self.isr == [id(replica)] {
                        self.elect(replica);
                    }
                }
            }
            Op::Elect(candidate) => {
                let eligible = self.leader.is_some_and(|l| l != candidate)
                    && self.replicas[candidate].alive
                    && self.isr.contains(&id(candidate));
                if eligible {
                    self.elect(candidate);
                }
            }
        }
        self.sync_leader_hw();
        Ok(())
    }

    /// Runs the follower truncation exchange against the leader's epoch cache.
    fn truncate_follower(&mut self, follower: usize, leader: usize) -> Result<(), TestCaseError> {
        for _ in 0..64 {
            let (leader_cache, leader_leo) = {
                let l = &self.replicas[leader];
                (l.cache.clone(), l.leo())
            };
            let f = &mut self.replicas[follower];
            let truncation = match plan_truncation(&f.cache, f.leo(), f.hw) {
                TruncationPlan::Truncate(t) => t,
                TruncationPlan::AskLeader { epoch } => {
                    let answer = leader_cache.end_offset_for(epoch, leader_leo);
                    truncation_offset(&f.cache, f.leo(), f.hw, answer)
                }
            };
            prop_assert!(truncation.offset <= f.leo());
            f.truncate(truncation.offset);
            if truncation.complete {
                f.truncated = true;
                let leader_log = &self.replicas[leader].log;
                let f = &self.replicas[follower];
                prop_assert!(
                    leader_log.starts_with(&f.log),
                    "after truncation follower {follower} {:?} is not a prefix of leader {:?}",
                    f.log,
                    leader_log
                );
                return Ok(());
            }
        }
        Err(TestCaseError::fail("truncation did not converge"))
    }

    fn fetch(&mut self, follower: usize, max: usize) -> Result<(), TestCaseError> {
        let Some(leader) = self.leader else {
            return Ok(());
        };
        if follower == leader || !self.replicas[follower].alive {
            return Ok(());
        }
        if !self.replicas[follower].truncated {
            self.truncate_follower(follower, leader)?;
        }
        let fetch_offset = self.replicas[follower].leo();
        let Some(state) = self.state.as_mut() else {
            return Ok(());
        };
        let outcome = state
            .on_follower_fetch(id(follower), fetch_offset, self.now)
            .map_err(|e| TestCaseError::fail(format!("fetch refused: {e}")))?;
        if let Some(isr) = outcome.isr_expand {
            self.proposal = Some((isr, self.partition_epoch));
            self.proposal_stale = false;
        }
        let start = fetch_offset as usize;
        let end = (start + max).min(self.replicas[leader].log.len());
        let records = self.replicas[leader].log[start..end].to_vec();
        let f = &mut self.replicas[follower];
        f.append(&records);
        f.hw = follower_high_watermark(outcome.high_watermark, f.leo());
        prop_assert!(self.replicas[leader]
            .log
            .starts_with(&self.replicas[follower].log));
        Ok(())
    }

    fn decide(&mut self, accept: bool) {
        let Some((isr, based_on)) = self.proposal.take() else {
            return;
        };
        if accept && based_on == self.partition_epoch && !self.proposal_stale {
            self.isr = isr.clone();
            self.partition_epoch += 1;
            if let Some(state) = self.state.as_mut() {
                let applied = state.apply_isr(isr, self.partition_epoch);
                assert!(matches!(applied, Ok(IsrApplied::Applied { .. })));
            }
        } else if let Some(state) = self.state.as_mut() {
            state.abort_pending_isr();
        }
    }

    fn crash(&mut self, replica: usize, lose: usize) {
        if !self.replicas[replica].alive {
            return;
        }
        let r = &mut self.replicas[replica];
        r.alive = false;
        // Unflushed data above the replica's high watermark may be lost.
        let keep = (r.leo() - lose as i64).max(r.hw);
        r.truncate(keep);
        let me = id(replica);
        if self
            .proposal
            .as_ref()
            .is_some_and(|(isr, _)| isr.contains(&me))
        {
            self.proposal_stale = true;
        }
        let others: Vec<i32> = self.isr.iter().copied().filter(|m| *m != me).collect();
        if self.leader == Some(replica) {
            self.state = None;
            self.proposal = None;
            if others.is_empty() {
                // The last ISR member stays in the ISR; the partition is offline.
                self.leader = None;
            } else {
                self.isr = others.clone();
                self.elect(index(others[0]));
            }
        } else if self.isr.contains(&me) {
            self.controller_set_isr(others);
        }
    }

    fn check(&mut self) -> Result<(), TestCaseError> {
        for (i, r) in self.replicas.iter().enumerate() {
            prop_assert!(r.hw <= r.leo(), "replica {i} hw {} > leo {}", r.hw, r.leo());
            // The cache is what the log's epochs say, plus at most a leader's epoch
            // start at the log end with no records yet.
            let mut rebuilt = EpochCache::new();
            for (offset, epoch) in r.log.iter().enumerate() {
                rebuilt.append_batch_epoch(*epoch, offset as i64);
            }
            let mut cache = r.cache.clone();
            if cache.latest().is_some_and(|e| e.start_offset == r.leo()) {
                cache.truncate_from_end(r.leo());
            }
            prop_assert_eq!(cache, rebuilt, "replica {} epoch cache", i);
        }
        let (Some(leader), Some(state)) = (self.leader, self.state.as_ref()) else {
            return Ok(());
        };
        let hw = state.high_watermark();
        prop_assert!(
            hw >= self.last_hw,
            "leader hw went down {} -> {hw}",
            self.last_hw
        );
        self.last_hw = hw;
        let leader_log = &self.replicas[leader].log;
        prop_assert!(hw <= leader_log.len() as i64);
        // A member of a pending expansion that crashed since it fetched may hold less
        // than the leader last saw; the controller refuses that expansion.
        let pending: Vec<i32> = if self.proposal_stale {
            Vec::new()
        } else {
            state.maximal_isr()
        };
        for member in state.isr().iter().chain(pending.iter()) {
            let r = &self.replicas[index(*member)];
            prop_assert!(
                r.leo() >= hw,
                "ISR member {member} leo {} < hw {hw}",
                r.leo()
            );
            prop_assert_eq!(&r.log[..hw as usize], &leader_log[..hw as usize]);
        }
        prop_assert!(
            leader_log.starts_with(&self.committed),
            "leader {leader} lost committed data: {:?} vs {:?}",
            leader_log,
            self.committed
        );
        if hw as usize > self.committed.len() {
            self.committed = leader_log[..hw as usize].to_vec();
        }
        for (i, r) in self.replicas.iter().enumerate() {
            if i != leader && r.alive && r.truncated {
                prop_assert!(leader_log.starts_with(&r.log), "follower {i} diverged");
            }
        }
        Ok(())
    }

    /// Every live follower truncates and fetches until it has the leader's log.
    fn catch_up(&mut self) -> Result<(), TestCaseError> {
        let Some(leader) = self.leader else {
            return Ok(());
        };
        for f in 0..REPLICAS {
            if f == leader || !self.replicas[f].alive {
                continue;
            }
            for _ in 0..1000 {
                self.fetch(f, 7)?;
                if self.replicas[f].leo() == self.replicas[leader].leo() {
                    break;
                }
            }
            prop_assert_eq!(&self.replicas[f].log, &self.replicas[leader].log);
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn replicas_never_diverge_and_committed_data_survives(
        ops in proptest::collection::vec(op(), 1..120)
    ) {
        let mut sim = Sim::new();
        sim.check()?;
        for op in &ops {
            sim.step(op)?;
            sim.check()?;
        }
        sim.catch_up()?;
        sim.check()?;
    }
}

/// Kafka's reason for the leader-epoch-start condition on ISR expansion: a new leader
/// whose own high watermark lags the committed offset must not let in a follower that
/// is past that stale high watermark but short of the committed data, or electing that
/// follower next loses committed records.
#[test]
fn expansion_waits_for_the_leader_epoch_start() {
    let ops = [
        Op::Append(6),
        Op::Fetch { replica: 1, max: 6 },
        Op::Fetch { replica: 2, max: 5 },
        // Replica 1 has all 6 but learns high watermark 5 (replica 2 holds it there).
        Op::Fetch { replica: 1, max: 6 },
        Op::Tick(60),
        Op::Shrink,
        // Replica 2 leaves; the old leader commits 6, which replica 1 does not hear.
        Op::Decide { accept: true },
        // Replica 1 leads with high watermark 5 and log end (epoch start) 6.
        Op::Elect(1),
        // Replica 2 fetches at 5 and gets nothing back: it must not be proposed.
        Op::Fetch { replica: 2, max: 0 },
        Op::Decide { accept: true },
        Op::Crash {
            replica: 0,
            lose: 0,
        },
        Op::Crash {
            replica: 1,
            lose: 0,
        },
    ];
    let mut sim = Sim::new();
    for op in &ops {
        sim.step(op).expect("step");
        sim.check().expect("invariants");
    }
    assert_eq!(sim.committed.len(), 6);
    assert_eq!(
        sim.leader, None,
        "replica 2 was never in sync, so nobody can lead"
    );
}
