//! Parsing tests of the command-line grammar.

use super::*;
use crate::topic::TopicCommand;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_all_from(std::iter::once("strata").chain(args.iter().copied()))
}

#[test]
fn clap_definition_is_consistent() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
}

#[test]
fn global_flags_anywhere() {
    let cli = parse(&["topic", "list", "-b", "h:1", "--format", "json"]).expect("parse");
    assert_eq!(cli.bootstrap, "h:1");
    assert_eq!(cli.format, Format::Json);
    let cli = parse(&["--bootstrap-server", "h:2", "topic", "list"]).expect("parse");
    assert_eq!(cli.bootstrap, "h:2");
    assert_eq!(cli.format, Format::Text);
}

#[test]
fn topic_create_flags() {
    let cli = parse(&[
        "topic",
        "create",
        "orders",
        "--partitions",
        "3",
        "--replication-factor",
        "1",
        "--config",
        "retention.ms=1000",
        "--config",
        "cleanup.policy=compact",
    ])
    .expect("parse");
    match cli.command {
        Command::Topic {
            command: TopicCommand::Create(a),
        } => {
            assert_eq!(a.name, "orders");
            assert_eq!(a.partitions, Some(3));
            assert_eq!(a.replication_factor, Some(1));
            assert_eq!(a.config.len(), 2);
            assert_eq!(a.config[1], ("cleanup.policy".into(), "compact".into()));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(parse(&["topic", "create", "x", "--config", "novalue"]).is_err());
    assert!(parse(&["topic", "create"]).is_err());
}

#[test]
fn produce_and_consume_flags() {
    let cli = parse(&[
        "produce",
        "t",
        "--key-separator",
        ":",
        "--compression",
        "zstd",
        "--acks",
        "1",
        "--partition",
        "2",
    ])
    .expect("parse");
    let Command::Produce(p) = cli.command else {
        panic!("not produce")
    };
    assert_eq!(p.key_separator.as_deref(), Some(":"));
    assert_eq!(p.compression, "zstd");
    assert_eq!(p.acks, "1");
    assert_eq!(p.partition, Some(2));
    assert!(parse(&["produce", "t", "--acks", "7"]).is_err());
    assert!(parse(&["produce", "t", "--compression", "brotli"]).is_err());

    let cli = parse(&[
        "consume",
        "t",
        "--from-beginning",
        "--partition",
        "0",
        "--count",
        "5",
        "--format",
        "json",
    ])
    .expect("parse");
    assert_eq!(cli.format, Format::Json);
    let Command::Consume(c) = cli.command else {
        panic!("not consume")
    };
    assert!(c.from_beginning);
    assert_eq!(c.partition, Some(0));
    assert_eq!(c.count, Some(5));
    assert!(parse(&["consume", "t", "--from-beginning", "--offset", "3"]).is_err());
}

#[test]
fn config_flags() {
    let cli = parse(&[
        "topic",
        "alter-config",
        "t",
        "--set",
        "retention.ms=1",
        "--delete",
        "segment.ms",
    ])
    .expect("parse");
    let Command::Topic {
        command: TopicCommand::AlterConfig { name, changes },
    } = cli.command
    else {
        panic!("not alter-config")
    };
    assert_eq!(name, "t");
    assert_eq!(changes.set, vec![("retention.ms".into(), "1".into())]);
    assert_eq!(changes.delete, vec!["segment.ms".to_string()]);
    assert!(parse(&["topic", "alter-config", "t", "--set", "novalue"]).is_err());

    let cli = parse(&["broker", "config", "--broker", "1"]).expect("parse");
    let Command::Broker {
        command: crate::broker::BrokerCommand::Config(a),
    } = cli.command
    else {
        panic!("not broker config")
    };
    assert_eq!(a.broker, Some(1));
    assert!(a.changes.is_empty());
}

#[test]
fn bench_flags() {
    let cli = parse(&[
        "bench",
        "produce",
        "--topic",
        "b",
        "--records",
        "1000",
        "--record-size",
        "64",
        "--linger-ms",
        "10",
        "--batch-size",
        "32768",
        "--compression",
        "lz4",
        "--acks",
        "all",
    ])
    .expect("parse");
    let Command::Bench {
        command: BenchCommand::Produce(b),
    } = cli.command
    else {
        panic!("not bench produce")
    };
    assert_eq!(b.topic, "b");
    assert_eq!(b.records, 1000);
    assert_eq!(b.record_size, 64);
    assert_eq!(b.linger_ms, 10);
    assert_eq!(b.batch_size, 32768);
    assert!(parse(&["bench", "consume"]).is_err(), "--topic is required");
}

#[test]
fn client_settings_anywhere_and_repeatable() {
    let cli = parse(&[
        "topic",
        "list",
        "-X",
        "security.protocol=SASL_SSL",
        "-X",
        "sasl.mechanism=SCRAM-SHA-512",
        "--property",
        "sasl.password=a=b",
        "-F",
        "/tmp/client.properties",
    ])
    .expect("parse");
    assert_eq!(
        cli.property,
        vec![
            ("security.protocol".into(), "SASL_SSL".into()),
            ("sasl.mechanism".into(), "SCRAM-SHA-512".into()),
            ("sasl.password".into(), "a=b".into()),
        ]
    );
    assert_eq!(
        cli.config_file.as_deref(),
        Some(std::path::Path::new("/tmp/client.properties"))
    );
    for cmd in [
        &["produce", "t"][..],
        &["consume", "t"],
        &["group", "list"],
        &["broker", "config"],
        &["cluster", "info"],
        &["acl", "list"],
        &["user", "list"],
        &["quota", "list"],
    ] {
        let mut args = cmd.to_vec();
        args.extend(["-X", "sasl.username=u"]);
        let cli = parse(&args).unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        assert_eq!(cli.property.len(), 1, "{cmd:?}");
    }
    assert!(parse(&["topic", "list", "-X", "novalue"]).is_err());
    // Before, between and after subcommands: all kept, in command-line order.
    let cli = parse(&[
        "-X",
        "a=1",
        "topic",
        "-X",
        "b=2",
        "list",
        "-Xc=3",
        "--property=d=4",
    ])
    .expect("parse");
    let keys: Vec<&str> = cli.property.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["a", "b", "c", "d"]);
    assert_eq!(
        parse(&["server", "-X", "a=1"])
            .expect("parses")
            .property
            .len(),
        1
    );
}

#[test]
fn bootstrap_env_default() {
    // clap reads the env var at parse time; only check the default without touching the
    // process environment (tests run in parallel).
    if std::env::var_os("STRATA_BOOTSTRAP").is_none() {
        let cli = parse(&["topic", "list"]).expect("parse");
        assert_eq!(cli.bootstrap, "127.0.0.1:9092");
    }
}

#[test]
fn group_commands() {
    use crate::group::GroupCommand;
    let cli = parse(&["group", "list", "--state", "Stable", "--state", "Empty"]).expect("parse");
    let Command::Group {
        command: GroupCommand::List { state },
    } = cli.command
    else {
        panic!("not group list")
    };
    assert_eq!(state, vec!["Stable", "Empty"]);
    assert!(matches!(
        parse(&["group", "describe", "g1", "--format", "json"]).expect("parse").command,
        Command::Group { command: GroupCommand::Describe { groups, isolation: crate::group::Isolation::ReadUncommitted } } if groups == ["g1"]
    ));
    assert!(matches!(
        parse(&["group", "delete", "g1"]).expect("parse").command,
        Command::Group { command: GroupCommand::Delete { groups } } if groups == ["g1"]
    ));
    assert!(parse(&["group", "describe"]).is_err(), "group id required");
}

#[test]
fn reset_offsets_needs_exactly_one_target() {
    use crate::group::GroupCommand;
    let cli = parse(&[
        "group",
        "reset-offsets",
        "g",
        "--topic",
        "t",
        "--to-datetime",
        "2026-11-23T10:00:00Z",
        "--execute",
    ])
    .expect("parse");
    let Command::Group {
        command: GroupCommand::ResetOffsets(r),
    } = cli.command
    else {
        panic!("not reset-offsets")
    };
    assert_eq!(r.groups, vec!["g"]);
    assert_eq!(r.topic, vec!["t"]);
    assert_eq!(r.to_datetime.as_deref(), Some("2026-11-23T10:00:00Z"));
    assert!(r.execute && !r.dry_run);
    let dry = parse(&[
        "group",
        "reset-offsets",
        "g",
        "--topic",
        "t",
        "--to-offset",
        "5",
    ])
    .expect("parse");
    let Command::Group {
        command: GroupCommand::ResetOffsets(r),
    } = dry.command
    else {
        panic!("not reset-offsets")
    };
    assert_eq!(r.to_offset, Some(5));
    assert!(!r.execute, "dry run by default");
    assert!(
        parse(&["group", "reset-offsets", "g", "--topic", "t"]).is_err(),
        "no target"
    );
    assert!(parse(&[
        "group",
        "reset-offsets",
        "g",
        "--topic",
        "t",
        "--to-earliest",
        "--to-latest"
    ])
    .is_err());
    assert!(
        parse(&["group", "reset-offsets", "g", "--to-earliest"]).is_err(),
        "topic required"
    );
    assert!(parse(&[
        "group",
        "reset-offsets",
        "g",
        "--topic",
        "t",
        "--to-earliest",
        "--dry-run",
        "--execute"
    ])
    .is_err());
}

#[test]
fn consume_with_group() {
    let cli = parse(&[
        "consume",
        "t",
        "--group",
        "g",
        "--from-beginning",
        "--consumer-property",
        "session.timeout.ms=10000",
        "--consumer-property",
        "partition.assignment.strategy=cooperative-sticky",
        "--timeout-ms",
        "2000",
    ])
    .expect("parse");
    let Command::Consume(c) = cli.command else {
        panic!("not consume")
    };
    assert_eq!(c.group.as_deref(), Some("g"));
    assert_eq!(c.timeout_ms, Some(2000));
    let config = crate::consume::consumer_config(&c, strata_client::ClientConfig::default())
        .expect("config");
    assert_eq!(config.group_id.as_deref(), Some("g"));
    assert_eq!(config.session_timeout, std::time::Duration::from_secs(10));
    assert_eq!(
        config.auto_offset_reset,
        strata_client::OffsetReset::Earliest
    );
    assert_eq!(
        config.partition_assignment_strategy,
        vec![strata_client::AssignmentStrategy::CooperativeSticky]
    );
    assert!(parse(&["consume", "t", "--group", "g", "--partition", "1"]).is_err());
    assert!(parse(&["consume", "t", "--group", "g", "--offset", "1"]).is_err());
    let bad = parse(&[
        "consume",
        "t",
        "--group",
        "g",
        "--consumer-property",
        "auto.offset.reset=sideways",
    ])
    .expect("parse");
    let Command::Consume(c) = bad.command else {
        panic!("not consume")
    };
    let e = crate::consume::consumer_config(&c, strata_client::ClientConfig::default())
        .expect_err("bad value");
    assert!(e.to_string().contains("auto.offset.reset"), "{e}");
}
