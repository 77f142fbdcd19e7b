//! What the group and transaction coordinators share about the internal-topic
//! partitions they serve (`__consumer_offsets`, `__transaction_state`): which ones this
//! broker leads, following metadata images, loading before the listener opens, and a
//! bounded wait for loads to finish. Each coordinator keeps its own state, leases and
//! replay (`group/loading.rs`, `txn/loading.rs`); this is the driving around them.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use strata_meta::MetadataImage;
use tokio::sync::Notify;

use crate::Broker;

/// How long [`catch_up`] waits for loads to finish.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(10);

/// The partitions of `topic` that `node_id` leads in `image`, with their leader epochs.
pub(crate) fn led_partitions(
    image: &MetadataImage,
    topic: &str,
    node_id: i32,
) -> HashMap<i32, i32> {
    image
        .topic(topic)
        .map(|t| {
            t.partitions
                .iter()
                .filter(|p| p.leader == node_id)
                .map(|p| (p.partition, p.leader_epoch))
                .collect()
        })
        .unwrap_or_default()
}

/// A coordinator whose state is loaded from the partitions of an internal topic this
/// broker leads.
pub(crate) trait PartitionLoads: Send + Sync + 'static {
    /// One partition to read from its log.
    type Job: Send + 'static;
    /// The coordinator's name in logs ("groups", "transactions").
    const WHAT: &'static str;
    /// This coordinator in `broker`.
    fn of(broker: &Broker) -> &Self;
    /// Brings the served partitions in line with the image published at `index`;
    /// returns the loads to run.
    fn reconcile(&self, node_id: i32, index: u64, image: &MetadataImage) -> Vec<Self::Job>;
    /// Runs one load. Blocking.
    fn run_load_blocking(&self, broker: &Arc<Broker>, job: Self::Job);
    /// Whether every partition this broker leads in `image` is loaded at its epoch.
    fn all_loaded(&self, image: &MetadataImage, node_id: i32) -> bool;
    /// Woken whenever a load finishes.
    fn load_done(&self) -> &Notify;
    /// Before the start-up loads (after subscribing to images).
    fn on_start(&self, _index: u64, _image: &MetadataImage) {}
    /// After each new image's loads are started.
    fn on_image(_broker: &Arc<Broker>) {}
}

/// Reconciles `C` with the newest image and starts the loads it calls for on the
/// blocking pool.
pub(crate) fn follow_image<C: PartitionLoads>(broker: &Arc<Broker>) {
    let (index, image) = broker.meta.current();
    for job in C::of(broker).reconcile(broker.config.node_id, index, &image) {
        let b = Arc::clone(broker);
        tokio::task::spawn_blocking(move || C::of(&b).run_load_blocking(&b, job));
    }
}

/// At start-up, on a blocking thread: loads every partition this broker leads before
/// the listener opens, then follows image changes.
pub(crate) fn start_blocking<C: PartitionLoads>(broker: &Arc<Broker>) {
    // Subscribed first, so no image published during the loads is missed.
    let images = broker.meta.raft().subscribe();
    let (index, image) = broker.meta.current();
    let c = C::of(broker);
    c.on_start(index, &image);
    for job in c.reconcile(broker.config.node_id, index, &image) {
        c.run_load_blocking(broker, job);
    }
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            rt.spawn(watch_images::<C>(Arc::downgrade(broker), images));
        }
        Err(e) => tracing::error!(error = %e, "cannot follow metadata for {}", C::WHAT),
    }
}

/// Waits (bounded) until every partition this broker leads in the current image is
/// loaded: a request that just created the topic is then served at once.
pub(crate) async fn catch_up<C: PartitionLoads>(broker: &Arc<Broker>) {
    let deadline = tokio::time::Instant::now() + CATCH_UP_TIMEOUT;
    let c = C::of(broker);
    loop {
        let done = c.load_done().notified();
        tokio::pin!(done);
        done.as_mut().enable();
        follow_image::<C>(broker);
        let all_loaded = c.all_loaded(&broker.meta.image(), broker.config.node_id);
        if all_loaded || tokio::time::timeout_at(deadline, done).await.is_err() {
            return;
        }
    }
}

/// Follows metadata images: each one may move leadership of the topic's partitions.
/// Holds the broker weakly so a stopped broker is not kept alive; ends when the broker
/// or the image source is gone.
async fn watch_images<C: PartitionLoads>(
    broker: Weak<Broker>,
    mut images: tokio::sync::watch::Receiver<(u64, Arc<MetadataImage>)>,
) {
    while images.changed().await.is_ok() {
        let Some(broker) = broker.upgrade() else {
            return;
        };
        follow_image::<C>(&broker);
        C::on_image(&broker);
    }
}
