//! The group itself: its fields, queries, membership bookkeeping and the
//! persisted form.

use bytes::Bytes;

use crate::error::GroupError;
use crate::member::Member;
use crate::records::{GroupMetadataValue, MemberMetadataValue};
use crate::types::{
    Effect, GroupConfig, GroupDescription, GroupState, JoinMember, JoinResponse, MemberDescription,
    MemberId, PersistToken, RemovalReason, RequestId, SyncResponse,
};

/// One classic consumer group: a sans-I/O state machine. The coordinator
/// holds one per group, calls it with requests and time, and carries out the
/// returned [`Effect`]s in order.
///
/// Every `request_id` handed in is answered exactly once, by a
/// [`Effect::JoinDone`]/[`Effect::SyncDone`] (possibly much later) — except
/// that [`Group::unload`] answers parked requests with `NOT_COORDINATOR`.
#[derive(Debug, Clone)]
pub struct Group {
    pub(crate) group_id: String,
    pub(crate) state: GroupState,
    pub(crate) previous_state: GroupState,
    pub(crate) state_timestamp: Option<i64>,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) generation: i32,
    pub(crate) leader: Option<MemberId>,
    /// Members in join order; "the first member" (new leader) is the earliest.
    pub(crate) members: Vec<Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with their expiry.
    pub(crate) pending_join: Vec<(MemberId, i64)>,
    /// Members that got the new generation but have not sent SyncGroup yet.
    pub(crate) pending_sync: Vec<MemberId>,
    /// A member joined during the initial rebalance delay, so extend it.
    pub(crate) new_member_added: bool,
    pub(crate) join_timer: Option<JoinTimer>,
    /// Deadline for every member to send SyncGroup, for a generation.
    pub(crate) sync_timer: Option<(i64, i32)>,
    pub(crate) persists: Vec<(PersistToken, PendingPersist)>,
    pub(crate) next_token: PersistToken,
    /// `group.initial.rebalance.delay.ms`, taken from the config of the latest join.
    pub(crate) initial_delay_ms: i64,
}

/// The timer of the join phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JoinTimer {
    pub(crate) deadline: i64,
    pub(crate) kind: JoinTimerKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinTimerKind {
    /// The first rebalance of an empty group: wait `delay` more while members
    /// keep arriving, never more than `remaining` in total.
    Initial { delay: i64, remaining: i64 },
    /// Complete the join phase with whoever rejoined.
    Complete,
}

/// A write whose outcome changes what the group answers.
#[derive(Debug, Clone)]
pub(crate) enum PendingPersist {
    /// The leader's assignment for `generation`.
    LeaderSync {
        generation: i32,
        assignment: Vec<(MemberId, Bytes)>,
    },
    /// A static member took over its instance id without a rebalance.
    StaticReplace(StaticReplace),
}

#[derive(Debug, Clone)]
pub(crate) struct StaticReplace {
    pub(crate) request_id: RequestId,
    pub(crate) old_member_id: MemberId,
    pub(crate) new_member_id: MemberId,
    pub(crate) old_protocols: Vec<(String, Bytes)>,
    pub(crate) old_rebalance_timeout_ms: i32,
    pub(crate) old_session_timeout_ms: i32,
    pub(crate) leader_before: Option<MemberId>,
    pub(crate) supports_skip_assignment: bool,
}

impl Group {
    /// A new, empty group.
    pub fn new(group_id: String, now_ms: i64) -> Group {
        Group {
            group_id,
            state: GroupState::Empty,
            previous_state: GroupState::Dead,
            state_timestamp: Some(now_ms),
            protocol_type: None,
            protocol_name: None,
            generation: 0,
            leader: None,
            members: Vec::new(),
            pending_join: Vec::new(),
            pending_sync: Vec::new(),
            new_member_added: false,
            join_timer: None,
            sync_timer: None,
            persists: Vec::new(),
            next_token: 1,
            initial_delay_ms: GroupConfig::default().initial_rebalance_delay_ms,
        }
    }

    /// The group id.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// The current state.
    pub fn state(&self) -> GroupState {
        self.state
    }

    /// The current generation.
    pub fn generation(&self) -> i32 {
        self.generation
    }

    /// The protocol type, if the group has one.
    pub fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    /// The protocol selected for the current generation.
    pub fn protocol_name(&self) -> Option<&str> {
        self.protocol_name.as_deref()
    }

    /// The leader's member id.
    pub fn leader(&self) -> Option<&str> {
        self.leader.as_deref()
    }

    /// Member ids in join order.
    pub fn members(&self) -> Vec<MemberId> {
        self.members.iter().map(|m| m.id.clone()).collect()
    }

    /// Whether `member_id` is a (non-pending) member.
    pub fn has_member(&self, member_id: &str) -> bool {
        self.idx(member_id).is_some()
    }

    /// The member's current assignment.
    pub fn assignment(&self, member_id: &str) -> Option<Bytes> {
        self.member(member_id).map(|m| m.assignment.clone())
    }

