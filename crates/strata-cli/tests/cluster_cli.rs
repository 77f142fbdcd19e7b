//! End-to-end tests of `strata cluster up` (real child `strata server` processes) and
//! `strata cluster info` against the cluster it starts.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{free_port, run_cli, strata_bin};
use serde_json::Value;

/// How long a cluster may take to become ready (two shared cores, parallel tests).
const READY: Duration = Duration::from_secs(90);

/// A running `strata cluster up --format json`.
struct Up {
    child: Child,
    stdout: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Up {
    fn start(dir: &Path, extra: &[&str]) -> Up {
        let mut child = Command::new(strata_bin())
            .args(["cluster", "up", "--format", "json", "--dir"])
            .arg(dir)
            .args(["--ready-timeout", "80"])
            .args(extra)
            .env_remove("STRATA_BOOTSTRAP")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn strata cluster up");
        let (tx, stdout) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        Up {
            child,
            stdout,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The next JSON line on stdout (the summary once the cluster is ready, then events).
    fn next_json(&mut self, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            match self.stdout.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    return serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}"))
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.wait(Duration::from_secs(10));
                    panic!(
                        "cluster up ended ({status:?}) without output\nstderr:\n{}",
                        self.stderr()
                    );
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // The process may exit right after its last line: the reader thread
                // forwards what is still in the pipe, then disconnects.
                if let Ok(line) = self.stdout.recv_timeout(Duration::from_secs(5)) {
                    return serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}"));
                }
                panic!(
                    "cluster up exited with {status}\nstderr:\n{}",
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no output from cluster up within {within:?}\nstderr:\n{}",
                self.stderr()
            );
        }
    }

    fn signal(&self, sig: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits");
        // SAFETY: kill(2) with plain integers; the child is not reaped yet.
        unsafe {
            libc::kill(pid, sig);
        }
    }

