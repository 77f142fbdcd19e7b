//! End-to-end tests of the `strata` client commands against a real `strata server`.

use std::collections::BTreeMap;

use crate::common::{free_port, run_cli, Broker};
use serde_json::Value;
use strata_client::partitioner::partition_for_key;

fn json_lines(s: &str) -> Vec<Value> {
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

#[test]
fn topic_create_list_describe_delete() {
    let b = Broker::start();
    let out = b.cli_ok(
        &[
            "topic",
            "create",
            "orders",
            "--partitions",
            "3",
            "--replication-factor",
            "1",
            "--config",
            "retention.ms=3600000",
        ],
        "",
    );
    assert!(out.contains("created topic 'orders'"), "{out}");
    b.cli_ok(&["topic", "create", "audit", "--partitions", "1"], "");

    let list = b.cli_ok(&["topic", "list"], "");
    let names: Vec<&str> = list.lines().collect();
    assert!(
        names.contains(&"orders") && names.contains(&"audit"),
        "{list}"
    );
    let list_json: Value =
        serde_json::from_str(&b.cli_ok(&["topic", "list", "--format", "json"], ""))
            .expect("json list");
    let orders = list_json
        .as_array()
        .expect("array")
        .iter()
        .find(|t| t["name"] == "orders")
        .expect("orders listed");
    assert_eq!(orders["partitions"], 3);

    let text = b.cli_ok(&["topic", "describe", "orders"], "");
    assert!(text.contains("Topic: orders"), "{text}");
    assert!(text.contains("retention.ms = 3600000"), "{text}");

    let d: Value =
        serde_json::from_str(&b.cli_ok(&["topic", "describe", "orders", "--format", "json"], ""))
            .expect("json describe");
    let parts = d["partitions"].as_array().expect("partitions");
    assert_eq!(parts.len(), 3);
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p["partition"], i as i64);
        assert!(p["leader"].as_i64().expect("leader") >= 0, "{p}");
        assert_eq!(p["replicas"].as_array().map(Vec::len), Some(1));
        assert_eq!(p["isr"], p["replicas"]);
        assert_eq!(p["earliest_offset"], 0);
        assert_eq!(p["latest_offset"], 0);
    }
    let retention = d["configs"]
        .as_array()
        .expect("configs")
        .iter()
        .find(|c| c["name"] == "retention.ms")
        .expect("retention.ms present");
    assert_eq!(retention["value"], "3600000");

    // Offsets in describe follow produced data.
    b.cli_ok(&["produce", "orders", "--partition", "1"], "a\nb\nc\n");
    let d: Value =
        serde_json::from_str(&b.cli_ok(&["topic", "describe", "orders", "--format", "json"], ""))
            .expect("json describe");
    assert_eq!(d["partitions"][1]["latest_offset"], 3);
    assert_eq!(d["partitions"][0]["latest_offset"], 0);

    let out = b.cli_ok(&["topic", "delete", "orders"], "");
    assert!(out.contains("deleted topic 'orders'"), "{out}");
    let list = b.cli_ok(&["topic", "list"], "");
    assert!(!list.lines().any(|l| l == "orders"), "{list}");
    let gone = b.cli(&["topic", "describe", "orders"], "");
    assert!(!gone.status.success());
    let err = String::from_utf8_lossy(&gone.stderr);
    assert!(err.contains("UNKNOWN_TOPIC_OR_PARTITION"), "{err}");
}

#[test]
fn duplicate_topic_is_an_error_with_the_code_name() {
    let b = Broker::start();
    b.cli_ok(&["topic", "create", "dup", "--partitions", "1"], "");
    let out = b.cli(&["topic", "create", "dup", "--partitions", "1"], "");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        "error: topic 'dup' already exists (TOPIC_ALREADY_EXISTS)"
    );
}

#[test]
fn unreachable_broker_fails_fast_with_a_clear_message() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let out = run_cli(&["-b", &addr, "topic", "list"], "");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        format!("error: cannot connect to {addr}: connection refused")
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn produce_consume_round_trip_with_every_codec() {
    let b = Broker::start();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("codec-{codec}");
        b.cli_ok(&["topic", "create", &topic, "--partitions", "2"], "");
        let lines: Vec<String> = (0..300)
            .map(|i| format!("{codec} record {i} {}", "payload ".repeat(i % 7)))
            .collect();
        let input = lines.join("\n") + "\n";
        let out = b.cli(&["produce", &topic, "--compression", codec], &input);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary = String::from_utf8_lossy(&out.stderr);
        assert!(summary.contains("produced 300 of 300"), "{summary}");

        let out = b.cli_ok(
            &[
                "consume",
                &topic,
                "--from-beginning",
                "--count",
                "300",
                "--format",
                "json",
            ],
            "",
        );
        let recs = json_lines(&out);
        assert_eq!(recs.len(), 300, "{codec}");
        // Order is kept within a partition; the union is exactly what was produced.
        let mut per_partition: BTreeMap<i64, Vec<(i64, String)>> = BTreeMap::new();
        for r in &recs {
            per_partition
                .entry(r["partition"].as_i64().expect("partition"))
                .or_default()
                .push((
                    r["offset"].as_i64().expect("offset"),
                    r["value"].as_str().expect("value").to_string(),
                ));
        }
        let mut all: Vec<String> = Vec::new();
        for (_, recs) in per_partition {
            let offsets: Vec<i64> = recs.iter().map(|r| r.0).collect();
            assert_eq!(
                offsets,
                (0..offsets.len() as i64).collect::<Vec<_>>(),
                "{codec}"
            );
            let values: Vec<&String> = recs.iter().map(|r| &r.1).collect();
            let idx: Vec<usize> = values
                .iter()
                .map(|v| lines.iter().position(|l| l == *v).expect("produced value"))
                .collect();
            assert!(idx.windows(2).all(|w| w[0] < w[1]), "{codec}: out of order");
            all.extend(values.into_iter().cloned());
        }
        all.sort();
        let mut want = lines.clone();
        want.sort();
        assert_eq!(all, want, "{codec}");
    }
}

