//! Transactions v2 (KIP-890 part 2): EndTxn v5 bumps the epoch at every end, hands
//! over to a fresh producer id when the epoch is used up, answers retries with the
//! epoch it handed out, and all of it survives a reload from the records.

use bytes::Bytes;
use strata_txn::{
    decode_record, encode_key, Effect, EndTxnV2, InitProducerId, InitStep, ProducerIdAndEpoch,
    Record, Reply, TopicPartition, TxnConfig, TxnError, TxnLogValue, TxnPartition, TxnResult,
    TxnState, EPOCH_EXHAUSTED, TV2,
};

const T0: i64 = 5_000_000;

struct H {
    p: TxnPartition,
    next_pid: i64,
    next_req: u64,
    log: Vec<(Bytes, Option<Bytes>)>,
    /// Marker sends seen: (producer id, epoch, result, partitions).
    markers: Vec<(i64, i16, TxnResult, Vec<TopicPartition>)>,
}

type Answer = Result<Reply, TxnError>;

impl H {
    fn new() -> H {
        H::with(TxnPartition::new(0, 3, TxnConfig::default()))
    }

    fn with(p: TxnPartition) -> H {
        H {
            p,
            next_pid: 7000,
            next_req: 0,
            log: Vec::new(),
            markers: Vec::new(),
        }
    }

    fn req(&mut self) -> u64 {
        self.next_req += 1;
        self.next_req
    }

    /// Carries out writes (durably) and, when `write_markers`, marker sends, until
    /// none is left; returns the answers.
    fn settle(&mut self, fx: Vec<Effect>, now: i64, write_markers: bool) -> Vec<Answer> {
        let mut todo = fx;
        todo.reverse();
        let mut answers = Vec::new();
        while let Some(e) = todo.pop() {
            let mut more = match e {
                Effect::Persist {
                    transactional_id,
                    write,
                    key,
                    value,
                    before,
                    ..
                } => {
                    if let Some(b) = before {
                        self.log.push((key.clone(), Some(b)));
                    }
                    self.log.push((key, value));
                    self.p.persisted(&transactional_id, write, Ok(()), now)
                }
                Effect::SendMarkers {
                    transactional_id,
                    producer_id,
                    producer_epoch,
                    result,
                    partitions,
                    ..
                } => {
                    self.markers
                        .push((producer_id, producer_epoch, result, partitions.clone()));
                    if !write_markers {
                        continue;
                    }
                    self.p.markers_written(
                        &transactional_id,
                        producer_id,
                        producer_epoch,
                        &partitions,
                        now,
                    )
                }
                Effect::Respond { result, .. } => {
                    answers.push(result);
                    Vec::new()
                }
            };
            more.reverse();
            todo.extend(more);
        }
        answers
    }

    fn one(&mut self, fx: Vec<Effect>, now: i64) -> Answer {
        let answers = self.settle(fx, now, true);
        assert_eq!(answers.len(), 1, "{answers:?}");
        answers[0]
    }

    fn init(&mut self, id: &str) -> (i64, i16) {
        let mut r = InitProducerId {
            request: self.req(),
            transactional_id: id.into(),
            timeout_ms: 60_000,
            expected: None,
            fresh_producer_id: None,
        };
        loop {
            match self.p.init_producer_id(&r, T0) {
                InitStep::Effects(fx) => return producer(self.one(fx, T0)),
                InitStep::NeedProducerId => {
                    self.next_pid += 1;
                    r.fresh_producer_id = Some(self.next_pid);
                }
            }
        }
    }

    fn add(&mut self, pid: i64, epoch: i16, parts: &[i32], now: i64) -> Answer {
        let parts: Vec<_> = parts.iter().map(|p| TopicPartition::new("t", *p)).collect();
        let r = self.req();
        let fx = self
            .p
            .add_partitions_at(r, "tx", pid, epoch, &parts, TV2, now);
        self.one(fx, now)
    }

    /// EndTxn v5; `write_markers: false` leaves the transaction in Prepare*.
    fn end(
        &mut self,
        pid: i64,
        epoch: i16,
        result: TxnResult,
        now: i64,
        write_markers: bool,
    ) -> Answer {
        let mut r = EndTxnV2 {
            request: self.req(),
            transactional_id: "tx".into(),
            producer_id: pid,
            epoch,
            result,
            fresh_producer_id: None,
        };
        loop {
            match self.p.end_txn_v2(&r, now) {
                InitStep::Effects(fx) => {
                    let answers = self.settle(fx, now, write_markers);
                    assert_eq!(answers.len(), 1, "{answers:?}");
                    return answers[0];
                }
                InitStep::NeedProducerId => {
                    assert!(r.fresh_producer_id.is_none(), "asked twice");
                    self.next_pid += 1;
                    r.fresh_producer_id = Some(self.next_pid);
                }
            }
        }
    }

