//! The records of the cluster metadata log.
//!
//! Every change to cluster metadata is one of these records. They are plain serde
//! types so the same values can be written to the local metadata file today and
//! replicated through openraft later. New kinds of record (ISR changes, ACLs, SCRAM
//! credentials, quotas, ...) are added as new variants; existing variants never
//! change shape, because old logs must keep replaying.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One change to the cluster metadata.
///
/// Serialized internally tagged (`{"type": "CreateTopic", ...}`) so the on-disk JSON
/// reads naturally and new variants do not disturb old ones.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type")]
pub enum MetadataRecord {
    /// A broker joined (or re-joined with a new incarnation) the cluster.
    RegisterBroker {
        /// The broker's `node.id`.
        node_id: i32,
        /// The host clients should connect to.
        host: String,
        /// The port clients should connect to.
        port: i32,
        /// The broker's `broker.rack`, if set.
        rack: Option<String>,
        /// Random id chosen at each broker start, to tell restarts apart.
        incarnation: Uuid,
        /// Every listener's advertised address (`host`/`port` are the inter-broker
        /// listener's). Empty in registrations written before named listeners.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        endpoints: Vec<BrokerEndpoint>,
    },
    /// A broker was removed from the cluster.
    UnregisterBroker {
        /// The broker's `node.id`.
        node_id: i32,
    },
    /// A topic was created (its partitions follow as [`MetadataRecord::CreatePartition`]).
    CreateTopic {
        /// The topic name.
        name: String,
        /// The topic's id; never the nil UUID.
        topic_id: Uuid,
        /// Topic-level config overrides.
        configs: BTreeMap<String, String>,
    },
    /// A partition of an existing topic was created.
    CreatePartition {
        /// The id of the topic the partition belongs to.
        topic_id: Uuid,
        /// The partition index; partitions are created in order 0, 1, 2, ...
        partition: i32,
        /// Replica broker ids, preferred leader first.
        replicas: Vec<i32>,
        /// In-sync replicas, a subset of `replicas`.
        isr: Vec<i32>,
        /// The leader broker id, or -1 for none.
        leader: i32,
        /// The leader epoch.
        leader_epoch: i32,
    },
    /// A topic and all its partitions were deleted.
    DeleteTopic {
        /// The id of the deleted topic.
        topic_id: Uuid,
    },
    /// A topic config override was set (`Some`) or removed (`None`).
    SetTopicConfig {
        /// The id of the topic.
        topic_id: Uuid,
        /// The config name, e.g. `retention.ms`.
        key: String,
        /// The new value, or `None` to fall back to the default.
        value: Option<String>,
    },
    /// A dynamic broker config was set (`Some`) or removed (`None`), for one broker
    /// (`node_id`) or as the cluster-wide default (`None`). Keys are Kafka's broker
    /// config names (`log.retention.ms`, ...).
    SetBrokerConfig {
        /// The broker, or `None` for the cluster-wide default.
        node_id: Option<i32>,
        /// The config name.
        key: String,
        /// The new value, or `None` to remove the dynamic value.
        value: Option<String>,
    },
    /// A broker missed its heartbeats (or shut down): it is fenced and leads nothing.
    /// A later [`MetadataRecord::RegisterBroker`] of the same node unfences it.
    FenceBroker {
        /// The broker's `node.id`.
        node_id: i32,
    },
    /// A partition's leader and/or ISR changed (election, ISR shrink or expand).
    ChangePartition {
        /// The id of the topic.
        topic_id: Uuid,
        /// The partition index.
        partition: i32,
        /// The new leader, or -1 for none (offline).
        leader: i32,
        /// The leader epoch: grows by one whenever the leader changes.
        leader_epoch: i32,
        /// The new in-sync replicas, a subset of the replicas.
        isr: Vec<i32>,
        /// Grows by one on every change of the partition, so a stale ISR request
        /// (based on an older state) is recognised.
        partition_epoch: i32,
    },
    /// A block of producer ids was handed out: ids below `next_producer_id` are taken.
    ProducerIdsAllocated {
        /// The first id not yet allocated; only ever grows.
        next_producer_id: i64,
    },
    /// A user's SCRAM credential for one mechanism was set (`Some`) or removed (`None`).
    /// Only salted keys are stored, never a password.
    SetScramCredential {
        /// The user name (the principal is `User:<user>`).
        user: String,
        /// Kafka's mechanism id: 1 = SCRAM-SHA-256, 2 = SCRAM-SHA-512.
        mechanism: i8,
        /// The credential, or `None` to delete it.
        credential: Option<ScramCredentialRecord>,
    },
    /// An ACL was created.
    CreateAcl {
        /// The ACL.
        acl: AclRecord,
    },
    /// An ACL was deleted.
    DeleteAcl {
        /// The ACL (equal in every field to a created one).
        acl: AclRecord,
    },
    /// A client quota (KIP-546) was set (`Some`) or removed (`None`) for one entity,
    /// as Kafka's `ClientQuotaRecord`: the entity is its components (`user`,
    /// `client-id`, `ip`; a `None` name is `<default>`), kept sorted by type.
    SetClientQuota {
        /// The entity's components.
        entity: Vec<QuotaEntityPart>,
        /// The quota key, e.g. `producer_byte_rate`.
        key: String,
        /// The new value, or `None` to remove it.
        #[serde(default)]
        value: Option<f64>,
    },
    /// A partition's replica set changed (KIP-455 reassignment: started, changed,
    /// completed or cancelled): its whole new state. While a reassignment is pending,
    /// `replicas` is the target followed by the replicas being removed, and
    /// `adding_replicas` / `removing_replicas` are not both empty; a record with both
    /// empty ends it.
    ReassignPartition {
        /// The id of the topic.
        topic_id: Uuid,
        /// The partition index.
        partition: i32,
        /// The new replica list (during a move: target, then those being removed).
        replicas: Vec<i32>,
        /// The new in-sync replicas, a subset of `replicas`.
        isr: Vec<i32>,
        /// The new leader, or -1 for none.
        leader: i32,
        /// The leader epoch (grows by one with every replica-set change).
        leader_epoch: i32,
        /// Grows by one on every change of the partition.
        partition_epoch: i32,
        /// Replicas of the target that were not replicas before the move.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        adding_replicas: Vec<i32>,
        /// Replicas that leave when the move completes.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        removing_replicas: Vec<i32>,
    },
    /// Some replicas of a broker went offline (a failed log directory): they lead
    /// nothing and do not join ISRs until the broker registers with a new incarnation
    /// (a restart), as if the broker were fenced for those partitions only. Applies only
    /// to the broker's current registration (`incarnation`), and only to partitions
    /// that exist and list the broker as a replica.
    ReplicasOffline {
        /// The broker's `node.id`.
        node_id: i32,
        /// The registration the report comes from.
        incarnation: Uuid,
        /// The offline replicas: (topic id, partition index).
        partitions: Vec<(Uuid, i32)>,
    },
}

