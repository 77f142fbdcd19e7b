//! Kafka's coarser spellings of the retention and roll times, applied after the static
//! settings are read.

use anyhow::Context;
use strata_broker::BrokerConfig;
use strata_meta::topic_config;

/// Kafka's coarser spellings of two time settings: `log.retention.minutes` and
/// `log.retention.hours` set the default `retention.ms`, `log.roll.hours` the default
/// `segment.ms`, unless the finer key is given (Kafka's precedence: ms, then minutes,
/// then hours). -1 (keep forever) carries over as -1.
pub fn apply(c: &mut BrokerConfig) -> anyhow::Result<()> {
    const SYNONYMS: &[(&str, &[(&str, i64)])] = &[
        (
            "retention.ms",
            &[
                ("log.retention.minutes", 60_000),
                ("log.retention.hours", 3_600_000),
            ],
        ),
        ("segment.ms", &[("log.roll.hours", 3_600_000)]),
    ];
    for (topic_key, coarser) in SYNONYMS {
        if c.topic_defaults.contains_key(*topic_key) {
            continue;
        }
        let Some((key, unit, value)) = coarser
            .iter()
            .find_map(|(k, unit)| c.kept.get(*k).map(|v| (*k, *unit, v.trim().to_string())))
        else {
            continue;
        };
        let n: i64 = value
            .parse()
            .with_context(|| format!("setting '{key}': '{value}' is not a whole number"))?;
        let ms = if n == -1 {
            -1
        } else {
            n.checked_mul(unit)
                .filter(|ms| *ms >= 0)
                .with_context(|| format!("setting '{key}': {value} is out of range"))?
        };
        topic_config::validate(topic_key, &ms.to_string())
            .map_err(|e| anyhow::anyhow!("setting '{key}': {e}"))?;
        c.topic_defaults
            .insert(topic_key.to_string(), ms.to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::server::{resolve, ServerArgs};

    #[test]
    fn coarser_time_settings_set_the_defaults_unless_the_finer_one_is_given() {
        let plan = |settings: &[&str]| {
            resolve(ServerArgs {
                settings: settings.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            })
        };
        let p = plan(&["log.retention.hours=24", "log.roll.hours=2"]).unwrap();
        assert_eq!(p.broker.topic_defaults["retention.ms"], "86400000");
        assert_eq!(p.broker.topic_defaults["segment.ms"], "7200000");
        let p = plan(&["log.retention.hours=24", "log.retention.minutes=30"]).unwrap();
        assert_eq!(p.broker.topic_defaults["retention.ms"], "1800000");
        let p = plan(&["log.retention.ms=5000", "log.retention.hours=24"]).unwrap();
        assert_eq!(p.broker.topic_defaults["retention.ms"], "5000");
        let p = plan(&["log.retention.hours=-1"]).unwrap();
        assert_eq!(p.broker.topic_defaults["retention.ms"], "-1");
        let err = plan(&["log.retention.hours=9223372036854775807"]).unwrap_err();
        assert!(
            format!("{err:#}").contains("log.retention.hours"),
            "{err:#}"
        );
    }
}
