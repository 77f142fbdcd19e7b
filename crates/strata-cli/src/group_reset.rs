//! `strata group reset-offsets` and `strata group offset-delete`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use anyhow::{bail, Result};
use clap::{ArgGroup, Args};
use serde_json::{json, Value};
use strata_client::error::codes::GROUP_ID_NOT_FOUND;
use strata_client::{Admin, OffsetAndMetadata, OffsetSpec, TopicPartition};

use crate::cli::Format;
use crate::datetime::parse_rfc3339_ms;
use crate::duration::parse_duration_ms;

/// Flags of `group reset-offsets`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("to").required(true).args([
    "to_earliest", "to_latest", "to_offset", "to_datetime", "to_current", "shift_by", "by_duration"
])))]
#[command(group(ArgGroup::new("scope").required(true).args(["topic", "all_topics"])))]
pub struct ResetArgs {
    /// Group id(s); each gets the same reset.
    #[arg(required = true, value_name = "GROUP")]
    pub groups: Vec<String>,
    /// Topic whose partitions to reset; repeatable.
    #[arg(long)]
    pub topic: Vec<String>,
    /// Every topic the group has committed offsets for.
    #[arg(long)]
    pub all_topics: bool,
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
    /// To the committed offset itself (clamped into the log's range; the log end where
    /// nothing is committed).
    #[arg(long)]
    pub to_current: bool,
    /// Move the committed offset by N (negative: back), clamped into the log's range.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub shift_by: Option<i64>,
    /// To the first record at or after now minus this duration (PT10M, 10m, 1h30m, 2d).
    #[arg(long, value_name = "DURATION")]
    pub by_duration: Option<String>,
    /// Only print the plan (the default).
    #[arg(long, conflicts_with = "execute")]
    pub dry_run: bool,
    /// Commit the new offsets (the group must be inactive).
    #[arg(long)]
    pub execute: bool,
}

/// Flags of `group offset-delete`.
#[derive(Args, Debug)]
pub struct OffsetDeleteArgs {
    /// Group id.
    pub group: String,
    /// Topic whose committed offsets to delete.
    #[arg(long, required = true)]
    pub topic: String,
    /// Only this partition; repeatable [default: every partition the group committed].
    #[arg(long, value_name = "P")]
    pub partition: Vec<i32>,
}

fn opt(v: Option<i64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// One group's plan: the committed offsets now and the new ones.
struct Plan {
    group: String,
    current: BTreeMap<TopicPartition, OffsetAndMetadata>,
    new: BTreeMap<TopicPartition, OffsetAndMetadata>,
}

async fn partitions_of(admin: &Admin, topics: &BTreeSet<String>) -> Result<Vec<TopicPartition>> {
    let mut tps = Vec::new();
    for t in topics {
        let desc = admin.describe_topic(t).await?;
        tps.extend(
            desc.partitions
                .iter()
                .map(|p| (t.clone(), p.metadata.partition)),
        );
    }
    Ok(tps)
}

async fn plan_group(admin: &Admin, group: &str, args: &ResetArgs) -> Result<Plan> {
    // A group that does not exist yet has no offsets; committing creates it.
    let current = match admin.list_group_offsets(group).await {
        Err(e) if e.code() == Some(GROUP_ID_NOT_FOUND) => BTreeMap::new(),
        r => r?,
    };
    let topics: BTreeSet<String> = if args.all_topics {
        current.keys().map(|tp| tp.0.clone()).collect()
    } else {
        args.topic.iter().cloned().collect()
    };
    if topics.is_empty() {
        bail!("group '{group}' has no committed offsets: --all-topics finds no topic (name them with --topic)");
    }
    let tps = partitions_of(admin, &topics).await?;
    let earliest = admin.list_offsets(&tps, OffsetSpec::Earliest).await?;
    let latest = admin.list_offsets(&tps, OffsetSpec::Latest).await?;
    let at_time = match (&args.to_datetime, &args.by_duration) {
        (Some(t), _) => Some(parse_rfc3339_ms(t)?),
        (None, Some(d)) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            Some(now.saturating_sub(parse_duration_ms(d)?))
        }
        (None, None) => None,
    };
    let by_time = match at_time {
        Some(ms) => Some(admin.list_offsets(&tps, OffsetSpec::Timestamp(ms)).await?),
        None => None,
    };
    let mut new = BTreeMap::new();
    let mut uncommitted = Vec::new();
    for tp in &tps {
        let lo = earliest.get(tp).copied().unwrap_or(0);
        let hi = latest.get(tp).copied().unwrap_or(lo);
        let committed = current.get(tp).map(|c| c.offset);
        let target = if args.to_earliest {
            lo
        } else if args.to_latest {
            hi
        } else if let Some(n) = args.to_offset {
            n.clamp(lo, hi)
        } else if args.to_current {
            committed.map_or(hi, |c| c.clamp(lo, hi))
        } else if let Some(n) = args.shift_by {
            match committed {
                Some(c) => c.saturating_add(n).clamp(lo, hi),
                None => {
                    uncommitted.push(format!("{}-{}", tp.0, tp.1));
                    continue;
                }
            }
        } else {
            // No record at or after the time: the log end, as Kafka's tool does.
            match by_time.as_ref().and_then(|m| m.get(tp)).copied() {
                Some(o) if o >= 0 => o,
                _ => hi,
            }
        };
        new.insert(tp.clone(), OffsetAndMetadata::new(target));
    }
    if !uncommitted.is_empty() {
        bail!(
            "group '{group}' has no committed offset to shift for {}",
            uncommitted.join(", ")
        );
    }
    Ok(Plan {
        group: group.to_string(),
        current,
        new,
    })
}

