//! The copy of `_schemas` on a broker that holds no replica of it: a tail that fetches
//! `_schemas`-0 from its leader over the inter-broker listener, as a consumer does
//! (`replica_id` -1: the leader answers records below its high watermark only, and
//! long-polls until the high watermark moves), and applies what it gets through the
//! same [`RegistryService::apply_from`] as the replica path, on a blocking thread.
//!
//! - **Lifecycle**: one task per broker, started with the registry listener (or by the
//!   first read that needs it). It fetches while `_schemas` exists and this broker does
//!   not lead it, follows the leader the metadata image names (a failover, a
//!   reassignment), and idles while the broker leads it (reads then use the log) or the
//!   topic is gone; it ends when the broker stops.
//! - **Followers**: a follower replica learns the leader's high watermark only with its
//!   next fetch, which the leader holds until new data comes (up to
//!   `replica.fetch.wait.max.ms`), so its own copy lags a registration by up to that. It
//!   therefore tails too, and both paths feed one copy: its replica's committed records
//!   and the tail's, each applied only at the offset the copy is at.
//! - **Reads** ([`Broker::registry_tail_caught_up`]) first ask the leader its high
//!   watermark (ListOffsets "latest", one request shared by the reads waiting for it, on
//!   a connection of its own) and wait until the copy reached it: a registration
//!   acknowledged anywhere before the read began is then visible. When the leader does
//!   not answer within [`PROBE_TIMEOUT`], the copy answers only if it was current less
//!   than `replica.lag.time.max.ms` ago (what an in-sync replica may lag); otherwise, and
//!   when the copy does not catch up in time, the request goes to the leader as before
//!   (which fails with 50003 when the leader cannot be reached).
//!
//! The invariant of the module docs holds: the fetch offset is the copy's next offset,
//! only records below the high watermark of the same response are applied, and a
//! response is applied only if the copy is still at the offset it was fetched from.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use tokio::sync::watch;
use uuid::Uuid;

use super::{RegistryFailure, RegistryService, SCHEMAS_TOPIC};
use crate::replication::client::{BrokerConnection, ConnectError};
use crate::replication::login::PeerSecurity;
use crate::Broker;

const FETCH_VERSION: i16 = 13;
const LIST_OFFSETS_VERSION: i16 = 7;
/// How long the leader may hold a fetch with nothing new.
const MAX_WAIT_MS: i32 = 500;
/// Bytes a fetch asks for (the leader still sends one whole batch if it is larger).
const FETCH_MAX_BYTES: i32 = 1 << 20;
/// A fetch (its long poll included) must be answered within this.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a read waits for the leader's high watermark.
pub(super) const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// A failed probe answers the reads that begin this soon after it, so an unreachable
/// leader does not cost every read [`PROBE_TIMEOUT`].
const PROBE_REUSE: Duration = Duration::from_secs(1);
/// How long a read waits for the copy to reach the leader's high watermark (at most a
/// third of `http.request.timeout.ms`).
const CATCH_UP_WAIT: Duration = Duration::from_secs(5);
/// How often an idle tail looks again (metadata changes wake it sooner).
const IDLE_RECHECK: Duration = Duration::from_millis(250);

/// The tail's state, shared with the reads.
pub(super) struct Tail {
    started: AtomicBool,
    /// Bumped after every change of the copy.
    progress: watch::Sender<u64>,
    /// When the copy last held everything the leader had committed: the topic and the
    /// time the request that showed it was sent.
    fresh: parking_lot::Mutex<Option<(Uuid, Instant)>>,
    /// The high-watermark probe (one at a time, shared).
    probe: tokio::sync::Mutex<Probe>,
}

impl Default for Tail {
    fn default() -> Self {
        Self {
            started: AtomicBool::new(false),
            progress: watch::Sender::new(0),
            fresh: parking_lot::Mutex::new(None),
            probe: tokio::sync::Mutex::new(Probe::default()),
        }
    }
}

