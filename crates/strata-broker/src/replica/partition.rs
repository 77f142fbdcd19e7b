//! One partition replica hosted by this broker: its log plus the bookkeeping the
//! request handlers need without taking the log's lock.
//!
//! Invariants:
//! - The log's mutex is only ever taken on blocking-pool threads (appends write to disk,
//!   reads may pread index files), never on the async runtime.
//! - `log_end` and `durable_end` only grow, except through truncation (not yet used).
//! - `durable_end` is exclusive: every offset below it has been fsynced.

use std::io;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use strata_log::{AppendInfo, FileSlice, Log, LogConfig, LogError};
use tokio::sync::Notify;
use uuid::Uuid;

/// A partition replica and its log.
pub struct Partition {
    /// Topic name.
    pub topic: Arc<str>,
    /// Topic id.
    pub topic_id: Uuid,
    /// Partition index.
    pub index: i32,
    pub(super) log: Mutex<Option<Log>>,
    log_end: AtomicI64,
    /// Consumer-visible end (see `role.rs`).
    pub(super) hw: AtomicI64,
    pub(super) hw_changed: Notify,
    /// The leader epoch appends are stamped with; -1 when not leading.
    pub(super) leader_epoch: AtomicI32,
    pub(super) role: Mutex<super::role::Role>,
    /// Bumped (under the role lock) whenever the role changes: a follower's fetch
    /// response is appended only if it is still the one it was asked under.
    pub(super) role_generation: AtomicU64,
    log_start: AtomicI64,
    size_bytes: AtomicU64,
    pub(super) durable_end: AtomicI64,
    // Serialises fsyncs so that one covers every append that came before it (group commit).
    pub(super) flush_lock: Arc<tokio::sync::Mutex<()>>,
    pub(super) appended: Notify,
    /// Set when the partition is deleted: waiters answer UNKNOWN_TOPIC_OR_PARTITION.
    pub(super) removed: std::sync::atomic::AtomicBool,
    settings: parking_lot::RwLock<Arc<super::TopicSettings>>,
    append_queue: Mutex<AppendQueue>,
    sync_queue: Mutex<SyncQueue>,
    // Wakes a syncer waiting for its round to fill up.
    sync_ready: parking_lot::Condvar,
    pub(super) last_flush_ms: AtomicI64,
    /// The high watermark the recovery checkpoint file was last asked to hold, so the
    /// periodic checkpoint skips partitions whose value did not move (no lock, no
    /// blocking-thread hop for each of thousands of idle partitions).
    pub(crate) hw_checkpointed: AtomicI64,
    /// A leader epoch this replica lost log to damage in, -1 if none (see `damage.rs`).
    pub(super) resign_from: AtomicI32,
    /// Idempotent producers refused here lately (see `refusals.rs`).
    pub(super) refusals: Mutex<super::refusals::Refusals>,
    /// Set once any refusal was remembered, so a write need not look at `refusals`.
    pub(super) refused_any: std::sync::atomic::AtomicBool,
}

/// Most record bytes [`Partition::append_many`] appends on one blocking thread.
const APPENDS_PER_HOP_BYTES: usize = 4 << 20;

/// Runs the append drainers of `partitions` one after another on one blocking thread.
fn drain_on_blocking_thread(partitions: Vec<Arc<Partition>>) {
    tokio::task::spawn_blocking(move || {
        for p in partitions {
            p.drain_appends();
        }
    });
}

