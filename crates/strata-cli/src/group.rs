//! `strata group list|describe|delete|reset-offsets`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use anyhow::{bail, Result};
use clap::{ArgGroup, Args, Subcommand};
use serde_json::{json, Value};
use strata_client::{
    Admin, ClientConfig, GroupDescription, OffsetAndMetadata, OffsetSpec, TopicPartition,
};

use crate::cli::Format;
use crate::datetime::parse_rfc3339_ms;

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
        /// Group id.
        group: String,
        /// Lag against what a consumer with this isolation level can read:
        /// `read_uncommitted` (the log end, the default, as Kafka's tool) or
        /// `read_committed` (the last stable offset: records of transactions still
        /// open are not counted).
        #[arg(long, value_enum, default_value_t = Isolation::ReadUncommitted)]
        isolation: Isolation,
    },
    /// Delete a group and its committed offsets (it must have no active members).
    Delete {
        /// Group id.
        group: String,
    },
    /// Compute new committed offsets for a group and, with --execute, commit them.
    ResetOffsets(ResetArgs),
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

/// Flags of `group reset-offsets`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("to").required(true).args(["to_earliest", "to_latest", "to_offset", "to_datetime"])))]
pub struct ResetArgs {
    /// Group id.
    pub group: String,
    /// Topic whose partitions to reset; repeatable.
    #[arg(long, required = true)]
    pub topic: Vec<String>,
    /// To the log start.
    #[arg(long)]
    pub to_earliest: bool,
    /// To the log end.
    #[arg(long)]
    pub to_latest: bool,
    /// To this offset (clamped into the log's range).
    #[arg(long, value_name = "N")]
    pub to_offset: Option<i64>,
    /// To the first record at or after this RFC 3339 time, e.g. 2026-11-23T10:00:00Z.
    #[arg(long, value_name = "TIME")]
    pub to_datetime: Option<String>,
    /// Only print the plan (the default).
    #[arg(long, conflicts_with = "execute")]
    pub dry_run: bool,
    /// Commit the new offsets (the group must be inactive).
    #[arg(long)]
    pub execute: bool,
}

/// Runs a group command.
pub async fn run(cmd: GroupCommand, config: ClientConfig, format: Format) -> Result<()> {
    let admin = Admin::new(config)?;
    match cmd {
        GroupCommand::List { state } => list(&admin, &state, format).await,
        GroupCommand::Describe { group, isolation } => {
            describe(&admin, &group, isolation, format).await
        }
        GroupCommand::Delete { group } => {
            admin.delete_group(&group).await?;
            let mut out = std::io::stdout().lock();
            match format {
                Format::Text => writeln!(out, "deleted group '{group}'")?,
                Format::Json => writeln!(out, "{}", json!({"group": group, "deleted": true}))?,
            }
            Ok(())
        }
        GroupCommand::ResetOffsets(args) => reset(&admin, args, format).await,
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

async fn reset(admin: &Admin, args: ResetArgs, format: Format) -> Result<()> {
    let group = args.group.as_str();
    let mut tps: Vec<TopicPartition> = Vec::new();
    for t in &args.topic {
        let desc = admin.describe_topic(t).await?;
        tps.extend(
            desc.partitions
                .iter()
                .map(|p| (t.clone(), p.metadata.partition)),
        );
    }
    let earliest = admin.list_offsets(&tps, OffsetSpec::Earliest).await?;
    let latest = admin.list_offsets(&tps, OffsetSpec::Latest).await?;
    let by_time = match &args.to_datetime {
        Some(t) => Some(
            admin
                .list_offsets(&tps, OffsetSpec::Timestamp(parse_rfc3339_ms(t)?))
                .await?,
        ),
        None => None,
    };
    let current = admin.list_group_offsets(group).await?;
    let mut plan: BTreeMap<TopicPartition, OffsetAndMetadata> = BTreeMap::new();
    for tp in &tps {
        let lo = earliest.get(tp).copied().unwrap_or(0);
        let hi = latest.get(tp).copied().unwrap_or(lo);
        let target = if args.to_earliest {
            lo
        } else if args.to_latest {
            hi
        } else if let Some(n) = args.to_offset {
            n.clamp(lo, hi)
        } else {
            // No record at or after the time: the log end, as Kafka's tool does.
            match by_time.as_ref().and_then(|m| m.get(tp)).copied() {
                Some(o) if o >= 0 => o,
                _ => hi,
            }
        };
        plan.insert(tp.clone(), OffsetAndMetadata::new(target));
    }
    if args.execute {
        let desc = admin.describe_group(group).await?;
        if !desc.members.is_empty() {
            bail!(
                "group '{group}' has {} active member(s); it must be inactive (stop its consumers) to reset offsets",
                desc.members.len()
            );
        }
        let results = admin.alter_group_offsets(group, plan.clone()).await?;
        let failed: Vec<String> = results
            .iter()
            .filter_map(|(tp, r)| r.as_ref().err().map(|e| format!("{}-{}: {e}", tp.0, tp.1)))
            .collect();
        if !failed.is_empty() {
            bail!("some offsets were not committed:\n{}", failed.join("\n"));
        }
    }
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            let rows: Vec<Value> = plan
                .iter()
                .map(|(tp, o)| {
                    json!({
                        "topic": tp.0,
                        "partition": tp.1,
                        "current_offset": current.get(tp).map(|c| c.offset),
                        "new_offset": o.offset,
                    })
                })
                .collect();
            writeln!(
                out,
                "{}",
                json!({"group": group, "executed": args.execute, "offsets": rows})
            )?;
        }
        Format::Text => {
            writeln!(
                out,
                "{:24} {:>9} {:>16} {:>12}",
                "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET"
            )?;
            for (tp, o) in &plan {
                writeln!(
                    out,
                    "{:24} {:>9} {:>16} {:>12}",
                    tp.0,
                    tp.1,
                    opt(current.get(tp).map(|c| c.offset)),
                    o.offset
                )?;
            }
            if args.execute {
                writeln!(out, "committed new offsets for group '{group}'")?;
            } else {
                writeln!(out, "dry run: nothing committed (use --execute to apply)")?;
            }
        }
    }
    Ok(())
}
