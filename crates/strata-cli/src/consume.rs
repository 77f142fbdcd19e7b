//! `strata consume TOPIC...`: print records, following the topics or stopping after
//! `--count`, at the end (`-e`) or after a quiet spell. With `--group G` the consumer joins
//! the group, reads the partitions the group gives it, and commits what it printed; Ctrl-C
//! and SIGTERM both commit and leave the group.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use strata_client::{
    Admin, ClientConfig, Consumer, ConsumerConfig, ConsumerRecord, OffsetReset, OffsetSpec,
    TopicPartition,
};

use crate::cli::Format;
use crate::consume_offsets::{resolve, StartAt};
use crate::output::{bytes_text, record_json};
use crate::signals::Signals;
use crate::template::Template;
use crate::topic::parse_key_value;

const EXAMPLES: &str = "\
Examples:
  strata consume orders --from-beginning --count 10
  strata consume orders -o -5 -e                      # the last 5 records of each partition, then exit
  strata consume orders -o +100 --partition 0         # 100 records after the start of partition 0
  strata consume orders -o @2026-11-23T10:00:00Z -e   # from a time (or @MS since the epoch)
  strata consume orders -o start -e -f '%t/%p@%o %k=%v [%h] %T\\n'
  strata consume orders --print-key --print-offsets   # PARTITION<TAB>OFFSET<TAB>KEY<TAB>VALUE
  strata consume -t orders -t refunds --group billing # several topics as one group member
  strata consume --regex 'orders-.*' -o start -e --format json

Template tokens (-f): %t topic, %p partition, %o offset, %k key, %v value, %h headers
(k=v,...), %T timestamp (ms), %K key length, %S value length (-1 for null), %% a percent
sign; escapes \\n \\t \\r \\0 \\\\. JSON lines carry headers as [{\"key\",\"value\"}]; bytes that
are not UTF-8 come as {\"base64\": \"...\"}.";

/// Flags of `consume`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct ConsumeArgs {
    /// Topic(s) to read (also `--topic`; or `--regex`).
    #[arg(value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// A topic to read; repeatable.
    #[arg(long = "topic", short = 't', value_name = "TOPIC")]
    pub topic_flag: Vec<String>,
    /// Also read every topic whose whole name matches this regular expression (internal
    /// topics excluded), matched once at start against the topic list.
    #[arg(long, value_name = "REGEX", value_parser = parse_regex)]
    pub regex: Option<TopicRegex>,
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
    /// Where to start in every partition read: start, end, N (absolute), -N (N before the
    /// end), +N (N after the start), @MS or @RFC3339-TIME (the first record at or after).
    /// Out of range: a warning, then the start or end.
    #[arg(
        long,
        short = 'o',
        value_name = "OFFSET",
        allow_hyphen_values = true,
        value_parser = clap::value_parser!(StartAt)
    )]
    pub offset: Option<StartAt>,
    /// Exit once every assigned partition has reached the end it had at start.
    #[arg(long = "exit-at-end", short = 'e')]
    pub exit_at_end: bool,
    /// Exit after this many records (default: follow forever).
    #[arg(long)]
    pub count: Option<u64>,
    /// Exit when no record arrives for this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// In text format, print `key<TAB>value` instead of just the value.
    #[arg(long)]
    pub print_key: bool,
    /// In text format, start each line with `partition<TAB>offset<TAB>`.
    #[arg(long)]
    pub print_offsets: bool,
    /// Print each record with this template instead (kcat's -f; tokens below).
    #[arg(
        short = 'f',
        long = "template",
        value_name = "TEMPLATE",
        value_parser = parse_template,
        conflicts_with_all = ["print_key", "print_offsets"]
    )]
    pub template: Option<Template>,
    /// A consumer setting by its Kafka name, e.g. `session.timeout.ms=10000` or
    /// `partition.assignment.strategy=cooperative-sticky`; repeatable (`-X` takes these
    /// too).
    #[arg(long = "consumer-property", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub consumer_property: Vec<(String, String)>,
}

/// `--regex`: the pattern as given, and compiled to match whole topic names.
#[derive(Debug, Clone)]
pub struct TopicRegex {
    pattern: String,
    whole: regex::Regex,
}

fn parse_regex(s: &str) -> Result<TopicRegex, String> {
    let whole = regex::Regex::new(&format!("^(?:{s})$"))
        .map_err(|e| format!("invalid regex '{s}': {e}"))?;
    Ok(TopicRegex {
        pattern: s.to_string(),
        whole,
    })
}

