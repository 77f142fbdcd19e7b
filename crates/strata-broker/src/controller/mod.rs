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
//!
//! The requests and answers are in `messages.rs`, the periodic rounds (the
//! controller's, every broker's heartbeat) in `loops.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Instant;

use anyhow::{anyhow, bail};
use strata_meta::controller::election::{self, AlterIsrError};
use strata_meta::controller::reassign;
use strata_meta::{MetadataImage, MetadataRecord};
use strata_proto::error_code;
use strata_raft::ProposeError;
use uuid::Uuid;

use crate::Broker;

mod loops;
mod messages;

pub(crate) use loops::{controller_loop, heartbeat_loop};
pub use messages::{ControllerRequest, ControllerResponse};

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
            ControllerRequest::ReplicasOffline {
                node_id,
                incarnation,
                partitions,
            } => {
                self.propose_on_leader(None, |image| {
                    Ok::<_, AlterIsrError>(election::take_replicas_offline(
                        image,
                        node_id,
                        incarnation,
                        &partitions,
                    ))
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
        AlterIsrError::UnknownPartition => error_code::UNKNOWN_TOPIC_OR_PARTITION,
        AlterIsrError::NotLeader(_) => error_code::NOT_LEADER_OR_FOLLOWER,
        AlterIsrError::FencedLeaderEpoch { .. } => error_code::FENCED_LEADER_EPOCH,
        AlterIsrError::InvalidUpdateVersion { .. } => error_code::INVALID_UPDATE_VERSION,
        AlterIsrError::InvalidIsr(_) => error_code::INVALID_REQUEST,
        AlterIsrError::IneligibleReplica { .. } => error_code::INELIGIBLE_REPLICA,
    }
}

/// Tells the active controller that these replicas of this broker are offline (a
/// failed log directory), for this run of the broker (`Broker::incarnation`). Once it
/// returns `Ok` the change is committed and this broker's image shows it: the replicas
/// have left their ISRs and leaderships. Replicas already offline, or no longer this
/// broker's, are left out by the controller, so asking again is harmless.
pub(crate) async fn report_offline_replicas(
    broker: &Arc<Broker>,
    partitions: Vec<(Uuid, i32)>,
) -> anyhow::Result<()> {
    if partitions.is_empty() {
        return Ok(());
    }
    let req = ControllerRequest::ReplicasOffline {
        node_id: broker.config.node_id,
        incarnation: broker.incarnation,
        partitions,
    };
    let timeout = broker.config.broker_session_timeout;
    match broker.meta.request_within(&req, timeout).await {
        Ok(ControllerResponse::Committed { index }) => {
            broker.meta.raft().wait_applied(index).await;
            Ok(())
        }
        Ok(other) => bail!("the controller did not take the offline replicas: {other:?}"),
        Err(e) => Err(anyhow!("reporting offline replicas to the controller: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
    fn an_offline_replicas_report_reads_back_and_an_ineligible_replica_is_kafkas_107() {
        let req = ControllerRequest::ReplicasOffline {
            node_id: 2,
            incarnation: Uuid::from_u128(5),
            partitions: vec![(Uuid::from_u128(7), 3)],
        };
        let json = serde_json::to_vec(&req).expect("encodes");
        let back: ControllerRequest = serde_json::from_slice(&json).expect("decodes");
        assert!(matches!(
            back,
            ControllerRequest::ReplicasOffline { node_id: 2, partitions, .. }
                if partitions == vec![(Uuid::from_u128(7), 3)]
        ));
        let e = AlterIsrError::IneligibleReplica {
            replica: 2,
            reason: "offline",
        };
        assert_eq!(alter_isr_code(&e), 107);
    }

    #[test]
    fn a_stale_partition_epoch_is_kafkas_invalid_update_version() {
        let e = AlterIsrError::InvalidUpdateVersion { got: 3, current: 4 };
        assert_eq!(alter_isr_code(&e), 95, "not 108, NEW_LEADER_ELECTED");
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
