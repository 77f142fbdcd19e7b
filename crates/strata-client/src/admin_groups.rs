//! Consumer-group administration: list, describe, delete, and read/alter/delete committed
//! offsets.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, GroupId, ListGroupsRequest, OffsetDeleteRequest,
    TopicName,
};
use kafka_protocol::protocol::{Request, StrBytes};

use crate::admin::Admin;
use crate::consumer::commit_with_retry;
use crate::consumer::CommitResult;
use crate::error::{codes, ClientError, Result};
use crate::group::coordinator::{is_coordinator_error, CommitIdentity, CoordinatorLink};
use crate::group::protocol::{Assignment, CONSUMER_PROTOCOL_TYPE};
use crate::group::OffsetAndMetadata;
use crate::offsets::TopicPartition;

/// A group in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// Group id.
    pub group_id: String,
    /// State, e.g. `Stable`, `Empty` (empty when the broker's ListGroups predates states).
    pub state: String,
    /// `consumer` for consumer groups; other clients may use the protocol for other things.
    pub protocol_type: String,
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMemberDescription {
    /// The coordinator-assigned member id.
    pub member_id: String,
    /// The static instance id, for static members.
    pub group_instance_id: Option<String>,
    /// The member's client id.
    pub client_id: String,
    /// The member's host as the broker saw it.
    pub host: String,
    /// Its assigned partitions (decoded for consumer groups), sorted.
    pub assignment: Vec<TopicPartition>,
}

/// A described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// Group id.
    pub group_id: String,
    /// State: `Empty`, `PreparingRebalance`, `CompletingRebalance`, `Stable` or `Dead`.
    pub state: String,
    /// Protocol type, `consumer` for consumer groups.
    pub protocol_type: String,
    /// The selected protocol, e.g. `range` (empty while not stable).
    pub protocol: String,
    /// Members, sorted by member id.
    pub members: Vec<GroupMemberDescription>,
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn group_error(code: i16, group: &str, what: &str) -> ClientError {
    let text = match code {
        codes::GROUP_ID_NOT_FOUND => format!("group '{group}' does not exist"),
        codes::NON_EMPTY_GROUP => {
            format!("group '{group}' has active members; it must be inactive (stop its consumers) to {what}")
        }
        codes::GROUP_SUBSCRIBED_TO_TOPIC => {
            format!("group '{group}' is still subscribed to the topic; it must stop consuming it to {what}")
        }
        _ => format!("{what} for group '{group}'"),
    };
    ClientError::from_code(code, None, &text)
}

impl Admin {
    fn link(&self, group: &str) -> std::sync::Arc<CoordinatorLink> {
        CoordinatorLink::new(self.cluster().clone(), group)
    }

