//! Replication throttling on the leader (Kafka's `leader.replication.throttled.rate`,
//! a dynamic broker config in bytes/s, applied to the replicas a topic lists in
//! `leader.replication.throttled.replicas`: `partition:broker,...` or `*`).
//!
//! A follower fetch of a throttled partition by a follower that is not in the ISR (a
//! replica catching up, e.g. one a reassignment adds) spends tokens of one bucket per
//! broker; while the bucket is empty such partitions are answered without records, so
//! the long-poll waits and the follower's copy proceeds at the rate on average.
//! In-sync followers are never throttled (as in Kafka).

use std::time::{Duration, Instant};

use parking_lot::Mutex;
use strata_meta::topic_config::ThrottledReplicas;
use strata_meta::MetadataImage;
use strata_quota::{RateConfig, TokenBucket};

/// The leader-side rate, dynamic broker config (per broker, else cluster default).
pub(crate) const LEADER_RATE: &str = "leader.replication.throttled.rate";
/// The follower-side rate (accepted and stored; the leader side enforces).
pub(crate) const FOLLOWER_RATE: &str = "follower.replication.throttled.rate";
/// The topic config listing leader-side throttled replicas.
pub(crate) const LEADER_REPLICAS: &str = "leader.replication.throttled.replicas";

/// The bucket's burst: one second of the rate.
const BURST: RateConfig = RateConfig {
    window: Duration::from_secs(1),
    samples: 1,
};

/// The leader-side bucket of one broker.
#[derive(Default)]
pub(crate) struct ReplicationThrottle {
    /// The rate the bucket was made for, and the bucket.
    leader: Mutex<Option<(f64, TokenBucket)>>,
}

impl ReplicationThrottle {
    /// Whether a throttled read may send records now (the bucket is not empty). Always
    /// true without a rate.
    pub(crate) fn may_send(&self, rate: f64, now: Instant) -> bool {
        let mut guard = self.leader.lock();
        let (_, bucket) = bucket(&mut guard, rate, now);
        bucket.tokens(&BURST, rate, now) > 0.0
    }

    /// Takes `bytes` sent by throttled reads from the bucket.
    pub(crate) fn spend(&self, rate: f64, bytes: usize, now: Instant) {
        let mut guard = self.leader.lock();
        let (_, bucket) = bucket(&mut guard, rate, now);
        bucket.record(&BURST, rate, bytes as f64, now);
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
    [Some(node_id), None]
        .into_iter()
        .find_map(|scope| image.broker_configs(scope)?.get(LEADER_RATE))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|r| r.is_finite() && *r > 0.0)
}

/// Whether a throttled-replicas list names `partition` on `broker`; a malformed list
/// (never stored: the config is validated) names nothing.
pub(crate) fn lists(value: &str, partition: i32, broker: i32) -> bool {
    ThrottledReplicas::parse(value).is_ok_and(|l| l.names(partition, broker))
}

/// Whether a fetch by `follower` of `topic`/`partition` from leader `node_id` is
/// throttled: the topic lists the partition on this broker, and the follower is not in
/// the ISR.
pub(crate) fn leader_throttles(
    image: &MetadataImage,
    topic: &str,
    partition: i32,
    node_id: i32,
    follower: i32,
) -> bool {
    let Some(t) = image.topic(topic) else {
        return false;
    };
    let listed = t
        .configs
        .get(LEADER_REPLICAS)
        .is_some_and(|v| lists(v, partition, node_id));
    listed
        && t.partition(partition)
            .is_some_and(|p| !p.isr.contains(&follower))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_replica_lists() {
        assert!(lists("*", 3, 7));
        assert!(lists("0:1, 3:7", 3, 7));
        assert!(!lists("0:1,3:8", 3, 7));
        assert!(!lists("", 0, 0));
        assert!(!lists("garbage,:,1:", 1, 0));
    }

    #[test]
    fn the_bucket_empties_and_refills_at_the_rate() {
        let t = ReplicationThrottle::default();
        let now = Instant::now();
        assert!(t.may_send(1000.0, now));
        t.spend(1000.0, 3000, now);
        assert!(!t.may_send(1000.0, now), "2000 bytes in debt");
        assert!(!t.may_send(1000.0, now + Duration::from_millis(1500)));
        assert!(t.may_send(1000.0, now + Duration::from_millis(2100)));
        // A new rate starts a fresh bucket.
        assert!(t.may_send(5000.0, now));
    }
}
