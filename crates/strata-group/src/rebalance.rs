//! The rebalance engine: starting a rebalance, completing the join phase,
//! propagating assignments, and the timers driven by [`Group::tick`].

use bytes::Bytes;

use crate::error::GroupError;
use crate::group::{Group, JoinTimer, JoinTimerKind};
use crate::types::{Effect, GroupState, RemovalReason, SyncResponse};

impl Group {
    /// Starts a rebalance if the state allows one, otherwise tries to finish
    /// the join phase that is already running.
    pub(crate) fn maybe_prepare_rebalance_or_complete_join(
        &mut self,
        now_ms: i64,
        fx: &mut Vec<Effect>,
    ) {
        if self.can_rebalance() {
            self.prepare_rebalance(now_ms, fx);
        } else {
            self.maybe_complete_join_phase(now_ms, fx);
        }
    }

    pub(crate) fn prepare_rebalance(&mut self, now_ms: i64, fx: &mut Vec<Effect>) {
        // Members waiting for an assignment that will never come must rejoin.
        if self.state == GroupState::CompletingRebalance {
            self.reset_and_propagate_with_error(GroupError::RebalanceInProgress, now_ms, fx);
        }
        self.pending_sync.clear();
        self.sync_timer = None;

        let initial = self.state == GroupState::Empty;
        if initial {
            let delay = self.initial_delay_ms;
            let remaining = (self.rebalance_timeout_ms() - delay).max(0);
            self.join_timer = Some(JoinTimer {
                deadline: now_ms.saturating_add(delay),
                kind: JoinTimerKind::Initial { delay, remaining },
            });
        }
        fx.push(Effect::RebalanceStarted {
            generation: self.generation,
        });
        self.transition(GroupState::PreparingRebalance, now_ms);
        if !initial {
            self.maybe_complete_join_else_schedule(now_ms, fx);
        }
    }

    fn maybe_complete_join_else_schedule(&mut self, now_ms: i64, fx: &mut Vec<Effect>) {
        if self.has_all_members_joined() {
            self.complete_join(now_ms, fx);
        } else {
            self.schedule_join_completion(now_ms);
        }
    }

    fn schedule_join_completion(&mut self, now_ms: i64) {
        self.join_timer = Some(JoinTimer {
            deadline: now_ms.saturating_add(self.rebalance_timeout_ms()),
            kind: JoinTimerKind::Complete,
        });
    }

    /// Finishes the join phase early once everyone is in — but never the
    /// initial rebalance, which always waits out its delay.
    pub(crate) fn maybe_complete_join_phase(&mut self, now_ms: i64, fx: &mut Vec<Effect>) {
        if self.state == GroupState::PreparingRebalance
            && self.previous_state != GroupState::Empty
            && self.has_all_members_joined()
        {
            self.complete_join(now_ms, fx);
        }
    }

    /// Ends the join phase: drops dynamic members that did not rejoin, starts
    /// the next generation and answers every parked JoinGroup.
    pub(crate) fn complete_join(&mut self, now_ms: i64, fx: &mut Vec<Effect>) {
        self.join_timer = None;
        // Static members keep their place; their session timeout decides.
        let laggards: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.awaiting_join.is_none() && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in laggards {
            self.remove_member(&id, RemovalReason::NotRejoined, fx);
        }

        if self.state == GroupState::Dead {
            return;
        }
        if !self.maybe_elect_new_joined_leader() && !self.members.is_empty() {
            // Nobody rejoined: wait another rebalance timeout for sessions to expire.
            self.schedule_join_completion(now_ms);
            return;
        }

        self.generation = self.generation.wrapping_add(1);
        self.pending_sync.clear();
        if self.members.is_empty() {
            self.protocol_name = None;
            self.transition(GroupState::Empty, now_ms);
            let value = self.record_with(&[]);
            self.persist(value, None, fx);
            return;
        }

        self.protocol_name = self.select_protocol();
        self.transition(GroupState::CompletingRebalance, now_ms);
        let leader_members = self.join_members();
        for i in 0..self.members.len() {
            let is_leader = self.is_leader(&self.members[i].id);
            let mut answer = self.join_answer(&self.members[i].id, false);
            if is_leader {
                answer.members = leader_members.clone();
            }
            let m = &mut self.members[i];
            if let Some(req) = m.awaiting_join.take() {
                fx.push(Effect::JoinDone(req, answer));
            }
            m.rearm(now_ms);
            m.is_new = false;
            self.pending_sync.push(m.id.clone());
        }
        self.sync_timer = Some((
            now_ms.saturating_add(self.rebalance_timeout_ms()),
            self.generation,
        ));
    }

    /// Keeps the leader if it rejoined, else promotes a member that did.
    /// False when there is no leader or nobody rejoined.
    fn maybe_elect_new_joined_leader(&mut self) -> bool {
        let Some(leader) = self.leader.clone() else {
            return false;
        };
        let leader_joined = self
            .member(&leader)
            .is_some_and(|m| m.awaiting_join.is_some());
        if leader_joined {
            return true;
        }
        match self.members.iter().find(|m| m.awaiting_join.is_some()) {
            Some(m) => {
                self.leader = Some(m.id.clone());
                true
            }
            None => false,
        }
    }

    pub(crate) fn reset_and_propagate_with_error(
        &mut self,
        error: GroupError,
        now_ms: i64,
        fx: &mut Vec<Effect>,
    ) {
        for m in &mut self.members {
            m.assignment = Bytes::new();
        }
        self.propagate_assignment(Some(error), now_ms, fx);
    }

