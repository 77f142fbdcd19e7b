//! Flushing many partitions with one `syncfs(2)`.
//!
//! Why: the periodic flush (`log.flush.interval.ms`, which also advances recovery
//! checkpoints) is due for every partition that took writes. With thousands of them an
//! fsync and a blocking-thread hop each cost more than the appends; one filesystem sync
//! covers them all. Order: each partition's flush is prepared (its flush turn taken,
//! pending index entries written, its log end captured) before the sync starts, so the
//! sync covers every byte the captured targets name; only then are the recovery points
//! advanced. A partition whose own flush is running is left to it.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use strata_log::LogError;

use super::Partition;

/// Process-wide flush counters (see [`sync_stats`]).
static PARTITION_SYNCS: AtomicU64 = AtomicU64::new(0);
static FILESYSTEM_SYNCS: AtomicU64 = AtomicU64::new(0);
static FILESYSTEM_SYNC_PARTITIONS: AtomicU64 = AtomicU64::new(0);

/// How partitions were made durable so far: by their own fsyncs, or many at once by a
/// filesystem sync (and how many that covered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncStats {
    pub partition_syncs: u64,
    pub filesystem_syncs: u64,
    pub filesystem_sync_partitions: u64,
}

/// The process's [`SyncStats`].
pub fn sync_stats() -> SyncStats {
    SyncStats {
        partition_syncs: PARTITION_SYNCS.load(Ordering::Relaxed),
        filesystem_syncs: FILESYSTEM_SYNCS.load(Ordering::Relaxed),
        filesystem_sync_partitions: FILESYSTEM_SYNC_PARTITIONS.load(Ordering::Relaxed),
    }
}

/// Counts one partition flushed by its own fsyncs, which took `took`.
pub(super) fn count_partition_sync(took: std::time::Duration) {
    PARTITION_SYNCS.fetch_add(1, Ordering::Relaxed);
    crate::metrics::LOG_FSYNC_SECONDS.observe(took.as_secs_f64());
    crate::metrics::LOG_GROUP_COMMIT_PARTITIONS.observe(1.0);
}

/// Below this many due partitions, each is flushed on its own (an `fdatasync` of its
/// few files is cheaper than syncing the filesystem).
pub const FLUSH_MANY_MIN: usize = 16;

/// One filesystem sync at a time, and none for a data directory once one failed there.
/// Why: `syncfs` reports a writeback error once, to the first caller that looks; a
/// second sync running at the same time could report success for pages the error
/// lost. After a failure the flushes go back to each partition's own `fdatasync`s,
/// which report an error to the file it hit (and the disk probe fences the broker if
/// writes keep failing). The turn holds the data directories whose sync failed.
static SYNCFS_TURN: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

impl Partition {
    /// Flushes `partitions` with one `syncfs` of the filesystem holding `data_dir`
    /// (each with its own fsyncs once a filesystem sync has failed). Blocking: run it
    /// on a blocking thread. Returns the partitions flushed; after an error, those that
    /// were flushed have their recovery points advanced, the others not.
    pub fn flush_many_blocking(
        partitions: &[Arc<Partition>],
        data_dir: &std::path::Path,
    ) -> Result<usize, LogError> {
        let mut prepared = Vec::with_capacity(partitions.len());
        for p in partitions {
            let Ok(turn) = p.flush_lock.try_lock() else {
                continue;
            };
            let task = match p.log.lock().as_mut() {
                Some(log) => log.prepare_flush(),
                None => continue,
            };
            prepared.push((p, turn, task));
        }
        if prepared.is_empty() {
            return Ok(0);
        }
        let now = crate::broker::now_ms();
        let mut turn = SYNCFS_TURN.lock().unwrap_or_else(|e| e.into_inner());
        if turn.iter().any(|failed| failed == data_dir) {
            drop(turn);
            let mut flushed = 0;
            let mut first_error = None;
            for (p, _turn, task) in prepared {
                let started = std::time::Instant::now();
                match task.sync() {
                    Ok(upto) => {
                        count_partition_sync(started.elapsed());
                        p.complete_flush_at(upto, now)?;
                        flushed += 1;
                    }
                    Err(e) => {
                        first_error.get_or_insert(LogError::Io(e));
                    }
                }
            }
            return first_error.map_or(Ok(flushed), Err);
        }
        let started = std::time::Instant::now();
        if let Err(e) = syncfs(data_dir) {
            turn.push(data_dir.to_path_buf());
            tracing::error!(error = %e, dir = %data_dir.display(), "filesystem sync failed: flushing each partition on its own from now on");
            return Err(LogError::Io(e));
        }
        drop(turn);
        FILESYSTEM_SYNCS.fetch_add(1, Ordering::Relaxed);
        FILESYSTEM_SYNC_PARTITIONS.fetch_add(prepared.len() as u64, Ordering::Relaxed);
        crate::metrics::LOG_FSYNC_SECONDS.observe(started.elapsed().as_secs_f64());
        crate::metrics::LOG_GROUP_COMMIT_PARTITIONS.observe(prepared.len() as f64);
        let flushed = prepared.len();
        for (p, _turn, task) in prepared {
            p.complete_flush_at(task.synced_by_filesystem(), now)?;
        }
        Ok(flushed)
    }

