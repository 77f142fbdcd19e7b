//! JoinGroup handling, including static membership (KIP-345) and the
//! member-id handshake (KIP-394).

use crate::error::GroupError;
use crate::group::{Group, PendingPersist, StaticReplace};
use crate::member::Member;
use crate::types::{
    Effect, GroupConfig, GroupState, JoinRequest, JoinResponse, RemovalReason, SyncResponse,
};

impl Group {
    /// Handles a JoinGroup. The answer is a [`Effect::JoinDone`] for
    /// `req.request_id`, either among the returned effects or from a later
    /// call once the join phase completes.
    ///
    /// If the group does not exist yet and `req.member_id` is not empty, the
    /// coordinator should answer `UNKNOWN_MEMBER_ID` itself instead of
    /// creating a group.
    pub fn join(&mut self, req: JoinRequest, now_ms: i64, cfg: &GroupConfig) -> Vec<Effect> {
        let mut fx = Vec::new();
        self.initial_delay_ms = cfg.initial_rebalance_delay_ms.max(0);
        let reply = |fx: &mut Vec<Effect>, e: GroupError, member_id: &str| {
            fx.push(Effect::JoinDone(
                req.request_id,
                JoinResponse::error(e, member_id),
            ));
        };

        if self.group_id.is_empty() {
            reply(&mut fx, GroupError::InvalidGroupId, &req.member_id);
        } else if req.session_timeout_ms < cfg.min_session_timeout_ms
            || req.session_timeout_ms > cfg.max_session_timeout_ms
        {
            reply(&mut fx, GroupError::InvalidSessionTimeout, &req.member_id);
        } else if !self.accept_joining_member(&req.member_id, cfg.max_size) {
            // Kafka drops an existing member that no longer fits, too.
            self.remove_member(&req.member_id.clone(), RemovalReason::GroupFull, &mut fx);
            reply(&mut fx, GroupError::GroupMaxSizeReached, "");
        } else if req.member_id.is_empty() {
            self.join_new_member(req, now_ms, cfg, &mut fx);
        } else {
            self.join_existing_member(req, now_ms, cfg, &mut fx);
        }
        fx
    }

    fn accept_joining_member(&self, member_id: &str, max_size: usize) -> bool {
        match self.state {
            GroupState::Empty | GroupState::Dead => true,
            // Counting parked joins (not members) lets a shrunk max size
            // kick out the last members to rejoin.
            GroupState::PreparingRebalance => {
                self.member(member_id)
                    .is_some_and(|m| m.awaiting_join.is_some())
                    || self.awaiting_join_count() < max_size
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.has_member(member_id) || self.members.len() < max_size
            }
        }
    }

    fn join_new_member(
        &mut self,
        req: JoinRequest,
        now_ms: i64,
        cfg: &GroupConfig,
        fx: &mut Vec<Effect>,
    ) {
        if self.state == GroupState::Dead {
            fx.push(Effect::JoinDone(
                req.request_id,
                JoinResponse::error(GroupError::CoordinatorNotAvailable, ""),
            ));
            return;
        }
        if !self.supports_protocols(&req.protocol_type, &req.protocols) {
            fx.push(Effect::JoinDone(
                req.request_id,
                JoinResponse::error(GroupError::InconsistentGroupProtocol, ""),
            ));
            return;
        }
        let prefix = req.group_instance_id.as_deref().unwrap_or(&req.client_id);
        let new_id = format!("{prefix}-{}", uuid::Uuid::new_v4());

        if let Some(instance) = req.group_instance_id.clone() {
            match self.static_member(&instance).map(str::to_owned) {
                Some(old_id) => {
                    self.replace_static_member_and_join(req, old_id, new_id, now_ms, fx)
                }
                None => self.add_member_and_rebalance(req, new_id, now_ms, cfg, fx),
            }
        } else if req.require_known_member_id {
            // The member must come back with this id; until then it holds a
            // place in the join phase for one session timeout.
            let deadline = now_ms.saturating_add(i64::from(req.session_timeout_ms.max(0)));
            self.pending_join.push((new_id.clone(), deadline));
            fx.push(Effect::JoinDone(
                req.request_id,
                JoinResponse::error(GroupError::MemberIdRequired, new_id),
            ));
        } else {
            self.add_member_and_rebalance(req, new_id, now_ms, cfg, fx);
        }
    }

