//! One `strata server` child of `cluster up`: spawning it with its log file, signalling it,
//! noticing when it exits, and reading the tail of its log for error reports.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use anyhow::{Context, Result};

use super::layout::NodeLayout;

/// Environment variables that would give every node the same per-node setting; each node
/// gets its own values as flags instead.
const PER_NODE_ENV: [&str; 8] = [
    "STRATA_NODE_ID",
    "STRATA_LISTEN",
    "STRATA_ADVERTISE",
    "STRATA_HTTP",
    "STRATA_DATA_DIR",
    "STRATA_CONTROLLER_LISTEN",
    "STRATA_VOTERS",
    "STRATA_RACK",
];

/// A running (or exited) node.
pub struct NodeProcess {
    /// Identity and addresses.
    pub layout: NodeLayout,
    /// `--data-dir` of the server.
    pub data_dir: PathBuf,
    /// The server's stdout and stderr.
    pub log: PathBuf,
    /// `--rack`, when given.
    pub rack: Option<String>,
    /// Process id.
    pub pid: u32,
    child: tokio::process::Child,
    exited: Option<Exit>,
}

/// How a node's process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// It exited or was killed by a signal.
    Status(ExitStatus),
    /// It could not be waited for (the reason); it is treated as gone.
    Lost(String),
}

impl Exit {
    /// The exit code, when it exited normally.
    pub fn code(&self) -> Option<i32> {
        match self {
            Exit::Status(s) => s.code(),
            Exit::Lost(_) => None,
        }
    }

    /// The signal that ended it, if any.
    pub fn signal(&self) -> Option<i32> {
        match self {
            Exit::Status(s) => std::os::unix::process::ExitStatusExt::signal(s),
            Exit::Lost(_) => None,
        }
    }

    /// Exit code 0.
    pub fn success(&self) -> bool {
        self.code() == Some(0)
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Status(s) => write!(f, "{s}"),
            Exit::Lost(reason) => write!(f, "unknown exit status ({reason})"),
        }
    }
}

impl NodeProcess {
    /// Starts `exe ARGS` for `layout`, appending its output to `log`.
    pub fn spawn(
        exe: &Path,
        args: &[String],
        layout: &NodeLayout,
        data_dir: PathBuf,
        log: PathBuf,
        rack: Option<String>,
    ) -> Result<NodeProcess> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        // A restarted node's output follows the previous run's; mark where each run begins.
        writeln!(
            file,
            "----- strata cluster up: node {}: {} {}",
            layout.id,
            exe.display(),
            args.join(" ")
        )
        .with_context(|| format!("cannot write {}", log.display()))?;
        let mut cmd = std::process::Command::new(exe);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        for var in PER_NODE_ENV {
            cmd.env_remove(var);
        }
        // Own process group: a Ctrl-C at the terminal reaches only `cluster up`, which then
        // stops the nodes in order instead of all of them racing on the signal.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        stop_with_parent(&mut cmd);
        let child = tokio::process::Command::from(cmd)
            .spawn()
            .with_context(|| format!("cannot start node {} ({})", layout.id, exe.display()))?;
        let pid = child
            .id()
            .with_context(|| format!("node {} exited before it got a pid", layout.id))?;
        Ok(NodeProcess {
            layout: layout.clone(),
            data_dir,
            log,
            rack,
            pid,
            child,
            exited: None,
        })
    }

    /// Whether the process is still running (as of the last [`NodeProcess::poll_exit`]).
    pub fn running(&self) -> bool {
        self.exited.is_none()
    }

    /// Reaps the process if it has exited; returns its status only on the call that noticed.
    pub fn poll_exit(&mut self) -> Option<Exit> {
        if self.exited.is_some() {
            return None;
        }
        let exit = match self.child.try_wait() {
            Ok(Some(status)) => Exit::Status(status),
            Ok(None) => return None,
            // Should not happen for our own child; treat it as gone rather than polling it
            // forever.
            Err(e) => Exit::Lost(e.to_string()),
        };
        self.exited = Some(exit.clone());
        Some(exit)
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) unless the process has already been reaped.
    pub fn signal(&self, signal: libc::c_int) {
        // Only an unreaped child: its pid cannot have been reused by another process.
        if self.exited.is_some() {
            return;
        }
        let Ok(pid) = libc::pid_t::try_from(self.pid) else {
            return;
        };
        // SAFETY: kill(2) takes plain integers and has no memory effects.
        unsafe {
            libc::kill(pid, signal);
        }
    }

    /// The last `lines` lines of the node's log, with a header naming the file.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }
}

/// Asks the kernel to send SIGTERM to the child when `cluster up` dies, even by SIGKILL, so
/// nodes are never left running without their supervisor.
#[cfg(target_os = "linux")]
fn stop_with_parent(cmd: &mut std::process::Command) {
    // The signal fires when the *thread* that forked exits; `cluster up` spawns from the
    // thread that runs its single-threaded runtime, which lives as long as the process.
    // SAFETY: the closure runs between fork and exec and only calls prctl(2) and getppid(2),
    // which are async-signal-safe.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(cmd, || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect: then init adopted us.
            if libc::getppid() == 1 {
                return Err(std::io::Error::other("cluster up exited during spawn"));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn stop_with_parent(_cmd: &mut std::process::Command) {}

/// The last `lines` lines of the file at `path`, with a header naming it.
pub fn log_tail(path: &Path, lines: usize) -> String {
    // Logs can grow large; the tail lives in the last few KiB.
    const WINDOW: u64 = 64 * 1024;
    let read = || -> std::io::Result<String> {
        let mut f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(WINDOW)))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            let tail = &all[all.len().saturating_sub(lines)..];
            format!(
                "--- last {} lines of {} ---\n{}",
                tail.len(),
                path.display(),
                tail.join("\n")
            )
        }
        Err(e) => format!("--- no log at {}: {e} ---", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("server.log");
        let text: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).expect("write");
        let tail = log_tail(&path, 3);
        assert!(tail.starts_with("--- last 3 lines of "), "{tail}");
        assert!(tail.ends_with("line 98\nline 99\nline 100"), "{tail}");
        let missing = log_tail(&dir.path().join("nope.log"), 3);
        assert!(missing.contains("no log at"), "{missing}");
    }

    #[tokio::test]
    async fn exit_is_noticed_once_and_signals_after_reaping_are_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = NodeLayout {
            id: 1,
            kafka: "127.0.0.1:1".into(),
            controller: "127.0.0.1:2".into(),
            http: "127.0.0.1:3".into(),
            registry: None,
        };
        let log = dir.path().join("server.log");
        let args = vec!["-c".to_string(), "echo hello; exit 3".to_string()];
        let mut node = NodeProcess::spawn(
            Path::new("/bin/sh"),
            &args,
            &layout,
            dir.path().into(),
            log,
            None,
        )
        .expect("spawn");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let status = loop {
            if let Some(s) = node.poll_exit() {
                break s;
            }
            assert!(std::time::Instant::now() < deadline, "sh did not exit");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        };
        assert_eq!(status.code(), Some(3));
        assert_eq!(status.to_string(), "exit status: 3");
        assert!(!node.running());
        assert_eq!(node.poll_exit(), None, "reported only once");
        node.signal(libc::SIGTERM);
        let tail = node.log_tail(5);
        assert!(tail.contains("strata cluster up: node 1"), "{tail}");
        assert!(tail.ends_with("hello"), "{tail}");
    }
}