    /// Advances the recovery point and the durable end to `upto` after a sync.
    fn complete_flush_at(&self, upto: i64, now_ms: i64) -> Result<(), LogError> {
        if let Some(log) = self.log.lock().as_mut() {
            log.complete_flush(upto)?;
        }
        self.durable_end.fetch_max(upto, Ordering::AcqRel);
        self.last_flush_ms.store(now_ms, Ordering::Relaxed);
        Ok(())
    }
}

impl Partition {
    /// Waits until each `(partition, offset)` is fsynced up to and including the
    /// offset: group commit across partitions for one acks=all Produce. Partitions
    /// durable already cost nothing; a single one left goes through
    /// [`Partition::wait_durable`]; several are flushed in one blocking-pool hop, with
    /// one `syncfs` of `data_dir` when [`FLUSH_MANY_MIN`] or more (each `fdatasync`
    /// flushes the device cache, so thousands of them cost far more than one filesystem
    /// sync), else one after another; one `syncfs` per log dir the partitions are in.
    /// A partition whose own flush was running meanwhile is then waited for as usual.
    /// Results come back in the order of `items`.
    pub async fn wait_durable_many(items: &[(Arc<Partition>, i64)]) -> Vec<Result<(), LogError>> {
        let pending: Vec<(Arc<Partition>, i64)> = items
            .iter()
            .filter(|(p, offset)| !p.is_durable(*offset))
            .map(|(p, offset)| (Arc::clone(p), *offset))
            .collect();
        let mut failed: Vec<(Arc<Partition>, String)> = Vec::new();
        if pending.len() > 1 {
            failed = tokio::task::spawn_blocking(move || sync_by_log_dir(&pending))
                .await
                .unwrap_or_else(|e| {
                    items
                        .iter()
                        .map(|(p, _)| (Arc::clone(p), e.to_string()))
                        .collect()
                });
        }
        let mut out = Vec::with_capacity(items.len());
        for (p, offset) in items {
            out.push(match failed.iter().find(|(f, _)| Arc::ptr_eq(f, p)) {
                Some((_, e)) if !p.is_durable(*offset) => {
                    Err(LogError::Io(io::Error::other(e.clone())))
                }
                // Durable now (returns at once), or skipped by the hop because its own
                // flush was running: wait for that.
                _ => p.wait_durable(*offset).await,
            });
        }
        out
    }

    fn is_durable(&self, offset: i64) -> bool {
        self.durable_end.load(Ordering::Acquire) > offset
    }
}

/// The blocking half of [`Partition::wait_durable_many`]: the partitions grouped by the
/// log dir they are in (each may be its own filesystem), each group synced together.
fn sync_by_log_dir(pending: &[(Arc<Partition>, i64)]) -> Vec<(Arc<Partition>, String)> {
    if pending.len() < FLUSH_MANY_MIN {
        // Each syncs its own files: no filesystem to find.
        return sync_each(pending);
    }
    type Group = (std::path::PathBuf, Vec<(Arc<Partition>, i64)>);
    let mut groups: Vec<Group> = Vec::new();
    for (p, offset) in pending {
        // Deleted meanwhile: its own wait answers.
        let Some(root) = p.log_root_blocking() else {
            continue;
        };
        match groups.iter_mut().find(|(r, _)| *r == root) {
            Some((_, g)) => g.push((Arc::clone(p), *offset)),
            None => groups.push((root, vec![(Arc::clone(p), *offset)])),
        }
    }
    groups
        .iter()
        .flat_map(|(root, group)| sync_together(group, root))
        .collect()
}

/// One filesystem sync for many partitions of one log dir, else one flush each. Returns
/// the partitions whose sync failed, with the error.
fn sync_together(
    pending: &[(Arc<Partition>, i64)],
    data_dir: &std::path::Path,
) -> Vec<(Arc<Partition>, String)> {
    if pending.len() >= FLUSH_MANY_MIN {
        let parts: Vec<Arc<Partition>> = pending.iter().map(|(p, _)| Arc::clone(p)).collect();
        return match Partition::flush_many_blocking(&parts, data_dir) {
            Ok(_) => Vec::new(),
            Err(e) => parts.into_iter().map(|p| (p, e.to_string())).collect(),
        };
    }
    sync_each(pending)
}

/// One flush per partition (its own `fdatasync`s). Returns those that failed.
fn sync_each(pending: &[(Arc<Partition>, i64)]) -> Vec<(Arc<Partition>, String)> {
    pending
        .iter()
        .filter_map(|(p, offset)| {
            p.sync_blocking(*offset)
                .err()
                .map(|e| (Arc::clone(p), e.to_string()))
        })
        .collect()
}

