//! Kafka's rate measurements: the sampled rate behind byte-rate, request and
//! connection-rate quotas, and the token bucket behind controller-mutation quotas
//! (KIP-599).
//!
//! The sampled rate keeps up to `samples + 1` consecutive samples of `window` each. A
//! sample starts at the first value recorded after the previous one is `window` old. The
//! rate is the sum over the retained samples divided by the time since the oldest one
//! started, where that time is counted as at least `samples - 1` whole windows: a new
//! budget is measured as if it had been idle before, so a burst at start-up is averaged
//! over ten seconds (with the defaults), not over the milliseconds it took. Samples
//! without a value for `samples` windows are cleared.

use std::time::{Duration, Instant};

/// The sampling of a rate: `quota.window.size.seconds` and `quota.window.num`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateConfig {
    /// The length of one sample (Kafka's `quota.window.size.seconds`, default 1 s).
    pub window: Duration,
    /// The number of samples (Kafka's `quota.window.num`, default 11).
    pub samples: u32,
}

impl Default for RateConfig {
    fn default() -> Self {
        RateConfig {
            window: Duration::from_secs(1),
            samples: 11,
        }
    }
}

impl RateConfig {
    /// A sampling of `samples` windows of `window`; at least one sample of at least one
    /// millisecond.
    pub fn new(window: Duration, samples: u32) -> Self {
        RateConfig {
            window: window.max(Duration::from_millis(1)),
            samples: samples.max(1),
        }
    }

    /// `window × samples`: how long a sampled value can weigh on the rate, and the
    /// burst of a token bucket in seconds of its rate.
    pub fn span(&self) -> Duration {
        self.window.saturating_mul(self.samples)
    }
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    start: Instant,
    last_event: Instant,
    value: f64,
}

impl Sample {
    fn new(now: Instant) -> Self {
        Sample {
            start: now,
            last_event: now,
            value: 0.0,
        }
    }
}

/// A rate measured over a window, and the length of that window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// Units per second.
    pub rate: f64,
    /// The time the rate was averaged over (what the throttle time is scaled by).
    pub window: Duration,
}

/// A rate over a ring of time samples (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct SampledRate {
    samples: Vec<Sample>,
    current: usize,
}

impl SampledRate {
    /// A rate with nothing recorded.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `value` (negative to take back an earlier one) at `now`.
    pub fn record(&mut self, config: &RateConfig, value: f64, now: Instant) {
        if self.samples.is_empty() {
            self.samples.push(Sample::new(now));
            self.current = 0;
        }
        if now.saturating_duration_since(self.samples[self.current].start) >= config.window {
            self.advance(config, now);
        }
        let sample = &mut self.samples[self.current];
        sample.value += value;
        if now > sample.last_event {
            sample.last_event = now;
        }
    }

    fn advance(&mut self, config: &RateConfig, now: Instant) {
        let slots = config.samples as usize + 1;
        self.current = (self.current + 1) % slots;
        if self.current >= self.samples.len() {
            self.samples.push(Sample::new(now));
            self.current = self.samples.len() - 1;
        } else {
            self.samples[self.current] = Sample::new(now);
        }
    }

    /// The rate as of `now`, clearing samples too old to count.
    pub fn measure(&mut self, config: &RateConfig, now: Instant) -> Measured {
        let stale = config.span();
        let mut total = 0.0;
        let mut oldest = now;
        for sample in &mut self.samples {
            if now.saturating_duration_since(sample.last_event) >= stale {
                *sample = Sample::new(now);
            }
            total += sample.value;
            oldest = oldest.min(sample.start);
        }
        let mut elapsed = now.saturating_duration_since(oldest);
        let whole = elapsed.as_nanos() / config.window.as_nanos();
        let at_least = u128::from(config.samples - 1);
        if whole < at_least {
            // `whole < samples`, so the difference fits in a u32.
            elapsed += config.window * (at_least - whole) as u32;
        }
        let window = elapsed.max(Duration::from_millis(1));
        Measured {
            rate: total / window.as_secs_f64(),
            window,
        }
    }
}

