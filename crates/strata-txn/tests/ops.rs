//! One test per operation and error, driving a `TxnPartition` by hand: every write is
//! reported durable (or failed) explicitly, so the tests see what is answered when.

use strata_txn::{
    Effect, InitProducerId, InitStep, ListFilter, ProducerIdAndEpoch, Reply, TopicPartition,
    TxnConfig, TxnError, TxnPartition, TxnResult, TxnState,
};

const T0: i64 = 1_000_000;

struct H {
    p: TxnPartition,
    next_pid: i64,
    next_req: u64,
    /// Writes handed out and not yet reported: (id, write, key, value).
    log: Vec<(bytes::Bytes, Option<bytes::Bytes>)>,
}

type Out = Vec<Effect>;

impl H {
    fn new() -> H {
        H {
            p: TxnPartition::new(0, 5, TxnConfig::default()),
            next_pid: 1000,
            next_req: 1,
            log: Vec::new(),
        }
    }

    fn req(&mut self) -> u64 {
        self.next_req += 1;
        self.next_req
    }

    /// Carries out every Persist (durably, appending to `log`) until none is left;
    /// returns every other effect seen.
    fn settle(&mut self, mut fx: Out, now: i64) -> Out {
        let mut out = Vec::new();
        while let Some(e) = fx.pop() {
            match e {
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
                    let mut more = self.p.persisted(&transactional_id, write, Ok(()), now);
                    more.reverse();
                    fx.extend(more);
                }
                other => out.push(other),
            }
        }
        out
    }

    fn init_raw(&mut self, id: &str, expected: Option<(i64, i16)>, now: i64) -> Out {
        let mut r = InitProducerId {
            request: self.req(),
            transactional_id: id.into(),
            timeout_ms: 60_000,
            expected: expected
                .map(|(producer_id, epoch)| ProducerIdAndEpoch { producer_id, epoch }),
            fresh_producer_id: None,
        };
        loop {
            match self.p.init_producer_id(&r, now) {
                InitStep::Effects(fx) => return fx,
                InitStep::NeedProducerId => {
                    assert!(r.fresh_producer_id.is_none(), "asked twice");
                    self.next_pid += 1;
                    r.fresh_producer_id = Some(self.next_pid);
                }
            }
        }
    }

    fn init(
        &mut self,
        id: &str,
        expected: Option<(i64, i16)>,
        now: i64,
    ) -> Result<Reply, TxnError> {
        let fx = self.init_raw(id, expected, now);
        answer(self.settle(fx, now))
    }

    fn add(
        &mut self,
        id: &str,
        pid: i64,
        epoch: i16,
        parts: &[(&str, i32)],
        now: i64,
    ) -> Result<Reply, TxnError> {
        let parts: Vec<_> = parts
            .iter()
            .map(|(t, p)| TopicPartition::new(*t, *p))
            .collect();
        let r = self.req();
        let fx = self.p.add_partitions(r, id, pid, epoch, &parts, now);
        answer(self.settle(fx, now))
    }

    /// "tx" with a commit of partition t-0 prepared and its markers out (EndTxn
    /// answered at `T0 + 1`); returns the producer.
    fn committing(&mut self) -> (i64, i16) {
        let (pid, e) = producer(self.init("tx", None, T0));
        self.add("tx", pid, e, &[("t", 0)], T0).unwrap();
        assert_eq!(
            self.end("tx", pid, e, TxnResult::Commit, T0 + 1).0,
            Ok(Reply::Done)
        );
        assert_eq!(
            self.p.metadata("tx").unwrap().state,
            TxnState::PrepareCommit
        );
        (pid, e)
    }

    fn end(
        &mut self,
        id: &str,
        pid: i64,
        epoch: i16,
        result: TxnResult,
        now: i64,
    ) -> (Result<Reply, TxnError>, Out) {
        let r = self.req();
        let fx = self.p.end_txn(r, id, pid, epoch, result, now);
        let out = self.settle(fx, now);
        (answer(out.clone()), out)
    }
}

fn answer(fx: Out) -> Result<Reply, TxnError> {
    let mut answers = fx.iter().filter_map(|e| match e {
        Effect::Respond { result, .. } => Some(*result),
        _ => None,
    });
    let a = answers.next().expect("an answer");
    assert!(answers.next().is_none(), "one answer per request");
    a
}