impl Tail {
    /// Wakes the reads waiting for the copy.
    pub(super) fn progressed(&self) {
        self.progress.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn mark_fresh(&self, topic_id: Uuid, sent: Instant) {
        let mut f = self.fresh.lock();
        if !matches!(*f, Some((t, at)) if t == topic_id && at >= sent) {
            *f = Some((topic_id, sent));
        }
    }

    fn fresh_within(&self, topic_id: Uuid, max: Duration) -> Option<Duration> {
        match *self.fresh.lock() {
            Some((t, at)) if t == topic_id && at.elapsed() <= max => Some(at.elapsed()),
            _ => None,
        }
    }
}

#[derive(Default)]
pub(super) struct Probe {
    /// A connection to the leader (its node id).
    conn: Option<(i32, BrokerConnection)>,
    last: Option<LastProbe>,
}

struct LastProbe {
    sent: Instant,
    done: Instant,
    result: Result<Probed, String>,
}

/// The leader's high watermark, as answered to a request sent at `sent` or later.
#[derive(Clone, Copy)]
struct Probed {
    sent: Instant,
    topic_id: Uuid,
    high_watermark: i64,
}

/// Where the tail fetches from.
enum Need {
    /// `_schemas` does not exist, or this broker has a replica of it.
    NotNeeded,
    /// No leader to fetch from (yet).
    NoLeader,
    Leader(Target),
}

struct Target {
    topic_id: Uuid,
    leader: i32,
    epoch: i32,
    addr: String,
}

fn need(broker: &Broker) -> Need {
    let image = broker.meta.image();
    let Some(topic) = image.topic(SCHEMAS_TOPIC) else {
        return Need::NotNeeded;
    };
    if broker
        .replicas
        .get(SCHEMAS_TOPIC, 0)
        .is_some_and(|p| p.leading_epoch().is_some())
    {
        return Need::NotNeeded;
    }
    let Some(part) = topic.partition(0) else {
        return Need::NotNeeded;
    };
    match image.broker(part.leader) {
        Some(b) if part.leader >= 0 && part.leader != broker.config.node_id => {
            Need::Leader(Target {
                topic_id: topic.topic_id,
                leader: part.leader,
                epoch: part.leader_epoch,
                addr: format!("{}:{}", b.host, b.port),
            })
        }
        _ => Need::NoLeader,
    }
}

/// A connection to `t`'s leader in `slot`, reusing the one there when it still fits.
async fn connection<'a>(
    broker: &Broker,
    slot: &'a mut Option<(i32, BrokerConnection)>,
    t: &Target,
) -> Result<&'a mut BrokerConnection, ConnectError> {
    if slot
        .as_ref()
        .is_some_and(|(l, c)| *l != t.leader || c.session_expiring())
    {
        *slot = None;
    }
    let held = match slot.take() {
        Some(held) => held,
        None => {
            let security = PeerSecurity::for_broker(broker);
            let c =
                BrokerConnection::connect(&t.addr, broker.config.node_id, CALL_TIMEOUT, &security)
                    .await?;
            (t.leader, c)
        }
    };
    Ok(&mut slot.insert(held).1)
}

