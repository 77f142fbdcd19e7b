//! `strata cluster elect-leaders` (Kafka's `kafka-leader-election`) and
//! `strata cluster quorum` (`kafka-metadata-quorum describe`).

use std::io::Write;

use anyhow::{bail, Result};
use clap::{ArgGroup, Args, ValueEnum};
use serde_json::json;
use strata_client::error::codes::ELECTION_NOT_NEEDED;
use strata_client::{Admin, ClientConfig, ClientError, ElectionKind, QuorumReplica};

use crate::cli::Format;

/// Election types.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElectionTypeArg {
    /// Move leadership back to each partition's first replica, if it is in the ISR.
    Preferred,
    /// Give a leaderless partition any live replica, even one outside the ISR (records
    /// acknowledged by the lost replicas may be lost).
    Unclean,
}

/// Arguments of `cluster elect-leaders`.
#[derive(Args, Debug)]
#[command(
    group(ArgGroup::new("target").required(true).args(["topic", "all"])),
    after_help = "Examples:\n  strata cluster elect-leaders --topic orders --partition 0 --partition 3\n  strata cluster elect-leaders --all\n  strata cluster elect-leaders --type unclean --topic orders --partition 2 --format json"
)]
pub struct ElectArgs {
    /// Election type.
    #[arg(long = "type", value_enum, default_value = "preferred")]
    pub kind: ElectionTypeArg,
    /// Topic to elect leaders for (all its partitions unless --partition is given).
    #[arg(long)]
    pub topic: Option<String>,
    /// A partition of --topic (repeatable).
    #[arg(long, requires = "topic")]
    pub partition: Vec<i32>,
    /// Every partition of every topic.
    #[arg(long, conflicts_with_all = ["topic", "partition"])]
    pub all: bool,
}

/// Runs `cluster elect-leaders`: exits with an error when any election failed for a
/// reason other than not being needed.
pub async fn run(args: ElectArgs, client: ClientConfig, format: Format) -> Result<()> {
    let admin = Admin::new(client)?;
    let partitions: Option<Vec<(String, i32)>> = match (&args.topic, args.all) {
        (Some(topic), _) if !args.partition.is_empty() => {
            Some(args.partition.iter().map(|&p| (topic.clone(), p)).collect())
        }
        (Some(topic), _) => {
            let t = admin.describe_topic(topic).await?;
            let parts = t.partitions.iter().map(|p| p.metadata.partition);
            Some(parts.map(|p| (topic.clone(), p)).collect())
        }
        (None, _) => None,
    };
    let kind = match args.kind {
        ElectionTypeArg::Preferred => ElectionKind::Preferred,
        ElectionTypeArg::Unclean => ElectionKind::Unclean,
    };
    let results = admin.elect_leaders(kind, partitions.as_deref()).await?;
    let kind_name = match args.kind {
        ElectionTypeArg::Preferred => "preferred",
        ElectionTypeArg::Unclean => "unclean",
    };
    let mut failed = 0;
    let mut out = std::io::stdout().lock();
    let mut rows = Vec::with_capacity(results.len());
    for r in &results {
        let error = r.result.as_ref().err();
        // ELECTION_NOT_NEEDED is reported, not a failure.
        let not_needed =
            matches!(error, Some(ClientError::Kafka { code, .. }) if *code == ELECTION_NOT_NEEDED);
        if error.is_some() && !not_needed {
            failed += 1;
        }
        match format {
            Format::Json => rows.push(json!({
                "topic": r.topic,
                "partition": r.partition,
                "error": error.map(|e| e.to_string()),
            })),
            Format::Text => match error {
                None => writeln!(out, "{}-{}: leader elected", r.topic, r.partition)?,
                Some(e) => writeln!(out, "{}-{}: {e}", r.topic, r.partition)?,
            },
        }
    }
    match format {
        Format::Json => writeln!(
            out,
            "{}",
            json!({"election_type": kind_name, "results": rows})
        )?,
        Format::Text if results.is_empty() => writeln!(out, "no election needed")?,
        Format::Text => {}
    }
    if failed > 0 {
        bail!("{failed} of {} elections failed", results.len());
    }
    Ok(())
}

/// Runs `cluster quorum`: the metadata quorum's leader, epoch, high watermark, voters
/// and observers.
pub async fn quorum(client: ClientConfig, format: Format) -> Result<()> {
    let admin = Admin::new(client)?;
    let q = admin.describe_quorum().await?;
    let mut out = std::io::stdout().lock();
    let replica = |r: &QuorumReplica| {
        json!({
            "id": r.id,
            "log_end_offset": r.log_end_offset,
            "lag": (q.high_watermark - r.log_end_offset).max(0),
            "last_fetch_timestamp": r.last_fetch_timestamp,
            "last_caught_up_timestamp": r.last_caught_up_timestamp,
        })
    };
    match format {
        Format::Json => writeln!(
            out,
            "{}",
            json!({
                "leader": q.leader,
                "leader_epoch": q.leader_epoch,
                "high_watermark": q.high_watermark,
                "voters": q.voters.iter().map(replica).collect::<Vec<_>>(),
                "observers": q.observers.iter().map(replica).collect::<Vec<_>>(),
            })
        )?,
        Format::Text => {
            writeln!(out, "leader:          {}", q.leader)?;
            writeln!(out, "leader epoch:    {}", q.leader_epoch)?;
            writeln!(out, "high watermark:  {}", q.high_watermark)?;
            writeln!(
                out,
                "{:<8} {:<10} {:>14} {:>8}",
                "NODE", "ROLE", "LOG END", "LAG"
            )?;
            let rows = q.voters.iter().map(|r| (r, "voter"));
            for (r, role) in rows.chain(q.observers.iter().map(|r| (r, "observer"))) {
                let role = if r.id == q.leader { "leader" } else { role };
                let lag = (q.high_watermark - r.log_end_offset).max(0);
                writeln!(
                    out,
                    "{:<8} {:<10} {:>14} {:>8}",
                    r.id, role, r.log_end_offset, lag
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use crate::cluster::ClusterCommand;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("strata").chain(args.iter().copied()))
    }

    #[test]
    fn elect_leaders_needs_a_topic_or_all() {
        let cli = parse(&[
            "cluster",
            "elect-leaders",
            "--type",
            "unclean",
            "--topic",
            "t",
            "--partition",
            "1",
            "--partition",
            "4",
        ])
        .expect("parse");
        let Command::Cluster {
            command: ClusterCommand::ElectLeaders(a),
        } = cli.command
        else {
            panic!("not elect-leaders");
        };
        assert_eq!(a.kind, super::ElectionTypeArg::Unclean);
        assert_eq!((a.topic.as_deref(), a.partition), (Some("t"), vec![1, 4]));
        assert!(parse(&["cluster", "elect-leaders", "--all"]).is_ok());
        assert!(parse(&["cluster", "elect-leaders"]).is_err());
        assert!(parse(&["cluster", "elect-leaders", "--partition", "1"]).is_err());
        assert!(parse(&["cluster", "elect-leaders", "--all", "--topic", "t"]).is_err());
        assert!(parse(&["cluster", "elect-leaders", "--all", "--type", "x"]).is_err());
        assert!(parse(&["cluster", "quorum"]).is_ok());
    }
}
