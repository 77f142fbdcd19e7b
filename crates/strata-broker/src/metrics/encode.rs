//! Encodes a scrape's [`Snapshot`] (and the process figures) as metric families. Each
//! group of series is a table of `(name, help, type, value)`, so adding a figure is one
//! row.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, LabelSetEncoder, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType::{self, Counter, Gauge};

use super::partition_stats::{BATCH_BUCKETS, REJECT_REASONS};
use super::snapshot::{
    Cluster, Dir, GroupFigures, GroupTopicLabels, LogFigures, PartitionFigures, Process,
    ProcessCollector, Snapshot,
};
use super::{HistogramData, TopicTotals};

type Result = std::result::Result<(), std::fmt::Error>;

/// A label set by reference (the snapshot keeps its labels; encoding borrows them).
struct Ref<'a, L>(&'a L);

impl<L: EncodeLabelSet> EncodeLabelSet for Ref<'_, L> {
    fn encode(&self, encoder: LabelSetEncoder) -> Result {
        self.0.encode(encoder)
    }
}

/// A row: name (no prefix, no `_total`), help, type, and how to read the value.
type Row<T> = (&'static str, &'static str, MetricType, fn(&T) -> f64);

const TOPIC: [Row<TopicTotals>; 6] = [
    ("topic_bytes_in", "Batch bytes appended from producers, by topic", Counter, |t| t.bytes_in as f64),
    ("topic_records_in", "Records appended from producers, by topic", Counter, |t| t.records_in as f64),
    ("topic_uncompressed_bytes_in", "What the appended batches take uncompressed, by topic (over topic_bytes_in: the compression ratio)", Counter, |t| t.uncompressed_in as f64),
    ("topic_bytes_out", "Batch bytes sent to consumers, by topic", Counter, |t| t.bytes_out as f64),
    ("topic_records_out", "Records sent to consumers, by topic", Counter, |t| t.records_out as f64),
    ("topic_log_size_bytes", "Bytes on disk of the topic's replicas on this broker", Gauge, |t| t.log_size as f64),
];

const PARTITION: [Row<PartitionFigures>; 3] = [
    (
        "log_size_bytes",
        "Bytes on disk per partition",
        Gauge,
        |p| p.log_size as f64,
    ),
    (
        "log_end_offset",
        "Log end offset per partition",
        Gauge,
        |p| p.log_end_offset as f64,
    ),
    (
        "high_watermark",
        "High watermark per partition",
        Gauge,
        |p| p.high_watermark as f64,
    ),
];

const GROUP: [Row<GroupFigures>; 2] = [
    (
        "group_rebalances",
        "Rebalances started, by group (since this broker took the group over)",
        Counter,
        |g| g.rebalances as f64,
    ),
    ("group_members", "Members of a group", Gauge, |g| {
        g.members as f64
    }),
];

const CLUSTER: [Row<Cluster>; 9] = [
    (
        "under_replicated_partitions",
        "Partitions this broker leads whose ISR is smaller than their replica set",
        Gauge,
        |c| c.under_replicated as f64,
    ),
    (
        "under_min_isr_partitions",
        "Partitions this broker leads whose ISR is below min.insync.replicas",
        Gauge,
        |c| c.under_min_isr as f64,
    ),
    (
        "offline_partitions",
        "Partitions with no leader, as this node's metadata image says",
        Gauge,
        |c| c.offline as f64,
    ),
    (
        "fenced_brokers",
        "Fenced brokers, as this node's metadata image says",
        Gauge,
        |c| c.fenced_brokers as f64,
    ),
    (
        "active_controller",
        "1 if this node is the active controller (Raft leader)",
        Gauge,
        |c| c.active_controller as f64,
    ),
    (
        "replica_max_lag_records",
        "Records the furthest-behind follower lacks, over the partitions this broker leads",
        Gauge,
        |c| c.replica_max_lag_records as f64,
    ),
    (
        "replica_max_lag_seconds",
        "Longest time a follower of a partition this broker leads has not been caught up",
        Gauge,
        |c| c.replica_max_lag_seconds,
    ),
    (
        "metadata_apply_lag_records",
        "Metadata log entries this node holds but has not applied to its image",
        Gauge,
        |c| c.metadata_apply_lag as f64,
    ),
    (
        "controller_connections_refused",
        "Connections to the controller port refused at the TLS handshake",
        Counter,
        |c| c.controller_connections_refused as f64,
    ),
];

