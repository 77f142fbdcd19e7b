//! Test harness: runs a real `strata server` on free loopback ports with a temporary data
//! directory, and runs `strata` client commands against it.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Path of the `strata` binary built for these tests.
pub fn strata_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_strata"))
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// A running broker; killed and its data removed on drop.
pub struct Broker {
    child: Child,
    /// `127.0.0.1:PORT` of the Kafka listener.
    pub addr: String,
    dir: tempfile::TempDir,
}

impl Broker {
    /// Starts a broker and waits until its Kafka port accepts connections.
    pub fn start() -> Broker {
        let mut last_log = String::new();
        // The port is free when chosen but could be taken before the broker binds it; retry.
        for _ in 0..3 {
            match Self::try_start() {
                Ok(b) => return b,
                Err(log) => last_log = log,
            }
        }
        panic!("strata server did not start; its log:\n{last_log}");
    }

    fn try_start() -> Result<Broker, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let addr = format!("127.0.0.1:{}", free_port());
        let child = spawn_server(dir.path(), &addr)?;
        let mut broker = Broker { child, addr, dir };
        broker.wait_ready()?;
        Ok(broker)
    }

    /// Kills the broker with SIGKILL and starts it again on the same port and data.
    pub fn kill_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn_server(self.dir.path(), &self.addr).expect("respawn strata server");
        if let Err(log) = self.wait_ready() {
            panic!("strata server did not restart: {log}");
        }
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}\n{}", self.log()));
            }
            if TcpStream::connect(&self.addr).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("not listening after 30 s\n{}", self.log()))
    }

    /// The server's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The temporary directory holding data and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `strata -b <this broker> ARGS` with `stdin`, failing the test after 60 s.
    pub fn cli(&self, args: &[&str], stdin: &str) -> Output {
        let mut full = vec!["-b", self.addr.as_str()];
        full.extend_from_slice(args);
        run_cli(&full, stdin)
    }

    /// Starts `strata -b <this broker> ARGS` in the background (stdout/stderr discarded).
    pub fn spawn_cli(&self, args: &[&str]) -> Child {
        Command::new(strata_bin())
            .args(["-b", self.addr.as_str()])
            .args(args)
            .env_remove("STRATA_BOOTSTRAP")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn strata")
    }

    /// Like [`Broker::cli`] but asserts success and returns stdout.
    pub fn cli_ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.cli(args, stdin);
        assert!(
            out.status.success(),
            "strata {args:?} failed: {}\nstderr: {}\nserver log tail:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            tail(&self.log(), 40)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn spawn_server(dir: &Path, addr: &str) -> Result<Child, String> {
    let http = format!("127.0.0.1:{}", free_port());
    // Append, so a restarted server's log follows the first one's.
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .map_err(|e| e.to_string())?;
    Command::new(strata_bin())
        .args(["server", "--data-dir"])
        .arg(dir.join("data"))
        .args(["--listen", addr, "--http", &http, "--registry", "off"])
        // Groups form at once, and a small offsets topic keeps start-up quick.
        .args(["--set", "group.initial.rebalance.delay.ms=0"])
        .args(["--set", "offsets.topic.num.partitions=3"])
        .args(["--set", "group.min.session.timeout.ms=1000"])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot spawn strata: {e}"))
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs `strata ARGS` with `stdin`, killing it (and failing the test) after 60 s.
pub fn run_cli(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(strata_bin())
        .args(args)
        .env_remove("STRATA_BOOTSTRAP")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn strata");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_string();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(data.as_bytes());
    });
    // Drain pipes on threads so a chatty child never blocks on a full pipe.
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("strata {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    Output {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}
