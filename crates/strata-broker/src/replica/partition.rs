//! One partition replica hosted by this broker: its log plus the bookkeeping the
//! request handlers need without taking the log's lock.
//!
//! Invariants:
//! - The log's mutex is only ever taken on blocking-pool threads (appends write to disk,
//!   reads may pread index files), never on the async runtime.
//! - `log_end` and `durable_end` only grow, except through truncation (not yet used).
//! - `durable_end` is exclusive: every offset below it has been fsynced.

use std::io;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use strata_log::{AppendInfo, Log, LogConfig, LogError};
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
    log: Mutex<Option<Log>>,
    log_end: AtomicI64,
    log_start: AtomicI64,
    size_bytes: AtomicU64,
    durable_end: AtomicI64,
    // Serialises fsyncs so that one covers every append that came before it (group commit).
    flush_lock: tokio::sync::Mutex<()>,
    appended: Notify,
    settings: parking_lot::RwLock<Arc<super::TopicSettings>>,
    append_queue: Mutex<AppendQueue>,
    last_flush_ms: AtomicI64,
}

/// An append waiting for the drainer.
struct PendingAppend {
    records: Bytes,
    now_ms: i64,
    trusted: bool,
    done: tokio::sync::oneshot::Sender<Result<AppendInfo, LogError>>,
}

/// Appends not yet written, and whether a drainer task is running.
#[derive(Default)]
struct AppendQueue {
    pending: Vec<PendingAppend>,
    draining: bool,
}

/// Result of a read: the batches (whole, as stored) and the offsets a fetch reports.
#[derive(Debug, Default)]
pub struct ReadResult {
    /// Record batches, possibly empty.
    pub records: Bytes,
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
            log_start: AtomicI64::new(log.log_start_offset()),
            size_bytes: AtomicU64::new(log.size_bytes()),
            // Whatever recovery accepted is on disk already.
            durable_end: AtomicI64::new(end),
            log: Mutex::new(Some(log)),
            flush_lock: tokio::sync::Mutex::new(()),
            appended: Notify::new(),
            settings: parking_lot::RwLock::new(Arc::new(super::TopicSettings::default())),
            append_queue: Mutex::new(AppendQueue::default()),
            last_flush_ms: AtomicI64::new(crate::broker::now_ms()),
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

    /// The offset below which consumers may read. One replica: everything appended.
    pub fn high_watermark(&self) -> i64 {
        self.log_end_offset()
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

    /// Runs `f` on the log from a blocking-pool thread.
    async fn with_log<T, F>(self: &Arc<Self>, f: F) -> Result<T, LogError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Log) -> Result<T, LogError> + Send + 'static,
    {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut guard = this.log.lock();
            match guard.as_mut() {
                Some(log) => f(log),
                None => Err(LogError::Io(io::Error::other("partition is closed"))),
            }
        })
        .await
        .map_err(|e| LogError::Io(io::Error::other(e)))?
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

    async fn enqueue_append(
        self: &Arc<Self>,
        records: Bytes,
        now_ms: i64,
        trusted: bool,
    ) -> Result<AppendInfo, LogError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let start_drainer = {
            let mut q = self.append_queue.lock();
            q.pending.push(PendingAppend {
                records,
                now_ms,
                trusted,
                done: tx,
            });
            !std::mem::replace(&mut q.draining, true)
        };
        if start_drainer {
            let this = Arc::clone(self);
            tokio::task::spawn_blocking(move || this.drain_appends());
        }
        rx.await
            .map_err(|_| LogError::Io(io::Error::other("append task ended")))?
    }

    /// Runs on a blocking thread until the append queue is empty.
    fn drain_appends(&self) {
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
            {
                let mut guard = self.log.lock();
                for p in batch {
                    let result = match guard.as_mut() {
                        None => Err(LogError::Io(io::Error::other("partition is closed"))),
                        Some(log) if p.trusted => log.append(&p.records, p.now_ms),
                        Some(log) => super::prepare::prepare(p.records, &settings)
                            .and_then(|records| log.append(&records, p.now_ms)),
                    };
                    done.push((p.done, result));
                }
                if let Some(log) = guard.as_ref() {
                    self.size_bytes.store(log.size_bytes(), Ordering::Relaxed);
                    self.log_start
                        .store(log.log_start_offset(), Ordering::Release);
                    self.log_end.store(log.log_end_offset(), Ordering::Release);
                }
            }
            // Answer after the offsets are published, so a woken fetch sees the data.
            self.appended.notify_waiters();
            for (tx, result) in done {
                let _ = tx.send(result);
            }
        }
    }

    /// Waits until every offset up to and including `offset` is fsynced, running the
    /// fsync itself if no one else is (group commit).
    pub async fn wait_durable(self: &Arc<Self>, offset: i64) -> Result<(), LogError> {
        if self.durable_end.load(Ordering::Acquire) > offset {
            return Ok(());
        }
        let _turn = self.flush_lock.lock().await;
        if self.durable_end.load(Ordering::Acquire) > offset {
            return Ok(());
        }
        self.flush().await
    }

    /// Fsyncs everything appended so far and advances the recovery checkpoint.
    pub async fn flush(self: &Arc<Self>) -> Result<(), LogError> {
        let this = Arc::clone(self);
        let done = self
            .with_log(move |log| {
                let task = log.prepare_flush();
                Ok(task)
            })
            .await?;
        // The fsync runs without the log lock so appends continue meanwhile.
        let upto = tokio::task::spawn_blocking(move || done.sync())
            .await
            .map_err(|e| LogError::Io(io::Error::other(e)))?
            .map_err(LogError::Io)?;
        self.with_log(move |log| log.complete_flush(upto)).await?;
        this.durable_end.fetch_max(upto, Ordering::AcqRel);
        this.last_flush_ms
            .store(crate::broker::now_ms(), Ordering::Relaxed);
        Ok(())
    }

    /// Reads whole batches from `offset`, at most `max_bytes` unless `min_one_batch`.
    /// Blocking (index lookups and the pread): call it from a blocking thread.
    pub fn read_blocking(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<ReadResult, LogError> {
        let high_watermark = self.high_watermark();
        let slice = {
            let guard = self.log.lock();
            let log = guard
                .as_ref()
                .ok_or_else(|| LogError::Io(io::Error::other("partition is closed")))?;
            log.read(offset, max_bytes, high_watermark, min_one_batch)?
        };
        // The slice covers bytes written before the lock was released, so the pread
        // needs no lock.
        let records = match slice {
            Some(s) => s.read().map_err(LogError::Io)?,
            None => Bytes::new(),
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
        self.with_log(move |log| {
            let out = f(log);
            this.log_start
                .store(log.log_start_offset(), Ordering::Release);
            this.size_bytes.store(log.size_bytes(), Ordering::Relaxed);
            out
        })
        .await
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

    /// Closes and removes the log's directory.
    pub fn delete_blocking(&self) -> Result<(), LogError> {
        match self.log.lock().take() {
            Some(log) => log.delete(),
            None => Ok(()),
        }
    }
}
