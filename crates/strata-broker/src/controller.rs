//! The active controller (the Raft leader's broker) and the requests brokers send it.
//!
//! Every broker sends its requests through [`crate::metadata::MetadataManager`], which
//! forwards them to the current Raft leader; there [`handle`] decides and proposes.
//! Soft state (when each broker last heartbeated) lives only on the leader and starts
//! afresh, with a full session of grace, whenever a node becomes leader; except for
//! the controller it replaces, whose silence it has measured already: its own
//! heartbeats to it went unanswered since `ControllerState::answered_by` last heard from
//! it.
//!
//! Invariant: every proposal made on the leader goes through `propose_lock` after a
//! linearizable read, so each decision is made on the newest committed image.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use strata_meta::controller::election::{self, AlterIsrError};
use strata_meta::controller::reassign;
use strata_meta::{MetadataImage, MetadataRecord};
use strata_raft::ProposeError;
use tokio::sync::watch;
use uuid::Uuid;

use crate::Broker;

/// A request to the active controller.
#[derive(Serialize, Deserialize, Debug)]
pub enum ControllerRequest {
    /// Commit records decided against the image at `based_on` (or unconditionally).
    Propose {
        /// Index of the image the records were decided on.
        based_on: Option<u64>,
        /// The records.
        records: Vec<MetadataRecord>,
    },
    /// A broker is alive.
    Heartbeat {
        /// The broker.
        node_id: i32,
        /// Its current registration.
        incarnation: Uuid,
    },
    /// A partition leader asks for a new ISR (Kafka's AlterPartition).
    AlterPartition {
        /// The leader asking.
        node_id: i32,
        /// The topic.
        topic_id: Uuid,
        /// The partition.
        partition: i32,
        /// The leader epoch the leader is in.
        leader_epoch: i32,
        /// The partition epoch the request is based on.
        partition_epoch: i32,
        /// The ISR asked for.
        isr: Vec<i32>,
    },
    /// A broker is stopping: move leadership away and fence it.
    ControlledShutdown {
        /// The broker.
        node_id: i32,
    },
    /// Describe the metadata quorum (Kafka's DescribeQuorum): only the leader knows
    /// the followers' progress.
    DescribeQuorum,
    /// A partition leader lost part of its log to damage: another ISR member that
    /// still has it should lead (`election::resign_leadership`).
    ResignLeadership {
        /// The leader asking.
        node_id: i32,
        /// The topic.
        topic_id: Uuid,
        /// The partition.
        partition: i32,
        /// The leader epoch the leader is in.
        leader_epoch: i32,
    },
}

/// The controller's answer.
#[derive(Serialize, Deserialize, Debug)]
pub enum ControllerResponse {
    /// Committed at this log index.
    Committed {
        /// Raft log index of the entry.
        index: u64,
    },
    /// The image moved past `based_on`; it is now at `index`.
    Conflict {
        /// The controller's applied index.
        index: u64,
    },
    /// The records do not apply.
    Rejected {
        /// Why.
        reason: String,
    },
    /// No decision could be made (leadership lost, no quorum).
    Unavailable {
        /// Why.
        reason: String,
    },
    /// Answer to a heartbeat: a fenced (or unknown, or re-incarnated) broker must
    /// register again.
    Heartbeat {
        /// Whether the broker must register.
        must_register: bool,
        /// The controller that answered.
        #[serde(default)]
        controller: i32,
    },
    /// Answer to DescribeQuorum.
    Quorum {
        /// The quorum as its leader sees it.
        view: strata_raft::QuorumView,
    },
    /// Answer to AlterPartition: a Kafka error code (0 for success) and a message.
    AlterPartition {
        /// Kafka error code.
        error: i16,
        /// Message for the log.
        message: String,
    },
}

/// Leader-only soft state.
#[derive(Default)]
pub struct ControllerState {
    propose_lock: tokio::sync::Mutex<()>,
    heartbeats: parking_lot::Mutex<HashMap<i32, Instant>>,
    leader_since: parking_lot::Mutex<Option<Instant>>,
    /// On every broker: when each controller last answered this broker's heartbeat.
    answered_by: parking_lot::Mutex<HashMap<i32, Instant>>,
}

impl ControllerState {
    /// The heartbeat table a new controller starts with at `now`: empty (every broker
    /// gets a full session from `now`), except for the controller it replaces, which
    /// this node last heard from at the time its own heartbeat was last answered.
    fn fresh_heartbeats(&self, self_id: i32) -> HashMap<i32, Instant> {
        let answered = self.answered_by.lock();
        answered
            .iter()
            .filter(|(&id, _)| id != self_id)
            .max_by_key(|(_, &at)| at)
            .map(|(&id, &at)| HashMap::from([(id, at)]))
            .unwrap_or_default()
    }
}

fn unavailable(e: impl std::fmt::Display) -> ControllerResponse {
    ControllerResponse::Unavailable {
        reason: e.to_string(),
    }
}

impl Broker {
    /// Registers the forward handler that serves controller requests on this node
    /// whenever it is the Raft leader.
    pub(crate) fn serve_controller_requests(self: &Arc<Self>) {
        let weak: Weak<Broker> = Arc::downgrade(self);
        self.meta
            .raft()
            .set_forward_handler(Arc::new(move |payload: Vec<u8>| {
                let weak = weak.clone();
                Box::pin(async move {
                    let response = match (
                        weak.upgrade(),
                        serde_json::from_slice::<ControllerRequest>(&payload),
                    ) {
                        (Some(b), Ok(req)) => b.handle_controller_request(req).await,
                        (None, _) => unavailable("broker is stopping"),
                        (_, Err(e)) => unavailable(format!("bad controller request: {e}")),
                    };
                    serde_json::to_vec(&response).unwrap_or_default()
                })
            }));
    }

