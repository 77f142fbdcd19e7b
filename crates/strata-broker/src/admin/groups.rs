//! Consumer groups: list, one group with members, assignments and lag, and offset
//! resets through the group coordinator (as an admin OffsetCommit: only for a group
//! with no active members, as Kafka's tools require).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strata_auth::acl::AclOperation;
use strata_group::{GroupError, OffsetCommitValue};

use super::{matches, AdminError, Caller};
use crate::group::offsets::Committer;
use crate::Broker;

/// Most partitions one reset may name.
pub const MAX_RESET_PARTITIONS: usize = 10_000;

/// One group in a listing.
#[derive(Debug, Serialize)]
pub struct GroupItem {
    /// Group id.
    pub group: String,
    /// Kafka's state name.
    pub state: &'static str,
    /// Protocol type (`consumer`).
    pub protocol_type: String,
    /// Assignment protocol (when stable).
    pub protocol: String,
    /// Members.
    pub members: usize,
}

/// A page of groups.
#[derive(Debug, Serialize)]
pub struct GroupPage {
    /// Groups matching (all pages).
    pub total: usize,
    /// First index of this page.
    pub offset: usize,
    /// Page size asked for.
    pub limit: usize,
    /// Some `__consumer_offsets` partitions are still loading: the list is partial.
    pub loading: bool,
    /// This page.
    pub groups: Vec<GroupItem>,
}

/// Partitions of one topic.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct TopicPartitions {
    /// Topic.
    pub topic: String,
    /// Partitions.
    pub partitions: Vec<i32>,
}

/// A member with its assignment.
#[derive(Debug, Serialize)]
pub struct MemberView {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Assigned partitions (consumer protocol), empty when none or not decodable.
    pub assignment: Vec<TopicPartitions>,
}

/// Offsets and lag of one partition.
#[derive(Debug, Serialize)]
pub struct PartitionLag {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Committed offset, if any.
    pub committed: Option<i64>,
    /// High-water mark of this broker's replica, if it holds one.
    pub log_end: Option<i64>,
    /// `log_end - committed` (not below zero) when both are known.
    pub lag: Option<i64>,
    /// The member it is assigned to.
    pub member_id: Option<String>,
}

/// One group.
#[derive(Debug, Serialize)]
pub struct GroupView {
    /// Group id.
    pub group: String,
    /// Kafka's state name.
    pub state: &'static str,
    /// Protocol type.
    pub protocol_type: String,
    /// Assignment protocol.
    pub protocol: String,
    /// Members.
    pub members: Vec<MemberView>,
    /// Committed or assigned partitions, by topic and partition.
    pub partitions: Vec<PartitionLag>,
    /// Sum of the known lags.
    pub total_lag: i64,
}

/// An offset reset, as `POST /api/v1/groups/{g}/reset-offsets` takes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// Topic.
    pub topic: String,
    /// Partitions (all of the topic's when absent).
    pub partitions: Option<Vec<i32>>,
    /// `earliest`, `latest`, `offset:N` or `timestamp:MS`.
    pub to: String,
    /// Plan only.
    #[serde(default)]
    pub dry_run: bool,
}

/// Where to reset to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetTo {
    /// The log start.
    Earliest,
    /// The high-water mark.
    Latest,
    /// This offset (kept within the log start and the high-water mark).
    Offset(i64),
    /// The first offset at or after this timestamp (the high-water mark when none).
    Timestamp(i64),
}

impl ResetTo {
    /// Parses `earliest`, `latest`, `offset:N`, `timestamp:MS`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let num = |v: &str, what: &str| {
            v.trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| format!("'{v}' is not a valid {what} (a non-negative integer)"))
        };
        match s.trim() {
            "earliest" => Ok(Self::Earliest),
            "latest" => Ok(Self::Latest),
            other => match other.split_once(':') {
                Some(("offset", v)) => num(v, "offset").map(Self::Offset),
                Some(("timestamp", v)) => num(v, "timestamp").map(Self::Timestamp),
                _ => Err(format!(
                    "'to' must be earliest, latest, offset:N or timestamp:MS, not '{other}'"
                )),
            },
        }
    }
}

