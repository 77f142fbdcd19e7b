//! `strata consume TOPIC`: print records, following the topic or stopping after `--count`.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use strata_client::{ClientConfig, Consumer, ConsumerConfig, ConsumerRecord, OffsetReset};

use crate::cli::Format;
use crate::output::{bytes_text, record_json};

/// Flags of `consume`.
#[derive(Args, Debug)]
pub struct ConsumeArgs {
    /// Topic to read.
    pub topic: String,
    /// Start at the earliest retained record instead of the end.
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
    /// In text format, print `key<TAB>value` instead of just the value.
    #[arg(long)]
    pub print_key: bool,
}

/// Runs `consume`.
pub async fn run(args: ConsumeArgs, client: ClientConfig, format: Format) -> Result<()> {
    let mut consumer = Consumer::new(ConsumerConfig {
        client,
        auto_offset_reset: if args.from_beginning {
            OffsetReset::Earliest
        } else {
            OffsetReset::Latest
        },
        ..ConsumerConfig::default()
    })?;
    let partitions: Vec<i32> = match args.partition {
        Some(p) => {
            let n = consumer.partition_count(&args.topic).await?;
            if !(0..n).contains(&p) {
                bail!(
                    "partition {p} of topic '{}' does not exist (it has {n})",
                    args.topic
                );
            }
            vec![p]
        }
        None => (0..consumer.partition_count(&args.topic).await?).collect(),
    };
    consumer.assign(
        partitions
            .iter()
            .map(|p| (args.topic.clone(), *p))
            .collect(),
    );
    if let Some(offset) = args.offset {
        for p in &partitions {
            consumer.seek(&args.topic, *p, offset);
        }
    }
    let mut printed = 0u64;
    let stdout = std::io::stdout();
    loop {
        if args.count.is_some_and(|c| printed >= c) {
            return Ok(());
        }
        let records = consumer.poll(Duration::from_millis(500)).await?;
        let mut out = stdout.lock();
        for r in &records {
            if args.count.is_some_and(|c| printed >= c) {
                break;
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
