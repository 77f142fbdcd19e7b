//! `strata consume TOPIC`: print records, following the topic or stopping after `--count`.
//! With `--group G` the consumer joins the group, reads the partitions the group gives it,
//! and commits what it printed.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use strata_client::{ClientConfig, Consumer, ConsumerConfig, ConsumerRecord, OffsetReset};

use crate::cli::Format;
use crate::output::{bytes_text, record_json};
use crate::topic::parse_key_value;

/// Flags of `consume`.
#[derive(Args, Debug)]
pub struct ConsumeArgs {
    /// Topic to read.
    pub topic: String,
    /// Consume as a member of this consumer group: partitions are assigned by the group and
    /// progress is committed, so a restart resumes after the last printed record.
    #[arg(long, short = 'g', conflicts_with_all = ["partition", "offset"])]
    pub group: Option<String>,
    /// Start at the earliest retained record instead of the end (with --group: when the
    /// group has no committed offset).
    #[arg(long, conflicts_with = "offset")]
    pub from_beginning: bool,
    /// Read only this partition (default: all).
    #[arg(long)]
    pub partition: Option<i32>,
    /// Start at this offset (in every partition read).
    #[arg(long)]
    pub offset: Option<i64>,
    /// Exit after this many records (default: follow forever).
    #[arg(long)]
    pub count: Option<u64>,
    /// Exit when no record arrives for this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// In text format, print `key<TAB>value` instead of just the value.
    #[arg(long)]
    pub print_key: bool,
    /// A consumer setting by its Kafka name, e.g. `session.timeout.ms=10000` or
    /// `partition.assignment.strategy=cooperative-sticky`; repeatable (`-X` takes these
    /// too).
    #[arg(long = "consumer-property", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub consumer_property: Vec<(String, String)>,
}

/// The consumer settings `-X` and `--consumer-property` take (besides the security ones).
pub const CONSUMER_KEYS: &[&str] = &[
    "group.id",
    "group.instance.id",
    "client.id",
    "session.timeout.ms",
    "max.poll.interval.ms",
    "heartbeat.interval.ms",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "auto.offset.reset",
    "partition.assignment.strategy",
    "metadata.max.age.ms",
    "fetch.min.bytes",
    "fetch.max.wait.ms",
    "fetch.max.bytes",
    "max.partition.fetch.bytes",
    "request.timeout.ms",
    "retry.backoff.ms",
];

/// Builds the consumer config from the flags.
pub fn consumer_config(args: &ConsumeArgs, client: ClientConfig) -> Result<ConsumerConfig> {
    let mut config = ConsumerConfig {
        client,
        auto_offset_reset: if args.from_beginning {
            OffsetReset::Earliest
        } else {
            OffsetReset::Latest
        },
        group_id: args.group.clone(),
        ..ConsumerConfig::default()
    };
    for (k, v) in &args.consumer_property {
        config.set(k, v)?;
    }
    if args.group.is_none() && config.group_id.is_some() {
        bail!("set the group with --group, not group.id");
    }
    config.validate()?;
    Ok(config)
}

/// Runs `consume`.
pub async fn run(args: ConsumeArgs, client: ClientConfig, format: Format) -> Result<()> {
    let mut consumer = Consumer::new(consumer_config(&args, client)?)?;
    if let Some(group) = &args.group {
        // Fail fast on a typo rather than wait for a topic that will never have partitions.
        consumer.partition_count(&args.topic).await?;
        consumer
            .subscribe(&[args.topic.as_str()])
            .with_context(|| format!("joining group '{group}'"))?;
    } else {
        assign(&mut consumer, &args).await?;
    }
    let result = tokio::select! {
        r = print_loop(&mut consumer, &args, format) => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    // Commits what was printed (positions were rewound past anything unprinted) and leaves.
    let closed = consumer.close().await;
    result?;
    if args.group.is_some() {
        closed.context("committing offsets and leaving the group")?;
    }
    Ok(())
}

async fn assign(consumer: &mut Consumer, args: &ConsumeArgs) -> Result<()> {
    let n = consumer.partition_count(&args.topic).await?;
    let partitions: Vec<i32> = match args.partition {
        Some(p) => {
            if !(0..n).contains(&p) {
                bail!(
                    "partition {p} of topic '{}' does not exist (it has {n})",
                    args.topic
                );
            }
            vec![p]
        }
        None => (0..n).collect(),
    };
    consumer.assign(
        partitions
            .iter()
            .map(|p| (args.topic.clone(), *p))
            .collect(),
    )?;
    if let Some(offset) = args.offset {
        for p in &partitions {
            consumer.seek(&args.topic, *p, offset);
        }
    }
    Ok(())
}

async fn print_loop(consumer: &mut Consumer, args: &ConsumeArgs, format: Format) -> Result<()> {
    let mut printed = 0u64;
    let mut last_record = Instant::now();
    let stdout = std::io::stdout();
    loop {
        if args.count.is_some_and(|c| printed >= c) {
            return Ok(());
        }
        if args
            .timeout_ms
            .is_some_and(|t| last_record.elapsed() >= Duration::from_millis(t))
        {
            return Ok(());
        }
        let records = consumer.poll(Duration::from_millis(500)).await?;
        if !records.is_empty() {
            last_record = Instant::now();
        }
        let mut out = stdout.lock();
        // The first record of each partition that was fetched but not printed: the position
        // goes back there so commits cover exactly what was printed.
        let mut rewind: BTreeMap<(String, i32), i64> = BTreeMap::new();
        for r in &records {
            if args.count.is_some_and(|c| printed >= c) {
                rewind
                    .entry((r.topic.clone(), r.partition))
                    .or_insert(r.offset);
                continue;
            }
            if let Err(e) = write_record(&mut out, r, format, args.print_key) {
                // A closed pipe (`| head`) is a normal way to stop reading.
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(());
                }
                return Err(e.into());
            }
            printed += 1;
        }
        for ((t, p), offset) in rewind {
            consumer.seek(&t, p, offset);
        }
        if let Err(e) = out.flush() {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            return Err(e.into());
        }
    }
}

fn write_record(
    out: &mut impl Write,
    r: &ConsumerRecord,
    format: Format,
    print_key: bool,
) -> std::io::Result<()> {
    match format {
        Format::Json => writeln!(out, "{}", record_json(r)),
        Format::Text if print_key => writeln!(
            out,
            "{}\t{}",
            bytes_text(r.key.as_ref()),
            bytes_text(r.value.as_ref())
        ),
        Format::Text => writeln!(out, "{}", bytes_text(r.value.as_ref())),
    }
}
