//! Connection-creation rates at accept (KIP-612): the broker-wide and per-listener
//! limits from the settings and the per-IP `connection_creation_rate` quotas from the
//! metadata image, over one `strata_quota::ConnectionRate`. Without any limit, accepting
//! costs one relaxed atomic load.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use parking_lot::Mutex;
use strata_quota::{ConnectionRate, ConnectionRateConfig, ConnectionThrottle, IpQuotas};

use super::QuotaSettings;

struct Inner {
    rate: ConnectionRate,
    /// The ip entities whose rate is set in `rate`.
    ips: Vec<Option<IpAddr>>,
    /// Whether a broker or listener limit is set.
    static_limits: bool,
}

/// The connection-creation limits of a broker.
pub(crate) struct ConnectionLimits {
    active: AtomicBool,
    inner: Mutex<Inner>,
    settings: QuotaSettings,
}

impl ConnectionLimits {
    pub(crate) fn new(settings: &QuotaSettings) -> Self {
        let rate = ConnectionRate::new(ConnectionRateConfig {
            rate: settings.rate,
            broker_rate: settings.broker_rate,
            ..ConnectionRateConfig::default()
        });
        let static_limits = settings.broker_rate.is_some() || !settings.listener_rates.is_empty();
        Self {
            active: AtomicBool::new(static_limits),
            inner: Mutex::new(Inner {
                rate,
                ips: Vec::new(),
                static_limits,
            }),
            settings: settings.clone(),
        }
    }

    /// Registers a listener with its limit; the inter-broker listener is `protected`
    /// (left out of the broker-wide rate, as in Kafka).
    pub(crate) fn register(&self, listener: &str, protected: bool) {
        let rate = self.settings.listener_rates.get(listener).copied();
        self.inner
            .lock()
            .rate
            .set_listener(listener, rate, protected);
    }

    /// Replaces the per-IP limits with those of `ips`.
    pub(crate) fn set_ip_rates(&self, ips: &IpQuotas) {
        let mut inner = self.inner.lock();
        let old = std::mem::take(&mut inner.ips);
        for ip in old {
            inner.rate.set_ip_rate(ip, None);
        }
        for (ip, rate) in ips.iter() {
            inner.rate.set_ip_rate(ip, Some(rate));
            inner.ips.push(ip);
        }
        let any = inner.static_limits || !inner.ips.is_empty();
        self.active.store(any, Ordering::Relaxed);
    }

    /// Counts a new connection from `ip` on `listener` (see
    /// `strata_quota::ConnectionRate::admit` for what the answer asks).
    pub(crate) fn admit(&self, listener: &str, ip: IpAddr) -> Result<(), ConnectionThrottle> {
        if !self.active.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.inner.lock().rate.admit(listener, ip, Instant::now())
    }

    pub(crate) fn expire(&self, now: Instant) -> usize {
        self.inner.lock().rate.expire(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_quota::IpChange;

    #[test]
    fn no_limits_admit_everything_and_ip_quotas_come_and_go() {
        let limits = ConnectionLimits::new(&QuotaSettings::default());
        limits.register("PLAINTEXT", false);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..1000 {
            assert_eq!(limits.admit("PLAINTEXT", ip), Ok(()));
        }
        let mut ips = IpQuotas::new();
        ips.apply(&IpChange {
            ip: Some(ip),
            value: Some(1.0),
        });
        limits.set_ip_rates(&ips);
        // One a second, averaged over the sampling span: a burst is refused quickly.
        let refused = (0..100)
            .filter(|_| {
                matches!(
                    limits.admit("PLAINTEXT", ip),
                    Err(ConnectionThrottle::Ip(_))
                )
            })
            .count();
        assert!(refused >= 80, "{refused}");
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(limits.admit("PLAINTEXT", other), Ok(()));
        limits.set_ip_rates(&IpQuotas::new());
        assert_eq!(limits.admit("PLAINTEXT", ip), Ok(()));
    }

    #[test]
    fn listener_limits_pace_the_listener_but_not_the_protected_one() {
        let settings = QuotaSettings {
            broker_rate: Some(2.0),
            ..QuotaSettings::default()
        };
        let limits = ConnectionLimits::new(&settings);
        limits.register("EXTERNAL", false);
        limits.register("INTERNAL", true);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let paced = (0..100)
            .filter(|_| {
                matches!(
                    limits.admit("EXTERNAL", ip),
                    Err(ConnectionThrottle::Listener(_))
                )
            })
            .count();
        assert!(paced >= 70, "{paced}");
        assert_eq!(limits.admit("INTERNAL", ip), Ok(()));
    }
}
