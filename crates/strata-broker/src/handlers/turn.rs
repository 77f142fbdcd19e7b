//! A connection's order of side effects: its requests take turns, so their effects
//! happen in request order, as in Kafka, which serves one request per connection at a
//! time.
//!
//! Invariant: a request that is not a Produce starts only once every earlier request's
//! side effects are in place. Produce requests may overlap each other: a Produce gives
//! its turn back as soon as its appends have their places in their partitions' append
//! queues (a place there is a place in the log), and keeps a share of the connection's
//! append lock until the appends are written. So a client streaming Produce requests
//! (librdkafka sends one per partition) gets its appends queued back to back and
//! drained together instead of one blocking-thread hand-off per request, while a
//! Fetch, ListOffsets or commit after them still sees everything they wrote.

use std::sync::Arc;

use kafka_protocol::messages::ApiKey;
use tokio::sync::{Mutex, OwnedMutexGuard, OwnedRwLockReadGuard, RwLock};

/// One connection's turns (see the module doc).
#[derive(Default)]
pub(crate) struct Order {
    turn: Arc<Mutex<()>>,
    appends: Arc<RwLock<()>>,
}

impl Order {
    /// Waits for the turn of the next request, an `api` request: after every earlier
    /// request gave its turn back and, unless it is a Produce itself, after every
    /// earlier Produce's appends are written.
    pub(crate) async fn take(&self, api: ApiKey) -> Turn {
        let turn = Arc::clone(&self.turn).lock_owned().await;
        // Holding the turn, no later request can take a share: the write lock waits
        // only for earlier Produces, and a share is granted at once.
        let appends = if api == ApiKey::Produce {
            Some(Arc::clone(&self.appends).read_owned().await)
        } else {
            drop(self.appends.write().await);
            None
        };
        Turn {
            turn: Some(turn),
            _appends: appends,
        }
    }
}

/// A request's turn: held while its side effects happen; dropped once they are done. A
/// handler that only reads drops it at once; one with a side effect keeps it until the
/// effect is visible to the next request (DeleteRecords: the new log start; JoinGroup /
/// SyncGroup: the member's request recorded, before they park). A Produce calls
/// [`Turn::appends_queued`] once its appends are queued and drops the turn once they
/// are written.
pub struct Turn {
    turn: Option<OwnedMutexGuard<()>>,
    // Held for its drop: a share of the connection's append lock (Produce only).
    _appends: Option<OwnedRwLockReadGuard<()>>,
}

impl Turn {
    /// A turn of its own, for a request that comes from no connection (the admin UI).
    pub(crate) async fn alone() -> Turn {
        Order::default().take(ApiKey::ApiVersions).await
    }

    /// The request's appends have their places in their partitions' queues: the next
    /// Produce on the connection may go ahead; other requests still wait until this
    /// turn is dropped.
    pub(crate) fn appends_queued(&mut self) {
        self.turn = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn started_within(order: &Arc<Order>, api: ApiKey, wait: Duration) -> Option<Turn> {
        let order = Arc::clone(order);
        tokio::time::timeout(wait, async move { order.take(api).await })
            .await
            .ok()
    }

    #[tokio::test]
    async fn a_produce_whose_appends_are_queued_lets_only_the_next_produce_start() {
        let order = Arc::new(Order::default());
        let short = Duration::from_millis(50);
        let mut first = order.take(ApiKey::Produce).await;
        // Before its appends are queued nothing else may start.
        assert!(started_within(&order, ApiKey::Produce, short)
            .await
            .is_none());
        first.appends_queued();
        let second = started_within(&order, ApiKey::Produce, short).await;
        let mut second =
            second.expect("a Produce starts once the earlier one's appends are queued");
        second.appends_queued();
        drop(second);
        // A Fetch waits for the first Produce's appends to be written.
        let fetch = {
            let order = Arc::clone(&order);
            tokio::spawn(async move { order.take(ApiKey::Fetch).await })
        };
        tokio::time::sleep(short).await;
        assert!(
            !fetch.is_finished(),
            "a Fetch started before the appends were written"
        );
        drop(first);
        let fetch = tokio::time::timeout(Duration::from_secs(5), fetch)
            .await
            .expect("the Fetch starts once the appends are written")
            .expect("join");
        // And while the Fetch holds its turn, the next Produce waits.
        assert!(started_within(&order, ApiKey::Produce, short)
            .await
            .is_none());
        drop(fetch);
        assert!(started_within(&order, ApiKey::Produce, short)
            .await
            .is_some());
    }

    #[tokio::test]
    async fn requests_other_than_produce_take_turns_one_at_a_time() {
        let order = Arc::new(Order::default());
        let short = Duration::from_millis(50);
        let first = order.take(ApiKey::OffsetCommit).await;
        assert!(started_within(&order, ApiKey::Produce, short)
            .await
            .is_none());
        assert!(started_within(&order, ApiKey::Metadata, short)
            .await
            .is_none());
        drop(first);
        assert!(started_within(&order, ApiKey::Metadata, short)
            .await
            .is_some());
        let alone = Turn::alone().await;
        assert!(alone.turn.is_some() && alone._appends.is_none());
    }
}
