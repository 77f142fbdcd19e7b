//! Usage accounting and throttle times (KIP-13, KIP-124, KIP-219, KIP-599).
//!
//! The broker records each request's usage under the sensor [`crate::QuotaStore::resolve`]
//! named, with the bound it found, and gets back how long to throttle. Following KIP-219
//! the response goes out at once carrying `throttle_time_ms`, and the connection is muted
//! (no further reads) for that long; the client backs off by the same amount. When one
//! request is under several quotas (a Produce is under `producer_byte_rate` and
//! `request_percentage`), the throttle is the longest of them.
//!
//! Throttle time, for the sampled-rate quotas: with observed rate `O` over a window `W`
//! and bound `T`, waiting `X = (O - T) / T × W` brings the average back to `T`
//! (`O × W / (W + X) = T`). It is rounded to milliseconds and capped: at `window ×
//! samples` for byte rates (so a single huge request cannot mute a connection for
//! longer than the rate can remember it), and at one window for `request_percentage`, as
//! Kafka caps request-time throttling.
//!
//! `request_percentage` usage is handler time expressed in percent-seconds
//! ([`request_time_percent`]): a rate of 100 means one thread busy all the time, as in
//! Kafka, where the quota is a share of one I/O thread per second (a quota of 200 lets a
//! client keep two threads busy).
//!
//! `controller_mutation_rate` usage goes into a token bucket; its throttle is the time
//! until the balance is back to zero (`-tokens / rate`), not capped, as in Kafka.
//!
//! Memory is bounded: sensors unused for [`QuotaConfig::inactive_expiry`] go at
//! [`QuotaManager::expire`], and the map never holds more than
//! [`QuotaConfig::max_sensors`], evicting the least recently used (an evicted budget starts
//! again from nothing).

use std::time::{Duration, Instant};

use crate::entity::QuotaKey;
use crate::lru::LruMap;
use crate::rate::{RateConfig, SampledRate, TokenBucket};
use crate::resolve::{SensorKey, SensorLookup, SensorRef};

/// Settings of the quota manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaConfig {
    /// The sampling (`quota.window.size.seconds`, `quota.window.num`).
    pub rate: RateConfig,
    /// How long a sensor may go unused before [`QuotaManager::expire`] drops it (Kafka:
    /// one hour).
    pub inactive_expiry: Duration,
    /// The most sensors kept at once. A sensor costs at most about 0.7 KiB with the
    /// default sampling (`samples + 1` samples of 40 bytes, its key and the map's
    /// bookkeeping), so the default of 100 000 bounds the manager to roughly 70 MB. A
    /// connection under quotas for three keys uses three sensors.
    pub max_sensors: usize,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        QuotaConfig {
            rate: RateConfig::default(),
            inactive_expiry: Duration::from_secs(3600),
            max_sensors: 100_000,
        }
    }
}

#[derive(Debug, Clone)]
enum Stat {
    Rate(SampledRate),
    Bucket(TokenBucket),
}

/// Records usage per sensor and answers throttle times (see the module docs).
#[derive(Debug, Clone)]
pub struct QuotaManager {
    config: QuotaConfig,
    sensors: LruMap<SensorKey, Stat>,
}

/// Handler time as the value a `request_percentage` sensor records: percent of one
/// thread-second (10 ms of handler time is 1.0).
pub fn request_time_percent(handler_time: Duration) -> f64 {
    handler_time.as_secs_f64() * 100.0
}

/// Kafka's throttle formula: how long to wait for a rate `observed` over `window` to
/// average down to `bound`, rounded to milliseconds; zero when not over the bound.
pub fn throttle_time(observed: f64, bound: f64, window: Duration) -> Duration {
    if observed > bound && bound > 0.0 {
        let secs = (observed - bound) / bound * window.as_secs_f64();
        Duration::from_millis((secs * 1000.0).round() as u64)
    } else {
        Duration::ZERO
    }
}

fn usable(bound: f64) -> bool {
    bound > 0.0 && bound.is_finite()
}

impl QuotaManager {
    /// A manager with no sensors.
    pub fn new(config: QuotaConfig) -> Self {
        QuotaManager {
            config,
            sensors: LruMap::new(config.max_sensors),
        }
    }

    /// Its settings.
    pub fn config(&self) -> &QuotaConfig {
        &self.config
    }

    /// The longest throttle a sampled-rate quota for `key` answers.
    pub fn max_throttle(&self, key: QuotaKey) -> Duration {
        match key {
            QuotaKey::RequestPercentage => self.config.rate.window,
            _ => self.config.rate.span(),
        }
    }

    /// Records `value` of usage under `sensor` at `now` and returns how long to throttle
    /// the connection (zero when within `bound`). A `bound` that is not positive and
    /// finite means no quota: nothing is recorded.
    pub fn record(
        &mut self,
        sensor: SensorRef<'_>,
        bound: f64,
        value: f64,
        now: Instant,
    ) -> Duration {
        if !usable(bound) {
            return Duration::ZERO;
        }
        let rate = self.config.rate;
        let cap = self.max_throttle(sensor.key);
        match self.stat(sensor, bound, now) {
            Stat::Rate(stat) => {
                stat.record(&rate, value, now);
                let measured = stat.measure(&rate, now);
                throttle_time(measured.rate, bound, measured.window).min(cap)
            }
            Stat::Bucket(bucket) => {
                bucket.record(&rate, bound, value, now);
                bucket_throttle(bucket.tokens(&rate, bound, now), bound)
            }
        }
    }