fn producer(r: Result<Reply, TxnError>) -> (i64, i16) {
    match r {
        Ok(Reply::Producer(p)) => (p.producer_id, p.epoch),
        other => panic!("expected a producer, got {other:?}"),
    }
}

fn markers(fx: &Out) -> Vec<(i64, i16, TxnResult, i32, Vec<TopicPartition>)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::SendMarkers {
                producer_id,
                producer_epoch,
                result,
                coordinator_epoch,
                partitions,
                ..
            } => Some((
                *producer_id,
                *producer_epoch,
                *result,
                *coordinator_epoch,
                partitions.clone(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn a_new_id_gets_a_fresh_producer_id_at_epoch_zero_once_persisted() {
    let mut h = H::new();
    let fx = h.init_raw("tx", None, T0);
    // Nothing is answered before the write is durable.
    assert!(fx.iter().all(|e| !matches!(e, Effect::Respond { .. })));
    assert_eq!(fx.len(), 1);
    assert_eq!(h.p.pending_state("tx"), Some(TxnState::Empty));
    let out = h.settle(fx, T0);
    assert_eq!(producer(answer(out)), (1001, 0));
    let m = h.p.metadata("tx").unwrap();
    assert_eq!(
        (m.state, m.producer_epoch, m.timeout_ms),
        (TxnState::Empty, 0, 60_000)
    );
    assert_eq!(h.p.pending_state("tx"), None);
}

#[test]
fn a_second_init_bumps_the_epoch_and_fences_the_first_producer() {
    let mut h = H::new();
    let (pid, e0) = producer(h.init("tx", None, T0));
    let (pid2, e1) = producer(h.init("tx", None, T0 + 1));
    assert_eq!((pid2, e1), (pid, e0 + 1));
    assert_eq!(
        h.add("tx", pid, e0, &[("t", 0)], T0 + 2),
        Err(TxnError::ProducerFenced)
    );
    assert_eq!(h.add("tx", pid, e1, &[("t", 0)], T0 + 2), Ok(Reply::Done));
    assert_eq!(
        h.add("tx", pid + 7, e1, &[("t", 0)], T0 + 2),
        Err(TxnError::InvalidProducerIdMapping)
    );
    assert_eq!(
        h.add("nope", pid, e1, &[("t", 0)], T0 + 2),
        Err(TxnError::InvalidProducerIdMapping)
    );
    assert_eq!(
        h.add("", pid, e1, &[("t", 0)], T0 + 2),
        Err(TxnError::InvalidRequest)
    );
}

#[test]
fn init_refuses_bad_timeouts_and_empty_ids() {
    let mut h = H::new();
    let mut r = InitProducerId {
        request: 1,
        transactional_id: "tx".into(),
        timeout_ms: 900_001,
        expected: None,
        fresh_producer_id: Some(5),
    };
    let err = |s: InitStep| match s {
        InitStep::Effects(fx) => answer(fx).unwrap_err(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        err(h.p.init_producer_id(&r, T0)),
        TxnError::InvalidTransactionTimeout
    );
    r.timeout_ms = 0;
    assert_eq!(
        err(h.p.init_producer_id(&r, T0)),
        TxnError::InvalidTransactionTimeout
    );
    r.timeout_ms = 1000;
    r.transactional_id = String::new();
    assert_eq!(err(h.p.init_producer_id(&r, T0)), TxnError::InvalidRequest);
    assert!(h.p.is_empty());
}

#[test]
fn requests_during_a_pending_write_get_concurrent_transactions() {
    let mut h = H::new();
    let (pid, e) = producer(h.init("tx", None, T0));
    let fx =
        h.p.add_partitions(50, "tx", pid, e, &[TopicPartition::new("t", 0)], T0);
    assert!(matches!(fx[..], [Effect::Persist { .. }]));
    // One AddPartitions waits for the write; a second one is refused.
    let parked =
        h.p.add_partitions(51, "tx", pid, e, &[TopicPartition::new("t", 1)], T0);
    assert!(parked.is_empty(), "{parked:?}");
    assert_eq!(
        h.add("tx", pid, e, &[("t", 2)], T0),
        Err(TxnError::ConcurrentTransactions)
    );
    assert_eq!(
        h.end("tx", pid, e, TxnResult::Commit, T0).0,
        Err(TxnError::ConcurrentTransactions)
    );
    assert_eq!(
        h.init("tx", None, T0),
        Err(TxnError::ConcurrentTransactions)
    );
    // The write completes: the first request is answered, then the parked one runs
    // (its own write) and is answered.
    let out = h.settle(fx, T0);
    assert_eq!(
        out,
        vec![
            Effect::Respond {
                request: 50,
                result: Ok(Reply::Done)
            },
            Effect::Respond {
                request: 51,
                result: Ok(Reply::Done)
            }
        ]
    );
    let m = h.p.metadata("tx").unwrap();
    assert_eq!(m.state, TxnState::Ongoing);
    assert_eq!(
        m.partitions.iter().cloned().collect::<Vec<_>>(),
        vec![TopicPartition::new("t", 0), TopicPartition::new("t", 1)]
    );
}

/// A client starts its next transaction as soon as EndTxn answers, while the
/// markers of the last one are still being written: its AddPartitionsToTxn waits for
/// the markers and then opens the new transaction in the completion's own write (one
/// batch, completion first), instead of sending the client into a
/// CONCURRENT_TRANSACTIONS backoff.
#[test]
fn the_next_transaction_waits_for_the_last_one_to_complete() {
    let mut h = H::new();
    let (pid, e) = h.committing();
    let parked =
        h.p.add_partitions(70, "tx", pid, e, &[TopicPartition::new("t", 5)], T0 + 2);
    assert!(parked.is_empty(), "{parked:?}");
    // Its wait is a deadline.
    assert_eq!(h.p.next_deadline(), Some(T0 + 2 + 1000));
    let fx =
        h.p.markers_written("tx", pid, e, &[TopicPartition::new("t", 0)], T0 + 3);
    assert!(
        matches!(
            fx[..],
            [Effect::Persist {
                before: Some(_),
                durable: true,
                ..
            }]
        ),
        "one durable write: {fx:?}"
    );
    assert_eq!(h.p.pending_state("tx"), Some(TxnState::CompleteCommit));
    let out = h.settle(fx, T0 + 3);
    assert_eq!(
        out,
        vec![Effect::Respond {
            request: 70,
            result: Ok(Reply::Done)
        }]
    );
    let m = h.p.metadata("tx").unwrap();
    assert_eq!(m.state, TxnState::Ongoing);
    assert_eq!(
        m.start_ms,
        T0 + 3,
        "the new transaction starts when it runs"
    );
    assert_eq!(
        m.partitions.iter().cloned().collect::<Vec<_>>(),
        vec![TopicPartition::new("t", 5)]
    );
    // The log has the completion before the new transaction.
    let states: Vec<TxnState> = h
        .log
        .iter()
        .map(|(_, v)| {
            strata_txn::TxnLogValue::decode(v.as_ref().unwrap())
                .unwrap()
                .state
        })
        .collect();
    assert_eq!(
        states[states.len() - 3..],
        [
            TxnState::PrepareCommit,
            TxnState::CompleteCommit,
            TxnState::Ongoing
        ]
    );
}

#[test]
fn a_failed_completion_with_the_next_opening_answers_the_error_and_retries_the_completion() {
    let mut h = H::new();
    let (pid, e) = h.committing();
    assert!(h
        .p
        .add_partitions(74, "tx", pid, e, &[TopicPartition::new("t", 5)], T0 + 2)
        .is_empty());
    let fx =
        h.p.markers_written("tx", pid, e, &[TopicPartition::new("t", 0)], T0 + 3);
    let [Effect::Persist { write, .. }] = &fx[..] else {
        panic!("{fx:?}")
    };
    assert_eq!(
        h.p.persisted("tx", *write, Err(TxnError::CoordinatorNotAvailable), T0 + 4),
        vec![Effect::Respond {
            request: 74,
            result: Err(TxnError::CoordinatorNotAvailable)
        }]
    );
    // Still prepared; the completion alone is written after the backoff.
    assert_eq!(h.p.metadata("tx").unwrap().state, TxnState::PrepareCommit);
    assert_eq!(h.p.next_deadline(), Some(T0 + 4 + 1000));
    let fx = h.p.tick(T0 + 1004);
    assert!(
        matches!(fx[..], [Effect::Persist { before: None, .. }]),
        "{fx:?}"
    );
    assert!(h.settle(fx, T0 + 1004).is_empty());
    assert_eq!(h.p.metadata("tx").unwrap().state, TxnState::CompleteCommit);
    assert_eq!(h.add("tx", pid, e, &[("t", 5)], T0 + 1005), Ok(Reply::Done));
}

#[test]
fn a_parked_request_is_answered_concurrent_transactions_when_its_wait_ends() {
    let mut h = H::new();
    let (pid, e) = h.committing();
    let parked =
        h.p.add_partitions(71, "tx", pid, e, &[TopicPartition::new("t", 5)], T0 + 2);
    assert!(parked.is_empty());
    assert!(h.p.tick(T0 + 1001).is_empty(), "not yet");
    assert_eq!(
        h.p.tick(T0 + 1002),
        vec![Effect::Respond {
            request: 71,
            result: Err(TxnError::ConcurrentTransactions)
        }]
    );
    // Markers pending again: no deadline; the completion runs nothing parked.
    assert_eq!(h.p.next_deadline(), None);
    let fx =
        h.p.markers_written("tx", pid, e, &[TopicPartition::new("t", 0)], T0 + 1003);
    // A bare completion need only be in the log (see `Effect::Persist::durable`).
    assert!(
        matches!(
            fx[..],
            [Effect::Persist {
                before: None,
                durable: false,
                ..
            }]
        ),
        "{fx:?}"
    );
    assert!(h.settle(fx, T0 + 1003).is_empty());
    assert_eq!(h.p.metadata("tx").unwrap().state, TxnState::CompleteCommit);
}

#[test]
fn a_parked_request_of_a_fenced_producer_is_refused_when_it_runs() {
    let mut h = H::new();
    let (pid, e) = h.committing();
    let parked =
        h.p.add_partitions(72, "tx", pid, e, &[TopicPartition::new("t", 5)], T0 + 2);
    assert!(parked.is_empty());
    // A new instance of the producer is refused while the commit completes...
    assert_eq!(
        h.init("tx", None, T0 + 3),
        Err(TxnError::ConcurrentTransactions)
    );
    // ...the completion runs the parked request (opening a transaction), then the new
    // instance fences it: the old producer's next request is refused.
    let fx =
        h.p.markers_written("tx", pid, e, &[TopicPartition::new("t", 0)], T0 + 4);
    assert_eq!(answer(h.settle(fx, T0 + 4)), Ok(Reply::Done));
    h.init_raw("tx", None, T0 + 5);
    let parked =
        h.p.add_partitions(73, "tx", pid, e, &[TopicPartition::new("t", 6)], T0 + 6);
    assert_eq!(
        parked,
        vec![Effect::Respond {
            request: 73,
            result: Err(TxnError::ProducerFenced)
        }]
    );
}

#[test]
fn without_a_busy_wait_a_busy_id_is_answered_at_once() {
    let mut h = H::new();
    h.p = TxnPartition::new(
        0,
        5,
        TxnConfig {
            busy_wait_ms: 0,
            ..TxnConfig::default()
        },
    );
    let (pid, e) = h.committing();
    assert_eq!(
        h.add("tx", pid, e, &[("t", 5)], T0 + 2),
        Err(TxnError::ConcurrentTransactions)
    );
}

#[test]
fn a_failed_write_answers_its_error_and_leaves_the_state() {
    let mut h = H::new();
    let (pid, e) = producer(h.init("tx", None, T0));
    let fx =
        h.p.add_partitions(9, "tx", pid, e, &[TopicPartition::new("t", 0)], T0);
    let Effect::Persist { write, .. } = &fx[0] else {
        panic!()
    };
    let out =
        h.p.persisted("tx", *write, Err(TxnError::NotCoordinator), T0);
    assert_eq!(
        out,
        vec![Effect::Respond {
            request: 9,
            result: Err(TxnError::NotCoordinator)
        }]
    );
    assert_eq!(h.p.metadata("tx").unwrap().state, TxnState::Empty);
    // A stale report changes nothing.
    assert!(h.p.persisted("tx", *write, Ok(()), T0).is_empty());
    assert_eq!(h.p.metadata("tx").unwrap().state, TxnState::Empty);
}

#[test]
fn commit_writes_prepare_answers_then_markers_then_complete() {
    let mut h = H::new();
    let (pid, e) = producer(h.init("tx", None, T0));
    h.add("tx", pid, e, &[("t", 0), ("u", 3)], T0 + 1).unwrap();
    assert_eq!(
        h.add("tx", pid, e, &[("t", 0)], T0 + 2),
        Ok(Reply::Done),
        "already in"
    );
    let (a, out) = h.end("tx", pid, e, TxnResult::Commit, T0 + 3);
    assert_eq!(a, Ok(Reply::Done));
    assert_eq!(
        markers(&out),
        vec![(
            pid,
            e,
            TxnResult::Commit,
            5,
            vec![TopicPartition::new("t", 0), TopicPartition::new("u", 3)]
        )]
    );
    assert_eq!(h.p.metadata("tx").unwrap().state, TxnState::PrepareCommit);
    assert_eq!(h.p.pending_state("tx"), Some(TxnState::CompleteCommit));
    // Retries while markers are written.
    assert_eq!(
        h.end("tx", pid, e, TxnResult::Commit, T0 + 4).0,
        Err(TxnError::ConcurrentTransactions)
    );
    assert_eq!(
        h.init("tx", None, T0 + 4),
        Err(TxnError::ConcurrentTransactions)
    );
    // Markers confirmed one partition at a time; the completion is written after the last.
    assert!(h
        .p
        .markers_written("tx", pid, e, &[TopicPartition::new("t", 0)], T0 + 5)
        .is_empty());
    assert_eq!(
        h.p.describe("tx").unwrap().partitions,
        vec![TopicPartition::new("u", 3)]
    );
    assert!(
        h.p.markers_written("tx", pid, e + 1, &[TopicPartition::new("u", 3)], T0 + 5)
            .is_empty(),
        "other epoch"
    );
    let fx =
        h.p.markers_written("tx", pid, e, &[TopicPartition::new("u", 3)], T0 + 6);
    assert!(matches!(fx[..], [Effect::Persist { .. }]));
    assert!(h.settle(fx, T0 + 6).is_empty());
    let m = h.p.metadata("tx").unwrap();
    assert_eq!((m.state, m.partitions.len()), (TxnState::CompleteCommit, 0));
    // A retried commit is answered OK; an abort now is in the wrong state.
    assert_eq!(
        h.end("tx", pid, e, TxnResult::Commit, T0 + 7).0,
        Ok(Reply::Done)
    );
    assert_eq!(
        h.end("tx", pid, e, TxnResult::Abort, T0 + 7).0,
        Err(TxnError::InvalidTxnState)
    );
}

#[test]
fn ending_with_nothing_open_is_invalid_txn_state() {
    let mut h = H::new();
    let (pid, e) = producer(h.init("tx", None, T0));
    assert_eq!(
        h.end("tx", pid, e, TxnResult::Commit, T0).0,
        Err(TxnError::InvalidTxnState)
    );
    assert_eq!(
        h.end("tx", pid, e + 1, TxnResult::Commit, T0).0,
        Err(TxnError::ProducerFenced)
    );
}

#[test]
fn an_empty_transaction_completes_without_markers() {
    let mut h = H::new();
    let (pid, e) = producer(h.init("tx", None, T0));
    h.add("tx", pid, e, &[], T0).unwrap();
    assert_eq!(h.p.metadata("tx").unwrap().state, TxnState::Ongoing);
    let (a, out) = h.end("tx", pid, e, TxnResult::Commit, T0 + 1);
    assert_eq!(a, Ok(Reply::Done));
    assert!(markers(&out).is_empty());
    assert_eq!(h.p.metadata("tx").unwrap().state, TxnState::CompleteCommit);
}

#[test]
fn init_over_an_open_transaction_aborts_it_with_a_bumped_epoch() {
    let mut h = H::new();
    let (pid, e) = producer(h.init("tx", None, T0));
    h.add("tx", pid, e, &[("t", 0)], T0).unwrap();
    let fx = h.init_raw("tx", None, T0 + 1);
    // The old producer is fenced at once (the bump is in memory before the write).
    assert_eq!(
        h.add("tx", pid, e, &[("t", 1)], T0 + 1),
        Err(TxnError::ProducerFenced)
    );
    let out = h.settle(fx, T0 + 1);
    assert_eq!(answer(out.clone()), Err(TxnError::ConcurrentTransactions));
    assert_eq!(
        markers(&out),
        vec![(
            pid,
            e + 1,
            TxnResult::Abort,
            5,
            vec![TopicPartition::new("t", 0)]
        )]
    );
    assert_eq!(h.p.metadata("tx").unwrap().state, TxnState::PrepareAbort);
    assert_eq!(
        h.init("tx", None, T0 + 2),
        Err(TxnError::ConcurrentTransactions)
    );
    let fx =
        h.p.markers_written("tx", pid, e + 1, &[TopicPartition::new("t", 0)], T0 + 3);
    h.settle(fx, T0 + 3);
    assert_eq!(h.p.metadata("tx").unwrap().state, TxnState::CompleteAbort);
    // The retry now gets the epoch after the fence's.
    assert_eq!(producer(h.init("tx", None, T0 + 4)), (pid, e + 2));
}

#[test]
fn a_failed_fence_keeps_its_epoch_and_does_not_bump_twice() {
    let mut h = H::new();
    let (pid, e) = producer(h.init("tx", None, T0));
    h.add("tx", pid, e, &[("t", 0)], T0).unwrap();
    let fx = h.init_raw("tx", None, T0 + 1);
    let Effect::Persist { write, .. } = &fx[0] else {
        panic!()
    };
    let out =
        h.p.persisted("tx", *write, Err(TxnError::CoordinatorNotAvailable), T0 + 1);
    assert_eq!(answer(out), Err(TxnError::CoordinatorNotAvailable));
    let m = h.p.metadata("tx").unwrap();
    assert_eq!((m.state, m.producer_epoch), (TxnState::Ongoing, e + 1));
    let fx = h.init_raw("tx", None, T0 + 2);
    let out = h.settle(fx, T0 + 2);
    assert_eq!(markers(&out)[0].1, e + 1, "not bumped again");
}

#[test]
fn kip_360_recovery_with_the_current_or_previous_epoch() {
    let mut h = H::new();
    let (pid, e) = producer(h.init("tx", None, T0));
    // The current epoch: bumped, and remembered.
    assert_eq!(producer(h.init("tx", Some((pid, e)), T0)), (pid, e + 1));
    // Its retry (the response was lost): the same answer, no bump.
    assert_eq!(producer(h.init("tx", Some((pid, e)), T0)), (pid, e + 1));
    // Any other epoch, or another producer id, is fenced.
    assert_eq!(
        h.init("tx", Some((pid, e + 7)), T0),
        Err(TxnError::ProducerFenced)
    );
    assert_eq!(
        h.init("tx", Some((pid + 50, e)), T0),
        Err(TxnError::ProducerFenced)
    );
    // A plain init forgets the remembered epoch.
    assert_eq!(producer(h.init("tx", None, T0)), (pid, e + 2));
    assert_eq!(
        h.init("tx", Some((pid, e)), T0),
        Err(TxnError::ProducerFenced)
    );
    // An unknown id takes any expected producer (it expired meanwhile).
    assert_eq!(producer(h.init("other", Some((77, 3)), T0)).1, 0);
}

#[test]
fn a_used_up_epoch_rotates_the_producer_id() {
    let mut h = H::new();
    let (pid, _) = producer(h.init("tx", None, T0));
    let mut last = (pid, 0);
    while last.1 < strata_txn::EPOCH_EXHAUSTED {
        last = producer(h.init("tx", None, T0));
    }
    assert_eq!(last, (pid, i16::MAX - 1));
    let (pid2, e2) = producer(h.init("tx", Some(last), T0));
    assert_ne!(pid2, pid);
    assert_eq!(e2, 0);
    assert_eq!(h.p.metadata("tx").unwrap().last_producer_id, pid);
    // The record of a rotation carries the previous producer id (value version 1).
    let (_, Some(v)) = h.log.last().unwrap() else {
        panic!()
    };
    assert_eq!(
        strata_txn::TxnLogValue::decode(v)
            .unwrap()
            .previous_producer_id,
        pid
    );
    // The rotation's retry (old id, used-up epoch) gets the same new producer.
    assert_eq!(producer(h.init("tx", Some(last), T0)), (pid2, 0));
}

#[test]
fn verify_only_says_whether_partitions_are_in_the_open_transaction() {
    let mut h = H::new();
    let (pid, e) = producer(h.init("tx", None, T0));
    let tp = |p| TopicPartition::new("t", p);
    assert_eq!(
        h.p.verify_partitions("tx", pid, e, &[tp(0)]).unwrap(),
        vec![(tp(0), false)]
    );
    h.add("tx", pid, e, &[("t", 0)], T0).unwrap();
    assert_eq!(
        h.p.verify_partitions("tx", pid, e, &[tp(0), tp(1)])
            .unwrap(),
        vec![(tp(0), true), (tp(1), false)]
    );
    assert_eq!(
        h.p.verify_partitions("tx", pid, e + 1, &[tp(0)]),
        Err(TxnError::ProducerFenced)
    );
    assert_eq!(
        h.p.verify_partitions("zz", pid, e, &[tp(0)]),
        Err(TxnError::InvalidProducerIdMapping)
    );
}

#[test]
fn a_timed_out_transaction_is_aborted_with_an_epoch_bump() {
    let mut h = H::new();
    let (pid, e) = producer(h.init("tx", None, T0));
    h.add("tx", pid, e, &[("t", 0)], T0 + 10).unwrap();
    // Timed out once start + timeout is passed.
    assert_eq!(h.p.next_deadline(), Some(T0 + 10 + 60_000 + 1));
    assert!(h.p.tick(T0 + 10 + 60_000).is_empty());
    let fx = h.p.tick(T0 + 10 + 60_001);
    let out = h.settle(fx, T0 + 60_011);
    assert!(out.iter().all(|e| !matches!(e, Effect::Respond { .. })));
    assert_eq!(
        markers(&out),
        vec![(
            pid,
            e + 1,
            TxnResult::Abort,
            5,
            vec![TopicPartition::new("t", 0)]
        )]
    );
    assert_eq!(
        h.end("tx", pid, e, TxnResult::Commit, T0 + 60_012).0,
        Err(TxnError::ProducerFenced)
    );
    // While markers are out nothing is due.
    assert_eq!(h.p.next_deadline(), None);
}

#[test]
fn idle_ids_expire_with_a_tombstone() {
    let cfg = TxnConfig {
        id_expiration_ms: 1000,
        ..TxnConfig::default()
    };
    let mut h = H::new();
    h.p = TxnPartition::new(0, 5, cfg);
    producer(h.init("tx", None, T0));
    assert_eq!(h.p.next_deadline(), Some(T0 + 1000));
    let fx = h.p.tick(T0 + 1000);
    let [Effect::Persist {
        value: None, write, ..
    }] = &fx[..]
    else {
        panic!("{fx:?}")
    };
    // Failing: retried after the backoff, not at once.
    assert!(h
        .p
        .persisted(
            "tx",
            *write,
            Err(TxnError::CoordinatorNotAvailable),
            T0 + 1000
        )
        .is_empty());
    assert_eq!(h.p.next_deadline(), Some(T0 + 1000 + cfg.retry_backoff_ms));
    let fx = h.p.tick(T0 + 2000);
    h.settle(fx, T0 + 2000);
    assert!(h.p.metadata("tx").is_none());
    assert_eq!(h.p.describe("tx"), Err(TxnError::TransactionalIdNotFound));
}

#[test]
fn a_failed_completion_write_is_retried_after_the_backoff() {
    let mut h = H::new();
    let (pid, e) = producer(h.init("tx", None, T0));
    h.add("tx", pid, e, &[("t", 0)], T0).unwrap();
    assert_eq!(h.end("tx", pid, e, TxnResult::Abort, T0).0, Ok(Reply::Done));
    let fx =
        h.p.markers_written("tx", pid, e, &[TopicPartition::new("t", 0)], T0 + 1);
    let [Effect::Persist { write, .. }] = &fx[..] else {
        panic!()
    };
    h.p.persisted("tx", *write, Err(TxnError::CoordinatorNotAvailable), T0 + 1);
    assert_eq!(h.p.pending_state("tx"), Some(TxnState::CompleteAbort));
    assert_eq!(h.p.next_deadline(), Some(T0 + 1001));
    let fx = h.p.tick(T0 + 1001);
    h.settle(fx, T0 + 1001);
    assert_eq!(h.p.metadata("tx").unwrap().state, TxnState::CompleteAbort);
}

#[test]
fn reload_replays_the_log_and_resends_markers_of_prepared_transactions() {
    let mut h = H::new();
    let (pid, e) = producer(h.init("a", None, T0));
    h.add("a", pid, e, &[("t", 0)], T0).unwrap();
    assert_eq!(h.end("a", pid, e, TxnResult::Commit, T0).0, Ok(Reply::Done));
    let (pb, eb) = producer(h.init("b", None, T0));
    h.add("b", pb, eb, &[("t", 1)], T0).unwrap();
    producer(h.init("c", None, T0));
    h.log.push((strata_txn::encode_key("c"), None));
    h.log.push((bytes::Bytes::from_static(&[0, 9, 0, 0]), None));
    h.log.push((
        bytes::Bytes::from_static(&[0, 0, 0, 1, b'z']),
        Some(bytes::Bytes::from_static(&[1, 2])),
    ));
    let (p, fx, stats) = TxnPartition::load(0, 6, TxnConfig::default(), h.log.clone(), T0 + 5);
    assert_eq!(stats.transactional_ids, 2);
    assert_eq!(stats.skipped, 2);
    assert_eq!(p.coordinator_epoch(), 6);
    assert_eq!(p.metadata("b").unwrap().state, TxnState::Ongoing);
    assert!(p.metadata("c").is_none());
    assert_eq!(
        markers(&fx),
        vec![(
            pid,
            e,
            TxnResult::Commit,
            6,
            vec![TopicPartition::new("t", 0)]
        )]
    );
    assert_eq!(p.pending_state("a"), Some(TxnState::CompleteCommit));
}

#[test]
fn describe_and_list() {
    let mut h = H::new();
    let (pid, e) = producer(h.init("a", None, T0));
    h.add("a", pid, e, &[("t", 0)], T0).unwrap();
    let (pb, _) = producer(h.init("b", None, T0));
    let d = h.p.describe("a").unwrap();
    assert_eq!(
        (d.state, d.producer_id, d.start_ms, d.timeout_ms),
        (TxnState::Ongoing, pid, T0, 60_000)
    );
    let ids = |f: &ListFilter, now| -> Vec<String> {
        h.p.list(f, now)
            .into_iter()
            .map(|l| l.transactional_id)
            .collect()
    };
    assert_eq!(
        ids(
            &ListFilter {
                min_duration_ms: -1,
                ..Default::default()
            },
            T0
        ),
        ["a", "b"]
    );
    let f = ListFilter {
        states: vec!["Ongoing".into()],
        min_duration_ms: -1,
        ..Default::default()
    };
    assert_eq!(ids(&f, T0), ["a"]);
    let f = ListFilter {
        states: vec!["Bogus".into()],
        min_duration_ms: -1,
        ..Default::default()
    };
    assert!(ids(&f, T0).is_empty());
    let f = ListFilter {
        producer_ids: vec![pb],
        min_duration_ms: -1,
        ..Default::default()
    };
    assert_eq!(ids(&f, T0), ["b"]);
    let f = ListFilter {
        states: vec!["Ongoing".into()],
        min_duration_ms: 100,
        ..Default::default()
    };
    assert!(ids(&f, T0 + 100).is_empty());
    assert_eq!(ids(&f, T0 + 101), ["a"]);
}
