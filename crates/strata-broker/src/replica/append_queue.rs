//! A partition's append queue and fsync queue: appends queue up and one blocking task
//! drains them under one lock acquisition; fsync waiters queue up and one syncer covers
//! them all (group commit). Split from `partition.rs`.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use strata_log::{AppendInfo, LogError};

use super::Partition;

/// An append waiting for the drainer.
pub(super) struct PendingAppend {
    records: Bytes,
    now_ms: i64,
    trusted: bool,
    // A transaction marker: trusted, but appended on its own (a refusal such as a
    // fenced epoch must reach only its own caller, not a coalesced run's).
    marker: bool,
    done: tokio::sync::oneshot::Sender<Result<AppendInfo, LogError>>,
    // Set when the caller also wants to hear once the append is fsynced: the drainer
    // then fsyncs right after the append, on the same thread, saving the hand-offs a
    // separate `wait_durable` costs.
    synced: Option<tokio::sync::oneshot::Sender<Result<(), LogError>>>,
}

/// An append that has its place in a partition's append queue.
pub struct QueuedAppend(tokio::sync::oneshot::Receiver<Result<AppendInfo, LogError>>);

impl QueuedAppend {
    /// Waits until the append is in the log (not necessarily fsynced).
    pub async fn appended(self) -> Result<AppendInfo, LogError> {
        self.0
            .await
            .map_err(|_| LogError::Io(io::Error::other("append task ended")))?
    }

    /// Waits for each of `queued` in turn; results in their order. `queued` holds one
    /// entry per partition of a request already in memory.
    pub async fn all_appended(queued: Vec<QueuedAppend>) -> Vec<Result<AppendInfo, LogError>> {
        let mut results = Vec::with_capacity(queued.len());
        for append in queued {
            results.push(append.appended().await);
        }
        results
    }
}

/// Completes once an append made with [`Partition::enqueue_trusted_synced`] is fsynced.
pub struct SyncWait(tokio::sync::oneshot::Receiver<Result<(), LogError>>);

impl SyncWait {
    /// Waits for the fsync that covers the append.
    pub async fn wait(self) -> Result<(), LogError> {
        self.0
            .await
            .map_err(|_| LogError::Io(io::Error::other("append task ended")))?
    }
}

/// Appends waiting for an fsync, and whether a syncer task is running. Kept apart
/// from the append queue so appends go on while an fsync runs.
#[derive(Default)]
pub(super) struct SyncQueue {
    waiters: Vec<tokio::sync::oneshot::Sender<Result<(), LogError>>>,
    upto: i64,
    syncing: bool,
    last_sync: Option<std::time::Instant>,
    last_round: usize,
}

/// Group commit for synced appends: a round waits for as many appends as the last
/// round covered, but at most this long after the last fsync started. Why: an fsync
/// costs far more CPU than an append (on this kind of virtual disk each one writes the
/// inode and flushes the device), so under a steady stream of commits fewer, larger
/// rounds leave the CPU to the commits themselves (measured in bench/RESULTS.md:
/// 2 ms → 33k commits/s, 20 ms → 51k/s). A lone committer never waits (its last round
/// was one append), and a few synchronous committers wait only for each other.
const SYNC_GAP: std::time::Duration = std::time::Duration::from_millis(20);

/// Rounds smaller than this never make the next one wait: two or three serial
/// committers that once shared a round (transactional ids sharing a
/// `__transaction_state` partition, each waiting for its own write before the next)
/// would otherwise wait out `SYNC_GAP` for a companion that is not coming.
const SYNC_WAIT_MIN_ROUND: usize = 4;

/// Appends not yet written, and whether a drainer task is running.
#[derive(Default)]
pub(super) struct AppendQueue {
    pending: Vec<PendingAppend>,
    draining: bool,
}

impl Partition {
    /// Appends one produce payload (one or more batches).
    ///
    /// Appends queue up and one blocking task drains the queue under a single lock
    /// acquisition, so many small concurrent appends (offset commits, tiny produce
    /// batches) cost one blocking-pool hop instead of one each. Queue order is arrival
    /// order; callers that need an order between their own appends (one connection)
    /// wait for each append before the next.
    pub async fn append(
        self: &Arc<Self>,
        records: Bytes,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        let mut results = Partition::append_many(&[(Arc::clone(self), records)], now_ms).await;
        results
            .pop()
            .unwrap_or_else(|| Err(LogError::Io(io::Error::other("no append result"))))
    }

