//! `strata topic create|list|describe|alter-config|delete|add-partitions|trim`.

use std::io::Write;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;
use strata_client::{Admin, ClientConfig, TopicDescription};

use crate::cli::Format;
use crate::configs::{config_json, write_config_line, ConfigChanges};

/// Topic actions.
#[derive(Subcommand, Debug)]
pub enum TopicCommand {
    /// Create a topic.
    Create(CreateArgs),
    /// List topics (internal ones such as `__consumer_offsets` only with --internal).
    List {
        /// Also list internal topics (`__consumer_offsets`, `__transaction_state`,
        /// `_schemas`, names starting with `__`).
        #[arg(short = 'i', long)]
        internal: bool,
    },
    /// Show partitions (leader, replicas, ISR, offsets) and configs.
    Describe {
        /// Topic name.
        name: String,
    },
    /// Change the topic's config overrides (all changes apply together or not at all).
    AlterConfig {
        /// Topic name.
        name: String,
        /// The changes.
        #[command(flatten)]
        changes: ConfigChanges,
    },
    /// Delete a topic.
    Delete {
        /// Topic name.
        name: String,
    },
    /// Add partitions to a topic (CreatePartitions): to a total (--num) or by a count (--add).
    AddPartitions(crate::topic_ops::AddPartitionsArgs),
    /// Delete the records below an offset (DeleteRecords); prints the new low watermarks.
    Trim(crate::topic_ops::TrimArgs),
}

/// Flags of `topic create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Topic name.
    pub name: String,
    /// Partition count [default: the broker's num.partitions].
    #[arg(long)]
    pub partitions: Option<i32>,
    /// Replication factor [default: the broker's default.replication.factor].
    #[arg(long)]
    pub replication_factor: Option<i16>,
    /// Topic config, e.g. `--config retention.ms=86400000`; repeatable.
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub config: Vec<(String, String)>,
}

/// Parses `key=value` (the value may contain `=`).
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got '{s}'")),
    }
}

/// Runs a topic command.
pub async fn run(cmd: TopicCommand, config: ClientConfig, format: Format) -> Result<()> {
    let admin = Admin::new(config)?;
    let mut out = std::io::stdout().lock();
    match cmd {
        TopicCommand::Create(a) => {
            admin
                .create_topic(&a.name, a.partitions, a.replication_factor, &a.config)
                .await?;
            match format {
                Format::Text => writeln!(out, "created topic '{}'", a.name)?,
                Format::Json => writeln!(out, "{}", json!({"topic": a.name, "created": true}))?,
            }
        }
        TopicCommand::List { internal } => {
            let mut topics = admin.list_topics().await?;
            if !internal {
                topics.retain(|t| !crate::topic_ops::is_internal(&t.name, t.internal));
            }
            match format {
                Format::Text => {
                    for t in topics {
                        writeln!(out, "{}", t.name)?;
                    }
                }
                Format::Json => {
                    let v: Vec<_> = topics
                        .iter()
                        .map(|t| {
                            json!({"name": t.name, "id": t.id.to_string(),
                                   "partitions": t.partitions, "internal": t.internal})
                        })
                        .collect();
                    writeln!(out, "{}", serde_json::Value::Array(v))?;
                }
            }
        }
        TopicCommand::Describe { name } => {
            let d = admin.describe_topic(&name).await?;
            match format {
                Format::Text => write_description(&mut out, &d)?,
                Format::Json => writeln!(out, "{}", description_json(&d))?,
            }
        }
        TopicCommand::AlterConfig { name, changes } => {
            let ops = changes.into_ops()?;
            let n = ops.len();
            admin.alter_topic_config(&name, ops).await?;
            match format {
                Format::Text => writeln!(out, "altered {n} config(s) of topic '{name}'")?,
                Format::Json => writeln!(out, "{}", json!({"topic": name, "altered": n}))?,
            }
        }
        TopicCommand::Delete { name } => {
            admin.delete_topic(&name).await?;
            match format {
                Format::Text => writeln!(out, "deleted topic '{name}'")?,
                Format::Json => writeln!(out, "{}", json!({"topic": name, "deleted": true}))?,
            }
        }
        TopicCommand::AddPartitions(a) => {
            drop(out);
            crate::topic_ops::add_partitions(&admin, a, format).await?
        }
        TopicCommand::Trim(a) => {
            drop(out);
            crate::topic_ops::trim(&admin, a, format).await?
        }
    }
    Ok(())
}

fn ids(v: &[i32]) -> String {
    v.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

fn write_description(out: &mut impl Write, d: &TopicDescription) -> std::io::Result<()> {
    writeln!(
        out,
        "Topic: {}  Id: {}  Partitions: {}  Internal: {}",
        d.name,
        d.id,
        d.partitions.len(),
        d.internal
    )?;
    writeln!(
        out,
        "  {:<10} {:<7} {:<12} {:<12} {:>12} {:>12}",
        "PARTITION", "LEADER", "REPLICAS", "ISR", "EARLIEST", "LATEST"
    )?;
    for p in &d.partitions {
        let m = &p.metadata;
        writeln!(
            out,
            "  {:<10} {:<7} {:<12} {:<12} {:>12} {:>12}",
            m.partition,
            m.leader,
            ids(&m.replicas),
            ids(&m.isr),
            p.earliest_offset,
            p.latest_offset
        )?;
    }
    writeln!(out, "Configs:")?;
    for c in &d.configs {
        write_config_line(out, c)?;
    }
    Ok(())
}

/// The JSON shape of `topic describe --format json`.
pub fn description_json(d: &TopicDescription) -> serde_json::Value {
    json!({
        "name": d.name,
        "id": d.id.to_string(),
        "internal": d.internal,
        "partitions": d.partitions.iter().map(|p| json!({
            "partition": p.metadata.partition,
            "leader": p.metadata.leader,
            "leader_epoch": p.metadata.leader_epoch,
            "replicas": p.metadata.replicas,
            "isr": p.metadata.isr,
            "offline_replicas": p.metadata.offline_replicas,
            "earliest_offset": p.earliest_offset,
            "latest_offset": p.latest_offset,
        })).collect::<Vec<_>>(),
        "configs": d.configs.iter().map(config_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_parsing() {
        assert_eq!(
            parse_key_value("a=b=c"),
            Ok(("a".to_string(), "b=c".to_string()))
        );
        assert_eq!(parse_key_value("k="), Ok(("k".to_string(), String::new())));
        assert!(parse_key_value("=v").is_err());
        assert!(parse_key_value("novalue").is_err());
    }
}
