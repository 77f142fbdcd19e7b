//! The consumer's group side: subscribe/unsubscribe, joining and rebalance callbacks,
//! commits (sync, async, auto), committed-offset lookups, metadata watching and close.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use parking_lot::Mutex;
use tokio::time::Instant;

use super::{Consumer, ConsumerConfig, Position};
use crate::cluster::Cluster;
use crate::error::{codes, ClientError, Result};
use crate::group::coordinator::{is_coordinator_error, CommitIdentity, CoordinatorLink};
use crate::group::member::{
    current_partition_counts, GroupMember, MemberSettings, MemberState, Shared,
};
use crate::group::OffsetAndMetadata;
use crate::offsets::TopicPartition;

/// Per-partition outcome of a commit.
pub type CommitResult = BTreeMap<TopicPartition, Result<()>>;

/// A commit running in the background; await it for the outcome, or drop it to not care.
pub struct CommitFuture(tokio::task::JoinHandle<Result<CommitResult>>);

impl Future for CommitFuture {
    type Output = Result<CommitResult>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|r| match r {
            Ok(r) => r,
            Err(e) => Err(ClientError::Protocol(format!("commit task failed: {e}"))),
        })
    }
}

/// Group state owned by the consumer.
pub(super) struct GroupState {
    member: GroupMember,
    /// Subscribed topics, sorted; empty when not subscribed.
    subscription: Vec<String>,
    next_auto_commit: Instant,
    last_auto_commit: BTreeMap<TopicPartition, i64>,
    /// Partition counts of the watched topics when the assignment was made.
    watched: BTreeMap<String, i32>,
    next_metadata_check: Instant,
}

impl GroupState {
    pub(super) fn new(cluster: Arc<Cluster>, group_id: &str, config: &ConsumerConfig) -> Self {
        let link = CoordinatorLink::new(cluster, group_id);
        let settings = MemberSettings {
            group_instance_id: config.group_instance_id.clone(),
            session_timeout: config.session_timeout,
            rebalance_timeout: config.rebalance_timeout,
            heartbeat_interval: config.heartbeat_interval,
            strategies: config.partition_assignment_strategy.clone(),
        };
        GroupState {
            member: GroupMember::new(link, settings),
            subscription: Vec::new(),
            next_auto_commit: Instant::now() + config.auto_commit_interval,
            last_auto_commit: BTreeMap::new(),
            watched: BTreeMap::new(),
            next_metadata_check: Instant::now() + config.metadata_max_age,
        }
    }

    pub(super) async fn fetch_committed(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
        fetch_committed_retrying(&self.member.link, partitions).await
    }

    /// The identity commits are made under: the member's when subscribed, else an outsider's.
    fn identity(&self) -> CommitIdentity {
        if self.subscription.is_empty() {
            CommitIdentity::outsider()
        } else {
            self.member.identity()
        }
    }
}

async fn fetch_committed_retrying(
    link: &CoordinatorLink,
    partitions: &[TopicPartition],
) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
    let deadline = Instant::now() + link.cluster().config.request_timeout;
    loop {
        match link.offset_fetch(Some(partitions)).await {
            Ok(r) => return Ok(r),
            Err(e) if retry_commit_error(&e) && Instant::now() < deadline => {
                if e.code().is_some_and(is_coordinator_error) {
                    link.mark_unknown().await;
                }
                tokio::time::sleep(link.cluster().config.retry_backoff).await;
            }
            Err(e) => return Err(e),
        }
    }
}

fn retry_commit_error(e: &ClientError) -> bool {
    match e.code() {
        Some(c) => {
            is_coordinator_error(c)
                || c == codes::COORDINATOR_LOAD_IN_PROGRESS
                || e.is_retriable() && c != codes::REBALANCE_IN_PROGRESS
        }
        None => e.is_retriable(),
    }
}

