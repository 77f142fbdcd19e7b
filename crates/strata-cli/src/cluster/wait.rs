//! `strata cluster wait --brokers N`: waits until N brokers are registered and unfenced,
//! for scripts that start nodes and then use the cluster (a broker that is not up yet
//! refuses connections; that is retried too).

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;
use strata_client::{Admin, ClientConfig};

use crate::cli::Format;

/// Arguments of `cluster wait`.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  strata -b 127.0.0.1:19092 cluster wait --brokers 3 --timeout 60"
)]
pub struct WaitArgs {
    /// Brokers that must be registered (and not fenced).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub brokers: u32,
    /// Give up after this many seconds (exit code 1).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
}

/// How often the cluster is asked.
const POLL: Duration = Duration::from_millis(200);

/// Runs `cluster wait`.
pub async fn run(args: WaitArgs, client: ClientConfig, format: Format) -> Result<()> {
    let wanted = args.brokers as usize;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let mut seen = None::<usize>;
    loop {
        let last_error = match count(&client).await {
            Ok(n) => {
                if seen != Some(n) && matches!(format, Format::Text) {
                    eprintln!("{n} of {wanted} brokers registered");
                }
                seen = Some(n);
                if n >= wanted {
                    return report(format, n, wanted);
                }
                None
            }
            Err(e) => Some(e.to_string()),
        };
        if Instant::now() >= deadline {
            let why = match (seen, last_error) {
                (_, Some(e)) => format!("the cluster did not answer: {e}"),
                (Some(n), None) => format!("only {n} are registered"),
                (None, None) => "no answer".to_string(),
            };
            bail!(
                "{wanted} brokers not registered within {} s: {why}",
                args.timeout
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn count(client: &ClientConfig) -> Result<usize> {
    let admin = Admin::new(client.clone())?;
    Ok(admin.describe_cluster().await?.brokers.len())
}

fn report(format: Format, n: usize, wanted: usize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => writeln!(
            out,
            "{}",
            json!({"brokers": n, "wanted": wanted, "ready": true})
        )?,
        Format::Text => writeln!(out, "{n} brokers registered")?,
    }
    Ok(())
}
