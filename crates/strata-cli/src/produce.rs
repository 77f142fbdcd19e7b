//! `strata produce TOPIC`: one record per stdin line.

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

/// Flags of `produce`.
#[derive(Args, Debug)]
pub struct ProduceArgs {
    /// Topic to write to.
    pub topic: String,
    /// Split each line at the first SEP into key and value (lines without SEP have no key).
    #[arg(long, value_name = "SEP")]
    pub key_separator: Option<String>,
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

/// Splits a line into (key, value) at the first `sep`.
pub fn split_line(line: &str, sep: Option<&str>) -> (Option<Bytes>, Bytes) {
    match sep.and_then(|s| line.split_once(s)) {
        Some((k, v)) => (
            Some(Bytes::copy_from_slice(k.as_bytes())),
            Bytes::copy_from_slice(v.as_bytes()),
        ),
        None => (None, Bytes::copy_from_slice(line.as_bytes())),
    }
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
    let producer = Producer::new(config)?;
    let deliveries = Deliveries::start(None);
    let started = Instant::now();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut sent = 0u64;
    while let Some(line) = lines.next_line().await? {
        let (key, value) = split_line(&line, args.key_separator.as_deref());
        let record = ProducerRecord {
            topic: args.topic.clone(),
            partition: args.partition,
            key,
            value: Some(value),
            ..Default::default()
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
    fn line_splitting() {
        assert_eq!(
            split_line("k:v:w", Some(":")),
            (Some(Bytes::from("k")), Bytes::from("v:w"))
        );
        assert_eq!(
            split_line("novalue", Some(":")),
            (None, Bytes::from("novalue"))
        );
        assert_eq!(split_line("a:b", None), (None, Bytes::from("a:b")));
        assert_eq!(
            split_line("key<>val", Some("<>")),
            (Some(Bytes::from("key")), Bytes::from("val"))
        );
        assert_eq!(
            split_line(":v", Some(":")),
            (Some(Bytes::new()), Bytes::from("v"))
        );
    }

    #[test]
    fn config_from_flags() {
        let c = producer_config(ClientConfig::default(), "1", "gzip", 20, 1000).expect("valid");
        assert_eq!(c.acks, Acks::Leader);
        assert_eq!(c.linger, Duration::from_millis(20));
        assert!(producer_config(ClientConfig::default(), "1", "gzip", 20, 0).is_err());
    }
}
