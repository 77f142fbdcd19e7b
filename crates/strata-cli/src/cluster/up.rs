//! `strata cluster up`: runs N `strata server` children of this executable as a local
//! cluster (every node a controller and a broker), waits until they all serve, then
//! supervises them in the foreground until Ctrl-C or SIGTERM.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::signals::Signals;
use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;
use strata_client::{Admin, ClientConfig};
use tokio::time::Instant;

use super::layout::{self, Layout, NodeLayout};
use super::process::{log_tail, NodeProcess};
use crate::cli::Format;

/// Nodes listen on loopback: this is a development cluster on one machine.
const HOST: &str = "127.0.0.1";
/// Lines of a node's log shown in error reports.
const TAIL_LINES: usize = 30;
/// How often start-up progress is repeated while nothing changes.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Flags of `cluster up`.
#[derive(Args, Debug, Clone)]
pub struct UpArgs {
    /// Number of nodes [default: the count in <DIR>/cluster.json, else 3].
    #[arg(long)]
    pub nodes: Option<usize>,
    /// Where the nodes keep data and logs (`<DIR>/node-<ID>/`) and the chosen ports
    /// (`<DIR>/cluster.json`); running again with the same directory reuses both.
    #[arg(long, default_value = "./strata-cluster")]
    pub dir: PathBuf,
    /// Node i listens for Kafka on BASE+i-1, for the controller on BASE+100+i-1 and for HTTP
    /// on BASE+200+i-1 [default: free ports].
    #[arg(long, value_name = "BASE")]
    pub base_port: Option<u16>,
    /// Put each node in its own rack (`rack-<ID>`).
    #[arg(long)]
    pub rack_per_node: bool,
    /// Seconds to wait for every node to serve before giving up.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub ready_timeout: u64,
    /// Seconds each node gets to stop after SIGTERM before it is killed.
    #[arg(long, default_value_t = 20, value_name = "SECS")]
    pub stop_timeout: u64,
    /// A broker setting for every node, e.g. `--set num.partitions=3`; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub settings: Vec<String>,
}

/// The `strata server` arguments for one node.
pub fn server_args(
    node: &NodeLayout,
    layout: &Layout,
    data_dir: &Path,
    rack: Option<&str>,
    settings: &[String],
) -> Vec<String> {
    let mut args = vec![
        "server".to_string(),
        "--node-id".into(),
        node.id.to_string(),
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--listen".into(),
        node.kafka.clone(),
        "--http".into(),
        node.http.clone(),
        "--registry".into(),
        node.registry.clone().unwrap_or_else(|| "off".into()),
        "--controller-listen".into(),
        node.controller.clone(),
        "--voters".into(),
        layout.voters(),
    ];
    if let Some(rack) = rack {
        args.extend(["--rack".into(), rack.to_string()]);
    }
    for s in settings {
        args.extend(["--set".into(), s.clone()]);
    }
    args
}

/// Runs `cluster up` on its own single-threaded runtime (see `process::stop_with_parent`
/// for why the spawning thread matters).
pub fn run(args: UpArgs, format: Format) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(up(args, format))
}

async fn up(args: UpArgs, format: Format) -> Result<()> {
    // Signals first: a Ctrl-C while nodes start must still stop them.
    let mut signals = Signals::new()?;
    let dir = args.dir.clone();
    let (layout, reused) = layout::resolve(&dir, args.nodes, args.base_port, HOST)?;
    let n = layout.nodes.len();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    layout.check_ports_free(&dir)?;
    layout.save(&dir)?;
    let exe = std::env::current_exe().context("cannot find the strata executable")?;

    let mut nodes: Vec<NodeProcess> = Vec::with_capacity(n);
    for node in &layout.nodes {
        match start_node(&exe, node, &layout, &dir, &args) {
            Ok(p) => {
                eprintln!(
                    "node {}: started (pid {}), Kafka {}, log {}",
                    node.id,
                    p.pid,
                    node.kafka,
                    p.log.display()
                );
                nodes.push(p);
            }
            Err(e) => {
                stop_all(&mut nodes, &args, &mut signals).await;
                return Err(e);
            }
        }
    }

    let controller = match wait_ready(&mut nodes, &args, &mut signals).await {
        Ok(Some(controller)) => controller,
        Ok(None) => {
            stop_all(&mut nodes, &args, &mut signals).await;
            return Ok(());
        }
        Err(e) => {
            stop_all(&mut nodes, &args, &mut signals).await;
            return Err(e);
        }
    };
    print_summary(&layout, &nodes, &dir, reused, controller, format)?;
    eprintln!("cluster ready; press Ctrl-C to stop it");

    let outcome = supervise(&mut nodes, &mut signals, format).await;
    stop_all(&mut nodes, &args, &mut signals).await;
    outcome
}

