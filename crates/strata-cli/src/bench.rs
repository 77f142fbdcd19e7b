//! `strata bench produce|consume`: throughput and latency percentiles.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use bytes::Bytes;
use clap::Args;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::json;
use strata_client::{
    ClientConfig, Consumer, ConsumerConfig, OffsetReset, Producer, ProducerRecord,
};

use crate::cli::Format;
use crate::delivery::Deliveries;
use crate::produce::{check_acks, check_compression, producer_config};

/// Flags of `bench produce`.
#[derive(Args, Debug)]
pub struct ProduceBenchArgs {
    /// Topic to use (must exist).
    #[arg(long)]
    pub topic: String,
    /// Number of records.
    #[arg(long, default_value_t = 100_000)]
    pub records: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    pub record_size: usize,
    /// Send at this fixed rate (records/s) instead of as fast as possible, and report the
    /// latency at that load.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub rate: Option<u64>,
    /// Acknowledgements: 0, 1, -1/all.
    #[arg(long, default_value = "all", allow_hyphen_values = true, value_parser = check_acks)]
    pub acks: String,
    /// Compression codec.
    #[arg(long, default_value = "none", value_parser = check_compression)]
    pub compression: String,
    /// Linger in ms.
    #[arg(long, default_value_t = 5)]
    pub linger_ms: u64,
    /// Batch size in bytes.
    #[arg(long, default_value_t = 16384)]
    pub batch_size: usize,
    /// Start every value with the schema registry's wire format for this schema id
    /// (magic byte 0, the id), for topics that validate schema ids.
    #[arg(long)]
    pub schema_id: Option<i32>,
}

/// Flags of `bench consume`.
#[derive(Args, Debug)]
pub struct ConsumeBenchArgs {
    /// Topic to read from the beginning of every partition.
    #[arg(long)]
    pub topic: String,
    /// Number of records to read (the run stops there).
    #[arg(long, default_value_t = 100_000)]
    pub records: u64,
}

/// A finished measurement.
#[derive(Debug)]
pub struct BenchResult {
    /// "produce" or "consume".
    pub kind: &'static str,
    /// Records moved.
    pub records: u64,
    /// Payload bytes moved (keys + values).
    pub bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Latency histogram in microseconds.
    pub latency_us: Histogram<u64>,
    /// The fixed rate asked for (records/s), if any.
    pub target_rate: Option<u64>,
}

impl BenchResult {
    fn records_per_sec(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / (1024.0 * 1024.0) / self.elapsed.as_secs_f64().max(1e-9)
    }
    fn ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }

    /// The `--format json` output.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "kind": self.kind,
            "records": self.records,
            "bytes": self.bytes,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "records_per_sec": self.records_per_sec(),
            "mb_per_sec": self.mb_per_sec(),
            "target_records_per_sec": self.target_rate,
            "latency_ms": {
                "p50": self.ms(0.50),
                "p95": self.ms(0.95),
                "p99": self.ms(0.99),
                "p999": self.ms(0.999),
                "max": self.latency_us.max() as f64 / 1000.0,
            },
        })
    }

    /// The text output.
    pub fn to_text(&self) -> String {
        let target = self
            .target_rate
            .map(|r| format!(" (target {r} records/s)"))
            .unwrap_or_default();
        format!(
            "{} {} records ({:.2} MB) in {:.3} s: {:.0} records/s{target}, {:.2} MB/s\nlatency ms: p50 {:.3}  p95 {:.3}  p99 {:.3}  p999 {:.3}  max {:.3}",
            if self.kind == "produce" { "produced" } else { "consumed" },
            self.records,
            self.bytes as f64 / (1024.0 * 1024.0),
            self.elapsed.as_secs_f64(),
            self.records_per_sec(),
            self.mb_per_sec(),
            self.ms(0.50),
            self.ms(0.95),
            self.ms(0.99),
            self.ms(0.999),
            self.latency_us.max() as f64 / 1000.0,
        )
    }
}

fn progress(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} records  {per_sec}  eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}

fn print(result: &BenchResult, format: Format) {
    match format {
        Format::Text => println!("{}", result.to_text()),
        Format::Json => println!("{}", result.to_json()),
    }
}

