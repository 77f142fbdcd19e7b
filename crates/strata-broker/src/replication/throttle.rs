//! Replication throttling (KIP-73), both sides, each a dynamic broker config in bytes/s
//! applied to the replicas a topic lists (`partition:broker,...` or `*`):
//!
//! - the leader's `leader.replication.throttled.rate`, for the replicas of this broker
//!   listed in `leader.replication.throttled.replicas`: a follower fetch of such a
//!   partition by a follower that is not in the ISR (a replica catching up, e.g. one a
//!   reassignment adds) spends tokens of one bucket per broker; while the bucket is
//!   empty such partitions are answered without records, so the long-poll waits and the
//!   follower's copy proceeds at the rate on average (`handlers/fetch.rs`);
//! - the follower's `follower.replication.throttled.rate`, for the replicas of this
//!   broker listed in `follower.replication.throttled.replicas`: while its bucket is
//!   empty the fetchers leave such partitions out of their Fetch requests when this
//!   broker's replica is not in the ISR, and wait for the refill when nothing else is
//!   left to fetch (`fetcher.rs`, [`ReplicationThrottle::follower_round`]). As in
//!   Kafka's ReplicaFetcherThread, the bytes received for every listed partition, in
//!   sync or not, count against the rate.
//!
//! In-sync replicas are never held back (as in Kafka). Throttled-replica lists are
//! parsed once per value of the topic config ([`ThrottledLists`]), not per fetch.

use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use strata_meta::image::TopicImage;
use strata_meta::topic_config::ThrottledReplicas;
use strata_meta::MetadataImage;
use strata_quota::{RateConfig, TokenBucket};
use uuid::Uuid;

/// The leader-side rate, dynamic broker config (per broker, else cluster default).
pub(crate) const LEADER_RATE: &str = "leader.replication.throttled.rate";
/// The follower-side rate, dynamic broker config (per broker, else cluster default).
pub(crate) const FOLLOWER_RATE: &str = "follower.replication.throttled.rate";
/// The topic config listing leader-side throttled replicas.
pub(crate) const LEADER_REPLICAS: &str = "leader.replication.throttled.replicas";
/// The topic config listing follower-side throttled replicas.
pub(crate) const FOLLOWER_REPLICAS: &str = "follower.replication.throttled.replicas";

/// The bucket's burst: one second of the rate.
const BURST: RateConfig = RateConfig {
    window: Duration::from_secs(1),
    samples: 1,
};

/// A broker's replication buckets, one per side.
#[derive(Default)]
pub(crate) struct ReplicationThrottle {
    leader: RateBucket,
    follower: RateBucket,
}

impl ReplicationThrottle {
    /// Whether a throttled leader-side read may send records now (the bucket is not
    /// empty).
    pub(crate) fn may_send(&self, rate: f64, now: Instant) -> bool {
        self.leader.refill_in(rate, now).is_none()
    }

    /// Takes `bytes` sent by throttled leader-side reads from the bucket.
    pub(crate) fn spend(&self, rate: f64, bytes: usize, now: Instant) {
        self.leader.spend(rate, bytes, now);
    }

    /// What a follower's next Fetch does with its partitions, `throttled[i]` telling
    /// whether the i-th is throttled (listed on this broker and not in the ISR; see
    /// [`follower_throttles`]), at the follower rate `rate` (`None`: unset).
    pub(crate) fn follower_round(
        &self,
        rate: Option<f64>,
        throttled: &[bool],
        now: Instant,
    ) -> FollowerRound {
        let all = FollowerRound::Fetch {
            skip: Vec::new(),
            max_wait: None,
        };
        let Some(rate) = rate else {
            return all;
        };
        if !throttled.contains(&true) {
            return all;
        }
        let Some(refill) = self.follower.refill_in(rate, now) else {
            return all;
        };
        if throttled.iter().all(|t| *t) {
            return FollowerRound::Wait(refill);
        }
        FollowerRound::Fetch {
            skip: throttled.to_vec(),
            // Back for the held-back partitions once the bucket has refilled.
            max_wait: Some(refill),
        }
    }

    /// Takes `bytes` received for follower-side listed partitions from the bucket.
    pub(crate) fn follower_spend(&self, rate: f64, bytes: usize, now: Instant) {
        self.follower.spend(rate, bytes, now);
    }
}

/// The follower's plan for its next Fetch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FollowerRound {
    /// Fetch the partitions not marked in `skip` (empty: all of them), waiting at most
    /// `max_wait` (when set) for new data.
    Fetch {
        skip: Vec<bool>,
        max_wait: Option<Duration>,
    },
    /// Every partition is throttled and the bucket is empty: wait this long first.
    Wait(Duration),
}

/// One token bucket, made again (full) when its rate changes.
#[derive(Default)]
struct RateBucket(Mutex<Option<(f64, TokenBucket)>>);

impl RateBucket {
    /// `None` while the bucket has tokens, else how long until it has some again.
    fn refill_in(&self, rate: f64, now: Instant) -> Option<Duration> {
        let mut guard = self.0.lock();
        let tokens = bucket(&mut guard, rate, now).1.tokens(&BURST, rate, now);
        if tokens > 0.0 {
            return None;
        }
        // A millisecond more than the debt takes, so the bucket is positive by then.
        let secs = (-tokens / rate).min(86_400.0);
        Some(Duration::from_secs_f64(secs) + Duration::from_millis(1))
    }

