//! SyncGroup handling and the outcome of group metadata writes.

use bytes::Bytes;

use crate::error::GroupError;
use crate::group::{Group, PendingPersist, StaticReplace};
use crate::types::{Effect, GroupState, MemberId, PersistToken, SyncRequest, SyncResponse};

impl Group {
    /// Handles a SyncGroup. The answer is a [`Effect::SyncDone`] for
    /// `req.request_id`, now or later: followers wait for the leader; the
    /// leader's assignment yields an [`Effect::Persist`], and all members are
    /// answered only when [`Group::persisted`] reports that write.
    pub fn sync(&mut self, req: SyncRequest, now_ms: i64) -> Vec<Effect> {
        let mut fx = Vec::new();
        if let Err(e) = self.validate_sync(&req) {
            fx.push(Effect::SyncDone(req.request_id, SyncResponse::error(e)));
            return fx;
        }
        let Some(i) = self.idx(&req.member_id) else {
            return fx;
        };
        match self.state {
            GroupState::PreparingRebalance => {
                fx.push(Effect::SyncDone(
                    req.request_id,
                    SyncResponse::error(GroupError::RebalanceInProgress),
                ));
            }
            GroupState::CompletingRebalance => {
                if let Some(old) = self.members[i].awaiting_sync.replace(req.request_id) {
                    // Kafka replaces the parked request silently; answer it instead.
                    fx.push(Effect::SyncDone(
                        old,
                        SyncResponse::error(GroupError::RebalanceInProgress),
                    ));
                }
                self.remove_pending_sync(&req.member_id);
                if self.is_leader(&req.member_id) {
                    let assignment = self.complete_assignment(req.assignments);
                    let value = self.record_with(&assignment);
                    let pending = PendingPersist::LeaderSync {
                        generation: self.generation,
                        assignment,
                    };
                    self.persist(value, Some(pending), &mut fx);
                }
            }
            GroupState::Stable => {
                self.remove_pending_sync(&req.member_id);
                let m = &mut self.members[i];
                m.rearm(now_ms);
                fx.push(Effect::SyncDone(
                    req.request_id,
                    SyncResponse {
                        error: None,
                        protocol_type: self.protocol_type.clone(),
                        protocol_name: self.protocol_name.clone(),
                        assignment: m.assignment.clone(),
                    },
                ));
            }
            // validate_sync rejects these.
            GroupState::Empty | GroupState::Dead => {
                fx.push(Effect::SyncDone(
                    req.request_id,
                    SyncResponse::error(GroupError::UnknownMemberId),
                ));
            }
        }
        fx
    }

    fn validate_sync(&self, req: &SyncRequest) -> Result<(), GroupError> {
        match self.state {
            GroupState::Empty => return Err(GroupError::UnknownMemberId),
            GroupState::Dead => return Err(GroupError::CoordinatorNotAvailable),
            _ => {}
        }
        self.validate_member(&req.member_id, req.group_instance_id.as_deref())?;
        if req.generation_id != self.generation {
            return Err(GroupError::IllegalGeneration);
        }
        let inconsistent =
            |asked: &Option<String>, ours: &Option<String>| asked.is_some() && asked != ours;
        if inconsistent(&req.protocol_type, &self.protocol_type)
            || inconsistent(&req.protocol_name, &self.protocol_name)
        {
            return Err(GroupError::InconsistentGroupProtocol);
        }
        Ok(())
    }

    fn remove_pending_sync(&mut self, member_id: &str) {
        self.pending_sync.retain(|id| id != member_id);
        if self.pending_sync.is_empty() {
            self.sync_timer = None;
        }
    }

