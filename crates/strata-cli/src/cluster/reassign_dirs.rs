//! The `log_dirs` of a reassignment file (`"log_dirs": ["any", "/data/disk2"]`, one per
//! replica): `execute` sends AlterReplicaLogDirs to the brokers as Kafka's reassign tool
//! does, `verify` reports the log-dir moves still in progress.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::json;
use strata_client::error::codes::{NOT_LEADER_OR_FOLLOWER, REPLICA_NOT_AVAILABLE};
use strata_client::{Admin, ClientError, ReplicaDirMove};

use super::log_dirs::{locate, same_dir};
use super::reassign::Plan;
use crate::cli::Format;

/// "No preference" in a `log_dirs` list.
const ANY: &str = "any";
/// How long `execute` retries moves of replicas the reassignment has yet to create.
const CREATE_WAIT: Duration = Duration::from_secs(10);

/// One replica's move into a log dir of its broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirMove {
    /// The broker hosting the replica.
    pub broker: i32,
    /// Topic, partition and target dir.
    pub target: ReplicaDirMove,
}

/// The log-dir moves of `plan`, checked: a `log_dirs` list names one dir per replica, each
/// "any" or an absolute path.
pub fn dir_moves(plan: &Plan) -> Result<Vec<DirMove>> {
    let mut out = Vec::new();
    for p in &plan.partitions {
        let Some(dirs) = &p.log_dirs else { continue };
        if dirs.len() != p.replicas.len() {
            bail!(
                "{}-{}: log_dirs lists {} dirs for {} replicas",
                p.topic,
                p.partition,
                dirs.len(),
                p.replicas.len()
            );
        }
        for (&broker, dir) in p.replicas.iter().zip(dirs) {
            if dir == ANY {
                continue;
            }
            if !dir.starts_with('/') {
                bail!(
                    "{}-{}: log dir '{dir}' of broker {broker} is not an absolute path (or \"any\")",
                    p.topic,
                    p.partition
                );
            }
            out.push(DirMove {
                broker,
                target: ReplicaDirMove {
                    topic: p.topic.clone(),
                    partition: p.partition,
                    dir: dir.clone(),
                },
            });
        }
    }
    Ok(out)
}