    fn state(&self) -> (TxnState, i64, i16) {
        let m = self.p.metadata("tx").expect("tx");
        (m.state, m.producer_id, m.producer_epoch)
    }

    fn reload(&self, now: i64) -> (TxnPartition, Vec<Effect>) {
        let (p, fx, _) = TxnPartition::load(0, 4, TxnConfig::default(), self.log.clone(), now);
        (p, fx)
    }
}

fn producer(a: Answer) -> (i64, i16) {
    match a {
        Ok(Reply::Producer(p)) => (p.producer_id, p.epoch),
        other => panic!("expected a producer, got {other:?}"),
    }
}

fn next(producer_id: i64, epoch: i16) -> Answer {
    Ok(Reply::Producer(ProducerIdAndEpoch { producer_id, epoch }))
}

#[test]
fn commit_bumps_the_epoch_writes_markers_with_it_and_fences_the_old_one() {
    let mut h = H::new();
    let (pid, e) = h.init("tx");
    assert_eq!(h.add(pid, e, &[0, 1], T0), Ok(Reply::Done));
    assert_eq!(h.p.metadata("tx").unwrap().client_tv, TV2);
    assert_eq!(
        h.end(pid, e, TxnResult::Commit, T0 + 1, true),
        next(pid, e + 1)
    );
    assert_eq!(
        h.markers,
        vec![(
            pid,
            e + 1,
            TxnResult::Commit,
            vec![TopicPartition::new("t", 0), TopicPartition::new("t", 1)]
        )]
    );
    assert_eq!(h.state(), (TxnState::CompleteCommit, pid, e + 1));
    // The ended transaction's producer is fenced; the next one runs at the new epoch.
    assert_eq!(h.add(pid, e, &[0], T0 + 2), Err(TxnError::ProducerFenced));
    assert_eq!(
        h.p.verify_partitions("tx", pid, e, &[TopicPartition::new("t", 0)]),
        Err(TxnError::ProducerFenced)
    );
    assert_eq!(h.add(pid, e + 1, &[2], T0 + 2), Ok(Reply::Done));
    assert_eq!(
        h.end(pid, e + 1, TxnResult::Commit, T0 + 3, true),
        next(pid, e + 2)
    );
    assert_eq!(h.markers[1].1, e + 2);
}

#[test]
fn a_retried_end_txn_gets_the_same_answer_and_a_mismatched_one_invalid_txn_state() {
    let mut h = H::new();
    let (pid, e) = h.init("tx");
    h.add(pid, e, &[0], T0).unwrap();
    assert_eq!(
        h.end(pid, e, TxnResult::Commit, T0 + 1, false),
        next(pid, e + 1)
    );
    // Markers still being written: the retry waits.
    assert_eq!(
        h.end(pid, e, TxnResult::Commit, T0 + 1, false),
        Err(TxnError::ConcurrentTransactions)
    );
    let fx =
        h.p.markers_written("tx", pid, e + 1, &[TopicPartition::new("t", 0)], T0 + 2);
    h.settle(fx, T0 + 2, true);
    assert_eq!(h.state(), (TxnState::CompleteCommit, pid, e + 1));
    assert_eq!(
        h.end(pid, e, TxnResult::Commit, T0 + 3, true),
        next(pid, e + 1)
    );
    assert_eq!(
        h.end(pid, e, TxnResult::Abort, T0 + 3, true),
        Err(TxnError::InvalidTxnState)
    );
    // The current epoch committing again: nothing is open.
    assert_eq!(
        h.end(pid, e + 1, TxnResult::Commit, T0 + 3, true),
        Err(TxnError::InvalidTxnState)
    );
    // An older epoch still is fenced.
    assert_eq!(
        h.end(pid, e - 1, TxnResult::Commit, T0 + 3, true),
        Err(TxnError::ProducerFenced)
    );
    assert_eq!(h.state(), (TxnState::CompleteCommit, pid, e + 1));
}

