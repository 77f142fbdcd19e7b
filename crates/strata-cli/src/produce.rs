//! `strata produce TOPIC`: one record per stdin line, with optional per-line timestamp and
//! key, fixed headers, and tombstones (null values). A missing topic is created when the
//! broker's `auto.create.topics.enable` allows, as with any Kafka producer.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use bytes::Bytes;
use clap::Args;
use serde_json::json;
use strata_client::{
    parse_compression, Acks, ClientConfig, Producer, ProducerConfig, ProducerRecord,
};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::cli::Format;
use crate::delivery::Deliveries;
use crate::produce_line::{parse_header, parse_timestamp, LineFormat};

const EXAMPLES: &str = "\
Examples:
  printf 'user-1:first\\nuser-2:second\\n' | strata produce orders -K :
  printf 'user-1:\\n' | strata produce orders -K : -Z          # a tombstone (null value) for user-1
  printf 'user-1:DELETE\\n' | strata produce orders -K : --null-value-marker DELETE
  echo paid | strata produce orders -k user-1 -H source=web -H trace=a1 -H trace=b2
  echo late | strata produce orders --timestamp 1700000000000
  printf '1700000000000,user-1:a\\n' | strata produce orders --timestamp-separator , -K :
  strata produce orders --compression zstd --acks all --partition 0 < lines.txt

Line format: [MS<TIMESTAMP-SEP>][KEY<KEY-SEP>]VALUE. A topic that does not exist is created
when the broker allows it (auto.create.topics.enable).";

/// Flags of `produce`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct ProduceArgs {
    /// Topic to write to.
    pub topic: String,
    /// Split each line at the first SEP into key and value (lines without SEP have no key).
    #[arg(long, short = 'K', visible_alias = "key-delimiter", value_name = "SEP")]
    pub key_separator: Option<String>,
    /// The key of every record.
    #[arg(
        long,
        short = 'k',
        value_name = "KEY",
        conflicts_with = "key_separator"
    )]
    pub key: Option<String>,
    /// A header added to every record; repeatable (repeated keys are kept, in order).
    #[arg(long = "header", short = 'H', value_name = "KEY=VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, Bytes)>,
    /// Send an empty value as null (a tombstone) and an empty key as no key, like kcat's -Z.
    #[arg(long = "null-empty", short = 'Z')]
    pub null_empty: bool,
    /// Send a value exactly equal to this as null (a tombstone).
    #[arg(long, value_name = "MARKER")]
    pub null_value_marker: Option<String>,
    /// The timestamp of every record, ms since the epoch (default: now).
    #[arg(long, value_name = "MS", value_parser = parse_timestamp)]
    pub timestamp: Option<i64>,
    /// Every line starts with its own timestamp (ms since the epoch) followed by SEP.
    #[arg(long, value_name = "SEP", conflicts_with = "timestamp")]
    pub timestamp_separator: Option<String>,
    /// Batch compression: none, gzip, snappy, lz4, zstd.
    #[arg(long, default_value = "none", value_parser = check_compression)]
    pub compression: String,
    /// Acknowledgements: 0, 1, -1/all.
    #[arg(long, default_value = "all", allow_hyphen_values = true, value_parser = check_acks)]
    pub acks: String,
    /// Send every record to this partition instead of partitioning by key.
    #[arg(long)]
    pub partition: Option<i32>,
    /// How long to wait for more records before sending a partial batch.
    #[arg(long, default_value_t = 5)]
    pub linger_ms: u64,
    /// Target batch size in bytes.
    #[arg(long, default_value_t = 16384)]
    pub batch_size: usize,
}

/// clap validator for `--compression`.
pub fn check_compression(s: &str) -> Result<String, String> {
    parse_compression(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

/// clap validator for `--acks`.
pub fn check_acks(s: &str) -> Result<String, String> {
    s.parse::<Acks>()
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

/// Builds a producer config from the shared flags.
pub fn producer_config(
    client: ClientConfig,
    acks: &str,
    compression: &str,
    linger_ms: u64,
    batch_size: usize,
) -> Result<ProducerConfig> {
    let config = ProducerConfig {
        client,
        acks: acks.parse()?,
        compression: parse_compression(compression)?,
        linger: Duration::from_millis(linger_ms),
        batch_size,
        ..ProducerConfig::default()
    };
    config.validate()?;
    Ok(config)
}

/// Runs `produce`.
pub async fn run(args: ProduceArgs, client: ClientConfig, format: Format) -> Result<()> {
    let config = producer_config(
        client,
        &args.acks,
        &args.compression,
        args.linger_ms,
        args.batch_size,
    )?;
    for (sep, flag) in [
        (&args.key_separator, "--key-separator"),
        (&args.timestamp_separator, "--timestamp-separator"),
    ] {
        if sep.as_deref() == Some("") {
            bail!("{flag} must not be empty");
        }
    }
    let format_of_lines = LineFormat {
        key_separator: args.key_separator.clone(),
        timestamp_separator: args.timestamp_separator.clone(),
        fixed_key: args
            .key
            .as_ref()
            .map(|k| Bytes::copy_from_slice(k.as_bytes())),
        null_empty: args.null_empty,
        null_marker: args.null_value_marker.clone(),
    };
    let headers: Vec<(String, Option<Bytes>)> = args
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    let producer = Producer::new(config)?;
    let deliveries = Deliveries::start(None);
    let started = Instant::now();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut sent = 0u64;
    while let Some(line) = lines.next_line().await? {
        let line = format_of_lines.parse(&line, sent + 1)?;
        let record = ProducerRecord {
            topic: args.topic.clone(),
            partition: args.partition,
            key: line.key,
            value: line.value,
            headers: headers.clone(),
            timestamp: line.timestamp.or(args.timestamp),
        };
        // Enqueue failures (unknown topic, bad partition) are fatal: every later line would
        // fail the same way.
        let fut = producer.enqueue(record).await?;
        deliveries.track(Instant::now(), fut);
        sent += 1;
    }
    producer.flush().await;
    let stats = deliveries.finish().await?;
    let elapsed = started.elapsed();
    let partitions: Vec<String> = stats
        .per_partition
        .iter()
        .map(|(p, n)| format!("{p}:{n}"))
        .collect();
    match format {
        Format::Text => eprintln!(
            "produced {} of {} records to '{}' in {:.3} s (partition:count {})",
            stats.ok,
            sent,
            args.topic,
            elapsed.as_secs_f64(),
            if partitions.is_empty() {
                "-".to_string()
            } else {
                partitions.join(" ")
            }
        ),
        Format::Json => eprintln!(
            "{}",
            json!({"topic": args.topic, "sent": sent, "acknowledged": stats.ok,
                   "failed": stats.failed, "elapsed_s": elapsed.as_secs_f64(),
                   "per_partition": stats.per_partition})
        ),
    }
    if let Some(e) = stats.first_error {
        bail!("{} of {} records failed: {e}", stats.failed, sent);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_flags() {
        let c = producer_config(ClientConfig::default(), "1", "gzip", 20, 1000).expect("valid");
        assert_eq!(c.acks, Acks::Leader);
        assert_eq!(c.linger, Duration::from_millis(20));
        assert!(producer_config(ClientConfig::default(), "1", "gzip", 20, 0).is_err());
    }
}
