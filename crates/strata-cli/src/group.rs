//! `strata group list|describe|delete|reset-offsets|offset-delete`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use anyhow::{bail, Result};
use clap::Subcommand;
use serde_json::{json, Value};
use strata_client::{
    Admin, ClientConfig, GroupDescription, OffsetAndMetadata, OffsetSpec, TopicPartition,
};

use crate::cli::Format;
pub use crate::group_reset::ResetArgs;

/// Group actions.
#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// List consumer groups.
    List {
        /// Only groups in this state (Stable, Empty, PreparingRebalance, ...); repeatable.
        #[arg(long)]
        state: Vec<String>,
    },
    /// Show a group's members and, per partition, committed offset, log end and lag.
    Describe {
        /// Group id(s).
        #[arg(required = true, value_name = "GROUP")]
        groups: Vec<String>,
        /// Lag against what a consumer with this isolation level can read:
        /// `read_uncommitted` (the log end, the default, as Kafka's tool) or
        /// `read_committed` (the last stable offset: records of transactions still
        /// open are not counted).
        #[arg(long, value_enum, default_value_t = Isolation::ReadUncommitted)]
        isolation: Isolation,
    },
    /// Delete groups and their committed offsets (they must have no active members).
    Delete {
        /// Group id(s).
        #[arg(required = true, value_name = "GROUP")]
        groups: Vec<String>,
    },
    /// Compute new committed offsets for groups and, with --execute, commit them.
    ResetOffsets(ResetArgs),
    /// Delete a group's committed offsets of a topic (OffsetDelete; the group must not be
    /// subscribed to it).
    OffsetDelete(crate::group_reset::OffsetDeleteArgs),
}

/// A consumer's isolation level, for `group describe --isolation`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
#[value(rename_all = "snake_case")]
pub enum Isolation {
    /// Lag against the log end (high-water mark).
    ReadUncommitted,
    /// Lag against the last stable offset.
    ReadCommitted,
}

impl Isolation {
    fn name(self) -> &'static str {
        match self {
            Isolation::ReadUncommitted => "read_uncommitted",
            Isolation::ReadCommitted => "read_committed",
        }
    }
}

/// Runs a group command.
pub async fn run(cmd: GroupCommand, config: ClientConfig, format: Format) -> Result<()> {
    let admin = Admin::new(config)?;
    match cmd {
        GroupCommand::List { state } => list(&admin, &state, format).await,
        GroupCommand::Describe { groups, isolation } => {
            for (i, group) in groups.iter().enumerate() {
                if i > 0 && format == Format::Text {
                    writeln!(std::io::stdout())?;
                }
                describe(&admin, group, isolation, format).await?;
            }
            Ok(())
        }
        GroupCommand::Delete { groups } => delete(&admin, &groups, format).await,
        GroupCommand::ResetOffsets(args) => crate::group_reset::reset(&admin, args, format).await,
        GroupCommand::OffsetDelete(args) => {
            crate::group_reset::offset_delete(&admin, args, format).await
        }
    }
}

/// Deletes each group, going on past failures; fails if any did.
async fn delete(admin: &Admin, groups: &[String], format: Format) -> Result<()> {
    let mut failed = Vec::new();
    for group in groups {
        let result = admin.delete_group(group).await;
        let mut out = std::io::stdout().lock();
        match (&result, format) {
            (Ok(()), Format::Text) => writeln!(out, "deleted group '{group}'")?,
            (Ok(()), Format::Json) => {
                writeln!(out, "{}", json!({"group": group, "deleted": true}))?
            }
            (Err(e), Format::Json) => writeln!(
                out,
                "{}",
                json!({"group": group, "deleted": false, "error": e.to_string()})
            )?,
            (Err(_), Format::Text) => {}
        }
        if let Err(e) = result {
            failed.push(format!("{group}: {e}"));
        }
    }
    match failed.len() {
        0 => Ok(()),
        1 if groups.len() == 1 => bail!("{}", failed[0]),
        _ => bail!("some groups were not deleted:\n{}", failed.join("\n")),
    }
}

async fn list(admin: &Admin, states: &[String], format: Format) -> Result<()> {
    let groups = admin.list_groups(states).await?;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Text => {
            let w = groups
                .iter()
                .map(|g| g.group_id.len())
                .max()
                .unwrap_or(5)
                .max(5);
            writeln!(out, "{:w$}  {:20}  PROTOCOL-TYPE", "GROUP", "STATE")?;
            for g in groups {
                writeln!(
                    out,
                    "{:w$}  {:20}  {}",
                    g.group_id, g.state, g.protocol_type
                )?;
            }
        }
        Format::Json => {
            let v: Vec<Value> = groups
                .iter()
                .map(|g| json!({"group": g.group_id, "state": g.state, "protocol_type": g.protocol_type}))
                .collect();
            writeln!(out, "{}", Value::Array(v))?;
        }
    }
    Ok(())
}

/// One row of `describe`: a partition the group has an offset for or has assigned.
struct Row {
    tp: TopicPartition,
    committed: Option<OffsetAndMetadata>,
    log_end: Option<i64>,
    owner: Option<(String, String, String)>,
}

