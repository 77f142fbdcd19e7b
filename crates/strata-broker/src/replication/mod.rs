//! Follower replication: one fetcher task per leader broker copies every partition this
//! broker follows from it (many partitions per Fetch), after truncating each to the
//! leader's epoch boundary (OffsetForLeaderEpoch). Leaders ask the controller for ISR
//! changes (expand on a caught-up fetch, shrink after `replica.lag.time.max.ms`).
//! Replication throttling (KIP-73), leader and follower side, is in `throttle.rs`.

pub mod client;
mod fetcher;
pub(crate) mod login;
pub(crate) mod throttle;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::controller::{ControllerRequest, ControllerResponse};
use crate::replica::{IsrRequest, Partition};
use crate::Broker;

/// Sends an ISR change to the controller in the background; on refusal the leader may
/// ask again later.
pub(crate) fn request_isr_change(broker: &Arc<Broker>, p: &Arc<Partition>, change: IsrRequest) {
    let broker = Arc::clone(broker);
    let p = Arc::clone(p);
    tokio::spawn(async move {
        let req = ControllerRequest::AlterPartition {
            node_id: broker.config.node_id,
            topic_id: p.topic_id,
            partition: p.index,
            leader_epoch: change.leader_epoch,
            partition_epoch: change.partition_epoch,
            isr: change.isr.clone(),
        };
        match broker.meta.request(&req).await {
            Ok(ControllerResponse::Committed { index }) => {
                tracing::info!(topic = %p.topic, partition = p.index, isr = ?change.isr, "ISR changed");
                broker.meta.raft().wait_applied(index).await;
            }
            other => {
                tracing::info!(topic = %p.topic, partition = p.index, isr = ?change.isr, answer = ?other, "ISR change refused");
                p.isr_request_failed();
            }
        }
    });
}

/// How often high watermarks are persisted.
const HW_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(5);

/// Leaders: shrinks ISRs of followers that stopped keeping up.
pub(crate) async fn isr_loop(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let lag = broker.config.replica_lag_time_max;
    let mut tick =
        tokio::time::interval((lag / 4).clamp(Duration::from_millis(50), Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_checkpoint = tokio::time::Instant::now();
    // The partitions this broker leads with followers (the only ones an ISR can
    // shrink in), looked up again only after a metadata change: with 100,000
    // partitions, checking each one every tick was a large part of an idle broker's CPU.
    let mut watched: Option<(u64, Vec<Arc<crate::replica::Partition>>)> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let checkpoint_due = last_checkpoint.elapsed() >= HW_CHECKPOINT_INTERVAL;
        if checkpoint_due {
            last_checkpoint = tokio::time::Instant::now();
        }
        if checkpoint_due {
            // Kafka's replica.high.watermark.checkpoint.interval.ms: a lost value only
            // comes back lower after a crash. One blocking-pool hop for every partition;
            // the log writes only those whose value moved.
            let all = broker.replicas.all();
            let _ = tokio::task::spawn_blocking(move || {
                for p in all {
                    if let Err(e) = p.run_blocking(|log| log.checkpoint_high_watermark()) {
                        tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "cannot checkpoint the high watermark");
                    }
                }
            })
            .await;
        }
        let generation = broker.replicas.generation();
        if watched.as_ref().is_none_or(|(g, _)| *g != generation) {
            watched = Some((
                generation,
                broker.replicas.filter(|p| p.leads_with_followers()),
            ));
        }
        for p in watched.iter().flat_map(|(_, led)| led) {
            if let Some(change) = p.maybe_shrink_isr(lag.as_millis() as i64) {
                tracing::warn!(topic = %p.topic, partition = p.index, isr = ?change.isr, "follower fell behind: shrinking the ISR");
                request_isr_change(&broker, p, change);
            }
        }
    }
}

/// Keeps one fetcher task per leader this broker follows. Sleeps until the roles may
/// have changed (a new replica-manager generation) or a fetcher ended (one with
/// nothing left to follow ends by itself), not on a timer.
pub(crate) async fn fetcher_manager(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let mut fetchers: tokio::task::JoinSet<()> = tokio::task::JoinSet::new();
    // The leader each running fetcher task follows.
    let mut leader_of: HashMap<tokio::task::Id, i32> = HashMap::new();
    let mut generations = broker.replicas.watch_generation();
    loop {
        // Marked seen before the roles are read: a sync after this wakes the next wait.
        generations.borrow_and_update();
        let leaders: std::collections::BTreeSet<i32> = broker
            .replicas
            .all()
            .iter()
            .filter_map(|p| p.following().map(|(leader, _, _)| leader))
            .collect();
        for leader in leaders {
            if !leader_of.values().any(|l| *l == leader) {
                let run = fetcher::run(Arc::clone(&broker), leader, shutdown.clone());
                leader_of.insert(fetchers.spawn(run).id(), leader);
            }
        }
        tokio::select! {
            changed = generations.changed() => {
                if changed.is_err() {
                    // The replica manager is gone: the broker is stopping.
                    let _ = shutdown.changed().await;
                    return;
                }
            }
            Some(ended) = fetchers.join_next_with_id() => {
                let id = match ended {
                    Ok((id, ())) => id,
                    Err(e) => {
                        tracing::error!(error = %e, "a replica fetcher failed: starting it again");
                        // Not in a tight loop if it fails again at once.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        e.id()
                    }
                };
                leader_of.remove(&id);
            }
            _ = shutdown.changed() => {
                fetchers.abort_all();
                return;
            }
        }
    }
}