    /// Appends batches the broker built itself (group metadata, offset commits): the
    /// topic-settings rewrite (recompression, key checks) is skipped because the
    /// writer already guarantees what it would check.
    pub async fn append_trusted(
        self: &Arc<Self>,
        records: Bytes,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.enqueue(records, now_ms, true, None).appended().await
    }

    /// Queues a trusted append (see [`Partition::append_trusted`]) that is also
    /// fsynced right after it is written: the [`SyncWait`] completes once it is
    /// durable. Returns as soon as the append has its place in the queue, which is its
    /// place in the log, so one connection's commits keep their order without waiting
    /// for each other's writes. The drainer and the syncer run back to back under load,
    /// so a commit costs no blocking-pool hand-off of its own.
    pub fn enqueue_trusted_synced(
        self: &Arc<Self>,
        records: Bytes,
        now_ms: i64,
    ) -> (QueuedAppend, SyncWait) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        (self.enqueue(records, now_ms, true, Some(tx)), SyncWait(rx))
    }

    /// Like [`Partition::append_trusted`], but returns as soon as the append has its
    /// place in the queue (see [`Partition::enqueue_trusted_synced`]).
    pub fn enqueue_trusted(self: &Arc<Self>, records: Bytes, now_ms: i64) -> QueuedAppend {
        self.enqueue(records, now_ms, true, None)
    }

    /// Appends client records to several partitions (one Produce request), each as
    /// [`Partition::append`] would, with one blocking-pool hop per group of partitions
    /// instead of one per partition: a request spread over thousands of partitions
    /// carries a few records for each, and a thread hand-off per partition cost more
    /// than the appends. Groups hold up to `APPENDS_PER_HOP_BYTES` of records (see
    /// `append_hops.rs`), so large appends still run on several threads. A partition
    /// whose drainer is already running is served by it. Results come back in the
    /// order of `items`.
    pub async fn append_many(
        items: &[(Arc<Partition>, Bytes)],
        now_ms: i64,
    ) -> Vec<Result<AppendInfo, LogError>> {
        QueuedAppend::all_appended(Partition::enqueue_many(items, now_ms)).await
    }

    /// The queueing half of [`Partition::append_many`]: each append has its place in
    /// its partition's queue (its place in the log) when this returns; the drainers
    /// run in the broker's shared hops (see `append_hops.rs`).
    pub fn enqueue_many(items: &[(Arc<Partition>, Bytes)], now_ms: i64) -> Vec<QueuedAppend> {
        let mut queued = Vec::with_capacity(items.len());
        for (p, records) in items {
            let len = records.len();
            let (append, must_drain) =
                p.enqueue_without_drainer(records.clone(), now_ms, false, false, None);
            queued.push(append);
            if must_drain {
                p.hops.drain(vec![Arc::clone(p)], len);
            }
        }
        queued
    }

    /// Puts an append in the queue. Its place in the queue is its place in the log, so
    /// a caller that must order its appends may move on as soon as this returns.
    fn enqueue(
        self: &Arc<Self>,
        records: Bytes,
        now_ms: i64,
        trusted: bool,
        synced: Option<tokio::sync::oneshot::Sender<Result<(), LogError>>>,
    ) -> QueuedAppend {
        let len = records.len();
        let (append, must_drain) =
            self.enqueue_without_drainer(records, now_ms, trusted, false, synced);
        if must_drain {
            self.hops.drain(vec![Arc::clone(self)], len);
        }
        append
    }

    /// Queues a transaction marker (a control batch the broker built, see
    /// `stable.rs`): appended alone, with the leader epoch, without the topic-settings
    /// rewrite. Its place in the queue is its place in the log.
    pub(super) fn enqueue_marker(self: &Arc<Self>, records: Bytes, now_ms: i64) -> QueuedAppend {
        let len = records.len();
        let (append, must_drain) = self.enqueue_without_drainer(records, now_ms, true, true, None);
        if must_drain {
            self.hops.drain(vec![Arc::clone(self)], len);
        }
        append
    }

    /// [`Partition::enqueue`] leaving the drainer to the caller: true when none is
    /// running, and the caller must run [`Partition::drain_appends`] (on a blocking
    /// thread).
    pub(super) fn enqueue_without_drainer(
        self: &Arc<Self>,
        records: Bytes,
        now_ms: i64,
        trusted: bool,
        marker: bool,
        synced: Option<tokio::sync::oneshot::Sender<Result<(), LogError>>>,
    ) -> (QueuedAppend, bool) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let start_drainer = {
            let mut q = self.append_queue.lock();
            q.pending.push(PendingAppend {
                records,
                now_ms,
                trusted,
                marker,
                done: tx,
                synced,
            });
            !std::mem::replace(&mut q.draining, true)
        };
        (QueuedAppend(rx), start_drainer)
    }

    /// Runs on a blocking thread until the append queue is empty.
    pub(super) fn drain_appends(self: &Arc<Self>) {
        loop {
            let batch = {
                let mut q = self.append_queue.lock();
                if q.pending.is_empty() {
                    q.draining = false;
                    return;
                }
                std::mem::take(&mut q.pending)
            };
            let settings = self.settings();
            let mut done = Vec::with_capacity(batch.len());
            let mut sync_waiters = Vec::new();
            let mut sync_upto = -1;

            {
                let mut guard = self.log.lock();
                let mut results = Vec::with_capacity(batch.len());
                let epoch = self.leader_epoch.load(Ordering::Acquire);
                let mut i = 0;
                while i < batch.len() {
                    // Runs of trusted appends go to the log as one write.
                    let run = batch[i..]
                        .iter()
                        .take_while(|p| p.trusted && !p.marker)
                        .count();
                    match guard.as_mut() {
                        None => {
                            let n = run.max(1);
                            results.extend((0..n).map(|_| {
                                Err(LogError::Io(io::Error::other("partition is closed")))
                            }));
                            i += n;
                        }
                        // Leadership moved after the request was admitted: without an
                        // epoch the records could not be told apart from the next
                        // leader's at the same offsets.
                        Some(_) if epoch < 0 => {
                            let n = run.max(1);
                            results.extend((0..n).map(|_| Err(LogError::NotLeader)));
                            i += n;
                        }
                        Some(log) if run > 0 => {
                            let items: Vec<&Bytes> =
                                batch[i..i + run].iter().map(|p| &p.records).collect();
                            let now = batch[i + run - 1].now_ms;
                            results.extend(super::coalesce::append_run(log, &items, now, epoch));
                            i += run;
                        }
                        Some(log) if batch[i].marker => {
                            let p = &batch[i];
                            results.push(super::coalesce::append_one(
                                log, &p.records, p.now_ms, epoch,
                            ));
                            i += 1;
                        }
                        Some(log) => {
                            let p = &batch[i];
                            let max = log.config().max_message_bytes as usize;
                            results.push(
                                super::prepare::prepare(p.records.clone(), &settings, max)
                                    .and_then(|records| {
                                        super::coalesce::append_one(log, &records, p.now_ms, epoch)
                                    }),
                            );
                            i += 1;
                        }
                    }
                }
                for (p, result) in batch.into_iter().zip(results) {
                    if let (Some(synced), Ok(info)) = (p.synced, &result) {
                        sync_upto = sync_upto.max(info.last_offset);
                        sync_waiters.push(synced);
                    }
                    done.push((p.done, result));
                }
                if let Some(log) = guard.as_ref() {
                    self.refresh_offsets(log);
                }
            }
            self.on_leader_appended(self.log_end_offset());
            // Answer after the offsets are published, so a woken fetch sees the data.
            self.appended.notify_waiters();
            for (tx, result) in done {
                let _ = tx.send(result);
            }
            if !sync_waiters.is_empty() {
                self.enqueue_sync(sync_waiters, sync_upto);
            }
        }
    }

    /// Hands fsync waiters to the syncer, starting it if it is not running. Called
    /// from the drainer (a blocking thread), so a running syncer costs no hand-off.
    fn enqueue_sync(
        self: &Arc<Self>,
        waiters: Vec<tokio::sync::oneshot::Sender<Result<(), LogError>>>,
        upto: i64,
    ) {
        let start = {
            let mut q = self.sync_queue.lock();
            q.waiters.extend(waiters);
            q.upto = q.upto.max(upto);
            if q.syncing && (q.waiters.len() >= q.last_round || q.last_round < SYNC_WAIT_MIN_ROUND)
            {
                self.sync_ready.notify_one();
            }
            !std::mem::replace(&mut q.syncing, true)
        };
        if start {
            let this = Arc::clone(self);
            tokio::task::spawn_blocking(move || this.drain_syncs());
        }
    }

    /// Runs on a blocking thread until no fsync waiter is left: each round's fsync
    /// covers every append that queued while the previous one ran (group commit).
    fn drain_syncs(&self) {
        loop {
            let (waiters, upto) = {
                let mut q = self.sync_queue.lock();
                // Group commit: wait until as many appends wait as the last fsync
                // covered, or until `SYNC_GAP` after it started, whichever comes first.
                // A lone committer, or a few (rounds under `SYNC_WAIT_MIN_ROUND`),
                // never wait; a steady stream of many gets rounds as large as
                // `SYNC_GAP` allows.
                if let Some(last) = q.last_sync.filter(|_| q.last_round >= SYNC_WAIT_MIN_ROUND) {
                    let deadline = last + SYNC_GAP;
                    while q.waiters.len() < q.last_round
                        && !self.sync_ready.wait_until(&mut q, deadline).timed_out()
                    {
                    }
                }
                if q.waiters.is_empty() {
                    q.syncing = false;
                    return;
                }
                q.last_sync = Some(std::time::Instant::now());
                q.last_round = q.waiters.len();
                (std::mem::take(&mut q.waiters), q.upto)
            };
            let synced = self.sync_blocking(upto);
            for tx in waiters {
                let _ = tx.send(match &synced {
                    Ok(()) => Ok(()),
                    Err(e) => Err(LogError::Io(io::Error::other(e.to_string()))),
                });
            }
        }
    }

    /// Fsyncs up to at least `offset` unless that is durable already. Blocking: takes
    /// the flush turn and the log lock (in that order, as every flusher does).
    pub(super) fn sync_blocking(&self, offset: i64) -> Result<(), LogError> {
        let _turn = self.flush_lock.blocking_lock();
        if self.durable_end.load(Ordering::Acquire) > offset {
            return Ok(());
        }
        self.flush_locked()
    }

    /// Fsyncs everything appended so far; the caller holds the flush turn. The fsync
    /// itself runs without the log lock so appends continue meanwhile.
    fn flush_locked(&self) -> Result<(), LogError> {
        let task = {
            let mut guard = self.log.lock();
            let log = guard
                .as_mut()
                .ok_or_else(|| LogError::Io(io::Error::other("partition is closed")))?;
            log.prepare_flush()
        };
        let started = std::time::Instant::now();
        let upto = task.sync().map_err(LogError::Io)?;
        super::flush_many::count_partition_sync(started.elapsed());
        if let Some(log) = self.log.lock().as_mut() {
            log.complete_flush(upto)?;
        }
        self.durable_end.fetch_max(upto, Ordering::AcqRel);
        self.last_flush_ms
            .store(crate::broker::now_ms(), Ordering::Relaxed);
        Ok(())
    }

    /// Waits until every offset up to and including `offset` is fsynced, running the
    /// fsync itself if no one else is (group commit).
    pub async fn wait_durable(self: &Arc<Self>, offset: i64) -> Result<(), LogError> {
        if self.durable_end.load(Ordering::Acquire) > offset {
            return Ok(());
        }
        let turn = Arc::clone(&self.flush_lock).lock_owned().await;
        if self.durable_end.load(Ordering::Acquire) > offset {
            return Ok(());
        }
        self.flush_with_turn(turn).await
    }

    /// Fsyncs everything appended so far and advances the recovery checkpoint.
    pub async fn flush(self: &Arc<Self>) -> Result<(), LogError> {
        let turn = Arc::clone(&self.flush_lock).lock_owned().await;
        self.flush_with_turn(turn).await
    }

    /// One blocking-pool hand-off for the whole flush (prepare, fsync, complete).
    async fn flush_with_turn(
        self: &Arc<Self>,
        turn: tokio::sync::OwnedMutexGuard<()>,
    ) -> Result<(), LogError> {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            this.flush_locked()
        })
        .await
        .map_err(|e| LogError::Io(io::Error::other(e)))?
    }
}
