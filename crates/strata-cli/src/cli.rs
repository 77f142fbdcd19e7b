//! The command-line grammar (clap derive). Each command's own flags live with its code.

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{
    Arg, ArgAction, ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum,
};

use crate::bench::{ConsumeBenchArgs, ProduceBenchArgs};
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
    /// Broker(s) to bootstrap from, HOST[:PORT][,HOST[:PORT]...] (port 9092 when left out);
    /// overrides the profile's brokers.
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        env = "STRATA_BOOTSTRAP",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    pub bootstrap: String,
    /// Whether -b / STRATA_BOOTSTRAP was given (else a profile's brokers apply); set by
    /// [`Cli::try_parse_all_from`].
    #[arg(skip)]
    pub bootstrap_given: bool,
    /// The connection profile to use instead of the current one (see `strata profile`).
    #[arg(long, env = "STRATA_PROFILE", value_name = "NAME", global = true)]
    pub profile: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    pub format: Format,
    /// A client setting by librdkafka's name, as kcat takes it: security.protocol,
    /// sasl.mechanism, sasl.username, sasl.password, ssl.ca.location,
    /// ssl.certificate.location, ssl.key.location, enable.ssl.certificate.verification,
    /// ssl.endpoint.identification.algorithm (https or none)
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
        let matches = Self::full_command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        let given = |m: &ArgMatches| {
            matches!(
                m.value_source("bootstrap"),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        };
        cli.bootstrap_given = given(&matches);
        let mut level: Option<&ArgMatches> = matches.subcommand().map(|(_, m)| m);
        while let Some(m) = level {
            if let Some(values) = m.get_many::<(String, String)>(SUB_PROPERTY) {
                cli.property.extend(values.cloned());
            }
            cli.bootstrap_given |= given(m);
            level = m.subcommand().map(|(_, m)| m);
        }
        Ok(cli)
    }

    /// The whole grammar as parsed: `-X` at every level and an example in every
    /// subcommand's help (see [`crate::examples`]).
    pub fn full_command() -> clap::Command {
        let top = Cli::command();
        let names: Vec<String> = top
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        let mut cmd = top;
        for n in names {
            cmd = cmd.mut_subcommand(n, with_sub_property);
        }
        crate::examples::attach(cmd)
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
    /// Manage connection profiles (brokers and client settings by name).
    Profile {
        /// Profile action.
        #[command(subcommand)]
        command: crate::profile::ProfileCommand,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
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
    /// Produce N records of B bytes as fast as possible, or at a fixed --rate.
    Produce(ProduceBenchArgs),
    /// Consume N records from the beginning of a topic.
    Consume(ConsumeBenchArgs),
    /// Offset commits per second (each acknowledged once durable).
    Commit(crate::bench_commit::CommitBenchArgs),
    /// Schema registry: registrations per second, reads by id per second.
    Registry(crate::bench_registry::RegistryBenchArgs),
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
