//! The controller's and every broker's periodic work: the active controller's round
//! (fencing silent brokers, elections, preferred-leader moves, finishing
//! reassignments) and each broker's heartbeat (with fencing itself while its data dir
//! does not take writes).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_meta::controller::election::{self, AlterIsrError};
use strata_meta::controller::reassign;
use strata_meta::MetadataImage;
use tokio::sync::watch;

use super::{leader_elections, ControllerRequest, ControllerResponse};
use crate::Broker;

/// On the leader: fences brokers whose heartbeats stopped, elects leaders for offline
/// partitions and moves leadership back to preferred replicas.
pub(crate) async fn controller_loop(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The last image in which no leader needed electing or moving: elections and
    // preferred-leader moves depend only on brokers and partitions, so while those are
    // unchanged the scans over every partition are skipped.
    let mut settled: Option<MetadataImage> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if !broker.meta.raft().is_leader() {
            *broker.controller.leader_since.lock() = None;
            settled = None;
            continue;
        }
        let since = {
            let mut since = broker.controller.leader_since.lock();
            *since.get_or_insert_with(|| {
                let fresh = broker.controller.fresh_heartbeats(broker.config.node_id);
                *broker.controller.heartbeats.lock() = fresh;
                Instant::now()
            })
        };
        let timeout = broker.config.broker_session_timeout;
        let heartbeats = broker.controller.heartbeats.lock().clone();
        let gone = refused_brokers(&broker, &heartbeats).await;
        // The last word from the earliest broker fenced this round, when that moves
        // leaders: the start of the election time.
        let mut lost_at: Option<Instant> = None;
        let response = broker
            .propose_on_leader(None, |current| {
                let unchanged = settled
                    .as_ref()
                    .is_some_and(|s| s.same_brokers_and_topics(current));
                let mut image = current.clone();
                let mut records = Vec::new();
                let silent: Vec<i32> = image
                    .brokers()
                    .filter(|b| !b.fenced)
                    // The controller's own broker is alive: it is running this.
                    .filter(|b| b.node_id != broker.config.node_id)
                    .filter(|b| {
                        gone.contains(&b.node_id)
                            || heartbeats
                                .get(&b.node_id)
                                .copied()
                                .unwrap_or(since)
                                .elapsed()
                                > timeout
                    })
                    .map(|b| b.node_id)
                    .collect();
                if silent.is_empty() && unchanged {
                    return Ok(records);
                }
                let last_heard = silent
                    .iter()
                    .map(|n| heartbeats.get(n).copied().unwrap_or(since))
                    .min();
                for node in silent {
                    tracing::warn!(node, "broker missed its heartbeats: fencing it");
                    let fence = election::fence_broker(&image, node);
                    image = image
                        .applied(fence.iter())
                        .map_err(|_| AlterIsrError::UnknownPartition)?;
                    records.extend(fence);
                }
                let elect = election::elect_offline_leaders(&image);
                image = image
                    .applied(elect.iter())
                    .map_err(|_| AlterIsrError::UnknownPartition)?;
                records.extend(elect);
                let preferred = if broker.config.auto_leader_rebalance {
                    election::preferred_leader_moves(&image)
                } else {
                    Vec::new()
                };
                image = image
                    .applied(preferred.iter())
                    .map_err(|_| AlterIsrError::UnknownPartition)?;
                records.extend(preferred);
                // Reassignments whose targets are all in sync (normally completed with
                // the ISR change itself; this catches any left, e.g. across failover).
                records.extend(reassign::complete_reassignments(&image));
                // Fencing a leader moves its partitions (in the fence records themselves,
                // or by electing offline ones): that is an election to time.
                if leader_elections(current, &records) > 0 {
                    lost_at = last_heard;
                }
                settled = records.is_empty().then(|| current.clone());
                Ok(records)
            })
            .await;
        match response {
            ControllerResponse::Unavailable { reason } => {
                tracing::debug!(%reason, "controller round skipped");
            }
            ControllerResponse::Committed { .. } => {
                if let Some(lost) = lost_at {
                    let took = lost.elapsed().as_secs_f64();
                    broker.metrics.leader_election_seconds.observe(took);
                }
            }
            _ => {}
        }
    }
}