    /// Records handler time for a `request_percentage` sensor; see
    /// [`request_time_percent`].
    pub fn record_request_time(
        &mut self,
        sensor: SensorRef<'_>,
        bound: f64,
        handler_time: Duration,
        now: Instant,
    ) -> Duration {
        self.record(sensor, bound, request_time_percent(handler_time), now)
    }

    /// A strict quota (KIP-599, for new clients' topic mutations): if the quota is already
    /// exhausted, records nothing and returns the throttle time (the request is refused
    /// with `THROTTLING_QUOTA_EXCEEDED`); otherwise records `value`, even if that exhausts
    /// it, and accepts.
    pub fn try_record(
        &mut self,
        sensor: SensorRef<'_>,
        bound: f64,
        value: f64,
        now: Instant,
    ) -> Result<(), Duration> {
        if !usable(bound) {
            return Ok(());
        }
        let rate = self.config.rate;
        let cap = self.max_throttle(sensor.key);
        match self.stat(sensor, bound, now) {
            Stat::Rate(stat) => {
                let measured = stat.measure(&rate, now);
                let wait = throttle_time(measured.rate, bound, measured.window).min(cap);
                if !wait.is_zero() {
                    return Err(wait);
                }
                stat.record(&rate, value, now);
            }
            Stat::Bucket(bucket) => {
                let wait = bucket_throttle(bucket.tokens(&rate, bound, now), bound);
                if !wait.is_zero() {
                    return Err(wait);
                }
                bucket.record(&rate, bound, value, now);
            }
        }
        Ok(())
    }

    /// Records usage without checking the quota (Kafka records network-thread time this
    /// way); it weighs on the next request's throttle.
    pub fn record_no_throttle(
        &mut self,
        sensor: SensorRef<'_>,
        bound: f64,
        value: f64,
        now: Instant,
    ) {
        if !usable(bound) {
            return;
        }
        let rate = self.config.rate;
        match self.stat(sensor, bound, now) {
            Stat::Rate(stat) => stat.record(&rate, value, now),
            Stat::Bucket(bucket) => bucket.record(&rate, bound, value, now),
        }
    }

    /// Takes back usage recorded earlier (a throttled Fetch answers with no data, so its
    /// bytes are not counted). Does nothing for an unknown sensor.
    pub fn unrecord(&mut self, sensor: SensorRef<'_>, bound: f64, value: f64, now: Instant) {
        let rate = self.config.rate;
        match self.sensors.get_mut(&sensor as &dyn SensorLookup) {
            Some(Stat::Rate(stat)) => stat.record(&rate, -value, now),
            Some(Stat::Bucket(bucket)) if usable(bound) => bucket.record(&rate, bound, -value, now),
            _ => {}
        }
    }

    /// The rate a sampled-rate sensor observes at `now`, if it exists (for metrics).
    pub fn observed_rate(&mut self, sensor: SensorRef<'_>, now: Instant) -> Option<f64> {
        let rate = self.config.rate;
        match self.sensors.get_mut(&sensor as &dyn SensorLookup)? {
            Stat::Rate(stat) => Some(stat.measure(&rate, now).rate),
            Stat::Bucket(_) => None,
        }
    }

    /// The largest value one request can record without being throttled for sure:
    /// `bound × (samples - 1) × window` (Kafka sizes throttled fetches with it).
    pub fn max_value_in_window(&self, bound: f64) -> f64 {
        let rate = &self.config.rate;
        bound * f64::from(rate.samples - 1) * rate.window.as_secs_f64()
    }

    /// Drops sensors unused for [`QuotaConfig::inactive_expiry`]; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        self.sensors.expire(now, self.config.inactive_expiry)
    }

    /// Number of sensors held.
    pub fn len(&self) -> usize {
        self.sensors.len()
    }

    /// Whether no sensor is held.
    pub fn is_empty(&self) -> bool {
        self.sensors.len() == 0
    }

    fn stat(&mut self, sensor: SensorRef<'_>, bound: f64, now: Instant) -> &mut Stat {
        let rate = self.config.rate;
        self.sensors
            .get_or_insert_with(&sensor as &dyn SensorLookup, now, || {
                let stat = match sensor.key {
                    QuotaKey::ControllerMutationRate => {
                        Stat::Bucket(TokenBucket::full(&rate, bound, now))
                    }
                    _ => Stat::Rate(SampledRate::new()),
                };
                (sensor.to_key(), stat)
            })
    }
}

fn bucket_throttle(tokens: f64, bound: f64) -> Duration {
    if tokens >= 0.0 {
        return Duration::ZERO;
    }
    Duration::from_millis((-tokens / bound * 1000.0).round() as u64)
}

#[cfg(test)]
#[path = "throttle_tests.rs"]
mod tests;