/// Commits `offsets`, retrying coordinator moves until the request timeout. Group-level
/// rejections (stale generation, rebalance) update the membership and fail the whole commit.
pub(crate) async fn commit_with_retry(
    link: Arc<CoordinatorLink>,
    shared: Option<Arc<Mutex<Shared>>>,
    who: CommitIdentity,
    offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
) -> Result<CommitResult> {
    if offsets.is_empty() {
        return Ok(BTreeMap::new());
    }
    let group = link.group_id().to_string();
    let deadline = Instant::now() + link.cluster().config.request_timeout;
    loop {
        let retry = match link.offset_commit(&who, &offsets).await {
            Err(e) if e.is_retriable() && Instant::now() < deadline => true,
            Err(e) => return Err(e),
            Ok(codes_by_tp) => {
                let first_group_error = codes_by_tp.values().copied().find(|c| {
                    matches!(
                        *c,
                        codes::UNKNOWN_MEMBER_ID
                            | codes::ILLEGAL_GENERATION
                            | codes::REBALANCE_IN_PROGRESS
                            | codes::FENCED_INSTANCE_ID
                            | codes::NOT_COORDINATOR
                            | codes::COORDINATOR_NOT_AVAILABLE
                            | codes::COORDINATOR_LOAD_IN_PROGRESS
                    )
                });
                match first_group_error {
                    None => {
                        return Ok(codes_by_tp
                            .into_iter()
                            .map(|(tp, c)| {
                                let r = if c == 0 {
                                    Ok(())
                                } else {
                                    Err(ClientError::from_code(
                                        c,
                                        None,
                                        &format!(
                                            "committing {}-{} for group '{group}'",
                                            tp.0, tp.1
                                        ),
                                    ))
                                };
                                (tp, r)
                            })
                            .collect())
                    }
                    Some(c)
                        if is_coordinator_error(c) || c == codes::COORDINATOR_LOAD_IN_PROGRESS =>
                    {
                        if is_coordinator_error(c) {
                            link.mark_unknown().await;
                        }
                        if Instant::now() >= deadline {
                            return Err(ClientError::from_code(
                                c,
                                None,
                                &format!("committing offsets for group '{group}'"),
                            ));
                        }
                        true
                    }
                    Some(c) => {
                        if let Some(shared) = &shared {
                            let mut s = shared.lock();
                            if s.generation == who.generation {
                                match c {
                                    codes::UNKNOWN_MEMBER_ID | codes::ILLEGAL_GENERATION => {
                                        s.reset(c == codes::UNKNOWN_MEMBER_ID, "commit rejected")
                                    }
                                    codes::REBALANCE_IN_PROGRESS => {
                                        s.request_rejoin("commit: the group is rebalancing")
                                    }
                                    _ => {}
                                }
                            }
                        }
                        let why = match c {
                            codes::REBALANCE_IN_PROGRESS => "the group is rebalancing; the partitions may move, so the commit was refused",
                            codes::FENCED_INSTANCE_ID => "another consumer uses this group_instance_id",
                            _ if who.generation < 0 => "the group has active members; only they can commit (stop them first)",
                            _ => "this member is no longer part of the group's current generation",
                        };
                        return Err(ClientError::from_code(
                            c,
                            None,
                            &format!("commit for group '{group}' failed: {why}"),
                        ));
                    }
                }
            }
        };
        if retry {
            tokio::time::sleep(link.cluster().config.retry_backoff).await;
        }
    }
}

impl Consumer {
    fn group_or_err(&self) -> Result<&GroupState> {
        self.group.as_ref().ok_or_else(|| {
            ClientError::Config("this needs a consumer group: set group_id in the config".into())
        })
    }

    pub(super) fn is_subscribed(&self) -> bool {
        self.group
            .as_ref()
            .is_some_and(|g| !g.subscription.is_empty())
    }

