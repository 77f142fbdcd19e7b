//! `consume` and `produce` against a real broker: offsets (`-o start|end|N|-N|+N|@ts`),
//! `-e`, templates, text offsets, JSON headers and binary values, several topics and
//! regexes, headers, tombstones, keys, timestamps, auto-creation, and SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{strata_bin, Broker};
use bytes::Bytes;
use serde_json::{json, Value};
use strata_client::{ClientConfig, Producer, ProducerConfig, ProducerRecord};

fn json_lines(s: &str) -> Vec<Value> {
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `consume ARGS` expecting success; returns (stdout, stderr).
fn consume(b: &Broker, args: &[&str]) -> (String, String) {
    let mut full = vec!["consume"];
    full.extend_from_slice(args);
    let out = b.cli(&full, "");
    assert!(
        out.status.success(),
        "consume {args:?} failed: {}",
        stderr(&out)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr(&out),
    )
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn templates_print_exactly_and_text_shows_offsets() {
    let b = Broker::start();
    b.cli_ok(&["topic", "create", "tpl", "--partitions", "1"], "");
    b.cli_ok(
        &[
            "produce",
            "tpl",
            "-K",
            ":",
            "-H",
            "src=cli",
            "-H",
            "src=again",
            "--timestamp",
            "1700000000123",
        ],
        "k1:hello\nnokey\n",
    );
    let (out, _) = consume(
        &b,
        &[
            "tpl",
            "-o",
            "start",
            "-e",
            "-f",
            "%t|%p|%o|%k|%v|%h|%T|%K|%S|100%%\\t.\\n",
        ],
    );
    assert_eq!(
        out,
        "tpl|0|0|k1|hello|src=cli,src=again|1700000000123|2|5|100%\t.\n\
         tpl|0|1||nokey|src=cli,src=again|1700000000123|-1|5|100%\t.\n"
    );
    let (out, _) = consume(&b, &["tpl", "-o", "start", "-e", "--print-offsets"]);
    assert_eq!(out, "0\t0\thello\n0\t1\tnokey\n");
    let (out, _) = consume(
        &b,
        &["tpl", "-o", "start", "-e", "--print-offsets", "--print-key"],
    );
    assert_eq!(out, "0\t0\tk1\thello\n0\t1\tnull\tnokey\n");

    // Templates are checked before connecting, and exclude JSON output.
    let out = b.cli(&["consume", "tpl", "-f", "%v %x"], "");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unknown token %x"),
        "{}",
        stderr(&out)
    );
    let out = b.cli(&["consume", "tpl", "-f", "%v", "--format", "json"], "");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--format json"), "{}", stderr(&out));
    let out = b.cli(&["consume"], "");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("name a topic"), "{}", stderr(&out));
}

