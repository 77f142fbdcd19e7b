//! Group membership over the classic protocol: JoinGroup → (leader assigns) → SyncGroup,
//! Heartbeat in a background task, LeaveGroup. This module knows nothing about fetch
//! positions; the consumer drives it and reacts to what it reports.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{GroupId, JoinGroupRequest, LeaveGroupRequest, SyncGroupRequest};
use kafka_protocol::protocol::StrBytes;
use parking_lot::Mutex;
use tokio::time::Instant;

use super::assignor::{AssignmentStrategy, MemberSubscription};
use super::coordinator::{is_coordinator_error, CoordinatorLink};
use super::protocol::{Assignment, Subscription, CONSUMER_PROTOCOL_TYPE};
use crate::error::{codes, ClientError, Result};
use crate::offsets::TopicPartition;

/// JoinGroup v4 introduced MEMBER_ID_REQUIRED; v5 static membership.
const FIRST_STATIC_JOIN_VERSION: i16 = 5;

/// Where the member is in the rebalance cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberState {
    /// Not in the group (never joined, left, or lost its membership).
    Unjoined,
    /// JoinGroup sent, waiting for the group to form.
    Joining,
    /// JoinGroup answered, waiting for SyncGroup.
    Syncing,
    /// Has an assignment for the current generation.
    Stable,
}

/// Membership state shared with the heartbeat task.
#[derive(Debug)]
pub(crate) struct Shared {
    pub state: MemberState,
    pub generation: i32,
    pub member_id: String,
    pub protocol: Option<String>,
    /// Set when something (heartbeat, commit, metadata) says we must rejoin.
    pub rejoin: Option<String>,
    /// Set when the coordinator no longer knows our generation: owned partitions are lost,
    /// not revoked, because another member may already have them.
    pub lost: bool,
    /// A non-recoverable error (e.g. fenced by another instance with our instance id).
    pub fatal: Option<ClientError>,
    /// When the application last called poll; enforces the rebalance timeout.
    pub last_poll: Instant,
}

impl Shared {
    /// Forgets the generation (and the member id when told) after the coordinator rejected
    /// it; owned partitions are lost and a rejoin is due.
    pub(crate) fn reset(&mut self, clear_member_id: bool, why: &str) {
        self.generation = -1;
        if clear_member_id {
            self.member_id.clear();
        }
        self.state = MemberState::Unjoined;
        self.lost = true;
        self.rejoin.get_or_insert_with(|| why.to_string());
    }

    /// Asks for a rejoin at the next poll, keeping the first reason.
    pub(crate) fn request_rejoin(&mut self, why: &str) {
        self.rejoin.get_or_insert_with(|| why.to_string());
    }
}

/// Settings the membership needs (a subset of the consumer's config).
#[derive(Debug, Clone)]
pub(crate) struct MemberSettings {
    pub group_instance_id: Option<String>,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub strategies: Vec<AssignmentStrategy>,
}

impl MemberSettings {
    /// Cooperative only when every configured strategy supports it, so a group can move from
    /// an eager assignor to a cooperative one by rolling restarts.
    pub(crate) fn cooperative(&self) -> bool {
        !self.strategies.is_empty() && self.strategies.iter().all(|s| s.supports_cooperative())
    }
}

/// A completed join: the generation's assignment for us.
#[derive(Debug, Clone)]
pub(crate) struct Joined {
    pub generation: i32,
    pub assignment: Assignment,
    /// Partition counts of every topic the group subscribes to, when we were the leader (so
    /// we watch them all for changes); otherwise `None`.
    pub group_topics: Option<BTreeMap<String, i32>>,
}

/// What to do after a failed JoinGroup/SyncGroup.
#[derive(Debug, PartialEq, Eq)]
enum Reaction {
    /// Try again now.
    Retry,
    /// Try again after the retry backoff.
    Backoff,
    /// Forget the coordinator, then retry.
    Rediscover,
    /// Our generation is gone: partitions are lost; rejoin (clearing the member id if asked).
    Reset { clear_member_id: bool },
    /// Give up.
    Fatal,
}