/// One partition of a reset.
#[derive(Debug, Serialize)]
pub struct PlannedOffset {
    /// Partition.
    pub partition: i32,
    /// The committed offset before.
    pub current: Option<i64>,
    /// The offset after.
    pub target: i64,
}

/// The outcome of a reset.
#[derive(Debug, Serialize)]
pub struct ResetResult {
    /// Group.
    pub group: String,
    /// Topic.
    pub topic: String,
    /// Planned only.
    pub dry_run: bool,
    /// Committed.
    pub applied: bool,
    /// Per partition.
    pub partitions: Vec<PlannedOffset>,
}

/// Decodes a consumer-protocol assignment (version, then topics with partitions),
/// bounded by its own length; `None` if it does not decode.
pub fn decode_assignment(bytes: &[u8]) -> Option<Vec<TopicPartitions>> {
    fn take<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if buf.len() < n {
            return None;
        }
        let (head, rest) = buf.split_at(n);
        *buf = rest;
        Some(head)
    }
    fn i16_(buf: &mut &[u8]) -> Option<i16> {
        Some(i16::from_be_bytes(take(buf, 2)?.try_into().ok()?))
    }
    fn i32_(buf: &mut &[u8]) -> Option<i32> {
        Some(i32::from_be_bytes(take(buf, 4)?.try_into().ok()?))
    }
    let mut buf = bytes;
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let _version = i16_(&mut buf)?;
    let topics = usize::try_from(i32_(&mut buf)?).ok()?;
    // Each topic takes at least 6 bytes: no count beyond what the bytes can hold.
    if topics > buf.len() / 6 {
        return None;
    }
    let mut out = Vec::with_capacity(topics);
    for _ in 0..topics {
        let len = usize::try_from(i16_(&mut buf)?).ok()?;
        let topic = std::str::from_utf8(take(&mut buf, len)?).ok()?.to_string();
        let n = usize::try_from(i32_(&mut buf)?).ok()?;
        if n > buf.len() / 4 {
            return None;
        }
        let partitions = (0..n).map(|_| i32_(&mut buf)).collect::<Option<Vec<_>>>()?;
        out.push(TopicPartitions { topic, partitions });
    }
    Some(out)
}

impl Broker {
    fn group_error(&self, group: &str, e: GroupError) -> AdminError {
        match e {
            GroupError::NotCoordinator => {
                let node = self
                    .group_coordinator(group, &self.inter_broker_listener)
                    .map(|(node_id, host, port)| super::NodeRef {
                        node_id,
                        host,
                        port,
                    });
                match node {
                    Some(n) => AdminError::Misdirected {
                        message: format!(
                            "group '{group}' is coordinated by broker {} ({}:{}); ask that broker's HTTP listener",
                            n.node_id, n.host, n.port
                        ),
                        node: Some(n),
                    },
                    None => AdminError::Unavailable(format!(
                        "the coordinator of group '{group}' is not available yet; retry"
                    )),
                }
            }
            GroupError::UnknownMemberId
            | GroupError::IllegalGeneration
            | GroupError::RebalanceInProgress
            | GroupError::NonEmptyGroup => AdminError::Conflict(format!(
                "group '{group}' has active members ({e}): stop its consumers first"
            )),
            other => AdminError::Unavailable(format!(
                "group '{group}' cannot be served now ({other}); retry"
            )),
        }
    }

    /// Groups this broker coordinates whose id contains `search`, that the caller may
    /// describe (DESCRIBE on the cluster, or on the group as ListGroups filters).
    pub fn admin_groups(
        &self,
        caller: &Caller,
        search: &str,
        offset: usize,
        limit: usize,
    ) -> GroupPage {
        let access = self.admin_access(caller);
        let all = access.cluster(AclOperation::Describe);
        let (loading, groups) = self.groups.list(self);
        let needle = search.to_lowercase();
        let visible: Vec<_> = groups
            .into_iter()
            .filter(|(g, _, _)| matches(g, &needle))
            .filter(|(g, _, _)| all || access.group(AclOperation::Describe, g))
            .collect();
        let total = visible.len();
        let groups = super::page(visible, offset, limit)
            .into_iter()
            .map(|(group, state, protocol_type)| {
                let d = self.groups.describe(self, &group).ok().flatten();
                GroupItem {
                    members: d.as_ref().map_or(0, |d| d.members.len()),
                    protocol: d.map(|d| d.protocol).unwrap_or_default(),
                    group,
                    state,
                    protocol_type,
                }
            })
            .collect();
        GroupPage {
            total,
            offset,
            limit,
            loading: loading.is_some(),
            groups,
        }
    }

