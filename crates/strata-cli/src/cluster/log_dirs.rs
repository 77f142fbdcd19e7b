//! `strata cluster log-dirs` (Kafka's `kafka-log-dirs --describe`): every broker's log
//! directories with their replicas; `cluster log-dirs move`: AlterReplicaLogDirs.

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use strata_client::{Admin, BrokerDescription, ClientConfig, LogDirDescription};

use super::log_dirs_move::{self, MoveArgs};
use crate::cli::Format;

/// Arguments of `cluster log-dirs`: the describe, unless a subcommand is given.
#[derive(Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  strata cluster log-dirs\n  strata cluster log-dirs --brokers 1,2 --topics orders,payments --format json\n  strata cluster log-dirs move --broker 1 --topic orders --partition 0 --dir /data/disk2"
)]
pub struct LogDirsArgs {
    /// Log-dir action (without one: describe).
    #[command(subcommand)]
    pub command: Option<LogDirsCommand>,
    /// Brokers to describe, comma-separated (default: every broker).
    #[arg(long, value_delimiter = ',')]
    pub brokers: Vec<i32>,
    /// Only the replicas of these topics, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub topics: Vec<String>,
}

/// Log-dir actions.
#[derive(Subcommand, Debug)]
pub enum LogDirsCommand {
    /// Move replicas of a broker into another of its log directories (the broker copies
    /// them in the background and swaps the copy in once it caught up).
    #[command(
        after_help = "Examples:\n  strata cluster log-dirs move --broker 1 --topic orders --partition 0 --dir /data/disk2\n  strata cluster log-dirs move --broker 2 --topic orders --partition 1 --partition 4 --dir /data/disk1 --wait"
    )]
    Move(MoveArgs),
}

/// Runs `cluster log-dirs` or its subcommand.
pub async fn run(args: LogDirsArgs, client: ClientConfig, format: Format) -> Result<()> {
    // One broker's answer takes at most a connection and a request.
    let limit = client.connect_timeout + client.request_timeout;
    let admin = Admin::new(client)?;
    match args.command {
        Some(LogDirsCommand::Move(m)) => log_dirs_move::move_replicas(&admin, m, format).await,
        None => describe(&admin, &args.brokers, &args.topics, limit, format).await,
    }
}

/// One broker's answer.
struct BrokerDirs {
    id: i32,
    address: String,
    fenced: bool,
    dirs: Result<Vec<LogDirDescription>, String>,
}

impl BrokerDirs {
    /// `h:9092` or `h:9092, fenced`.
    fn place(&self) -> String {
        let fenced = if self.fenced { ", fenced" } else { "" };
        format!("{}{fenced}", self.address)
    }
}

