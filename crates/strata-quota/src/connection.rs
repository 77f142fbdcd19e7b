//! Connection-creation rate limits (KIP-612).
//!
//! Three limits, each a sampled rate of accepted connections per second with the same
//! sampling as client quotas:
//! - broker-wide `max.connection.creation.rate`, over every listener except protected
//!   ones (the inter-broker listener);
//! - per listener, `listener.name.<listener>.max.connection.creation.rate`;
//! - per client IP, the `connection_creation_rate` quota of `ip=<address>` or, failing
//!   that, of `ip=<default>`. IPs without a limit are not tracked.
//!
//! What the answer asks of the acceptor:
//! - [`ConnectionThrottle::Listener`]: the connection is counted; accept it after the
//!   wait (Kafka's acceptor blocks for that long, which paces the listener);
//! - [`ConnectionThrottle::Ip`]: the connection is not counted anywhere; close it after
//!   the wait (delaying the close slows a client that reconnects in a loop).
//!
//! Throttle times use the quota formula ([`crate::throttle_time`]) capped at one window,
//! as Kafka caps them. Unlike Kafka, which checks the IP limit only once a listener wait
//! is over, both limits are checked at `now`, so a connection that has to wait for its
//! listener is measured against its IP's budget as of its arrival.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::lru::LruMap;
use crate::rate::{RateConfig, SampledRate};
use crate::throttle::throttle_time;

/// Settings of [`ConnectionRate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnectionRateConfig {
    /// The sampling (`quota.window.size.seconds`, `quota.window.num`).
    pub rate: RateConfig,
    /// Broker-wide `max.connection.creation.rate`; `None` is unlimited.
    pub broker_rate: Option<f64>,
    /// The `connection_creation_rate` of `ip=<default>`; `None` is unlimited.
    pub ip_default_rate: Option<f64>,
    /// The most IPs tracked at once; the least recently seen is dropped first.
    pub max_tracked_ips: usize,
    /// How long an IP may go without a connection before [`ConnectionRate::expire`]
    /// drops its rate (Kafka: one hour).
    pub ip_inactive_expiry: Duration,
}

impl Default for ConnectionRateConfig {
    fn default() -> Self {
        ConnectionRateConfig {
            rate: RateConfig::default(),
            broker_rate: None,
            ip_default_rate: None,
            max_tracked_ips: 100_000,
            ip_inactive_expiry: Duration::from_secs(3600),
        }
    }
}

/// Why a connection has to wait (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionThrottle {
    /// Over the listener's or the broker's rate: counted, accept it after the wait.
    Listener(Duration),
    /// Over the client IP's rate: not counted, close it after the wait.
    Ip(Duration),
}

impl ConnectionThrottle {
    /// How long to wait.
    pub fn wait(&self) -> Duration {
        match self {
            ConnectionThrottle::Listener(wait) | ConnectionThrottle::Ip(wait) => *wait,
        }
    }
}

#[derive(Debug, Clone)]
struct Listener {
    rate: Option<f64>,
    protected: bool,
    sensor: SampledRate,
}

/// The connection-creation rate limits of one broker (see the module docs).
#[derive(Debug, Clone)]
pub struct ConnectionRate {
    config: ConnectionRateConfig,
    broker: SampledRate,
    listeners: HashMap<String, Listener>,
    ip_rates: HashMap<IpAddr, f64>,
    ips: LruMap<IpAddr, SampledRate>,
}

fn usable(rate: Option<f64>) -> Option<f64> {
    rate.filter(|rate| *rate > 0.0 && rate.is_finite())
}

impl ConnectionRate {
    /// Limits with no listener registered.
    pub fn new(config: ConnectionRateConfig) -> Self {
        ConnectionRate {
            config,
            broker: SampledRate::new(),
            listeners: HashMap::new(),
            ip_rates: HashMap::new(),
            ips: LruMap::new(config.max_tracked_ips),
        }
    }

    /// Registers a listener or changes its limit (`None`: unlimited). A protected
    /// listener is left out of the broker-wide rate. Its measured rate is kept.
    pub fn set_listener(&mut self, name: &str, rate: Option<f64>, protected: bool) {
        let listener = self
            .listeners
            .entry(name.to_owned())
            .or_insert_with(|| Listener {
                rate: None,
                protected,
                sensor: SampledRate::new(),
            });
        listener.rate = usable(rate);
        listener.protected = protected;
    }