fn parse_template(s: &str) -> Result<Template, String> {
    Template::parse(s).map_err(|e| e.to_string())
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

/// How records are printed.
enum Style {
    Json,
    Template(Template),
    Text { key: bool, offsets: bool },
}

/// Runs `consume`.
pub async fn run(mut args: ConsumeArgs, client: ClientConfig, format: Format) -> Result<()> {
    // Taken over first, so a signal while joining is handled like one while printing.
    let mut signals = Signals::new()?;
    let style = match (args.template.take(), format) {
        (Some(_), Format::Json) => bail!("-f/--template and --format json exclude each other"),
        (Some(t), Format::Text) => Style::Template(t),
        (None, Format::Json) => Style::Json,
        (None, Format::Text) => Style::Text {
            key: args.print_key,
            offsets: args.print_offsets,
        },
    };
    let admin = Admin::new(client.clone())?;
    let topics = topics(&args, &admin).await?;
    let mut consumer = Consumer::new(consumer_config(&args, client)?)?;
    let mut partitions = Vec::new();
    for t in &topics {
        // Fails fast on a typo rather than wait for a topic that will never have partitions.
        let n = consumer.partition_count(t).await?;
        match args.partition {
            Some(p) if !(0..n).contains(&p) => {
                bail!("partition {p} of topic '{t}' does not exist (it has {n})")
            }
            Some(p) => partitions.push((t.clone(), p)),
            None => partitions.extend((0..n).map(|p| (t.clone(), p))),
        }
    }
    if let Some(group) = &args.group {
        consumer
            .subscribe(&topics)
            .with_context(|| format!("joining group '{group}'"))?;
    } else {
        consumer.assign(partitions.clone())?;
        if let Some(at) = args.offset {
            let (offsets, warnings) = resolve(&admin, &partitions, at).await?;
            for w in warnings {
                eprintln!("warning: {w}");
            }
            for ((t, p), o) in offsets {
                consumer.seek(&t, p, o);
            }
        }
    }
    let ends = if args.exit_at_end {
        Some(admin.list_offsets(&partitions, OffsetSpec::Latest).await?)
    } else {
        None
    };
    let stop = Stop {
        count: args.count,
        quiet: args.timeout_ms.map(Duration::from_millis),
        ends,
        group: args.group.is_some(),
    };
    let result = tokio::select! {
        r = print_loop(&mut consumer, &stop, &style) => r,
        _ = signals.recv() => Ok(()),
    };
    // Commits what was printed (positions were rewound past anything unprinted) and leaves.
    let closed = consumer.close().await;
    result?;
    if args.group.is_some() {
        closed.context("committing offsets and leaving the group")?;
    }
    Ok(())
}

/// The topics named on the command line plus those `--regex` matches, sorted.
async fn topics(args: &ConsumeArgs, admin: &Admin) -> Result<Vec<String>> {
    let mut topics: Vec<String> = args
        .topics
        .iter()
        .chain(&args.topic_flag)
        .map(|t| t.trim().to_string())
        .collect();
    if topics.iter().any(String::is_empty) {
        bail!("topic names must not be empty");
    }
    if let Some(re) = &args.regex {
        let matched: Vec<String> = admin
            .list_topics()
            .await?
            .into_iter()
            .filter(|t| !t.internal && re.whole.is_match(&t.name))
            .map(|t| t.name)
            .collect();
        if matched.is_empty() {
            bail!("no topic matches --regex '{}'", re.pattern);
        }
        topics.extend(matched);
    }
    if topics.is_empty() {
        bail!("name a topic to read (TOPIC or --topic), or use --regex");
    }
    topics.sort();
    topics.dedup();
    Ok(topics)
}

/// When the print loop ends.
struct Stop {
    count: Option<u64>,
    quiet: Option<Duration>,
    /// `-e`: each partition's end as of start.
    ends: Option<HashMap<TopicPartition, i64>>,
    group: bool,
}

impl Stop {
    /// Whether `tp` has reached its end as of start (`-e` only).
    fn past_end(&self, tp: &TopicPartition, offset: i64) -> bool {
        self.ends
            .as_ref()
            .is_some_and(|e| offset >= e.get(tp).copied().unwrap_or(0))
    }
}

/// `-e`: whether every assigned partition is at its end as of start. In a group, only once
/// the member has its assignment.
async fn all_at_end(consumer: &mut Consumer, stop: &Stop) -> Result<bool> {
    if stop.ends.is_none() || (stop.group && consumer.group_membership().is_none()) {
        return Ok(false);
    }
    for (t, p) in consumer.assignment() {
        let position = consumer.position(&t, p).await?;
        if !stop.past_end(&(t, p), position) {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn print_loop(consumer: &mut Consumer, stop: &Stop, style: &Style) -> Result<()> {
    let mut printed = 0u64;
    let mut last_record = Instant::now();
    let stdout = std::io::stdout();
    let mut buf = Vec::new();
    loop {
        if stop.count.is_some_and(|c| printed >= c) {
            return Ok(());
        }
        if stop.quiet.is_some_and(|q| last_record.elapsed() >= q) {
            return Ok(());
        }
        if all_at_end(consumer, stop).await? {
            return Ok(());
        }
        let records = consumer.poll(Duration::from_millis(500)).await?;
        if !records.is_empty() {
            last_record = Instant::now();
        }
        // The first record of each partition that was fetched but not printed: the position
        // goes back there so commits cover exactly what was printed.
        let mut rewind: BTreeMap<TopicPartition, i64> = BTreeMap::new();
        buf.clear();
        for r in &records {
            let tp = (r.topic.clone(), r.partition);
            if stop.count.is_some_and(|c| printed >= c)
                || rewind.contains_key(&tp)
                || stop.past_end(&tp, r.offset)
            {
                rewind.entry(tp).or_insert(r.offset);
                continue;
            }
            write_record(&mut buf, r, style);
            printed += 1;
        }
        for ((t, p), offset) in rewind {
            consumer.seek(&t, p, offset);
        }
        let mut out = stdout.lock();
        if let Err(e) = out.write_all(&buf).and_then(|()| out.flush()) {
            // A closed pipe (`| head`) is a normal way to stop reading.
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            return Err(e.into());
        }
    }
}

fn write_record(out: &mut Vec<u8>, r: &ConsumerRecord, style: &Style) {
    match style {
        Style::Json => {
            out.extend_from_slice(record_json(r).to_string().as_bytes());
            out.push(b'\n');
        }
        Style::Template(t) => t.render(r, out),
        Style::Text { key, offsets } => {
            let mut line = String::new();
            if *offsets {
                line.push_str(&format!("{}\t{}\t", r.partition, r.offset));
            }
            if *key {
                line.push_str(&bytes_text(r.key.as_ref()));
                line.push('\t');
            }
            line.push_str(&bytes_text(r.value.as_ref()));
            line.push('\n');
            out.extend_from_slice(line.as_bytes());
        }
    }
}