impl Broker {
    /// Starts this broker's tail of `_schemas` unless it runs: it fetches whenever the
    /// broker holds no replica of `_schemas` and ends when the broker stops.
    pub fn start_registry_tail(self: &Arc<Self>) {
        let tail = &self.registry.tail;
        if tail.started.swap(true, Ordering::AcqRel) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(run(Arc::downgrade(self), self.stopping.subscribe()));
            }
            Err(_) => tail.started.store(false, Ordering::Release),
        }
    }

    /// Before a read on a broker that does not lead `_schemas`: waits until the tail's
    /// copy holds what the leader had committed when the read began, or answers from a
    /// copy that is current enough when the leader cannot say (`follower`: this broker's
    /// own replica, already applied up to its high watermark, is such a copy); else a
    /// route to the leader.
    pub(super) async fn registry_tail_caught_up(
        self: &Arc<Self>,
        follower: bool,
    ) -> Result<(), RegistryFailure> {
        self.start_registry_tail();
        let began = Instant::now();
        let service = &self.registry;
        match probe(self, began).await {
            Ok(p) => {
                let wait = CATCH_UP_WAIT.min(self.config.http.request_timeout / 3);
                if service
                    .wait_copy(p.topic_id, p.high_watermark, began + wait)
                    .await
                {
                    service.tail.mark_fresh(p.topic_id, p.sent);
                    return Ok(());
                }
                tracing::debug!(
                    high_watermark = p.high_watermark,
                    "the {SCHEMAS_TOPIC} copy did not catch up in time: the leader answers"
                );
            }
            Err(why) if follower => {
                tracing::debug!(reason = %why, "{SCHEMAS_TOPIC} leader unreachable: answering from this replica");
                return Ok(());
            }
            Err(why) => {
                let topic_id = self.meta.image().topic(SCHEMAS_TOPIC).map(|t| t.topic_id);
                let max = self.config.replica_lag_time_max;
                if let Some(age) = topic_id.and_then(|t| service.tail.fresh_within(t, max)) {
                    tracing::debug!(reason = %why, age_ms = age.as_millis() as u64, "{SCHEMAS_TOPIC} leader unreachable: answering from the copy");
                    return Ok(());
                }
                tracing::debug!(reason = %why, "{SCHEMAS_TOPIC} leader unreachable and the copy is stale");
            }
        }
        Err(RegistryFailure::Route(self.registry_leader_route()))
    }
}

impl RegistryService {
    /// Waits until the copy of `topic_id` reached `upto`; false at `deadline`.
    async fn wait_copy(&self, topic_id: Uuid, upto: i64, deadline: Instant) -> bool {
        let mut changes = self.tail.progress.subscribe();
        loop {
            {
                let c = self.copy.read();
                if c.topic_id == topic_id && c.next >= upto {
                    return true;
                }
            }
            let deadline = tokio::time::Instant::from_std(deadline);
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return false,
            }
        }
    }
}

/// The leader's high watermark, from a request sent at or after `began` (shared with the
/// reads that began before it was sent). A failure is shared for [`PROBE_REUSE`].
async fn probe(broker: &Arc<Broker>, began: Instant) -> Result<Probed, String> {
    let mut state = broker.registry.tail.probe.lock().await;
    if let Some(last) = &state.last {
        let recent_failure = last.result.is_err() && last.done.elapsed() < PROBE_REUSE;
        if last.sent >= began || recent_failure {
            return last.result.clone();
        }
    }
    let sent = Instant::now();
    let result = match tokio::time::timeout(
        PROBE_TIMEOUT,
        probe_once(broker, &mut state.conn, sent),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => {
            state.conn = None;
            Err(format!(
                "the leader of {SCHEMAS_TOPIC} did not answer within {}ms",
                PROBE_TIMEOUT.as_millis()
            ))
        }
    };
    state.last = Some(LastProbe {
        sent,
        done: Instant::now(),
        result: result.clone(),
    });
    result
}

