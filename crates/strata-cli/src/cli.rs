//! The command-line grammar (clap derive). Each command's own flags live with its code.

use std::path::PathBuf;

use clap::{
    Arg, ArgAction, ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum,
};

use crate::bench::BenchArgs;
use crate::broker::BrokerCommand;
use crate::cluster::ClusterCommand;
use crate::consume::ConsumeArgs;
use crate::group::GroupCommand;
use crate::produce::ProduceArgs;
use crate::server::ServerArgs;
use crate::topic::TopicCommand;

/// Strata: a Kafka-protocol commit log. One binary: broker, admin tool, producer, consumer, bench.
#[derive(Parser, Debug)]
#[command(name = "strata", version, about, propagate_version = true)]
pub struct Cli {
    /// Broker(s) to bootstrap from, HOST:PORT[,HOST:PORT...].
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        env = "STRATA_BOOTSTRAP",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    pub bootstrap: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    pub format: Format,
    /// A client setting by librdkafka's name, as kcat takes it: security.protocol,
    /// sasl.mechanism, sasl.username, sasl.password, ssl.ca.location,
    /// ssl.certificate.location, ssl.key.location, enable.ssl.certificate.verification
    /// (and consumer settings for `consume`); repeatable, overrides --config-file. Taken
    /// before and after the subcommand alike (see [`Cli::parse_all`]).
    #[arg(
        short = 'X',
        long = "property",
        value_name = "KEY=VALUE",
        value_parser = crate::topic::parse_key_value
    )]
    pub property: Vec<(String, String)>,
    /// A properties file of client settings (the -X keys, `key=value` lines, `#` comments).
    #[arg(
        short = 'F',
        long = "config-file",
        env = "STRATA_CLIENT_CONFIG",
        value_name = "FILE",
        global = true
    )]
    pub config_file: Option<PathBuf>,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The id of the `-X` flag each subcommand gets (see [`Cli::parse_all`]).
const SUB_PROPERTY: &str = "sub_property";

/// Adds `-X` to `cmd` and, recursively, to its subcommands.
fn with_sub_property(cmd: clap::Command) -> clap::Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    let mut cmd = cmd.arg(
        Arg::new(SUB_PROPERTY)
            .short('X')
            .long("property")
            .value_name("KEY=VALUE")
            .action(ArgAction::Append)
            .value_parser(crate::topic::parse_key_value)
            .help("A client setting by librdkafka's name (see `strata --help`); repeatable"),
    );
    for n in names {
        cmd = cmd.mut_subcommand(n, with_sub_property);
    }
    cmd
}

impl Cli {
    /// Parses the process's arguments, exiting with clap's message on an error.
    pub fn parse_all() -> Cli {
        Self::try_parse_all_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// Parses `args`, taking `-X` at every level: before the subcommand and after it.
    /// (A clap `global` flag keeps the values of one position only and would silently
    /// drop the others.)
    pub fn try_parse_all_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let top = Cli::command();
        let names: Vec<String> = top
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        let mut cmd = top;
        for n in names {
            cmd = cmd.mut_subcommand(n, with_sub_property);
        }
        let matches = cmd.try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        let mut level: Option<&ArgMatches> = matches.subcommand().map(|(_, m)| m);
        while let Some(m) = level {
            if let Some(values) = m.get_many::<(String, String)>(SUB_PROPERTY) {
                cli.property.extend(values.cloned());
            }
            level = m.subcommand().map(|(_, m)| m);
        }
        Ok(cli)
    }
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// For scripts: JSON (one object per line for streams).
    Json,
}

/// Top-level commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a broker.
    Server(ServerArgs),
    /// Run a local multi-node cluster, or describe a cluster.
    Cluster {
        /// Cluster action.
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Manage topics.
    Topic {
        /// Topic action.
        #[command(subcommand)]
        command: TopicCommand,
    },
    /// Manage consumer groups.
    Group {
        /// Group action.
        #[command(subcommand)]
        command: GroupCommand,
    },
    /// Show or change broker settings.
    Broker {
        /// Broker action.
        #[command(subcommand)]
        command: BrokerCommand,
    },
    /// Produce lines from stdin to a topic.
    Produce(ProduceArgs),
    /// Print records from a topic.
    Consume(ConsumeArgs),
    /// Measure throughput and latency.
    Bench {
        /// What to measure.
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Manage ACLs (CreateAcls, DescribeAcls, DeleteAcls).
    Acl {
        /// ACL action.
        #[command(subcommand)]
        command: crate::acl::AclCommand,
    },
    /// Manage SCRAM users (AlterUserScramCredentials, DescribeUserScramCredentials).
    User {
        /// User action.
        #[command(subcommand)]
        command: crate::user::UserCommand,
    },
    /// Manage client quotas (AlterClientQuotas, DescribeClientQuotas).
    Quota {
        /// Quota action.
        #[command(subcommand)]
        command: crate::quota::QuotaCommand,
    },
    /// Offline tools for a stopped broker's data directory.
    Log {
        /// Log action.
        #[command(subcommand)]
        command: crate::log_verify::LogCommand,
    },
    /// Manage schemas in the schema registry (Confluent's REST API).
    Schema {
        /// Where the registry is.
        #[command(flatten)]
        registry: crate::schema::RegistryArgs,
        /// Schema action.
        #[command(subcommand)]
        command: crate::schema::SchemaCommand,
    },
}

/// Benchmarks.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Produce N records of B bytes as fast as possible.
    Produce(BenchArgs),
    /// Consume N records from the beginning of a topic.
    Consume(BenchArgs),
    /// Offset commits per second (each acknowledged once durable).
    Commit(crate::bench_commit::CommitBenchArgs),
    /// Schema registry: registrations per second, reads by id per second.
    Registry(crate::bench_registry::RegistryBenchArgs),
}

#[cfg(test)]
mod tests {
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
        let cli =
            parse(&["group", "list", "--state", "Stable", "--state", "Empty"]).expect("parse");
        let Command::Group {
            command: GroupCommand::List { state },
        } = cli.command
        else {
            panic!("not group list")
        };
        assert_eq!(state, vec!["Stable", "Empty"]);
        assert!(matches!(
            parse(&["group", "describe", "g1", "--format", "json"]).expect("parse").command,
            Command::Group { command: GroupCommand::Describe { group, isolation: crate::group::Isolation::ReadUncommitted } } if group == "g1"
        ));
        assert!(matches!(
            parse(&["group", "delete", "g1"]).expect("parse").command,
            Command::Group { command: GroupCommand::Delete { group } } if group == "g1"
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
        assert_eq!(r.group, "g");
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
}