/// Sends `moves` to their brokers; the result of each move, in order (a broker that
/// cannot be reached fails all its moves).
async fn send(admin: &Admin, moves: &[DirMove]) -> Vec<Result<(), ClientError>> {
    let mut by_broker: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for (i, m) in moves.iter().enumerate() {
        by_broker.entry(m.broker).or_default().push(i);
    }
    let mut results: Vec<Option<Result<(), ClientError>>> = vec![None; moves.len()];
    for (broker, idx) in by_broker {
        let targets: Vec<ReplicaDirMove> = idx.iter().map(|&i| moves[i].target.clone()).collect();
        match admin.alter_replica_log_dirs(broker, &targets).await {
            Ok(rs) => {
                for (&i, r) in idx.iter().zip(rs) {
                    results[i] = Some(r);
                }
            }
            Err(e) => {
                for &i in &idx {
                    results[i] = Some(Err(e.clone()));
                }
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(ClientError::Protocol("no result".into()))))
        .collect()
}

/// REPLICA_NOT_AVAILABLE: the broker has no replica of the partition (yet);
/// NOT_LEADER_OR_FOLLOWER: what Kafka's own brokers answer for a replica not created yet
/// (a partition they know but do not host), retried alike.
fn is_not_there_yet(r: &Result<(), ClientError>) -> bool {
    matches!(r, Err(e) if matches!(e.code(), Some(REPLICA_NOT_AVAILABLE | NOT_LEADER_OR_FOLLOWER)))
}

fn describe_move(m: &DirMove) -> String {
    format!(
        "{}-{} on broker {}",
        m.target.topic, m.target.partition, m.broker
    )
}

/// Before the reassignment: starts the moves of replicas that exist, and returns those
/// of replicas that do not exist yet (to retry with [`finish`] once it started). Any
/// other refusal fails before anything moved.
pub async fn start(admin: &Admin, moves: &[DirMove]) -> Result<Vec<DirMove>> {
    if moves.is_empty() {
        return Ok(Vec::new());
    }
    let results = send(admin, moves).await;
    let mut failed = Vec::new();
    let mut later = Vec::new();
    for (m, r) in moves.iter().zip(&results) {
        match r {
            Ok(()) => {}
            r if is_not_there_yet(r) => later.push(m.clone()),
            Err(e) => failed.push(format!("{} to {}: {e}", describe_move(m), m.target.dir)),
        }
    }
    if !failed.is_empty() {
        bail!(
            "log-dir moves refused, nothing was reassigned:\n  {}",
            failed.join("\n  ")
        );
    }
    Ok(later)
}

/// After the reassignment started: sends the moves of replicas it creates until every
/// broker took them ([`CREATE_WAIT`] at most), and reports every log-dir move. Errors
/// when any was refused.
pub async fn finish(
    admin: &Admin,
    all: &[DirMove],
    later: Vec<DirMove>,
    format: Format,
    out: &mut impl Write,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + CREATE_WAIT;
    let mut pending = later;
    let mut errors: Vec<(DirMove, String)> = Vec::new();
    while !pending.is_empty() {
        let results = send(admin, &pending).await;
        let mut again = Vec::new();
        for (m, r) in pending.into_iter().zip(results) {
            match r {
                Ok(()) => {}
                r if is_not_there_yet(&r) && tokio::time::Instant::now() < deadline => {
                    again.push(m)
                }
                Err(e) => errors.push((m, e.to_string())),
            }
        }
        pending = again;
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for m in all {
        let error = errors.iter().find(|(e, _)| e == m).map(|(_, e)| e.as_str());
        match format {
            Format::Json => writeln!(
                out,
                "{}",
                json!({"topic": m.target.topic, "partition": m.target.partition,
                       "broker": m.broker, "log_dir": m.target.dir,
                       "started": error.is_none(), "error": error})
            )?,
            Format::Text => match error {
                None => writeln!(
                    out,
                    "{}: moving to log dir {}",
                    describe_move(m),
                    m.target.dir
                )?,
                Some(e) => writeln!(out, "{}: log-dir move refused: {e}", describe_move(m))?,
            },
        }
    }
    if !errors.is_empty() {
        bail!(
            "{} of {} log-dir moves were refused",
            errors.len(),
            all.len()
        );
    }
    Ok(())
}

/// A log-dir move's state, as `verify` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveState {
    /// The replica is in its target dir, no copy left.
    Done,
    /// A future copy is being built (in the target dir, or elsewhere).
    InProgress { current: String, future: String },
    /// The broker has no replica (yet: the reassignment may still be creating it).
    Missing,
    /// The replica is in another dir and nothing moves it.
    NotMoving { current: String },
}

impl MoveState {
    fn label(&self) -> &'static str {
        match self {
            MoveState::Done => "done",
            MoveState::InProgress { .. } => "in progress",
            MoveState::Missing => "missing",
            MoveState::NotMoving { .. } => "not moving",
        }
    }
}

/// The state of a move to `target` of a replica found in `current` with a future copy
/// in `future`.
pub fn state(current: Option<String>, future: Option<String>, target: &str) -> MoveState {
    match (current, future) {
        (Some(current), Some(future)) => MoveState::InProgress { current, future },
        (None, Some(future)) => MoveState::InProgress {
            current: String::new(),
            future,
        },
        (Some(c), None) if same_dir(&c, target) => MoveState::Done,
        (Some(current), None) => MoveState::NotMoving { current },
        (None, None) => MoveState::Missing,
    }
}