/// Whether two paths name the same directory: equal but for trailing slashes, or (when
/// this host has both, as on the broker's own host) the same after resolving links.
pub fn same_dir(a: &str, b: &str) -> bool {
    let trim = |s: &str| {
        let t = s.trim_end_matches('/');
        if t.is_empty() && s.starts_with('/') {
            "/".to_string()
        } else {
            t.to_string()
        }
    };
    if trim(a) == trim(b) {
        return true;
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// `bytes` for people: `512 B`, `1.5 KiB`, `20.0 GiB`.
pub fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v.abs() >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Every partition of `topics` (errors for an unknown one), for the request.
async fn topic_partitions(admin: &Admin, topics: &[String]) -> Result<Vec<(String, Vec<i32>)>> {
    let meta = admin.cluster_metadata().await?;
    let names: BTreeSet<&str> = topics.iter().map(String::as_str).collect();
    names
        .into_iter()
        .map(|name| {
            let t = meta
                .topics
                .iter()
                .find(|t| t.name == name)
                .with_context(|| format!("topic '{name}' does not exist"))?;
            Ok((
                name.to_string(),
                t.partitions.iter().map(|p| p.partition).collect(),
            ))
        })
        .collect()
}

async fn describe(
    admin: &Admin,
    brokers: &[i32],
    topics: &[String],
    limit: Duration,
    format: Format,
) -> Result<()> {
    let known = admin.describe_cluster().await?.brokers;
    let wanted: Vec<&BrokerDescription> = if brokers.is_empty() {
        known.iter().collect()
    } else {
        let ids: BTreeSet<i32> = brokers.iter().copied().collect();
        let mut out = Vec::new();
        for id in ids {
            match known.iter().find(|b| b.id == id) {
                Some(b) => out.push(b),
                None => bail!(
                    "broker {id} is not in the cluster (brokers: {})",
                    known
                        .iter()
                        .map(|b| b.id.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
        out
    };
    let filter = if topics.is_empty() {
        None
    } else {
        Some(topic_partitions(admin, topics).await?)
    };
    let answers = futures::future::join_all(wanted.iter().map(|b| {
        let filter = filter.as_deref();
        async move {
            let dirs =
                match tokio::time::timeout(limit, admin.describe_log_dirs(b.id, filter)).await {
                    Ok(r) => r.map_err(|e| e.to_string()),
                    Err(_) => Err(format!("no answer within {} s", limit.as_secs())),
                };
            BrokerDirs {
                id: b.id,
                address: b.address(),
                fenced: b.fenced,
                dirs,
            }
        }
    }))
    .await;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => writeln!(out, "{}", describe_json(&answers))?,
        Format::Text => out.write_all(describe_text(&answers).as_bytes())?,
    }
    let failed: Vec<String> = answers
        .iter()
        .filter_map(|b| {
            let e = b.dirs.as_ref().err()?;
            Some(format!("broker {} ({}): {e}", b.id, b.place()))
        })
        .collect();
    if !failed.is_empty() {
        bail!("cannot describe the log dirs of {}", failed.join("; "));
    }
    Ok(())
}

fn dir_json(d: &LogDirDescription) -> Value {
    let partitions: Vec<Value> = d
        .replicas
        .iter()
        .map(|r| {
            json!({"topic": r.topic, "partition": r.partition, "size": r.size,
                   "offset_lag": r.offset_lag, "is_future": r.is_future})
        })
        .collect();
    json!({
        "path": d.path,
        "error": d.error.as_ref().map(|e| e.to_string()),
        "total_bytes": d.total_bytes,
        "usable_bytes": d.usable_bytes,
        "partitions": partitions,
    })
}

fn describe_json(answers: &[BrokerDirs]) -> Value {
    let brokers: Vec<Value> = answers
        .iter()
        .map(|b| match &b.dirs {
            Ok(dirs) => json!({"broker": b.id, "address": b.address, "fenced": b.fenced,
                               "error": null,
                               "log_dirs": dirs.iter().map(dir_json).collect::<Vec<_>>()}),
            Err(e) => json!({"broker": b.id, "address": b.address, "fenced": b.fenced,
                             "error": e, "log_dirs": []}),
        })
        .collect();
    json!({ "brokers": brokers })
}

fn describe_text(answers: &[BrokerDirs]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    for (i, b) in answers.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        let _ = writeln!(s, "Broker {} ({})", b.id, b.place());
        let dirs = match &b.dirs {
            Ok(d) => d,
            Err(e) => {
                let _ = writeln!(s, "  error: {e}");
                continue;
            }
        };
        if dirs.is_empty() {
            let _ = writeln!(s, "  no log dirs reported");
        }
        for d in dirs {
            let space = match (d.total_bytes, d.usable_bytes) {
                (Some(t), Some(u)) => format!("{} usable of {}", human_bytes(u), human_bytes(t)),
                _ => "space unknown".to_string(),
            };
            let size: i64 = d
                .replicas
                .iter()
                .filter(|r| !r.is_future)
                .map(|r| r.size)
                .sum();
            let _ = writeln!(
                s,
                "  {}  ({space}; {} replicas, {})",
                d.path,
                d.replicas.len(),
                human_bytes(size)
            );
            if let Some(e) = &d.error {
                let _ = writeln!(s, "    error: {e}");
            }
            if d.replicas.is_empty() {
                continue;
            }
            let _ = writeln!(
                s,
                "    {:<40} {:>14} {:>12}  FUTURE",
                "PARTITION", "SIZE", "OFFSET LAG"
            );
            for r in &d.replicas {
                let _ = writeln!(
                    s,
                    "    {:<40} {:>14} {:>12}  {}",
                    format!("{}-{}", r.topic, r.partition),
                    r.size,
                    r.offset_lag,
                    if r.is_future { "yes" } else { "no" }
                );
            }
        }
    }
    s
}

/// Where broker `broker`'s replica of `topic`-`partition` is: (its dir, the dir of a
/// future copy).
pub fn locate(
    dirs: &[LogDirDescription],
    topic: &str,
    partition: i32,
) -> (Option<String>, Option<String>) {
    let mut current = None;
    let mut future = None;
    for d in dirs {
        for r in d
            .replicas
            .iter()
            .filter(|r| r.topic == topic && r.partition == partition)
        {
            let slot = if r.is_future {
                &mut future
            } else {
                &mut current
            };
            *slot = Some(d.path.clone());
        }
    }
    (current, future)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use crate::cluster::ClusterCommand;
    use clap::Parser;
    use strata_client::{ClientError, ReplicaLogDir};

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("strata").chain(args.iter().copied()))
    }

    fn log_dirs(cli: Cli) -> LogDirsArgs {
        match cli.command {
            Command::Cluster {
                command: ClusterCommand::LogDirs(a),
            } => a,
            other => panic!("not log-dirs: {other:?}"),
        }
    }

    fn replica(topic: &str, partition: i32, size: i64, is_future: bool) -> ReplicaLogDir {
        ReplicaLogDir {
            topic: topic.into(),
            partition,
            size,
            offset_lag: 0,
            is_future,
        }
    }

    fn dirs() -> Vec<LogDirDescription> {
        vec![
            LogDirDescription {
                path: "/a".into(),
                error: None,
                total_bytes: Some(2_i64 << 30),
                usable_bytes: Some(1_i64 << 29),
                replicas: vec![replica("t", 0, 100, false), replica("t", 1, 50, false)],
            },
            LogDirDescription {
                path: "/b".into(),
                error: Some(ClientError::from_code(56, None, "log dir /b of broker 1")),
                total_bytes: None,
                usable_bytes: None,
                replicas: vec![replica("t", 1, 10, true)],
            },
        ]
    }

    #[test]
    fn describe_and_move_parse() {
        let a = log_dirs(
            parse(&[
                "cluster",
                "log-dirs",
                "--brokers",
                "1,2",
                "--topics",
                "a,b",
                "--format",
                "json",
            ])
            .expect("parse"),
        );
        assert!(a.command.is_none());
        assert_eq!(
            (a.brokers, a.topics),
            (vec![1, 2], vec!["a".to_string(), "b".to_string()])
        );
        let a = log_dirs(parse(&["cluster", "log-dirs"]).expect("parse"));
        assert!(a.brokers.is_empty() && a.topics.is_empty());
        let a = log_dirs(
            parse(&[
                "cluster",
                "log-dirs",
                "move",
                "--broker",
                "1",
                "--topic",
                "t",
                "--partition",
                "0",
                "--partition",
                "3",
                "--dir",
                "/d",
                "--format",
                "json",
            ])
            .expect("parse"),
        );
        let Some(LogDirsCommand::Move(m)) = a.command else {
            panic!("not move");
        };
        assert_eq!(
            (m.broker, m.topic.as_str(), m.partition, m.dir.as_str()),
            (1, "t", vec![0, 3], "/d")
        );
        assert!(!m.wait);
        // A move needs all of broker, topic, partition and dir; describe flags do not mix in.
        assert!(parse(&[
            "cluster", "log-dirs", "move", "--broker", "1", "--topic", "t", "--dir", "/d"
        ])
        .is_err());
        assert!(parse(&[
            "cluster",
            "log-dirs",
            "move",
            "--broker",
            "1",
            "--topic",
            "t",
            "--partition",
            "-1",
            "--dir",
            "/d"
        ])
        .is_err());
        assert!(parse(&[
            "cluster",
            "log-dirs",
            "--brokers",
            "1",
            "move",
            "--broker",
            "1"
        ])
        .is_err());
        assert!(parse(&[
            "cluster",
            "log-dirs",
            "move",
            "--broker",
            "1",
            "--topic",
            "t",
            "--partition",
            "0",
            "--dir",
            "/d",
            "--timeout",
            "5"
        ])
        .is_err());
    }

    #[test]
    fn json_lists_every_dir_and_the_broker_errors() {
        let answers = vec![
            BrokerDirs {
                id: 1,
                address: "h:1".into(),
                fenced: false,
                dirs: Ok(dirs()),
            },
            BrokerDirs {
                id: 2,
                address: "h:2".into(),
                fenced: true,
                dirs: Err("cannot connect to h:2: connection refused".into()),
            },
        ];
        let v = describe_json(&answers);
        let b1 = &v["brokers"][0];
        assert_eq!(b1["broker"], 1);
        assert_eq!(b1["error"], Value::Null);
        assert_eq!(b1["log_dirs"][0]["path"], "/a");
        assert_eq!(b1["log_dirs"][0]["total_bytes"], 2_i64 << 30);
        assert_eq!(
            b1["log_dirs"][0]["partitions"][1],
            json!({"topic": "t", "partition": 1, "size": 50, "offset_lag": 0, "is_future": false})
        );
        assert_eq!(b1["log_dirs"][1]["usable_bytes"], Value::Null);
        assert!(b1["log_dirs"][1]["error"]
            .as_str()
            .expect("error")
            .contains("KAFKA_STORAGE_ERROR"));
        assert_eq!(b1["log_dirs"][1]["partitions"][0]["is_future"], true);
        assert!(v["brokers"][1]["error"]
            .as_str()
            .expect("error")
            .contains("refused"));
    }

    #[test]
    fn text_shows_space_replicas_and_errors() {
        let answers = vec![
            BrokerDirs {
                id: 1,
                address: "h:1".into(),
                fenced: false,
                dirs: Ok(dirs()),
            },
            BrokerDirs {
                id: 2,
                address: "h:2".into(),
                fenced: true,
                dirs: Err("timed out".into()),
            },
        ];
        let text = describe_text(&answers);
        assert!(text.contains("Broker 1 (h:1)"), "{text}");
        assert!(
            text.contains("/a  (512.0 MiB usable of 2.0 GiB; 2 replicas, 150 B)"),
            "{text}"
        );
        assert!(
            text.contains("/b  (space unknown; 1 replicas, 0 B)"),
            "{text}"
        );
        assert!(text.contains("KAFKA_STORAGE_ERROR"), "{text}");
        let row = text
            .lines()
            .find(|l| l.contains("t-1") && l.contains("yes"))
            .expect("future row");
        assert!(row.contains(" 10 "), "{row}");
        assert!(
            text.contains("Broker 2 (h:2, fenced)\n  error: timed out"),
            "{text}"
        );
    }

    #[test]
    fn locating_replicas_and_comparing_paths() {
        let d = dirs();
        assert_eq!(locate(&d, "t", 1), (Some("/a".into()), Some("/b".into())));
        assert_eq!(locate(&d, "t", 0), (Some("/a".into()), None));
        assert_eq!(locate(&d, "u", 0), (None, None));
        assert!(same_dir("/data/b/", "/data/b"));
        assert!(same_dir("/", "//"));
        assert!(!same_dir("/data/b", "/data/bb"));
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
