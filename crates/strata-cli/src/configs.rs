//! Config flags and rendering shared by `topic alter-config`, `topic describe` and
//! `broker config`.

use std::collections::BTreeSet;
use std::io::Write;

use anyhow::{bail, Result};
use clap::Args;
use serde_json::{json, Value};
use strata_client::{ConfigEntry, ConfigOp};

use crate::topic::parse_key_value;

/// `--set k=v` / `--delete k` flags.
#[derive(Args, Debug, Default)]
pub struct ConfigChanges {
    /// Set an override, e.g. `--set retention.ms=3600000`; repeatable.
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
    /// Remove an override so the next level's value applies; repeatable.
    #[arg(long, value_name = "KEY")]
    pub delete: Vec<String>,
}

impl ConfigChanges {
    /// Whether no change was asked for.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.delete.is_empty()
    }

    /// The changes as client ops; refuses an empty list and a key named twice, since the
    /// broker would apply only one of them and which one would be a surprise.
    pub fn into_ops(self) -> Result<Vec<ConfigOp>> {
        if self.is_empty() {
            bail!("nothing to change: give --set KEY=VALUE and/or --delete KEY");
        }
        let mut seen = BTreeSet::new();
        let mut ops = Vec::with_capacity(self.set.len() + self.delete.len());
        for (k, v) in self.set {
            if !seen.insert(k.clone()) {
                bail!("config '{k}' is named more than once");
            }
            ops.push(ConfigOp::set(k, v));
        }
        for k in self.delete {
            let k = k.trim().to_string();
            if k.is_empty() {
                bail!("--delete needs a config name");
            }
            if !seen.insert(k.clone()) {
                bail!("config '{k}' is named more than once");
            }
            ops.push(ConfigOp::delete(k));
        }
        Ok(ops)
    }
}

fn shown_value(c: &ConfigEntry) -> String {
    if c.sensitive {
        "<sensitive>".to_string()
    } else {
        c.value.clone().unwrap_or_else(|| "<null>".into())
    }
}

/// `  name = value  (source)`.
pub fn write_config_line(out: &mut impl Write, c: &ConfigEntry) -> std::io::Result<()> {
    writeln!(
        out,
        "  {} = {}  ({})",
        c.name,
        shown_value(c),
        c.source.label()
    )
}

/// One config entry as JSON: value, source (short label and Kafka's name) and synonyms.
pub fn config_json(c: &ConfigEntry) -> Value {
    let hide = |v: &Option<String>| if c.sensitive { None } else { v.clone() };
    json!({
        "name": c.name,
        "value": hide(&c.value),
        "source": c.source.label(),
        "kafka_source": c.source.kafka_name(),
        "read_only": c.read_only,
        "sensitive": c.sensitive,
        "synonyms": c.synonyms.iter().map(|s| json!({
            "name": s.name,
            "value": hide(&s.value),
            "source": s.source.label(),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_client::{ConfigAction, ConfigSource, ConfigSynonym};

    #[test]
    fn changes_become_ops() {
        let c = ConfigChanges {
            set: vec![("retention.ms".into(), "5".into())],
            delete: vec!["segment.ms".into()],
        };
        let ops = c.into_ops().expect("ops");
        assert_eq!(ops[0], ConfigOp::set("retention.ms", "5"));
        assert_eq!(ops[1].action, ConfigAction::Delete);
        assert!(ConfigChanges::default().into_ops().is_err());
        let dup = ConfigChanges {
            set: vec![("a".into(), "1".into())],
            delete: vec!["a".into()],
        };
        let err = dup.into_ops().expect_err("duplicate").to_string();
        assert!(err.contains("'a'"), "{err}");
    }

    #[test]
    fn rendering_shows_source_and_hides_secrets() {
        let mut c = ConfigEntry {
            name: "retention.ms".into(),
            value: Some("1000".into()),
            source: ConfigSource::Topic,
            read_only: false,
            sensitive: false,
            synonyms: vec![ConfigSynonym {
                name: "log.retention.ms".into(),
                value: Some("7".into()),
                source: ConfigSource::StaticBroker,
            }],
        };
        let mut buf = Vec::new();
        write_config_line(&mut buf, &c).expect("write");
        assert_eq!(
            String::from_utf8_lossy(&buf),
            "  retention.ms = 1000  (topic)\n"
        );
        let v = config_json(&c);
        assert_eq!(v["source"], "topic");
        assert_eq!(v["kafka_source"], "DYNAMIC_TOPIC_CONFIG");
        assert_eq!(v["synonyms"][0]["source"], "static-broker");
        c.sensitive = true;
        let v = config_json(&c);
        assert!(v["value"].is_null() && v["synonyms"][0]["value"].is_null());
    }
}