const LOG: [Row<LogFigures>; 9] = [
    (
        "log_corrupt_batches",
        "Damaged batch ranges found in the logs (each moved aside, never served)",
        Counter,
        |l| l.corrupt_batches as f64,
    ),
    (
        "log_open_files",
        "Segment and index files the logs hold open",
        Gauge,
        |l| l.open_files as f64,
    ),
    (
        "log_open_files_max",
        "Budget of open segment and index files (log.open.files.max)",
        Gauge,
        |l| l.open_files_max as f64,
    ),
    (
        "log_file_opens",
        "Segment and index files opened because no handle was cached",
        Counter,
        |l| l.file_opens as f64,
    ),
    (
        "log_file_evictions",
        "Cached segment and index file handles closed to stay within the budget",
        Counter,
        |l| l.file_evictions as f64,
    ),
    (
        "log_file_open_exhausted",
        "Log file opens that found the process out of file descriptors",
        Counter,
        |l| l.file_open_exhausted as f64,
    ),
    (
        "log_partition_syncs",
        "Partition flushes made by fsyncing the partition's own files",
        Counter,
        |l| l.partition_syncs as f64,
    ),
    (
        "log_filesystem_syncs",
        "Filesystem syncs (syncfs) that flushed many partitions at once",
        Counter,
        |l| l.filesystem_syncs as f64,
    ),
    (
        "log_filesystem_sync_partitions",
        "Partitions flushed by filesystem syncs",
        Counter,
        |l| l.filesystem_sync_partitions as f64,
    ),
];

const DIR: [Row<Dir>; 3] = [
    (
        "log_dir_free_bytes",
        "Bytes free for Strata on a data directory's filesystem",
        Gauge,
        |d| d.free_bytes as f64,
    ),
    (
        "log_dir_capacity_bytes",
        "Size of a data directory's filesystem",
        Gauge,
        |d| d.capacity_bytes as f64,
    ),
    (
        "log_dir_offline",
        "1 when a log directory failed: its partitions are offline here until restart",
        Gauge,
        |d| if d.offline { 1.0 } else { 0.0 },
    ),
];

const PROCESS: [Row<Process>; 7] = [
    (
        "process_cpu_seconds",
        "User and system CPU time of the broker process",
        Counter,
        |p| p.cpu_seconds,
    ),
    (
        "process_resident_memory_bytes",
        "Resident memory of the broker process",
        Gauge,
        |p| p.resident_bytes as f64,
    ),
    (
        "process_virtual_memory_bytes",
        "Virtual memory of the broker process",
        Gauge,
        |p| p.virtual_bytes as f64,
    ),
    (
        "process_open_fds",
        "Open file descriptors of the broker process",
        Gauge,
        |p| p.open_fds as f64,
    ),
    (
        "process_max_fds",
        "The broker process's open file limit",
        Gauge,
        |p| p.max_fds as f64,
    ),
    (
        "process_threads",
        "Threads of the broker process",
        Gauge,
        |p| p.threads as f64,
    ),
    (
        "process_start_time_seconds",
        "When the broker process started (seconds since the epoch)",
        Gauge,
        |p| p.start_time_seconds,
    ),
];

fn value(m: &mut MetricEncoder, t: MetricType, v: f64) -> Result {
    match t {
        Counter => m.encode_counter::<NoLabelSet, _, f64>(&v, None),
        _ => m.encode_gauge(&v),
    }
}