#[test]
fn exit_at_end_and_relative_offsets_pick_the_right_records() {
    let b = Broker::start();
    b.cli_ok(&["topic", "create", "rel", "--partitions", "2"], "");
    let ten: String = (0..10).map(|i| format!("a{i}\n")).collect();
    b.cli_ok(&["produce", "rel", "--partition", "0"], &ten);
    b.cli_ok(&["produce", "rel", "--partition", "1"], "b0\nb1\nb2\nb3\n");
    let po = ["-f", "%p:%o:%v\\n"];

    // -e alone starts at the end: nothing, and it exits.
    let (out, _) = consume(&b, &["rel", "-e"]);
    assert_eq!(out, "");
    // From the start: every record, then exit.
    let (out, _) = consume(&b, &["rel", "-o", "start", "-e"]);
    assert_eq!(out.lines().count(), 14, "{out}");
    let (out, _) = consume(&b, &["rel", "--from-beginning", "-e"]);
    assert_eq!(out.lines().count(), 14, "{out}");

    // -N: the last N of each partition.
    let mut args = vec!["rel", "-o", "-3", "-e"];
    args.extend(po);
    let (out, err) = consume(&b, &args);
    assert_eq!(
        sorted_lines(&out),
        ["0:7:a7", "0:8:a8", "0:9:a9", "1:1:b1", "1:2:b2", "1:3:b3"]
    );
    assert!(!err.contains("warning"), "{err}");

    // +N: N after the start; partition 1 has only 4, so it warns and starts at its end.
    let mut args = vec!["rel", "-o", "+8", "-e"];
    args.extend(po);
    let (out, err) = consume(&b, &args);
    assert_eq!(sorted_lines(&out), ["0:8:a8", "0:9:a9"]);
    assert!(
        err.contains("warning: rel-1: offset +8 (= 8) is past the end; starting at the end (4"),
        "{err}"
    );
    assert!(!err.contains("rel-0"), "{err}");

    // N: absolute, per partition.
    let mut args = vec!["rel", "--partition", "0", "-o", "6", "-e"];
    args.extend(po);
    let (out, _) = consume(&b, &args);
    assert_eq!(out, "0:6:a6\n0:7:a7\n0:8:a8\n0:9:a9\n");
    // -N larger than the partition: a warning, then the start.
    let mut args = vec!["rel", "--partition", "1", "-o", "-9", "-e"];
    args.extend(po);
    let (out, err) = consume(&b, &args);
    assert_eq!(out, "1:0:b0\n1:1:b1\n1:2:b2\n1:3:b3\n");
    assert!(
        err.contains("rel-1: offset -9 (= -5) is before the start"),
        "{err}"
    );
    // Past the end: a warning, nothing printed, exits.
    let (out, err) = consume(&b, &["rel", "--partition", "0", "-o", "99", "-e"]);
    assert_eq!(out, "");
    assert!(
        err.contains("rel-0: offset 99 is past the end; starting at the end (10"),
        "{err}"
    );
    // -e with --count: whichever comes first.
    let (out, _) = consume(&b, &["rel", "-o", "start", "-e", "--count", "3"]);
    assert_eq!(out.lines().count(), 3);
    // A records produced after start is not waited for, and `end` starts there.
    let (out, _) = consume(&b, &["rel", "-o", "end", "-e"]);
    assert_eq!(out, "");
}

