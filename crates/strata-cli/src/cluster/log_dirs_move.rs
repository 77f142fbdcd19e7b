//! `strata cluster log-dirs move`: AlterReplicaLogDirs, and waiting for the copies.

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;
use strata_client::{Admin, ReplicaDirMove};

use super::log_dirs::{locate, same_dir};
use crate::cli::Format;

/// Arguments of `cluster log-dirs move`.
#[derive(Args, Debug)]
pub struct MoveArgs {
    /// The broker whose replicas move.
    #[arg(long)]
    pub broker: i32,
    /// Topic of the replicas.
    #[arg(long)]
    pub topic: String,
    /// A partition of --topic (repeatable).
    #[arg(long, required = true, value_parser = clap::value_parser!(i32).range(0..))]
    pub partition: Vec<i32>,
    /// Absolute path of the target directory (one of the broker's `log.dirs`).
    #[arg(long)]
    pub dir: String,
    /// Wait until every replica is in the target directory (no copy left in progress).
    #[arg(long)]
    pub wait: bool,
    /// Seconds --wait waits at most.
    #[arg(long, default_value_t = 300, requires = "wait")]
    pub timeout: u64,
}

/// Runs `cluster log-dirs move`: one AlterReplicaLogDirs to the broker, a line per
/// partition, an error naming each refused one; with `--wait`, until the copies are done.
pub async fn move_replicas(admin: &Admin, a: MoveArgs, format: Format) -> Result<()> {
    if !a.dir.starts_with('/') {
        bail!(
            "--dir must be an absolute path (one of the broker's log.dirs), not '{}'",
            a.dir
        );
    }
    let parts: Vec<i32> = a
        .partition
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let moves: Vec<ReplicaDirMove> = parts
        .iter()
        .map(|&p| ReplicaDirMove {
            topic: a.topic.clone(),
            partition: p,
            dir: a.dir.clone(),
        })
        .collect();
    let results = admin
        .alter_replica_log_dirs(a.broker, &moves)
        .await
        .with_context(|| format!("moving replicas of broker {}", a.broker))?;
    let mut out = std::io::stdout().lock();
    let mut failed = Vec::new();
    for (m, r) in moves.iter().zip(&results) {
        let error = r.as_ref().err().map(|e| e.to_string());
        match format {
            Format::Json => writeln!(
                out,
                "{}",
                json!({"broker": a.broker, "topic": m.topic, "partition": m.partition,
                       "dir": m.dir, "started": error.is_none(), "error": error})
            )?,
            Format::Text => match &error {
                None => writeln!(
                    out,
                    "{}-{} on broker {}: moving to {}",
                    m.topic, m.partition, a.broker, m.dir
                )?,
                Some(e) => writeln!(
                    out,
                    "{}-{} on broker {}: refused: {e}",
                    m.topic, m.partition, a.broker
                )?,
            },
        }
        if let Some(e) = error {
            failed.push(format!("{}-{}: {e}", m.topic, m.partition));
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} of {} moves were refused: {}",
            failed.len(),
            moves.len(),
            failed.join("; ")
        );
    }
    if a.wait {
        drop(out);
        wait_moved(admin, a.broker, &moves, Duration::from_secs(a.timeout)).await?;
        if matches!(format, Format::Text) {
            println!("All replicas are in {}", a.dir);
        }
    }
    Ok(())
}

/// Polls broker `broker`'s log dirs until every move is done (the replica in its target
/// dir, no future copy), or `timeout` passed.
async fn wait_moved(
    admin: &Admin,
    broker: i32,
    moves: &[ReplicaDirMove],
    timeout: Duration,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    let topics: Vec<(String, Vec<i32>)> = moves
        .iter()
        .map(|m| (m.topic.clone(), vec![m.partition]))
        .collect();
    loop {
        let dirs = admin
            .describe_log_dirs(broker, Some(&topics))
            .await
            .with_context(|| format!("describing the log dirs of broker {broker}"))?;
        let waiting: Vec<String> = moves
            .iter()
            .filter(|m| {
                let (current, future) = locate(&dirs, &m.topic, m.partition);
                future.is_some() || !current.is_some_and(|c| same_dir(&c, &m.dir))
            })
            .map(|m| format!("{}-{}", m.topic, m.partition))
            .collect();
        if waiting.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "still moving after {} s on broker {broker}: {}",
                timeout.as_secs(),
                waiting.join(", ")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