/// Unlabelled series, one per row, read from `item`.
fn rows<T>(enc: &mut DescriptorEncoder, table: &[Row<T>], item: &T) -> Result {
    for (name, help, t, read) in table {
        let mut m = enc.encode_descriptor(name, help, None, *t)?;
        value(&mut m, *t, read(item))?;
    }
    Ok(())
}

/// A family per row, one series per `(labels, item)`; nothing when there is no item.
fn labelled<L: EncodeLabelSet, T>(
    enc: &mut DescriptorEncoder,
    table: &[Row<T>],
    items: &[(L, &T)],
) -> Result {
    if items.is_empty() {
        return Ok(());
    }
    for (name, help, t, read) in table {
        let mut m = enc.encode_descriptor(name, help, None, *t)?;
        for (labels, item) in items {
            value(&mut m.encode_family(labels)?, *t, read(item))?;
        }
    }
    Ok(())
}

/// One family of ad-hoc values.
fn family<L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder,
    (name, help, t): (&str, &str, MetricType),
    items: &[(L, f64)],
) -> Result {
    if items.is_empty() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help, None, t)?;
    for (labels, v) in items {
        value(&mut m.encode_family(labels)?, t, *v)?;
    }
    Ok(())
}

fn histogram(enc: &mut DescriptorEncoder, name: &str, help: &str, h: &HistogramData) -> Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Histogram)?;
    m.encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None)
}

impl Collector for Snapshot {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result {
        let e = &mut enc;
        self.encode_topics(e)?;
        if self.partition_level {
            self.encode_partitions(e)?;
        }
        self.encode_groups(e)?;
        rows(e, &CLUSTER, &self.cluster)?;
        rows(e, &LOG, &self.log)?;
        let l = &self.log;
        histogram(
            e,
            "log_fsync_seconds",
            "Log flush fsync latency (a partition's fdatasync or a filesystem sync)",
            &l.fsync_seconds,
        )?;
        histogram(
            e,
            "log_group_commit_partitions",
            "Partitions made durable per flush",
            &l.group_commit_partitions,
        )?;
        let dirs: Vec<_> = self
            .dirs
            .iter()
            .map(|d| ([("dir", d.dir.as_str())], d))
            .collect();
        labelled(e, &DIR, &dirs)?;
        let build = [([("version", self.version)], 1.0)];
        family(
            e,
            ("build_info", "This build of Strata (value 1)", Gauge),
            &build,
        )
    }
}

impl Snapshot {
    fn encode_topics(&self, e: &mut DescriptorEncoder) -> Result {
        let topics: Vec<_> = self
            .topics
            .iter()
            .map(|(t, v)| ([("topic", t.as_str())], v))
            .collect();
        labelled(e, &TOPIC, &topics)?;
        let ratio: Vec<_> = topics
            .iter()
            .filter(|(_, t)| t.bytes_in > 0)
            .map(|(l, t)| (*l, t.uncompressed_in as f64 / t.bytes_in as f64))
            .collect();
        let help =
            "Uncompressed over stored bytes of what producers appended since start, by topic";
        family(e, ("topic_compression_ratio", help, Gauge), &ratio)?;
        let rejected: Vec<_> = self
            .topics
            .iter()
            .flat_map(|(topic, t)| {
                let counts = REJECT_REASONS
                    .iter()
                    .zip(t.rejected)
                    .filter(|(_, n)| *n > 0);
                counts.map(move |(reason, n)| {
                    ([("topic", topic.as_str()), ("reason", *reason)], n as f64)
                })
            })
            .collect();
        let help = "Produce payloads refused, by topic and reason";
        family(e, ("topic_messages_rejected", help, Counter), &rejected)?;
        if topics.is_empty() {
            return Ok(());
        }
        let help = "Size of produce payloads (one per partition per request), by topic";
        let mut m = e.encode_descriptor(
            "topic_produce_batch_bytes",
            help,
            None,
            MetricType::Histogram,
        )?;
        for (l, t) in &topics {
            let mut cumulative = 0;
            let bounds = BATCH_BUCKETS.iter().copied().chain([f64::MAX]);
            let buckets: Vec<(f64, u64)> = bounds
                .zip(t.batch_buckets)
                .map(|(bound, n)| {
                    cumulative += n;
                    (bound, cumulative)
                })
                .collect();
            // The sum is what was appended (a retried duplicate is neither).
            let sum = t.bytes_in as f64;
            m.encode_family(l)?
                .encode_histogram::<NoLabelSet>(sum, cumulative, &buckets, None)?;
        }
        Ok(())
    }

