//! The in-memory metadata image: the result of applying the metadata log in order.
//!
//! Readers share an image as `Arc<MetadataImage>` and never lock: the writer clones
//! the current image, applies a batch to the clone and swaps the `Arc`. Cloning is
//! O(1) because every map sits behind an `Arc`; the first write to a map after a
//! clone copies that map's spine (pointers, not topics), and changing a topic copies
//! only that topic (`Arc::make_mut`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use thiserror::Error;
use uuid::Uuid;

mod offline;
mod quotas;
mod reassign;
mod security;

pub use reassign::Reassignment;

use crate::records::{AclRecord, BrokerEndpoint, MetadataRecord, ScramCredentialRecord};

/// A registered broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerImage {
    /// The broker's `node.id`.
    pub node_id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
    /// `broker.rack`, if set.
    pub rack: Option<String>,
    /// The incarnation of the latest registration.
    pub incarnation: Uuid,
    /// Every listener's advertised address (empty for old registrations: then
    /// `host`/`port` serve every listener).
    pub endpoints: Vec<BrokerEndpoint>,
    /// Fenced brokers (missed heartbeats, shut down) lead nothing and are not listed
    /// to clients.
    pub fenced: bool,
    /// Replicas of this registration that are offline (a failed log directory):
    /// (topic id, partition). Each is a replica of its partition on this broker; they
    /// lead nothing and join no ISR. Cleared by a registration with a new incarnation.
    pub offline_replicas: BTreeSet<(Uuid, i32)>,
}

impl BrokerImage {
    /// The broker's address on listener `name`: its endpoint of that name, or for a
    /// registration without endpoints its one address; `None` if it lacks the listener.
    pub fn endpoint(&self, name: &str) -> Option<(&str, i32)> {
        if self.endpoints.is_empty() {
            return Some((&self.host, self.port));
        }
        self.endpoints
            .iter()
            .find(|e| e.listener == name)
            .map(|e| (e.host.as_str(), e.port))
    }

    /// Whether this broker's replica of `partition` of `topic_id` is offline.
    pub fn is_offline(&self, topic_id: Uuid, partition: i32) -> bool {
        self.offline_replicas.contains(&(topic_id, partition))
    }
}

/// One partition of a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionImage {
    /// Partition index.
    pub partition: i32,
    /// Replica broker ids, preferred leader first.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Leader broker id, or -1 when the partition has no leader.
    pub leader: i32,
    /// Current leader epoch.
    pub leader_epoch: i32,
    /// Grows on every change of leader or ISR.
    pub partition_epoch: i32,
}

/// A topic with its partitions and config overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicImage {
    /// Topic name.
    pub name: String,
    /// Topic id (never nil).
    pub topic_id: Uuid,
    /// Partitions; `partitions[i].partition == i` always holds.
    pub partitions: Vec<PartitionImage>,
    /// Topic-level config overrides (defaults are not stored).
    pub configs: BTreeMap<String, String>,
    /// Pending reassignments (KIP-455) by partition index.
    pub reassignments: BTreeMap<i32, Reassignment>,
}

impl TopicImage {
    /// The partition with index `partition`, if it exists.
    pub fn partition(&self, partition: i32) -> Option<&PartitionImage> {
        usize::try_from(partition)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }
}