#[test]
fn keyed_records_land_on_the_murmur2_partition() {
    let b = Broker::start();
    b.cli_ok(&["topic", "create", "keyed", "--partitions", "5"], "");
    let input: String = (0..200).map(|i| format!("user-{i}:event {i}\n")).collect();
    b.cli_ok(&["produce", "keyed", "--key-separator", ":"], &input);
    let out = b.cli_ok(
        &[
            "consume",
            "keyed",
            "--from-beginning",
            "--count",
            "200",
            "--format",
            "json",
        ],
        "",
    );
    let recs = json_lines(&out);
    assert_eq!(recs.len(), 200);
    let mut used = std::collections::BTreeSet::new();
    for r in recs {
        let key = r["key"].as_str().expect("key");
        let want = partition_for_key(key.as_bytes(), 5);
        assert_eq!(r["partition"].as_i64(), Some(i64::from(want)), "key {key}");
        let n: usize = key.trim_start_matches("user-").parse().expect("n");
        assert_eq!(r["value"], format!("event {n}"));
        used.insert(want);
    }
    assert!(used.len() > 1, "200 keys should spread over partitions");
}

#[test]
fn consume_json_lines_have_all_fields() {
    let b = Broker::start();
    b.cli_ok(&["topic", "create", "fields", "--partitions", "1"], "");
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    b.cli_ok(
        &["produce", "fields", "--key-separator", "="],
        "k1=v1\nno key here\n",
    );
    let out = b.cli_ok(
        &[
            "consume",
            "fields",
            "--from-beginning",
            "--count",
            "2",
            "--format",
            "json",
        ],
        "",
    );
    let recs = json_lines(&out);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["topic"], "fields");
    assert_eq!(recs[0]["partition"], 0);
    assert_eq!(recs[0]["offset"], 0);
    assert_eq!(recs[0]["key"], "k1");
    assert_eq!(recs[0]["value"], "v1");
    assert!(recs[0]["headers"].as_array().is_some_and(|h| h.is_empty()));
    let ts = recs[0]["timestamp"].as_i64().expect("timestamp");
    assert!(
        ts >= before - 1000 && ts <= before + 60_000,
        "{ts} vs {before}"
    );
    assert_eq!(recs[1]["offset"], 1);
    assert!(recs[1]["key"].is_null());
    assert_eq!(recs[1]["value"], "no key here");

    // --offset starts mid-log; text output prints values.
    let out = b.cli_ok(
        &[
            "consume",
            "fields",
            "--partition",
            "0",
            "--offset",
            "1",
            "--count",
            "1",
        ],
        "",
    );
    assert_eq!(out, "no key here\n");
}

#[test]
fn bench_produce_and_consume_report_json() {
    let b = Broker::start();
    b.cli_ok(&["topic", "create", "bench", "--partitions", "3"], "");
    let out = b.cli_ok(
        &[
            "bench",
            "produce",
            "--topic",
            "bench",
            "--records",
            "5000",
            "--record-size",
            "200",
            "--acks",
            "1",
            "--compression",
            "lz4",
            "--linger-ms",
            "2",
            "--format",
            "json",
        ],
        "",
    );
    let v: Value = serde_json::from_str(out.trim()).expect("bench json");
    assert_eq!(v["records"], 5000);
    assert_eq!(v["bytes"], 5000 * 200);
    assert!(v["records_per_sec"].as_f64().expect("rate") > 0.0);
    let p50 = v["latency_ms"]["p50"].as_f64().expect("p50");
    let p999 = v["latency_ms"]["p999"].as_f64().expect("p999");
    assert!(p50 > 0.0 && p50 <= p999, "{v}");

    let out = b.cli_ok(
        &[
            "bench",
            "consume",
            "--topic",
            "bench",
            "--records",
            "5000",
            "--format",
            "json",
        ],
        "",
    );
    let v: Value = serde_json::from_str(out.trim()).expect("bench json");
    assert_eq!(v["records"], 5000);
    assert_eq!(v["bytes"], 5000 * 200);

    let d: Value =
        serde_json::from_str(&b.cli_ok(&["topic", "describe", "bench", "--format", "json"], ""))
            .expect("describe");
    let total: i64 = d["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| p["latest_offset"].as_i64().expect("latest"))
        .sum();
    assert_eq!(total, 5000);
}
