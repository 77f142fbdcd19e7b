//! The schema registry's driver: this broker's copy of the registry state
//! ([`strata_registry::Registry`]), rebuilt from the `_schemas` topic, and the single
//! writer.
//!
//! - **Reads** are answered from the local copy, caught up to the partition's high
//!   watermark first. Every broker but the leader also feeds its copy with a tail
//!   ([`tail`]): it fetches `_schemas`-0 from its leader like a consumer (records below
//!   the leader's high watermark only), and a read there first asks the leader its high
//!   watermark and waits until the copy reached it (read-your-writes across brokers; a
//!   follower replica alone would lag by a fetch). Only when the copy cannot be shown
//!   current (the leader unreachable and the copy older than `replica.lag.time.max.ms`
//!   on a broker without a replica, or the copy not catching up in time) is the
//!   request sent on to the leader ([`Route::Forward`]); a follower whose leader cannot
//!   be asked answers from its own replica.
//! - **Writes** are made by the leader of `_schemas`-0 only, one at a time: it waits
//!   until everything in its log is committed (after a failover the new leader commits
//!   the tail it inherited), applies it, computes the records of the operation from that
//!   state, appends them with `acks=all` and applies them once committed. Another broker
//!   sends writes to the leader ([`Route::Forward`]).
//!
//! Invariant: the copy holds exactly the records below `next` (committed records only,
//! so a log truncation never removes what the copy applied); records are applied in
//! offset order, whichever path (local replica or tail) applies them. Ids are unique because the only writer computes them from a state that
//! holds every record in the log.

mod fetched;
mod tail;
mod topic;
pub(crate) mod validation;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use strata_registry::{Effect, Registry, RegistryError};
use uuid::Uuid;

use crate::broker::now_ms;
use crate::group::store::{self as keyed, LoadedRecord};
use crate::replica::Partition;
use crate::Broker;

pub use topic::SCHEMAS_TOPIC;

/// The name of the registration endpoint that carries a broker's registry address (no
/// Kafka listener can have it: listener names are letters, digits and `_`).
pub const REGISTRY_ENDPOINT: &str = "@registry";

/// How long a write waits for the leader's log to be committed before it gives up.
const COMMIT_WAIT: Duration = Duration::from_secs(10);

/// Where a registry request must go when this broker cannot answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Another broker's registry listener.
    Forward {
        /// Its node id.
        node_id: i32,
        /// Its registry host.
        host: String,
        /// Its registry port.
        port: i32,
    },
    /// Nobody can answer now (no leader, leader without a registry listener, writes
    /// not committing): retry later.
    Unavailable(String),
}

/// Why a registry request was not answered here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryFailure {
    /// The operation's own error (Confluent's codes).
    Registry(RegistryError),
    /// Send the request elsewhere or retry.
    Route(Route),
}

impl From<RegistryError> for RegistryFailure {
    fn from(e: RegistryError) -> Self {
        Self::Registry(e)
    }
}

/// The local copy.
#[derive(Default)]
struct LocalCopy {
    registry: Registry,
    /// The next offset to apply.
    next: i64,
    /// The `_schemas` topic the copy was built from (a re-created topic starts over).
    topic_id: Uuid,
}

/// The registry state of this broker. See the module docs.
#[derive(Default)]
pub struct RegistryService {
    copy: parking_lot::RwLock<LocalCopy>,
    /// `copy.next`, readable without the lock.
    next: AtomicI64,
    /// One catch-up at a time.
    catching_up: tokio::sync::Mutex<()>,
    /// One write at a time.
    writer: tokio::sync::Mutex<()>,
    /// Records that did not decode (skipped, logged).
    bad_records: AtomicI64,
    /// The copy of a broker without a replica: its fetcher's state.
    tail: tail::Tail,
}

impl RegistryService {
    /// Records of `_schemas` that were skipped because they did not decode.
    pub fn bad_records(&self) -> i64 {
        self.bad_records.load(Ordering::Relaxed)
    }

    fn read<T>(&self, f: impl FnOnce(&Registry) -> T) -> T {
        f(&self.copy.read().registry)
    }