#[test]
fn abort_bumps_and_an_abort_with_nothing_open_bumps_without_markers() {
    let mut h = H::new();
    let (pid, e) = h.init("tx");
    h.add(pid, e, &[0], T0).unwrap();
    assert_eq!(
        h.end(pid, e, TxnResult::Abort, T0 + 1, true),
        next(pid, e + 1)
    );
    assert_eq!(h.markers.len(), 1);
    assert_eq!(h.markers[0].1, e + 1);
    assert_eq!(h.state(), (TxnState::CompleteAbort, pid, e + 1));
    // Retried abort: same answer, no bump.
    assert_eq!(
        h.end(pid, e, TxnResult::Abort, T0 + 2, true),
        next(pid, e + 1)
    );
    // A new abort at the current epoch with nothing open bumps again, no markers.
    assert_eq!(
        h.end(pid, e + 1, TxnResult::Abort, T0 + 3, true),
        next(pid, e + 2)
    );
    assert_eq!(h.markers.len(), 1);
    assert_eq!(h.state(), (TxnState::CompleteAbort, pid, e + 2));
    assert_eq!(
        h.end(pid, e + 2, TxnResult::Commit, T0 + 4, true),
        Err(TxnError::InvalidTxnState)
    );
}

/// A log holding "tx" idle at producer 500 with its last usable epoch.
fn exhausted() -> H {
    let value = TxnLogValue {
        producer_id: 500,
        previous_producer_id: -1,
        next_producer_id: -1,
        producer_epoch: EPOCH_EXHAUSTED,
        timeout_ms: 60_000,
        state: TxnState::CompleteCommit,
        partitions: Vec::new(),
        last_update_ms: T0,
        start_ms: T0,
        client_transaction_version: TV2,
    };
    let log = vec![(encode_key("tx"), Some(value.encode()))];
    let (p, fx, _) = TxnPartition::load(0, 3, TxnConfig::default(), log.clone(), T0);
    assert!(fx.is_empty());
    let mut h = H::with(p);
    h.log = log;
    h
}

#[test]
fn a_used_up_epoch_hands_over_to_a_fresh_producer_id_at_epoch_zero() {
    let mut h = exhausted();
    h.add(500, EPOCH_EXHAUSTED, &[0], T0 + 1).unwrap();
    assert_eq!(
        h.end(500, EPOCH_EXHAUSTED, TxnResult::Commit, T0 + 2, true),
        next(7001, 0)
    );
    // The markers carry the old id at the bumped (never handed out) epoch.
    assert_eq!(h.markers[0].0, 500);
    assert_eq!(h.markers[0].1, i16::MAX);
    assert_eq!(h.state(), (TxnState::CompleteCommit, 7001, 0));
    let m = h.p.metadata("tx").unwrap();
    assert_eq!((m.last_producer_id, m.next_producer_id), (500, -1));
    // A retry with the old id and its last epoch is answered with the handover.
    assert_eq!(
        h.end(500, EPOCH_EXHAUSTED, TxnResult::Commit, T0 + 3, true),
        next(7001, 0)
    );
    assert_eq!(
        h.add(500, EPOCH_EXHAUSTED, &[0], T0 + 3),
        Err(TxnError::InvalidProducerIdMapping)
    );
    assert_eq!(h.add(7001, 0, &[0], T0 + 3), Ok(Reply::Done));
    assert_eq!(
        h.end(7001, 0, TxnResult::Commit, T0 + 4, true),
        next(7001, 1)
    );
}

#[test]
fn the_next_transaction_of_the_handed_over_id_waits_for_the_completion() {
    let mut h = exhausted();
    h.add(500, EPOCH_EXHAUSTED, &[0], T0 + 1).unwrap();
    assert_eq!(
        h.end(500, EPOCH_EXHAUSTED, TxnResult::Commit, T0 + 2, false),
        next(7001, 0)
    );
    // The new id's implicit add arrives while the markers are out: it waits...
    let r = h.req();
    let fx = h.p.add_partitions_at(
        r,
        "tx",
        7001,
        0,
        &[TopicPartition::new("t", 3)],
        TV2,
        T0 + 2,
    );
    assert!(h.settle(fx, T0 + 2, true).is_empty());
    // ...and opens the next transaction with the completion.
    let fx =
        h.p.markers_written("tx", 500, i16::MAX, &[TopicPartition::new("t", 0)], T0 + 3);
    assert_eq!(h.settle(fx, T0 + 3, true), vec![Ok(Reply::Done)]);
    assert_eq!(h.state(), (TxnState::Ongoing, 7001, 0));
}

