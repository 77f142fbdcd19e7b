//! The broker's upkeep of its replicas: the periodic flush (group commit across
//! partitions), retention and segment age, and retries of replicas the metadata sync
//! could not open or delete.

use std::sync::Arc;

use tokio::sync::watch;

use crate::broker::now_ms;
use crate::config::FlushPolicy;
use crate::Broker;

/// Fsyncs partitions whose unflushed records are older than their flush period.
pub(crate) async fn flush_loop(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    // A partition with unflushed records is fsynced once its oldest flush is older than
    // its period: the topic's `flush.ms`, and (unless `log.flush=never`) the broker's
    // `log.flush.interval.ms` — the durability mechanism under `interval`, and what
    // advances recovery checkpoints under `batch`.
    let broker_period = match broker.config.flush_policy {
        FlushPolicy::Never => i64::MAX,
        _ => broker.config.flush_interval.as_millis() as i64,
    };
    // The scan looks at every partition, so it runs as often as the shortest period
    // asks (the broker's, or the shortest `flush.ms` seen), within 100 ms to 1 s: with
    // 100,000 partitions a scan every 100 ms was most of an idle broker's CPU.
    let mut next_scan = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next_scan) => {}
            _ = shutdown.changed() => return,
        }
        let now = now_ms();
        let mut shortest = broker_period;
        let due = broker.replicas.filter(|p| {
            let period = broker_period.min(p.flush_ms());
            shortest = shortest.min(period);
            // Atomics first: most partitions of a large broker have nothing to flush.
            p.unflushed_records() > 0 && now.saturating_sub(p.last_flush_ms()) >= period
        });
        next_scan = tokio::time::Instant::now()
            + std::time::Duration::from_millis(shortest.clamp(100, 1000) as u64);
        // One blocking hop for all of them; one filesystem sync when many are due.
        let due: Vec<_> = due
            .into_iter()
            .map(|p| {
                let last = p.log_end_offset() - 1;
                (p, last)
            })
            .collect();
        let flushed = crate::replica::Partition::wait_durable_many(&due).await;
        let mut failures = due
            .iter()
            .zip(flushed)
            .filter_map(|((p, _), r)| Some((p, r.err()?)));
        if let Some((p, e)) = failures.next() {
            let more = failures.count();
            tracing::error!(topic = %p.topic, partition = p.index, error = %e, more_partitions = more, "flush failed");
        }
    }
}

/// Retries, a second after a sync with the metadata left partitions it could not open
/// or delete, until none is left (or the next metadata change did it).
pub(crate) async fn resync_loop(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = broker.replicas.retry.notified() => {}
            _ = shutdown.changed() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
        let b = Arc::clone(&broker);
        let _ = tokio::task::spawn_blocking(move || {
            b.replicas.sync_with_image(&b.meta.image(), b.clean_start)
        })
        .await;
    }
}

pub(crate) async fn retention_loop(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(broker.config.retention_check_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = now_ms();
        // One blocking-pool hop for every partition (not one each: thousands of them).
        let all = broker.replicas.all();
        let _ = tokio::task::spawn_blocking(move || {
            for p in all {
                let r = p.run_blocking(|log| {
                    log.maybe_roll(now)?;
                    log.apply_retention(now)
                });
                if let Err(e) = r {
                    tracing::error!(topic = %p.topic, partition = p.index, error = %e, "retention failed");
                }
            }
        })
        .await;
    }
}