fn start_node(
    exe: &Path,
    node: &NodeLayout,
    layout: &Layout,
    dir: &Path,
    args: &UpArgs,
) -> Result<NodeProcess> {
    let home = layout::node_dir(dir, node.id);
    std::fs::create_dir_all(&home).with_context(|| format!("cannot create {}", home.display()))?;
    let data_dir = home.join("data");
    let rack = args.rack_per_node.then(|| format!("rack-{}", node.id));
    let server = server_args(node, layout, &data_dir, rack.as_deref(), &args.settings);
    NodeProcess::spawn(exe, &server, node, data_dir, home.join("server.log"), rack)
}

/// What one round of probing found out about a node.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NodeState {
    Ready { controller: i32 },
    Waiting(String),
}

/// A node is ready when it answers ApiVersions and DescribeCluster/Metadata, knows the
/// controller and sees every node of the cluster as a broker.
async fn probe(addr: &str, ids: &[i32]) -> NodeState {
    let config = ClientConfig {
        bootstrap: vec![addr.to_string()],
        client_id: "strata-cluster-up".into(),
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(3),
        ..ClientConfig::default()
    };
    let admin = match Admin::new(config) {
        Ok(a) => a,
        Err(e) => return NodeState::Waiting(e.to_string()),
    };
    match admin.describe_cluster().await {
        Err(e) => NodeState::Waiting(e.to_string()),
        Ok(d) if d.controller < 0 => NodeState::Waiting("no controller known yet".into()),
        Ok(d) => {
            let missing: Vec<String> = ids
                .iter()
                .filter(|id| !d.brokers.iter().any(|b| b.id == **id))
                .map(i32::to_string)
                .collect();
            if missing.is_empty() {
                NodeState::Ready {
                    controller: d.controller,
                }
            } else {
                NodeState::Waiting(format!("brokers {} not registered yet", missing.join(",")))
            }
        }
    }
}

/// Waits until every node is ready: `Some(controller id)`; `None` when a signal came first.
async fn wait_ready(
    nodes: &mut [NodeProcess],
    args: &UpArgs,
    signals: &mut Signals,
) -> Result<Option<i32>> {
    let timeout = Duration::from_secs(args.ready_timeout);
    let deadline = Instant::now() + timeout;
    let ids: Vec<i32> = nodes.iter().map(|n| n.layout.id).collect();
    let mut states: BTreeMap<i32, NodeState> = BTreeMap::new();
    let mut last_progress = Instant::now();
    loop {
        for node in nodes.iter_mut() {
            if let Some(exit) = node.poll_exit() {
                bail!(
                    "node {} exited during start-up ({exit})\n{}",
                    node.layout.id,
                    node.log_tail(TAIL_LINES)
                );
            }
        }
        let round = futures::future::join_all(
            nodes
                .iter()
                .map(|n| async { (n.layout.id, probe(&n.layout.kafka, &ids).await) }),
        );
        let results = tokio::select! {
            r = round => r,
            name = signals.recv() => {
                eprintln!("{name} received during start-up; stopping the nodes");
                return Ok(None);
            }
        };
        let mut changed = false;
        for (id, state) in results {
            if states.get(&id) != Some(&state) {
                if let NodeState::Ready { controller } = &state {
                    eprintln!("node {id}: ready (controller {controller})");
                }
                states.insert(id, state);
                changed = true;
            }
        }
        let waiting: Vec<(i32, &str)> = states
            .iter()
            .filter_map(|(id, s)| match s {
                NodeState::Waiting(why) => Some((*id, why.as_str())),
                NodeState::Ready { .. } => None,
            })
            .collect();
        if waiting.is_empty() {
            return Ok(states.values().find_map(|s| match s {
                NodeState::Ready { controller } => Some(*controller),
                NodeState::Waiting(_) => None,
            }));
        }
        if Instant::now() >= deadline {
            let mut msg = String::new();
            for (id, why) in &waiting {
                let log = nodes
                    .iter()
                    .find(|n| n.layout.id == *id)
                    .map(|n| n.log_tail(TAIL_LINES))
                    .unwrap_or_default();
                msg.push_str(&format!(
                    "node {id} did not come up within {}s (last: {why})\n{log}\n",
                    timeout.as_secs()
                ));
            }
            bail!("{}", msg.trim_end());
        }
        if changed || last_progress.elapsed() >= PROGRESS_EVERY {
            let list: Vec<String> = waiting
                .iter()
                .map(|(id, why)| format!("node {id} ({why})"))
                .collect();
            eprintln!("waiting for {}", list.join(", "));
            last_progress = Instant::now();
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            name = signals.recv() => {
                eprintln!("{name} received during start-up; stopping the nodes");
                return Ok(None);
            }
        }
    }
}

