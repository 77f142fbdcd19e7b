//! Random operations, timeouts, failed and ambiguous writes, marker completions and
//! reloads against one `TxnPartition`, with invariants checked after every step:
//! - answers only after their write is durable, and they match the log: an
//!   InitProducerId answer is the id's last acknowledged record, AddPartitions leaves
//!   it Ongoing with the partitions, EndTxn leaves it Prepare/Complete of its result;
//! - a PrepareX record is followed (in what the coordinator acknowledged) only by
//!   PrepareX/CompleteX of the same result, and a PrepareX in memory always has its
//!   completion pending;
//! - epochs handed out for a producer id, and acknowledged in the log, never go back;
//! - at most one write per id in flight; every request answered at most once;
//! - a completion need not be durable: a reload may find the log without it (a crash
//!   lost it) and then redoes it from the Prepare record;
//! - after the faults stop, every transaction completes and every request is answered.
//!
//! Requests mix the classic protocol and transactions v2 (implicit adds, EndTxn v5 with
//! its epoch bump); one id in four schedules starts near a used-up epoch, so v5's
//! handover to a fresh producer id happens too. An EndTxn v5 answer is the bumped epoch
//! (or the next producer id at 0) of its acknowledged record, never `i16::MAX`.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_txn::{
    decode_record, encode_key, Effect, EndTxnV2, InitProducerId, InitStep, ProducerIdAndEpoch,
    Record, Reply, TopicPartition, TxnConfig, TxnLogValue, TxnPartition, TxnResult, TxnState,
    EPOCH_EXHAUSTED, TV2,
};

const IDS: [&str; 3] = ["a", "b", "c"];

#[derive(Debug, Clone)]
enum Req {
    Init(String),
    Add(String, i64, i16, Vec<TopicPartition>),
    End(String, i64, i16, TxnResult),
    /// EndTxn v5 (transactions v2).
    EndV2(String, i64, i16, TxnResult),
}

struct Write {
    id: String,
    write: u64,
    key: Bytes,
    value: Option<Bytes>,
    before: Option<Bytes>,
    durable: bool,
}

struct Markers {
    id: String,
    pid: i64,
    epoch: i16,
    result: TxnResult,
    left: Vec<TopicPartition>,
}