/// Why a record could not be applied. The image is unchanged when `apply` fails.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ApplyError {
    /// A producer-id allocation would hand out ids again.
    #[error("producer id allocation goes back from {current} to {proposed}")]
    ProducerIdsGoBack {
        /// The image's current next id.
        current: i64,
        /// The record's next id.
        proposed: i64,
    },
    /// The record names a topic id the image does not know.
    #[error("unknown topic id {0}")]
    UnknownTopicId(Uuid),
    /// A topic with this name already exists.
    #[error("a topic named '{0}' already exists")]
    TopicNameExists(String),
    /// A topic with this id already exists.
    #[error("a topic with id {0} already exists")]
    TopicIdExists(Uuid),
    /// Topic ids must not be the nil UUID.
    #[error("the nil UUID is not a valid topic id")]
    NilTopicId,
    /// Topic names must not be empty.
    #[error("empty topic name")]
    EmptyTopicName,
    /// Partitions must be created in order 0, 1, 2, ...
    #[error("topic {topic_id}: expected partition {expected}, got {got}")]
    PartitionOutOfOrder {
        /// The topic.
        topic_id: Uuid,
        /// The next partition index the topic accepts.
        expected: i32,
        /// The partition index in the record.
        got: i32,
    },
    /// The partition's replicas/ISR/leader are inconsistent.
    #[error("topic {topic_id} partition {partition}: {reason}")]
    InvalidPartition {
        /// The topic.
        topic_id: Uuid,
        /// The partition index.
        partition: i32,
        /// What is wrong.
        reason: String,
    },
    /// The record names a broker that is not registered.
    #[error("unknown broker {0}")]
    UnknownBroker(i32),
    /// The record is about a registration of the broker that is not its current one.
    #[error("broker {node_id}: incarnation {got} is not the registered one")]
    StaleIncarnation {
        /// The broker.
        node_id: i32,
        /// The incarnation in the record.
        got: Uuid,
    },
    /// A security record (credential, ACL) with a value outside its domain.
    #[error("invalid security record: {0}")]
    InvalidSecurityRecord(String),
    /// A client-quota record with an empty or repeated entity type, an empty key or a
    /// value that is not a finite number.
    #[error("invalid client quota record: {0}")]
    InvalidQuotaRecord(String),
}

/// A batch failed to apply: which record and why.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("record {index} of the batch: {error}")]
pub struct BatchApplyError {
    /// Index of the failing record within the batch.
    pub index: usize,
    /// The failure.
    pub error: ApplyError,
}

/// The cluster metadata as of some offset of the metadata log.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetadataImage {
    brokers: Arc<BTreeMap<i32, Arc<BrokerImage>>>,
    topics_by_id: Arc<BTreeMap<Uuid, Arc<TopicImage>>>,
    topic_ids_by_name: Arc<BTreeMap<String, Uuid>>,
    /// Kept up to date by `apply` so placement can rotate without scanning all topics.
    partition_count: usize,
    /// First producer id not yet allocated (idempotent producers).
    next_producer_id: i64,
    /// Dynamic broker configs: `None` = cluster-wide default, `Some(id)` = one broker.
    broker_configs: Arc<BTreeMap<Option<i32>, BTreeMap<String, String>>>,
    /// SCRAM credentials by (user, mechanism id).
    scram: Arc<BTreeMap<(String, i8), ScramCredentialRecord>>,
    /// ACLs.
    acls: Arc<std::collections::BTreeSet<AclRecord>>,
    /// Client quotas: entity (components sorted by type) → key → value.
    client_quotas: Arc<quotas::ClientQuotas>,
}

impl MetadataImage {
    /// An empty image (no brokers, no topics).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `other` holds the very same brokers and topics as this image (shares
    /// their maps): then no record that registers, fences or removes a broker or changes
    /// a topic or partition came between the two. Pointer comparisons; it may say no
    /// for equal contents, never yes for different ones, as long as the caller keeps
    /// `other` alive (a shared map is copied, never changed in place).
    pub fn same_brokers_and_topics(&self, other: &MetadataImage) -> bool {
        Arc::ptr_eq(&self.brokers, &other.brokers)
            && Arc::ptr_eq(&self.topics_by_id, &other.topics_by_id)
    }

