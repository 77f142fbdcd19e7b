//! The fetcher for one leader broker: truncates newly followed partitions to the
//! leader's epoch boundary, then fetches all of them in one Fetch per round.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::{BrokerId, FetchRequest, OffsetForLeaderEpochRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strata_replication::{truncation_offset, EpochEndOffset, TruncationPlan};
use tokio::sync::watch;

use super::client::{BrokerConnection, ConnectError};
use super::login::PeerSecurity;
use super::throttle::{self, FollowerRound, ThrottledLists};
use crate::replica::{Fetched, Partition};
use crate::Broker;

const FETCH_VERSION: i16 = 12;
const EPOCH_VERSION: i16 = 3;
/// How long the leader may hold a fetch with nothing new.
const MAX_WAIT_MS: i32 = 500;
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// After a round whose records could not be stored (a full disk), the next round waits
/// this long, doubling up to `APPEND_BACKOFF_MAX`, instead of fetching the same records
/// again at once.
const APPEND_BACKOFF: Duration = Duration::from_millis(50);
const APPEND_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// A fetcher with no partitions for this long ends (the manager starts a new one
/// when needed).
const IDLE_EXIT: Duration = Duration::from_secs(2);

/// Runs until shutdown or until nothing here follows `leader` any more.
pub(super) async fn run(broker: Arc<Broker>, leader: i32, shutdown: watch::Receiver<bool>) {
    let mut conn: Option<BrokerConnection> = None;
    let mut idle_since = tokio::time::Instant::now();
    let mut backoff = APPEND_BACKOFF;
    // The follower-throttled replica lists, parsed once per config value.
    let mut lists = ThrottledLists::default();
    let mut followed = Members::new(&broker, leader);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let parts = followed.current(&broker);
        if parts.is_empty() {
            // Until the roles change (a partition may come to follow this leader), or
            // long enough idle to end.
            let mut stop = shutdown.clone();
            tokio::select! {
                _ = followed.roles_changed(&broker) => {}
                _ = tokio::time::sleep_until(idle_since + IDLE_EXIT) => return,
                _ = stop.changed() => return,
            }
            continue;
        }
        idle_since = tokio::time::Instant::now();
        if conn.as_ref().is_some_and(|c| c.session_expiring()) {
            // A fresh login before the leader's session limit closes this one.
            conn = None;
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => {
                let Some(addr) = broker
                    .meta
                    .image()
                    .broker(leader)
                    .map(|b| format!("{}:{}", b.host, b.port))
                else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                let security = PeerSecurity::for_broker(&broker);
                match BrokerConnection::connect(
                    &addr,
                    broker.config.node_id,
                    CALL_TIMEOUT,
                    &security,
                )
                .await
                {
                    Ok(c) => conn.insert(c),
                    Err(ConnectError::Unreachable(e)) => {
                        tracing::debug!(leader, error = %format!("{e:#}"), "cannot reach the leader");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                    Err(ConnectError::Refused(e)) => {
                        // Certificates or credentials: loud, and not retried in a tight loop.
                        tracing::warn!(leader, error = %format!("{e:#}"), "the leader refused this follower");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        continue;
                    }
                }
            }
        };
        let round = async {
            let truncating: Vec<_> = parts.iter().filter(|(_, _, t, _)| *t).collect();
            if !truncating.is_empty() {
                truncate(&broker, c, &truncating).await?;
            }
            let fetching: Vec<_> = parts.iter().filter(|(_, _, t, _)| !*t).collect();
            if fetching.is_empty() {
                return Ok(0);
            }
            let throttle = follower_throttle(&broker, &mut lists, &fetching, shutdown.clone());
            let Some((rate, sent, counted, max_wait_ms)) = throttle.await else {
                // Every partition was held back; the bucket has refilled since.
                return Ok(0);
            };
            let (unstored, received) = fetch(&broker, c, &sent, &counted, max_wait_ms).await?;
            if let (Some(rate), true) = (rate, received > 0) {
                let now = std::time::Instant::now();
                broker
                    .replication_throttle
                    .follower_spend(rate, received, now);
            }
            anyhow::Ok(unstored)
        };
        match round.await {
            Ok(0) => backoff = APPEND_BACKOFF,
            Ok(_unstored) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(APPEND_BACKOFF_MAX);
            }
            Err(e) => {
                tracing::debug!(leader, error = %e, "replica fetch failed");
                conn = None;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A partition following this fetcher's leader: its leader epoch, whether it must
/// truncate first, and the role generation the state was read at.
type Followed = (Arc<Partition>, i32, bool, u64);

/// The partitions that follow one leader, found by a scan of every hosted replica only
/// when the replica manager's generation moved (a metadata sync may have changed
/// roles): with thousands of partitions a scan per fetch round cost more than the
/// round. Each round still reads the members' own state (epoch, truncation asked for
/// after damage), which changes without a new generation.
struct Members {
    leader: i32,
    /// The replica manager's generation; seen (marked so) when `partitions` was found.
    generations: watch::Receiver<u64>,
    partitions: Vec<Arc<Partition>>,
}

impl Members {
    fn new(broker: &Broker, leader: i32) -> Self {
        let mut m = Self {
            leader,
            generations: broker.replicas.watch_generation(),
            partitions: Vec::new(),
        };
        m.rescan(broker);
        m
    }

    fn rescan(&mut self, broker: &Broker) {
        // Marked seen before the scan: a sync during it is seen by the next `current`.
        self.generations.borrow_and_update();
        let leader = self.leader;
        self.partitions = broker
            .replicas
            .filter(|p| p.following().is_some_and(|(l, _, _)| l == leader));
    }

    /// The members following this leader now, with their state.
    fn current(&mut self, broker: &Broker) -> Vec<Followed> {
        if self.generations.has_changed().unwrap_or(false) {
            self.rescan(broker);
        }
        self.partitions
            .iter()
            .filter_map(|p| match p.follow_state() {
                Some(((l, epoch, truncate), generation)) if l == self.leader => {
                    Some((Arc::clone(p), epoch, truncate, generation))
                }
                _ => None,
            })
            .collect()
    }

    /// Waits until the roles may have changed since the last scan, then scans again
    /// (never returns once the replica manager is gone: the broker is stopping).
    async fn roles_changed(&mut self, broker: &Broker) {
        if self.generations.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        self.rescan(broker);
    }
}

fn key(p: &Partition) -> (String, i32) {
    (p.topic.to_string(), p.index)
}

/// OffsetForLeaderEpoch for every partition that just started following, then
/// truncation (KIP-101/279); repeated rounds settle diverged histories. The log work
/// of all of them is one blocking-pool hop before the request and one after.
async fn truncate(
    broker: &Arc<Broker>,
    conn: &mut BrokerConnection,
    parts: &[&Followed],
) -> anyhow::Result<()> {
    let local: Vec<(Arc<Partition>, i32)> = parts
        .iter()
        .map(|(p, epoch, _, _)| (Arc::clone(p), *epoch))
        .collect();
    let planned = tokio::task::spawn_blocking(move || {
        local
            .into_iter()
            .map(|(p, epoch)| {
                let plan = plan_locally_blocking(&p);
                (p, epoch, plan)
            })
            .collect::<Vec<_>>()
    })
    .await?;
    let mut asks: HashMap<(String, i32), (Arc<Partition>, i32)> = HashMap::new();
    let mut failed = None;
    for (p, epoch, plan) in planned {
        match plan {
            Ok(Some(TruncationPlan::Truncate(_))) => p.truncation_done(epoch),
            Ok(Some(TruncationPlan::AskLeader { epoch: ours })) => {
                asks.insert(key(&p), (p, ours));
            }
            Ok(None) => {}
            Err(e) => failed = Some(e),
        }
    }
    if let Some(e) = failed {
        return Err(e.into());
    }
    if asks.is_empty() {
        return Ok(());
    }
    let req = epoch_request(broker.config.node_id, &asks);
    let resp = conn.call(&req, EPOCH_VERSION, CALL_TIMEOUT).await?;
    let mut answers = Vec::new();
    for t in resp.topics {
        for r in t.partitions {
            let Some((p, _)) = asks.get(&(t.topic.0.to_string(), r.partition)) else {
                continue;
            };
            if r.error_code != 0 {
                tracing::debug!(topic = %p.topic, partition = p.index, error = r.error_code, "OffsetForLeaderEpoch refused");
                continue;
            }
            let answer = EpochEndOffset {
                epoch: r.leader_epoch,
                end_offset: r.end_offset,
            };
            let epoch = p.following().map_or(-1, |(_, e, _)| e);
            answers.push((Arc::clone(p), epoch, answer));
        }
    }
    let done = tokio::task::spawn_blocking(move || {
        answers
            .into_iter()
            .map(|(p, epoch, answer)| {
                let Some((cache, leo, hw)) = p.epoch_view_blocking() else {
                    return Ok((p, epoch, false));
                };
                let t = truncation_offset(&cache, leo, hw, answer);
                p.truncate_blocking(t.offset)?;
                Ok((p, epoch, t.complete))
            })
            .collect::<Vec<Result<_, strata_log::LogError>>>()
    })
    .await?;
    let mut failed = None;
    for r in done {
        match r {
            Ok((p, epoch, true)) => p.truncation_done(epoch),
            Ok(_) => {}
            Err(e) => failed = Some(e),
        }
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// The truncation a partition can decide from its own log (dropping a damaged tail
/// first, then truncating when the plan says so), or that it must ask the leader;
/// `None` for a closed log. Blocking.
fn plan_locally_blocking(p: &Partition) -> Result<Option<TruncationPlan>, strata_log::LogError> {
    p.drop_damaged_tail_blocking()?;
    let Some((cache, leo, hw)) = p.epoch_view_blocking() else {
        return Ok(None);
    };
    let plan = strata_replication::plan_truncation(&cache, leo, hw);
    if let TruncationPlan::Truncate(t) = &plan {
        p.truncate_blocking(t.offset)?;
    }
    Ok(Some(plan))
}

/// OffsetForLeaderEpoch for `asks` (partition → the newest epoch this replica has).
fn epoch_request(
    node_id: i32,
    asks: &HashMap<(String, i32), (Arc<Partition>, i32)>,
) -> OffsetForLeaderEpochRequest {
    let mut by_topic: HashMap<String, Vec<OffsetForLeaderPartition>> = HashMap::new();
    for ((topic, index), (p, ours)) in asks {
        let current = p.following().map_or(-1, |(_, e, _)| e);
        by_topic.entry(topic.clone()).or_default().push(
            OffsetForLeaderPartition::default()
                .with_partition(*index)
                .with_current_leader_epoch(current)
                .with_leader_epoch(*ours),
        );
    }
    OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(node_id))
        .with_topics(
            by_topic
                .into_iter()
                .map(|(t, parts)| {
                    OffsetForLeaderTopic::default()
                        .with_topic(TopicName(StrBytes::from_string(t)))
                        .with_partitions(parts)
                })
                .collect(),
        )
}

/// The follower-side throttle (KIP-73) for one Fetch of `fetching`: the rate, the
/// partitions to fetch, which of them count against the rate, and how long the leader
/// may hold the Fetch; `None` when every partition is held back, after waiting for the
/// bucket to refill (`throttle::ReplicationThrottle::follower_round`).
async fn follower_throttle<'a>(
    broker: &Broker,
    lists: &mut ThrottledLists,
    fetching: &[&'a Followed],
    shutdown: watch::Receiver<bool>,
) -> Option<(Option<f64>, Vec<&'a Followed>, Vec<bool>, i32)> {
    let image = broker.meta.image();
    let node = broker.config.node_id;
    let rate = throttle::follower_rate(&image, node);
    let flags: Vec<(bool, bool)> = fetching
        .iter()
        .map(|(p, _, _, _)| match rate {
            Some(_) => {
                let topic = image.topic(&p.topic).map(|t| &**t);
                throttle::follower_throttles(lists, topic, p.index, node)
            }
            None => (false, false),
        })
        .collect();
    let throttled: Vec<bool> = flags.iter().map(|(t, _)| *t).collect();
    let now = std::time::Instant::now();
    let (skip, max_wait) = match broker
        .replication_throttle
        .follower_round(rate, &throttled, now)
    {
        FollowerRound::Fetch { skip, max_wait } => (skip, max_wait),
        FollowerRound::Wait(refill) => {
            wait_for_refill(broker, refill, shutdown).await;
            return None;
        }
    };
    let mut sent = Vec::with_capacity(fetching.len());
    let mut counted = Vec::with_capacity(fetching.len());
    for (i, (f, (_, listed))) in fetching.iter().zip(&flags).enumerate() {
        if !skip.get(i).copied().unwrap_or(false) {
            sent.push(*f);
            counted.push(*listed);
        }
    }
    let max_wait_ms = max_wait.map_or(MAX_WAIT_MS, |w| {
        (w.as_millis().min(MAX_WAIT_MS as u128) as i32).max(1)
    });
    Some((rate, sent, counted, max_wait_ms))
}

/// Waits until the follower bucket has refilled (`refill`), or the metadata changed
/// (a new rate, a replica joining the ISR, a list changed), or shutdown.
async fn wait_for_refill(broker: &Broker, refill: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut images = broker.meta.raft().subscribe();
    images.borrow_and_update();
    tokio::select! {
        _ = tokio::time::sleep(refill) => {}
        _ = images.changed() => {}
        _ = shutdown.changed() => {}
    }
}

/// One Fetch for `parts` (waiting at most `max_wait_ms` for data), its records
/// appended; returns how many partitions' records could not be stored, and how many
/// bytes came back for the partitions `counted` marks (those listed for the follower
/// throttle).
async fn fetch(
    broker: &Arc<Broker>,
    conn: &mut BrokerConnection,
    parts: &[&Followed],
    counted: &[bool],
    max_wait_ms: i32,
) -> anyhow::Result<(usize, usize)> {
    let mut by_topic: HashMap<String, Vec<FetchPartition>> = HashMap::new();
    let mut index: HashMap<(String, i32), (Arc<Partition>, u64, bool)> = HashMap::new();
    for ((p, epoch, _, generation), counts) in parts.iter().zip(counted) {
        // Published with the log's offsets: no log lock, no blocking hop per partition.
        let last_epoch = p.latest_epoch();
        by_topic.entry(p.topic.to_string()).or_default().push(
            FetchPartition::default()
                .with_partition(p.index)
                .with_current_leader_epoch(*epoch)
                .with_fetch_offset(p.log_end_offset())
                .with_last_fetched_epoch(last_epoch)
                .with_log_start_offset(p.log_start_offset())
                .with_partition_max_bytes(1 << 20),
        );
        index.insert(key(p), (Arc::clone(p), *generation, *counts));
    }
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(broker.config.node_id))
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(16 << 20)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(
            by_topic
                .into_iter()
                .map(|(t, parts)| {
                    FetchTopic::default()
                        .with_topic(TopicName(StrBytes::from_string(t)))
                        .with_partitions(parts)
                })
                .collect(),
        );
    let resp = conn.call(&req, FETCH_VERSION, CALL_TIMEOUT).await?;
    if resp.error_code != 0 {
        anyhow::bail!("fetch refused with error {}", resp.error_code);
    }
    let mut fetched = Vec::new();
    let mut received = 0;
    for t in resp.responses {
        for r in t.partitions {
            let Some((p, generation, counts)) =
                index.get(&(t.topic.0.to_string(), r.partition_index))
            else {
                continue;
            };
            if r.error_code != 0 {
                let code = ResponseError::try_from_code(r.error_code);
                tracing::debug!(topic = %p.topic, partition = p.index, error = ?code, "replica fetch error");
                continue;
            }
            let records = r.records.unwrap_or_default();
            if *counts {
                received += records.len();
            }
            fetched.push(Fetched {
                partition: Arc::clone(p),
                records,
                leader_hw: r.high_watermark,
                generation: *generation,
            });
        }
    }
    let partitions: Vec<_> = fetched.iter().map(|f| Arc::clone(&f.partition)).collect();
    let mut unstored = 0;
    for (p, stored) in partitions
        .iter()
        .zip(Partition::append_replicated_many(fetched).await)
    {
        if let Err(e) = stored {
            tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "cannot append replicated records");
            unstored += 1;
        }
    }
    Ok((unstored, received))
}
