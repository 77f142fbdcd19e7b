//! rpk / kcat parity against a real broker: `topic add-partitions|trim`, internal topics
//! hidden from `topic list`, `group offset-delete`, the newer `group reset-offsets` targets
//! and several groups at once, connection errors (no port, not a Kafka listener, an
//! unreachable broker for `produce`), connection profiles, completions, and `bench --rate`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{free_port, strata_bin, Broker};
use serde_json::Value;

/// Runs `strata ARGS` with its profiles under `config_home` (never the user's).
fn run(config_home: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(strata_bin())
        .args(args)
        .env_remove("STRATA_BOOTSTRAP")
        .env_remove("STRATA_PROFILE")
        .env("STRATA_CONFIG_HOME", config_home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn strata");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_string();
    std::thread::spawn(move || {
        let _ = input.write_all(data.as_bytes());
    });
    // Collect the output on a thread (draining the pipes), with a deadline.
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.expect("output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("strata {args:?} did not finish within 60 s");
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(home: &std::path::Path, args: &[&str], stdin: &str) -> String {
    let out = run(home, args, stdin);
    assert!(
        out.status.success(),
        "strata {args:?} failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn fails(home: &std::path::Path, args: &[&str]) -> String {
    let out = run(home, args, "");
    assert!(!out.status.success(), "strata {args:?} should fail");
    text(&out.stderr)
}

fn json(s: &str) -> Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("bad JSON {s:?}: {e}"))
}

fn json_lines(s: &str) -> Vec<Value> {
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .map(json)
        .collect()
}

#[test]
fn topic_add_partitions_trim_and_internal_topics() {
    let b = Broker::start();
    let home = tempfile::tempdir().expect("tempdir");
    let h = home.path();
    let a = b.addr.as_str();
    ok(
        h,
        &["-b", a, "topic", "create", "grow", "--partitions", "2"],
        "",
    );
    let v = json(&ok(
        h,
        &[
            "-b",
            a,
            "topic",
            "add-partitions",
            "grow",
            "--num",
            "4",
            "--format",
            "json",
        ],
        "",
    ));
    assert_eq!(
        (v["previous_partitions"].as_i64(), v["partitions"].as_i64()),
        (Some(2), Some(4))
    );
    ok(
        h,
        &["-b", a, "topic", "add-partitions", "grow", "--add", "1"],
        "",
    );
    let d = json(&ok(
        h,
        &["-b", a, "topic", "describe", "grow", "--format", "json"],
        "",
    ));
    assert_eq!(d["partitions"].as_array().map(Vec::len), Some(5));
    let e = fails(
        h,
        &["-b", a, "topic", "add-partitions", "grow", "--num", "3"],
    );
    assert!(e.contains("has 5 partitions") && e.contains("fewer"), "{e}");
    let e = fails(
        h,
        &["-b", a, "topic", "add-partitions", "grow", "--num", "5"],
    );
    assert!(e.contains("already has 5"), "{e}");

    // Trim one partition, then all of them to their ends.
    let lines: String = (0..10).map(|i| format!("r{i}\n")).collect();
    ok(h, &["-b", a, "produce", "grow", "--partition", "0"], &lines);
    ok(
        h,
        &["-b", a, "produce", "grow", "--partition", "3"],
        &lines[..9],
    );
    let v = json(&ok(
        h,
        &[
            "-b",
            a,
            "topic",
            "trim",
            "grow",
            "--partition",
            "0",
            "--offset",
            "4",
            "--format",
            "json",
        ],
        "",
    ));
    assert_eq!(v[0]["partition"], 0);
    assert_eq!(v[0]["low_watermark"], 4, "{v}");
    let d = json(&ok(
        h,
        &["-b", a, "topic", "describe", "grow", "--format", "json"],
        "",
    ));
    assert_eq!(d["partitions"][0]["earliest_offset"], 4);
    let out = ok(
        h,
        &[
            "-b",
            a,
            "topic",
            "trim",
            "grow",
            "--all-partitions",
            "--offset",
            "end",
        ],
        "",
    );
    assert!(out.contains("LOW-WATERMARK"), "{out}");
    let d = json(&ok(
        h,
        &["-b", a, "topic", "describe", "grow", "--format", "json"],
        "",
    ));
    for p in d["partitions"].as_array().expect("partitions") {
        assert_eq!(p["earliest_offset"], p["latest_offset"], "{p}");
    }
    assert_eq!(d["partitions"][3]["earliest_offset"], 3);
    let e = fails(
        h,
        &[
            "-b",
            a,
            "topic",
            "trim",
            "grow",
            "--partition",
            "9",
            "--offset",
            "1",
        ],
    );
    assert!(e.contains("no partition 9"), "{e}");
    assert!(
        run(h, &["-b", a, "topic", "trim", "grow", "--offset", "1"], "")
            .status
            .code()
            .is_some_and(|c| c != 0)
    );

    // Internal topics: hidden unless -i / --internal.
    ok(
        h,
        &[
            "-b",
            a,
            "topic",
            "create",
            "__system_like",
            "--partitions",
            "1",
        ],
        "",
    );
    ok(
        h,
        &["-b", a, "topic", "create", "_schemas", "--partitions", "1"],
        "",
    );
    // A group lookup makes the broker create __consumer_offsets.
    ok(
        h,
        &[
            "-b",
            a,
            "group",
            "reset-offsets",
            "warm",
            "--topic",
            "grow",
            "--to-earliest",
        ],
        "",
    );
    let listed = ok(h, &["-b", a, "topic", "list"], "");
    let names: Vec<&str> = listed.lines().collect();
    assert!(names.contains(&"grow"), "{listed}");
    for hidden in ["__system_like", "_schemas", "__consumer_offsets"] {
        assert!(!names.contains(&hidden), "{hidden} listed: {listed}");
    }
    let all = ok(h, &["-b", a, "topic", "list", "-i"], "");
    for shown in ["grow", "__system_like", "_schemas"] {
        assert!(all.lines().any(|l| l == shown), "{shown} missing: {all}");
    }
    let v = json(&ok(
        h,
        &["-b", a, "topic", "list", "--internal", "--format", "json"],
        "",
    ));
    assert!(v.as_array().expect("array").len() >= 4, "{v}");
}

/// `(group, partition) -> committed offset` from `reset-offsets --format json` lines.
fn planned(out: &str) -> Vec<(String, i64, Option<i64>, i64)> {
    json_lines(out)
        .iter()
        .flat_map(|g| {
            let group = g["group"].as_str().unwrap_or_default().to_string();
            g["offsets"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |o| {
                    (
                        group.clone(),
                        o["partition"].as_i64().unwrap_or(-1),
                        o["current_offset"].as_i64(),
                        o["new_offset"].as_i64().unwrap_or(-1),
                    )
                })
        })
        .collect()
}

#[test]
fn group_offset_delete_and_reset_targets_for_several_groups() {
    let b = Broker::start();
    let home = tempfile::tempdir().expect("tempdir");
    let h = home.path();
    let a = b.addr.as_str();
    ok(
        h,
        &["-b", a, "topic", "create", "ev", "--partitions", "1"],
        "",
    );
    let lines: String = (0..30).map(|i| format!("e{i}\n")).collect();
    ok(h, &["-b", a, "produce", "ev"], &lines);
    let reset = |extra: &[&str]| {
        let mut args = vec!["-b", a, "group", "reset-offsets"];
        args.extend_from_slice(extra);
        args.extend(["--format", "json"]);
        planned(&ok(h, &args, ""))
    };
    let p = reset(&[
        "g1",
        "g2",
        "--topic",
        "ev",
        "--to-offset",
        "10",
        "--execute",
    ]);
    assert_eq!(
        p,
        vec![("g1".into(), 0, None, 10), ("g2".into(), 0, None, 10)]
    );
    // --shift-by, clamped into the log.
    let p = reset(&["g1", "--topic", "ev", "--shift-by", "-3", "--execute"]);
    assert_eq!(p, vec![("g1".into(), 0, Some(10), 7)]);
    let p = reset(&["g1", "--topic", "ev", "--shift-by", "100"]);
    assert_eq!(
        p,
        vec![("g1".into(), 0, Some(7), 30)],
        "dry run, clamped to the end"
    );
    // --to-current with --all-topics, for both groups.
    let p = reset(&["g1", "g2", "--all-topics", "--to-current"]);
    assert_eq!(
        p,
        vec![("g1".into(), 0, Some(7), 7), ("g2".into(), 0, Some(10), 10)]
    );
    // --by-duration: everything is newer than an hour ago; nothing is newer than now.
    let p = reset(&["g1", "--topic", "ev", "--by-duration", "1h"]);
    assert_eq!(p[0].3, 0);
    let p = reset(&["g1", "--topic", "ev", "--by-duration", "PT0S"]);
    assert_eq!(p[0].3, 30);
    let e = fails(
        h,
        &[
            "-b",
            a,
            "group",
            "reset-offsets",
            "g1",
            "--topic",
            "ev",
            "--by-duration",
            "10x",
        ],
    );
    assert!(e.contains("'10x' is not a duration"), "{e}");
    let e = fails(
        h,
        &[
            "-b",
            a,
            "group",
            "reset-offsets",
            "nobody",
            "--topic",
            "ev",
            "--shift-by",
            "1",
        ],
    );
    assert!(
        e.contains("no committed offset to shift") && e.contains("ev-0"),
        "{e}"
    );
    // The dry run committed nothing.
    let p = reset(&["g1", "--topic", "ev", "--to-current"]);
    assert_eq!(p[0].2, Some(7));

    // describe several groups: one JSON object per group.
    let d = json_lines(&ok(
        h,
        &["-b", a, "group", "describe", "g1", "g2", "--format", "json"],
        "",
    ));
    let groups: Vec<&str> = d
        .iter()
        .map(|g| g["group"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(groups, ["g1", "g2"]);
    assert_eq!(d[0]["offsets"][0]["committed_offset"], 7);
    let t = ok(h, &["-b", a, "group", "describe", "g1", "g2"], "");
    assert!(t.contains("Group: g1") && t.contains("Group: g2"), "{t}");

    // offset-delete: g2's offsets of ev go; g1's stay.
    let v = json(&ok(
        h,
        &[
            "-b",
            a,
            "group",
            "offset-delete",
            "g2",
            "--topic",
            "ev",
            "--format",
            "json",
        ],
        "",
    ));
    assert_eq!(v["offsets"][0]["deleted"], true, "{v}");
    let p = reset(&["g1", "g2", "--topic", "ev", "--to-current"]);
    assert_eq!(
        p,
        vec![("g1".into(), 0, Some(7), 7), ("g2".into(), 0, None, 30)]
    );
    let e = fails(
        h,
        &["-b", a, "group", "offset-delete", "g2", "--topic", "ev"],
    );
    assert!(e.contains("no committed offsets for topic 'ev'"), "{e}");

    // delete several groups at once.
    let out = ok(h, &["-b", a, "group", "delete", "g1", "g2"], "");
    assert!(
        out.contains("deleted group 'g1'") && out.contains("deleted group 'g2'"),
        "{out}"
    );
}

#[test]
fn connection_errors_are_clear_and_fast() {
    let home = tempfile::tempdir().expect("tempdir");
    let h = home.path();
    // Not a Kafka listener: an HTTP server's reply is named, not misread as a frame length.
    let http = TcpListener::bind("127.0.0.1:0").expect("bind");
    let http_addr = http.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for conn in http.incoming().flatten() {
            let mut conn = conn;
            let mut buf = [0u8; 512];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    for args in [&["topic", "list"][..], &["produce", "t"]] {
        let mut full = vec!["-b", http_addr.as_str()];
        full.extend_from_slice(args);
        let started = Instant::now();
        let out = run(h, &full, "x\n");
        let e = text(&out.stderr);
        assert!(!out.status.success());
        assert!(
            e.contains(&format!(
                "{http_addr} is not a Kafka listener (got 'HTTP/1.1 400 Bad Request')"
            )),
            "{e}"
        );
        assert!(!e.contains("frame length"), "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{args:?} took {:?}",
            started.elapsed()
        );
    }

    // Unreachable: produce fails about as fast as any other command.
    let dead = format!("127.0.0.1:{}", free_port());
    for args in [&["topic", "list"][..], &["produce", "t"]] {
        let mut full = vec!["-b", dead.as_str()];
        full.extend_from_slice(args);
        let started = Instant::now();
        let out = run(h, &full, "x\n");
        let e = text(&out.stderr);
        assert!(!out.status.success());
        assert!(e.contains("connection refused") && e.contains(&dead), "{e}");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(10), "{args:?} took {took:?}");
    }

    // No port means 9092 (from -b, the environment, and profiles alike).
    if TcpListener::bind("127.0.0.1:9092").is_ok() {
        let e = fails(h, &["-b", "127.0.0.1", "topic", "list"]);
        assert!(e.contains("127.0.0.1:9092"), "{e}");
        let out = Command::new(strata_bin())
            .args(["topic", "list"])
            .env("STRATA_BOOTSTRAP", "127.0.0.1")
            .env("STRATA_CONFIG_HOME", h)
            .output()
            .expect("run");
        assert!(
            text(&out.stderr).contains("127.0.0.1:9092"),
            "{}",
            text(&out.stderr)
        );
        ok(
            h,
            &["profile", "create", "noport", "--brokers", "127.0.0.1"],
            "",
        );
        let e = fails(h, &["topic", "list"]);
        assert!(e.contains("127.0.0.1:9092"), "{e}");
    }
}

#[test]
fn profiles_choose_brokers_and_settings_and_flags_override() {
    let b = Broker::start();
    let home = tempfile::tempdir().expect("tempdir");
    let h = home.path();
    let a = b.addr.as_str();
    let e = fails(h, &["profile", "show"]);
    assert!(e.contains("no current profile"), "{e}");
    ok(h, &["profile", "create", "local", "--brokers", a], "");
    // No -b: the current profile's brokers.
    ok(
        h,
        &["topic", "create", "via-profile", "--partitions", "1"],
        "",
    );
    assert!(ok(h, &["topic", "list"], "")
        .lines()
        .any(|l| l == "via-profile"));

    let dead = format!("127.0.0.1:{}", free_port());
    let out = ok(h, &["profile", "create", "dead", "--brokers", &dead], "");
    assert!(
        out.contains("created profile 'dead' (now current)"),
        "{out}"
    );
    let e = fails(h, &["topic", "list"]);
    assert!(e.contains(&dead), "the new current profile is used: {e}");
    // -b overrides the profile; --profile picks another one.
    assert!(ok(h, &["-b", a, "topic", "list"], "").contains("via-profile"));
    assert!(ok(h, &["--profile", "local", "topic", "list"], "").contains("via-profile"));
    let e = fails(h, &["--profile", "nope", "topic", "list"]);
    assert!(
        e.contains("no profile 'nope'") && e.contains("dead, local"),
        "{e}"
    );

    // Settings are stored, shown without the password, and applied (this broker speaks no
    // SASL, so a SASL profile cannot talk to it).
    ok(
        h,
        &[
            "profile",
            "create",
            "sasl",
            "--brokers",
            a,
            "--sasl-mechanism",
            "PLAIN",
            "--user",
            "app",
            "--password",
            "hunter2",
        ],
        "",
    );
    let v = json(&ok(h, &["profile", "show", "--format", "json"], ""));
    assert_eq!(v["name"], "sasl");
    assert_eq!(v["settings"]["security.protocol"], "SASL_PLAINTEXT");
    assert_eq!(v["settings"]["sasl.password"], "********");
    let shown = ok(h, &["profile", "show", "sasl"], "");
    assert!(!shown.contains("hunter2"), "{shown}");
    let file = std::fs::read_to_string(h.join("profiles.toml")).expect("profiles file");
    assert!(file.contains("current = \"sasl\""), "{file}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(h.join("profiles.toml"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "profiles file must be private: {mode:o}");
    }
    let out = run(h, &["topic", "list"], "");
    assert!(!out.status.success(), "SASL settings of the profile apply");
    // -X overrides a profile setting.
    // -X overrides a profile setting: now the client tries TLS.
    let out = run(
        h,
        &["topic", "list", "-X", "security.protocol=SASL_SSL"],
        "",
    );
    assert!(!out.status.success());
    let e = text(&out.stderr);
    assert!(e.contains("TLS"), "{e}");
    let e = fails(
        h,
        &[
            "profile",
            "create",
            "bad",
            "--brokers",
            a,
            "-X",
            "ssl.ca.locaton=/x",
        ],
    );
    assert!(e.contains("unknown setting 'ssl.ca.locaton'"), "{e}");

    // list / use / delete.
    let v = json(&ok(h, &["profile", "list", "--format", "json"], ""));
    let names: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["dead", "local", "sasl"]);
    ok(h, &["profile", "use", "local"], "");
    let list = ok(h, &["profile", "list"], "");
    assert!(list.lines().any(|l| l.starts_with("* local")), "{list}");
    ok(h, &["profile", "delete", "dead"], "");
    let e = fails(h, &["profile", "use", "dead"]);
    assert!(e.contains("no profile 'dead'"), "{e}");
    assert!(ok(h, &["topic", "list"], "").contains("via-profile"));
}

#[test]
fn shell_completions() {
    let home = tempfile::tempdir().expect("tempdir");
    let h = home.path();
    let bash = ok(h, &["completions", "bash"], "");
    assert!(
        bash.contains("_strata") && bash.contains("add-partitions"),
        "bash"
    );
    assert!(ok(h, &["completions", "zsh"], "").contains("#compdef strata"));
    assert!(ok(h, &["completions", "fish"], "").contains("complete -c strata"));
    assert!(fails(h, &["completions", "tcsh"]).contains("tcsh"));
}

#[test]
fn bench_rate_and_exact_consume_count() {
    let b = Broker::start();
    let home = tempfile::tempdir().expect("tempdir");
    let h = home.path();
    let a = b.addr.as_str();
    ok(
        h,
        &["-b", a, "topic", "create", "bench", "--partitions", "2"],
        "",
    );
    let started = Instant::now();
    let v = json(&ok(
        h,
        &[
            "-b",
            a,
            "bench",
            "produce",
            "--topic",
            "bench",
            "--records",
            "300",
            "--rate",
            "200",
            "--record-size",
            "50",
            "--format",
            "json",
        ],
        "",
    ));
    // 300 records at 200/s take about 1.5 s.
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(v["records"], 300);
    assert_eq!(v["target_records_per_sec"], 200);
    assert!(v["records_per_sec"].as_f64().expect("rate") < 260.0, "{v}");
    let l = &v["latency_ms"];
    let (p50, p95, p99, max) = (
        l["p50"].as_f64().expect("p50"),
        l["p95"].as_f64().expect("p95"),
        l["p99"].as_f64().expect("p99"),
        l["max"].as_f64().expect("max"),
    );
    assert!(p50 <= p95 && p95 <= p99 && p99 <= max, "{v}");
    let t = ok(
        h,
        &[
            "-b",
            a,
            "bench",
            "produce",
            "--topic",
            "bench",
            "--records",
            "20",
            "--rate",
            "100",
            "--record-size",
            "50",
        ],
        "",
    );
    assert!(
        t.contains("target 100 records/s") && t.contains("p95"),
        "{t}"
    );

    let v = json(&ok(
        h,
        &[
            "-b",
            a,
            "bench",
            "consume",
            "--topic",
            "bench",
            "--records",
            "250",
            "--format",
            "json",
        ],
        "",
    ));
    assert_eq!(v["records"], 250, "stops at the count asked for: {v}");
    assert_eq!(v["bytes"], 250 * 50);

    // Each bench's help lists its own flags only.
    let consume_help = ok(h, &["bench", "consume", "--help"], "");
    for flag in [
        "--record-size",
        "--acks",
        "--compression",
        "--linger-ms",
        "--rate",
    ] {
        assert!(!consume_help.contains(flag), "bench consume lists {flag}");
    }
    let produce_help = ok(h, &["bench", "produce", "--help"], "");
    assert!(produce_help.contains("--rate") && produce_help.contains("Examples:"));
    assert!(fails(h, &["bench", "consume", "--topic", "x", "--acks", "1"]).contains("--acks"));
    assert!(fails(h, &["bench", "produce", "--topic", "x", "--rate", "0"]).contains("--rate"));
}