    /// Applies one record. Deterministic and pure: the same records in the same
    /// order always give the same image. On error the image is left unchanged.
    pub fn apply(&mut self, record: &MetadataRecord) -> Result<(), ApplyError> {
        match record {
            MetadataRecord::RegisterBroker {
                node_id,
                host,
                port,
                rack,
                incarnation,
                endpoints,
            } => {
                // The same run registering again (after being fenced) still has the
                // same failed directories; a new run starts with none.
                let offline_replicas = self
                    .brokers
                    .get(node_id)
                    .filter(|b| b.incarnation == *incarnation)
                    .map(|b| b.offline_replicas.clone())
                    .unwrap_or_default();
                let broker = BrokerImage {
                    node_id: *node_id,
                    host: host.clone(),
                    port: *port,
                    rack: rack.clone(),
                    incarnation: *incarnation,
                    endpoints: endpoints.clone(),
                    fenced: false,
                    offline_replicas,
                };
                Arc::make_mut(&mut self.brokers).insert(*node_id, Arc::new(broker));
                Ok(())
            }
            MetadataRecord::FenceBroker { node_id } => {
                let brokers = Arc::make_mut(&mut self.brokers);
                let broker = brokers
                    .get_mut(node_id)
                    .ok_or(ApplyError::UnknownBroker(*node_id))?;
                Arc::make_mut(broker).fenced = true;
                Ok(())
            }
            MetadataRecord::ChangePartition {
                topic_id,
                partition,
                leader,
                leader_epoch,
                isr,
                partition_epoch,
            } => {
                let topic = self.topic_mut(topic_id)?;
                let invalid = |reason: String| ApplyError::InvalidPartition {
                    topic_id: *topic_id,
                    partition: *partition,
                    reason,
                };
                let p = usize::try_from(*partition)
                    .ok()
                    .and_then(|i| topic.partitions.get_mut(i))
                    .ok_or_else(|| invalid("no such partition".into()))?;
                check_partition(&p.replicas, isr, *leader, *leader_epoch).map_err(invalid)?;
                if *leader_epoch < p.leader_epoch || *partition_epoch <= p.partition_epoch {
                    return Err(invalid(format!(
                        "epochs go back: leader epoch {} -> {leader_epoch}, partition epoch {} -> {partition_epoch}",
                        p.leader_epoch, p.partition_epoch
                    )));
                }
                p.leader = *leader;
                p.leader_epoch = *leader_epoch;
                p.isr = isr.clone();
                p.partition_epoch = *partition_epoch;
                Ok(())
            }
            MetadataRecord::UnregisterBroker { node_id } => {
                if !self.brokers.contains_key(node_id) {
                    return Err(ApplyError::UnknownBroker(*node_id));
                }
                Arc::make_mut(&mut self.brokers).remove(node_id);
                Ok(())
            }
            MetadataRecord::CreateTopic {
                name,
                topic_id,
                configs,
            } => self.create_topic(name, *topic_id, configs),
            MetadataRecord::CreatePartition {
                topic_id,
                partition,
                replicas,
                isr,
                leader,
                leader_epoch,
            } => {
                let topic = self.existing_topic(topic_id)?;
                let expected = i32::try_from(topic.partitions.len()).unwrap_or(i32::MAX);
                if *partition != expected {
                    return Err(ApplyError::PartitionOutOfOrder {
                        topic_id: *topic_id,
                        expected,
                        got: *partition,
                    });
                }
                check_partition(replicas, isr, *leader, *leader_epoch).map_err(|reason| {
                    ApplyError::InvalidPartition {
                        topic_id: *topic_id,
                        partition: *partition,
                        reason,
                    }
                })?;
                let image = PartitionImage {
                    partition: *partition,
                    replicas: replicas.clone(),
                    isr: isr.clone(),
                    leader: *leader,
                    leader_epoch: *leader_epoch,
                    partition_epoch: 0,
                };
                self.topic_mut(topic_id)?.partitions.push(image);
                self.partition_count += 1;
                Ok(())
            }
            MetadataRecord::DeleteTopic { topic_id } => {
                let topic = self.existing_topic(topic_id)?;
                let (name, removed) = (topic.name.clone(), topic.partitions.len());
                Arc::make_mut(&mut self.topics_by_id).remove(topic_id);
                Arc::make_mut(&mut self.topic_ids_by_name).remove(&name);
                self.partition_count = self.partition_count.saturating_sub(removed);
                self.forget_offline_replicas(*topic_id, None);
                Ok(())
            }
            MetadataRecord::SetTopicConfig {
                topic_id,
                key,
                value,
            } => {
                let topic = self.topic_mut(topic_id)?;
                match value {
                    Some(v) => {
                        topic.configs.insert(key.clone(), v.clone());
                    }
                    None => {
                        topic.configs.remove(key);
                    }
                }
                Ok(())
            }
            MetadataRecord::SetBrokerConfig {
                node_id,
                key,
                value,
            } => {
                let configs = Arc::make_mut(&mut self.broker_configs);
                let scope = configs.entry(*node_id).or_default();
                match value {
                    Some(v) => {
                        scope.insert(key.clone(), v.clone());
                    }
                    None => {
                        scope.remove(key);
                    }
                }
                if scope.is_empty() {
                    configs.remove(node_id);
                }
                Ok(())
            }
            MetadataRecord::ProducerIdsAllocated { next_producer_id } => {
                if *next_producer_id < self.next_producer_id {
                    return Err(ApplyError::ProducerIdsGoBack {
                        current: self.next_producer_id,
                        proposed: *next_producer_id,
                    });
                }
                self.next_producer_id = *next_producer_id;
                Ok(())
            }
            MetadataRecord::SetScramCredential {
                user,
                mechanism,
                credential,
            } => self.set_scram_credential(user, *mechanism, credential.as_ref()),
            MetadataRecord::CreateAcl { acl } => self.create_acl(acl),
            MetadataRecord::DeleteAcl { acl } => {
                self.delete_acl(acl);
                Ok(())
            }
            MetadataRecord::SetClientQuota { entity, key, value } => {
                self.set_client_quota(entity, key, *value)
            }
            MetadataRecord::ReassignPartition { .. } => self.reassign_partition(record),
            MetadataRecord::ReplicasOffline {
                node_id,
                incarnation,
                partitions,
            } => self.replicas_offline(*node_id, *incarnation, partitions),
        }
    }