/// Brokers that are late with their heartbeats (two intervals) and whose Kafka port
/// refuses connections: the process is gone, so there is no need to wait out the whole
/// session timeout. (A broker cut off by the network times out instead and is fenced
/// by the session timeout.) A new controller has heard from nobody yet, so it probes
/// every broker at once: when the old controller died with a partition leader (often
/// the same process), that leader is fenced without waiting two more intervals.
async fn refused_brokers(broker: &Arc<Broker>, heartbeats: &HashMap<i32, Instant>) -> Vec<i32> {
    let late_after = broker.config.broker_heartbeat_interval * 2;
    let image = broker.meta.image();
    let probes = image
        .brokers()
        .filter(|b| !b.fenced && b.node_id != broker.config.node_id)
        .filter(|b| {
            heartbeats
                .get(&b.node_id)
                .is_none_or(|last| last.elapsed() > late_after)
        })
        .map(|b| {
            let addr = format!("{}:{}", b.host, b.port);
            let id = b.node_id;
            async move {
                let probe = tokio::time::timeout(
                    Duration::from_millis(100),
                    tokio::net::TcpStream::connect(addr),
                )
                .await;
                match probe {
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Some(id),
                    _ => None,
                }
            }
        });
    futures::future::join_all(probes)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Asks the controller to fence this broker when its data dir stopped taking writes
/// (and others can take over), and registers it again once writes work. Returns whether
/// the broker is to stay fenced (no heartbeat: it would only be told to register).
async fn fence_while_disk_fails(broker: &Arc<Broker>, fenced: &mut bool) -> bool {
    let problem = broker.probe_data_dir().await;
    match (problem, *fenced) {
        (Some(problem), false) => {
            let image = broker.meta.image();
            let others = image
                .brokers()
                .any(|b| b.node_id != broker.config.node_id && !b.fenced);
            if !others {
                return false;
            }
            let req = ControllerRequest::ControlledShutdown {
                node_id: broker.config.node_id,
            };
            let timeout = broker.config.broker_session_timeout;
            match broker.meta.request_within(&req, timeout).await {
                Ok(ControllerResponse::Committed { .. }) => {
                    tracing::error!(%problem, "data dir does not take writes: this broker is fenced until it does");
                    *fenced = true;
                }
                other => {
                    tracing::warn!(%problem, ?other, "data dir does not take writes; fencing this broker failed")
                }
            }
            *fenced
        }
        (None, true) => match broker.register_self().await {
            Ok(()) => {
                tracing::warn!("data dir takes writes again: registered");
                *fenced = false;
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "data dir takes writes again; registering failed");
                true
            }
        },
        (Some(_), true) => true,
        (None, false) => false,
    }
}

/// How long one heartbeat may wait for the controller's answer: well within the session
/// timeout, so that a heartbeat stuck on a controller that stopped (paused, cut off)
/// leaves time for the next ones to reach the new controller before it fences anyone.
pub(crate) fn heartbeat_timeout(interval: Duration, session: Duration) -> Duration {
    (session / 3).max(interval).min(session)
}

/// Every broker: tells the controller it is alive, and registers again when told to.
/// While its data dir does not take writes (a full disk), it has itself fenced instead,
/// so leadership and ISR membership move to brokers that can store data, and registers
/// again once writes work (Kafka takes a failed log dir's partitions offline alike).
pub(crate) async fn heartbeat_loop(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let interval = broker.config.broker_heartbeat_interval;
    let timeout = heartbeat_timeout(interval, broker.config.broker_session_timeout);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut disk_fenced = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if fence_while_disk_fails(&broker, &mut disk_fenced).await {
            continue;
        }
        if crate::replica::hand_over_wanted() {
            tokio::spawn(crate::replica::hand_over_damaged_leaderships(Arc::clone(
                &broker,
            )));
        }
        let req = ControllerRequest::Heartbeat {
            node_id: broker.config.node_id,
            incarnation: broker.incarnation,
        };
        match broker.meta.request_within(&req, timeout).await {
            Ok(ControllerResponse::Heartbeat {
                must_register,
                controller,
            }) => {
                broker
                    .controller
                    .answered_by
                    .lock()
                    .insert(controller, Instant::now());
                if must_register {
                    tracing::info!("controller asks this broker to register again");
                    if let Err(e) = broker.register_self().await {
                        tracing::warn!(error = %e, "registration failed");
                    }
                }
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "heartbeat failed"),
        }
    }
}