    fn wait(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// SIGTERM, as Ctrl-C would; returns the exit status.
    fn terminate(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        match self.wait(Duration::from_secs(60)) {
            Some(s) => s,
            None => panic!(
                "cluster up did not exit within 60 s of SIGTERM\nstderr:\n{}",
                self.stderr()
            ),
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SIGTERM so `up` stops its nodes; SIGKILL only if it does not.
            self.signal(libc::SIGTERM);
            if self.wait(Duration::from_secs(30)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

fn process_exists(pid: u64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn cli_json(args: &[&str]) -> Value {
    let out = run_cli(args, "");
    assert!(
        out.status.success(),
        "strata {args:?} failed: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("bad JSON {text:?}: {e}"))
}

/// Like [`cli_json`], `None` when the command fails (e.g. metadata not propagated yet).
fn try_cli_json(args: &[&str]) -> Option<Value> {
    let out = run_cli(args, "");
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

fn cli_ok(args: &[&str]) -> String {
    let out = run_cli(args, "");
    assert!(
        out.status.success(),
        "strata {args:?} failed: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `check` until it returns `Some`, failing with `what` after `within`.
fn eventually<T>(within: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn node(info: &Value, id: i64) -> &Value {
    info["nodes"]
        .as_array()
        .and_then(|ns| ns.iter().find(|n| n["id"] == id))
        .unwrap_or_else(|| panic!("node {id} not in {info}"))
}

#[test]
fn one_node_up_then_info_shows_it_as_controller_leading_its_partitions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut up = Up::start(dir.path(), &["--nodes", "1"]);
    let summary = up.next_json(READY);
    let bootstrap = summary["bootstrap"]
        .as_str()
        .expect("bootstrap")
        .to_string();
    let nodes = summary["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 1);
    let n1 = &nodes[0];
    assert_eq!(n1["id"], 1);
    assert_eq!(n1["kafka"], bootstrap.as_str());
    assert_eq!(summary["controller"], 1);
    assert_eq!(summary["reused"], false);
    let data_dir = dir.path().join("node-1").join("data");
    assert_eq!(n1["data_dir"], data_dir.display().to_string().as_str());
    assert!(data_dir.is_dir(), "the node keeps its data under node-1/");
    let pid = n1["pid"].as_u64().expect("pid");
    assert!(process_exists(pid), "the server process runs");
    // The chosen ports are stored for the next run.
    let stored: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("cluster.json")).expect("cluster.json"),
    )
    .expect("cluster.json is JSON");
    assert_eq!(stored["nodes"][0]["kafka"], n1["kafka"]);
    assert_eq!(stored["nodes"][0]["http"], n1["http"]);

    cli_ok(&[
        "-b",
        &bootstrap,
        "topic",
        "create",
        "spread",
        "--partitions",
        "4",
    ]);
    let info = cli_json(&["-b", &bootstrap, "cluster", "info", "--format", "json"]);
    assert_eq!(info["controller"], 1);
    let listed = info["nodes"].as_array().expect("nodes");
    assert_eq!(listed.len(), 1, "{info}");
    let me = node(&info, 1);
    assert_eq!(me["address"], bootstrap.as_str());
    assert_eq!(me["controller"], true);
    assert_eq!(me["live"], true);
    assert_eq!(me["reachable"], true);
    // Every partition of every topic (internal ones included) is led and hosted here.
    let topics = cli_json(&["-b", &bootstrap, "topic", "list", "--format", "json"]);
    let total: u64 = topics
        .as_array()
        .expect("topic list")
        .iter()
        .map(|t| t["partitions"].as_u64().expect("partitions"))
        .sum();
    assert!(total >= 4, "{topics}");
    assert_eq!(info["partitions"], total);
    assert_eq!(me["leader_partitions"], total);
    assert_eq!(me["replica_partitions"], total);
    assert_eq!(info["under_replicated"], serde_json::json!([]));
    assert_eq!(info["offline"], serde_json::json!([]));

    let text = cli_ok(&["-b", &bootstrap, "cluster", "info"]);
    assert!(text.contains("Controller: 1"), "{text}");
    assert!(text.contains("Under-replicated partitions: none"), "{text}");
    assert!(text.contains(&bootstrap), "{text}");

    let status = up.terminate();
    assert!(status.success(), "{status}\nstderr:\n{}", up.stderr());
    assert!(
        !process_exists(pid),
        "the node was stopped with the cluster"
    );
    let err = up.stderr();
    assert!(err.contains("node 1: stopped (exit status: 0)"), "{err}");
}

#[test]
fn up_again_on_the_same_dir_reuses_ports_and_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut up = Up::start(dir.path(), &["--nodes", "1"]);
    let first = up.next_json(READY);
    let bootstrap = first["bootstrap"].as_str().expect("bootstrap").to_string();
    cli_ok(&[
        "-b",
        &bootstrap,
        "topic",
        "create",
        "kept",
        "--partitions",
        "2",
    ]);
    assert!(up.terminate().success(), "{}", up.stderr());

    // No --nodes: the stored layout decides.
    let mut again = Up::start(dir.path(), &[]);
    let second = again.next_json(READY);
    assert_eq!(second["reused"], true);
    assert_eq!(second["bootstrap"], first["bootstrap"]);
    assert_eq!(second["nodes"][0]["http"], first["nodes"][0]["http"]);
    assert_ne!(second["nodes"][0]["pid"], first["nodes"][0]["pid"]);
    let topics = cli_ok(&["-b", &bootstrap, "topic", "list"]);
    assert!(topics.lines().any(|l| l == "kept"), "{topics}");
    assert!(again.terminate().success(), "{}", again.stderr());

    // A different node count for the same directory is refused, naming the stored one.
    let out = run_cli(
        &[
            "cluster",
            "up",
            "--nodes",
            "2",
            "--dir",
            &dir.path().display().to_string(),
        ],
        "",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1-node cluster"), "{err}");
}

#[test]
fn a_node_that_dies_is_reported_with_its_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut up = Up::start(dir.path(), &["--nodes", "1"]);
    let summary = up.next_json(READY);
    let pid = summary["nodes"][0]["pid"].as_u64().expect("pid");
    let pid_t = libc::pid_t::try_from(pid).expect("pid fits");
    // SAFETY: kill(2) with plain integers; the pid is our grandchild, still unreaped by `up`.
    unsafe {
        libc::kill(pid_t, libc::SIGKILL);
    }
    let event = up.next_json(Duration::from_secs(30));
    assert_eq!(event["event"], "node_exited");
    assert_eq!(event["id"], 1);
    assert_eq!(event["pid"], pid);
    assert_eq!(event["signal"], libc::SIGKILL);
    // With no node left, `up` gives up with an error.
    let status = up.wait(Duration::from_secs(30)).expect("up exits");
    assert!(!status.success());
    let err = up.stderr();
    assert!(
        err.contains(&format!("node 1 (pid {pid}) exited: signal: 9")),
        "{err}"
    );
    assert!(
        err.contains("--- last") && err.contains("server.log"),
        "log tail shown: {err}"
    );
    assert!(err.contains("every node has exited"), "{err}");
}

#[test]
fn a_node_that_cannot_start_fails_up_with_its_log_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run_cli(
        &[
            "cluster",
            "up",
            "--nodes",
            "1",
            "--dir",
            &dir.path().display().to_string(),
            "--set",
            "no.such.setting=1",
        ],
        "",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("node 1 exited during start-up"), "{err}");
    // The server's own complaint, from node-1/server.log.
    assert!(err.contains("no.such.setting"), "{err}");
    assert!(err.contains("node-1/server.log"), "{err}");
}

#[test]
fn up_refuses_a_port_in_use_naming_the_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Hold what would be node 1's HTTP port (base + 200).
    let holder = eventually(Duration::from_secs(10), "a free port block", || {
        let base = free_port();
        if !(1024..=65000).contains(&base) {
            return None;
        }
        std::net::TcpListener::bind(("127.0.0.1", base + 200))
            .ok()
            .map(|l| (base, l))
    });
    let (base, _listener) = holder;
    let out = run_cli(
        &[
            "cluster",
            "up",
            "--nodes",
            "1",
            "--dir",
            &dir.path().display().to_string(),
            "--base-port",
            &base.to_string(),
        ],
        "",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "node 1 cannot use its HTTP address 127.0.0.1:{}",
            base + 200
        )),
        "{err}"
    );
}

#[test]
fn info_against_an_unreachable_broker_is_a_clear_error() {
    let addr = format!("127.0.0.1:{}", free_port());
    let out = run_cli(&["-b", &addr, "cluster", "info"], "");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&addr), "{err}");
    assert!(err.contains("cannot"), "{err}");
    assert!(out.stdout.is_empty());
}

/// Three nodes, each a controller and a broker: all register, one is the controller, a
/// replication-factor-3 topic spreads its leaders, and a killed node shows up as not live
/// while `up` keeps the others running.
#[test]
fn three_node_cluster_spreads_replicas_and_survives_a_dead_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut up = Up::start(dir.path(), &["--nodes", "3", "--rack-per-node"]);
    let summary = up.next_json(READY);
    let bootstrap = summary["bootstrap"]
        .as_str()
        .expect("bootstrap")
        .to_string();
    assert_eq!(summary["nodes"].as_array().map(Vec::len), Some(3));

    let info = cli_json(&["-b", &bootstrap, "cluster", "info", "--format", "json"]);
    let controller = info["controller"].as_i64().expect("controller id");
    assert!((1..=3).contains(&controller), "{info}");
    for id in 1..=3 {
        let n = node(&info, id);
        assert_eq!(n["live"], true, "{info}");
        assert_eq!(n["reachable"], true, "{info}");
        assert_eq!(n["rack"], format!("rack-{id}").as_str(), "{info}");
        assert_eq!(n["controller"], id == controller, "{info}");
    }

    cli_ok(&[
        "-b",
        &bootstrap,
        "topic",
        "create",
        "r3",
        "--partitions",
        "6",
        "--replication-factor",
        "3",
    ]);
    let described = eventually(READY, "6 partitions with 3 in-sync replicas", || {
        // A node learns of the new topic when it applies the metadata record.
        let d = try_cli_json(&[
            "-b", &bootstrap, "topic", "describe", "r3", "--format", "json",
        ])?;
        let parts = d["partitions"].as_array()?.clone();
        let full = parts.len() == 6
            && parts.iter().all(|p| {
                p["leader"].as_i64().is_some_and(|l| l > 0)
                    && p["isr"].as_array().map(Vec::len) == Some(3)
            });
        full.then_some(parts)
    });
    let mut leaders: Vec<i64> = described
        .iter()
        .filter_map(|p| p["leader"].as_i64())
        .collect();
    leaders.sort_unstable();
    leaders.dedup();
    assert_eq!(leaders, vec![1, 2, 3], "leaders spread: {described:?}");
    let info = cli_json(&["-b", &bootstrap, "cluster", "info", "--format", "json"]);
    for id in 1..=3 {
        let n = node(&info, id);
        assert!(n["leader_partitions"].as_u64() >= Some(1), "{info}");
        assert!(n["replica_partitions"].as_u64() >= Some(6), "{info}");
    }

    // Kill a node that is not the controller; `up` reports it and keeps the rest.
    let victim = (1..=3).find(|id| *id != controller).expect("a follower");
    let victim_pid = summary["nodes"][usize::try_from(victim - 1).expect("index")]["pid"]
        .as_u64()
        .expect("pid");
    let victim_pid_t = libc::pid_t::try_from(victim_pid).expect("pid fits");
    // SAFETY: kill(2) with plain integers; the node is unreaped by `up`.
    unsafe {
        libc::kill(victim_pid_t, libc::SIGKILL);
    }
    let event = up.next_json(Duration::from_secs(30));
    assert_eq!(event["event"], "node_exited");
    assert_eq!(event["id"], victim);
    let alive: String = summary["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|n| n["id"] != victim)
        .map(|n| n["kafka"].as_str().expect("kafka").to_string())
        .collect::<Vec<_>>()
        .join(",");
    let after = eventually(READY, "the dead node to drop out", || {
        // Fails (unreachable broker) while the dead node is still listed as live.
        let i = try_cli_json(&["-b", &alive, "cluster", "info", "--format", "json"])?;
        let dead = node(&i, victim);
        (dead["live"] == false && !i["under_replicated"].as_array()?.is_empty()).then_some(i)
    });
    assert_eq!(node(&after, controller)["live"], true, "{after}");
    assert!(
        up.child.try_wait().expect("try_wait").is_none(),
        "up keeps running"
    );
    for n in summary["nodes"].as_array().expect("nodes") {
        if n["id"] != victim {
            assert!(process_exists(n["pid"].as_u64().expect("pid")));
        }
    }
    let status = up.terminate();
    assert!(status.success(), "{status}\nstderr:\n{}", up.stderr());
}