    /// Dynamic broker configs of one scope: `None` for the cluster-wide default,
    /// `Some(node_id)` for one broker.
    pub fn broker_configs(&self, node_id: Option<i32>) -> Option<&BTreeMap<String, String>> {
        self.broker_configs.get(&node_id)
    }

    /// Every scope that has dynamic broker configs, with its configs: `None` is the
    /// cluster-wide default, `Some(node_id)` one broker. Ordered with `None` first.
    pub fn all_broker_configs(
        &self,
    ) -> impl Iterator<Item = (Option<i32>, &BTreeMap<String, String>)> {
        self.broker_configs
            .iter()
            .map(|(scope, configs)| (*scope, configs))
    }

    /// The first producer id not yet allocated.
    pub fn next_producer_id(&self) -> i64 {
        self.next_producer_id
    }

    /// Applies a batch to a copy of this image and returns the copy; `self` is not
    /// touched, so a batch is all-or-nothing.
    pub fn applied<'a, I>(&self, records: I) -> Result<MetadataImage, BatchApplyError>
    where
        I: IntoIterator<Item = &'a MetadataRecord>,
    {
        let mut next = self.clone();
        for (index, record) in records.into_iter().enumerate() {
            next.apply(record)
                .map_err(|error| BatchApplyError { index, error })?;
        }
        Ok(next)
    }