/// An append waiting for the drainer.
struct PendingAppend {
    records: Bytes,
    now_ms: i64,
    trusted: bool,
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
struct SyncQueue {
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

/// Appends not yet written, and whether a drainer task is running.
#[derive(Default)]
struct AppendQueue {
    pending: Vec<PendingAppend>,
    draining: bool,
}

/// Result of a read: the batches (whole, as stored: in memory, or as the file range a
/// Fetch response is written from) and the offsets a fetch reports.
#[derive(Debug, Default)]
pub struct ReadResult<R = Bytes> {
    /// Record batches, possibly empty.
    pub records: R,
    /// High-water mark at read time.
    pub high_watermark: i64,
    /// Log start offset at read time.
    pub log_start_offset: i64,
}

impl Partition {
    /// Wraps an opened log.
    pub fn new(topic: Arc<str>, topic_id: Uuid, index: i32, log: Log) -> Self {
        let stored_hw = log.high_watermark();
        let end = log.log_end_offset();
        Self {
            topic,
            topic_id,
            index,
            log_end: AtomicI64::new(end),
            hw: AtomicI64::new(log.high_watermark()),
            hw_changed: Notify::new(),
            leader_epoch: AtomicI32::new(-1),
            role_generation: AtomicU64::new(0),
            role: Mutex::new(super::role::Role::None),
            log_start: AtomicI64::new(log.log_start_offset()),
            size_bytes: AtomicU64::new(log.size_bytes()),
            // Whatever recovery accepted is on disk already.
            durable_end: AtomicI64::new(end),
            log: Mutex::new(Some(log)),
            flush_lock: Arc::new(tokio::sync::Mutex::new(())),
            appended: Notify::new(),
            removed: std::sync::atomic::AtomicBool::new(false),
            settings: parking_lot::RwLock::new(Arc::new(super::TopicSettings::default())),
            append_queue: Mutex::new(AppendQueue::default()),
            sync_queue: Mutex::new(SyncQueue::default()),
            sync_ready: parking_lot::Condvar::new(),
            last_flush_ms: AtomicI64::new(crate::broker::now_ms()),
            hw_checkpointed: AtomicI64::new(stored_hw),
            resign_from: AtomicI32::new(-1),
            refusals: Mutex::new(Default::default()),
            refused_any: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Next offset to be assigned.
    pub fn log_end_offset(&self) -> i64 {
        self.log_end.load(Ordering::Acquire)
    }

    /// First offset still in the log.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start.load(Ordering::Acquire)
    }

    /// The offset below which consumers may read: what every in-sync replica has.
    pub fn high_watermark(&self) -> i64 {
        self.hw.load(Ordering::Acquire)
    }

    /// Publishes the log's offsets to the lock-free copies; the caller holds the log.
    pub(super) fn refresh_offsets(&self, log: &Log) {
        self.size_bytes.store(log.size_bytes(), Ordering::Relaxed);
        self.log_start
            .store(log.log_start_offset(), Ordering::Release);
        self.log_end.store(log.log_end_offset(), Ordering::Release);
    }

    /// When the last fsync finished (ms since the epoch).
    pub fn last_flush_ms(&self) -> i64 {
        self.last_flush_ms.load(Ordering::Relaxed)
    }

    /// Records appended but not yet fsynced.
    pub fn unflushed_records(&self) -> i64 {
        self.log_end_offset() - self.durable_end.load(Ordering::Acquire)
    }

    /// Bytes on disk in this partition's segments.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes.load(Ordering::Relaxed)
    }

    /// A future that completes at the next append; register it before checking for data.
    pub fn appended(&self) -> tokio::sync::futures::Notified<'_> {
        self.appended.notified()
    }

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
        self.enqueue_append(records, now_ms, false).await
    }

    /// Appends batches the broker built itself (group metadata, offset commits): the
    /// topic-settings rewrite (recompression, key checks) is skipped because the
    /// writer already guarantees what it would check.
    pub async fn append_trusted(
        self: &Arc<Self>,
        records: Bytes,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.enqueue_append(records, now_ms, true).await
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

    async fn enqueue_append(
        self: &Arc<Self>,
        records: Bytes,
        now_ms: i64,
        trusted: bool,
    ) -> Result<AppendInfo, LogError> {
        self.enqueue(records, now_ms, trusted, None)
            .appended()
            .await
    }

    /// Appends client records to several partitions (one Produce request), each as
    /// [`Partition::append`] would, with one blocking-pool hop per group of partitions
    /// instead of one per partition: a request spread over thousands of partitions
    /// carries a few records for each, and a thread hand-off per partition cost more
    /// than the appends. Groups hold up to [`APPENDS_PER_HOP_BYTES`] of records, so
    /// large appends still run on several threads. A partition whose drainer is already
    /// running is served by it. Results come back in the order of `items`.
    pub async fn append_many(
        items: Vec<(Arc<Partition>, Bytes)>,
        now_ms: i64,
    ) -> Vec<Result<AppendInfo, LogError>> {
        let mut queued = Vec::with_capacity(items.len());
        let mut group: Vec<Arc<Partition>> = Vec::new();
        let mut group_bytes = 0;
        for (p, records) in items {
            let len = records.len();
            let (append, must_drain) = p.enqueue_without_drainer(records, now_ms, false, None);
            queued.push(append);
            if must_drain {
                group.push(p);
                group_bytes += len;
                if group_bytes >= APPENDS_PER_HOP_BYTES {
                    drain_on_blocking_thread(std::mem::take(&mut group));
                    group_bytes = 0;
                }
            }
        }
        if !group.is_empty() {
            drain_on_blocking_thread(group);
        }
        let mut results = Vec::with_capacity(queued.len());
        for append in queued {
            results.push(append.appended().await);
        }
        results
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
        let (append, must_drain) = self.enqueue_without_drainer(records, now_ms, trusted, synced);
        if must_drain {
            let this = Arc::clone(self);
            tokio::task::spawn_blocking(move || this.drain_appends());
        }
        append
    }

    /// [`Partition::enqueue`] leaving the drainer to the caller: true when none is
    /// running, and the caller must run [`Partition::drain_appends`] (on a blocking
    /// thread).
    fn enqueue_without_drainer(
        self: &Arc<Self>,
        records: Bytes,
        now_ms: i64,
        trusted: bool,
        synced: Option<tokio::sync::oneshot::Sender<Result<(), LogError>>>,
    ) -> (QueuedAppend, bool) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let start_drainer = {
            let mut q = self.append_queue.lock();
            q.pending.push(PendingAppend {
                records,
                now_ms,
                trusted,
                done: tx,
                synced,
            });
            !std::mem::replace(&mut q.draining, true)
        };
        (QueuedAppend(rx), start_drainer)
    }