    /// Subscribes to `topics` as a member of the configured group. The join happens in the
    /// next `poll`; the group's assignor decides which partitions this member reads.
    /// Subscribing again with other topics triggers a rebalance.
    pub fn subscribe<S: AsRef<str>>(&mut self, topics: &[S]) -> Result<()> {
        let manual = !self.positions.is_empty() && !self.is_subscribed();
        let g = self.group.as_mut().ok_or_else(|| {
            ClientError::Config(
                "subscribe needs a consumer group: set group_id in the config".into(),
            )
        })?;
        if manual {
            return Err(ClientError::Config(
                "cannot subscribe while partitions are assigned manually; assign an empty list first"
                    .into(),
            ));
        }
        let mut list: Vec<String> = topics
            .iter()
            .map(|t| t.as_ref().trim().to_string())
            .collect();
        if list.iter().any(String::is_empty) {
            return Err(ClientError::Config("topic names must not be empty".into()));
        }
        list.sort();
        list.dedup();
        if list.is_empty() {
            return Err(ClientError::Config(
                "subscribe needs at least one topic (use unsubscribe to stop)".into(),
            ));
        }
        if list != g.subscription {
            g.subscription = list;
            g.member.request_rejoin("subscription changed");
        }
        Ok(())
    }

    /// The subscribed topics.
    pub fn subscription(&self) -> Vec<String> {
        self.group
            .as_ref()
            .map(|g| g.subscription.clone())
            .unwrap_or_default()
    }

    /// Leaves the group (committing first with auto-commit) and drops the assignment.
    pub async fn unsubscribe(&mut self) -> Result<()> {
        let result = self.leave_group("the consumer unsubscribed").await;
        if let Some(g) = self.group.as_mut() {
            g.subscription.clear();
        }
        self.positions.clear();
        result
    }

    /// The generation and member id while in a group.
    pub fn group_membership(&self) -> Option<(i32, String)> {
        let g = self.group.as_ref()?;
        let s = g.member.shared.lock();
        (s.state == MemberState::Stable).then(|| (s.generation, s.member_id.clone()))
    }

    fn listener(&self) -> Option<Arc<dyn crate::consumer::RebalanceListener>> {
        self.config.rebalance_listener.as_ref().map(|l| l.0.clone())
    }