    fn create_topic(
        &mut self,
        name: &str,
        topic_id: Uuid,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), ApplyError> {
        if topic_id.is_nil() {
            return Err(ApplyError::NilTopicId);
        }
        if name.is_empty() {
            return Err(ApplyError::EmptyTopicName);
        }
        if self.topic_ids_by_name.contains_key(name) {
            return Err(ApplyError::TopicNameExists(name.to_string()));
        }
        if self.topics_by_id.contains_key(&topic_id) {
            return Err(ApplyError::TopicIdExists(topic_id));
        }
        let topic = TopicImage {
            name: name.to_string(),
            topic_id,
            partitions: Vec::new(),
            configs: configs.clone(),
            reassignments: BTreeMap::new(),
        };
        Arc::make_mut(&mut self.topics_by_id).insert(topic_id, Arc::new(topic));
        Arc::make_mut(&mut self.topic_ids_by_name).insert(name.to_string(), topic_id);
        Ok(())
    }

    fn existing_topic(&self, topic_id: &Uuid) -> Result<&Arc<TopicImage>, ApplyError> {
        self.topics_by_id
            .get(topic_id)
            .ok_or(ApplyError::UnknownTopicId(*topic_id))
    }

    fn topic_mut(&mut self, topic_id: &Uuid) -> Result<&mut TopicImage, ApplyError> {
        Arc::make_mut(&mut self.topics_by_id)
            .get_mut(topic_id)
            .map(Arc::make_mut)
            .ok_or(ApplyError::UnknownTopicId(*topic_id))
    }

    /// The broker with `node_id`, if registered.
    pub fn broker(&self, node_id: i32) -> Option<&Arc<BrokerImage>> {
        self.brokers.get(&node_id)
    }

    /// All registered brokers, ordered by id.
    pub fn brokers(&self) -> impl Iterator<Item = &Arc<BrokerImage>> {
        self.brokers.values()
    }

    /// The topic named `name`, if it exists.
    pub fn topic(&self, name: &str) -> Option<&Arc<TopicImage>> {
        self.topic_ids_by_name
            .get(name)
            .and_then(|id| self.topics_by_id.get(id))
    }

    /// The topic with id `topic_id`, if it exists.
    pub fn topic_by_id(&self, topic_id: &Uuid) -> Option<&Arc<TopicImage>> {
        self.topics_by_id.get(topic_id)
    }

    /// All topics, ordered by name.
    pub fn topics(&self) -> impl Iterator<Item = &Arc<TopicImage>> {
        self.topic_ids_by_name
            .values()
            .filter_map(|id| self.topics_by_id.get(id))
    }

    /// Number of topics.
    pub fn topic_count(&self) -> usize {
        self.topics_by_id.len()
    }

    /// Total number of partitions over all topics.
    pub fn partition_count(&self) -> usize {
        self.partition_count
    }

    /// One partition of a topic, by name.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionImage> {
        self.topic(topic).and_then(|t| t.partition(partition))
    }
}

/// Structural checks on a partition's assignment; returns the reason on failure.
fn check_partition(
    replicas: &[i32],
    isr: &[i32],
    leader: i32,
    leader_epoch: i32,
) -> Result<(), String> {
    if replicas.is_empty() {
        return Err("empty replica list".into());
    }
    if replicas.iter().any(|&r| r < 0) {
        return Err(format!("negative broker id in replicas {replicas:?}"));
    }
    if has_duplicates(replicas) {
        return Err(format!("duplicate broker in replicas {replicas:?}"));
    }
    if has_duplicates(isr) {
        return Err(format!("duplicate broker in isr {isr:?}"));
    }
    if let Some(r) = isr.iter().find(|r| !replicas.contains(r)) {
        return Err(format!("isr member {r} is not a replica"));
    }
    if leader != -1 && !isr.contains(&leader) {
        return Err(format!("leader {leader} is not in the isr {isr:?}"));
    }
    if leader_epoch < 0 {
        return Err(format!("negative leader epoch {leader_epoch}"));
    }
    Ok(())
}

fn has_duplicates(ids: &[i32]) -> bool {
    ids.iter().enumerate().any(|(i, id)| ids[..i].contains(id))
}

#[cfg(test)]
mod tests;
