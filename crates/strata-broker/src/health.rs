//! Liveness and readiness, as `/health/live` and `/health/ready` report them.
//!
//! Ready means this broker can do its job: it is registered and not fenced, it reaches
//! the metadata quorum, and its data dir takes writes. Each failed check is a reason,
//! so an operator (or a load balancer's log) sees why.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Broker;

/// A write probe of the data dir is reused for this long (a polled `/health` must not
/// turn into a stream of fsyncs).
const PROBE_REUSE: Duration = Duration::from_secs(1);
const PROBE_FILE: &str = ".health-probe";

/// The answer to "can this broker serve?".
#[derive(Debug, Clone, serde::Serialize)]
pub struct Readiness {
    /// Every check passed.
    pub ready: bool,
    /// One line per failed check; empty when ready.
    pub reasons: Vec<String>,
}

/// The last data-dir write probe: when, and its error if it failed. One probe runs at a
/// time (`/health` and the heartbeat loop's disk check both ask): two at once would
/// remove each other's probe file and report a healthy disk as failing.
#[derive(Default)]
pub(crate) struct ProbeCache {
    last: parking_lot::Mutex<Option<(Instant, Option<String>)>>,
    turn: tokio::sync::Mutex<()>,
}

impl ProbeCache {
    fn fresh(&self) -> Option<Option<String>> {
        match self.last.lock().as_ref() {
            Some((at, result)) if at.elapsed() < PROBE_REUSE => Some(result.clone()),
            _ => None,
        }
    }

    /// The error of a write probe of `dir` at most [`PROBE_REUSE`] old (run now if the
    /// last one is older), `None` if it took the write.
    pub(crate) async fn check(&self, dir: &Path) -> Option<String> {
        if let Some(result) = self.fresh() {
            return result;
        }
        let _turn = self.turn.lock().await;
        // Another caller may have probed while this one waited.
        if let Some(result) = self.fresh() {
            return result;
        }
        let path = dir.to_path_buf();
        let result = tokio::task::spawn_blocking(move || probe(&path))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
            .err()
            .map(|e| format!("data dir {} does not take writes: {e}", dir.display()));
        *self.last.lock() = Some((Instant::now(), result.clone()));
        result
    }
}

impl Broker {
    /// Checks registration, fencing, the metadata quorum and the data dir.
    pub async fn readiness(self: &Arc<Self>) -> Readiness {
        let mut reasons = Vec::new();
        if *self.stopping.borrow() {
            reasons.push("shutting down".to_string());
        }
        let node_id = self.config.node_id;
        match self.meta.image().broker(node_id) {
            None => reasons.push(format!("broker {node_id} is not registered")),
            Some(b) if b.fenced => reasons.push(format!("broker {node_id} is fenced")),
            Some(_) => {}
        }
        // A leader that has not heard from a quorum for a few election timeouts has lost it.
        let election = self.config.controller_election_timeout.as_millis() as u64;
        if let Some(problem) = self.meta.raft().quorum_problem((election * 4).max(2_000)) {
            reasons.push(problem);
        }
        if let Some(problem) = self.probe_data_dir().await {
            reasons.push(problem);
        }
        Readiness {
            ready: reasons.is_empty(),
            reasons,
        }
    }

    /// Writes, fsyncs and removes a small file in the data dir (at most once per
    /// [`PROBE_REUSE`]); the error if that fails.
    pub(crate) async fn probe_data_dir(self: &Arc<Self>) -> Option<String> {
        self.health_probe.check(&self.config.data_dir).await
    }
}

/// Writes, syncs and removes a probe file in `dir`. Blocking.
pub(crate) fn probe(dir: &Path) -> std::io::Result<()> {
    let path = dir.join(PROBE_FILE);
    let mut f = std::fs::File::create(&path)?;
    f.write_all(b"probe\n")?;
    let synced = f.sync_all();
    drop(f);
    let removed = std::fs::remove_file(&path);
    synced.and(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_probes_never_report_a_healthy_dir_as_failing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(ProbeCache::default());
        for _ in 0..20 {
            *cache.last.lock() = None;
            let checks: Vec<_> = (0..8)
                .map(|_| {
                    let (cache, dir) = (Arc::clone(&cache), dir.path().to_path_buf());
                    tokio::spawn(async move { cache.check(&dir).await })
                })
                .collect();
            for c in checks {
                assert_eq!(c.await.unwrap(), None);
            }
        }
        assert!(
            !dir.path().join(PROBE_FILE).exists(),
            "the probe file is removed"
        );
        let gone = dir.path().join("gone");
        *cache.last.lock() = None;
        let failed = cache
            .check(&gone)
            .await
            .expect("a missing dir takes no writes");
        assert!(failed.contains("does not take writes"), "{failed}");
    }
}