    /// Forgets a listener that was closed.
    pub fn remove_listener(&mut self, name: &str) {
        self.listeners.remove(name);
    }

    /// Changes the broker-wide limit.
    pub fn set_broker_rate(&mut self, rate: Option<f64>) {
        self.config.broker_rate = usable(rate);
    }

    /// Sets (`Some`) or removes (`None`) the limit of one IP, or with `ip: None` the
    /// default for IPs without their own.
    pub fn set_ip_rate(&mut self, ip: Option<IpAddr>, rate: Option<f64>) {
        let rate = usable(rate);
        match (ip, rate) {
            (Some(ip), Some(rate)) => {
                self.ip_rates.insert(ip, rate);
            }
            (Some(ip), None) => {
                self.ip_rates.remove(&ip);
            }
            (None, rate) => self.config.ip_default_rate = rate,
        }
    }

    /// Counts a new connection from `ip` on `listener` at `now` and says whether it may
    /// proceed. An unknown listener is held to the broker-wide and IP limits only.
    pub fn admit(
        &mut self,
        listener: &str,
        ip: IpAddr,
        now: Instant,
    ) -> Result<(), ConnectionThrottle> {
        let config = self.config.rate;
        let cap = config.window;
        let over = |sensor: &mut SampledRate, rate: Option<f64>| -> Duration {
            sensor.record(&config, 1.0, now);
            match rate {
                Some(rate) => {
                    let measured = sensor.measure(&config, now);
                    throttle_time(measured.rate, rate, measured.window).min(cap)
                }
                None => Duration::ZERO,
            }
        };
        let mut wait = Duration::ZERO;
        let mut protected = false;
        if let Some(state) = self.listeners.get_mut(listener) {
            protected = state.protected;
            wait = over(&mut state.sensor, state.rate);
        }
        if !protected {
            wait = wait.max(over(&mut self.broker, usable(self.config.broker_rate)));
        }
        let ip_rate = self
            .ip_rates
            .get(&ip)
            .copied()
            .or(self.config.ip_default_rate);
        if let Some(rate) = ip_rate {
            let sensor = self
                .ips
                .get_or_insert_with(&ip, now, || (ip, SampledRate::new()));
            let ip_wait = over(sensor, Some(rate));
            if !ip_wait.is_zero() {
                sensor.record(&config, -1.0, now);
                if let Some(state) = self.listeners.get_mut(listener) {
                    state.sensor.record(&config, -1.0, now);
                }
                if !protected {
                    self.broker.record(&config, -1.0, now);
                }
                return Err(ConnectionThrottle::Ip(ip_wait));
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(ConnectionThrottle::Listener(wait))
        }
    }

    /// Drops the rates of IPs without a connection for
    /// [`ConnectionRateConfig::ip_inactive_expiry`]; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        self.ips.expire(now, self.config.ip_inactive_expiry)
    }