/// Reports every log-dir move of the plan; returns how many are not done.
pub async fn verify(
    admin: &Admin,
    moves: &[DirMove],
    format: Format,
    out: &mut impl Write,
) -> Result<usize> {
    let mut by_broker: BTreeMap<i32, Vec<&DirMove>> = BTreeMap::new();
    for m in moves {
        by_broker.entry(m.broker).or_default().push(m);
    }
    let mut not_done = 0;
    for (broker, ms) in by_broker {
        let topics: Vec<(String, Vec<i32>)> = ms
            .iter()
            .map(|m| (m.target.topic.clone(), vec![m.target.partition]))
            .collect();
        let dirs = admin
            .describe_log_dirs(broker, Some(&topics))
            .await
            .with_context(|| format!("describing the log dirs of broker {broker}"))?;
        for m in ms {
            let (current, future) = locate(&dirs, &m.target.topic, m.target.partition);
            let s = state(current, future, &m.target.dir);
            not_done += usize::from(s != MoveState::Done);
            match format {
                Format::Json => writeln!(
                    out,
                    "{}",
                    json!({"topic": m.target.topic, "partition": m.target.partition,
                    "broker": broker, "log_dir": m.target.dir, "state": s.label(),
                    "current_log_dir": match &s {
                        MoveState::Done => Some(m.target.dir.as_str()),
                        MoveState::InProgress { current, .. }
                        | MoveState::NotMoving { current } if !current.is_empty() => Some(current.as_str()),
                        _ => None,
                    }})
                )?,
                Format::Text => {
                    let what = describe_move(m);
                    let target = &m.target.dir;
                    match &s {
                        MoveState::Done => writeln!(out, "{what}: log dir {target}: done")?,
                        MoveState::InProgress { current, future } => writeln!(
                            out,
                            "{what}: moving from {current} to {future} (target {target}): in progress"
                        )?,
                        MoveState::Missing => writeln!(
                            out,
                            "{what}: no replica on the broker yet (target log dir {target})"
                        )?,
                        MoveState::NotMoving { current } => writeln!(
                            out,
                            "{what}: in {current}, not moving to {target}"
                        )?,
                    }
                }
            }
        }
    }
    Ok(not_done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(json: &str) -> Plan {
        serde_json::from_str(json).expect("plan")
    }

    #[test]
    fn moves_come_from_dirs_other_than_any() {
        let p = plan(
            r#"{"version":1,"partitions":[
                {"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["any","/d2"]},
                {"topic":"t","partition":1,"replicas":[2]}]}"#,
        );
        let moves = dir_moves(&p).expect("valid");
        assert_eq!(
            moves,
            vec![DirMove {
                broker: 2,
                target: ReplicaDirMove {
                    topic: "t".into(),
                    partition: 0,
                    dir: "/d2".into()
                }
            }]
        );
        let short = plan(
            r#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["/d"]}]}"#,
        );
        assert!(dir_moves(&short)
            .unwrap_err()
            .to_string()
            .contains("1 dirs for 2 replicas"));
        let relative = plan(
            r#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1],"log_dirs":["d"]}]}"#,
        );
        assert!(dir_moves(&relative)
            .unwrap_err()
            .to_string()
            .contains("absolute"));
    }

    #[test]
    fn states_of_a_move() {
        let s =
            |c: Option<&str>, f: Option<&str>| state(c.map(Into::into), f.map(Into::into), "/b");
        assert_eq!(s(Some("/b/"), None), MoveState::Done);
        assert_eq!(
            s(Some("/a"), Some("/b")),
            MoveState::InProgress {
                current: "/a".into(),
                future: "/b".into()
            }
        );
        assert_eq!(s(None, None), MoveState::Missing);
        assert_eq!(
            s(Some("/a"), None),
            MoveState::NotMoving {
                current: "/a".into()
            }
        );
        assert_eq!(s(Some("/a"), None).label(), "not moving");
    }
}
