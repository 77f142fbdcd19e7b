//! `strata cluster reassign plan|execute|verify`: move partitions between brokers
//! (Kafka's KIP-455 reassignment, with `kafka-reassign-partitions`' JSON file format:
//! `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[2,3]}]}`; a
//! partition's `log_dirs`, one per replica, moves replicas between log dirs too:
//! `reassign_dirs.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::json;
use strata_client::{Admin, ClientConfig, ConfigOp, PartitionMove};

use super::reassign_dirs;
use crate::cli::Format;

/// Broker configs that carry the replication throttle rate (bytes/s).
const RATE_KEYS: [&str; 2] = [
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
];
/// Topic configs listing the throttled replicas.
const LEADER_REPLICAS: &str = "leader.replication.throttled.replicas";
const FOLLOWER_REPLICAS: &str = "follower.replication.throttled.replicas";
/// Most partitions one plan file may hold (the request stays a few MB).
const MAX_FILE_PARTITIONS: usize = 100_000;

/// Reassignment actions.
#[derive(Subcommand, Debug)]
pub enum ReassignCommand {
    /// Propose an assignment of the topics' partitions over the brokers (prints the
    /// reassignment JSON; with `--format json` only the proposal, ready for a file).
    #[command(
        after_help = "Example:\n  strata cluster reassign plan --topics orders,payments --brokers 1,2,3 --format json > move.json"
    )]
    Plan(PlanArgs),
    /// Start the moves a reassignment file describes.
    #[command(
        after_help = "Example:\n  strata cluster reassign execute --file move.json --throttle 10000000"
    )]
    Execute(ExecuteArgs),
    /// Report each partition of a reassignment file as done or in progress; once all are
    /// done, remove the throttles. Exits with 1 while any is in progress.
    #[command(after_help = "Example:\n  strata cluster reassign verify --file move.json")]
    Verify(FileArgs),
}

/// Arguments of `reassign plan`.
#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Topics whose partitions to place, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub topics: Vec<String>,
    /// Brokers to place them on, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub brokers: Vec<i32>,
}

/// Arguments of `reassign execute`.
#[derive(Args, Debug)]
pub struct ExecuteArgs {
    /// The reassignment JSON file.
    #[arg(long)]
    pub file: PathBuf,
    /// Limit replication of the moving partitions to this many bytes/s per broker.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub throttle: Option<u64>,
}

/// Arguments of `reassign verify`.
#[derive(Args, Debug)]
pub struct FileArgs {
    /// The reassignment JSON file.
    #[arg(long)]
    pub file: PathBuf,
}

/// Kafka's reassignment file.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Always 1.
    pub version: i32,
    /// The partitions and their target replicas.
    pub partitions: Vec<PlannedPartition>,
}

/// One partition of a reassignment file.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PlannedPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Target replicas, preferred leader first.
    pub replicas: Vec<i32>,
    /// Per replica, the absolute log dir it should be in on its broker, or "any".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_dirs: Option<Vec<String>>,
}

/// Runs a `cluster reassign` command.
pub async fn run(command: ReassignCommand, client: ClientConfig, format: Format) -> Result<()> {
    let admin = Admin::new(client)?;
    match command {
        ReassignCommand::Plan(a) => plan(&admin, a, format).await,
        ReassignCommand::Execute(a) => execute(&admin, a, format).await,
        ReassignCommand::Verify(a) => verify(&admin, a, format).await,
    }
}

/// Current replicas of every partition of `topics` (errors for an unknown topic).
async fn current(admin: &Admin, topics: &BTreeSet<&str>) -> Result<Vec<PlannedPartition>> {
    let meta = admin.cluster_metadata().await?;
    let mut out = Vec::new();
    for name in topics {
        let t = meta
            .topics
            .iter()
            .find(|t| t.name == *name)
            .with_context(|| format!("topic '{name}' does not exist"))?;
        out.extend(t.partitions.iter().map(|p| PlannedPartition {
            topic: t.name.clone(),
            partition: p.partition,
            replicas: p.replicas.clone(),
            log_dirs: None,
        }));
    }
    Ok(out)
}

/// Spreads each partition's replicas (as many as it has, at most the brokers) over
/// `brokers` round-robin, the preferred leader rotating with the partition.
pub fn propose(current: &[PlannedPartition], brokers: &[i32]) -> Vec<PlannedPartition> {
    let n = brokers.len();
    current
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let rf = p.replicas.len().clamp(1, n.max(1));
            PlannedPartition {
                topic: p.topic.clone(),
                partition: p.partition,
                replicas: (0..rf).map(|k| brokers[(i + k) % n]).collect(),
                log_dirs: None,
            }
        })
        .collect()
}

