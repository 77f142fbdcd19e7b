//! Committed offsets: commit, fetch, delete, group deletion and retention.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use strata_group::{GroupError, GroupState, OffsetCommitKey, OffsetCommitValue, RecordKey};

use super::coordinator::GroupCoordinator;
use super::store::{self, WriteError};
use crate::broker::now_ms;
use crate::topics::OFFSETS_TOPIC;
use crate::Broker;

use strata_proto::error_code::GROUP_SUBSCRIBED_TO_TOPIC;

/// Kafka's `offset.metadata.max.bytes`.
pub const MAX_METADATA_BYTES: usize = 4096;

/// A group's committed offsets by (topic, partition), as OffsetFetch serves them.
pub type Committed = HashMap<(String, i32), OffsetCommitValue>;

/// Who is committing, as OffsetCommit carries it.
pub struct Committer<'a> {
    /// Member id ("" for admin/simple commits).
    pub member_id: &'a str,
    /// `group.instance.id`.
    pub instance_id: Option<&'a str>,
    /// Generation (-1 for simple commits).
    pub generation: i32,
}

impl Broker {
    /// The `__consumer_offsets` partition that owns `group_id`, if this broker leads it.
    pub(super) fn offsets_partition(
        &self,
        group_id: &str,
    ) -> Result<Arc<crate::replica::Partition>, WriteError> {
        let n = self
            .meta
            .image()
            .topic(OFFSETS_TOPIC)
            .map(|t| t.partitions.len() as i32)
            .unwrap_or(0);
        let partition = strata_group::partition_for(group_id, n);
        self.led_replica(OFFSETS_TOPIC, partition)
            .map_err(|e| match e {
                ResponseError::NotLeaderOrFollower => WriteError::NotLeader,
                ResponseError::LeaderNotAvailable => {
                    WriteError::Unavailable("the partition has no leader")
                }
                _ => WriteError::Unavailable("no such partition"),
            })
    }

    /// Appends records to the `__consumer_offsets` partition that owns `group_id` and
    /// waits until they are committed (see [`store::PendingWrite::committed`]);
    /// returns the last offset.
    pub(crate) async fn append_offsets_records(
        self: &Arc<Self>,
        group_id: &str,
        records: Vec<store::KeyedRecord>,
    ) -> Result<i64, WriteError> {
        self.queue_offsets_records(group_id, records)?
            .committed()
            .await
    }

    /// Queues records for the `__consumer_offsets` partition that owns `group_id`;
    /// their place in the log is fixed on return (see [`store::append`]).
    fn queue_offsets_records(
        self: &Arc<Self>,
        group_id: &str,
        records: Vec<store::KeyedRecord>,
    ) -> Result<store::PendingWrite, WriteError> {
        let p = self.offsets_partition(group_id)?;
        store::append(&p, records, now_ms(), self.config.flush_policy)
    }
}

impl GroupCoordinator {
    /// Validates and durably stores commits; returns one result per input, in order.
    pub async fn commit(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        who: Committer<'_>,
        commits: Vec<(String, i32, OffsetCommitValue)>,
        turn: crate::handlers::Turn,
    ) -> Vec<Result<(), GroupError>> {
        let check = {
            let mut state = self.state.lock();
            self.lease(broker, &state, group_id).and_then(|lease| {
                match state.groups.get(group_id) {
                    Some(e) => e
                        .group
                        .validate_commit(who.member_id, who.instance_id, who.generation)
                        .map(|()| lease),
                    // Kafka accepts "simple" commits (no membership) for unknown groups.
                    None if who.generation < 0 => {
                        state.offsets.entry(group_id.to_string()).or_default();
                        Ok(lease)
                    }
                    None => Err(GroupError::IllegalGeneration),
                }
            })
        };
        let lease = match check {
            Ok(lease) => lease,
            Err(e) => return commits.iter().map(|_| Err(e)).collect(),
        };
        let records = commits
            .iter()
            .map(|(topic, partition, value)| {
                let key = RecordKey::OffsetCommit(OffsetCommitKey {
                    group: group_id.to_string(),
                    topic: topic.clone(),
                    partition: *partition,
                });
                (key.encode(), Some(value.encode()))
            })
            .collect();
        let n = commits.len();
        let queued = broker.queue_offsets_records(group_id, records);
        // The write has its place in the log; later requests on this connection may
        // start while this one waits for its write and fsync (as Produce does).
        drop(turn);
        let written = match queued {
            Ok(write) => write.committed().await,
            Err(e) => Err(e),
        };
        match written {
            Ok(log_offset) => {
                let mut state = self.state.lock();
                // Leadership moved while writing: the log has the commit, and the
                // coordinator that loads it serves it; this one no longer does.
                if !Self::lease_holds(&state, lease) {
                    return vec![Err(GroupError::NotCoordinator); n];
                }
                let map = state.offsets.entry(group_id.to_string()).or_default();
                for (topic, partition, value) in commits {
                    // Durability waits may finish out of order, and a transaction may
                    // have materialized a later write: the newest record wins.
                    strata_group::materialize(map, (topic, partition), log_offset, value);
                }
                vec![Ok(()); n]
            }
            Err(e) => {
                tracing::warn!(group = group_id, error = %e, "offset commit write failed");
                vec![Err(e.group_error()); n]
            }
        }
    }