/// Runs `group reset-offsets` for each group: plans all first; with --execute checks every
/// group is inactive before committing any.
pub async fn reset(admin: &Admin, args: ResetArgs, format: Format) -> Result<()> {
    let mut plans = Vec::new();
    for g in &args.groups {
        plans.push(plan_group(admin, g, &args).await?);
    }
    if args.execute {
        for p in &plans {
            let members = match admin.describe_group(&p.group).await {
                Err(e) if e.code() == Some(GROUP_ID_NOT_FOUND) => 0,
                r => r?.members.len(),
            };
            if members > 0 {
                bail!(
                    "group '{}' has {} active member(s); it must be inactive (stop its consumers) to reset offsets; nothing was committed",
                    p.group,
                    members
                );
            }
        }
        for p in &plans {
            let results = admin.alter_group_offsets(&p.group, p.new.clone()).await?;
            let failed: Vec<String> = results
                .iter()
                .filter_map(|(tp, r)| r.as_ref().err().map(|e| format!("{}-{}: {e}", tp.0, tp.1)))
                .collect();
            if !failed.is_empty() {
                bail!(
                    "group '{}': some offsets were not committed:\n{}",
                    p.group,
                    failed.join("\n")
                );
            }
        }
    }
    let mut out = std::io::stdout().lock();
    for (i, p) in plans.iter().enumerate() {
        match format {
            Format::Json => {
                let rows: Vec<Value> = p
                    .new
                    .iter()
                    .map(|(tp, o)| {
                        json!({
                            "topic": tp.0,
                            "partition": tp.1,
                            "current_offset": p.current.get(tp).map(|c| c.offset),
                            "new_offset": o.offset,
                        })
                    })
                    .collect();
                writeln!(
                    out,
                    "{}",
                    json!({"group": p.group, "executed": args.execute, "offsets": rows})
                )?;
            }
            Format::Text => {
                if plans.len() > 1 {
                    if i > 0 {
                        writeln!(out)?;
                    }
                    writeln!(out, "Group: {}", p.group)?;
                }
                writeln!(
                    out,
                    "{:24} {:>9} {:>16} {:>12}",
                    "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET"
                )?;
                for (tp, o) in &p.new {
                    writeln!(
                        out,
                        "{:24} {:>9} {:>16} {:>12}",
                        tp.0,
                        tp.1,
                        opt(p.current.get(tp).map(|c| c.offset)),
                        o.offset
                    )?;
                }
                if args.execute {
                    writeln!(out, "committed new offsets for group '{}'", p.group)?;
                } else {
                    writeln!(out, "dry run: nothing committed (use --execute to apply)")?;
                }
            }
        }
    }
    Ok(())
}

/// Runs `group offset-delete` (OffsetDelete).
pub async fn offset_delete(admin: &Admin, args: OffsetDeleteArgs, format: Format) -> Result<()> {
    let group = args.group.as_str();
    let partitions: Vec<i32> = if args.partition.is_empty() {
        let committed = admin.list_group_offsets(group).await?;
        committed
            .keys()
            .filter(|tp| tp.0 == args.topic)
            .map(|tp| tp.1)
            .collect()
    } else {
        args.partition.clone()
    };
    if partitions.is_empty() {
        bail!(
            "group '{group}' has no committed offsets for topic '{}'",
            args.topic
        );
    }
    let results = admin
        .delete_group_offsets(group, &args.topic, &partitions)
        .await?;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            let rows: Vec<Value> = results
                .iter()
                .map(|(tp, r)| match r {
                    Ok(()) => json!({"topic": tp.0, "partition": tp.1, "deleted": true}),
                    Err(e) => json!({"topic": tp.0, "partition": tp.1, "deleted": false,
                                     "error": e.to_string()}),
                })
                .collect();
            writeln!(out, "{}", json!({"group": group, "offsets": rows}))?;
        }
        Format::Text => {
            writeln!(out, "{:24} {:>9}  STATUS", "TOPIC", "PARTITION")?;
            for (tp, r) in &results {
                match r {
                    Ok(()) => writeln!(out, "{:24} {:>9}  deleted", tp.0, tp.1)?,
                    Err(e) => writeln!(out, "{:24} {:>9}  {e}", tp.0, tp.1)?,
                }
            }
        }
    }
    let failed = results.values().filter(|r| r.is_err()).count();
    if failed > 0 {
        bail!("{failed} offset(s) of group '{group}' were not deleted");
    }
    Ok(())
}
