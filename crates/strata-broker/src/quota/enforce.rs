//! Quotas on requests (KIP-13, KIP-124, KIP-219): Produce bytes under
//! `producer_byte_rate`, Fetch response bytes under `consumer_byte_rate`, handler time
//! under `request_percentage`. The throttle time goes into the response's
//! `throttle_time_ms`, and the connection stops reading for that long
//! (`network/connection.rs`); the client backs off by the same amount.
//!
//! Handler time is the time the handler's future spends being polled ([`Busy`]): the
//! work it does on the runtime, not the time it waits (long polls, fsyncs, rebalances).
//! Work it hands to blocking threads (appends) is not counted.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use kafka_protocol::messages::ResponseKind;
use strata_quota::{QuotaKey, QuotaStore};

use super::Quotas;

/// A request's quota identity: the principal's name and the client id, with the
/// quota configuration as of its arrival.
pub(crate) struct QuotaCaller<'a> {
    user: &'a str,
    client_id: &'a str,
    store: Arc<QuotaStore>,
}

/// The quota user of a principal: its name without the type (`User:alice` → `alice`),
/// as Kafka's quota entities name users.
pub(crate) fn user_name(principal: &str) -> &str {
    principal
        .split_once(':')
        .map_or(principal, |(_, name)| name)
}

impl Quotas {
    /// The quota identity of a request, or `None` when no user or client-id quota is
    /// configured (then nothing is recorded or throttled).
    #[inline]
    pub(crate) fn caller<'a>(
        &self,
        principal: &'a str,
        client_id: &'a str,
    ) -> Option<QuotaCaller<'a>> {
        if !self.enabled() {
            return None;
        }
        Some(QuotaCaller {
            user: user_name(principal),
            client_id,
            store: self.store(),
        })
    }

    /// Records `value` of `key` usage for `caller` and returns how long to throttle it
    /// (zero when it has no quota for `key` or is within it).
    pub(crate) fn record(&self, caller: &QuotaCaller<'_>, key: QuotaKey, value: f64) -> Duration {
        let Some(r) = caller.store.resolve(caller.user, caller.client_id, key) else {
            return Duration::ZERO;
        };
        self.shard(&r.sensor)
            .lock()
            .record(r.sensor, r.bound, value, Instant::now())
    }

    /// KIP-599's strict quota: records `value` unless `caller`'s `key` quota is already
    /// exhausted, in which case nothing is recorded and the wait is returned.
    pub(crate) fn try_record(
        &self,
        caller: &QuotaCaller<'_>,
        key: QuotaKey,
        value: f64,
    ) -> Result<(), Duration> {
        let Some(r) = caller.store.resolve(caller.user, caller.client_id, key) else {
            return Ok(());
        };
        self.shard(&r.sensor)
            .lock()
            .try_record(r.sensor, r.bound, value, Instant::now())
    }

    /// Takes back usage recorded with [`Quotas::record`] (a throttled Fetch sends no
    /// records).
    pub(crate) fn unrecord(&self, caller: &QuotaCaller<'_>, key: QuotaKey, value: f64) {
        if let Some(r) = caller.store.resolve(caller.user, caller.client_id, key) {
            self.shard(&r.sensor)
                .lock()
                .unrecord(r.sensor, r.bound, value, Instant::now());
        }
    }

    /// Whether `caller` has a quota for `key`.
    pub(crate) fn has(&self, caller: &QuotaCaller<'_>, key: QuotaKey) -> bool {
        caller
            .store
            .resolve(caller.user, caller.client_id, key)
            .is_some()
    }

    /// The largest Fetch response `caller` may get at once under its
    /// `consumer_byte_rate`: what the rate allows over the sampled windows but one
    /// (Kafka bounds fetches the same way), at least 1 byte.
    pub(crate) fn fetch_cap(&self, caller: &QuotaCaller<'_>) -> Option<usize> {
        let r = caller
            .store
            .resolve(caller.user, caller.client_id, QuotaKey::ConsumerByteRate)?;
        let rate = self.rate();
        let cap = r.bound * f64::from(rate.samples.saturating_sub(1)) * rate.window.as_secs_f64();
        Some(cap.clamp(1.0, i32::MAX as f64) as usize)
    }
}

/// `throttle_time_ms` as the wire carries it.
pub(crate) fn throttle_ms(throttle: Duration) -> i32 {
    i32::try_from(throttle.as_millis()).unwrap_or(i32::MAX)
}

/// Sets `throttle_time_ms` in a response that has the field (every API we serve but
/// SASL's); a version without the field simply does not encode it.
pub(crate) fn set_throttle(body: &mut ResponseKind, ms: i32) {
    macro_rules! set {
        ($($kind:ident),* $(,)?) => {
            match body {
                $(ResponseKind::$kind(r) => r.throttle_time_ms = ms,)*
                _ => {}
            }
        };
    }
    set!(
        Produce,
        Fetch,
        ListOffsets,
        Metadata,
        ApiVersions,
        CreateTopics,
        DeleteTopics,
        CreatePartitions,
        DescribeConfigs,
        DescribeCluster,
        InitProducerId,
        FindCoordinator,
        JoinGroup,
        SyncGroup,
        Heartbeat,
        LeaveGroup,
        OffsetCommit,
        OffsetFetch,
        OffsetDelete,
        TxnOffsetCommit,
        ListGroups,
        DescribeGroups,
        DeleteGroups,
        AlterConfigs,
        DeleteRecords,
        OffsetForLeaderEpoch,
        IncrementalAlterConfigs,
        DescribeUserScramCredentials,
        AlterUserScramCredentials,
        DescribeAcls,
        CreateAcls,
        DeleteAcls,
        DescribeClientQuotas,
        AlterClientQuotas,
        ElectLeaders,
        DescribeTopicPartitions,
    );
}