/// Writes back and waits for every dirty page and inode of the filesystem holding
/// `path` (and flushes the device cache). Reports writeback errors (Linux 5.8 on).
pub(super) fn syncfs(path: &std::path::Path) -> io::Result<()> {
    let dir = std::fs::File::open(path)?;
    // SAFETY: the descriptor is open for the call (`dir` lives to the end of the
    // function); syncfs(2) only reads it.
    let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use strata_log::{Log, LogConfig};

    use super::*;

    fn batch() -> Bytes {
        Bytes::from(crate::replica::wait_tests::one_batch())
    }

    fn led_partitions(root: &std::path::Path, n: i32) -> Vec<Arc<Partition>> {
        (0..n)
            .map(|i| {
                let dir = root.join(format!("t-{i}"));
                let log = Log::open(&dir, LogConfig::default(), false).unwrap();
                let p = Arc::new(Partition::new(Arc::from("t"), uuid::Uuid::nil(), i, log));
                let mut image = crate::replica::wait_tests::image(1, 1);
                image.replicas = vec![1];
                image.isr = vec![1];
                p.update_role(&image, 1, 1);
                p
            })
            .collect()
    }

    async fn append_to_each(parts: &[Arc<Partition>]) -> Vec<(Arc<Partition>, i64)> {
        let mut waits = Vec::new();
        for p in parts {
            let info = p.append_trusted(batch(), 0).await.unwrap();
            assert!(p.unflushed_records() > 0);
            waits.push((Arc::clone(p), info.last_offset));
        }
        waits
    }

    #[tokio::test]
    async fn an_acks_all_produce_over_many_partitions_is_one_filesystem_sync() {
        let root = tempfile::tempdir().unwrap();
        let parts = led_partitions(root.path(), 40);
        let waits = append_to_each(&parts).await;
        let before = sync_stats();
        let results = Partition::wait_durable_many(&waits).await;
        let after = sync_stats();
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        for (p, last) in &waits {
            assert!(p.is_durable(*last));
            assert_eq!(p.unflushed_records(), 0);
        }
        // Counters are process-wide: other tests may add to them, never take away.
        assert!(after.filesystem_syncs > before.filesystem_syncs);
        assert!(after.filesystem_sync_partitions >= before.filesystem_sync_partitions + 40);
        // Durable already: nothing left to do, and no error.
        let again = Partition::wait_durable_many(&waits).await;
        assert!(again.iter().all(Result::is_ok));
    }

    #[tokio::test]
    async fn a_few_partitions_are_flushed_one_by_one_in_one_hop() {
        let root = tempfile::tempdir().unwrap();
        let parts = led_partitions(root.path(), 3);
        let waits = append_to_each(&parts).await;
        let before = sync_stats();
        let results = Partition::wait_durable_many(&waits).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        for (p, last) in &waits {
            assert!(p.is_durable(*last));
            let rp = p.run(|log| Ok(log.recovery_point())).await.unwrap();
            assert_eq!(rp, p.log_end_offset());
        }
        assert!(sync_stats().partition_syncs >= before.partition_syncs + 3);
    }

    /// After a failed filesystem sync, flushes go back to each partition's own fsyncs
    /// (which attribute a writeback error to its file) and still advance every
    /// recovery point.
    #[tokio::test]
    async fn after_a_failed_filesystem_sync_each_partition_syncs_its_own_files() {
        let root = tempfile::tempdir().unwrap();
        let parts = led_partitions(root.path(), 20);
        append_to_each(&parts).await;
        // A filesystem sync of a directory that is not there fails like a broken one.
        let missing = root.path().join("missing");
        let failed = {
            let (parts, dir) = (parts.clone(), missing.clone());
            tokio::task::spawn_blocking(move || Partition::flush_many_blocking(&parts, &dir))
                .await
                .unwrap()
        };
        assert!(failed.is_err());
        for p in &parts {
            assert!(p.unflushed_records() > 0, "nothing counts as flushed");
        }
        let before = sync_stats();
        let flushed = {
            let parts = parts.clone();
            tokio::task::spawn_blocking(move || Partition::flush_many_blocking(&parts, &missing))
                .await
                .unwrap()
                .unwrap()
        };
        assert_eq!(flushed, parts.len());
        assert!(sync_stats().partition_syncs >= before.partition_syncs + 20);
        for p in &parts {
            assert_eq!(p.unflushed_records(), 0);
        }
    }

    #[tokio::test]
    async fn one_filesystem_sync_advances_every_recovery_point() {
        let root = tempfile::tempdir().unwrap();
        let parts = led_partitions(root.path(), 20);
        for p in &parts {
            p.append_trusted(batch(), 0).await.unwrap();
            assert!(p.unflushed_records() > 0);
        }
        let flushed = {
            let parts = parts.clone();
            let dir = root.path().to_path_buf();
            tokio::task::spawn_blocking(move || Partition::flush_many_blocking(&parts, &dir))
                .await
                .unwrap()
                .unwrap()
        };
        assert_eq!(flushed, parts.len());
        for p in &parts {
            assert_eq!(p.unflushed_records(), 0);
            let rp = p.run(|log| Ok(log.recovery_point())).await.unwrap();
            assert_eq!(rp, p.log_end_offset());
        }
    }
}