    /// One group (DESCRIBE on it): members with assignments, committed offsets, lag.
    pub fn admin_group(&self, caller: &Caller, group: &str) -> Result<GroupView, AdminError> {
        let access = self.admin_access(caller);
        if !access.group(AclOperation::Describe, group) {
            return Err(AdminError::Forbidden(format!(
                "not authorized to describe group '{group}'"
            )));
        }
        let d = self
            .groups
            .describe(self, group)
            .map_err(|e| self.group_error(group, e))?
            .ok_or_else(|| AdminError::NotFound(format!("no group '{group}'")))?;
        let committed = self
            .groups
            .fetch(self, group)
            .map_err(|e| self.group_error(group, e))?;
        let members: Vec<MemberView> = d
            .members
            .into_iter()
            .map(|m| MemberView {
                assignment: decode_assignment(&m.assignment).unwrap_or_default(),
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
            })
            .collect();
        let mut owner: BTreeMap<(String, i32), String> = BTreeMap::new();
        for m in &members {
            for tp in &m.assignment {
                for p in &tp.partitions {
                    owner.insert((tp.topic.clone(), *p), m.member_id.clone());
                }
            }
        }
        let keys: BTreeSet<(String, i32)> = committed
            .keys()
            .cloned()
            .chain(owner.keys().cloned())
            .filter(|(t, _)| access.topic(AclOperation::Describe, t))
            .collect();
        let partitions: Vec<PartitionLag> = keys
            .into_iter()
            .map(|(topic, partition)| {
                let committed = committed.get(&(topic.clone(), partition)).map(|v| v.offset);
                let log_end = self
                    .replicas
                    .get(&topic, partition)
                    .map(|p| p.high_watermark());
                let lag = match (committed, log_end) {
                    (Some(c), Some(e)) if c >= 0 => Some((e - c).max(0)),
                    _ => None,
                };
                PartitionLag {
                    member_id: owner.get(&(topic.clone(), partition)).cloned(),
                    topic,
                    partition,
                    committed,
                    log_end,
                    lag,
                }
            })
            .collect();
        Ok(GroupView {
            group: d.group_id,
            state: d.state,
            protocol_type: d.protocol_type,
            protocol: d.protocol,
            members,
            total_lag: partitions.iter().filter_map(|p| p.lag).sum(),
            partitions,
        })
    }

