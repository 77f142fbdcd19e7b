//! State the listener shares with its connections, and what each connection holds.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::budget::RequestBudget;
use super::slots::ConnectionSlots;

/// One listener's limits, shared by its connections.
pub(crate) struct Shared {
    /// `queued.max.request.bytes`.
    pub(crate) budget: RequestBudget,
    /// `max.connections`, `max.connections.per.ip`.
    pub(crate) slots: ConnectionSlots,
}

/// One admitted connection. Each request holds a clone (in its [`Permit`]) until its
/// handler is done, so the count of clones beyond the connection's own is the number of
/// requests in flight; the last one dropped gives the connection's place back.
pub(crate) struct ConnState {
    pub(crate) shared: Arc<Shared>,
    pub(crate) ip: IpAddr,
}

impl ConnState {
    /// Requests being read or handled (call from the connection's reader, which holds
    /// the one reference that is not a request's).
    pub(crate) fn in_flight(self: &Arc<Self>) -> usize {
        Arc::strong_count(self) - 1
    }
}

impl Drop for ConnState {
    fn drop(&mut self) {
        self.shared.slots.release(self.ip);
    }
}

/// A request's share of the budget: `bytes` of `queued.max.request.bytes`, given back
/// when the request's handler is done with it (this is dropped).
pub(crate) struct Permit {
    conn: Arc<ConnState>,
    bytes: usize,
}

impl Permit {
    /// Wraps `bytes` already taken from the budget of `conn`'s listener.
    pub(crate) fn new(conn: &Arc<ConnState>, bytes: usize) -> Self {
        Self {
            conn: Arc::clone(conn),
            bytes,
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.conn.shared.budget.release(self.bytes);
    }
}

/// A connection's quota mute (KIP-219): until when its reader stops reading requests.
/// Set by a throttled request's handler and again once its response is written; never
/// shortened. Checking it is one relaxed atomic load.
pub(crate) struct Mute {
    base: Instant,
    /// Milliseconds after `base`; 0: never muted.
    until_ms: AtomicU64,
}

impl Mute {
    pub(crate) fn new() -> Self {
        Self {
            base: Instant::now(),
            until_ms: AtomicU64::new(0),
        }
    }

    /// Mutes for `d` from now (or longer, if already muted longer).
    pub(crate) fn mute_for(&self, d: Duration) {
        if d.is_zero() {
            return;
        }
        let until = (self.base.elapsed() + d).as_millis();
        let until = u64::try_from(until).unwrap_or(u64::MAX).max(1);
        self.until_ms.fetch_max(until, Ordering::Relaxed);
    }

    /// How long the connection stays muted, if it is.
    pub(crate) fn remaining(&self) -> Option<Duration> {
        let until = self.until_ms.load(Ordering::Relaxed);
        if until == 0 {
            return None;
        }
        let now = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        (until > now).then(|| Duration::from_millis(until - now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mute_extends_never_shortens_and_ends() {
        let m = Mute::new();
        assert_eq!(m.remaining(), None);
        m.mute_for(Duration::ZERO);
        assert_eq!(m.remaining(), None);
        m.mute_for(Duration::from_secs(5));
        m.mute_for(Duration::from_millis(10));
        let left = m.remaining().unwrap();
        assert!(left > Duration::from_secs(4), "{left:?}");
        let m = Mute::new();
        m.mute_for(Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(m.remaining(), None);
    }
}
