//! `strata broker config`: show or change broker settings.

use std::io::Write;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;
use strata_client::{Admin, ClientConfig, ConfigResource};

use crate::cli::Format;
use crate::configs::{config_json, write_config_line, ConfigChanges};

/// Broker actions.
#[derive(Subcommand, Debug)]
pub enum BrokerCommand {
    /// Show a broker's effective settings with their sources; with --set/--delete, change
    /// them dynamically first.
    Config(BrokerConfigArgs),
}

/// Flags of `broker config`.
#[derive(Args, Debug)]
pub struct BrokerConfigArgs {
    /// Broker id whose own settings to show or change [default: the cluster-wide dynamic
    /// defaults every broker inherits].
    #[arg(long)]
    pub broker: Option<i32>,
    /// The changes, if any.
    #[command(flatten)]
    pub changes: ConfigChanges,
}

/// Runs a broker command.
pub async fn run(cmd: BrokerCommand, config: ClientConfig, format: Format) -> Result<()> {
    let admin = Admin::new(config)?;
    let mut out = std::io::stdout().lock();
    match cmd {
        BrokerCommand::Config(a) => {
            let resource = ConfigResource::Broker(a.broker);
            if !a.changes.is_empty() {
                let ops = a.changes.into_ops()?;
                let n = ops.len();
                admin.alter_broker_config(a.broker, ops).await?;
                if format == Format::Text {
                    writeln!(out, "altered {n} config(s) of {}", resource.label())?;
                }
            }
            let configs = admin.describe_configs(&resource).await?;
            match format {
                Format::Text => {
                    writeln!(out, "Configs of {}:", resource.label())?;
                    for c in &configs {
                        write_config_line(&mut out, c)?;
                    }
                }
                Format::Json => {
                    let v = json!({
                        "broker": a.broker,
                        "configs": configs.iter().map(config_json).collect::<Vec<_>>(),
                    });
                    writeln!(out, "{v}")?;
                }
            }
        }
    }
    Ok(())
}