    /// The leader's assignment restricted to current members, in member
    /// order, with an empty assignment for members the leader left out.
    fn complete_assignment(&self, given: Vec<(MemberId, Bytes)>) -> Vec<(MemberId, Bytes)> {
        self.members
            .iter()
            .map(|m| {
                // The last entry wins if the leader repeats a member.
                let a = given
                    .iter()
                    .rev()
                    .find(|(id, _)| *id == m.id)
                    .map(|(_, a)| a.clone());
                (m.id.clone(), a.unwrap_or_default())
            })
            .collect()
    }

    /// Reports the outcome of an [`Effect::Persist`]: `Ok(())` once durable,
    /// or the error to give the waiting members (see
    /// [`GroupError::from_append_error`]). Unknown or stale tokens are ignored.
    pub fn persisted(
        &mut self,
        token: PersistToken,
        result: Result<(), GroupError>,
        now_ms: i64,
    ) -> Vec<Effect> {
        let mut fx = Vec::new();
        let Some(pos) = self.persists.iter().position(|(t, _)| *t == token) else {
            return fx;
        };
        let (_, pending) = self.persists.remove(pos);
        match pending {
            PendingPersist::LeaderSync {
                generation,
                assignment,
            } => {
                // The group may have moved on (a member joined) while writing.
                if self.state != GroupState::CompletingRebalance || generation != self.generation {
                    return fx;
                }
                match result {
                    Ok(()) => {
                        for m in &mut self.members {
                            m.assignment = assignment
                                .iter()
                                .find(|(id, _)| *id == m.id)
                                .map(|(_, a)| a.clone())
                                .unwrap_or_default();
                        }
                        self.propagate_assignment(None, now_ms, &mut fx);
                        self.transition(GroupState::Stable, now_ms);
                        fx.push(Effect::RebalanceCompleted { generation });
                    }
                    Err(e) => {
                        self.reset_and_propagate_with_error(e, now_ms, &mut fx);
                        self.maybe_prepare_rebalance_or_complete_join(now_ms, &mut fx);
                    }
                }
            }
            PendingPersist::StaticReplace(r) => {
                self.static_replace_persisted(r, result, now_ms, &mut fx)
            }
        }
        fx
    }

    fn static_replace_persisted(
        &mut self,
        r: StaticReplace,
        result: Result<(), GroupError>,
        now_ms: i64,
        fx: &mut Vec<Effect>,
    ) {
        let Some(i) = self.idx(&r.new_member_id) else {
            return;
        };
        // If a rebalance started meanwhile, the parked join is part of it and
        // will be answered when it completes.
        if self.state != GroupState::Stable || self.members[i].awaiting_join != Some(r.request_id) {
            return;
        }
        match result {
            Err(e) => {
                // Not durable: give the instance id back to the old member id.
                let m = &mut self.members[i];
                m.awaiting_join = None;
                m.protocols = r.old_protocols;
                m.rebalance_timeout_ms = r.old_rebalance_timeout_ms;
                m.session_timeout_ms = r.old_session_timeout_ms;
                if let Some(j) = self.replace_static_member(&r.new_member_id, &r.old_member_id, fx)
                {
                    self.members[j].rearm(now_ms);
                }
                let mut answer = self.join_answer("", false);
                answer.error = Some(e);
                answer.leader = r.leader_before.unwrap_or_default();
                fx.push(Effect::JoinDone(r.request_id, answer));
            }
            Ok(()) => {
                self.members[i].awaiting_join = None;
                let answer = if r.supports_skip_assignment {
                    // v9+: a rejoining static leader gets the members but
                    // keeps the current assignment (skip_assignment).
                    let is_leader = self.is_leader(&r.new_member_id);
                    let mut a = self.join_answer(&r.new_member_id, is_leader);
                    a.skip_assignment = is_leader;
                    a
                } else {
                    // Older clients would recompute the assignment if told they
                    // lead, so they see the previous leader id and act as followers.
                    let mut a = self.join_answer(&r.new_member_id, false);
                    a.leader = r.leader_before.unwrap_or_default();
                    a
                };
                fx.push(Effect::JoinDone(r.request_id, answer));
            }
        }
    }
}
