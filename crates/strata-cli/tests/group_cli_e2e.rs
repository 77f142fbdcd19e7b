//! End-to-end tests of `strata group ...` and `strata consume --group` against a real
//! `strata server`.

use std::time::{Duration, Instant};

use crate::common::Broker;
use serde_json::Value;

fn json(s: &str) -> Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("bad JSON {s:?}: {e}"))
}

fn produce_lines(b: &Broker, topic: &str, range: std::ops::Range<usize>) {
    let input: String = range.map(|i| format!("line-{i}\n")).collect();
    b.cli_ok(&["produce", topic], &input);
}

/// `(sum of committed offsets, sum of lags)` from `group describe --format json`.
fn committed_and_lag(b: &Broker, group: &str) -> (i64, i64) {
    let d = json(&b.cli_ok(&["group", "describe", group, "--format", "json"], ""));
    let rows = d["offsets"].as_array().expect("offsets array");
    let committed = rows
        .iter()
        .map(|r| r["committed_offset"].as_i64().unwrap_or(0))
        .sum();
    let lag = rows.iter().map(|r| r["lag"].as_i64().unwrap_or(0)).sum();
    (committed, lag)
}

fn consume_group(b: &Broker, topic: &str, group: &str, count: usize) -> Vec<String> {
    let out = b.cli_ok(
        &[
            "consume",
            topic,
            "--group",
            group,
            "--from-beginning",
            "--count",
            &count.to_string(),
            "-X",
            "heartbeat.interval.ms=200",
            "-X",
            "session.timeout.ms=6000",
        ],
        "",
    );
    out.lines().map(str::to_string).collect()
}

#[test]
fn describe_lag_reset_offsets_and_delete() {
    let b = Broker::start();
    b.cli_ok(&["topic", "create", "events", "--partitions", "3"], "");
    produce_lines(&b, "events", 0..30);

    // Two runs of 15: the second resumes exactly where the first's commit left off.
    let first = consume_group(&b, "events", "cg", 15);
    let second = consume_group(&b, "events", "cg", 15);
    assert_eq!(first.len(), 15);
    let mut all: Vec<String> = first.into_iter().chain(second).collect();
    all.sort();
    let mut expected: Vec<String> = (0..30).map(|i| format!("line-{i}")).collect();
    expected.sort();
    assert_eq!(all, expected, "every record once across the two runs");
    assert_eq!(
        committed_and_lag(&b, "cg"),
        (30, 0),
        "lag is 0 after consuming everything"
    );

    produce_lines(&b, "events", 30..40);
    assert_eq!(committed_and_lag(&b, "cg"), (30, 10));
    let text = b.cli_ok(&["group", "describe", "cg"], "");
    assert!(
        text.contains("Group: cg") && text.contains("State: Empty"),
        "{text}"
    );
    assert!(
        text.contains("LOG-END-OFFSET") && text.contains("LAG"),
        "{text}"
    );

    let list = json(&b.cli_ok(&["group", "list", "--format", "json"], ""));
    let cg = list
        .as_array()
        .expect("array")
        .iter()
        .find(|g| g["group"] == "cg")
        .expect("cg listed");
    assert_eq!(cg["state"], "Empty");
    assert_eq!(cg["protocol_type"], "consumer");
    let stable = json(&b.cli_ok(
        &["group", "list", "--state", "Stable", "--format", "json"],
        "",
    ));
    assert!(
        stable
            .as_array()
            .expect("array")
            .iter()
            .all(|g| g["group"] != "cg"),
        "{stable}"
    );
    assert!(b
        .cli_ok(&["group", "list"], "")
        .lines()
        .any(|l| l.starts_with("cg ")));

    // Dry run by default: a plan, nothing committed.
    let plan = json(&b.cli_ok(
        &[
            "group",
            "reset-offsets",
            "cg",
            "--topic",
            "events",
            "--to-earliest",
            "--format",
            "json",
        ],
        "",
    ));
    assert_eq!(plan["executed"], false);
    let rows = plan["offsets"].as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["new_offset"] == 0), "{plan}");
    assert_eq!(
        rows.iter()
            .map(|r| r["current_offset"].as_i64().unwrap_or(-1))
            .sum::<i64>(),
        30
    );
    assert_eq!(
        committed_and_lag(&b, "cg"),
        (30, 10),
        "dry run changed nothing"
    );

    let to = b.cli_ok(
        &[
            "group",
            "reset-offsets",
            "cg",
            "--topic",
            "events",
            "--to-offset",
            "2",
            "--execute",
        ],
        "",
    );
    assert!(to.contains("committed new offsets"), "{to}");
    // Clamped into each partition's range (unkeyed lines may leave a partition empty).
    let d = json(&b.cli_ok(&["group", "describe", "cg", "--format", "json"], ""));
    for r in d["offsets"].as_array().expect("rows") {
        let end = r["log_end_offset"].as_i64().expect("log end");
        assert_eq!(r["committed_offset"].as_i64(), Some(end.min(2)), "{r}");
        assert_eq!(r["lag"].as_i64(), Some(end - end.min(2)), "{r}");
    }

    b.cli_ok(
        &[
            "group",
            "reset-offsets",
            "cg",
            "--topic",
            "events",
            "--to-earliest",
            "--execute",
        ],
        "",
    );
    assert_eq!(committed_and_lag(&b, "cg"), (0, 40));
    let again = consume_group(&b, "events", "cg", 40);
    assert_eq!(again.len(), 40, "everything re-read after the reset");
    assert_eq!(committed_and_lag(&b, "cg"), (40, 0));

    // --to-datetime far in the future: no record at or after it, so the log end.
    b.cli_ok(
        &[
            "group",
            "reset-offsets",
            "cg",
            "--topic",
            "events",
            "--to-datetime",
            "2100-01-01T00:00:00Z",
            "--execute",
        ],
        "",
    );
    assert_eq!(committed_and_lag(&b, "cg"), (40, 0));
    b.cli_ok(
        &[
            "group",
            "reset-offsets",
            "cg",
            "--topic",
            "events",
            "--to-datetime",
            "2000-01-01T00:00:00Z",
            "--execute",
        ],
        "",
    );
    assert_eq!(committed_and_lag(&b, "cg"), (0, 40));
    let bad = b.cli(
        &[
            "group",
            "reset-offsets",
            "cg",
            "--topic",
            "events",
            "--to-datetime",
            "tomorrow",
        ],
        "",
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"));

    b.cli_ok(&["group", "delete", "cg"], "");
    let gone = b.cli(&["group", "describe", "cg"], "");
    assert!(!gone.status.success(), "describe of a deleted group fails");
    let err = String::from_utf8_lossy(&gone.stderr);
    assert!(err.contains("group 'cg' does not exist"), "{err}");
    let again = b.cli(&["group", "delete", "cg"], "");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("does not exist"));
}