async fn describe(admin: &Admin, group: &str, isolation: Isolation, format: Format) -> Result<()> {
    let desc = admin.describe_group(group).await?;
    let offsets = admin.list_group_offsets(group).await?;
    if desc.state == "Dead" && offsets.is_empty() {
        bail!("group '{group}' does not exist");
    }
    let mut owners: BTreeMap<TopicPartition, (String, String, String)> = BTreeMap::new();
    for m in &desc.members {
        for tp in &m.assignment {
            owners.insert(
                tp.clone(),
                (m.member_id.clone(), m.client_id.clone(), m.host.clone()),
            );
        }
    }
    let tps: BTreeSet<TopicPartition> = offsets.keys().chain(owners.keys()).cloned().collect();
    let tps: Vec<TopicPartition> = tps.into_iter().collect();
    let ends = if tps.is_empty() {
        Default::default()
    } else {
        let spec = match isolation {
            Isolation::ReadUncommitted => OffsetSpec::Latest,
            Isolation::ReadCommitted => OffsetSpec::LastStable,
        };
        admin.list_offsets(&tps, spec).await?
    };
    let rows: Vec<Row> = tps
        .into_iter()
        .map(|tp| Row {
            committed: offsets.get(&tp).cloned(),
            log_end: ends.get(&tp).copied(),
            owner: owners.get(&tp).cloned(),
            tp,
        })
        .collect();
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => writeln!(out, "{}", describe_json(&desc, &rows, isolation))?,
        Format::Text => {
            writeln!(
                out,
                "Group: {}  State: {}  Protocol: {} ({})  Members: {}",
                desc.group_id,
                desc.state,
                if desc.protocol.is_empty() {
                    "-"
                } else {
                    &desc.protocol
                },
                if desc.protocol_type.is_empty() {
                    "-"
                } else {
                    &desc.protocol_type
                },
                desc.members.len()
            )?;
            writeln!(out)?;
            writeln!(
                out,
                "{:24} {:>9} {:>16} {:>14} {:>10}  {:40} {:20} HOST",
                "TOPIC",
                "PARTITION",
                "CURRENT-OFFSET",
                match isolation {
                    Isolation::ReadUncommitted => "LOG-END-OFFSET",
                    Isolation::ReadCommitted => "STABLE-OFFSET",
                },
                "LAG",
                "MEMBER-ID",
                "CLIENT-ID"
            )?;
            for r in &rows {
                let (member, client, host) = r
                    .owner
                    .clone()
                    .unwrap_or_else(|| ("-".into(), "-".into(), "-".into()));
                writeln!(
                    out,
                    "{:24} {:>9} {:>16} {:>14} {:>10}  {:40} {:20} {}",
                    r.tp.0,
                    r.tp.1,
                    opt(r.committed.as_ref().map(|c| c.offset)),
                    opt(r.log_end),
                    opt(lag(r)),
                    member,
                    client,
                    host
                )?;
            }
            if !desc.members.is_empty() {
                writeln!(out)?;
                writeln!(
                    out,
                    "{:40} {:16} {:20} {:20} ASSIGNMENT",
                    "MEMBER-ID", "INSTANCE-ID", "CLIENT-ID", "HOST"
                )?;
                for m in &desc.members {
                    let assignment: Vec<String> = m
                        .assignment
                        .iter()
                        .map(|(t, p)| format!("{t}-{p}"))
                        .collect();
                    writeln!(
                        out,
                        "{:40} {:16} {:20} {:20} {}",
                        m.member_id,
                        m.group_instance_id.as_deref().unwrap_or("-"),
                        m.client_id,
                        m.host,
                        assignment.join(",")
                    )?;
                }
            }
        }
    }
    Ok(())
}

fn lag(r: &Row) -> Option<i64> {
    Some((r.log_end? - r.committed.as_ref()?.offset).max(0))
}

fn opt(v: Option<i64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn describe_json(desc: &GroupDescription, rows: &[Row], isolation: Isolation) -> Value {
    let members: Vec<Value> = desc
        .members
        .iter()
        .map(|m| {
            json!({
                "member_id": m.member_id,
                "group_instance_id": m.group_instance_id,
                "client_id": m.client_id,
                "host": m.host,
                "assignment": m.assignment.iter().map(|(t, p)| json!({"topic": t, "partition": p})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let offsets: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "topic": r.tp.0,
                "partition": r.tp.1,
                "committed_offset": r.committed.as_ref().map(|c| c.offset),
                "metadata": r.committed.as_ref().and_then(|c| c.metadata.clone()),
                "log_end_offset": r.log_end,
                "lag": lag(r),
                "member_id": r.owner.as_ref().map(|o| o.0.clone()),
                "client_id": r.owner.as_ref().map(|o| o.1.clone()),
                "host": r.owner.as_ref().map(|o| o.2.clone()),
            })
        })
        .collect();
    json!({
        "group": desc.group_id,
        "state": desc.state,
        "protocol_type": desc.protocol_type,
        "protocol": desc.protocol,
        "isolation": isolation.name(),
        "members": members,
        "offsets": offsets,
    })
}
