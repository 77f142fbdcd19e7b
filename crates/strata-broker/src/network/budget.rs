//! `queued.max.request.bytes`: the broker-wide budget for request bytes being read or
//! queued. A frame takes its length from the budget as soon as its length prefix is read
//! and gives it back when its handler is done with it. A reader that finds the budget
//! spent waits (and so stops reading its socket: backpressure) until enough is returned.
//!
//! The fast path is one atomic read-modify-write to take and one to give back. Waiters
//! queue in arrival order (a fair mutex), and while any wait, newcomers join the queue
//! instead of taking budget ahead of them, so a large request is not starved by a stream
//! of small ones.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::SeqCst};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{Mutex, Notify};

/// The budget. `used` is the `strata_queued_request_bytes` gauge itself, so the metric
/// costs nothing extra.
pub(crate) struct RequestBudget {
    limit: i64,
    used: Gauge<i64, AtomicI64>,
    waiting: AtomicUsize,
    queue: Mutex<()>,
    freed: Notify,
    waits: Counter,
}

/// Decrements the waiter count however the wait ends (taken, or the reader dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

impl RequestBudget {
    /// A budget of `limit` bytes whose use is exported through `used`; `waits` counts the
    /// reads that had to wait for it.
    pub(crate) fn new(limit: usize, used: Gauge<i64, AtomicI64>, waits: Counter) -> Self {
        Self {
            limit: i64::try_from(limit).unwrap_or(i64::MAX),
            used,
            waiting: AtomicUsize::new(0),
            queue: Mutex::new(()),
            freed: Notify::new(),
            waits,
        }
    }

    fn try_take(&self, n: i64) -> bool {
        let limit = self.limit;
        self.used
            .inner()
            .fetch_update(SeqCst, SeqCst, |u| (u + n <= limit).then_some(u + n))
            .is_ok()
    }

    /// Takes `n` bytes if they are free and nobody is waiting.
    pub(crate) fn try_acquire(&self, n: usize) -> bool {
        self.waiting.load(SeqCst) == 0 && self.try_take(n as i64)
    }

    /// Takes `n` bytes, waiting until they are free. `n` must not exceed the limit (the
    /// config guarantees `socket.request.max.bytes <= queued.max.request.bytes`).
    pub(crate) async fn acquire(&self, n: usize) {
        if self.try_acquire(n) {
            return;
        }
        let n = n as i64;
        debug_assert!(n <= self.limit);
        self.waits.inc();
        self.waiting.fetch_add(1, SeqCst);
        let _waiting = Waiting(&self.waiting);
        let _head = self.queue.lock().await;
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before the check, so a release in between is not missed.
            freed.as_mut().enable();
            if self.try_take(n) {
                return;
            }
            freed.await;
        }
    }

    /// Gives `n` bytes back.
    pub(crate) fn release(&self, n: usize) {
        self.used.inner().fetch_sub(n as i64, SeqCst);
        if self.waiting.load(SeqCst) > 0 {
            self.freed.notify_one();
        }
    }

    /// Bytes currently taken.
    #[cfg(test)]
    pub(crate) fn used(&self) -> i64 {
        self.used.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn waits_in_order_until_bytes_are_released() {
        let b = Arc::new(RequestBudget::new(
            100,
            Gauge::default(),
            Counter::default(),
        ));
        b.acquire(60).await;
        b.acquire(40).await;
        assert_eq!(b.used(), 100);
        // A large request waits; a small one arriving after it queues behind it.
        let big = tokio::spawn({
            let b = Arc::clone(&b);
            async move { b.acquire(90).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let small = tokio::spawn({
            let b = Arc::clone(&b);
            async move { b.acquire(5).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!big.is_finished() && !small.is_finished());
        b.release(60);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!big.is_finished(), "90 does not fit in 60 free bytes");
        assert!(!small.is_finished(), "the small request may not overtake");
        b.release(40);
        big.await.unwrap();
        small.await.unwrap();
        assert_eq!(b.used(), 95);
        // A dropped waiter leaves no trace.
        let gone = tokio::time::timeout(Duration::from_millis(20), b.acquire(50)).await;
        assert!(gone.is_err());
        b.release(95);
        b.acquire(100).await;
        assert_eq!(b.used(), 100);
    }
}