/// A future with the time spent polling it added up: the request's handler time.
pub(crate) struct Busy<'a, F> {
    inner: Pin<&'a mut F>,
    spent: Duration,
}

impl<'a, F: Future> Busy<'a, F> {
    pub(crate) fn new(inner: Pin<&'a mut F>) -> Self {
        Self {
            inner,
            spent: Duration::ZERO,
        }
    }
}

impl<F: Future> Future for Busy<'_, F> {
    type Output = (F::Output, Duration);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let start = Instant::now();
        let polled = self.inner.as_mut().poll(cx);
        let spent = self.spent + start.elapsed();
        self.spent = spent;
        polled.map(|out| (out, spent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::QuotaSettings;
    use kafka_protocol::messages::{HeartbeatResponse, ProduceResponse};
    use strata_meta::records::QuotaEntityPart;
    use strata_meta::{MetadataImage, MetadataRecord};

    fn quotas_with(key: &str, value: f64) -> Quotas {
        let r = MetadataRecord::SetClientQuota {
            entity: vec![QuotaEntityPart {
                entity_type: "user".into(),
                name: Some("alice".into()),
            }],
            key: key.into(),
            value: Some(value),
        };
        let q = Quotas::new(&QuotaSettings::default());
        q.sync(1, &Arc::new(MetadataImage::new().applied([&r]).unwrap()));
        q
    }

    #[test]
    fn principals_map_to_quota_users() {
        assert_eq!(user_name("User:alice"), "alice");
        assert_eq!(user_name("User:CN=a:b"), "CN=a:b");
        assert_eq!(user_name("ANONYMOUS"), "ANONYMOUS");
    }

    #[test]
    fn usage_over_the_rate_is_throttled_and_others_are_not() {
        let q = quotas_with("producer_byte_rate", 1000.0);
        assert!(Quotas::new(&QuotaSettings::default())
            .caller("User:alice", "c")
            .is_none());
        let alice = q.caller("User:alice", "c").unwrap();
        let bob = q.caller("User:bob", "c").unwrap();
        assert!(q.has(&alice, QuotaKey::ProducerByteRate));
        assert!(!q.has(&alice, QuotaKey::ConsumerByteRate));
        // 10 windows of 1000 B/s fit at once; 20 000 bytes is twice the rate.
        assert_eq!(
            q.record(&alice, QuotaKey::ProducerByteRate, 5000.0),
            Duration::ZERO
        );
        let t = q.record(&alice, QuotaKey::ProducerByteRate, 15_000.0);
        assert!(
            t >= Duration::from_secs(5) && t <= Duration::from_secs(11),
            "{t:?}"
        );
        assert_eq!(
            q.record(&bob, QuotaKey::ProducerByteRate, 1e9),
            Duration::ZERO
        );
        q.unrecord(&alice, QuotaKey::ProducerByteRate, 15_000.0);
        assert_eq!(
            q.record(&alice, QuotaKey::ProducerByteRate, 1.0),
            Duration::ZERO
        );
    }

    #[test]
    fn fetches_are_capped_by_the_consumer_rate() {
        let q = quotas_with("consumer_byte_rate", 1000.0);
        let alice = q.caller("User:alice", "c").unwrap();
        assert_eq!(q.fetch_cap(&alice), Some(10_000));
        let bob = q.caller("User:bob", "c").unwrap();
        assert_eq!(q.fetch_cap(&bob), None);
    }

    #[test]
    fn throttle_is_set_where_the_response_has_it() {
        let mut p = ResponseKind::Produce(ProduceResponse::default());
        set_throttle(&mut p, 250);
        assert!(matches!(p, ResponseKind::Produce(r) if r.throttle_time_ms == 250));
        let mut h = ResponseKind::Heartbeat(HeartbeatResponse::default());
        set_throttle(&mut h, 7);
        assert!(matches!(h, ResponseKind::Heartbeat(r) if r.throttle_time_ms == 7));
        assert_eq!(throttle_ms(Duration::from_secs(u64::MAX)), i32::MAX);
    }

    #[tokio::test]
    async fn busy_counts_polling_not_waiting() {
        let fut = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(20) {
                std::hint::spin_loop();
            }
            7
        };
        let fut = std::pin::pin!(fut);
        let (out, spent) = Busy::new(fut).await;
        assert_eq!(out, 7);
        assert!(spent >= Duration::from_millis(20), "{spent:?}");
        assert!(spent < Duration::from_millis(250), "{spent:?}");
    }
}