async fn plan(admin: &Admin, a: PlanArgs, format: Format) -> Result<()> {
    let brokers: Vec<i32> = a
        .brokers
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if brokers.is_empty() {
        bail!("--brokers names no broker");
    }
    let topics: BTreeSet<&str> = a.topics.iter().map(String::as_str).collect();
    let now = current(admin, &topics).await?;
    let proposed = Plan {
        version: 1,
        partitions: propose(&now, &brokers),
    };
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => writeln!(out, "{}", serde_json::to_string(&proposed)?)?,
        Format::Text => {
            let before = Plan {
                version: 1,
                partitions: now,
            };
            writeln!(out, "Current partition replica assignment")?;
            writeln!(out, "{}\n", serde_json::to_string(&before)?)?;
            writeln!(out, "Proposed partition reassignment configuration")?;
            writeln!(out, "{}", serde_json::to_string(&proposed)?)?;
        }
    }
    Ok(())
}

fn read_plan(path: &PathBuf) -> Result<Plan> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let plan: Plan = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a reassignment JSON file", path.display()))?;
    if plan.version != 1 {
        bail!("unsupported reassignment file version {}", plan.version);
    }
    if plan.partitions.is_empty() || plan.partitions.len() > MAX_FILE_PARTITIONS {
        bail!(
            "a reassignment file lists 1 to {MAX_FILE_PARTITIONS} partitions, not {}",
            plan.partitions.len()
        );
    }
    Ok(plan)
}

/// `partition:broker` pairs, comma-separated, per topic.
fn replica_list(pairs: &BTreeSet<(i32, i32)>) -> String {
    pairs
        .iter()
        .map(|(p, b)| format!("{p}:{b}"))
        .collect::<Vec<_>>()
        .join(",")
}

async fn execute(admin: &Admin, a: ExecuteArgs, format: Format) -> Result<()> {
    let plan = read_plan(&a.file)?;
    let topics: BTreeSet<&str> = plan.partitions.iter().map(|p| p.topic.as_str()).collect();
    let now = current(admin, &topics).await?;
    // Log-dir moves go first, as in Kafka's tool: a refused one stops everything, and
    // those of replicas the reassignment creates are sent again once it started.
    let dir_moves = reassign_dirs::dir_moves(&plan)?;
    let later = reassign_dirs::start(admin, &dir_moves).await?;
    if let Some(rate) = a.throttle {
        // Leaders: the current replicas; followers: the ones being added (Kafka's tool).
        let mut leaders: BTreeMap<&str, BTreeSet<(i32, i32)>> = BTreeMap::new();
        let mut followers: BTreeMap<&str, BTreeSet<(i32, i32)>> = BTreeMap::new();
        let mut brokers = BTreeSet::new();
        for p in &plan.partitions {
            let before = now
                .iter()
                .find(|c| c.topic == p.topic && c.partition == p.partition)
                .map_or(&[][..], |c| c.replicas.as_slice());
            for &b in before {
                leaders
                    .entry(&p.topic)
                    .or_default()
                    .insert((p.partition, b));
                brokers.insert(b);
            }
            for &b in p.replicas.iter().filter(|b| !before.contains(b)) {
                followers
                    .entry(&p.topic)
                    .or_default()
                    .insert((p.partition, b));
                brokers.insert(b);
            }
        }
        for b in brokers {
            let ops = RATE_KEYS
                .iter()
                .map(|k| ConfigOp::set(*k, rate.to_string()))
                .collect();
            admin
                .alter_broker_config(Some(b), ops)
                .await
                .with_context(|| format!("setting the throttle on broker {b}"))?;
        }
        for t in &topics {
            let mut ops = Vec::new();
            if let Some(l) = leaders.get(t) {
                ops.push(ConfigOp::set(LEADER_REPLICAS, replica_list(l)));
            }
            if let Some(f) = followers.get(t) {
                ops.push(ConfigOp::set(FOLLOWER_REPLICAS, replica_list(f)));
            }
            if !ops.is_empty() {
                admin
                    .alter_topic_config(t, ops)
                    .await
                    .with_context(|| format!("setting the throttled replicas of '{t}'"))?;
            }
        }
    }
    let moves: Vec<PartitionMove> = plan
        .partitions
        .iter()
        .map(|p| PartitionMove {
            topic: p.topic.clone(),
            partition: p.partition,
            replicas: Some(p.replicas.clone()),
        })
        .collect();
    let results = admin.alter_partition_reassignments(&moves).await?;
    let mut failed = 0;
    let mut out = std::io::stdout().lock();
    for (p, r) in plan.partitions.iter().zip(&results) {
        let error = r.as_ref().err().map(|e| e.to_string());
        failed += usize::from(error.is_some());
        match format {
            Format::Json => writeln!(
                out,
                "{}",
                json!({"topic": p.topic, "partition": p.partition, "replicas": p.replicas,
                       "started": error.is_none(), "error": error})
            )?,
            Format::Text => match &error {
                None => writeln!(
                    out,
                    "{}-{}: moving to {:?}",
                    p.topic, p.partition, p.replicas
                )?,
                Some(e) => writeln!(out, "{}-{}: refused: {e}", p.topic, p.partition)?,
            },
        }
    }
    let dirs = reassign_dirs::finish(admin, &dir_moves, later, format, &mut out).await;
    if failed > 0 {
        bail!("{failed} of {} moves were refused", results.len());
    }
    dirs?;
    if matches!(format, Format::Text) {
        writeln!(
            out,
            "Started {} moves; check with `strata cluster reassign verify --file {}`",
            results.len(),
            a.file.display()
        )?;
    }
    Ok(())
}