    /// Committed offsets of a group: all of them, or those of the given partitions
    /// (missing ones are absent from the map). Pending transactional offsets are not
    /// among them.
    pub fn fetch(&self, broker: &Broker, group_id: &str) -> Result<Committed, GroupError> {
        self.fetch_with_pending(broker, group_id)
            .map(|(committed, _)| committed)
    }

    /// [`GroupCoordinator::fetch`], with the partitions that have pending
    /// transactional offsets (OffsetFetch with `require_stable` answers them
    /// UNSTABLE_OFFSET_COMMIT).
    pub fn fetch_with_pending(
        &self,
        broker: &Broker,
        group_id: &str,
    ) -> Result<(Committed, Vec<(String, i32)>), GroupError> {
        let state = self.state.lock();
        self.lease(broker, &state, group_id)?;
        if let Some(e) = state.groups.get(group_id) {
            e.group.validate_offset_fetch()?;
        }
        let committed = state
            .offsets
            .get(group_id)
            .map(|m| m.iter().map(|(k, (_, v))| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        Ok((committed, state.txn_pending(group_id)))
    }

    /// Deletes committed offsets of partitions (OffsetDelete). Partitions of topics a
    /// live consumer group subscribes to are refused with `GROUP_SUBSCRIBED_TO_TOPIC`.
    pub async fn delete_offsets(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        partitions: Vec<(String, i32)>,
    ) -> Result<Vec<i16>, GroupError> {
        let (results, doomed) = {
            let state = self.state.lock();
            self.lease(broker, &state, group_id)?;
            let subscribed = match state.groups.get(group_id) {
                Some(e) => {
                    e.group.validate_offset_delete()?;
                    if e.group.state() == GroupState::Empty {
                        Vec::new()
                    } else {
                        e.group
                            .describe()
                            .members
                            .iter()
                            .flat_map(|m| subscription_topics(&m.metadata))
                            .collect()
                    }
                }
                None if state.offsets.contains_key(group_id)
                    || !state.txn_pending(group_id).is_empty() =>
                {
                    Vec::new()
                }
                None => return Err(GroupError::GroupIdNotFound),
            };
            let mut doomed = Vec::new();
            let results = partitions
                .iter()
                .map(|(t, p)| {
                    if subscribed.iter().any(|s| s == t) {
                        GROUP_SUBSCRIBED_TO_TOPIC
                    } else {
                        doomed.push((t.clone(), *p));
                        0
                    }
                })
                .collect::<Vec<_>>();
            (results, doomed)
        };
        self.write_tombstones(broker, group_id, doomed, false)
            .await?;
        Ok(results)
    }

    /// Deletes an empty group with its offsets (DeleteGroups).
    pub async fn delete_group(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
    ) -> Result<(), GroupError> {
        let offsets: Vec<(String, i32)> = {
            let mut state = self.state.lock();
            self.lease(broker, &state, group_id)?;
            let known_offsets =
                state.offsets.contains_key(group_id) || !state.txn_pending(group_id).is_empty();
            match state.groups.get_mut(group_id) {
                Some(e) => e.group.validate_delete()?,
                None if known_offsets => {}
                None => return Err(GroupError::GroupIdNotFound),
            }
            // Partitions with only pending transactional offsets get tombstones too,
            // so a later marker cannot bring them back (as Kafka).
            let mut offsets: Vec<(String, i32)> = state
                .offsets
                .get(group_id)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            for tp in state.txn_pending(group_id) {
                if !offsets.contains(&tp) {
                    offsets.push(tp);
                }
            }
            offsets
        };
        self.write_tombstones(broker, group_id, offsets, true)
            .await?;
        let mut state = self.state.lock();
        if let Some(e) = state.groups.get_mut(group_id) {
            let _ = e.group.delete(now_ms());
        }
        state.groups.remove(group_id);
        state.offsets.remove(group_id);
        for t in state.txn.values_mut() {
            t.offsets.remove_group(group_id);
        }
        Ok(())
    }

    /// Writes tombstones for offsets (and the group's metadata when `group_too`), then
    /// forgets them in memory.
    async fn write_tombstones(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        partitions: Vec<(String, i32)>,
        group_too: bool,
    ) -> Result<(), GroupError> {
        let mut records: Vec<store::KeyedRecord> = partitions
            .iter()
            .map(|(t, p)| {
                let key = RecordKey::OffsetCommit(OffsetCommitKey {
                    group: group_id.to_string(),
                    topic: t.clone(),
                    partition: *p,
                });
                (key.encode(), None)
            })
            .collect();
        if group_too {
            records.push((
                RecordKey::GroupMetadata(group_id.to_string()).encode(),
                None,
            ));
        }
        if records.is_empty() {
            return Ok(());
        }
        broker
            .append_offsets_records(group_id, records)
            .await
            .map_err(|e| e.group_error())?;
        let mut state = self.state.lock();
        if let Some(map) = state.offsets.get_mut(group_id) {
            for k in &partitions {
                map.remove(k);
            }
        }
        // A tombstone ends pending transactional offsets too (as Kafka, and as a
        // replay of the log does).
        state.drop_pending(group_id, &partitions);
        Ok(())
    }

    /// Expires offsets per `offsets.retention.minutes`: for an empty group, measured from
    /// when it became empty; for offsets without a group, from each commit.
    pub async fn expire_offsets(&self, broker: &Arc<Broker>, retention_ms: i64) {
        let now = now_ms();
        let expired: Vec<(String, Vec<(String, i32)>)> = {
            let state = self.state.lock();
            state
                .offsets
                .iter()
                .filter_map(|(g, map)| {
                    let since_empty = match state.groups.get(g) {
                        Some(e) if e.group.state() != GroupState::Empty => return None,
                        Some(e) => e.group.current_state_timestamp(),
                        None => None,
                    };
                    let pending = state.txn_pending(g);
                    let doomed: Vec<_> = map
                        .iter()
                        // Not while a transaction may still commit over it (as Kafka).
                        .filter(|(k, _)| !pending.contains(k))
                        .filter(|(_, (_, v))| {
                            let base = since_empty
                                .unwrap_or(v.commit_timestamp)
                                .max(v.commit_timestamp);
                            v.expire_timestamp.unwrap_or(base + retention_ms) <= now
                        })
                        .map(|(k, _)| k.clone())
                        .collect();
                    (!doomed.is_empty()).then(|| (g.clone(), doomed))
                })
                .collect()
        };
        self.drop_offsets(broker, expired, "expired").await;
    }

    /// Writes tombstones for each group's `partitions` (logged; a failure is logged and
    /// the rest go on). `why` names the reason in the log.
    pub(super) async fn drop_offsets(
        &self,
        broker: &Arc<Broker>,
        doomed: Vec<(String, Vec<(String, i32)>)>,
        why: &str,
    ) {
        for (group, partitions) in doomed {
            tracing::info!(%group, partitions = partitions.len(), why, "dropping committed offsets");
            if let Err(e) = self
                .write_tombstones(broker, &group, partitions, false)
                .await
            {
                tracing::warn!(%group, why, error = ?e, "dropping committed offsets failed");
            }
        }
    }

    /// (group, topic, partition, committed offset) for every commit, for lag metrics.
    pub fn committed_snapshot(&self) -> Vec<(String, String, i32, i64)> {
        let state = self.state.lock();
        state
            .offsets
            .iter()
            .flat_map(|(g, m)| {
                m.iter()
                    .map(move |((t, p), (_, v))| (g.clone(), t.clone(), *p, v.offset))
            })
            .collect()
    }
}

/// Topics of a ConsumerProtocolSubscription (any version: they all start with
/// version i16, then an array of topic strings). Unreadable metadata yields none.
fn subscription_topics(metadata: &Bytes) -> Vec<String> {
    let mut b: &[u8] = metadata;
    let mut take = |n: usize| -> Option<&[u8]> {
        let (head, rest) = (b.get(..n)?, b.get(n..)?);
        b = rest;
        Some(head)
    };
    let mut out = Vec::new();
    if take(2).is_none() {
        return out;
    }
    let Some(count) = take(4).map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]])) else {
        return out;
    };
    for _ in 0..count.max(0) {
        let Some(len) = take(2).map(|l| i16::from_be_bytes([l[0], l[1]])) else {
            break;
        };
        let Some(name) = take(len.max(0) as usize) else {
            break;
        };
        out.push(String::from_utf8_lossy(name).into_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_topics_reads_the_topic_list_and_survives_garbage() {
        let mut m = vec![0, 1, 0, 0, 0, 2];
        for t in ["a", "bc"] {
            m.extend_from_slice(&(t.len() as i16).to_be_bytes());
            m.extend_from_slice(t.as_bytes());
        }
        assert_eq!(subscription_topics(&Bytes::from(m)), vec!["a", "bc"]);
        assert!(subscription_topics(&Bytes::from_static(&[0, 1, 0, 0, 0, 9, 0])).is_empty());
        assert!(subscription_topics(&Bytes::new()).is_empty());
    }
}