/// One component of a client-quota entity.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QuotaEntityPart {
    /// `user`, `client-id` or `ip`.
    pub entity_type: String,
    /// The name, or `None` for the type's `<default>`.
    #[serde(default)]
    pub name: Option<String>,
}

/// One listener of a broker, as clients on that listener are told to reach it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct BrokerEndpoint {
    /// The listener's name (`PLAINTEXT`, `SECURE`, ...).
    pub listener: String,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
    /// Kafka's security protocol id (0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL).
    pub security_protocol: i16,
}

/// A salted SCRAM credential (RFC 5802): what a server needs to check a proof, and
/// nothing from which the password can be read back.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScramCredentialRecord {
    /// The salt.
    pub salt: Vec<u8>,
    /// H(ClientKey).
    pub stored_key: Vec<u8>,
    /// HMAC(SaltedPassword, "Server Key").
    pub server_key: Vec<u8>,
    /// PBKDF2 iterations.
    pub iterations: u32,
}

/// An ACL binding with Kafka's wire codes (resource type, pattern type, operation,
/// permission), kept as numbers so the metadata log does not depend on the authorizer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclRecord {
    /// Resource type code (2 topic, 3 group, 4 cluster, 5 transactional id, ...).
    pub resource_type: i8,
    /// Resource name (`*` for every resource of the type).
    pub resource_name: String,
    /// Pattern type code (3 literal, 4 prefixed).
    pub pattern_type: i8,
    /// `User:alice`, or `User:*`.
    pub principal: String,
    /// Host, or `*`.
    pub host: String,
    /// Operation code.
    pub operation: i8,
    /// Permission code (2 deny, 3 allow).
    pub permission: i8,
}
