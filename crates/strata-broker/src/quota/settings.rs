//! Quota settings of the broker, by Kafka's names: `quota.window.num`,
//! `quota.window.size.seconds`, `max.connection.creation.rate` and
//! `listener.name.<listener>.max.connection.creation.rate`. They arrive with the security
//! settings (`BrokerConfig::security`, see `listeners::is_security_key`).

use std::collections::BTreeMap;
use std::time::Duration;

use strata_quota::RateConfig;

const BROKER_RATE: &str = "max.connection.creation.rate";

/// The settings [`super::Quotas`] starts from.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct QuotaSettings {
    /// Sampling of every rate.
    pub(crate) rate: RateConfig,
    /// `max.connection.creation.rate` (connections per second), if limited.
    pub(crate) broker_rate: Option<f64>,
    /// `listener.name.<l>.max.connection.creation.rate` by listener name.
    pub(crate) listener_rates: BTreeMap<String, f64>,
}

/// Whether `key` is a quota setting (bare, or per listener for the connection rate).
pub fn is_quota_key(key: &str) -> bool {
    matches!(
        key,
        "quota.window.num" | "quota.window.size.seconds" | BROKER_RATE
    ) || key
        .strip_prefix("listener.name.")
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(name, k)| !name.is_empty() && k == BROKER_RATE)
}

impl QuotaSettings {
    /// Reads the quota settings out of the security settings; a bad value names its key.
    pub(crate) fn parse(settings: &BTreeMap<String, String>) -> Result<Self, String> {
        let int = |key: &str, min: i64, max: i64| -> Result<Option<i64>, String> {
            let Some(v) = settings.get(key) else {
                return Ok(None);
            };
            match v.trim().parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(format!(
                    "setting '{key}': '{v}' is not an integer between {min} and {max}"
                )),
            }
        };
        let max = i64::from(i32::MAX);
        let defaults = RateConfig::default();
        let samples = int("quota.window.num", 2, 1000)?.map_or(defaults.samples, |n| n as u32);
        let window = int("quota.window.size.seconds", 1, 3600)?
            .map_or(defaults.window, |n| Duration::from_secs(n as u64));
        // Kafka's default (Int.MaxValue) means unlimited.
        let rate = |key: &str| -> Result<Option<f64>, String> {
            Ok(int(key, 1, max)?.filter(|n| *n < max).map(|n| n as f64))
        };
        let mut listener_rates = BTreeMap::new();
        for key in settings.keys() {
            if let Some((name, BROKER_RATE)) = key
                .strip_prefix("listener.name.")
                .and_then(|rest| rest.split_once('.'))
            {
                if let Some(r) = rate(key)? {
                    listener_rates.insert(name.to_string(), r);
                }
            }
        }
        Ok(Self {
            rate: RateConfig::new(window, samples),
            broker_rate: rate(BROKER_RATE)?,
            listener_rates,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn quota_settings_parse_and_bad_values_name_their_key() {
        assert!(is_quota_key("max.connection.creation.rate"));
        assert!(is_quota_key(
            "listener.name.INTERNAL.max.connection.creation.rate"
        ));
        assert!(!is_quota_key("listener.name..max.connection.creation.rate"));
        assert!(!is_quota_key("listener.name.X.ssl.keystore.type"));
        let s = QuotaSettings::parse(&settings(&[
            ("max.connection.creation.rate", "20"),
            ("listener.name.EXTERNAL.max.connection.creation.rate", "5"),
            (
                "listener.name.INTERNAL.max.connection.creation.rate",
                "2147483647",
            ),
            ("quota.window.num", "5"),
            ("quota.window.size.seconds", "2"),
        ]))
        .unwrap();
        assert_eq!(s.broker_rate, Some(20.0));
        assert_eq!(s.listener_rates.len(), 1);
        assert_eq!(s.listener_rates["EXTERNAL"], 5.0);
        assert_eq!(s.rate, RateConfig::new(Duration::from_secs(2), 5));
        assert_eq!(
            QuotaSettings::parse(&BTreeMap::new()).unwrap(),
            QuotaSettings::default()
        );
        for (k, v) in [
            ("max.connection.creation.rate", "0"),
            ("max.connection.creation.rate", "fast"),
            ("quota.window.num", "1"),
            ("listener.name.A.max.connection.creation.rate", "-3"),
        ] {
            let e = QuotaSettings::parse(&settings(&[(k, v)])).unwrap_err();
            assert!(e.contains(k), "{e}");
        }
    }
}