    /// Consumed positions of the given partitions as commit offsets.
    fn positions_of(&self, tps: &[TopicPartition]) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        tps.iter()
            .filter_map(|tp| match self.positions.get(tp) {
                Some(Position::At(o)) => Some((tp.clone(), OffsetAndMetadata::new(*o))),
                _ => None,
            })
            .collect()
    }

    /// Synchronously commits the positions of all assigned partitions (the offsets after the
    /// records poll has returned). Returns each partition's outcome; an `Err` means the
    /// commit as a whole failed (e.g. the group rebalanced).
    pub async fn commit_offsets(&mut self) -> Result<CommitResult> {
        let tps = self.assignment();
        let offsets = self.positions_of(&tps);
        self.commit(offsets).await
    }

    /// Commits the current positions in the background; poll is not blocked. Await the
    /// returned future for the outcome, or drop it.
    pub fn commit_offsets_async(&mut self) -> Result<CommitFuture> {
        let tps = self.assignment();
        let offsets = self.positions_of(&tps);
        self.commit_async(offsets)
    }

    /// Commits explicit offsets (with optional metadata strings) and waits for the result.
    pub async fn commit(
        &mut self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<CommitResult> {
        let g = self.group_or_err()?;
        commit_with_retry(
            g.member.link.clone(),
            Some(g.member.shared.clone()),
            g.identity(),
            offsets,
        )
        .await
    }

    /// Commits explicit offsets in the background.
    pub fn commit_async(
        &mut self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<CommitFuture> {
        let g = self.group_or_err()?;
        Ok(CommitFuture(tokio::spawn(commit_with_retry(
            g.member.link.clone(),
            Some(g.member.shared.clone()),
            g.identity(),
            offsets,
        ))))
    }

    /// The group's committed offsets for `partitions` (`None` where nothing is committed).
    pub async fn committed(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
        self.group_or_err()?.fetch_committed(partitions).await
    }

    /// Commits (with auto-commit), fires the revoke callback, and leaves the group (dynamic
    /// members only; a static member's partitions wait for it until its session expires).
    pub async fn close(&mut self) -> Result<()> {
        let result = if self.is_subscribed() {
            self.leave_group("the consumer is closing").await
        } else if self.group.is_some() && self.config.auto_commit && !self.positions.is_empty() {
            self.commit_offsets().await.map(|_| ())
        } else {
            Ok(())
        };
        self.positions.clear();
        if let Some(g) = self.group.as_mut() {
            g.subscription.clear();
        }
        result
    }

    async fn leave_group(&mut self, reason: &str) -> Result<()> {
        if !self.is_subscribed() {
            return Ok(());
        }
        let owned = self.assignment();
        let lost = self.group.as_ref().is_some_and(|g| {
            let s = g.member.shared.lock();
            s.lost || s.generation < 0
        });
        let mut first_err = None;
        if !owned.is_empty() {
            if lost {
                if let Some(l) = self.listener() {
                    l.on_partitions_lost(&owned);
                }
            } else {
                if self.config.auto_commit {
                    if let Err(e) = self.commit_offsets().await {
                        tracing::warn!(error = %e, "commit before leaving the group failed");
                        first_err = Some(e);
                    }
                }
                if let Some(l) = self.listener() {
                    l.on_partitions_revoked(&owned);
                }
            }
        }
        self.positions.clear();
        if let Some(g) = self.group.as_mut() {
            if let Err(e) = g.member.leave(reason).await {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// The group's part of `poll`: note the poll, rejoin when needed, auto-commit when due,
    /// and watch subscribed topics for partition-count changes.
    pub(super) async fn group_poll(&mut self) -> Result<()> {
        let Some(g) = self.group.as_mut() else {
            return Ok(());
        };
        g.member.shared.lock().last_poll = Instant::now();
        if g.subscription.is_empty() {
            return self.maybe_auto_commit();
        }
        if let Some(e) = g.member.shared.lock().fatal.clone() {
            return Err(e);
        }
        if Instant::now() >= g.next_metadata_check {
            g.next_metadata_check = Instant::now() + self.config.metadata_max_age;
            let topics: BTreeSet<String> = g
                .watched
                .keys()
                .cloned()
                .chain(g.subscription.iter().cloned())
                .collect();
            match current_partition_counts(&self.cluster, &topics).await {
                Ok(now)
                    if now != g.watched && g.member.shared.lock().state == MemberState::Stable =>
                {
                    tracing::info!(before = ?g.watched, ?now, "subscribed topics changed");
                    g.member
                        .request_rejoin("partition count of a subscribed topic changed");
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "metadata check failed"),
            }
        }
        while self.group.as_ref().is_some_and(|g| g.member.needs_join()) {
            self.rebalance_step().await?;
        }
        self.maybe_auto_commit()
    }

    fn maybe_auto_commit(&mut self) -> Result<()> {
        if !self.config.auto_commit || self.positions.is_empty() {
            return Ok(());
        }
        let Some(g) = self.group.as_ref() else {
            return Ok(());
        };
        if Instant::now() < g.next_auto_commit {
            return Ok(());
        }
        let offsets = self.positions_of(&self.assignment());
        let g = self.group.as_mut().ok_or(ClientError::Closed)?;
        g.next_auto_commit = Instant::now() + self.config.auto_commit_interval;
        let changed: BTreeMap<TopicPartition, i64> = offsets
            .iter()
            .map(|(tp, o)| (tp.clone(), o.offset))
            .collect();
        if changed == g.last_auto_commit {
            return Ok(());
        }
        g.last_auto_commit = changed;
        let task = commit_with_retry(
            g.member.link.clone(),
            Some(g.member.shared.clone()),
            g.identity(),
            offsets,
        );
        tokio::spawn(async move {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "auto-commit failed");
            }
        });
        Ok(())
    }

    /// One JoinGroup/SyncGroup round with the callbacks around it.
    async fn rebalance_step(&mut self) -> Result<()> {
        let cooperative = self
            .group
            .as_ref()
            .is_some_and(|g| g.member.settings.cooperative());
        self.prepare_join(cooperative).await;
        let owned = self.assignment();
        let g = self.group.as_mut().ok_or(ClientError::Closed)?;
        let subscription = g.subscription.clone();
        let Some(joined) = g.member.join_once(&subscription, &owned).await? else {
            return Ok(());
        };
        tracing::info!(
            group = %g.member.link.group_id(),
            generation = joined.generation,
            partitions = ?joined.assignment.partitions,
            "joined group"
        );
        let mut new: BTreeSet<TopicPartition> = BTreeSet::new();
        let mut foreign = false;
        for tp in joined.assignment.partitions {
            if subscription.contains(&tp.0) {
                new.insert(tp);
            } else {
                foreign = true;
            }
        }
        if foreign {
            g.member
                .request_rejoin("assignment includes topics we are not subscribed to");
        }
        g.watched = match joined.group_topics {
            Some(counts) => counts,
            None => {
                current_partition_counts(&self.cluster, &subscription.iter().cloned().collect())
                    .await
                    .unwrap_or_default()
            }
        };
        g.next_metadata_check = Instant::now() + self.config.metadata_max_age;
        g.last_auto_commit.clear();
        let owned: BTreeSet<TopicPartition> = self.positions.keys().cloned().collect();
        let revoked: Vec<TopicPartition> = owned.difference(&new).cloned().collect();
        let added: Vec<TopicPartition> = new.difference(&owned).cloned().collect();
        if !revoked.is_empty() {
            // Cooperative: give up what moves, then rejoin so it can be handed out.
            self.revoke(&revoked).await;
            if let Some(g) = self.group.as_ref() {
                g.member
                    .request_rejoin("revoked partitions must be reassigned");
            }
        }
        for tp in &added {
            self.positions.insert(tp.clone(), Position::Committed);
        }
        if let Some(l) = self.listener() {
            l.on_partitions_assigned(&added);
        }
        Ok(())
    }

    /// Commits (with auto-commit), calls the revoke callback and drops `partitions`.
    async fn revoke(&mut self, partitions: &[TopicPartition]) {
        if partitions.is_empty() {
            return;
        }
        if self.config.auto_commit {
            let offsets = self.positions_of(partitions);
            if let Err(e) = self.commit(offsets).await {
                tracing::warn!(error = %e, "commit before revoking partitions failed");
            }
        }
        if let Some(l) = self.listener() {
            l.on_partitions_revoked(partitions);
        }
        for tp in partitions {
            self.positions.remove(tp);
        }
    }

    /// Before joining: lost partitions are dropped (callback "lost"); eager members revoke
    /// everything; cooperative members revoke only topics they no longer subscribe to.
    async fn prepare_join(&mut self, cooperative: bool) {
        let Some(g) = self.group.as_ref() else { return };
        let lost = std::mem::take(&mut g.member.shared.lock().lost);
        let owned = self.assignment();
        if owned.is_empty() {
            return;
        }
        if lost {
            tracing::info!(partitions = ?owned, "partitions lost");
            if let Some(l) = self.listener() {
                l.on_partitions_lost(&owned);
            }
            self.positions.clear();
        } else if !cooperative {
            self.revoke(&owned).await;
        } else {
            let subscription = g.subscription.clone();
            let gone: Vec<TopicPartition> = owned
                .into_iter()
                .filter(|tp| !subscription.contains(&tp.0))
                .collect();
            self.revoke(&gone).await;
        }
    }
}
