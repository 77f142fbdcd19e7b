//! `strata cluster up|info|...`: run a local multi-node cluster, and describe and operate
//! any cluster (elections, reassignments, log dirs).

mod elect;
mod info;
mod layout;
pub mod log_dirs;
mod log_dirs_move;
mod process;
pub mod reassign;
mod reassign_dirs;
mod up;
mod wait;

use anyhow::Result;
use clap::Subcommand;
use strata_client::ClientConfig;

use crate::cli::Format;

pub use elect::ElectArgs;
pub use up::UpArgs;
pub use wait::WaitArgs;

/// Cluster actions.
#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Start a local cluster of N nodes (each a controller and a broker) and keep it running
    /// in the foreground until Ctrl-C.
    Up(UpArgs),
    /// Show brokers, the controller, partition leadership per broker, and under-replicated
    /// and offline partitions.
    Info,
    /// Wait until N brokers are registered and unfenced (for scripts that start nodes).
    Wait(WaitArgs),
    /// Elect partition leaders: the preferred replica, or (unclean) any live replica of
    /// a leaderless partition.
    ElectLeaders(ElectArgs),
    /// Describe the metadata quorum: leader, epoch, high watermark, voters, observers.
    #[command(after_help = "Example:\n  strata cluster quorum --format json")]
    Quorum,
    /// Move partitions between brokers: plan, execute (optionally throttled), verify.
    Reassign {
        /// Reassignment action.
        #[command(subcommand)]
        command: reassign::ReassignCommand,
    },
    /// Describe every broker's log directories (path, errors, space, and per replica its
    /// size, offset lag and whether it is a future copy); `move` moves replicas between
    /// the directories of their broker.
    LogDirs(log_dirs::LogDirsArgs),
}

/// Runs `cluster up` (it owns its runtime; see `up::run`).
pub fn up(args: UpArgs, format: Format) -> Result<()> {
    up::run(args, format)
}

/// Runs `cluster wait`.
pub async fn wait(args: WaitArgs, client: ClientConfig, format: Format) -> Result<()> {
    wait::run(args, client, format).await
}

/// Runs `cluster elect-leaders`.
pub async fn elect_leaders(args: ElectArgs, client: ClientConfig, format: Format) -> Result<()> {
    elect::run(args, client, format).await
}

/// Runs `cluster quorum`.
pub async fn quorum(client: ClientConfig, format: Format) -> Result<()> {
    elect::quorum(client, format).await
}

/// Runs `cluster info`.
pub async fn info(client: ClientConfig, format: Format) -> Result<()> {
    info::run(client, format).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("strata").chain(args.iter().copied()))
    }

    #[test]
    fn up_flags() {
        let cli = parse(&[
            "cluster",
            "up",
            "--nodes",
            "3",
            "--dir",
            "/tmp/c",
            "--base-port",
            "19092",
            "--rack-per-node",
            "--set",
            "num.partitions=2",
            "--format",
            "json",
        ])
        .expect("parse");
        assert_eq!(cli.format, Format::Json);
        let Command::Cluster {
            command: ClusterCommand::Up(a),
        } = cli.command
        else {
            panic!("not cluster up");
        };
        assert_eq!(a.nodes, Some(3));
        assert_eq!(a.dir, std::path::PathBuf::from("/tmp/c"));
        assert_eq!(a.base_port, Some(19092));
        assert!(a.rack_per_node);
        assert_eq!(a.settings, vec!["num.partitions=2"]);
        assert_eq!((a.ready_timeout, a.stop_timeout), (60, 20));

        let cli = parse(&["cluster", "up"]).expect("parse");
        let Command::Cluster {
            command: ClusterCommand::Up(a),
        } = cli.command
        else {
            panic!("not cluster up");
        };
        assert_eq!(a.nodes, None);
        assert_eq!(a.dir, std::path::PathBuf::from("./strata-cluster"));
        assert!(parse(&["cluster", "up", "--base-port", "70000"]).is_err());
    }

    #[test]
    fn info_takes_the_global_bootstrap() {
        let cli = parse(&["cluster", "info", "-b", "h:1,h:2"]).expect("parse");
        assert_eq!(cli.bootstrap, "h:1,h:2");
        assert!(matches!(
            cli.command,
            Command::Cluster {
                command: ClusterCommand::Info
            }
        ));
    }
}
