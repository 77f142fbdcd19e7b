//! The requests brokers send the active controller and its answers, as JSON over the
//! Raft forwarding channel (`MetadataManager::request_within`).

use serde::{Deserialize, Serialize};
use strata_meta::MetadataRecord;
use uuid::Uuid;

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
    /// Some of a broker's replicas are offline (a failed log directory): they leave
    /// their ISRs and leaderships and are not chosen again until the broker restarts
    /// (`election::take_replicas_offline`).
    ReplicasOffline {
        /// The broker.
        node_id: i32,
        /// Its current registration (a report from an earlier run changes nothing).
        incarnation: Uuid,
        /// The offline replicas: (topic id, partition).
        partitions: Vec<(Uuid, i32)>,
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
