//! Awaiting many delivery futures concurrently while records are still being enqueued.

use std::collections::BTreeMap;
use std::time::Instant;

use futures::stream::{FuturesUnordered, StreamExt};
use hdrhistogram::Histogram;
use indicatif::ProgressBar;
use strata_client::{ClientError, DeliveryFuture};
use tokio::sync::mpsc;

/// What happened to the records handed to a [`Deliveries`].
#[derive(Debug)]
pub struct DeliveryStats {
    /// Acknowledged records.
    pub ok: u64,
    /// Failed records.
    pub failed: u64,
    /// The first failure, for the error message.
    pub first_error: Option<ClientError>,
    /// Acknowledged records per partition.
    pub per_partition: BTreeMap<i32, u64>,
    /// Enqueue-to-acknowledgement latency in microseconds.
    pub latency_us: Histogram<u64>,
}

/// A background task resolving delivery futures as they complete.
pub struct Deliveries {
    tx: mpsc::UnboundedSender<(Instant, DeliveryFuture)>,
    task: tokio::task::JoinHandle<DeliveryStats>,
}

impl Deliveries {
    /// Starts the collector; `progress` is advanced per completed record.
    pub fn start(progress: Option<ProgressBar>) -> Deliveries {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(collect(rx, progress));
        Deliveries { tx, task }
    }

    /// Hands over a record's future; `started` is when it was enqueued.
    pub fn track(&self, started: Instant, fut: DeliveryFuture) {
        // The collector only stops after `finish`, so the send cannot fail before then.
        let _ = self.tx.send((started, fut));
    }

    /// Waits for every tracked record and returns the tally.
    pub async fn finish(self) -> anyhow::Result<DeliveryStats> {
        drop(self.tx);
        Ok(self.task.await?)
    }
}

async fn collect(
    mut rx: mpsc::UnboundedReceiver<(Instant, DeliveryFuture)>,
    progress: Option<ProgressBar>,
) -> DeliveryStats {
    let mut stats = DeliveryStats {
        ok: 0,
        failed: 0,
        first_error: None,
        per_partition: BTreeMap::new(),
        // 1 µs .. 1 h, 3 significant digits.
        latency_us: Histogram::new_with_bounds(1, 3_600_000_000, 3)
            .expect("constant histogram bounds are valid"),
    };
    let mut pending = FuturesUnordered::new();
    let mut open = true;
    loop {
        tokio::select! {
            item = rx.recv(), if open => match item {
                Some((started, fut)) => pending.push(async move { (started, fut.await) }),
                None => open = false,
            },
            Some((started, result)) = pending.next(), if !pending.is_empty() => {
                match result {
                    Ok(meta) => {
                        stats.ok += 1;
                        *stats.per_partition.entry(meta.partition).or_default() += 1;
                        let us = started.elapsed().as_micros().max(1) as u64;
                        let _ = stats.latency_us.record(us.min(3_600_000_000));
                    }
                    Err(e) => {
                        stats.failed += 1;
                        stats.first_error.get_or_insert(e);
                    }
                }
                if let Some(p) = &progress {
                    p.inc(1);
                }
            },
            else => break,
        }
    }
    stats
}
