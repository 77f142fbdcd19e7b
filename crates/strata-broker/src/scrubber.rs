//! The scrubber: every `log.scrub.interval.ms` it checks every sealed segment of every
//! hosted log (framing, offsets, CRC-32C), reading at most [`SCRUB_BYTES_PER_SEC`] on
//! one blocking thread, and repairs what it finds (`replica/damage.rs`). Sleeps to its
//! next deadline; 0 disables it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::cleaner::Throttle;
use crate::Broker;

/// Read rate of a scrub pass: low enough to leave the disk to the traffic (a 1 TiB
/// broker is checked in about 9 hours, well inside the default day).
pub const SCRUB_BYTES_PER_SEC: f64 = 32.0 * 1024.0 * 1024.0;

/// Runs until shutdown; returns at once when scrubbing is disabled.
pub async fn scrub_loop(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let interval = broker.config.scrub_interval;
    if interval.is_zero() {
        return;
    }
    let mut next = tokio::time::Instant::now() + interval;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = shutdown.changed() => return,
        }
        let b = Arc::clone(&broker);
        let stop = shutdown.clone();
        let pass = tokio::task::spawn_blocking(move || scrub_all(&b, &stop, SCRUB_BYTES_PER_SEC));
        match pass.await {
            Ok(moved) if moved > 0 => {
                tracing::error!(ranges = moved, "scrub moved damaged batches aside")
            }
            Ok(_) => tracing::debug!("scrub found no damage"),
            Err(e) => tracing::error!(error = %e, "scrub pass failed"),
        }
        next += interval;
        let now = tokio::time::Instant::now();
        if next < now {
            next = now + interval;
        }
    }
}

/// One pass over every hosted log (blocking); returns the damaged ranges moved aside.
pub fn scrub_all(broker: &Broker, stop: &watch::Receiver<bool>, bytes_per_sec: f64) -> usize {
    let mut throttle = Throttle::new(bytes_per_sec);
    let mut moved = 0;
    for p in broker.replicas.all() {
        if *stop.borrow() {
            break;
        }
        match p.scrub_blocking(&mut |n| throttle.consume(n)) {
            Ok(n) => moved += n,
            Err(e) => {
                tracing::error!(topic = %p.topic, partition = p.index, error = %e, "scrub of a log failed")
            }
        }
    }
    moved
}

/// Default `log.scrub.interval.ms`: a day, as Ceph's deep scrub and Redpanda's
/// scrubber.
pub const DEFAULT_SCRUB_INTERVAL: Duration = Duration::from_secs(24 * 3600);