    /// Applies `records` (committed, in offset order, read from `from` of the topic
    /// `topic_id`) and moves the copy on to `reached`; false, applying nothing, when the
    /// copy is no longer at `from` (the other path applied them meanwhile). A copy of
    /// another topic (a re-created `_schemas`) starts over.
    fn apply_from(
        &self,
        topic_id: Uuid,
        from: i64,
        reached: i64,
        records: &[LoadedRecord],
    ) -> bool {
        let mut c = self.copy.write();
        if c.topic_id != topic_id {
            *c = LocalCopy {
                topic_id,
                ..LocalCopy::default()
            };
        }
        if c.next != from {
            return false;
        }
        for r in records.iter().filter(|r| !r.control) {
            if let Err(e) = c.registry.apply(&r.key, r.value.as_deref()) {
                self.bad_records.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(offset = r.offset, error = %e, "{SCHEMAS_TOPIC}: record skipped");
            }
        }
        c.next = reached.max(from);
        self.next.store(c.next, Ordering::Release);
        drop(c);
        self.tail.progressed();
        true
    }

    /// Applies the committed records of `p` below `upto` that the copy lacks.
    async fn catch_up(&self, p: &Arc<Partition>, upto: i64) -> Result<(), RegistryError> {
        if self.next.load(Ordering::Acquire) >= upto && self.copy.read().topic_id == p.topic_id {
            return Ok(());
        }
        let _one = self.catching_up.lock().await;
        loop {
            let (from, same_topic) = {
                let c = self.copy.read();
                (c.next, c.topic_id == p.topic_id)
            };
            let from = if same_topic { from } else { 0 };
            if from >= upto && same_topic {
                return Ok(());
            }
            let part = Arc::clone(p);
            let (records, reached) =
                tokio::task::spawn_blocking(move || keyed::read_range_blocking(&part, from, upto))
                    .await
                    .map_err(|e| RegistryError::Store(format!("reading {SCHEMAS_TOPIC}: {e}")))?
                    .map_err(|e| RegistryError::Store(format!("reading {SCHEMAS_TOPIC}: {e}")))?;
            if !self.apply_from(p.topic_id, from, reached, &records) {
                continue;
            }
            if reached <= from {
                // The log ends below `upto` (it cannot, for committed offsets): stop.
                return Ok(());
            }
        }
    }
}

impl Broker {
    /// Answers a cheap read (a map lookup, no schema parsed) from this broker's copy of
    /// the registry, caught up to what is committed, on the calling task. Before
    /// `_schemas` exists the registry is empty.
    pub async fn registry_read<T>(
        self: &Arc<Self>,
        f: impl FnOnce(&Registry) -> T,
    ) -> Result<T, RegistryFailure> {
        if !self.registry_caught_up().await? {
            return Ok(f(&Registry::new()));
        }
        Ok(self.registry.read(f))
    }

