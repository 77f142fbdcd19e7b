//! `strata`: the broker, admin tool, console producer/consumer and benchmark in one binary.

mod bench;
mod bench_commit;
mod bench_registry;

mod acl;
mod broker;
mod cli;
mod client_settings;
mod cluster;
mod configs;
mod consume;
mod consume_offsets;
mod datetime;
mod delivery;
mod duration;
mod examples;
mod group;
mod group_reset;
mod log_verify;
mod malloc_tuning;
mod output;
mod produce;
mod produce_line;
mod profile;
mod quota;
mod schema;
mod server;
mod signals;
mod template;
mod time_synonyms;
mod topic;
mod topic_ops;
mod user;

use std::process::ExitCode;

use strata_client::ClientConfig;

use cli::{BenchCommand, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse_all();
    let offline = matches!(
        cli.command,
        Command::Server(_)
            | Command::Log { .. }
            | Command::Schema { .. }
            | Command::Completions { .. }
            | Command::Cluster {
                command: cluster::ClusterCommand::Up(_)
            }
    );
    if offline && !cli.property.is_empty() {
        eprintln!(
            "error: -X sets client settings; this command is not a client (servers take --set)"
        );
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        // The server owns its runtime and logging setup.
        Command::Server(args) => server::run(args),
        // `cluster up` supervises child processes from its own runtime.
        Command::Cluster {
            command: cluster::ClusterCommand::Up(args),
        } => cluster::up(args, cli.format),
        // Offline: reads files, talks to no broker.
        Command::Log { command } => log_verify::run(command, cli.format),
        // HTTP to the schema registry, not a Kafka client.
        Command::Schema { registry, command } => {
            init_client_logging();
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|rt| rt.block_on(schema::run(command, registry, cli.format)))
        }
        // Offline: the profiles file (`create` stores the -X settings).
        Command::Profile { command } => profile::run(
            command,
            &cli.property,
            cli.bootstrap_given.then_some(cli.bootstrap.as_str()),
            cli.format,
        ),
        Command::Completions { shell } => {
            let mut cmd = cli::Cli::full_command();
            clap_complete::generate(shell, &mut cmd, "strata", &mut std::io::stdout());
            Ok(())
        }
        command => profile::resolve(
            cli.bootstrap_given.then_some(cli.bootstrap.as_str()),
            cli.profile.as_deref(),
        )
        .and_then(|resolved| {
            let mut settings = resolved.settings;
            settings.extend(client_settings::collect(
                cli.config_file.as_deref(),
                &cli.property,
            )?);
            run_client(command, &resolved.bootstrap, &settings, cli.format)
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_client(
    command: Command,
    bootstrap: &str,
    settings: &[client_settings::Setting],
    format: cli::Format,
) -> anyhow::Result<()> {
    init_client_logging();
    let mut client = ClientConfig {
        client_id: "strata-cli".to_string(),
        ..ClientConfig::new(bootstrap)
    };
    let mut command = command;
    if let Command::Consume(args) = &mut command {
        // `consume` also takes consumer settings through -X.
        let extra = client_settings::apply(
            &mut client,
            settings,
            &|k| consume::CONSUMER_KEYS.contains(&k),
            consume::CONSUMER_KEYS,
        )?;
        let flags = std::mem::take(&mut args.consumer_property);
        args.consumer_property = extra.into_iter().chain(flags).collect();
    } else {
        client_settings::apply(&mut client, settings, &|_| false, &[])?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match command {
            Command::Server(_)
            | Command::Log { .. }
            | Command::Schema { .. }
            | Command::Profile { .. }
            | Command::Completions { .. }
            | Command::Cluster {
                command: cluster::ClusterCommand::Up(_),
            } => unreachable!("handled in main"),
            Command::Cluster {
                command: cluster::ClusterCommand::Info,
            } => cluster::info(client, format).await,
            Command::Cluster {
                command: cluster::ClusterCommand::Wait(args),
            } => cluster::wait(args, client, format).await,
            Command::Cluster {
                command: cluster::ClusterCommand::Reassign { command },
            } => cluster::reassign::run(command, client, format).await,
            Command::Cluster {
                command: cluster::ClusterCommand::ElectLeaders(args),
            } => cluster::elect_leaders(args, client, format).await,
            Command::Cluster {
                command: cluster::ClusterCommand::Quorum,
            } => cluster::quorum(client, format).await,
            Command::Cluster {
                command: cluster::ClusterCommand::LogDirs(args),
            } => cluster::log_dirs::run(args, client, format).await,
            Command::Topic { command } => topic::run(command, client, format).await,
            Command::Group { command } => group::run(command, client, format).await,
            Command::Broker { command } => broker::run(command, client, format).await,
            Command::Produce(args) => produce::run(args, client, format).await,
            Command::Consume(args) => consume::run(args, client, format).await,
            Command::Acl { command } => acl::run(command, client, format).await,
            Command::User { command } => user::run(command, client, format).await,
            Command::Quota { command } => quota::run(command, client, format).await,
            Command::Bench { command } => match command {
                BenchCommand::Produce(args) => bench::produce(args, client, format).await,
                BenchCommand::Consume(args) => bench::consume(args, client, format).await,
                BenchCommand::Commit(args) => {
                    if client.security.protocol != strata_client::SecurityProtocol::Plaintext {
                        anyhow::bail!("bench commit speaks plaintext only (no TLS or SASL)");
                    }
                    let first = bootstrap.split(',').next().unwrap_or(bootstrap);
                    bench_commit::commit(args, first.to_string(), format).await
                }
                BenchCommand::Registry(args) => bench_registry::run(args, format).await,
            },
        }
    })
}

/// Client commands log only when asked (`RUST_LOG`), so stdout/stderr stay clean for scripts.
fn init_client_logging() {
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
}