    /// Sends `req` to the group's coordinator, rediscovering it while the answer's error code
    /// (per `code_of`) says it moved or is loading.
    async fn to_coordinator<R: Request>(
        &self,
        link: &CoordinatorLink,
        req: &R,
        code_of: impl Fn(&R::Response) -> i16,
    ) -> Result<R::Response> {
        let timeout = self.cluster().config.request_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let attempt = async {
                let version = link.version::<R>().await?;
                link.request(req, version, timeout).await
            }
            .await;
            let retry = match &attempt {
                Ok(resp) => {
                    let c = code_of(resp);
                    if is_coordinator_error(c) {
                        link.mark_unknown().await;
                    }
                    is_coordinator_error(c) || c == codes::COORDINATOR_LOAD_IN_PROGRESS
                }
                Err(e) => e.is_retriable(),
            };
            if !retry || tokio::time::Instant::now() >= deadline {
                return attempt;
            }
            tokio::time::sleep(
                self.cluster()
                    .config
                    .retry_backoff
                    .max(Duration::from_millis(50)),
            )
            .await;
        }
    }

    /// Lists groups on every broker, optionally only those in one of `states` (e.g.
    /// `Stable`, `Empty`; case-insensitive). Sorted by group id.
    pub async fn list_groups(&self, states: &[String]) -> Result<Vec<GroupListing>> {
        let meta = self.cluster().fetch_metadata(Some(&[])).await?;
        let mut brokers: Vec<i32> = meta.brokers.iter().map(|b| b.node_id.0).collect();
        brokers.sort();
        let wanted: BTreeSet<String> = states.iter().map(|s| s.to_ascii_lowercase()).collect();
        let mut out = BTreeMap::new();
        for id in brokers {
            let conn = self.cluster().broker_connection(id).await?;
            let version = conn.version_for::<ListGroupsRequest>(None)?;
            let mut req = ListGroupsRequest::default();
            if version >= 4 {
                req.states_filter = states.iter().map(|s| str_bytes(s)).collect();
            }
            let resp = conn
                .request(&req, version, self.cluster().config.request_timeout)
                .await?;
            if resp.error_code != 0 {
                return Err(ClientError::from_code(
                    resp.error_code,
                    None,
                    "listing groups",
                ));
            }
            for g in resp.groups {
                let listing = GroupListing {
                    group_id: g.group_id.0.as_str().to_string(),
                    state: g.group_state.as_str().to_string(),
                    protocol_type: g.protocol_type.as_str().to_string(),
                };
                // Filter here as well: brokers before ListGroups v4 ignore the filter.
                if wanted.is_empty() || wanted.contains(&listing.state.to_ascii_lowercase()) {
                    out.insert(listing.group_id.clone(), listing);
                }
            }
        }
        Ok(out.into_values().collect())
    }

    /// Describes a group: state, protocol, members and their decoded assignments.
    pub async fn describe_group(&self, group: &str) -> Result<GroupDescription> {
        let link = self.link(group);
        let req = DescribeGroupsRequest::default().with_groups(vec![GroupId(str_bytes(group))]);
        let resp = self
            .to_coordinator(&link, &req, |r| {
                r.groups.first().map_or(0, |g| g.error_code)
            })
            .await?;
        let g = resp
            .groups
            .into_iter()
            .find(|g| g.group_id.0.as_str() == group)
            .ok_or_else(|| {
                ClientError::Protocol(format!("DescribeGroups answered without '{group}'"))
            })?;
        if g.error_code != 0 {
            return Err(group_error(g.error_code, group, "describing"));
        }
        let consumer = g.protocol_type.as_str() == CONSUMER_PROTOCOL_TYPE;
        let mut members = Vec::new();
        for m in g.members {
            let assignment = if consumer {
                Assignment::decode(&m.member_assignment)
                    .map(|a| a.partitions)
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            members.push(GroupMemberDescription {
                member_id: m.member_id.as_str().to_string(),
                group_instance_id: m.group_instance_id.map(|i| i.as_str().to_string()),
                client_id: m.client_id.as_str().to_string(),
                host: m.client_host.as_str().to_string(),
                assignment,
            });
        }
        members.sort_by(|a, b| a.member_id.cmp(&b.member_id));
        Ok(GroupDescription {
            group_id: group.to_string(),
            state: g.group_state.as_str().to_string(),
            protocol_type: g.protocol_type.as_str().to_string(),
            protocol: g.protocol_data.as_str().to_string(),
            members,
        })
    }

    /// Deletes a group and its committed offsets. The group must have no members.
    pub async fn delete_group(&self, group: &str) -> Result<()> {
        let link = self.link(group);
        let req = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(str_bytes(group))]);
        let resp = self
            .to_coordinator(&link, &req, |r| {
                r.results.first().map_or(0, |g| g.error_code)
            })
            .await?;
        let r = resp
            .results
            .iter()
            .find(|r| r.group_id.0.as_str() == group)
            .ok_or_else(|| {
                ClientError::Protocol(format!("DeleteGroups answered without '{group}'"))
            })?;
        if r.error_code != 0 {
            return Err(group_error(r.error_code, group, "delete it"));
        }
        Ok(())
    }

    /// Every committed offset of the group.
    pub async fn list_group_offsets(
        &self,
        group: &str,
    ) -> Result<BTreeMap<TopicPartition, OffsetAndMetadata>> {
        let link = self.link(group);
        let deadline = tokio::time::Instant::now() + self.cluster().config.request_timeout;
        loop {
            match link.offset_fetch(None).await {
                Ok(all) => {
                    return Ok(all
                        .into_iter()
                        .filter_map(|(tp, o)| Some((tp, o?)))
                        .collect())
                }
                Err(e)
                    if e.code().is_some_and(|c| {
                        is_coordinator_error(c) || c == codes::COORDINATOR_LOAD_IN_PROGRESS
                    }) && tokio::time::Instant::now() < deadline =>
                {
                    link.mark_unknown().await;
                    tokio::time::sleep(self.cluster().config.retry_backoff).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sets the group's committed offsets. Only allowed while the group has no members (the
    /// commit is made from outside the group); otherwise an error says the group must be
    /// inactive.
    pub async fn alter_group_offsets(
        &self,
        group: &str,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<CommitResult> {
        let link = self.link(group);
        commit_with_retry(link, None, CommitIdentity::outsider(), offsets)
            .await
            .map_err(|e| match e.code() {
                Some(c @ (codes::UNKNOWN_MEMBER_ID | codes::ILLEGAL_GENERATION | codes::REBALANCE_IN_PROGRESS)) => {
                    ClientError::from_code(
                        c,
                        None,
                        &format!(
                            "group '{group}' has active members; it must be inactive (stop its consumers) to change its offsets"
                        ),
                    )
                }
                _ => e,
            })
    }

    /// Deletes the group's committed offsets for `partitions` of `topic` (OffsetDelete).
    /// Refused while the group is subscribed to the topic.
    pub async fn delete_group_offsets(
        &self,
        group: &str,
        topic: &str,
        partitions: &[i32],
    ) -> Result<CommitResult> {
        let link = self.link(group);
        let req = OffsetDeleteRequest::default()
            .with_group_id(GroupId(str_bytes(group)))
            .with_topics(vec![OffsetDeleteRequestTopic::default()
                .with_name(TopicName(str_bytes(topic)))
                .with_partitions(
                    partitions
                        .iter()
                        .map(|p| OffsetDeleteRequestPartition::default().with_partition_index(*p))
                        .collect(),
                )]);
        let resp = self.to_coordinator(&link, &req, |r| r.error_code).await?;
        if resp.error_code != 0 {
            return Err(group_error(resp.error_code, group, "delete offsets"));
        }
        let mut out = BTreeMap::new();
        for t in resp.topics {
            for p in t.partitions {
                let tp = (t.name.0.as_str().to_string(), p.partition_index);
                let r = if p.error_code == 0 {
                    Ok(())
                } else {
                    Err(group_error(
                        p.error_code,
                        group,
                        &format!("delete the offset of {}-{}", tp.0, tp.1),
                    ))
                };
                out.insert(tp, r);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_errors_say_what_to_do() {
        let e = group_error(codes::NON_EMPTY_GROUP, "g", "delete it");
        assert_eq!(
            e.to_string(),
            "group 'g' has active members; it must be inactive (stop its consumers) to delete it (NON_EMPTY_GROUP)"
        );
        let e = group_error(codes::GROUP_ID_NOT_FOUND, "g", "delete it");
        assert_eq!(
            e.to_string(),
            "group 'g' does not exist (GROUP_ID_NOT_FOUND)"
        );
    }
}
