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
use std::sync::atomic::Ordering;
use std::sync::Arc;

use strata_log::LogError;

use super::Partition;

/// Below this many due partitions, each is flushed on its own (an `fdatasync` of its
/// few files is cheaper than syncing the filesystem).
pub const FLUSH_MANY_MIN: usize = 16;

impl Partition {
    /// Flushes `partitions` with one `syncfs` of the filesystem holding `data_dir`.
    /// Blocking: run it on a blocking thread. Returns the partitions flushed; an error
    /// means none was (their recovery points stay).
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
        syncfs(data_dir).map_err(LogError::Io)?;
        let now = crate::broker::now_ms();
        let flushed = prepared.len();
        for (p, _turn, task) in prepared {
            let upto = task.synced_by_filesystem();
            if let Some(log) = p.log.lock().as_mut() {
                log.complete_flush(upto)?;
            }
            p.durable_end.fetch_max(upto, Ordering::AcqRel);
            p.last_flush_ms.store(now, Ordering::Relaxed);
        }
        Ok(flushed)
    }
}

/// Writes back and waits for every dirty page and inode of the filesystem holding
/// `path` (and flushes the device cache). Reports writeback errors (Linux 5.8 on).
fn syncfs(path: &std::path::Path) -> io::Result<()> {
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

    #[tokio::test]
    async fn one_filesystem_sync_advances_every_recovery_point() {
        let root = tempfile::tempdir().unwrap();
        let parts: Vec<Arc<Partition>> = (0..20)
            .map(|i| {
                let dir = root.path().join(format!("t-{i}"));
                let log = Log::open(&dir, LogConfig::default(), false).unwrap();
                let p = Arc::new(Partition::new(Arc::from("t"), uuid::Uuid::nil(), i, log));
                let mut image = crate::replica::wait_tests::image(1, 1);
                image.replicas = vec![1];
                image.isr = vec![1];
                p.update_role(&image, 1, 1);
                p
            })
            .collect();
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