/// `bench produce`: latency is enqueue-to-acknowledgement per record. With `--rate`, record
/// `i` is sent at `start + i / rate` (the schedule catches up after a stall rather than
/// drifting), so the latency is measured at that fixed load.
pub async fn produce(args: ProduceBenchArgs, client: ClientConfig, format: Format) -> Result<()> {
    let config = producer_config(
        client,
        &args.acks,
        &args.compression,
        args.linger_ms,
        args.batch_size,
    )?;
    let producer = Producer::new(config)?;
    // A pool of random payloads: realistic for compression, cheap to cycle through.
    let mut rng = rand::thread_rng();
    let prefix: Vec<u8> = args
        .schema_id
        .map(|id| [&[0u8][..], &id.to_be_bytes()].concat())
        .unwrap_or_default();
    let payloads: Vec<Bytes> = (0..64)
        .map(|_| {
            let mut v = prefix.clone();
            v.extend(
                (&mut rng)
                    .sample_iter(Alphanumeric)
                    .take(args.record_size.saturating_sub(prefix.len())),
            );
            Bytes::from(v)
        })
        .collect();
    let bar = progress(args.records);
    let deliveries = Deliveries::start(Some(bar.clone()));
    let started = Instant::now();
    let start = tokio::time::Instant::now();
    for i in 0..args.records {
        if let Some(rate) = args.rate {
            let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
            tokio::time::sleep_until(due).await;
        }
        let value = payloads[(i % payloads.len() as u64) as usize].clone();
        let record = ProducerRecord {
            topic: args.topic.clone(),
            value: Some(value),
            ..Default::default()
        };
        let sent = Instant::now();
        let fut = producer.enqueue(record).await?;
        deliveries.track(sent, fut);
    }
    producer.flush().await;
    let stats = deliveries.finish().await?;
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    if let Some(e) = stats.first_error {
        bail!("{} of {} records failed: {e}", stats.failed, args.records);
    }
    print(
        &BenchResult {
            kind: "produce",
            records: stats.ok,
            bytes: stats.ok * args.record_size as u64,
            elapsed,
            latency_us: stats.latency_us,
            target_rate: args.rate,
        },
        format,
    );
    Ok(())
}

/// `bench consume`: reads exactly `--records` records from the beginning of every partition
/// (records of the last poll beyond that are not counted); latency is the duration of each
/// poll that returned records.
pub async fn consume(args: ConsumeBenchArgs, client: ClientConfig, format: Format) -> Result<()> {
    let mut consumer = Consumer::new(ConsumerConfig {
        client,
        auto_offset_reset: OffsetReset::Earliest,
        ..ConsumerConfig::default()
    })?;
    let n = consumer.partition_count(&args.topic).await?;
    consumer.assign((0..n).map(|p| (args.topic.clone(), p)).collect())?;
    consumer.seek_to_beginning(&[]);
    let bar = progress(args.records);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)?;
    let (mut records, mut bytes) = (0u64, 0u64);
    let idle_limit = Duration::from_secs(10);
    let started = Instant::now();
    let mut last_data = Instant::now();
    while records < args.records {
        let t = Instant::now();
        let batch = consumer.poll(Duration::from_millis(500)).await?;
        if batch.is_empty() {
            if last_data.elapsed() > idle_limit {
                bail!(
                    "only {records} of {} records arrived (no data for {} s)",
                    args.records,
                    idle_limit.as_secs()
                );
            }
            continue;
        }
        last_data = Instant::now();
        let _ = hist.record((t.elapsed().as_micros() as u64).clamp(1, 3_600_000_000));
        let wanted = usize::try_from(args.records - records).unwrap_or(usize::MAX);
        let take = batch.len().min(wanted);
        for r in &batch[..take] {
            bytes += r.key.as_ref().map_or(0, |k| k.len() as u64)
                + r.value.as_ref().map_or(0, |v| v.len() as u64);
        }
        records += take as u64;
        bar.inc(take as u64);
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    print(
        &BenchResult {
            kind: "consume",
            records,
            bytes,
            elapsed,
            latency_us: hist,
            target_rate: None,
        },
        format,
    );
    Ok(())
}