    fn encode_partitions(&self, e: &mut DescriptorEncoder) -> Result {
        let parts: Vec<_> = self.partitions.iter().map(|(l, f)| (Ref(l), f)).collect();
        labelled(e, &PARTITION, &parts)?;
        let led: Vec<_> = self
            .partitions
            .iter()
            .filter_map(|(l, f)| f.replica_lag.map(|lag| (Ref(l), lag)))
            .collect();
        let records: Vec<_> = led
            .iter()
            .map(|(l, (r, _))| (Ref(l.0), *r as f64))
            .collect();
        let help = "Records the furthest-behind follower lacks, per partition this broker leads";
        family(e, ("partition_replica_lag_records", help, Gauge), &records)?;
        let seconds: Vec<_> = led.iter().map(|(l, (_, s))| (Ref(l.0), *s)).collect();
        let help = "Time since the furthest-behind follower was last caught up, per partition this broker leads";
        family(e, ("partition_replica_lag_seconds", help, Gauge), &seconds)?;
        let lags: Vec<_> = self
            .lags
            .iter()
            .map(|l| (Ref(&l.labels), l.records as f64))
            .collect();
        let help = "Records between a group's committed offset and the last stable offset";
        family(e, ("consumer_lag", help, Gauge), &lags)?;
        let ages: Vec<_> = self
            .lags
            .iter()
            .map(|l| (Ref(&l.labels), l.seconds))
            .collect();
        let help = "Age of the oldest record a group has not consumed";
        family(e, ("consumer_lag_seconds", help, Gauge), &ages)
    }

    fn encode_groups(&self, e: &mut DescriptorEncoder) -> Result {
        // Per group and topic (lags come sorted): the sum of the records, the worst age.
        let mut per_topic: Vec<(GroupTopicLabels, i64, f64)> = Vec::new();
        for l in &self.lags {
            let key = GroupTopicLabels {
                group: l.labels.group.clone(),
                topic: l.labels.topic.clone(),
            };
            match per_topic.last_mut() {
                Some((k, r, s)) if *k == key => {
                    *r += l.records;
                    *s = s.max(l.seconds);
                }
                _ => per_topic.push((key, l.records, l.seconds)),
            }
        }
        let records: Vec<_> = per_topic
            .iter()
            .map(|(k, r, _)| (Ref(k), *r as f64))
            .collect();
        let help = "Records a group has yet to consume, by group and topic";
        family(e, ("consumer_group_lag", help, Gauge), &records)?;
        let ages: Vec<_> = per_topic.iter().map(|(k, _, s)| (Ref(k), *s)).collect();
        let help = "Age of the oldest record a group has not consumed, by group and topic";
        family(e, ("consumer_group_lag_seconds", help, Gauge), &ages)?;
        let groups: Vec<_> = self
            .groups
            .iter()
            .map(|g| ([("group", g.group.as_str())], g))
            .collect();
        labelled(e, &GROUP, &groups)?;
        let states: Vec<_> = self
            .groups
            .iter()
            .map(|g| ([("group", g.group.as_str()), ("state", g.state)], 1.0))
            .collect();
        family(
            e,
            (
                "group_state",
                "A group's state (1 for the current one)",
                Gauge,
            ),
            &states,
        )
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result {
        match &self.0 {
            Some(p) => rows(&mut enc, &PROCESS, p),
            None => Ok(()),
        }
    }
}
