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
use strata_log::{FileSlice, Log, LogConfig, LogError};

use super::append_queue::{AppendQueue, SyncQueue};
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
    pub(super) log_end: AtomicI64,
    /// Consumer-visible end (see `role.rs`).
    pub(super) hw: AtomicI64,
    /// The log's first unstable offset (`i64::MAX` when none), published under the
    /// log lock after every change (see `stable.rs`).
    pub(super) first_unstable: AtomicI64,
    pub(super) hw_changed: Notify,
    /// The leader epoch appends are stamped with; -1 when not leading.
    pub(super) leader_epoch: AtomicI32,
    /// The newest leader epoch in the log's epoch cache (-1 for none), published with
    /// the offsets: what a follower's Fetch names as its last fetched epoch.
    pub(super) latest_epoch: AtomicI32,
    pub(super) role: Mutex<super::role::Role>,
    /// Bumped (under the role lock) whenever the role changes: a follower's fetch
    /// response is appended only if it is still the one it was asked under.
    pub(super) role_generation: AtomicU64,
    pub(super) log_start: AtomicI64,
    pub(super) size_bytes: AtomicU64,
    pub(super) durable_end: AtomicI64,
    // Serialises fsyncs so that one covers every append that came before it (group commit).
    pub(super) flush_lock: Arc<tokio::sync::Mutex<()>>,
    pub(super) appended: Notify,
    /// Set when the partition is deleted: waiters answer UNKNOWN_TOPIC_OR_PARTITION.
    pub(super) removed: std::sync::atomic::AtomicBool,
    pub(super) settings: parking_lot::RwLock<Arc<super::TopicSettings>>,
    pub(super) append_queue: Mutex<AppendQueue>,
    /// The blocking-thread hops its drainer runs in, shared with the broker's other
    /// partitions (see `append_hops.rs`).
    pub(super) hops: Arc<super::AppendHops>,
    pub(super) sync_queue: Mutex<SyncQueue>,
    // Wakes a syncer waiting for its round to fill up.
    pub(super) sync_ready: parking_lot::Condvar,
    pub(super) last_flush_ms: AtomicI64,
    /// A leader epoch this replica lost log to damage in, -1 if none (see `damage.rs`).
    pub(super) resign_from: AtomicI32,
    /// Idempotent producers refused here lately (see `refusals.rs`).
    pub(super) refusals: Mutex<super::refusals::Refusals>,
    /// Set once any refusal was remembered, so a write need not look at `refusals`.
    pub(super) refused_any: std::sync::atomic::AtomicBool,
    /// Traffic counters for `/metrics` (summed per topic at scrape time).
    pub stats: crate::metrics::PartitionStats,
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
        let end = log.log_end_offset();
        Self {
            topic,
            topic_id,
            index,
            log_end: AtomicI64::new(end),
            hw: AtomicI64::new(log.high_watermark()),
            first_unstable: AtomicI64::new(log.first_unstable_offset().unwrap_or(i64::MAX)),
            hw_changed: Notify::new(),
            leader_epoch: AtomicI32::new(-1),
            latest_epoch: AtomicI32::new(log.latest_epoch().unwrap_or(-1)),
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
            hops: Arc::default(),
            sync_queue: Mutex::new(SyncQueue::default()),
            sync_ready: parking_lot::Condvar::new(),
            last_flush_ms: AtomicI64::new(crate::broker::now_ms()),
            resign_from: AtomicI32::new(-1),
            refusals: Mutex::new(Default::default()),
            refused_any: std::sync::atomic::AtomicBool::new(false),
            stats: crate::metrics::PartitionStats::default(),
        }
    }

    /// The partition's drainer shares the blocking-thread hops of `hops` (the broker's)
    /// instead of hops of its own.
    pub fn sharing_hops(mut self, hops: &Arc<super::AppendHops>) -> Self {
        self.hops = Arc::clone(hops);
        self
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
        self.latest_epoch
            .store(log.latest_epoch().unwrap_or(-1), Ordering::Release);
        self.publish_first_unstable(log);
    }

    /// The newest leader epoch of the log (-1 for none), without the log lock.
    pub fn latest_epoch(&self) -> i32 {
        self.latest_epoch.load(Ordering::Acquire)
    }

    /// When the last fsync finished (ms since the epoch).
    pub fn last_flush_ms(&self) -> i64 {
        self.last_flush_ms.load(Ordering::Relaxed)
    }

    /// The topic's `flush.ms` (without copying the settings).
    pub fn flush_ms(&self) -> i64 {
        self.settings.read().flush_ms
    }

    /// Records appended but not yet fsynced.
    pub fn unflushed_records(&self) -> i64 {
        self.log_end_offset() - self.durable_end.load(Ordering::Acquire)
    }

    /// Whether a produce with `acks` that appended here waits for an fsync before it
    /// is answered: `acks=all` under the `batch` flush policy, and any produce once
    /// `flush.messages` records are unflushed.
    pub fn produce_waits_for_fsync(&self, acks: i16, policy: crate::config::FlushPolicy) -> bool {
        (acks == -1 && policy == crate::config::FlushPolicy::Batch)
            || self.unflushed_records() >= self.settings.read().flush_messages
    }

    /// Bytes on disk in this partition's segments.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes.load(Ordering::Relaxed)
    }

    /// A future that completes at the next append (what a follower copies); register it
    /// before checking for data.
    pub fn appended(&self) -> tokio::sync::futures::Notified<'_> {
        self.appended.notified()
    }

    /// A future that completes when what consumers may read can have changed: the high
    /// watermark (and with it the last stable offset) moved, the role changed or the
    /// partition went away. Register it before checking for data.
    pub fn visible_changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.hw_changed.notified()
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
            let guard = self.lock_log_for_read()?;
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

    /// The log lock for a read; in no-wait mode (`strata_log::no_wait`) only if it is
    /// free, `WouldBlock` otherwise (an append or a roll holds it).
    pub(super) fn lock_log_for_read(
        &self,
    ) -> Result<parking_lot::MutexGuard<'_, Option<Log>>, LogError> {
        if strata_log::no_wait::active() {
            self.log
                .try_lock()
                .ok_or_else(|| LogError::Io(strata_log::no_wait::would_block()))
        } else {
            Ok(self.log.lock())
        }
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
        self.latest_epoch
            .store(log.latest_epoch().unwrap_or(-1), Ordering::Release);
        self.publish_first_unstable(log);
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

    /// Closes the log cleanly (indexes, checkpoint, producer snapshot) without fsyncs:
    /// the caller syncs the filesystem before it counts the stop as clean. Later calls
    /// see a closed partition.
    pub fn close_unsynced_blocking(&self) -> Result<(), LogError> {
        match self.log.lock().take() {
            Some(log) => log.close_unsynced(),
            None => Ok(()),
        }
    }

    /// Closes and removes the log's directory. Requests waiting on the partition
    /// (`acks=all`, long-poll fetches) are woken to answer at once.
    /// The log dir this replica's log is in (the parent of its directory); `None` once
    /// deleted. Takes the log lock: blocking threads only.
    pub fn log_root_blocking(&self) -> Option<std::path::PathBuf> {
        let log = self.log.lock();
        log.as_ref()?
            .dir()
            .parent()
            .map(std::path::Path::to_path_buf)
    }

    /// This replica's directory; `None` once deleted. Blocking threads only.
    pub fn log_dir_blocking(&self) -> Option<std::path::PathBuf> {
        Some(self.log.lock().as_ref()?.dir().to_path_buf())
    }

    /// Runs `f` on the log taken out of the partition, under the log's lock (appends,
    /// reads and flushes wait), and puts back the log it returns (a log moved to
    /// another dir). Blocking.
    pub(super) fn replace_log_blocking(
        &self,
        f: impl FnOnce(Log) -> (Option<Log>, Result<(), LogError>),
    ) -> Result<(), LogError> {
        let mut guard = self.log.lock();
        let old = guard
            .take()
            .ok_or_else(|| LogError::Io(io::Error::other("partition is closed")))?;
        let (log, result) = f(old);
        if let Some(log) = &log {
            self.size_bytes.store(log.size_bytes(), Ordering::Relaxed);
        } else {
            tracing::error!(topic = %self.topic, partition = self.index, "the log could not be reopened after a move: the replica is closed");
        }
        *guard = log;
        result
    }

    /// Stops serving: its log dir failed. Waiters answer at once; the log is dropped
    /// without another write (its files stay for the next start).
    pub fn take_offline(&self) {
        self.removed.store(true, Ordering::Release);
        self.clear_role();
        self.leader_epoch.store(-1, Ordering::Release);
        self.hw_changed.notify_waiters();
        self.appended.notify_waiters();
        drop(self.log.lock().take());
    }

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