async fn verify(admin: &Admin, a: FileArgs, format: Format) -> Result<()> {
    let plan = read_plan(&a.file)?;
    let topics: BTreeSet<&str> = plan.partitions.iter().map(|p| p.topic.as_str()).collect();
    let pending = admin.list_partition_reassignments().await?;
    let now = current(admin, &topics).await?;
    let mut in_progress = 0;
    let mut out = std::io::stdout().lock();
    for p in &plan.partitions {
        let moving = pending
            .iter()
            .any(|r| r.topic == p.topic && r.partition == p.partition);
        let replicas = now
            .iter()
            .find(|c| c.topic == p.topic && c.partition == p.partition)
            .map(|c| c.replicas.clone())
            .unwrap_or_default();
        let state = if moving {
            in_progress += 1;
            "in progress"
        } else if replicas == p.replicas {
            "done"
        } else {
            "not as planned"
        };
        match format {
            Format::Json => writeln!(
                out,
                "{}",
                json!({"topic": p.topic, "partition": p.partition, "state": state,
                       "replicas": replicas, "target": p.replicas})
            )?,
            Format::Text => writeln!(
                out,
                "{}-{}: {state} (replicas {:?}, target {:?})",
                p.topic, p.partition, replicas, p.replicas
            )?,
        }
    }
    let dir_moves = reassign_dirs::dir_moves(&plan)?;
    let dirs_not_done = reassign_dirs::verify(admin, &dir_moves, format, &mut out).await?;
    if in_progress > 0 {
        bail!(
            "{in_progress} of {} partitions are still moving",
            plan.partitions.len()
        );
    }
    if dirs_not_done > 0 {
        bail!(
            "{dirs_not_done} of {} log-dir moves are not done",
            dir_moves.len()
        );
    }
    // Every move finished: the throttles go (on every broker, and on these topics).
    let brokers = admin.describe_cluster().await?.brokers;
    for b in brokers {
        let ops = RATE_KEYS.iter().map(|k| ConfigOp::delete(*k)).collect();
        admin
            .alter_broker_config(Some(b.id), ops)
            .await
            .with_context(|| format!("removing the throttle of broker {}", b.id))?;
    }
    for t in &topics {
        let ops = vec![
            ConfigOp::delete(LEADER_REPLICAS),
            ConfigOp::delete(FOLLOWER_REPLICAS),
        ];
        admin
            .alter_topic_config(t, ops)
            .await
            .with_context(|| format!("removing the throttled replicas of '{t}'"))?;
    }
    if matches!(format, Format::Text) {
        writeln!(out, "All moves are done; throttles removed")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(topic: &str, partition: i32, replicas: &[i32]) -> PlannedPartition {
        PlannedPartition {
            topic: topic.into(),
            partition,
            replicas: replicas.to_vec(),
            log_dirs: None,
        }
    }

    #[test]
    fn proposals_keep_the_replication_factor_and_rotate_leaders() {
        let now = vec![
            part("a", 0, &[1]),
            part("a", 1, &[1]),
            part("b", 0, &[1, 2]),
        ];
        let proposed = propose(&now, &[2, 3]);
        assert_eq!(
            proposed,
            vec![
                part("a", 0, &[2]),
                part("a", 1, &[3]),
                part("b", 0, &[2, 3])
            ]
        );
        // More replicas than brokers: capped at the brokers.
        assert_eq!(
            propose(&[part("c", 0, &[1, 2, 3])], &[4])[0].replicas,
            vec![4]
        );
    }

    #[test]
    fn the_file_format_is_kafkas() {
        let plan: Plan = serde_json::from_str(
            r#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[2,3],"log_dirs":["any","any"]}]}"#,
        )
        .expect("Kafka's file parses");
        let mut expected = part("t", 0, &[2, 3]);
        expected.log_dirs = Some(vec!["any".into(), "any".into()]);
        assert_eq!(plan.partitions, vec![expected]);
        // Without log dirs the file has none (Kafka's tool reads it so).
        let text = serde_json::to_string(&Plan {
            version: 1,
            partitions: vec![part("t", 0, &[2])],
        })
        .expect("json");
        assert_eq!(
            text,
            r#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[2]}]}"#
        );
        let mut pairs = BTreeSet::new();
        pairs.insert((1, 3));
        pairs.insert((0, 2));
        assert_eq!(replica_list(&pairs), "0:2,1:3");
    }
}
