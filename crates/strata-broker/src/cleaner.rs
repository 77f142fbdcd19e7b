//! The log cleaner task: picks the dirtiest compacted log and cleans it on a blocking
//! thread, one log at a time (Kafka's single cleaner thread), throttled to
//! `log.cleaner.io.max.bytes.per.second`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::broker::now_ms;
use crate::Broker;

/// How often the cleaner looks for work when there was none.
const BACKOFF: Duration = Duration::from_millis(1000);

/// Sleeps the calling (blocking) thread so that reads stay under `bytes_per_sec`.
pub struct Throttle {
    bytes_per_sec: f64,
    started: Instant,
    bytes: u64,
}

impl Throttle {
    /// A throttle; `f64::INFINITY` (or any non-positive/NaN value) means unlimited.
    pub fn new(bytes_per_sec: f64) -> Self {
        Self {
            bytes_per_sec,
            started: Instant::now(),
            bytes: 0,
        }
    }

    /// Accounts for `n` more bytes, sleeping if ahead of the allowed rate.
    pub fn consume(&mut self, n: u64) {
        self.bytes += n;
        if !(self.bytes_per_sec.is_finite() && self.bytes_per_sec > 0.0) {
            return;
        }
        let due = Duration::from_secs_f64(self.bytes as f64 / self.bytes_per_sec);
        let elapsed = self.started.elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
    }
}

/// Runs until shutdown.
pub async fn cleaner_loop(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let cleaned = clean_dirtiest(&broker).await;
        if !cleaned {
            tokio::select! {
                _ = tokio::time::sleep(BACKOFF) => {}
                _ = shutdown.changed() => return,
            }
        } else if *shutdown.borrow() {
            return;
        }
    }
}

/// Cleans the dirtiest eligible log, if any; returns whether it cleaned one.
async fn clean_dirtiest(broker: &Arc<Broker>) -> bool {
    let now = now_ms();
    let mut best: Option<(f64, Arc<crate::replica::Partition>)> = None;
    for p in broker.replicas.all() {
        if !p.settings().compact {
            continue;
        }
        let probe = p
            .run(move |log| {
                Ok((
                    log.needs_cleaning(now),
                    log.cleanable_ratio(now),
                    log.must_clean(now),
                ))
            })
            .await;
        let Ok((needed, ratio, must)) = probe else {
            continue;
        };
        // Past max.compaction.lag.ms a log goes first, whatever its dirty ratio.
        let score = if must {
            f64::INFINITY
        } else {
            ratio.unwrap_or(0.0)
        };
        if needed && best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, p));
        }
    }
    let Some((_, p)) = best else { return false };
    let rate = broker.cleaner_io_limit();
    let started = Instant::now();
    // Only what every replica has may be compacted (data above the high-water mark
    // can still be truncated).
    let hw = p.high_watermark();
    let result = p
        .run(move |log| {
            let mut throttle = Throttle::new(rate);
            log.clean_below(now, hw, &mut |n| throttle.consume(n))
        })
        .await;
    match result {
        Ok(stats) => {
            let m = &broker.metrics;
            m.cleaner_runs.inc();
            m.cleaner_bytes_read.inc_by(stats.bytes_read);
            m.cleaner_bytes_removed
                .inc_by(stats.bytes_before.saturating_sub(stats.bytes_after));
            m.cleaner_last_run.set(now_ms() as f64 / 1000.0);
            tracing::info!(
                topic = %p.topic,
                partition = p.index,
                elapsed_ms = started.elapsed().as_millis() as u64,
                ?stats,
                "cleaned log"
            );
            true
        }
        Err(e) => {
            tracing::error!(topic = %p.topic, partition = p.index, error = %e, "log cleaning failed");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_holds_the_rate() {
        let mut t = Throttle::new(1_000_000.0);
        let started = Instant::now();
        for _ in 0..10 {
            t.consume(20_000);
        }
        // 200 kB at 1 MB/s takes at least 0.2 s.
        assert!(
            started.elapsed() >= Duration::from_millis(195),
            "{:?}",
            started.elapsed()
        );
        let mut unlimited = Throttle::new(f64::INFINITY);
        let started = Instant::now();
        unlimited.consume(u64::MAX / 2);
        assert!(started.elapsed() < Duration::from_millis(50));
    }
}
