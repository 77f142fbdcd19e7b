//! State the listener shares with its connections, and what each connection holds.

use std::net::IpAddr;
use std::sync::Arc;

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
