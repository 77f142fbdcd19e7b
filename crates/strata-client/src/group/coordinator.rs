//! Finding a group's coordinator and talking to it: FindCoordinator, and the offset APIs
//! (OffsetCommit, OffsetFetch) shared by the consumer and the admin client.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    FindCoordinatorRequest, GroupId, OffsetCommitRequest, OffsetFetchRequest, TopicName,
};
use kafka_protocol::protocol::{Request, StrBytes};

use crate::cluster::Cluster;
use crate::connection::Connection;
use crate::error::{codes, ClientError, Result};
use crate::offsets::TopicPartition;

/// FindCoordinator key type for consumer groups.
const KEY_TYPE_GROUP: i8 = 0;
/// FindCoordinator v4 batches keys.
const FIRST_BATCHED_FIND_COORDINATOR: i16 = 4;

/// A committed offset with its metadata string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The next offset to read.
    pub offset: i64,
    /// Free-form text stored with the offset.
    pub metadata: Option<String>,
    /// The leader epoch of the last consumed record, when known.
    pub leader_epoch: Option<i32>,
}

impl OffsetAndMetadata {
    /// An offset without metadata.
    pub fn new(offset: i64) -> Self {
        OffsetAndMetadata {
            offset,
            metadata: None,
            leader_epoch: None,
        }
    }
}

/// Who is committing: a group member (generation and member id) or an admin/simple consumer
/// (generation -1, empty member id; the coordinator accepts that only for an empty group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommitIdentity {
    pub generation: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