    /// Runs on a blocking thread until the append queue is empty.
    fn drain_appends(self: &Arc<Self>) {
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
                    let run = batch[i..].iter().take_while(|p| p.trusted).count();
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
            if q.syncing && q.waiters.len() >= q.last_round {
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
                // A lone committer (last round of one) never waits; a steady stream
                // of many gets rounds as large as `SYNC_GAP` allows.
                if let Some(last) = q.last_sync {
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
    fn sync_blocking(&self, offset: i64) -> Result<(), LogError> {
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
        let upto = task.sync().map_err(LogError::Io)?;
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

    /// Reads whole batches from `offset`, at most `max_bytes` unless `min_one_batch`,
    /// below `upto` (a follower reads up to the log end), else below the high watermark.
    /// Blocking (index lookups and the pread): call it from a blocking thread.
    pub fn read_blocking_upto(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
        upto: Option<i64>,
    ) -> Result<ReadResult, LogError> {
        let read = self.slice_blocking_upto(offset, max_bytes, min_one_batch, upto)?;
        // The slice covers bytes written before the lock was released, so the pread
        // needs no lock.
        let records = match read.records {
            Some(s) => s.read().map_err(LogError::Io)?,
            None => Bytes::new(),
        };
        Ok(ReadResult {
            records,
            high_watermark: read.high_watermark,
            log_start_offset: read.log_start_offset,
        })
    }

    /// Like [`Partition::read_blocking_upto`], without reading: the file range holding
    /// the batches (`None` when there are none), readable without the lock.
    pub fn slice_blocking_upto(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
        upto: Option<i64>,
    ) -> Result<ReadResult<Option<FileSlice>>, LogError> {
        let high_watermark = self.high_watermark();
        let bound = upto.unwrap_or(high_watermark);
        let records = {
            let guard = self.log.lock();
            let log = guard
                .as_ref()
                .ok_or_else(|| LogError::Io(io::Error::other("partition is closed")))?;
            log.read(offset, max_bytes, bound, min_one_batch)?
        };
        Ok(ReadResult {
            records,
            high_watermark,
            log_start_offset: self.log_start_offset(),
        })
    }

    /// Runs a closure against the log on a blocking thread (retention, rolls, queries),
    /// then refreshes the cached offsets.
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, LogError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Log) -> Result<T, LogError> + Send + 'static,
    {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || this.run_blocking(f))
            .await
            .map_err(|e| LogError::Io(io::Error::other(e)))?
    }

    /// [`Partition::run`] on the calling thread (a blocking one: it takes the log lock
    /// and `f` may do disk I/O), for loops over many partitions in one hop.
    pub fn run_blocking<T, F>(&self, f: F) -> Result<T, LogError>
    where
        F: FnOnce(&mut Log) -> Result<T, LogError>,
    {
        let mut guard = self.log.lock();
        let log = guard
            .as_mut()
            .ok_or_else(|| LogError::Io(io::Error::other("partition is closed")))?;
        let out = f(log);
        self.log_start
            .store(log.log_start_offset(), Ordering::Release);
        self.size_bytes.store(log.size_bytes(), Ordering::Relaxed);
        out
    }

    /// The topic settings the broker acts on (cheap: clones an `Arc`).
    pub fn settings(&self) -> Arc<super::TopicSettings> {
        Arc::clone(&self.settings.read())
    }

    /// The log's current config. Blocking (takes the log lock).
    pub fn log_config_blocking(&self) -> LogConfig {
        self.log
            .lock()
            .as_ref()
            .map(|l| l.config().clone())
            .unwrap_or_default()
    }

    /// Applies changed topic configs to the log and the broker-side settings. Blocking.
    pub fn reconfigure_blocking(&self, config: LogConfig, settings: super::TopicSettings) {
        if let Some(log) = self.log.lock().as_mut() {
            if log.config() != &config {
                tracing::info!(topic = %self.topic, partition = self.index, "log config changed");
                log.set_config(config);
            }
        }
        if **self.settings.read() != settings {
            *self.settings.write() = Arc::new(settings);
        }
    }

    /// Closes the log cleanly (flush + indexes); later calls see a closed partition.
    pub fn close_blocking(&self) -> Result<(), LogError> {
        match self.log.lock().take() {
            Some(log) => log.close(),
            None => Ok(()),
        }
    }

    /// Closes and removes the log's directory. Requests waiting on the partition
    /// (`acks=all`, long-poll fetches) are woken to answer at once.
    pub fn delete_blocking(&self) -> Result<(), LogError> {
        self.removed.store(true, Ordering::Release);
        self.clear_role();
        self.leader_epoch.store(-1, Ordering::Release);
        self.hw_changed.notify_waiters();
        self.appended.notify_waiters();
        match self.log.lock().take() {
            Some(log) => log.delete(),
            None => Ok(()),
        }
    }
}