    /// Like [`Broker::registry_read`], for reads that parse schemas or compare them
    /// (CPU-heavy): `f` runs on a blocking thread.
    pub async fn registry_read_blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Registry) -> T + Send + 'static,
    ) -> Result<T, RegistryFailure> {
        let exists = self.registry_caught_up().await?;
        let broker = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            if exists {
                broker.registry.read(f)
            } else {
                f(&Registry::new())
            }
        })
        .await
        .map_err(|e| RegistryFailure::Registry(RegistryError::Store(e.to_string())))
    }

    /// Catches the copy up to the committed records; false while `_schemas` does not
    /// exist. On any broker but the leader, the copy is also caught up to the leader's
    /// high watermark through the tail (without a replica here, a route when it cannot
    /// be; a follower answers from its own replica when the leader cannot say).
    async fn registry_caught_up(self: &Arc<Self>) -> Result<bool, RegistryFailure> {
        if self.meta.image().topic(SCHEMAS_TOPIC).is_none() {
            return Ok(false);
        }
        let Some(p) = self.replicas.get(SCHEMAS_TOPIC, 0) else {
            self.registry_tail_caught_up(false).await?;
            return Ok(true);
        };
        self.registry
            .catch_up(&p, p.high_watermark())
            .await
            .map_err(RegistryFailure::Registry)?;
        if p.leading_epoch().is_none() {
            // A follower's high watermark trails the leader's by a fetch: a registration
            // acknowledged before this read may lie above it.
            self.registry_tail_caught_up(true).await?;
        }
        Ok(true)
    }

    /// Makes a write: on the leader of `_schemas`-0, computes `op` on the state holding
    /// every record of the log, appends its records with `acks=all` and answers once they
    /// are committed and applied; elsewhere, [`Route::Forward`] to the leader. `op`
    /// parses and compares schemas: it runs on a blocking thread.
    pub async fn registry_write<T: Send + 'static>(
        self: &Arc<Self>,
        op: impl FnOnce(&Registry) -> Result<Effect<T>, RegistryError> + Send + 'static,
    ) -> Result<T, RegistryFailure> {
        self.ensure_schemas_topic().await.map_err(|e| {
            RegistryFailure::Route(Route::Unavailable(format!(
                "cannot create {SCHEMAS_TOPIC}: {e}"
            )))
        })?;
        let p = match self.replicas.get(SCHEMAS_TOPIC, 0) {
            Some(p) if p.leading_epoch().is_some() => p,
            _ => return Err(RegistryFailure::Route(self.registry_leader_route())),
        };
        let _writer = self.registry.writer.lock().await;
        let end = self.wait_committed(&p).await?;
        self.registry.catch_up(&p, end).await?;
        let broker = Arc::clone(self);
        let effect = tokio::task::spawn_blocking(move || broker.registry.read(op))
            .await
            .map_err(|e| RegistryFailure::Registry(RegistryError::Store(e.to_string())))??;
        if effect.records.is_empty() {
            return Ok(effect.answer);
        }
        let records: Vec<keyed::KeyedRecord> = effect
            .records
            .into_iter()
            .map(|r| (Bytes::from(r.key), r.value.map(Bytes::from)))
            .collect();
        let unavailable = |why: String| {
            RegistryFailure::Route(Route::Unavailable(format!("{SCHEMAS_TOPIC}: {why}")))
        };
        let pending = keyed::append(&p, records, now_ms(), self.config.flush_policy)
            .map_err(|e| unavailable(e.to_string()))?;
        let last = tokio::time::timeout(COMMIT_WAIT, pending.committed())
            .await
            .map_err(|_| unavailable("the write was not replicated in time".to_string()))?
            .map_err(|e| unavailable(e.to_string()))?;
        self.registry.catch_up(&p, last + 1).await?;
        Ok(effect.answer)
    }

    /// Waits until the leader's whole log is committed (high watermark = log end);
    /// answers that offset.
    async fn wait_committed(&self, p: &Arc<Partition>) -> Result<i64, RegistryFailure> {
        let deadline = tokio::time::Instant::now() + COMMIT_WAIT;
        loop {
            let changed = p.visible_changed();
            let end = p.log_end_offset();
            if p.leading_epoch().is_none() {
                return Err(RegistryFailure::Route(self.registry_leader_route()));
            }
            if p.high_watermark() >= end {
                return Ok(end);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(RegistryFailure::Route(Route::Unavailable(format!(
                    "{SCHEMAS_TOPIC} is not fully replicated (high watermark {} below log end {end})",
                    p.high_watermark()
                ))));
            }
        }
    }

    /// Where the leader of `_schemas`-0 serves the registry.
    fn registry_leader_route(&self) -> Route {
        let image = self.meta.image();
        let Some(part) = image.partition(SCHEMAS_TOPIC, 0) else {
            return Route::Unavailable(format!("{SCHEMAS_TOPIC} does not exist yet"));
        };
        if part.leader < 0 {
            return Route::Unavailable(format!("{SCHEMAS_TOPIC} has no leader"));
        }
        if part.leader == self.config.node_id {
            return Route::Unavailable(format!(
                "this broker is becoming the leader of {SCHEMAS_TOPIC}"
            ));
        }
        let endpoint = image
            .brokers()
            .find(|b| b.node_id == part.leader)
            .and_then(|b| {
                b.endpoints
                    .iter()
                    .find(|e| e.listener == REGISTRY_ENDPOINT)
                    .map(|e| (e.host.clone(), e.port))
            });
        match endpoint {
            Some((host, port)) => Route::Forward {
                node_id: part.leader,
                host,
                port,
            },
            None => Route::Unavailable(format!(
                "broker {}, the leader of {SCHEMAS_TOPIC}, serves no registry",
                part.leader
            )),
        }
    }
}
