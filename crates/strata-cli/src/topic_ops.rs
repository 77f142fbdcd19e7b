//! `strata topic add-partitions|trim` and the internal-topic filter of `topic list`.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{bail, Result};
use clap::{ArgGroup, Args};
use serde_json::json;
use strata_client::{Admin, TopicPartition, DELETE_TO_HIGH_WATERMARK};

use crate::cli::Format;

/// Flags of `topic add-partitions`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("count").required(true).args(["num", "add"])))]
pub struct AddPartitionsArgs {
    /// Topic name.
    pub name: String,
    /// The total partition count wanted (must be more than the topic has).
    #[arg(long, value_name = "N")]
    pub num: Option<i32>,
    /// How many partitions to add to those the topic has.
    #[arg(long, value_name = "N")]
    pub add: Option<i32>,
}

/// Flags of `topic trim` (DeleteRecords).
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("which").required(true).args(["partition", "all_partitions"])))]
pub struct TrimArgs {
    /// Topic name.
    pub name: String,
    /// The partition to trim; repeatable.
    #[arg(short, long, value_name = "P")]
    pub partition: Vec<i32>,
    /// Trim every partition of the topic.
    #[arg(long)]
    pub all_partitions: bool,
    /// The new first offset: records below it are deleted. `end` deletes everything up to
    /// the high-water mark.
    #[arg(short, long, value_name = "N|end", value_parser = parse_trim_offset)]
    pub offset: i64,
}

/// Parses `--offset` of `topic trim`: `end` or a non-negative offset.
pub fn parse_trim_offset(s: &str) -> Result<i64, String> {
    if s.eq_ignore_ascii_case("end") {
        return Ok(DELETE_TO_HIGH_WATERMARK);
    }
    match s.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(format!("expected `end` or an offset >= 0, got '{s}'")),
    }
}

/// Whether `topic list` hides `name` without `--internal`: the broker's internal topics and
/// other system topics by convention (`__` prefix, the schema registry's `_schemas`).
pub fn is_internal(name: &str, flagged_internal: bool) -> bool {
    flagged_internal
        || name.starts_with("__")
        || name == "_schemas"
        || name == "__consumer_offsets"
        || name == "__transaction_state"
}

/// Runs `topic add-partitions`.
pub async fn add_partitions(admin: &Admin, a: AddPartitionsArgs, format: Format) -> Result<()> {
    let current =
        i32::try_from(admin.describe_topic(&a.name).await?.partitions.len()).unwrap_or(i32::MAX);
    let total = match (a.num, a.add) {
        (Some(n), _) => n,
        (None, Some(add)) => {
            if add <= 0 {
                bail!("--add must be at least 1, got {add}");
            }
            current.saturating_add(add)
        }
        (None, None) => bail!("give --num N (the new total) or --add N"),
    };
    if total < current {
        bail!(
            "topic '{}' has {current} partitions; --num {total} is fewer (partitions can only \
             be added, never removed)",
            a.name
        );
    }
    if total == current {
        bail!(
            "topic '{}' already has {current} partitions; --num must be more than that",
            a.name
        );
    }
    admin.create_partitions(&a.name, total).await?;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Text => writeln!(out, "topic '{}': {current} -> {total} partitions", a.name)?,
        Format::Json => writeln!(
            out,
            "{}",
            json!({"topic": a.name, "previous_partitions": current, "partitions": total})
        )?,
    }
    Ok(())
}

/// Runs `topic trim`: deletes records below the offset and prints the new low watermarks.
pub async fn trim(admin: &Admin, a: TrimArgs, format: Format) -> Result<()> {
    let desc = admin.describe_topic(&a.name).await?;
    let existing: Vec<i32> = desc
        .partitions
        .iter()
        .map(|p| p.metadata.partition)
        .collect();
    let partitions = if a.all_partitions {
        existing
    } else {
        for p in &a.partition {
            if !existing.contains(p) {
                bail!(
                    "topic '{}' has no partition {p} (it has {} partitions)",
                    a.name,
                    existing.len()
                );
            }
        }
        a.partition.clone()
    };
    let req: BTreeMap<TopicPartition, i64> = partitions
        .iter()
        .map(|p| ((a.name.clone(), *p), a.offset))
        .collect();
    let results = admin.delete_records(&req).await?;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            let rows: Vec<_> = results
                .iter()
                .map(|(tp, r)| match r {
                    Ok(lw) => json!({"topic": tp.0, "partition": tp.1, "low_watermark": lw}),
                    Err(e) => json!({"topic": tp.0, "partition": tp.1, "error": e.to_string()}),
                })
                .collect();
            writeln!(out, "{}", serde_json::Value::Array(rows))?;
        }
        Format::Text => {
            writeln!(
                out,
                "{:24} {:>9} {:>14}",
                "TOPIC", "PARTITION", "LOW-WATERMARK"
            )?;
            for (tp, r) in &results {
                match r {
                    Ok(lw) => writeln!(out, "{:24} {:>9} {:>14}", tp.0, tp.1, lw)?,
                    Err(e) => writeln!(out, "{:24} {:>9} {:>14}  {e}", tp.0, tp.1, "-")?,
                }
            }
        }
    }
    let failed = results.values().filter(|r| r.is_err()).count();
    if failed > 0 {
        bail!("{failed} partition(s) were not trimmed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_offsets() {
        assert_eq!(parse_trim_offset("end"), Ok(-1));
        assert_eq!(parse_trim_offset("12"), Ok(12));
        assert!(parse_trim_offset("-3").is_err());
        assert!(parse_trim_offset("x").is_err());
    }

    #[test]
    fn internal_names() {
        assert!(is_internal("__consumer_offsets", false));
        assert!(is_internal("_schemas", false));
        assert!(is_internal("x", true));
        assert!(!is_internal("orders", false));
        assert!(!is_internal("_orders", false));
    }
}