#[test]
fn a_reload_keeps_the_bumped_epoch_the_handover_and_the_version() {
    let mut h = exhausted();
    h.add(500, EPOCH_EXHAUSTED, &[0], T0 + 1).unwrap();
    h.end(500, EPOCH_EXHAUSTED, TxnResult::Abort, T0 + 2, false)
        .unwrap();
    // The Prepare* record holds the bump and the next producer id.
    let (_, last) = h.log.last().cloned().unwrap();
    match decode_record(&encode_key("tx"), last.as_deref()).unwrap() {
        Record::Txn(_, Some(v)) => {
            assert_eq!(
                (v.state, v.producer_id, v.producer_epoch, v.next_producer_id),
                (TxnState::PrepareAbort, 500, i16::MAX, 7001)
            );
            assert_eq!(v.client_transaction_version, TV2);
            assert_eq!(TxnLogValue::decode(&v.encode()).unwrap(), v);
        }
        other => panic!("{other:?}"),
    }
    // A new coordinator resends the markers and completes with the handover.
    let (p, fx) = h.reload(T0 + 5);
    let mut h2 = H::with(p);
    h2.log = h.log.clone();
    assert!(h2.settle(fx, T0 + 5, true).is_empty());
    assert_eq!(h2.markers[0].0, 500);
    assert_eq!(h2.markers[0].1, i16::MAX);
    assert_eq!(h2.state(), (TxnState::CompleteAbort, 7001, 0));
    // And after one more reload, the retry of the answered EndTxn still matches.
    let (p, fx) = h2.reload(T0 + 6);
    assert!(fx.is_empty());
    let mut h3 = H::with(p);
    let m = h3.p.metadata("tx").unwrap();
    assert_eq!((m.client_tv, m.last_producer_id), (TV2, 500));
    assert_eq!(
        h3.end(500, EPOCH_EXHAUSTED, TxnResult::Abort, T0 + 7, true),
        next(7001, 0)
    );
}

#[test]
fn a_reload_of_a_plain_bump_resends_markers_at_the_new_epoch() {
    let mut h = H::new();
    let (pid, e) = h.init("tx");
    h.add(pid, e, &[0], T0).unwrap();
    h.end(pid, e, TxnResult::Commit, T0 + 1, false).unwrap();
    let (p, fx) = h.reload(T0 + 2);
    let mut h2 = H::with(p);
    h2.settle(fx, T0 + 2, true);
    assert_eq!(
        h2.markers,
        vec![(
            pid,
            e + 1,
            TxnResult::Commit,
            vec![TopicPartition::new("t", 0)]
        )]
    );
    assert_eq!(h2.state(), (TxnState::CompleteCommit, pid, e + 1));
    assert_eq!(
        h2.end(pid, e, TxnResult::Commit, T0 + 3, true),
        next(pid, e + 1)
    );
}

#[test]
fn init_over_an_open_v2_transaction_bumps_once_and_its_end_retry_sees_the_abort() {
    let mut h = H::new();
    let (pid, e) = h.init("tx");
    h.add(pid, e, &[0], T0).unwrap();
    // InitProducerId of a new producer instance: the open transaction is aborted with
    // one bump (KAFKA-19367: not two), the caller told to retry.
    let r = h.req();
    let req = InitProducerId {
        request: r,
        transactional_id: "tx".into(),
        timeout_ms: 60_000,
        expected: None,
        fresh_producer_id: None,
    };
    let InitStep::Effects(fx) = h.p.init_producer_id(&req, T0 + 1) else {
        panic!("no producer id needed");
    };
    assert_eq!(h.one(fx, T0 + 1), Err(TxnError::ConcurrentTransactions));
    assert_eq!(h.markers[0].1, e + 1);
    assert_eq!(h.state(), (TxnState::CompleteAbort, pid, e + 1));
    // The old instance's EndTxn v5 abort is read as a retry of that abort...
    assert_eq!(
        h.end(pid, e, TxnResult::Abort, T0 + 2, true),
        next(pid, e + 1)
    );
    // ...and its commit is refused.
    assert_eq!(
        h.end(pid, e, TxnResult::Commit, T0 + 2, true),
        Err(TxnError::InvalidTxnState)
    );
    assert_eq!(h.init("tx"), (pid, e + 2));
}

#[test]
fn unknown_ids_and_producers_are_refused() {
    let mut h = H::new();
    assert_eq!(
        h.end(1, 0, TxnResult::Commit, T0, true),
        Err(TxnError::InvalidProducerIdMapping)
    );
    let (pid, e) = h.init("tx");
    assert_eq!(
        h.end(pid + 1, e, TxnResult::Commit, T0, true),
        Err(TxnError::InvalidProducerIdMapping)
    );
    assert_eq!(
        h.end(pid, e + 1, TxnResult::Abort, T0, true),
        Err(TxnError::ProducerFenced)
    );
    // Empty: commit has nothing to commit, abort bumps.
    assert_eq!(
        h.end(pid, e, TxnResult::Commit, T0, true),
        Err(TxnError::InvalidTxnState)
    );
    assert_eq!(h.end(pid, e, TxnResult::Abort, T0, true), next(pid, e + 1));
}