/// Asks the leader, retrying (the caller bounds it) while leadership moves.
async fn probe_once(
    broker: &Arc<Broker>,
    slot: &mut Option<(i32, BrokerConnection)>,
    sent: Instant,
) -> Result<Probed, String> {
    loop {
        let t = match need(broker) {
            Need::Leader(t) => t,
            Need::NoLeader => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Need::NotNeeded => return Err(format!("this broker does not tail {SCHEMAS_TOPIC}")),
        };
        let conn = match connection(broker, slot, &t).await {
            Ok(c) => c,
            Err(ConnectError::Refused(e)) => return Err(format!("{e:#}")),
            Err(ConnectError::Unreachable(_)) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_isolation_level(0)
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(TopicName(StrBytes::from_static_str(SCHEMAS_TOPIC)))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_current_leader_epoch(t.epoch)
                    .with_timestamp(-1)])]);
        let answer = match conn.call(&req, LIST_OFFSETS_VERSION, PROBE_TIMEOUT).await {
            Ok(r) => r
                .topics
                .into_iter()
                .flat_map(|t| t.partitions)
                .find(|p| p.partition_index == 0),
            Err(_) => {
                *slot = None;
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match answer {
            Some(p) if p.error_code == 0 => {
                return Ok(Probed {
                    sent,
                    topic_id: t.topic_id,
                    high_watermark: p.offset,
                })
            }
            Some(p) if p.error_code == ResponseError::TopicAuthorizationFailed.code() => {
                return Err(format!(
                    "the leader of {SCHEMAS_TOPIC} refused this broker (error {})",
                    p.error_code
                ))
            }
            // A leader change under way (not the leader, epochs, KIP-207's
            // OFFSET_NOT_AVAILABLE): ask again.
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// What one round of the tail calls for next.
enum Step {
    /// Fetch again at once.
    Again,
    /// Wait this long (or for a metadata change).
    Retry(Duration),
}

/// The tail task: see the module docs. Holds the broker weakly between rounds.
async fn run(broker: Weak<Broker>, mut stopping: watch::Receiver<bool>) {
    let Some(mut images) = broker.upgrade().map(|b| b.meta.raft().subscribe()) else {
        return;
    };
    let mut conn: Option<(i32, BrokerConnection)> = None;
    let mut following: Option<i32> = None;
    loop {
        if *stopping.borrow() {
            return;
        }
        let Some(b) = broker.upgrade() else {
            return;
        };
        let step = match need(&b) {
            Need::NotNeeded | Need::NoLeader => {
                conn = None;
                if following.take().is_some() {
                    tracing::info!("{SCHEMAS_TOPIC} tail idle");
                }
                Step::Retry(IDLE_RECHECK)
            }
            Need::Leader(t) => {
                if following != Some(t.leader) {
                    tracing::info!(
                        leader = t.leader,
                        "{SCHEMAS_TOPIC} tail follows broker {}",
                        t.leader
                    );
                    following = Some(t.leader);
                }
                round(&b, &mut conn, &t, &mut images).await
            }
        };
        drop(b);
        let Step::Retry(pause) = step else {
            continue;
        };
        tokio::select! {
            r = stopping.changed() => if r.is_err() { return },
            r = images.changed() => if r.is_err() { tokio::time::sleep(pause).await },
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// Returns once the metadata no longer names `t`'s leader and epoch for the tail (a
/// failover, a reassignment, a replica gained here).
async fn leader_moved(broker: &Broker, images: &mut Images, t: &Target) {
    loop {
        if images.changed().await.is_err() {
            return std::future::pending().await;
        }
        match need(broker) {
            Need::Leader(n) if n.leader == t.leader && n.epoch == t.epoch => {}
            _ => return,
        }
    }
}

type Images = watch::Receiver<(u64, Arc<strata_meta::MetadataImage>)>;

/// One fetch from the leader (given up when the leader moves), its committed records
/// applied.
async fn round(
    broker: &Arc<Broker>,
    slot: &mut Option<(i32, BrokerConnection)>,
    t: &Target,
    images: &mut Images,
) -> Step {
    let conn = match connection(broker, slot, t).await {
        Ok(c) => c,
        Err(ConnectError::Unreachable(e)) => {
            tracing::debug!(leader = t.leader, error = %format!("{e:#}"), "{SCHEMAS_TOPIC} tail cannot reach the leader");
            return Step::Retry(Duration::from_millis(200));
        }
        Err(ConnectError::Refused(e)) => {
            tracing::warn!(leader = t.leader, error = %format!("{e:#}"), "the leader of {SCHEMAS_TOPIC} refused this broker's tail");
            return Step::Retry(Duration::from_secs(2));
        }
    };
    let from = {
        let c = broker.registry.copy.read();
        if c.topic_id == t.topic_id {
            c.next
        } else {
            0
        }
    };
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(MAX_WAIT_MS)
        .with_min_bytes(1)
        .with_max_bytes(FETCH_MAX_BYTES)
        .with_isolation_level(0)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic_id(t.topic_id)
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_current_leader_epoch(t.epoch)
                .with_fetch_offset(from)
                .with_last_fetched_epoch(-1)
                .with_log_start_offset(-1)
                .with_partition_max_bytes(FETCH_MAX_BYTES)])]);
    let sent = Instant::now();
    let called = tokio::select! {
        r = conn.call(&req, FETCH_VERSION, CALL_TIMEOUT) => Some(r),
        () = leader_moved(broker, images, t) => None,
    };
    let Some(called) = called else {
        // The answer of a request given up on would come on this connection.
        *slot = None;
        return Step::Again;
    };
    let resp = match called {
        Ok(r) if r.error_code == 0 => r,
        Ok(r) => {
            tracing::debug!(error = r.error_code, "{SCHEMAS_TOPIC} tail fetch refused");
            return Step::Retry(Duration::from_millis(200));
        }
        Err(e) => {
            tracing::debug!(leader = t.leader, error = %format!("{e:#}"), "{SCHEMAS_TOPIC} tail fetch failed");
            *slot = None;
            return Step::Retry(Duration::from_millis(100));
        }
    };
    let Some(p) = resp
        .responses
        .into_iter()
        .filter(|r| r.topic_id == t.topic_id)
        .flat_map(|r| r.partitions)
        .find(|p| p.partition_index == 0)
    else {
        return Step::Retry(Duration::from_millis(200));
    };
    let service = &broker.registry;
    if p.error_code == ResponseError::OffsetOutOfRange.code() {
        if from < p.log_start_offset {
            // Deleted records (DeleteRecords): go on from the log start, as the replica
            // path's reads do.
            service.apply_from(t.topic_id, from, p.log_start_offset, &[]);
        } else {
            // Past the leader's log: only an unclean election loses committed records.
            // The copy is rebuilt from the leader's log.
            tracing::warn!(
                offset = from,
                "{SCHEMAS_TOPIC} lost records the copy holds: rebuilding it"
            );
            *service.copy.write() = super::LocalCopy::default();
            service.next.store(0, Ordering::Release);
            *service.tail.fresh.lock() = None;
        }
        return Step::Again;
    }
    if p.error_code != 0 {
        tracing::debug!(error = ?ResponseError::try_from_code(p.error_code), "{SCHEMAS_TOPIC} tail fetch error");
        return Step::Retry(Duration::from_millis(100));
    }
    let high_watermark = p.high_watermark;
    let records = p.records.unwrap_or_default();
    let b = Arc::clone(broker);
    let topic_id = t.topic_id;
    let applied = tokio::task::spawn_blocking(move || {
        let (records, reached) = super::fetched::decode(&records, from, high_watermark)?;
        Ok::<_, String>(
            b.registry
                .apply_from(topic_id, from, reached, &records)
                .then_some(reached),
        )
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    match applied {
        Ok(Some(reached)) if reached >= high_watermark => {
            service.tail.mark_fresh(t.topic_id, sent);
            Step::Again
        }
        Ok(Some(reached)) if reached > from => Step::Again,
        // Nothing usable came back below the high watermark: do not spin.
        Ok(Some(_)) => Step::Retry(Duration::from_millis(100)),
        // The replica path moved the copy meanwhile: fetch from where it is.
        Ok(None) => Step::Again,
        Err(e) => {
            tracing::warn!(offset = from, error = %e, "{SCHEMAS_TOPIC} tail cannot decode the leader's records");
            Step::Retry(Duration::from_secs(1))
        }
    }
}
