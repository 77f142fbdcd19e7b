//! Heartbeat, LeaveGroup, offset-commit validation and the group's end of
//! life (delete, unload).

use crate::error::GroupError;
use crate::group::Group;
use crate::types::{Effect, GroupState, JoinResponse, MemberId, RemovalReason, SyncResponse};

impl Group {
    /// Handles a Heartbeat. `Ok` while `Stable` or `CompletingRebalance`
    /// (members heartbeat while awaiting their assignment);
    /// `REBALANCE_IN_PROGRESS` while `PreparingRebalance`, telling the member
    /// to rejoin. A valid heartbeat restarts the member's session.
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
        now_ms: i64,
    ) -> Result<(), GroupError> {
        if self.state == GroupState::Dead {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        self.validate_member(member_id, group_instance_id)?;
        if generation_id != self.generation {
            return Err(GroupError::IllegalGeneration);
        }
        let state = self.state;
        let Some(i) = self.idx(member_id) else {
            return Err(GroupError::UnknownMemberId);
        };
        match state {
            GroupState::Empty | GroupState::Dead => Err(GroupError::UnknownMemberId),
            GroupState::PreparingRebalance => {
                self.members[i].rearm(now_ms);
                Err(GroupError::RebalanceInProgress)
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.members[i].rearm(now_ms);
                Ok(())
            }
        }
    }

    /// Handles a LeaveGroup (v3+ batches several members). Each entry names a
    /// member by id, or — with no/empty member id — a static member by
    /// `group.instance.id` (administrative removal). Returns one result per
    /// entry, in order, and the effects of the resulting rebalance.
    ///
    /// For a `Dead` group every entry gets `COORDINATOR_NOT_AVAILABLE`; Kafka
    /// puts that error at the top level of the response instead.
    pub fn leave(
        &mut self,
        members: Vec<(Option<MemberId>, Option<String>)>,
        now_ms: i64,
    ) -> (Vec<Result<(), GroupError>>, Vec<Effect>) {
        let mut fx = Vec::new();
        if self.state == GroupState::Dead {
            return (
                members
                    .iter()
                    .map(|_| Err(GroupError::CoordinatorNotAvailable))
                    .collect(),
                fx,
            );
        }
        let mut results = Vec::with_capacity(members.len());
        for (member_id, instance_id) in members {
            let member_id = member_id.unwrap_or_default();
            let result = if member_id.is_empty() {
                match instance_id
                    .as_deref()
                    .and_then(|i| self.static_member(i))
                    .map(str::to_owned)
                {
                    Some(id) => {
                        self.remove_member(&id, RemovalReason::Left, &mut fx);
                        Ok(())
                    }
                    None => Err(GroupError::UnknownMemberId),
                }
            } else if self.is_pending(&member_id) {
                self.pending_join.retain(|(id, _)| *id != member_id);
                Ok(())
            } else {
                self.validate_member(&member_id, instance_id.as_deref())
                    .map(|()| self.remove_member(&member_id, RemovalReason::Left, &mut fx))
            };
            results.push(result);
        }
        if results.iter().any(Result::is_ok) {
            match self.state {
                GroupState::Stable | GroupState::CompletingRebalance => {
                    self.maybe_prepare_rebalance_or_complete_join(now_ms, &mut fx)
                }
                GroupState::PreparingRebalance => self.maybe_complete_join_phase(now_ms, &mut fx),
                GroupState::Empty | GroupState::Dead => {}
            }
        }
        (results, fx)
    }

    /// Validates an OffsetCommit (the coordinator stores the offsets).
    ///
    /// Generation `-1` with no member id and no instance id is a "simple"
    /// commit (admin tools, manual assignment), allowed only when the group is
    /// `Empty`. Otherwise the member must be current (`UNKNOWN_MEMBER_ID`,
    /// `FENCED_INSTANCE_ID`) and in the current generation
    /// (`ILLEGAL_GENERATION`); commits are accepted while `PreparingRebalance`
    /// but get `REBALANCE_IN_PROGRESS` while `CompletingRebalance`.
    pub fn validate_commit(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<(), GroupError> {
        self.validate_offset_commit(member_id, group_instance_id, generation_id, false)
    }

    /// Validates a TxnOffsetCommit: like [`Group::validate_commit`] but the
    /// group's state is not enforced (older clients send no member id).
    pub fn validate_txn_commit(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<(), GroupError> {
        self.validate_offset_commit(member_id, group_instance_id, generation_id, true)
    }

    fn validate_offset_commit(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
        transactional: bool,
    ) -> Result<(), GroupError> {
        if self.state == GroupState::Dead {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        if generation_id < 0 && self.state == GroupState::Empty {
            return Ok(());
        }
        if generation_id >= 0 || !member_id.is_empty() || group_instance_id.is_some() {
            self.validate_member(member_id, group_instance_id)?;
            if generation_id != self.generation {
                return Err(GroupError::IllegalGeneration);
            }
        } else if !transactional && self.state != GroupState::Empty {
            return Err(GroupError::UnknownMemberId);
        }
        if !transactional && self.state == GroupState::CompletingRebalance {
            // The member knows the new generation but has no assignment yet.
            return Err(GroupError::RebalanceInProgress);
        }
        Ok(())
    }

    /// Validates an OffsetFetch: only a `Dead` group is refused (`GROUP_ID_NOT_FOUND`).
    pub fn validate_offset_fetch(&self) -> Result<(), GroupError> {
        match self.state {
            GroupState::Dead => Err(GroupError::GroupIdNotFound),
            _ => Ok(()),
        }
    }

    /// Validates an OffsetDelete: `GROUP_ID_NOT_FOUND` when `Dead`;
    /// `NON_EMPTY_GROUP` for an active group unless it uses the `consumer`
    /// protocol type, in which case the coordinator must still refuse
    /// (`GROUP_SUBSCRIBED_TO_TOPIC`) partitions of subscribed topics.
    pub fn validate_offset_delete(&self) -> Result<(), GroupError> {
        match self.state {
            GroupState::Dead => Err(GroupError::GroupIdNotFound),
            GroupState::Empty => Ok(()),
            _ if self.protocol_type.as_deref() == Some("consumer") => Ok(()),
            _ => Err(GroupError::NonEmptyGroup),
        }
    }

    /// Validates a DeleteGroups: only `Empty` groups can be deleted.
    pub fn validate_delete(&self) -> Result<(), GroupError> {
        match self.state {
            GroupState::Dead => Err(GroupError::GroupIdNotFound),
            GroupState::Empty => Ok(()),
            _ => Err(GroupError::NonEmptyGroup),
        }
    }

    /// Deletes an `Empty` group: it becomes `Dead`. The coordinator writes the
    /// tombstone (null value for the group's key) and drops its offsets.
    pub fn delete(&mut self, now_ms: i64) -> Result<(), GroupError> {
        self.validate_delete()?;
        self.transition(GroupState::Dead, now_ms);
        Ok(())
    }

    /// The coordinator lost the group's partition: the group becomes `Dead`
    /// and every parked request is answered `NOT_COORDINATOR` so clients go
    /// find the new coordinator.
    pub fn unload(&mut self, now_ms: i64) -> Vec<Effect> {
        let mut fx = Vec::new();
        for m in &mut self.members {
            if let Some(req) = m.awaiting_join.take() {
                fx.push(Effect::JoinDone(
                    req,
                    JoinResponse::error(GroupError::NotCoordinator, m.id.clone()),
                ));
            }
            if let Some(req) = m.awaiting_sync.take() {
                fx.push(Effect::SyncDone(
                    req,
                    SyncResponse::error(GroupError::NotCoordinator),
                ));
            }
            m.heartbeat_deadline = None;
        }
        self.pending_join.clear();
        self.pending_sync.clear();
        self.join_timer = None;
        self.sync_timer = None;
        self.persists.clear();
        self.transition(GroupState::Dead, now_ms);
        fx
    }
}
