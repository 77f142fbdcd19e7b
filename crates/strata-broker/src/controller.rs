//! The active controller (the Raft leader's broker) and the requests brokers send it.
//!
//! Every broker sends its requests through [`crate::metadata::MetadataManager`], which
//! forwards them to the current Raft leader; there [`handle`] decides and proposes.
//! Soft state (when each broker last heartbeated) lives only on the leader and starts
//! afresh, with a full session of grace, whenever a node becomes leader.
//!
//! Invariant: every proposal made on the leader goes through `propose_lock` after a
//! linearizable read, so each decision is made on the newest committed image.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use strata_meta::controller::election::{self, AlterIsrError};
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
                ControllerResponse::Heartbeat { must_register }
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
                    election::alter_isr(
                        image,
                        topic_id,
                        partition,
                        node_id,
                        leader_epoch,
                        partition_epoch,
                        &isr,
                    )
                })
                .await
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
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if !broker.meta.raft().is_leader() {
            *broker.controller.leader_since.lock() = None;
            continue;
        }
        let since = {
            let mut since = broker.controller.leader_since.lock();
            *since.get_or_insert_with(|| {
                broker.controller.heartbeats.lock().clear();
                Instant::now()
            })
        };
        let timeout = broker.config.broker_session_timeout;
        let heartbeats = broker.controller.heartbeats.lock().clone();
        let gone = refused_brokers(&broker, &heartbeats).await;
        let response = broker
            .propose_on_leader(None, |image| {
                let mut image = image.clone();
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
                records.extend(election::preferred_leader_moves(&image));
                Ok(records)
            })
            .await;
        if let ControllerResponse::Unavailable { reason } = response {
            tracing::debug!(%reason, "controller round skipped");
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

/// How long one heartbeat may wait for the controller's answer: well within the session
/// timeout, so that a heartbeat stuck on a controller that stopped (paused, cut off)
/// leaves time for the next ones to reach the new controller before it fences anyone.
pub(crate) fn heartbeat_timeout(interval: Duration, session: Duration) -> Duration {
    (session / 3).max(interval).min(session)
}

/// Every broker: tells the controller it is alive, and registers again when told to.
pub(crate) async fn heartbeat_loop(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let interval = broker.config.broker_heartbeat_interval;
    let timeout = heartbeat_timeout(interval, broker.config.broker_session_timeout);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let req = ControllerRequest::Heartbeat {
            node_id: broker.config.node_id,
            incarnation: broker.incarnation,
        };
        match broker.meta.request_within(&req, timeout).await {
            Ok(ControllerResponse::Heartbeat {
                must_register: true,
            }) => {
                tracing::info!("controller asks this broker to register again");
                if let Err(e) = broker.register_self().await {
                    tracing::warn!(error = %e, "registration failed");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "heartbeat failed"),
        }
    }
}