#[test]
fn timestamp_offsets_find_the_first_record_at_or_after() {
    let b = Broker::start();
    b.cli_ok(&["topic", "create", "ts", "--partitions", "1"], "");
    let base = 1_700_000_000_000i64;
    let lines: String = (0..4)
        .map(|i| format!("{},k{i}:v{i}\n", base + 1000 * i))
        .collect();
    b.cli_ok(
        &["produce", "ts", "--timestamp-separator", ",", "-K", ":"],
        &lines,
    );
    let at = format!("@{}", base + 1500);
    let (out, err) = consume(&b, &["ts", "-o", &at, "-e", "-f", "%k=%v@%T\\n"]);
    assert_eq!(
        out,
        format!("k2=v2@{}\nk3=v3@{}\n", base + 2000, base + 3000)
    );
    assert!(!err.contains("warning"), "{err}");
    // An RFC 3339 time works too (base + 3000 ms = 2023-11-14T22:13:23Z).
    let (out, _) = consume(
        &b,
        &["ts", "-o", "@2023-11-14T22:13:23Z", "-e", "-f", "%v\\n"],
    );
    assert_eq!(out, "v3\n");
    // After every record: a warning naming the fallback, nothing printed.
    let late = format!("@{}", base + 60_000);
    let (out, err) = consume(&b, &["ts", "-o", &late, "-e"]);
    assert_eq!(out, "");
    assert!(
        err.contains("warning: ts-0: no record at or after") && err.contains("the end (4)"),
        "{err}"
    );
    // A line without its timestamp fails naming the line.
    let out = b.cli(
        &["produce", "ts", "--timestamp-separator", ","],
        &format!("{base},ok\nmissing\n"),
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("line 2: no timestamp"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn tombstones_headers_keys_and_binary_in_json() {
    let b = Broker::start();
    b.cli_ok(&["topic", "create", "tomb", "--partitions", "1"], "");
    b.cli_ok(
        &[
            "produce", "tomb", "-K", ":", "-Z", "-H", "a=1", "-H", "a=2", "-H", "b=",
        ],
        "k1:v1\nk2:\n:v3\n",
    );
    b.cli_ok(
        &["produce", "tomb", "-K", ":", "--null-value-marker", "DEL"],
        "k4:DEL\nk5:\n",
    );
    b.cli_ok(&["produce", "tomb", "-k", "fixed"], "x\n");
    let recs = json_lines(&b.cli_ok(
        &["consume", "tomb", "-o", "start", "-e", "--format", "json"],
        "",
    ));
    assert_eq!(recs.len(), 6, "{recs:?}");
    assert_eq!(
        (&recs[0]["key"], &recs[0]["value"]),
        (&json!("k1"), &json!("v1"))
    );
    assert_eq!(
        recs[0]["headers"],
        json!([{"key": "a", "value": "1"}, {"key": "a", "value": "2"}, {"key": "b", "value": ""}])
    );
    // -Z: an empty value is a tombstone, an empty key no key.
    assert_eq!(recs[1]["key"], "k2");
    assert!(recs[1]["value"].is_null(), "{}", recs[1]);
    assert!(recs[2]["key"].is_null(), "{}", recs[2]);
    assert_eq!(recs[2]["value"], "v3");
    // The marker is a tombstone; without -Z an empty value stays empty.
    assert!(recs[3]["value"].is_null(), "{}", recs[3]);
    assert_eq!(recs[4]["value"], "");
    assert_eq!(recs[4]["headers"], json!([]));
    assert_eq!(
        (&recs[5]["key"], &recs[5]["value"]),
        (&json!("fixed"), &json!("x"))
    );

    // Non-UTF-8 keys, values and header values come as base64 (made with the Rust client:
    // stdin lines are text).
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let p = Producer::new(ProducerConfig {
            client: ClientConfig::new(&b.addr),
            ..Default::default()
        })
        .expect("producer");
        p.send_record(
            ProducerRecord::new("tomb", Bytes::from_static(&[0xff, 0xfe]))
                .key(Bytes::from_static(&[0x80]))
                .header("bin", Some(Bytes::from_static(&[0xc3])))
                .header("bin", None)
                .header("txt", Some(Bytes::from_static(b"ok"))),
        )
        .await
        .expect("send");
        p.close().await;
    });
    let recs = json_lines(&b.cli_ok(
        &["consume", "tomb", "-o", "-1", "-e", "--format", "json"],
        "",
    ));
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["key"], json!({"base64": "gA=="}));
    assert_eq!(recs[0]["value"], json!({"base64": "//4="}));
    assert_eq!(
        recs[0]["headers"],
        json!([
            {"key": "bin", "value": {"base64": "ww=="}},
            {"key": "bin", "value": null},
            {"key": "txt", "value": "ok"},
        ])
    );

    // Bad flags name the problem.
    let out = b.cli(&["produce", "tomb", "-H", "novalue"], "x\n");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("header 'novalue' is not KEY=VALUE"),
        "{}",
        stderr(&out)
    );
    let out = b.cli(&["produce", "tomb", "--timestamp", "soon"], "x\n");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("invalid timestamp 'soon'"),
        "{}",
        stderr(&out)
    );
    let out = b.cli(&["produce", "tomb", "-k", "a", "-K", ":"], "x\n");
    assert!(!out.status.success());
}