    /// Number of IPs whose rate is tracked.
    pub fn tracked_ips(&self) -> usize {
        self.ips.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn listener_rate_paces_connections_and_counts_them() {
        let mut limits = ConnectionRate::new(ConnectionRateConfig::default());
        limits.set_listener("PLAINTEXT", Some(10.0), false);
        let t = Instant::now();
        // A new rate is averaged over 10 windows: 100 connections fit at once.
        for n in 0..100 {
            assert_eq!(limits.admit("PLAINTEXT", ip(n), t), Ok(()));
        }
        // The 101st: 101 over 10 s is 1 % over 10/s, wait 1 % of 10 s.
        assert_eq!(
            limits.admit("PLAINTEXT", ip(100), t),
            Err(ConnectionThrottle::Listener(ms(100)))
        );
        // It was counted: the next waits longer, and no wait exceeds one window.
        assert_eq!(
            limits.admit("PLAINTEXT", ip(101), t).unwrap_err().wait(),
            ms(200)
        );
        for n in 0..100 {
            let wait = limits
                .admit("PLAINTEXT", ip(200 + n), t)
                .unwrap_err()
                .wait();
            assert!(wait <= Duration::from_secs(1));
        }
        // Another listener is not affected.
        limits.set_listener("SSL", Some(10.0), false);
        assert_eq!(limits.admit("SSL", ip(1), t), Ok(()));
    }

    #[test]
    fn a_paced_listener_converges_to_its_rate() {
        let mut limits = ConnectionRate::new(ConnectionRateConfig::default());
        limits.set_listener("PLAINTEXT", Some(50.0), false);
        let start = Instant::now();
        let end = start + Duration::from_secs(60);
        let (mut now, mut accepted) = (start, 0u32);
        while now < end {
            match limits.admit("PLAINTEXT", ip(accepted % 1000), now) {
                Ok(()) => now += ms(1),
                Err(throttle) => now += throttle.wait(),
            }
            accepted += 1;
        }
        let achieved = f64::from(accepted) / 60.0;
        assert!(
            (achieved - 50.0).abs() / 50.0 < 0.10,
            "achieved {achieved:.1}/s"
        );
    }

    #[test]
    fn ip_rate_refuses_without_counting() {
        let config = ConnectionRateConfig {
            ip_default_rate: Some(2.0),
            ..ConnectionRateConfig::default()
        };
        let mut limits = ConnectionRate::new(config);
        limits.set_listener("PLAINTEXT", Some(1000.0), false);
        let t = Instant::now();
        for _ in 0..20 {
            assert_eq!(limits.admit("PLAINTEXT", ip(1), t), Ok(()));
        }
        let refused = limits.admit("PLAINTEXT", ip(1), t);
        assert_eq!(refused, Err(ConnectionThrottle::Ip(ms(500))));
        // Not counted: asking again answers the same.
        assert_eq!(limits.admit("PLAINTEXT", ip(1), t), refused);
        // Other IPs have their own budget.
        assert_eq!(limits.admit("PLAINTEXT", ip(2), t), Ok(()));
        // After a while the IP gets in again.
        assert_eq!(limits.admit("PLAINTEXT", ip(1), t + ms(500)), Ok(()));
    }

    #[test]
    fn ip_overrides_beat_the_default() {
        let mut limits = ConnectionRate::new(ConnectionRateConfig::default());
        let t = Instant::now();
        limits.set_ip_rate(None, Some(1.0));
        limits.set_ip_rate(Some(ip(7)), Some(100.0));
        for _ in 0..500 {
            assert_eq!(limits.admit("any", ip(7), t), Ok(()));
        }
        for _ in 0..10 {
            assert_eq!(limits.admit("any", ip(8), t), Ok(()));
        }
        assert!(matches!(
            limits.admit("any", ip(8), t),
            Err(ConnectionThrottle::Ip(_))
        ));
        limits.set_ip_rate(None, None);
        assert_eq!(limits.admit("any", ip(8), t), Ok(()));
        limits.set_ip_rate(Some(ip(7)), None);
        assert_eq!(limits.admit("any", ip(7), t), Ok(()));
    }

    #[test]
    fn protected_listeners_skip_the_broker_rate() {
        let config = ConnectionRateConfig {
            broker_rate: Some(1.0),
            ..ConnectionRateConfig::default()
        };
        let mut limits = ConnectionRate::new(config);
        limits.set_listener("CLIENT", None, false);
        limits.set_listener("BROKER", None, true);
        let t = Instant::now();
        for n in 0..10 {
            assert_eq!(limits.admit("CLIENT", ip(n), t), Ok(()));
        }
        assert!(matches!(
            limits.admit("CLIENT", ip(99), t),
            Err(ConnectionThrottle::Listener(_))
        ));
        for n in 0..100 {
            assert_eq!(limits.admit("BROKER", ip(n), t), Ok(()));
        }
        limits.set_broker_rate(None);
        assert_eq!(limits.admit("CLIENT", ip(99), t), Ok(()));
    }

    #[test]
    fn tracked_ips_are_bounded_and_expire() {
        let config = ConnectionRateConfig {
            ip_default_rate: Some(5.0),
            max_tracked_ips: 8,
            ..ConnectionRateConfig::default()
        };
        let mut limits = ConnectionRate::new(config);
        let t = Instant::now();
        for n in 0..100 {
            limits.admit("L", ip(n), t + ms(u64::from(n))).unwrap();
            assert!(limits.tracked_ips() <= 8);
        }
        assert_eq!(limits.expire(t + Duration::from_secs(3600)), 0);
        assert_eq!(limits.expire(t + Duration::from_secs(3601)), 8);
        assert_eq!(limits.tracked_ips(), 0);
        // Unlimited IPs are never tracked.
        limits.set_ip_rate(None, None);
        limits.admit("L", ip(1), t).unwrap();
        assert_eq!(limits.tracked_ips(), 0);
    }
}