    fn spend(&self, rate: f64, bytes: usize, now: Instant) {
        let mut guard = self.0.lock();
        let (_, b) = bucket(&mut guard, rate, now);
        b.record(&BURST, rate, bytes as f64, now);
    }
}

/// The bucket for `rate`: a full new one when the rate changed.
fn bucket(
    slot: &mut Option<(f64, TokenBucket)>,
    rate: f64,
    now: Instant,
) -> &mut (f64, TokenBucket) {
    if slot.as_ref().is_none_or(|(r, _)| *r != rate) {
        *slot = Some((rate, TokenBucket::full(&BURST, rate, now)));
    }
    slot.get_or_insert_with(|| (rate, TokenBucket::full(&BURST, rate, now)))
}

/// The leader-side throttle rate of `node_id` in bytes/s: its own dynamic value, else
/// the cluster-wide one; `None` when unset or not a positive number.
pub(crate) fn leader_rate(image: &MetadataImage, node_id: i32) -> Option<f64> {
    rate(image, node_id, LEADER_RATE)
}

/// The follower-side throttle rate of `node_id`, read like [`leader_rate`].
pub(crate) fn follower_rate(image: &MetadataImage, node_id: i32) -> Option<f64> {
    rate(image, node_id, FOLLOWER_RATE)
}

fn rate(image: &MetadataImage, node_id: i32, key: &str) -> Option<f64> {
    [Some(node_id), None]
        .into_iter()
        .find_map(|scope| image.broker_configs(scope)?.get(key))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|r| r.is_finite() && *r > 0.0)
}

/// How many parsed lists a cache keeps before it starts over.
const MAX_CACHED_LISTS: usize = 4096;

/// Throttled-replica lists parsed once per value: by topic id and config key, the
/// value last seen and its parse (`None`: malformed, which the config validation never
/// stores; it names nothing).
#[derive(Default)]
pub(crate) struct ThrottledLists {
    parsed: HashMap<(Uuid, &'static str), (String, Option<ThrottledReplicas>)>,
}

impl ThrottledLists {
    /// Whether `topic`'s list under `key` names `partition` on `broker`.
    pub(crate) fn names(
        &mut self,
        topic: &TopicImage,
        key: &'static str,
        partition: i32,
        broker: i32,
    ) -> bool {
        let Some(value) = topic.configs.get(key) else {
            return false;
        };
        if self.parsed.len() >= MAX_CACHED_LISTS
            && !self.parsed.contains_key(&(topic.topic_id, key))
        {
            self.parsed.clear();
        }
        let list = match self.parsed.entry((topic.topic_id, key)) {
            Entry::Occupied(e) if e.get().0 == *value => &e.into_mut().1,
            Entry::Occupied(mut e) => {
                e.insert((value.clone(), ThrottledReplicas::parse(value).ok()));
                &e.into_mut().1
            }
            Entry::Vacant(e) => {
                let parsed = ThrottledReplicas::parse(value).ok();
                &e.insert((value.clone(), parsed)).1
            }
        };
        list.as_ref().is_some_and(|l| l.names(partition, broker))
    }

    /// Whether `topic` lists `partition` on `listed_on` under `key` while `replica` is
    /// not in the partition's ISR.
    fn throttles(
        &mut self,
        topic: &TopicImage,
        key: &'static str,
        partition: i32,
        listed_on: i32,
        replica: i32,
    ) -> bool {
        self.names(topic, key, partition, listed_on)
            && topic
                .partition(partition)
                .is_some_and(|p| !p.isr.contains(&replica))
    }
}

thread_local! {
    /// The leader side's lists, per worker thread: no lock on the fetch path.
    static LEADER_LISTS: RefCell<ThrottledLists> = RefCell::default();
}

/// Leader side, for a fetch by `follower` of `topic`/`partition` from leader `node_id`:
/// `(throttled, listed)`: listed when the topic's `leader.replication.throttled.replicas`
/// names the partition on this broker (its bytes count against the rate, as in Kafka),
/// throttled when, besides, the follower is not in the ISR.
pub(crate) fn leader_throttles(
    image: &MetadataImage,
    topic: &str,
    partition: i32,
    node_id: i32,
    follower: i32,
) -> (bool, bool) {
    let Some(t) = image.topic(topic) else {
        return (false, false);
    };
    LEADER_LISTS.with_borrow_mut(|lists| {
        let listed = lists.names(t, LEADER_REPLICAS, partition, node_id);
        let in_sync = t
            .partition(partition)
            .is_some_and(|p| p.isr.contains(&follower));
        (listed && !in_sync, listed)
    })
}

/// Follower side: `(throttled, listed)` for this broker's (`node_id`) replica of
/// `topic`/`partition`: listed in the topic's `follower.replication.throttled.replicas`
/// (its bytes count against the rate), and throttled when, besides, it is not in the
/// ISR.
pub(crate) fn follower_throttles(
    lists: &mut ThrottledLists,
    topic: Option<&TopicImage>,
    partition: i32,
    node_id: i32,
) -> (bool, bool) {
    let Some(t) = topic else {
        return (false, false);
    };
    let throttled = lists.throttles(t, FOLLOWER_REPLICAS, partition, node_id, node_id);
    let listed = throttled || lists.names(t, FOLLOWER_REPLICAS, partition, node_id);
    (throttled, listed)
}

#[cfg(test)]
mod tests;
