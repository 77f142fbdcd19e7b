//! `strata server` and signals: a SIGTERM at any point of the broker's life stops it cleanly.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{free_port, strata_bin};

/// A voter whose peer never comes up waits for the metadata quorum inside startup; a
/// SIGTERM there must stop it with exit code 0, as service managers and test harnesses
/// expect, rather than kill it by the signal's default action.
#[test]
fn sigterm_while_waiting_for_the_quorum_exits_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let controller = format!("127.0.0.1:{}", free_port());
    let absent_peer = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(strata_bin())
        .args(["server", "--node-id", "1", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--http", &format!("127.0.0.1:{}", free_port())])
        .args(["--registry", "off"])
        .args(["--controller-listen", &controller])
        .args(["--voters", &format!("1@{controller},2@{absent_peer}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn strata server");

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        // Startup has begun; it ends only once the (never complete) quorum answers.
        if text.contains("opening data dir") {
            break;
        }
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "server exited early:\n{text}"
        );
        assert!(Instant::now() < deadline, "never began to start:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }

    let pid = libc::pid_t::try_from(child.id()).expect("pid fits");
    // SAFETY: kill(2) with plain integers; the child is not reaped yet.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("server did not stop within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert_eq!(status.code(), Some(0), "{status}\n{text}");
    assert!(text.contains("SIGTERM received while starting"), "{text}");
}