fn print_summary(
    layout: &Layout,
    nodes: &[NodeProcess],
    dir: &Path,
    reused: bool,
    controller: i32,
    format: Format,
) -> Result<()> {
    let bootstrap = layout.bootstrap();
    match format {
        Format::Json => {
            let v = json!({
                "dir": dir.display().to_string(),
                "reused": reused,
                "bootstrap": bootstrap,
                "controller": controller,
                "nodes": nodes.iter().map(|n| json!({
                    "id": n.layout.id,
                    "kafka": n.layout.kafka,
                    "controller": n.layout.controller,
                    "http": n.layout.http,
                    "registry": n.layout.registry,
                    "rack": n.rack,
                    "data_dir": n.data_dir.display().to_string(),
                    "log": n.log.display().to_string(),
                    "pid": n.pid,
                })).collect::<Vec<_>>(),
            });
            println!("{v}");
        }
        Format::Text => {
            println!(
                "Strata cluster of {} node(s) in {}{}",
                nodes.len(),
                dir.display(),
                if reused { " (existing data)" } else { "" }
            );
            println!(
                "{:<5} {:<22} {:<22} {:<22} {:<8} DATA",
                "NODE", "KAFKA", "CONTROLLER", "HTTP", "PID"
            );
            for n in nodes {
                println!(
                    "{:<5} {:<22} {:<22} {:<22} {:<8} {}",
                    n.layout.id,
                    n.layout.kafka,
                    n.layout.controller,
                    n.layout.http,
                    n.pid,
                    n.data_dir.display()
                );
            }
            println!("Controller: {controller}");
            println!("Bootstrap: {bootstrap}");
        }
    }
    Ok(())
}

/// Runs until a signal; reports nodes that die on their own and keeps the others running.
async fn supervise(nodes: &mut [NodeProcess], signals: &mut Signals, format: Format) -> Result<()> {
    loop {
        tokio::select! {
            name = signals.recv() => {
                eprintln!("{name} received; stopping the cluster");
                return Ok(());
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        for node in nodes.iter_mut() {
            let Some(exit) = node.poll_exit() else {
                continue;
            };
            eprintln!(
                "node {} (pid {}) exited: {exit}; the other nodes keep running\n{}",
                node.layout.id,
                node.pid,
                node.log_tail(TAIL_LINES)
            );
            if format == Format::Json {
                println!(
                    "{}",
                    json!({
                        "event": "node_exited",
                        "id": node.layout.id,
                        "pid": node.pid,
                        "status": exit.to_string(),
                        "code": exit.code(),
                        "signal": exit.signal(),
                        "log": node.log.display().to_string(),
                    })
                );
            }
        }
        if nodes.iter().all(|n| !n.running()) {
            bail!("every node has exited; see the logs under the cluster directory");
        }
    }
}

/// SIGTERM to every running node, then waits; a node still running after the stop timeout,
/// or when a second Ctrl-C arrives, is killed.
async fn stop_all(nodes: &mut [NodeProcess], args: &UpArgs, signals: &mut Signals) {
    for node in nodes.iter_mut() {
        node.poll_exit();
        node.signal(libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(args.stop_timeout);
    let mut killed = false;
    loop {
        for node in nodes.iter_mut() {
            if let Some(exit) = node.poll_exit() {
                if exit.success() || killed {
                    eprintln!("node {}: stopped ({exit})", node.layout.id);
                } else {
                    eprintln!(
                        "node {}: stopped ({exit})\n{}",
                        node.layout.id,
                        log_tail(&node.log, TAIL_LINES)
                    );
                }
            }
        }
        if nodes.iter().all(|n| !n.running()) {
            return;
        }
        let kill_now = tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => !killed && Instant::now() >= deadline,
            name = signals.recv(), if !killed => {
                eprintln!("{name} received again; killing the nodes");
                true
            }
        };
        if kill_now {
            for node in nodes.iter().filter(|n| n.running()) {
                if Instant::now() >= deadline {
                    eprintln!(
                        "node {} did not stop within {}s of SIGTERM; killing it",
                        node.layout.id, args.stop_timeout
                    );
                }
                node.signal(libc::SIGKILL);
            }
            killed = true;
        }
    }
}

/// SIGINT and SIGTERM as one stream.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn server_args_parse_as_a_server_command() {
        let layout = Layout::plan(3, HOST, layout::PortPlan::Base(30000)).expect("plan");
        let args = server_args(
            &layout.nodes[1],
            &layout,
            Path::new("/tmp/c/node-2/data"),
            Some("rack-2"),
            &["num.partitions=3".to_string()],
        );
        let cli = Cli::try_parse_from(std::iter::once("strata".to_string()).chain(args))
            .expect("the server accepts what cluster up passes");
        let Command::Server(s) = cli.command else {
            panic!("not a server command");
        };
        assert_eq!(s.node_id, Some(2));
        assert_eq!(s.listen.as_deref(), Some("127.0.0.1:30001"));
        assert_eq!(s.http.as_deref(), Some("127.0.0.1:30201"));
        assert_eq!(s.data_dir.as_deref(), Some(Path::new("/tmp/c/node-2/data")));
        assert_eq!(s.settings, vec!["num.partitions=3"]);
        assert_eq!(s.rack.as_deref(), Some("rack-2"));
        assert_eq!(s.controller_listen.as_deref(), Some("127.0.0.1:30101"));
        assert_eq!(
            s.voters.as_deref(),
            Some("1@127.0.0.1:30100,2@127.0.0.1:30101,3@127.0.0.1:30102")
        );
    }
}
