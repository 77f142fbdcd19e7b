//! Writes that fail because the disk is full wait for space instead of stopping Raft.
//!
//! openraft treats every storage error as fatal: the node's quorum member stops for
//! good. A full disk is not damage, though: every metadata write here either succeeds
//! whole or is rolled back (the log cuts a failed append off again, vote and purge
//! files are replaced atomically, snapshots are written aside and renamed). So a write
//! that fails with "no space" (or "quota exceeded") is retried, with a growing pause,
//! until it succeeds or the node stops; meanwhile [`WriteRetry::problem`] says why the
//! node is stuck (the broker's `/health/ready` reports it) and the node simply looks
//! slow to its peers, which elect another leader if it was the leader. Any other error
//! is returned at once, as before.

use std::io::{self, ErrorKind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_secs(1);
/// Retries between two ERROR lines while the disk stays full.
const LOG_EVERY: u32 = 30;

/// Shared by every storage object of one node.
#[derive(Debug, Default)]
pub(crate) struct WriteRetry {
    problem: Mutex<Option<String>>,
    stopping: AtomicBool,
}

/// Whether `e` means the disk (or the user's quota) is full.
pub(crate) fn is_disk_full(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
}

impl WriteRetry {
    /// Why writes are being retried right now, if they are.
    pub(crate) fn problem(&self) -> Option<String> {
        self.problem.lock().clone()
    }

    /// Stops retrying: the pending write returns its error (the node is shutting down).
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// Runs `op` on a blocking thread until it succeeds, retrying while it fails
    /// because the disk is full. `op` must leave nothing behind when it fails.
    pub(crate) async fn write<T, F>(&self, what: &'static str, op: F) -> io::Result<T>
    where
        F: Fn() -> io::Result<T> + Clone + Send + 'static,
        T: Send + 'static,
    {
        let mut pause = FIRST_PAUSE;
        let mut failures = 0u32;
        loop {
            let attempt = op.clone();
            let result = tokio::task::spawn_blocking(attempt)
                .await
                .map_err(io::Error::other)
                .and_then(|r| r);
            match result {
                Ok(v) => {
                    if failures > 0 {
                        tracing::warn!(
                            what,
                            failures,
                            "metadata write succeeded again: disk space is back"
                        );
                        *self.problem.lock() = None;
                    }
                    return Ok(v);
                }
                Err(e) if is_disk_full(&e) && !self.stopping.load(Ordering::Acquire) => {
                    if failures.is_multiple_of(LOG_EVERY) {
                        tracing::error!(what, error = %e, failures, "metadata disk full: retrying until space is free");
                    }
                    failures = failures.saturating_add(1);
                    *self.problem.lock() = Some(format!("{what} failed: {e} (retrying)"));
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_PAUSE);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;
    use std::sync::Arc;

    use super::*;

    fn full() -> io::Error {
        io::Error::from(ErrorKind::StorageFull)
    }

    #[tokio::test]
    async fn a_full_disk_is_retried_until_the_write_succeeds() {
        let retry = Arc::new(WriteRetry::default());
        let calls = Arc::new(AtomicU32::new(0));
        let c = Arc::clone(&calls);
        let r = Arc::clone(&retry);
        let writing = tokio::spawn(async move {
            r.write("test write", move || {
                if c.fetch_add(1, Ordering::SeqCst) < 3 {
                    Err(full())
                } else {
                    Ok(7)
                }
            })
            .await
        });
        // While it fails, the problem is reported.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while retry.problem().is_none() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(retry.problem().is_some_and(|p| p.contains("test write")));
        assert_eq!(writing.await.unwrap().unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(retry.problem(), None);
    }

    #[tokio::test]
    async fn other_errors_and_stopping_end_the_write() {
        let retry = WriteRetry::default();
        let e = retry
            .write("w", || Err::<(), _>(io::Error::other("bad")))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "bad");
        retry.stop();
        let e = retry.write("w", || Err::<(), _>(full())).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::StorageFull);
    }
}
