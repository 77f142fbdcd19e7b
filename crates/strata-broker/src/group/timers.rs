//! The group coordinator's timers: session expiry, join and sync deadlines, retries of
//! failed loads and offset expiry, driven by one task that sleeps until the earliest
//! deadline ([`group_loop`]).
//!
//! Invariant: the loop is woken whenever a deadline earlier than the one it sleeps to
//! appears. `scheduled` is read and written only under the state lock: the loop's scan
//! stores the earliest deadline it saw before releasing the lock, and every later change
//! of a group's timers (routed through `GroupCoordinator::route`, under the same lock)
//! compares with it and wakes the loop if it comes first. A wake-up sent while the loop
//! is not waiting is kept by the `Notify` for its next wait.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::coordinator::PersistJob;
use super::GroupCoordinator;
use crate::broker::now_ms;
use crate::Broker;

/// How soon a failed partition load is tried again.
pub(super) const LOAD_RETRY_MS: i64 = 100;

impl GroupCoordinator {
    /// Wakes the group loop when `deadline` comes before the one it sleeps to. Called
    /// with the state lock held.
    pub(super) fn offer(&self, deadline: Option<i64>) {
        if let Some(d) = deadline {
            if d < self.scheduled.load(Ordering::Acquire) {
                self.scheduled.store(d, Ordering::Release);
                self.wake.notify_one();
            }
        }
    }

    /// Expires sessions and finishes join and sync phases whose time has come, retries
    /// failed loads when due; returns the next deadline (ms).
    pub fn tick(&self, broker: &Arc<Broker>) -> Option<i64> {
        let now = now_ms();
        let (jobs, retry_loads, next): (Vec<PersistJob>, bool, Option<i64>) = {
            let mut state = self.state.lock();
            let retry_loads = state.load_retry_at.is_some_and(|t| t <= now);
            if retry_loads {
                state.load_retry_at = None;
            }
            let mut jobs = Vec::new();
            for entry in state.groups.values_mut() {
                if entry.group.next_deadline().is_some_and(|d| d <= now) {
                    let fx = entry.group.tick(now);
                    jobs.extend(self.route(entry, fx));
                }
            }
            let next = state
                .groups
                .values()
                .filter_map(|e| e.group.next_deadline())
                .chain(state.load_retry_at)
                .min();
            self.scheduled
                .store(next.unwrap_or(i64::MAX), Ordering::Release);
            (jobs, retry_loads, next)
        };
        if retry_loads {
            // Reconciling with the image starts the loads that are missing again.
            self.follow_image(broker);
        }
        self.spawn_persists(broker, jobs);
        next
    }
}

/// Drives the group timers: sleeps until the earliest deadline of any group (or of a
/// load retry, or of the next offset expiry), or until a change wakes it.
pub(crate) async fn group_loop(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    const IDLE: Duration = Duration::from_secs(3600);
    let retention_ms = broker.config.offsets_retention.as_millis() as i64;
    // Offsets expire once a minute, or twice per retention period when that is shorter.
    let expiry_every = Duration::from_millis((retention_ms / 2).clamp(100, 60_000) as u64);
    let mut next_expiry = tokio::time::Instant::now() + expiry_every;
    loop {
        let next = broker.groups.tick(&broker);
        let until = next.map_or(tokio::time::Instant::now() + IDLE, |d| {
            let wait = d.saturating_sub(now_ms()).clamp(0, IDLE.as_millis() as i64);
            tokio::time::Instant::now() + Duration::from_millis(wait as u64)
        });
        tokio::select! {
            _ = tokio::time::sleep_until(until.min(next_expiry)) => {}
            _ = broker.groups.wake.notified() => {}
            _ = shutdown.changed() => return,
        }
        if tokio::time::Instant::now() >= next_expiry {
            broker.groups.expire_offsets(&broker, retention_ms).await;
            next_expiry = tokio::time::Instant::now() + expiry_every;
        }
    }
}