    async fn handle_controller_request(
        self: &Arc<Self>,
        req: ControllerRequest,
    ) -> ControllerResponse {
        match req {
            ControllerRequest::Propose { based_on, records } => {
                self.propose_on_leader(based_on, |_| Ok(records)).await
            }
            ControllerRequest::Heartbeat {
                node_id,
                incarnation,
            } => {
                self.controller
                    .heartbeats
                    .lock()
                    .insert(node_id, Instant::now());
                let image = self.meta.image();
                let must_register = image
                    .broker(node_id)
                    .is_none_or(|b| b.fenced || b.incarnation != incarnation);
                ControllerResponse::Heartbeat {
                    must_register,
                    controller: self.config.node_id,
                }
            }
            ControllerRequest::AlterPartition {
                node_id,
                topic_id,
                partition,
                leader_epoch,
                partition_epoch,
                isr,
            } => {
                self.propose_on_leader(None, |image| {
                    let mut records = election::alter_isr(
                        image,
                        topic_id,
                        partition,
                        node_id,
                        leader_epoch,
                        partition_epoch,
                        &isr,
                    )?;
                    // An ISR expansion may complete a pending reassignment (KIP-455):
                    // decided on the image the change makes, in the same batch.
                    if let Ok(after) = image.applied(records.iter()) {
                        records
                            .extend(reassign::complete_reassignment(&after, topic_id, partition));
                    }
                    Ok(records)
                })
                .await
            }
            ControllerRequest::ResignLeadership {
                node_id,
                topic_id,
                partition,
                leader_epoch,
            } => {
                self.propose_on_leader(None, |image| {
                    election::resign_leadership(image, topic_id, partition, node_id, leader_epoch)
                })
                .await
            }
            ControllerRequest::DescribeQuorum => {
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
                match self.meta.raft().quorum_view(now_ms) {
                    Some(view) => ControllerResponse::Quorum { view },
                    None => unavailable("this node no longer leads the metadata quorum"),
                }
            }
            ControllerRequest::ControlledShutdown { node_id } => {
                self.propose_on_leader(None, |image| {
                    Ok::<_, AlterIsrError>(election::fence_broker(image, node_id))
                })
                .await
            }
        }
    }

    /// Decides on the newest committed image (under the propose lock) and proposes.
    async fn propose_on_leader<F>(&self, based_on: Option<u64>, decide: F) -> ControllerResponse
    where
        F: FnOnce(&MetadataImage) -> Result<Vec<MetadataRecord>, AlterIsrError>,
    {
        let raft = self.meta.raft();
        let _turn = self.controller.propose_lock.lock().await;
        let image = match raft.linearizable_image().await {
            Ok(image) => image,
            Err(e) => return unavailable(e),
        };
        if let Some(b) = based_on {
            let index = raft.applied_index();
            if index != b {
                return ControllerResponse::Conflict { index };
            }
        }
        let records = match decide(&image) {
            Ok(r) => r,
            Err(e) => {
                return ControllerResponse::AlterPartition {
                    error: alter_isr_code(&e),
                    message: e.to_string(),
                }
            }
        };
        if records.is_empty() {
            return ControllerResponse::Committed {
                index: raft.applied_index(),
            };
        }
        let elections = leader_elections(&image, &records);
        match raft.propose(records).await {
            Ok((index, _)) => {
                self.metrics.leader_elections.inc_by(elections);
                ControllerResponse::Committed { index }
            }
            Err(ProposeError::Rejected(reason)) => ControllerResponse::Rejected { reason },
            Err(e) => unavailable(e),
        }
    }
}

/// How many partitions `records` give a new leader (not offline) compared to `image`.
fn leader_elections(image: &MetadataImage, records: &[MetadataRecord]) -> u64 {
    records
        .iter()
        .filter(|r| match r {
            MetadataRecord::ChangePartition {
                topic_id,
                partition,
                leader,
                ..
            } => {
                let before = image
                    .topic_by_id(topic_id)
                    .and_then(|t| t.partition(*partition))
                    .map_or(-1, |p| p.leader);
                *leader >= 0 && *leader != before
            }
            _ => false,
        })
        .count() as u64
}

fn alter_isr_code(e: &AlterIsrError) -> i16 {
    match e {
        AlterIsrError::UnknownPartition => 3,
        AlterIsrError::NotLeader(_) => 6,
        AlterIsrError::FencedLeaderEpoch { .. } => 74,
        AlterIsrError::InvalidUpdateVersion { .. } => 108,
        AlterIsrError::InvalidIsr(_) => 42,
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_controller_counts_the_replaced_ones_silence_and_nobody_elses() {
        let state = ControllerState::default();
        assert!(state.fresh_heartbeats(1).is_empty(), "nothing heard yet");
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(300);
        let t2 = t0 + Duration::from_millis(500);
        state.answered_by.lock().insert(3, t0);
        state.answered_by.lock().insert(2, t1);
        // Node 1 replaces node 2, the controller that answered it last.
        assert_eq!(state.fresh_heartbeats(1), HashMap::from([(2, t1)]));
        // Its own answers (once it leads) never count as another controller's.
        state.answered_by.lock().insert(1, t2);
        assert_eq!(state.fresh_heartbeats(1), HashMap::from([(2, t1)]));
        assert_eq!(state.fresh_heartbeats(2), HashMap::from([(1, t2)]));
    }

    #[test]
    fn a_heartbeat_answer_without_the_controller_id_still_parses() {
        let old = br#"{"Heartbeat":{"must_register":true}}"#;
        let parsed: ControllerResponse = serde_json::from_slice(old).expect("parses");
        assert!(matches!(
            parsed,
            ControllerResponse::Heartbeat {
                must_register: true,
                controller: 0
            }
        ));
    }
}