    fn join_existing_member(
        &mut self,
        req: JoinRequest,
        now_ms: i64,
        cfg: &GroupConfig,
        fx: &mut Vec<Effect>,
    ) {
        let member_id = req.member_id.clone();
        let error = if self.state == GroupState::Dead {
            Some(GroupError::CoordinatorNotAvailable)
        } else if !self.supports_protocols(&req.protocol_type, &req.protocols) {
            Some(GroupError::InconsistentGroupProtocol)
        } else if self.is_pending(&member_id) {
            if req.group_instance_id.is_some() {
                // Pending ids are only handed to dynamic members.
                Some(GroupError::UnknownServerError)
            } else {
                self.add_member_and_rebalance(req, member_id, now_ms, cfg, fx);
                return;
            }
        } else {
            self.validate_member(&member_id, req.group_instance_id.as_deref())
                .err()
        };
        if let Some(e) = error {
            fx.push(Effect::JoinDone(
                req.request_id,
                JoinResponse::error(e, member_id),
            ));
            return;
        }

        let Some(i) = self.idx(&member_id) else {
            return;
        };
        let unchanged = self.members[i].protocols == req.protocols;
        match self.state {
            GroupState::PreparingRebalance => self.update_member_and_rebalance(i, req, now_ms, fx),
            GroupState::CompletingRebalance if unchanged => {
                // Probably a retry after a lost JoinGroup answer: repeat it.
                let is_leader = self.is_leader(&member_id);
                fx.push(Effect::JoinDone(
                    req.request_id,
                    self.join_answer(&member_id, is_leader),
                ));
            }
            GroupState::Stable if unchanged && !self.is_leader(&member_id) => {
                // A follower with nothing new: let it sync the current generation.
                fx.push(Effect::JoinDone(
                    req.request_id,
                    self.join_answer(&member_id, false),
                ));
            }
            // Changed metadata, or the leader asking (it may have seen topic
            // changes the metadata does not show): rebalance.
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.update_member_and_rebalance(i, req, now_ms, fx)
            }
            GroupState::Empty | GroupState::Dead => {
                fx.push(Effect::JoinDone(
                    req.request_id,
                    JoinResponse::error(GroupError::UnknownMemberId, member_id),
                ));
            }
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        req: JoinRequest,
        member_id: String,
        now_ms: i64,
        cfg: &GroupConfig,
        fx: &mut Vec<Effect>,
    ) {
        if self.state == GroupState::PreparingRebalance && self.previous_state == GroupState::Empty
        {
            self.new_member_added = true;
        }
        let member = Member {
            id: member_id,
            instance_id: req.group_instance_id,
            client_id: req.client_id,
            client_host: req.client_host,
            rebalance_timeout_ms: req.rebalance_timeout_ms,
            session_timeout_ms: req.session_timeout_ms,
            protocol_type: req.protocol_type,
            protocols: req.protocols,
            assignment: Default::default(),
            awaiting_join: Some(req.request_id),
            awaiting_sync: None,
            is_new: true,
            // A parked new member cannot heartbeat; bound its wait instead.
            heartbeat_deadline: Some(now_ms.saturating_add(cfg.new_member_join_timeout_ms.max(0))),
        };
        self.add_member(member);
        self.maybe_prepare_rebalance_or_complete_join(now_ms, fx);
    }

    /// Replaces the member's protocols and timeouts and parks its JoinGroup.
    fn update_member(&mut self, i: usize, req: &JoinRequest, fx: &mut Vec<Effect>) {
        let m = &mut self.members[i];
        m.protocols = req.protocols.clone();
        m.rebalance_timeout_ms = req.rebalance_timeout_ms;
        m.session_timeout_ms = req.session_timeout_ms;
        if let Some(old) = m.awaiting_join.replace(req.request_id) {
            // Kafka silently replaces the parked request; answer it so the
            // connection's response queue never stalls.
            fx.push(Effect::JoinDone(
                old,
                JoinResponse::error(GroupError::RebalanceInProgress, m.id.clone()),
            ));
        }
    }

    fn update_member_and_rebalance(
        &mut self,
        i: usize,
        req: JoinRequest,
        now_ms: i64,
        fx: &mut Vec<Effect>,
    ) {
        self.update_member(i, &req, fx);
        self.maybe_prepare_rebalance_or_complete_join(now_ms, fx);
    }

    /// Moves a static member's place (and assignment) to `new_id`, fencing
    /// `old_id`: its parked requests are answered `FENCED_INSTANCE_ID`.
    pub(crate) fn replace_static_member(
        &mut self,
        old_id: &str,
        new_id: &str,
        fx: &mut Vec<Effect>,
    ) -> Option<usize> {
        let i = self.idx(old_id)?;
        let m = &mut self.members[i];
        if let Some(req) = m.awaiting_join.take() {
            fx.push(Effect::JoinDone(
                req,
                JoinResponse::error(GroupError::FencedInstanceId, old_id),
            ));
        }
        if let Some(req) = m.awaiting_sync.take() {
            fx.push(Effect::SyncDone(
                req,
                SyncResponse::error(GroupError::FencedInstanceId),
            ));
        }
        m.id = new_id.to_owned();
        m.is_new = false;
        if self.is_leader(old_id) {
            self.leader = Some(new_id.to_owned());
        }
        for id in &mut self.pending_sync {
            if id == old_id {
                *id = new_id.to_owned();
            }
        }
        Some(i)
    }

    fn replace_static_member_and_join(
        &mut self,
        req: JoinRequest,
        old_id: String,
        new_id: String,
        now_ms: i64,
        fx: &mut Vec<Effect>,
    ) {
        let leader_before = self.leader.clone();
        let Some(i) = self.replace_static_member(&old_id, &new_id, fx) else {
            return;
        };
        self.members[i].rearm(now_ms);
        let saved = &self.members[i];
        let (old_protocols, old_rebalance, old_session) = (
            saved.protocols.clone(),
            saved.rebalance_timeout_ms,
            saved.session_timeout_ms,
        );
        let request_id = req.request_id;
        self.update_member(i, &req, fx);

        match self.state {
            GroupState::Stable if self.protocol_name == self.select_protocol() => {
                // Same protocol: no rebalance. Persist the new member id, then answer.
                let value = self.to_record();
                let pending = PendingPersist::StaticReplace(StaticReplace {
                    request_id,
                    old_member_id: old_id,
                    new_member_id: new_id,
                    old_protocols,
                    old_rebalance_timeout_ms: old_rebalance,
                    old_session_timeout_ms: old_session,
                    leader_before,
                    supports_skip_assignment: req.supports_skip_assignment,
                });
                self.persist(value, Some(pending), fx);
            }
            GroupState::Stable => self.maybe_prepare_rebalance_or_complete_join(now_ms, fx),
            // The leader may already be assigning for the old id: start over.
            GroupState::CompletingRebalance => self.prepare_rebalance(now_ms, fx),
            _ => self.maybe_complete_join_phase(now_ms, fx),
        }
    }
}