    /// Plans (`dry_run`) or commits new offsets of a group for a topic's partitions
    /// (OffsetCommit: READ on the group and the topic). Refused with a conflict while the
    /// group has members.
    pub async fn admin_reset_offsets(
        self: &Arc<Self>,
        caller: &Caller,
        group: &str,
        req: ResetRequest,
    ) -> Result<ResetResult, AdminError> {
        let to = ResetTo::parse(&req.to).map_err(AdminError::BadRequest)?;
        let access = self.admin_access(caller);
        if !access.group(AclOperation::Read, group) {
            return Err(AdminError::Forbidden(format!(
                "not authorized to commit offsets of group '{group}'"
            )));
        }
        if !access.topic(AclOperation::Read, &req.topic) {
            return Err(AdminError::Forbidden(format!(
                "not authorized to read topic '{}'",
                req.topic
            )));
        }
        let topic = self
            .meta
            .image()
            .topic(&req.topic)
            .cloned()
            .ok_or_else(|| AdminError::NotFound(format!("topic '{}' does not exist", req.topic)))?;
        let partitions: BTreeSet<i32> = match req.partitions {
            None => topic.partitions.iter().map(|p| p.partition).collect(),
            Some(list) => {
                if list.is_empty() || list.len() > MAX_RESET_PARTITIONS {
                    return Err(AdminError::BadRequest(format!(
                        "'partitions' must name 1 to {MAX_RESET_PARTITIONS} partitions"
                    )));
                }
                if let Some(p) = list.iter().find(|p| topic.partition(**p).is_none()) {
                    return Err(AdminError::BadRequest(format!(
                        "topic '{}' has no partition {p}",
                        req.topic
                    )));
                }
                list.into_iter().collect()
            }
        };
        let check_members = |broker: &Broker| -> Result<(), AdminError> {
            let d = broker
                .groups
                .describe(broker, group)
                .map_err(|e| broker.group_error(group, e))?;
            match d {
                Some(d) if !d.members.is_empty() => Err(AdminError::Conflict(format!(
                    "group '{group}' has {} active member(s) (state {}): offsets can only be reset while the group has no members; stop its consumers first",
                    d.members.len(),
                    d.state
                ))),
                _ => Ok(()),
            }
        };
        check_members(self)?;
        let committed = self
            .groups
            .fetch(self, group)
            .map_err(|e| self.group_error(group, e))?;
        let mut plan = Vec::with_capacity(partitions.len());
        for partition in partitions {
            let p = self
                .led_replica(&req.topic, partition)
                .map_err(|_| self.not_leader_here(&req.topic, partition))?;
            let (start, end) = (p.log_start_offset(), p.high_watermark());
            let target = match to {
                ResetTo::Earliest => start,
                ResetTo::Latest => end,
                ResetTo::Offset(n) => n.clamp(start, end.max(start)),
                ResetTo::Timestamp(ts) => p
                    .run(move |log| log.offset_for_timestamp(ts))
                    .await
                    .map_err(|e| AdminError::Internal(format!("reading the time index: {e}")))?
                    .map_or(end, |(offset, _)| offset.min(end)),
            };
            plan.push(PlannedOffset {
                partition,
                current: committed
                    .get(&(req.topic.clone(), partition))
                    .map(|v| v.offset),
                target,
            });
        }
        let mut result = ResetResult {
            group: group.to_string(),
            topic: req.topic.clone(),
            dry_run: req.dry_run,
            applied: false,
            partitions: plan,
        };
        if req.dry_run {
            return Ok(result);
        }
        check_members(self)?;
        let now = crate::broker::now_ms();
        let commits = result
            .partitions
            .iter()
            .map(|p| {
                (
                    req.topic.clone(),
                    p.partition,
                    OffsetCommitValue {
                        offset: p.target,
                        leader_epoch: -1,
                        metadata: String::new(),
                        commit_timestamp: now,
                        expire_timestamp: None,
                    },
                )
            })
            .collect();
        let turn = crate::handlers::Turn::alone().await;
        let who = Committer {
            member_id: "",
            instance_id: None,
            generation: -1,
        };
        let outcomes = self.groups.commit(self, group, who, commits, turn).await;
        if let Some(e) = outcomes.into_iter().find_map(Result::err) {
            return Err(self.group_error(group, e));
        }
        result.applied = true;
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_targets_parse() {
        assert_eq!(ResetTo::parse("earliest"), Ok(ResetTo::Earliest));
        assert_eq!(ResetTo::parse("latest"), Ok(ResetTo::Latest));
        assert_eq!(ResetTo::parse("offset:42"), Ok(ResetTo::Offset(42)));
        assert_eq!(
            ResetTo::parse("timestamp:1700000000000"),
            Ok(ResetTo::Timestamp(1_700_000_000_000))
        );
        for bad in [
            "",
            "offset:",
            "offset:-1",
            "offset:x",
            "timestamp:1.5",
            "shift:1",
            "EARLIEST",
        ] {
            assert!(ResetTo::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn assignments_decode_within_their_bytes() {
        let mut b = vec![
            0, 1, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3,
        ];
        b.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]); // user data (null)
        assert_eq!(
            decode_assignment(&b),
            Some(vec![TopicPartitions {
                topic: "t".into(),
                partitions: vec![0, 3]
            }])
        );
        assert_eq!(decode_assignment(&[]), Some(vec![]));
        // Counts larger than the bytes can hold are refused before anything is allocated.
        assert_eq!(decode_assignment(&[0, 1, 0x7f, 0xff, 0xff, 0xff]), None);
        assert_eq!(
            decode_assignment(&[0, 1, 0, 0, 0, 1, 0, 1, b't', 0x7f, 0, 0, 0]),
            None
        );
        assert_eq!(decode_assignment(&[0, 1, 0, 0, 0, 1, 0, 9, b't']), None);
    }
}
