//! End-to-end tests of `strata topic alter-config`, `topic describe` config sources and
//! `strata broker config` against a real `strata server`.

use crate::common::Broker;
use serde_json::Value;

/// The `configs` entry named `key` of `topic describe NAME --format json`.
fn topic_config(b: &Broker, topic: &str, key: &str) -> Value {
    let d: Value =
        serde_json::from_str(&b.cli_ok(&["topic", "describe", topic, "--format", "json"], ""))
            .expect("json describe");
    d["configs"]
        .as_array()
        .expect("configs")
        .iter()
        .find(|c| c["name"] == key)
        .unwrap_or_else(|| panic!("{key} missing from {d}"))
        .clone()
}

#[test]
fn alter_config_set_describe_delete_and_restart() {
    let mut b = Broker::start();
    b.cli_ok(&["topic", "create", "cfg", "--partitions", "1"], "");

    let before = topic_config(&b, "cfg", "retention.ms");
    assert_eq!(before["source"], "default", "{before}");
    let default_value = before["value"].clone();
    assert_ne!(default_value, "3600000");

    let out = b.cli_ok(
        &[
            "topic",
            "alter-config",
            "cfg",
            "--set",
            "retention.ms=3600000",
            "--set",
            "cleanup.policy=compact",
        ],
        "",
    );
    assert!(out.contains("topic 'cfg'"), "{out}");

    let r = topic_config(&b, "cfg", "retention.ms");
    assert_eq!(r["value"], "3600000");
    assert_eq!(r["source"], "topic");
    assert_eq!(r["kafka_source"], "DYNAMIC_TOPIC_CONFIG");
    // The precedence chain starts with the override itself.
    assert_eq!(r["synonyms"][0]["value"], "3600000", "{r}");
    assert_eq!(r["synonyms"][0]["source"], "topic", "{r}");
    assert_eq!(
        topic_config(&b, "cfg", "cleanup.policy")["value"],
        "compact"
    );

    let text = b.cli_ok(&["topic", "describe", "cfg"], "");
    assert!(text.contains("retention.ms = 3600000  (topic)"), "{text}");

    // Survives a hard restart: the override is metadata, not memory.
    b.kill_and_restart();
    let r = topic_config(&b, "cfg", "retention.ms");
    assert_eq!(
        (r["value"].clone(), r["source"].clone()),
        ("3600000".into(), "topic".into())
    );

    // Deleting the override falls back to the default; the other override stays.
    b.cli_ok(
        &["topic", "alter-config", "cfg", "--delete", "retention.ms"],
        "",
    );
    let r = topic_config(&b, "cfg", "retention.ms");
    assert_eq!(r["source"], "default", "{r}");
    assert_eq!(r["value"], default_value);
    assert_eq!(topic_config(&b, "cfg", "cleanup.policy")["source"], "topic");

    b.kill_and_restart();
    assert_eq!(topic_config(&b, "cfg", "retention.ms")["source"], "default");
    assert_eq!(
        topic_config(&b, "cfg", "cleanup.policy")["value"],
        "compact"
    );
}

#[test]
fn invalid_values_are_refused_and_change_nothing() {
    let b = Broker::start();
    b.cli_ok(&["topic", "create", "bad", "--partitions", "1"], "");
    b.cli_ok(
        &["topic", "alter-config", "bad", "--set", "retention.ms=5000"],
        "",
    );

    // One bad op in the batch: nothing applies.
    let out = b.cli(
        &[
            "topic",
            "alter-config",
            "bad",
            "--set",
            "segment.ms=60000",
            "--set",
            "retention.ms=soon",
        ],
        "",
    );
    assert!(!out.status.success(), "invalid value accepted");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error:"), "{err}");
    assert!(err.contains("retention.ms"), "{err}");
    assert!(err.contains("INVALID_CONFIG"), "{err}");
    assert_eq!(topic_config(&b, "bad", "retention.ms")["value"], "5000");
    assert_eq!(topic_config(&b, "bad", "segment.ms")["source"], "default");

    let out = b.cli(
        &["topic", "alter-config", "bad", "--set", "no.such.key=1"],
        "",
    );
    assert!(!out.status.success(), "unknown key accepted");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no.such.key"), "{err}");

    // Unknown topic and no changes at all are errors too.
    let out = b.cli(
        &[
            "topic",
            "alter-config",
            "missing",
            "--set",
            "retention.ms=1",
        ],
        "",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing"));
    let out = b.cli(&["topic", "alter-config", "bad"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to change"));
}

#[test]
fn broker_config_defaults_flow_into_topics() {
    let mut b = Broker::start();
    b.cli_ok(&["topic", "create", "inherit", "--partitions", "1"], "");

    // Cluster-wide dynamic default for the broker key behind topic retention.ms.
    let out = b.cli_ok(
        &[
            "broker",
            "config",
            "--set",
            "log.retention.ms=4242",
            "--format",
            "json",
        ],
        "",
    );
    let v: Value = serde_json::from_str(&out).expect("json");
    let entry = v["configs"]
        .as_array()
        .expect("configs")
        .iter()
        .find(|c| c["name"] == "log.retention.ms")
        .expect("log.retention.ms described")
        .clone();
    assert_eq!(entry["value"], "4242");
    assert_eq!(entry["source"], "dynamic-default");

    // A topic without an override inherits it.
    let r = topic_config(&b, "inherit", "retention.ms");
    assert_eq!(r["value"], "4242", "{r}");
    assert_ne!(r["source"], "topic");

    // Broker 1's own view shows it too, and it survives a restart.
    b.kill_and_restart();
    let text = b.cli_ok(&["broker", "config", "--broker", "1"], "");
    assert!(text.contains("log.retention.ms = 4242"), "{text}");
    let r = topic_config(&b, "inherit", "retention.ms");
    assert_eq!(r["value"], "4242", "{r}");

    // Removing the default restores the previous value.
    b.cli_ok(&["broker", "config", "--delete", "log.retention.ms"], "");
    let r = topic_config(&b, "inherit", "retention.ms");
    assert_ne!(r["value"], "4242", "{r}");

    let out = b.cli(&["broker", "config", "--set", "log.retention.ms=x"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("log.retention.ms"));
}