struct Sim {
    rng: StdRng,
    cfg: TxnConfig,
    p: TxnPartition,
    epoch: i32,
    now: i64,
    next_pid: i64,
    next_req: u64,
    /// Every appended record, in order.
    log: Vec<(Bytes, Option<Bytes>)>,
    /// How much of `log` a crash keeps: up to the end of the last durable write
    /// (a write that need not be durable is kept only once a durable one follows).
    durable_len: usize,
    /// Per id, the records the coordinator acknowledged (or took on at a reload).
    acked: HashMap<String, Vec<Option<TxnLogValue>>>,
    writes: Vec<Write>,
    markers: Vec<Markers>,
    waiting: HashMap<u64, Req>,
    answered: HashSet<u64>,
    /// What each client believes its producer is.
    clients: HashMap<String, (i64, i16)>,
    /// Per id and producer id, the highest epoch handed out.
    handed: HashMap<(String, i64), i16>,
    faults: bool,
    /// EndTxn v5 answered OK, and of them the handovers to a new producer id.
    v2_ends: usize,
    handovers: usize,
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let cfg = TxnConfig {
            max_timeout_ms: 10_000,
            id_expiration_ms: 50_000,
            retry_backoff_ms: 100,
            busy_wait_ms: 500,
        };
        Sim {
            rng: StdRng::seed_from_u64(seed),
            cfg,
            p: TxnPartition::new(3, 1, cfg),
            epoch: 1,
            now: 1_000,
            next_pid: 100,
            next_req: 0,
            log: Vec::new(),
            durable_len: 0,
            acked: HashMap::new(),
            writes: Vec::new(),
            markers: Vec::new(),
            waiting: HashMap::new(),
            answered: HashSet::new(),
            clients: HashMap::new(),
            handed: HashMap::new(),
            faults: true,
            v2_ends: 0,
            handovers: 0,
        }
        .near_exhaustion(seed % 4 == 0)
    }

    /// With `yes`, "c" starts idle at producer 99 two epochs short of used up, so
    /// InitProducerId rotations and transactions v2 handovers happen.
    fn near_exhaustion(mut self, yes: bool) -> Sim {
        if !yes {
            return self;
        }
        let v = TxnLogValue {
            producer_id: 99,
            previous_producer_id: -1,
            next_producer_id: -1,
            producer_epoch: EPOCH_EXHAUSTED - 2,
            timeout_ms: 5_000,
            state: TxnState::CompleteCommit,
            partitions: Vec::new(),
            last_update_ms: self.now,
            start_ms: self.now,
            client_transaction_version: TV2,
        };
        self.log.push((encode_key("c"), Some(v.encode())));
        self.durable_len = self.log.len();
        self.acked.insert("c".into(), vec![Some(v)]);
        let (p, fx, _) = TxnPartition::load(3, self.epoch, self.cfg, self.log.clone(), self.now);
        assert!(fx.is_empty());
        self.p = p;
        self.clients.insert("c".into(), (99, EPOCH_EXHAUSTED - 2));
        self.handed.insert(("c".into(), 99), EPOCH_EXHAUSTED - 2);
        self
    }

    fn last_acked(&self, id: &str) -> Option<&TxnLogValue> {
        self.acked.get(id)?.last()?.as_ref()
    }

    fn ack(&mut self, id: &str, value: Option<TxnLogValue>) {
        let list = self.acked.entry(id.to_string()).or_default();
        if let (Some(Some(prev)), Some(next)) = (list.last(), value.as_ref()) {
            for r in [TxnResult::Commit, TxnResult::Abort] {
                if prev.state == r.prepare_state() {
                    assert!(
                        next.state == r.prepare_state() || next.state == r.complete_state(),
                        "{id}: {:?} followed by {:?}",
                        prev.state,
                        next.state
                    );
                }
            }
            if prev.producer_id == next.producer_id {
                assert!(
                    next.producer_epoch >= prev.producer_epoch,
                    "{id}: epoch went back in the log"
                );
            }
        }
        list.push(value);
    }

    fn apply(&mut self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Persist {
                    transactional_id,
                    write,
                    key,
                    value,
                    before,
                    durable,
                } => {
                    assert!(
                        self.writes.iter().all(|w| w.id != transactional_id),
                        "two writes in flight for {transactional_id}"
                    );
                    self.writes.push(Write {
                        id: transactional_id,
                        write,
                        key,
                        value,
                        before,
                        durable,
                    });
                }
                Effect::SendMarkers {
                    transactional_id,
                    producer_id,
                    producer_epoch,
                    result,
                    coordinator_epoch,
                    partitions,
                } => {
                    assert_eq!(coordinator_epoch, self.epoch);
                    assert!(!partitions.is_empty());
                    self.markers.push(Markers {
                        id: transactional_id,
                        pid: producer_id,
                        epoch: producer_epoch,
                        result,
                        left: partitions,
                    });
                }
                Effect::Respond { request, result } => self.answer(request, result),
            }
        }
    }

    fn answer(&mut self, request: u64, result: Result<Reply, strata_txn::TxnError>) {
        assert!(
            self.answered.insert(request),
            "request {request} answered twice"
        );
        let req = self
            .waiting
            .remove(&request)
            .expect("an answer for a request that was made");
        let Ok(reply) = result else { return };
        match (req, reply) {
            (Req::Init(id), Reply::Producer(p)) => {
                let v = self
                    .last_acked(&id)
                    .expect("answered before any record")
                    .clone();
                assert_eq!(
                    (v.producer_id, v.producer_epoch, v.state),
                    (p.producer_id, p.epoch, TxnState::Empty)
                );
                let top = self
                    .handed
                    .entry((id.clone(), p.producer_id))
                    .or_insert(p.epoch);
                assert!(
                    p.epoch >= *top,
                    "{id}: handed out epoch {} after {}",
                    p.epoch,
                    top
                );
                *top = p.epoch;
                self.clients.insert(id, (p.producer_id, p.epoch));
            }
            (Req::Add(id, pid, epoch, parts), Reply::Done) => {
                let v = self.last_acked(&id).expect("a record");
                assert_eq!(
                    (v.producer_id, v.producer_epoch, v.state),
                    (pid, epoch, TxnState::Ongoing)
                );
                assert!(parts.iter().all(|p| v.partitions.contains(p)));
            }
            (Req::End(id, pid, epoch, r), Reply::Done) => {
                let v = self.last_acked(&id).expect("a record");
                assert_eq!((v.producer_id, v.producer_epoch), (pid, epoch));
                assert!(
                    v.state == r.prepare_state() || v.state == r.complete_state(),
                    "{:?}",
                    v.state
                );
            }
            (Req::EndV2(id, pid, epoch, r), Reply::Producer(p)) => {
                let v = self.last_acked(&id).expect("a record");
                assert!(
                    v.state == r.prepare_state() || v.state == r.complete_state(),
                    "{:?}",
                    v.state
                );
                // The epoch after the bump, or the next producer id at 0.
                if v.producer_id == p.producer_id {
                    assert_eq!(v.producer_epoch, p.epoch, "{id}");
                } else {
                    assert_eq!((v.next_producer_id, p.epoch), (p.producer_id, 0), "{id}");
                    assert_eq!(v.producer_id, pid);
                }
                assert!(p.epoch < i16::MAX, "{id}: handed out i16::MAX");
                self.v2_ends += 1;
                self.handovers += usize::from(p.producer_id != pid);
                if p.producer_id == pid {
                    assert!(p.epoch > epoch, "{id}: no bump");
                }
                let top = self
                    .handed
                    .entry((id.clone(), p.producer_id))
                    .or_insert(p.epoch);
                assert!(p.epoch >= *top, "{id}: handed out {} after {top}", p.epoch);
                *top = p.epoch;
                self.clients.insert(id, (p.producer_id, p.epoch));
            }
            (req, reply) => panic!("{req:?} answered {reply:?}"),
        }
    }

    fn request(&mut self, req: Req) -> u64 {
        self.next_req += 1;
        self.waiting.insert(self.next_req, req);
        self.next_req
    }

    fn client_op(&mut self) {
        let id = IDS[self.rng.gen_range(0..IDS.len())].to_string();
        let (mut pid, mut epoch) = self.clients.get(&id).copied().unwrap_or((-1, -1));
        if self.rng.gen_bool(0.1) && epoch > 0 {
            epoch -= 1; // a zombie
        }
        if self.rng.gen_bool(0.05) {
            pid += 1;
        }
        match self.rng.gen_range(0..10) {
            0..=2 => {
                let expected = (self.rng.gen_bool(0.3) && pid >= 0).then_some(ProducerIdAndEpoch {
                    producer_id: pid,
                    epoch,
                });
                let request = self.request(Req::Init(id.clone()));
                let mut r = InitProducerId {
                    request,
                    transactional_id: id,
                    timeout_ms: self.rng.gen_range(1_000..=10_000),
                    expected,
                    fresh_producer_id: None,
                };
                loop {
                    match self.p.init_producer_id(&r, self.now) {
                        InitStep::Effects(fx) => return self.apply(fx),
                        InitStep::NeedProducerId => {
                            assert!(r.fresh_producer_id.is_none());
                            self.next_pid += 1;
                            r.fresh_producer_id = Some(self.next_pid);
                        }
                    }
                }
            }
            3..=6 => {
                let n = self.rng.gen_range(0..3);
                let parts: Vec<TopicPartition> = (0..n)
                    .map(|_| {
                        TopicPartition::new(
                            ["t", "u"][self.rng.gen_range(0..2)],
                            self.rng.gen_range(0..3),
                        )
                    })
                    .collect();
                let request = self.request(Req::Add(id.clone(), pid, epoch, parts.clone()));
                let tv = if self.rng.gen_bool(0.5) { TV2 } else { 0 };
                let fx = self
                    .p
                    .add_partitions_at(request, &id, pid, epoch, &parts, tv, self.now);
                self.apply(fx);
            }
            _ => {
                let r = if self.rng.gen_bool(0.6) {
                    TxnResult::Commit
                } else {
                    TxnResult::Abort
                };
                if self.rng.gen_bool(0.5) {
                    let request = self.request(Req::End(id.clone(), pid, epoch, r));
                    let fx = self.p.end_txn(request, &id, pid, epoch, r, self.now);
                    return self.apply(fx);
                }
                let request = self.request(Req::EndV2(id.clone(), pid, epoch, r));
                let mut req = EndTxnV2 {
                    request,
                    transactional_id: id,
                    producer_id: pid,
                    epoch,
                    result: r,
                    fresh_producer_id: None,
                };
                loop {
                    match self.p.end_txn_v2(&req, self.now) {
                        InitStep::Effects(fx) => return self.apply(fx),
                        InitStep::NeedProducerId => {
                            assert!(req.fresh_producer_id.is_none());
                            self.next_pid += 1;
                            req.fresh_producer_id = Some(self.next_pid);
                        }
                    }
                }
            }
        }
    }

    fn finish_write(&mut self) {
        if self.writes.is_empty() {
            return;
        }
        let i = self.rng.gen_range(0..self.writes.len());
        let w = self.writes.remove(i);
        let roll = if self.faults {
            self.rng.gen_range(0..10)
        } else {
            0
        };
        let result = match roll {
            0..=6 => {
                if let Some(b) = &w.before {
                    self.log.push((w.key.clone(), Some(b.clone())));
                    self.ack(&w.id, Some(TxnLogValue::decode(b).expect("own record")));
                }
                self.log.push((w.key.clone(), w.value.clone()));
                if w.durable {
                    self.durable_len = self.log.len();
                }
                let v = w
                    .value
                    .as_ref()
                    .map(|v| TxnLogValue::decode(v).expect("own record"));
                self.ack(&w.id, v);
                Ok(())
            }
            // Failed before the append.
            7 | 8 => Err(strata_txn::TxnError::CoordinatorNotAvailable),
            // Appended, but the coordinator was told it failed (replication timeout).
            _ => {
                if let Some(b) = &w.before {
                    self.log.push((w.key.clone(), Some(b.clone())));
                }
                self.log.push((w.key.clone(), w.value.clone()));
                Err(strata_txn::TxnError::CoordinatorNotAvailable)
            }
        };
        let fx = self.p.persisted(&w.id, w.write, result, self.now);
        if !w.durable {
            // Nothing is answered on a write a crash may take back.
            assert!(
                !fx.iter()
                    .any(|e| matches!(e, Effect::Respond { result: Ok(_), .. })),
                "{}: answered after a write that need not be durable: {fx:?}",
                w.id
            );
        }
        self.apply(fx);
    }

    fn finish_markers(&mut self) {
        if self.markers.is_empty() {
            return;
        }
        let i = self.rng.gen_range(0..self.markers.len());
        let m = &mut self.markers[i];
        let k = self.rng.gen_range(1..=m.left.len());
        let done: Vec<TopicPartition> = m.left.drain(..k).collect();
        let (id, pid, epoch, result) = (m.id.clone(), m.pid, m.epoch, m.result);
        if m.left.is_empty() {
            self.markers.remove(i);
        }
        let _ = result;
        let fx = self.p.markers_written(&id, pid, epoch, &done, self.now);
        self.apply(fx);
    }

    fn advance(&mut self) {
        self.now += self.rng.gen_range(0..3_000);
        if self.p.next_deadline().is_some_and(|d| d <= self.now) {
            let fx = self.p.tick(self.now);
            self.apply(fx);
        }
    }

    fn reload(&mut self) {
        // In-flight work dies with the old coordinator; its requests are answered
        // NOT_COORDINATOR by the driver.
        self.writes.clear();
        self.markers.clear();
        for (request, _) in std::mem::take(&mut self.waiting) {
            self.answered.insert(request);
        }
        // A crash may lose what is in the log but not yet durable.
        if self.rng.gen_bool(0.5) {
            self.log.truncate(self.durable_len);
        }
        // The new coordinator serves the log it loads (as Kafka's, to its end).
        self.durable_len = self.log.len();
        // What the log holds now is what the new coordinator acknowledges.
        let mut last: BTreeMap<String, Option<TxnLogValue>> = BTreeMap::new();
        for (k, v) in &self.log {
            if let Ok(Record::Txn(id, v)) = decode_record(k, v.as_deref()) {
                last.insert(id, v);
            }
        }
        for (id, v) in last {
            let list = self.acked.entry(id).or_default();
            if list.last() != Some(&v) {
                list.push(v);
            }
        }
        self.epoch += 1;
        let (p, fx, stats) =
            TxnPartition::load(3, self.epoch, self.cfg, self.log.clone(), self.now);
        assert_eq!(stats.skipped, 0);
        self.p = p;
        self.apply(fx);
    }

    fn check(&self) {
        for id in IDS {
            let Some(m) = self.p.metadata(id) else {
                continue;
            };
            let pending = self.p.pending_state(id);
            for r in [TxnResult::Commit, TxnResult::Abort] {
                if m.state == r.prepare_state() {
                    assert_eq!(
                        pending,
                        Some(r.complete_state()),
                        "{id}: prepared without its completion"
                    );
                }
            }
            if pending.is_none() && m.producer_epoch >= 0 {
                if let Some(v) = self.last_acked(id) {
                    assert_eq!(m.state, v.state, "{id}: memory and log disagree");
                    assert_eq!(m.producer_id, v.producer_id);
                    assert!(m.producer_epoch >= v.producer_epoch);
                }
            }
        }
    }

    fn step(&mut self) {
        match self.rng.gen_range(0..100) {
            0..=34 => self.client_op(),
            35..=64 => self.finish_write(),
            65..=84 => self.finish_markers(),
            85..=97 => self.advance(),
            _ => self.reload(),
        }
        self.check();
    }

    /// No more faults or requests: everything in flight completes.
    fn drain(&mut self) {
        self.faults = false;
        for _ in 0..10_000 {
            if !self.writes.is_empty() {
                self.finish_write();
            } else if !self.markers.is_empty() {
                self.finish_markers();
            } else if let Some(d) = self.p.next_deadline().filter(|d| *d <= self.now + 20_000) {
                self.now = self.now.max(d);
                let fx = self.p.tick(self.now);
                self.apply(fx);
            } else {
                break;
            }
            self.check();
        }
        assert!(self.waiting.is_empty(), "unanswered: {:?}", self.waiting);
        for id in IDS {
            if let Some(m) = self.p.metadata(id) {
                assert!(
                    !matches!(
                        m.state,
                        TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::Ongoing
                    ),
                    "{id} left in {:?}",
                    m.state
                );
                assert_eq!(self.p.pending_state(id), None);
            }
        }
    }
}

#[test]
fn random_schedules_keep_the_invariants() {
    let (mut v2_ends, mut handovers) = (0, 0);
    for seed in 0..300 {
        let mut sim = Sim::new(seed);
        for _ in 0..400 {
            sim.step();
        }
        sim.drain();
        v2_ends += sim.v2_ends;
        handovers += sim.handovers;
    }
    // The schedules reach transactions v2 and its producer id handover.
    assert!(v2_ends > 100 && handovers > 5, "{v2_ends} {handovers}");
}