/// A token bucket that refills at the quota's rate up to `rate × window × samples`
/// tokens and starts full. Usage takes tokens and may drive the balance negative; the
/// quota is exhausted while the balance is below zero.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket for the rate `bound`.
    pub fn full(config: &RateConfig, bound: f64, now: Instant) -> Self {
        TokenBucket {
            tokens: Self::burst(config, bound),
            last: now,
        }
    }

    fn burst(config: &RateConfig, bound: f64) -> f64 {
        bound * config.span().as_secs_f64()
    }

    fn refill(&mut self, config: &RateConfig, bound: f64, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + bound * elapsed).min(Self::burst(config, bound));
        if now > self.last {
            self.last = now;
        }
    }

    /// The balance as of `now` (negative when exhausted).
    pub fn tokens(&mut self, config: &RateConfig, bound: f64, now: Instant) -> f64 {
        self.refill(config, bound, now);
        self.tokens
    }

    /// Takes `value` tokens at `now`.
    pub fn record(&mut self, config: &RateConfig, bound: f64, value: f64, now: Instant) {
        self.refill(config, bound, now);
        self.tokens = (self.tokens - value).min(Self::burst(config, bound));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_new_rate_is_averaged_over_at_least_samples_minus_one_windows() {
        let config = RateConfig::default();
        let t = Instant::now();
        let mut rate = SampledRate::new();
        rate.record(&config, 1000.0, t);
        let m = rate.measure(&config, t + ms(100));
        assert_eq!(m.window, ms(10_100));
        assert!((m.rate - 1000.0 / 10.1).abs() < 1e-9);
    }

    #[test]
    fn steady_input_measures_its_rate() {
        let config = RateConfig::default();
        let t = Instant::now();
        let mut rate = SampledRate::new();
        // 100 units every 100 ms for 30 s: 1000 units/s.
        for i in 0..300 {
            rate.record(&config, 100.0, t + ms(i * 100));
        }
        let m = rate.measure(&config, t + ms(29_950));
        assert!((m.rate - 1000.0).abs() / 1000.0 < 0.1, "{m:?}");
        assert!(m.window <= config.span() + config.window, "{m:?}");
    }

    #[test]
    fn old_samples_stop_counting() {
        let config = RateConfig::default();
        let t = Instant::now();
        let mut rate = SampledRate::new();
        rate.record(&config, 5000.0, t);
        assert!(rate.measure(&config, t + ms(10_999)).rate > 0.0);
        assert_eq!(rate.measure(&config, t + ms(11_000)).rate, 0.0);
        assert_eq!(rate.samples.len(), 1);
    }

    #[test]
    fn the_ring_never_holds_more_than_samples_plus_one() {
        let config = RateConfig::new(ms(10), 3);
        let t = Instant::now();
        let mut rate = SampledRate::new();
        for i in 0..100 {
            rate.record(&config, 1.0, t + ms(i * 10));
        }
        assert_eq!(rate.samples.len(), 4);
        // At 995 ms the sample started at 960 ms has had no value for 3 windows and is
        // cleared; those from 970, 980 and 990 ms count, over the 25 ms since 970 ms.
        let m = rate.measure(&config, t + ms(995));
        assert_eq!(m.window, ms(25));
        assert!((m.rate - 3.0 / 0.025).abs() < 1e-6, "{m:?}");
    }

    #[test]
    fn negative_values_take_back() {
        let config = RateConfig::default();
        let t = Instant::now();
        let mut rate = SampledRate::new();
        rate.record(&config, 700.0, t);
        rate.record(&config, -700.0, t);
        assert_eq!(rate.measure(&config, t + ms(1)).rate, 0.0);
    }

    #[test]
    fn token_bucket_refills_up_to_its_burst() {
        let config = RateConfig::default();
        let t = Instant::now();
        let mut bucket = TokenBucket::full(&config, 10.0, t);
        assert_eq!(bucket.tokens(&config, 10.0, t), 110.0);
        bucket.record(&config, 10.0, 130.0, t);
        assert_eq!(bucket.tokens(&config, 10.0, t), -20.0);
        assert!((bucket.tokens(&config, 10.0, t + ms(2000)) - 0.0).abs() < 1e-9);
        assert_eq!(bucket.tokens(&config, 10.0, t + ms(60_000)), 110.0);
    }
}