impl CommitIdentity {
    /// The identity of a commit made from outside the group.
    pub(crate) fn outsider() -> Self {
        CommitIdentity {
            generation: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Group-scoped errors that say "ask again elsewhere": forget the coordinator and rediscover.
pub(crate) fn is_coordinator_error(code: i16) -> bool {
    matches!(
        code,
        codes::NOT_COORDINATOR | codes::COORDINATOR_NOT_AVAILABLE
    )
}

/// A (lazily discovered, re-discoverable) connection to one group's coordinator. The
/// connection is dedicated, not pooled: a JoinGroup may park on it for a whole rebalance and
/// must not hold up fetch responses to the same broker.
pub(crate) struct CoordinatorLink {
    cluster: Arc<Cluster>,
    group_id: String,
    conn: tokio::sync::Mutex<Option<Arc<Connection>>>,
}

impl CoordinatorLink {
    pub(crate) fn new(cluster: Arc<Cluster>, group_id: &str) -> Arc<CoordinatorLink> {
        Arc::new(CoordinatorLink {
            cluster,
            group_id: group_id.to_string(),
            conn: tokio::sync::Mutex::new(None),
        })
    }

    /// The group id this link serves.
    pub(crate) fn group_id(&self) -> &str {
        &self.group_id
    }

    /// The cluster behind this link.
    pub(crate) fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// The coordinator connection, discovering the coordinator when unknown or disconnected.
    /// Retries retriable discovery errors until the request timeout.
    pub(crate) async fn connection(&self) -> Result<Arc<Connection>> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            if !c.is_closed() {
                return Ok(c.clone());
            }
        }
        let deadline = tokio::time::Instant::now() + self.cluster.config.request_timeout;
        loop {
            let result = match self.find().await {
                Ok(addr) => self.cluster.open(&addr).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(c) => {
                    let c = Arc::new(c);
                    *slot = Some(c.clone());
                    return Ok(c);
                }
                Err(e) if e.is_retriable() && tokio::time::Instant::now() < deadline => {
                    tracing::debug!(group = %self.group_id, error = %e, "coordinator lookup failed; retrying");
                    tokio::time::sleep(self.cluster.config.retry_backoff).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Forgets the coordinator; the next request rediscovers it.
    pub(crate) async fn mark_unknown(&self) {
        *self.conn.lock().await = None;
    }

    /// FindCoordinator: the coordinator's `host:port`.
    async fn find(&self) -> Result<String> {
        let conn = self.cluster.any_connection().await?;
        let version = conn.version_for::<FindCoordinatorRequest>(None)?;
        let mut req = FindCoordinatorRequest::default();
        if version >= FIRST_BATCHED_FIND_COORDINATOR {
            req.coordinator_keys = vec![str_bytes(&self.group_id)];
        } else {
            req.key = str_bytes(&self.group_id);
        }
        if version >= 1 {
            req.key_type = KEY_TYPE_GROUP;
        }
        let resp = conn
            .request(&req, version, self.cluster.config.request_timeout)
            .await?;
        let (code, message, host, port) = if version >= FIRST_BATCHED_FIND_COORDINATOR {
            let c = resp
                .coordinators
                .iter()
                .find(|c| c.key.as_str() == self.group_id)
                .ok_or_else(|| {
                    ClientError::Protocol(format!(
                        "FindCoordinator answered without group '{}'",
                        self.group_id
                    ))
                })?;
            (
                c.error_code,
                c.error_message.clone(),
                c.host.clone(),
                c.port,
            )
        } else {
            (
                resp.error_code,
                resp.error_message.clone(),
                resp.host.clone(),
                resp.port,
            )
        };
        if code != 0 {
            return Err(ClientError::from_code(
                code,
                message.as_ref().map(|m| m.as_str()),
                &format!("finding the coordinator of group '{}'", self.group_id),
            ));
        }
        Ok(format!("{}:{}", host.as_str(), port))
    }

    /// Sends a request to the coordinator. Network failures forget the coordinator so the next
    /// call rediscovers it.
    pub(crate) async fn request<R: Request>(
        &self,
        req: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response> {
        let conn = self.connection().await?;
        match conn.request(req, version, timeout).await {
            Ok(r) => Ok(r),
            Err(e) => {
                if matches!(e, ClientError::Network { .. } | ClientError::Timeout(_)) {
                    self.mark_unknown().await;
                }
                Err(e)
            }
        }
    }

    /// The version to use for `R` on the current coordinator.
    pub(crate) async fn version<R: Request>(&self) -> Result<i16> {
        self.connection().await?.version_for::<R>(None)
    }

    /// One OffsetCommit. Returns the per-partition error codes (0 = committed).
    pub(crate) async fn offset_commit(
        &self,
        who: &CommitIdentity,
        offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<BTreeMap<TopicPartition, i16>> {
        let version = self.version::<OffsetCommitRequest>().await?;
        let mut by_topic: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        for ((t, p), om) in offsets {
            let mut part = OffsetCommitRequestPartition::default()
                .with_partition_index(*p)
                .with_committed_offset(om.offset)
                .with_committed_metadata(om.metadata.as_deref().map(str_bytes));
            if version >= 6 {
                part.committed_leader_epoch = om.leader_epoch.unwrap_or(-1);
            }
            by_topic.entry(t.as_str()).or_default().push(part);
        }
        let mut req = OffsetCommitRequest::default()
            .with_group_id(GroupId(str_bytes(&self.group_id)))
            .with_generation_id_or_member_epoch(who.generation)
            .with_member_id(str_bytes(&who.member_id))
            .with_topics(
                by_topic
                    .into_iter()
                    .map(|(t, ps)| {
                        OffsetCommitRequestTopic::default()
                            .with_name(TopicName(str_bytes(t)))
                            .with_partitions(ps)
                    })
                    .collect(),
            );
        if version <= 4 {
            // -1: keep for the broker's configured retention.
            req.retention_time_ms = -1;
        }
        if version >= 7 {
            req.group_instance_id = who.group_instance_id.as_deref().map(str_bytes);
        }
        let resp = self
            .request(&req, version, self.cluster.config.request_timeout)
            .await?;
        let mut out = BTreeMap::new();
        for t in resp.topics {
            for p in t.partitions {
                out.insert(
                    (t.name.0.as_str().to_string(), p.partition_index),
                    p.error_code,
                );
            }
        }
        for tp in offsets.keys() {
            if !out.contains_key(tp) {
                return Err(ClientError::Protocol(format!(
                    "OffsetCommit response lacks {}-{}",
                    tp.0, tp.1
                )));
            }
        }
        Ok(out)
    }

    /// One OffsetFetch for `partitions` (`None` = every partition the group has offsets for).
    /// Partitions without a committed offset map to `None`. A group-level error is returned
    /// as `Err`; per-partition errors likewise (they are rare and not partial by nature).
    pub(crate) async fn offset_fetch(
        &self,
        partitions: Option<&[TopicPartition]>,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
        let version = self.version::<OffsetFetchRequest>().await?;
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        if let Some(tps) = partitions {
            for (t, p) in tps {
                by_topic.entry(t.as_str()).or_default().push(*p);
            }
        }
        let group = GroupId(str_bytes(&self.group_id));
        let mut req = OffsetFetchRequest::default();
        if version >= 8 {
            req.groups = vec![OffsetFetchRequestGroup::default()
                .with_group_id(group)
                .with_topics(partitions.map(|_| {
                    by_topic
                        .iter()
                        .map(|(t, ps)| {
                            OffsetFetchRequestTopics::default()
                                .with_name(TopicName(str_bytes(t)))
                                .with_partition_indexes(ps.clone())
                        })
                        .collect()
                }))];
        } else {
            req.group_id = group;
            req.topics = partitions.map(|_| {
                by_topic
                    .iter()
                    .map(|(t, ps)| {
                        OffsetFetchRequestTopic::default()
                            .with_name(TopicName(str_bytes(t)))
                            .with_partition_indexes(ps.clone())
                    })
                    .collect()
            });
            if partitions.is_none() && version < 2 {
                return Err(ClientError::UnsupportedVersion {
                    api: "OffsetFetch for all partitions".into(),
                });
            }
        }
        if version >= 7 {
            // Wait out pending transactional commits rather than read a stale offset.
            req.require_stable = true;
        }
        let resp = self
            .request(&req, version, self.cluster.config.request_timeout)
            .await?;
        let mut rows: Vec<(String, i32, i64, Option<StrBytes>, i32, i16)> = Vec::new();
        let group_error = if version >= 8 {
            let g = resp
                .groups
                .into_iter()
                .find(|g| g.group_id.0.as_str() == self.group_id)
                .ok_or_else(|| {
                    ClientError::Protocol("OffsetFetch response lacks the group".into())
                })?;
            for t in g.topics {
                for p in t.partitions {
                    rows.push((
                        t.name.0.as_str().to_string(),
                        p.partition_index,
                        p.committed_offset,
                        p.metadata,
                        p.committed_leader_epoch,
                        p.error_code,
                    ));
                }
            }
            g.error_code
        } else {
            for t in resp.topics {
                for p in t.partitions {
                    rows.push((
                        t.name.0.as_str().to_string(),
                        p.partition_index,
                        p.committed_offset,
                        p.metadata,
                        p.committed_leader_epoch,
                        p.error_code,
                    ));
                }
            }
            resp.error_code
        };
        if group_error != 0 {
            return Err(ClientError::from_code(
                group_error,
                None,
                &format!("fetching committed offsets of group '{}'", self.group_id),
            ));
        }
        let mut out = BTreeMap::new();
        for (t, p, offset, metadata, epoch, code) in rows {
            if code != 0 {
                return Err(ClientError::from_code(
                    code,
                    None,
                    &format!(
                        "fetching the committed offset of {t}-{p} for group '{}'",
                        self.group_id
                    ),
                ));
            }
            let value = (offset >= 0).then(|| OffsetAndMetadata {
                offset,
                metadata: metadata
                    .map(|m| m.as_str().to_string())
                    .filter(|m| !m.is_empty()),
                leader_epoch: (epoch >= 0).then_some(epoch),
            });
            out.insert((t, p), value);
        }
        if let Some(tps) = partitions {
            for tp in tps {
                out.entry(tp.clone()).or_insert(None);
            }
        }
        Ok(out)
    }
}
