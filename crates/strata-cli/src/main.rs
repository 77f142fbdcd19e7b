//! `strata`: the broker, admin tool, console producer/consumer and benchmark in one binary.

mod bench;
mod bench_commit;

mod broker;
mod cli;
mod cluster;
mod configs;
mod consume;
mod datetime;
mod delivery;
mod group;
mod log_verify;
mod output;
mod produce;
mod server;
mod signals;
mod topic;

use std::process::ExitCode;

use clap::Parser;
use strata_client::ClientConfig;

use cli::{BenchCommand, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        // The server owns its runtime and logging setup.
        Command::Server(args) => server::run(args),
        // `cluster up` supervises child processes from its own runtime.
        Command::Cluster {
            command: cluster::ClusterCommand::Up(args),
        } => cluster::up(args, cli.format),
        // Offline: reads files, talks to no broker.
        Command::Log { command } => log_verify::run(command, cli.format),
        command => run_client(command, &cli.bootstrap, cli.format),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_client(command: Command, bootstrap: &str, format: cli::Format) -> anyhow::Result<()> {
    init_client_logging();
    let client = ClientConfig {
        client_id: "strata-cli".to_string(),
        ..ClientConfig::new(bootstrap)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match command {
            Command::Server(_)
            | Command::Log { .. }
            | Command::Cluster {
                command: cluster::ClusterCommand::Up(_),
            } => unreachable!("handled in main"),
            Command::Cluster {
                command: cluster::ClusterCommand::Info,
            } => cluster::info(client, format).await,
            Command::Topic { command } => topic::run(command, client, format).await,
            Command::Group { command } => group::run(command, client, format).await,
            Command::Broker { command } => broker::run(command, client, format).await,
            Command::Produce(args) => produce::run(args, client, format).await,
            Command::Consume(args) => consume::run(args, client, format).await,
            Command::Bench { command } => match command {
                BenchCommand::Produce(args) => bench::produce(args, client, format).await,
                BenchCommand::Consume(args) => bench::consume(args, client, format).await,
                BenchCommand::Commit(args) => {
                    let first = bootstrap.split(',').next().unwrap_or(bootstrap);
                    bench_commit::commit(args, first.to_string(), format).await
                }
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