#[test]
fn active_groups_refuse_reset_and_delete_and_show_members() {
    let b = Broker::start();
    b.cli_ok(&["topic", "create", "busy", "--partitions", "2"], "");
    produce_lines(&b, "busy", 0..10);
    let mut child = b.spawn_cli(&[
        "consume",
        "busy",
        "--group",
        "live",
        "--from-beginning",
        "-X",
        "heartbeat.interval.ms=200",
        "-X",
        "session.timeout.ms=6000",
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let described = loop {
        let out = b.cli(&["group", "describe", "live", "--format", "json"], "");
        if out.status.success() {
            let d = json(&String::from_utf8_lossy(&out.stdout));
            if d["state"] == "Stable"
                && d["offsets"]
                    .as_array()
                    .is_some_and(|r| r.iter().all(|r| r["lag"] == 0) && r.len() == 2)
            {
                break d;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the consumer never became a stable member"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let members = described["members"].as_array().expect("members");
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["client_id"], "strata-cli");
    assert_eq!(members[0]["assignment"].as_array().map(Vec::len), Some(2));
    assert_eq!(described["protocol"], "range");
    for row in described["offsets"].as_array().expect("rows") {
        assert_eq!(row["member_id"], members[0]["member_id"]);
        assert!(row["host"].as_str().is_some_and(|h| !h.is_empty()));
    }

    let reset = b.cli(
        &[
            "group",
            "reset-offsets",
            "live",
            "--topic",
            "busy",
            "--to-earliest",
            "--execute",
        ],
        "",
    );
    assert!(
        !reset.status.success(),
        "reset of an active group must fail"
    );
    let err = String::from_utf8_lossy(&reset.stderr);
    assert!(err.contains("must be inactive"), "{err}");
    let del = b.cli(&["group", "delete", "live"], "");
    assert!(!del.status.success());
    let err = String::from_utf8_lossy(&del.stderr);
    assert!(
        err.contains("must be inactive") && err.contains("NON_EMPTY_GROUP"),
        "{err}"
    );

    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn consume_group_errors_exit_non_zero() {
    let b = Broker::start();
    let out = b.cli(&["consume", "missing", "--group", "g"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("topic 'missing' does not exist"));
    let out = b.cli(
        &[
            "consume",
            "missing",
            "--group",
            "g",
            "-X",
            "session.timeout.ms=abc",
        ],
        "",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("session.timeout.ms"));
    let out = b.cli(&["group", "describe", "never-existed"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}