    /// The member id currently owning a `group.instance.id`.
    pub fn static_member(&self, instance_id: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.instance_id.as_deref() == Some(instance_id))
            .map(|m| m.id.as_str())
    }

    /// Whether the group is `Empty` (Kafka's notion of an empty group).
    pub fn is_empty(&self) -> bool {
        self.state == GroupState::Empty
    }

    /// When the group entered its current state.
    pub fn current_state_timestamp(&self) -> Option<i64> {
        self.state_timestamp
    }

    /// The group as DescribeGroups shows it (metadata and protocol only when
    /// `Stable`, as Kafka does).
    pub fn describe(&self) -> GroupDescription {
        let stable = self.state == GroupState::Stable;
        GroupDescription {
            group_id: self.group_id.clone(),
            state: self.state.as_str(),
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            protocol: if stable {
                self.protocol_name.clone().unwrap_or_default()
            } else {
                String::new()
            },
            members: self
                .members
                .iter()
                .map(|m| MemberDescription {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata(self.protocol_name.as_deref())
                    } else {
                        Bytes::new()
                    },
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    /// The group's metadata record as it stands: what to persist, e.g. for
    /// compaction snapshots. (The state machine itself asks for writes with
    /// [`Effect::Persist`].)
    pub fn to_record(&self) -> GroupMetadataValue {
        let assignment: Vec<(MemberId, Bytes)> = self
            .members
            .iter()
            .map(|m| (m.id.clone(), m.assignment.clone()))
            .collect();
        self.record_with(&assignment)
    }

    pub(crate) fn record_with(&self, assignment: &[(MemberId, Bytes)]) -> GroupMetadataValue {
        GroupMetadataValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: self.protocol_name.clone(),
            leader: self.leader.clone(),
            current_state_timestamp: self.state_timestamp.unwrap_or(-1),
            members: self
                .members
                .iter()
                .map(|m| MemberMetadataValue {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout: m.rebalance_timeout_ms,
                    session_timeout: m.session_timeout_ms,
                    subscription: m.metadata(self.protocol_name.as_deref()),
                    assignment: assignment
                        .iter()
                        .find(|(id, _)| *id == m.id)
                        .map(|(_, a)| a.clone())
                        .unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// Rebuilds a group from its last persisted record when the coordinator
    /// loads the partition: `Stable` with the recorded members (each with a
    /// fresh session deadline), or `Empty`.
    pub fn from_record(group_id: String, value: GroupMetadataValue, now_ms: i64) -> Group {
        let mut g = Group::new(group_id, now_ms);
        g.state = if value.members.is_empty() {
            GroupState::Empty
        } else {
            GroupState::Stable
        };
        g.generation = value.generation;
        g.protocol_type = Some(value.protocol_type).filter(|t| !t.is_empty());
        g.protocol_name = value.protocol;
        g.state_timestamp = Some(value.current_state_timestamp).filter(|t| *t != -1);
        let protocol = g.protocol_name.clone().unwrap_or_default();
        let protocol_type = g.protocol_type.clone().unwrap_or_default();
        for m in value.members {
            let mut member = Member {
                id: m.member_id,
                instance_id: m.group_instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                rebalance_timeout_ms: m.rebalance_timeout,
                session_timeout_ms: m.session_timeout,
                protocol_type: protocol_type.clone(),
                protocols: vec![(protocol.clone(), m.subscription)],
                assignment: m.assignment,
                awaiting_join: None,
                awaiting_sync: None,
                is_new: false,
                heartbeat_deadline: None,
            };
            member.rearm(now_ms);
            // A corrupt log could repeat ids; keep the first.
            if !g.has_member(&member.id) {
                g.members.push(member);
            }
        }
        g.leader = value
            .leader
            .filter(|l| g.has_member(l))
            .or_else(|| g.members.first().map(|m| m.id.clone()));
        g
    }

    // ---- internal helpers -------------------------------------------------

    pub(crate) fn idx(&self, member_id: &str) -> Option<usize> {
        self.members.iter().position(|m| m.id == member_id)
    }

    pub(crate) fn member(&self, member_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == member_id)
    }

    pub(crate) fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    pub(crate) fn is_pending(&self, member_id: &str) -> bool {
        self.pending_join.iter().any(|(id, _)| id == member_id)
    }

    pub(crate) fn transition(&mut self, to: GroupState, now_ms: i64) {
        debug_assert!(
            to.valid_previous().contains(&self.state),
            "{:?} -> {:?}",
            self.state,
            to
        );
        self.previous_state = self.state;
        self.state = to;
        self.state_timestamp = Some(now_ms);
    }

    /// Whether the group may start a rebalance from its current state.
    pub(crate) fn can_rebalance(&self) -> bool {
        GroupState::PreparingRebalance
            .valid_previous()
            .contains(&self.state)
    }

    pub(crate) fn awaiting_join_count(&self) -> usize {
        self.members
            .iter()
            .filter(|m| m.awaiting_join.is_some())
            .count()
    }

    pub(crate) fn has_all_members_joined(&self) -> bool {
        self.awaiting_join_count() == self.members.len() && self.pending_join.is_empty()
    }

    /// The largest rebalance timeout among members.
    pub(crate) fn rebalance_timeout_ms(&self) -> i64 {
        self.members
            .iter()
            .map(|m| i64::from(m.rebalance_timeout_ms.max(0)))
            .max()
            .unwrap_or(0)
    }

    /// Protocols every member supports.
    fn candidate_protocols(&self) -> Vec<&str> {
        match self.members.first() {
            None => Vec::new(),
            Some(first) => first
                .protocols
                .iter()
                .map(|(n, _)| n.as_str())
                .filter(|n| self.members.iter().all(|m| m.supports(n)))
                .collect(),
        }
    }

    /// Each member votes for its first candidate; the most votes wins (ties
    /// go to the candidate listed first by the first member, deterministically).
    pub(crate) fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes: Vec<(&str, usize)> = candidates.iter().map(|c| (*c, 0)).collect();
        for m in &self.members {
            if let Some(choice) = m.vote(&candidates) {
                if let Some(v) = votes.iter_mut().find(|(c, _)| *c == choice) {
                    v.1 += 1;
                }
            }
        }
        let mut best: Option<(&str, usize)> = None;
        for (c, n) in votes {
            if best.is_none_or(|(_, b)| n > b) {
                best = Some((c, n));
            }
        }
        best.map(|(c, _)| c.to_owned())
    }

    /// Whether a member with this protocol type and these protocols can be in
    /// the group: any non-empty type/protocols when `Empty`, else the same type
    /// and at least one protocol every current member supports.
    pub(crate) fn supports_protocols(
        &self,
        protocol_type: &str,
        protocols: &[(String, Bytes)],
    ) -> bool {
        if self.state == GroupState::Empty {
            !protocol_type.is_empty() && !protocols.is_empty()
        } else {
            self.protocol_type.as_deref() == Some(protocol_type)
                && protocols
                    .iter()
                    .any(|(name, _)| self.members.iter().all(|m| m.supports(name)))
        }
    }

    /// Kafka's member check: a given instance id must map to exactly this
    /// member id (else fenced), and the member must exist.
    pub(crate) fn validate_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), GroupError> {
        if let Some(instance) = instance_id {
            match self.static_member(instance) {
                None => return Err(GroupError::UnknownMemberId),
                Some(existing) if existing != member_id => {
                    return Err(GroupError::FencedInstanceId)
                }
                Some(_) => {}
            }
        }
        if self.has_member(member_id) {
            Ok(())
        } else {
            Err(GroupError::UnknownMemberId)
        }
    }

    pub(crate) fn add_member(&mut self, member: Member) {
        if self.members.is_empty() {
            self.protocol_type = Some(member.protocol_type.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member.id.clone());
        }
        self.pending_join.retain(|(id, _)| *id != member.id);
        self.members.push(member);
    }

    /// Removes a member. Any request it has parked is answered
    /// `UNKNOWN_MEMBER_ID` so no request is left hanging.
    pub(crate) fn remove_member(
        &mut self,
        member_id: &str,
        reason: RemovalReason,
        fx: &mut Vec<Effect>,
    ) {
        if let Some(i) = self.idx(member_id) {
            let m = self.members.remove(i);
            if let Some(req) = m.awaiting_join {
                fx.push(Effect::JoinDone(
                    req,
                    JoinResponse::error(GroupError::UnknownMemberId, ""),
                ));
            }
            if let Some(req) = m.awaiting_sync {
                fx.push(Effect::SyncDone(
                    req,
                    SyncResponse::error(GroupError::UnknownMemberId),
                ));
            }
            fx.push(Effect::MemberRemoved {
                member_id: m.id,
                reason,
            });
        }
        if self.is_leader(member_id) {
            self.leader = self.members.first().map(|m| m.id.clone());
        }
        self.pending_join.retain(|(id, _)| id != member_id);
        self.pending_sync.retain(|id| id != member_id);
    }

    /// Members with their metadata for the selected protocol, for the leader.
    pub(crate) fn join_members(&self) -> Vec<JoinMember> {
        self.members
            .iter()
            .map(|m| JoinMember {
                member_id: m.id.clone(),
                group_instance_id: m.instance_id.clone(),
                metadata: m.metadata(self.protocol_name.as_deref()),
            })
            .collect()
    }

    /// The successful JoinGroup answer for `member_id` in the current generation.
    pub(crate) fn join_answer(&self, member_id: &str, with_members: bool) -> JoinResponse {
        JoinResponse {
            error: None,
            generation_id: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            skip_assignment: false,
            member_id: member_id.to_owned(),
            members: if with_members {
                self.join_members()
            } else {
                Vec::new()
            },
        }
    }

    pub(crate) fn persist(
        &mut self,
        value: GroupMetadataValue,
        pending: Option<PendingPersist>,
        fx: &mut Vec<Effect>,
    ) {
        let token = self.next_token;
        self.next_token += 1;
        if let Some(p) = pending {
            self.persists.push((token, p));
        }
        fx.push(Effect::Persist { token, value });
    }
}