fn react(code: i16) -> Reaction {
    match code {
        codes::REBALANCE_IN_PROGRESS => Reaction::Retry,
        codes::COORDINATOR_LOAD_IN_PROGRESS => Reaction::Backoff,
        c if is_coordinator_error(c) => Reaction::Rediscover,
        codes::UNKNOWN_MEMBER_ID => Reaction::Reset {
            clear_member_id: true,
        },
        codes::ILLEGAL_GENERATION => Reaction::Reset {
            clear_member_id: false,
        },
        _ => Reaction::Fatal,
    }
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// One consumer's membership in one group.
pub(crate) struct GroupMember {
    pub link: Arc<CoordinatorLink>,
    pub settings: MemberSettings,
    pub shared: Arc<Mutex<Shared>>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for GroupMember {
    fn drop(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }
}

impl GroupMember {
    pub(crate) fn new(link: Arc<CoordinatorLink>, settings: MemberSettings) -> GroupMember {
        GroupMember {
            link,
            settings,
            shared: Arc::new(Mutex::new(Shared {
                state: MemberState::Unjoined,
                generation: -1,
                member_id: String::new(),
                protocol: None,
                rejoin: None,
                lost: false,
                fatal: None,
                last_poll: Instant::now(),
            })),
            heartbeat: None,
        }
    }

    /// Whether a join is needed before the assignment can be trusted.
    pub(crate) fn needs_join(&self) -> bool {
        let s = self.shared.lock();
        s.state != MemberState::Stable || s.rejoin.is_some()
    }

    /// Asks for a rejoin at the next poll.
    pub(crate) fn request_rejoin(&self, reason: &str) {
        tracing::debug!(group = %self.link.group_id(), reason, "rejoin requested");
        self.shared.lock().request_rejoin(reason);
    }

    /// Generation, member id and instance id for commits.
    pub(crate) fn identity(&self) -> super::coordinator::CommitIdentity {
        let s = self.shared.lock();
        super::coordinator::CommitIdentity {
            generation: s.generation,
            member_id: s.member_id.clone(),
            group_instance_id: self.settings.group_instance_id.clone(),
        }
    }

    /// Forgets the generation (and, when told, the member id) after the coordinator rejected
    /// them; what we owned is now lost.
    pub(crate) fn reset_generation(&self, clear_member_id: bool, why: &str) {
        tracing::info!(group = %self.link.group_id(), why, "membership reset");
        self.shared.lock().reset(clear_member_id, why);
    }

    fn fatal(&self, e: ClientError) -> ClientError {
        self.shared.lock().fatal = Some(e.clone());
        e
    }

    /// One JoinGroup + SyncGroup attempt. `Ok(None)` means "retry": the reaction (backoff,
    /// rediscovery, reset) has been applied already.
    pub(crate) async fn join_once(
        &mut self,
        topics: &[String],
        owned: &[TopicPartition],
    ) -> Result<Option<Joined>> {
        if let Some(e) = self.shared.lock().fatal.clone() {
            return Err(e);
        }
        self.ensure_heartbeat();
        let (generation, member_id, reason) = {
            let mut s = self.shared.lock();
            s.state = MemberState::Joining;
            (s.generation, s.member_id.clone(), s.rejoin.take())
        };
        let cluster = self.link.cluster().clone();
        let version = match self.link.version::<JoinGroupRequest>().await {
            Ok(v) => v,
            Err(e) => return self.on_transport_error(e).await,
        };
        if self.settings.group_instance_id.is_some() && version < FIRST_STATIC_JOIN_VERSION {
            return Err(self.fatal(ClientError::Config(
                "the broker's JoinGroup is too old for static membership (group_instance_id)"
                    .into(),
            )));
        }
        let cooperative = self.settings.cooperative();
        let mut protocols = Vec::new();
        for s in &self.settings.strategies {
            let sub = Subscription {
                topics: topics.to_vec(),
                user_data: s.user_data(generation),
                // Eager members have revoked everything before joining.
                owned_partitions: if cooperative {
                    owned.to_vec()
                } else {
                    Vec::new()
                },
                generation_id: generation,
                rack_id: None,
            };
            protocols.push(
                JoinGroupRequestProtocol::default()
                    .with_name(str_bytes(s.name()))
                    .with_metadata(sub.encode()?),
            );
        }
        let mut req = JoinGroupRequest::default()
            .with_group_id(GroupId(str_bytes(self.link.group_id())))
            .with_session_timeout_ms(millis(self.settings.session_timeout))
            .with_rebalance_timeout_ms(millis(self.settings.rebalance_timeout))
            .with_member_id(str_bytes(&member_id))
            .with_protocol_type(str_bytes(CONSUMER_PROTOCOL_TYPE))
            .with_protocols(protocols);
        if version >= FIRST_STATIC_JOIN_VERSION {
            req.group_instance_id = self.settings.group_instance_id.as_deref().map(str_bytes);
        }
        if version >= 8 {
            req.reason = reason.as_deref().map(str_bytes);
        }
        // The coordinator holds JoinGroup until every member has rejoined or the rebalance
        // timeout passes.
        let timeout = cluster
            .config
            .request_timeout
            .max(self.settings.rebalance_timeout)
            + Duration::from_secs(5);
        let resp = match self.link.request(&req, version, timeout).await {
            Ok(r) => r,
            Err(e) => return self.on_transport_error(e).await,
        };
        if resp.error_code == codes::MEMBER_ID_REQUIRED {
            // The coordinator handed us an id; join again with it.
            self.shared.lock().member_id = resp.member_id.as_str().to_string();
            return Ok(None);
        }
        if resp.error_code != 0 {
            return self.on_group_error(resp.error_code, "JoinGroup").await;
        }
        let generation = resp.generation_id;
        let member_id = resp.member_id.as_str().to_string();
        let protocol = resp
            .protocol_name
            .as_ref()
            .map(|p| p.as_str().to_string())
            .ok_or_else(|| ClientError::Protocol("JoinGroup response without a protocol".into()))?;
        let strategy = self
            .settings
            .strategies
            .iter()
            .copied()
            .find(|s| s.name() == protocol)
            .ok_or_else(|| {
                ClientError::Protocol(format!(
                    "coordinator selected assignor '{protocol}' that this member did not offer"
                ))
            })?;
        {
            let mut s = self.shared.lock();
            s.generation = generation;
            s.member_id = member_id.clone();
            s.protocol = Some(protocol.clone());
            s.state = MemberState::Syncing;
        }
        let is_leader = resp.leader.as_str() == member_id && !resp.skip_assignment;
        let mut group_topics = None;
        let mut assignments = Vec::new();
        if is_leader {
            let mut members = Vec::new();
            for m in &resp.members {
                members.push(MemberSubscription {
                    member_id: m.member_id.as_str().to_string(),
                    group_instance_id: m.group_instance_id.as_ref().map(|i| i.as_str().to_string()),
                    subscription: Subscription::decode(&m.metadata)?,
                });
            }
            let all_topics: BTreeSet<String> = members
                .iter()
                .flat_map(|m| m.subscription.topics.iter().cloned())
                .collect();
            let counts = match partition_counts(&cluster, &all_topics).await {
                Ok(c) => c,
                Err(e) => return self.on_transport_error(e).await,
            };
            let plan = strategy.assign(&counts, &members);
            tracing::debug!(group = %self.link.group_id(), generation, ?plan, "leader assignment");
            for (member, partitions) in plan {
                let bytes = Assignment {
                    partitions,
                    user_data: None,
                }
                .encode()?;
                assignments.push(
                    SyncGroupRequestAssignment::default()
                        .with_member_id(str_bytes(&member))
                        .with_assignment(bytes),
                );
            }
            group_topics = Some(counts);
        }
        let sync_version = match self.link.version::<SyncGroupRequest>().await {
            Ok(v) => v,
            Err(e) => return self.on_transport_error(e).await,
        };
        let mut sync = SyncGroupRequest::default()
            .with_group_id(GroupId(str_bytes(self.link.group_id())))
            .with_generation_id(generation)
            .with_member_id(str_bytes(&member_id))
            .with_assignments(assignments);
        if sync_version >= 3 {
            sync.group_instance_id = self.settings.group_instance_id.as_deref().map(str_bytes);
        }
        if sync_version >= 5 {
            sync.protocol_type = Some(str_bytes(CONSUMER_PROTOCOL_TYPE));
            sync.protocol_name = Some(str_bytes(&protocol));
        }
        let sresp = match self.link.request(&sync, sync_version, timeout).await {
            Ok(r) => r,
            Err(e) => return self.on_transport_error(e).await,
        };
        if sresp.error_code != 0 {
            return self.on_group_error(sresp.error_code, "SyncGroup").await;
        }
        let assignment = Assignment::decode(&sresp.assignment)?;
        {
            let mut s = self.shared.lock();
            // A heartbeat may have seen the next rebalance start already; keep its request.
            if s.generation == generation {
                s.state = MemberState::Stable;
            }
        }
        Ok(Some(Joined {
            generation,
            assignment,
            group_topics,
        }))
    }

    async fn on_transport_error(&self, e: ClientError) -> Result<Option<Joined>> {
        if e.is_retriable() {
            tracing::debug!(group = %self.link.group_id(), error = %e, "join failed; retrying");
            self.link.mark_unknown().await;
            self.back_to_unjoined();
            tokio::time::sleep(self.link.cluster().config.retry_backoff).await;
            return Ok(None);
        }
        Err(e)
    }

    fn back_to_unjoined(&self) {
        let mut s = self.shared.lock();
        s.state = MemberState::Unjoined;
    }

    async fn on_group_error(&self, code: i16, api: &str) -> Result<Option<Joined>> {
        let what = format!("{api} for group '{}'", self.link.group_id());
        match react(code) {
            Reaction::Retry => {
                self.back_to_unjoined();
                Ok(None)
            }
            Reaction::Backoff => {
                self.back_to_unjoined();
                tokio::time::sleep(self.link.cluster().config.retry_backoff).await;
                Ok(None)
            }
            Reaction::Rediscover => {
                self.link.mark_unknown().await;
                self.back_to_unjoined();
                tokio::time::sleep(self.link.cluster().config.retry_backoff).await;
                Ok(None)
            }
            Reaction::Reset { clear_member_id } => {
                self.reset_generation(
                    clear_member_id,
                    &format!("{what}: {}", crate::error::error_code_name(code)),
                );
                Ok(None)
            }
            Reaction::Fatal => {
                let msg = match code {
                    codes::FENCED_INSTANCE_ID => format!(
                        "{what}: another consumer joined with the same group_instance_id '{}'",
                        self.settings.group_instance_id.as_deref().unwrap_or("")
                    ),
                    codes::INCONSISTENT_GROUP_PROTOCOL => format!(
                        "{what}: the group's members share no partition assignment strategy"
                    ),
                    codes::INVALID_SESSION_TIMEOUT => format!(
                        "{what}: session timeout {} ms is outside the broker's allowed range",
                        self.settings.session_timeout.as_millis()
                    ),
                    _ => what,
                };
                Err(self.fatal(ClientError::from_code(code, None, &msg)))
            }
        }
    }

    /// Starts the heartbeat task if it is not running.
    fn ensure_heartbeat(&mut self) {
        if self.heartbeat.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        self.heartbeat = Some(tokio::spawn(super::heartbeat::heartbeat_loop(
            self.link.clone(),
            self.shared.clone(),
            self.settings.clone(),
        )));
    }

    /// Stops heartbeating and, for dynamic members, leaves the group so it rebalances at once.
    /// Static members only stop: their partitions wait for them until the session times out.
    pub(crate) async fn leave(&mut self, reason: &str) -> Result<()> {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
        let member_id = {
            let mut s = self.shared.lock();
            let id = s.member_id.clone();
            s.state = MemberState::Unjoined;
            s.generation = -1;
            s.member_id.clear();
            id
        };
        if self.settings.group_instance_id.is_some() || member_id.is_empty() {
            return Ok(());
        }
        let version = self.link.version::<LeaveGroupRequest>().await?;
        let mut req =
            LeaveGroupRequest::default().with_group_id(GroupId(str_bytes(self.link.group_id())));
        if version >= 3 {
            let mut m = MemberIdentity::default().with_member_id(str_bytes(&member_id));
            if version >= 5 {
                m.reason = Some(str_bytes(reason));
            }
            req.members = vec![m];
        } else {
            req.member_id = str_bytes(&member_id);
        }
        let resp = self
            .link
            .request(&req, version, self.link.cluster().config.request_timeout)
            .await?;
        let code = if resp.error_code != 0 {
            resp.error_code
        } else {
            resp.members
                .iter()
                .map(|m| m.error_code)
                .find(|c| *c != 0)
                .unwrap_or(0)
        };
        // The coordinator forgetting us already is as good as leaving.
        if code != 0 && code != codes::UNKNOWN_MEMBER_ID {
            return Err(ClientError::from_code(
                code,
                None,
                &format!("leaving group '{}'", self.link.group_id()),
            ));
        }
        Ok(())
    }
}

/// Partition counts for `topics`; topics that do not exist are left out.
async fn partition_counts(
    cluster: &crate::cluster::Cluster,
    topics: &BTreeSet<String>,
) -> Result<BTreeMap<String, i32>> {
    if topics.is_empty() {
        return Ok(BTreeMap::new());
    }
    let list: Vec<String> = topics.iter().cloned().collect();
    let resp = cluster.fetch_metadata(Some(&list)).await?;
    let mut out = BTreeMap::new();
    for t in &resp.topics {
        if t.error_code != 0 {
            continue;
        }
        if let Some(name) = &t.name {
            out.insert(
                name.0.as_str().to_string(),
                i32::try_from(t.partitions.len()).unwrap_or(i32::MAX),
            );
        }
    }
    Ok(out)
}

/// Public for the consumer's metadata watch.
pub(crate) async fn current_partition_counts(
    cluster: &crate::cluster::Cluster,
    topics: &BTreeSet<String>,
) -> Result<BTreeMap<String, i32>> {
    partition_counts(cluster, topics).await
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_reactions_follow_the_kafka_client() {
        assert_eq!(react(codes::REBALANCE_IN_PROGRESS), Reaction::Retry);
        assert_eq!(react(codes::NOT_COORDINATOR), Reaction::Rediscover);
        assert_eq!(
            react(codes::COORDINATOR_NOT_AVAILABLE),
            Reaction::Rediscover
        );
        assert_eq!(
            react(codes::COORDINATOR_LOAD_IN_PROGRESS),
            Reaction::Backoff
        );
        assert_eq!(
            react(codes::UNKNOWN_MEMBER_ID),
            Reaction::Reset {
                clear_member_id: true
            }
        );
        assert_eq!(
            react(codes::ILLEGAL_GENERATION),
            Reaction::Reset {
                clear_member_id: false
            }
        );
        assert_eq!(react(codes::FENCED_INSTANCE_ID), Reaction::Fatal);
        assert_eq!(react(codes::INCONSISTENT_GROUP_PROTOCOL), Reaction::Fatal);
    }

    #[test]
    fn cooperative_needs_every_strategy_to_support_it() {
        let mut s = MemberSettings {
            group_instance_id: None,
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(1),
            strategies: vec![AssignmentStrategy::CooperativeSticky],
        };
        assert!(s.cooperative());
        s.strategies.push(AssignmentStrategy::Range);
        assert!(!s.cooperative());
    }
}