    /// Answers every parked SyncGroup with the member's assignment (or the
    /// error) and restarts its session.
    pub(crate) fn propagate_assignment(
        &mut self,
        error: Option<GroupError>,
        now_ms: i64,
        fx: &mut Vec<Effect>,
    ) {
        let (ptype, pname) = match error {
            None => (self.protocol_type.clone(), self.protocol_name.clone()),
            Some(_) => (None, None),
        };
        for m in &mut self.members {
            if let Some(req) = m.awaiting_sync.take() {
                fx.push(Effect::SyncDone(
                    req,
                    SyncResponse {
                        error,
                        protocol_type: ptype.clone(),
                        protocol_name: pname.clone(),
                        assignment: m.assignment.clone(),
                    },
                ));
                m.rearm(now_ms);
            }
        }
    }

    /// Fires every timer due at `now_ms`, earliest first: session expiry of
    /// members and pending members, the end of the join phase (or of the
    /// initial delay), and the SyncGroup deadline.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Effect> {
        let mut fx = Vec::new();
        // Bounded so a zero timeout that keeps rescheduling at `now` cannot
        // spin forever; leftovers fire on the next tick.
        let mut budget = 4 * (self.members.len() + self.pending_join.len() + 4);
        while budget > 0 {
            budget -= 1;
            match self.next_due(now_ms) {
                Some(Due::Pending(id)) => {
                    self.pending_join.retain(|(p, _)| *p != id);
                    if self.state == GroupState::PreparingRebalance && self.has_all_members_joined()
                    {
                        self.complete_join(now_ms, &mut fx);
                    }
                }
                Some(Due::Member(id)) => self.expire_member(&id, now_ms, &mut fx),
                Some(Due::Join) => self.fire_join_timer(now_ms, &mut fx),
                Some(Due::Sync) => self.expire_pending_sync(now_ms, &mut fx),
                None => break,
            }
        }
        fx
    }

    /// When [`Group::tick`] should next be called; `None` when no timer runs.
    pub fn next_deadline(&self) -> Option<i64> {
        let members = self.members.iter().filter_map(|m| m.heartbeat_deadline);
        let pending = self.pending_join.iter().map(|(_, d)| *d);
        let join = self.join_timer.map(|t| t.deadline);
        let sync = self.sync_timer.map(|(d, _)| d);
        members.chain(pending).chain(join).chain(sync).min()
    }

    fn next_due(&self, now_ms: i64) -> Option<Due> {
        let mut best: Option<(i64, Due)> = None;
        let mut offer = |deadline: i64, due: Due| {
            if deadline <= now_ms && best.as_ref().is_none_or(|(d, _)| deadline < *d) {
                best = Some((deadline, due));
            }
        };
        for m in &self.members {
            if let Some(d) = m.heartbeat_deadline {
                offer(d, Due::Member(m.id.clone()));
            }
        }
        for (id, d) in &self.pending_join {
            offer(*d, Due::Pending(id.clone()));
        }
        if let Some(t) = self.join_timer {
            offer(t.deadline, Due::Join);
        }
        if let Some((d, _)) = self.sync_timer {
            offer(d, Due::Sync);
        }
        best.map(|(_, due)| due)
    }

    fn expire_member(&mut self, member_id: &str, now_ms: i64, fx: &mut Vec<Effect>) {
        let Some(i) = self.idx(member_id) else { return };
        if self.members[i].has_satisfied_heartbeat() {
            // Waiting on the group is fine; the deadline is re-armed when the wait ends.
            self.members[i].heartbeat_deadline = None;
            return;
        }
        self.remove_member(member_id, RemovalReason::SessionExpired, fx);
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.maybe_prepare_rebalance_or_complete_join(now_ms, fx)
            }
            GroupState::PreparingRebalance if self.has_all_members_joined() => {
                self.complete_join(now_ms, fx)
            }
            _ => {}
        }
    }

    fn fire_join_timer(&mut self, now_ms: i64, fx: &mut Vec<Effect>) {
        let Some(timer) = self.join_timer.take() else {
            return;
        };
        match timer.kind {
            JoinTimerKind::Initial { delay, remaining }
                if self.new_member_added && remaining != 0 =>
            {
                self.new_member_added = false;
                let new_delay = self.initial_delay_ms.min(remaining);
                let new_remaining = (remaining - delay).max(0);
                self.join_timer = Some(JoinTimer {
                    deadline: now_ms.saturating_add(new_delay),
                    kind: JoinTimerKind::Initial {
                        delay: new_delay,
                        remaining: new_remaining,
                    },
                });
            }
            _ => self.complete_join(now_ms, fx),
        }
    }

    fn expire_pending_sync(&mut self, now_ms: i64, fx: &mut Vec<Effect>) {
        let Some((_, generation)) = self.sync_timer.take() else {
            return;
        };
        if generation != self.generation {
            return;
        }
        if matches!(
            self.state,
            GroupState::CompletingRebalance | GroupState::Stable
        ) && !self.pending_sync.is_empty()
        {
            for id in std::mem::take(&mut self.pending_sync) {
                self.remove_member(&id, RemovalReason::SyncExpired, fx);
            }
            self.prepare_rebalance(now_ms, fx);
        }
    }
}

enum Due {
    Member(String),
    Pending(String),
    Join,
    Sync,
}