#[test]
fn several_topics_and_regex() {
    let b = Broker::start();
    for t in ["re-a", "re-b", "other"] {
        b.cli_ok(&["topic", "create", t, "--partitions", "1"], "");
        b.cli_ok(&["produce", t], &format!("{t}-1\n{t}-2\n"));
    }
    let expected = ["re-a re-a-1", "re-a re-a-2", "re-b re-b-1", "re-b re-b-2"];
    let fmt = ["-o", "start", "-e", "-f", "%t %v\\n"];
    let mut args = vec!["-t", "re-a", "--topic", "re-b"];
    args.extend(fmt);
    assert_eq!(sorted_lines(&consume(&b, &args).0), expected);
    let mut args = vec!["re-a", "-t", "re-b"];
    args.extend(fmt);
    assert_eq!(sorted_lines(&consume(&b, &args).0), expected);
    // The regex matches whole names: `re-` alone matches nothing.
    let mut args = vec!["--regex", "re-.*"];
    args.extend(fmt);
    assert_eq!(sorted_lines(&consume(&b, &args).0), expected);
    let mut args = vec!["--regex", "re-a|oth.*", "re-b"];
    args.extend(fmt);
    let (out, _) = consume(&b, &args);
    assert_eq!(out.lines().count(), 6, "{out}");
    let out = b.cli(&["consume", "--regex", "re-"], "");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no topic matches --regex 're-'"),
        "{}",
        stderr(&out)
    );
    let out = b.cli(&["consume", "--regex", "("], "");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("invalid regex"), "{}", stderr(&out));
    // Several topics as one group member, stopping at the end.
    let (out, _) = consume(
        &b,
        &[
            "-t",
            "re-a",
            "-t",
            "re-b",
            "--group",
            "multi",
            "--from-beginning",
            "-e",
        ],
    );
    assert_eq!(out.lines().count(), 4, "{out}");
}

#[test]
fn produce_creates_a_missing_topic_when_the_broker_allows() {
    let b = Broker::start();
    let out = b.cli_ok(&["produce", "fresh"], "one\ntwo\n");
    assert_eq!(out, "");
    let described = b.cli_ok(&["topic", "describe", "fresh", "--format", "json"], "");
    assert!(described.contains("\"fresh\""), "{described}");
    let (out, _) = consume(&b, &["fresh", "-o", "start", "-e"]);
    assert_eq!(sorted_lines(&out), ["one", "two"]);
    // Consumers and admins still create nothing by naming a topic.
    let out = b.cli(&["consume", "typo", "-e"], "");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("topic 'typo' does not exist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn sigterm_commits_and_leaves_the_group() {
    let b = Broker::start();
    b.cli_ok(&["topic", "create", "term", "--partitions", "1"], "");
    b.cli_ok(&["produce", "term"], "r0\nr1\nr2\nr3\nr4\n");
    let mut child = Command::new(strata_bin())
        .args(["-b", b.addr.as_str(), "consume", "term", "--group", "gt"])
        .arg("--from-beginning")
        .env_remove("STRATA_BOOTSTRAP")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn consume");
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            lines.push(line);
            if lines.len() == 5 {
                break;
            }
        }
        lines
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reader.is_finished() {
        assert!(Instant::now() < deadline, "consume printed too little");
        std::thread::sleep(Duration::from_millis(50));
    }
    let lines = reader.join().expect("reader");
    assert_eq!(lines, ["r0", "r1", "r2", "r3", "r4"]);
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: signalling a child process we spawned and have not yet reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline + Duration::from_secs(20) {
            let _ = child.kill();
            panic!("consume did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit after SIGTERM: {status}");
    let d: Value =
        serde_json::from_str(&b.cli_ok(&["group", "describe", "gt", "--format", "json"], ""))
            .expect("json");
    assert_eq!(d["offsets"][0]["committed_offset"], 5, "{d}");
    assert_eq!(d["offsets"][0]["lag"], 0, "{d}");
    assert_eq!(d["members"], json!([]), "left the group: {d}");
    // A new member resumes after what was printed.
    b.cli_ok(&["produce", "term"], "r5\n");
    let (out, _) = consume(&b, &["term", "--group", "gt", "-e"]);
    assert_eq!(out, "r5\n");
}
