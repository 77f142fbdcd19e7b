//! Figures read at scrape time (see `gather.rs`), kept as plain data and encoded by a
//! [`Collector`]: nothing here is stored between scrapes, so a partition or group that
//! is gone leaves no stale series, and two scrapes at once cannot see each other's
//! half-written state.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;

use super::partition_stats::{BATCH_BUCKETS, REJECT_REASONS};
use super::TopicTotals;

/// Labels of per-partition series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

/// Labels of per-group, per-partition series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LagLabels {
    /// Consumer group id.
    pub group: String,
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

/// Labels of per-group, per-topic series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GroupTopicLabels {
    /// Consumer group id.
    pub group: String,
    /// Topic name.
    pub topic: String,
}

/// One local partition replica.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PartitionFigures {
    pub log_size: u64,
    pub log_end_offset: i64,
    pub high_watermark: i64,
    /// Records the furthest-behind follower lacks and how long since it was last
    /// caught up (leaders only).
    pub replica_lag: Option<(i64, f64)>,
}

/// One group's committed position in one partition.
#[derive(Clone, Debug, PartialEq)]
pub struct Lag {
    pub labels: LagLabels,
    /// Records between the committed offset and the last stable offset.
    pub records: i64,
    /// Age of the oldest record not consumed yet (0 when none is), seconds.
    pub seconds: f64,
}

/// One group this broker coordinates.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupFigures {
    pub group: String,
    pub state: &'static str,
    pub members: usize,
    pub rebalances: u64,
}

/// Broker- and cluster-wide gauges and counters read at scrape time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cluster {
    pub under_replicated: i64,
    pub under_min_isr: i64,
    pub offline: i64,
    pub fenced_brokers: i64,
    pub active_controller: i64,
    pub replica_max_lag_records: i64,
    pub replica_max_lag_seconds: f64,
    pub metadata_apply_lag: i64,
    pub controller_connections_refused: u64,
}

/// The log layer's process-wide figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogFigures {
    pub corrupt_batches: u64,
    pub open_files: u64,
    pub open_files_max: u64,
    pub file_opens: u64,
    pub file_evictions: u64,
    pub file_open_exhausted: u64,
    pub partition_syncs: u64,
    pub filesystem_syncs: u64,
    pub filesystem_sync_partitions: u64,
    pub fsync_seconds: super::HistogramData,
    pub group_commit_partitions: super::HistogramData,
}

/// A data directory's filesystem.
#[derive(Clone, Debug, PartialEq)]
pub struct Dir {
    pub dir: String,
    pub free_bytes: u64,
    pub capacity_bytes: u64,
}

/// The process, as `/proc` tells (standard `process_*` names, no prefix).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Process {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    pub open_fds: u64,
    pub max_fds: u64,
    pub start_time_seconds: f64,
    pub threads: u64,
}

/// Everything read at one scrape (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// `metrics.partition.level`: per-partition series are written.
    pub partition_level: bool,
    pub partitions: Vec<(PartitionLabels, PartitionFigures)>,
    /// Per topic, sorted by name.
    pub topics: Vec<(String, TopicTotals)>,
    pub lags: Vec<Lag>,
    pub groups: Vec<GroupFigures>,
    pub cluster: Cluster,
    pub log: LogFigures,
    pub dirs: Vec<Dir>,
    pub version: &'static str,
}

/// The process figures, encoded without the `strata_` prefix.
#[derive(Clone, Debug, Default)]
pub struct ProcessCollector(pub Option<Process>);

type Result = std::result::Result<(), std::fmt::Error>;

/// One unlabelled value.
fn one(enc: &mut DescriptorEncoder, name: &str, help: &str, t: MetricType, v: f64) -> Result {
    let mut m = enc.encode_descriptor(name, help, None, t)?;
    value(&mut m, t, v)
}

fn value(m: &mut MetricEncoder, t: MetricType, v: f64) -> Result {
    match t {
        MetricType::Counter => m.encode_counter::<NoLabelSet, _, f64>(&v, None),
        _ => m.encode_gauge(&v),
    }
}

/// A family: one value per label set.
fn family<'a, L: EncodeLabelSet + 'a>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    t: MetricType,
    items: impl IntoIterator<Item = (&'a L, f64)>,
) -> Result {
    let mut items = items.into_iter().peekable();
    if items.peek().is_none() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help, None, t)?;
    for (labels, v) in items {
        value(&mut m.encode_family(labels)?, t, v)?;
    }
    Ok(())
}

/// One unlabelled histogram.
fn histogram(enc: &mut DescriptorEncoder, name: &str, help: &str, h: &super::HistogramData) -> Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Histogram)?;
    m.encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None)
}

impl Collector for Snapshot {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result {
        self.encode_topics(&mut enc)?;
        if self.partition_level {
            self.encode_partitions(&mut enc)?;
        }
        self.encode_groups(&mut enc)?;
        self.encode_cluster(&mut enc)?;
        self.encode_log(&mut enc)?;
        let build = [("version", self.version)];
        let mut m = enc.encode_descriptor(
            "build_info",
            "This build of Strata (value 1)",
            None,
            MetricType::Gauge,
        )?;
        m.encode_family(&build)?.encode_gauge(&1i64)
    }
}

impl Snapshot {
    fn encode_topics(&self, enc: &mut DescriptorEncoder) -> Result {
        let labels: Vec<[(&str, &str); 1]> =
            self.topics.iter().map(|(t, _)| [("topic", t.as_str())]).collect();
        let each = |f: fn(&TopicTotals) -> u64| {
            labels
                .iter()
                .zip(&self.topics)
                .map(move |(l, (_, t))| (l, f(t) as f64))
        };
        use MetricType::{Counter, Gauge};
        family(enc, "topic_bytes_in", "Batch bytes appended from producers, by topic", Counter, each(|t| t.bytes_in))?;
        family(enc, "topic_records_in", "Records appended from producers, by topic", Counter, each(|t| t.records_in))?;
        family(enc, "topic_uncompressed_bytes_in", "What the appended batches take uncompressed, by topic (over topic_bytes_in: the compression ratio)", Counter, each(|t| t.uncompressed_in))?;
        family(enc, "topic_bytes_out", "Batch bytes sent to consumers, by topic", Counter, each(|t| t.bytes_out))?;
        family(enc, "topic_records_out", "Records sent to consumers, by topic", Counter, each(|t| t.records_out))?;
        family(enc, "topic_log_size_bytes", "Bytes on disk of the topic's replicas on this broker", Gauge, each(|t| t.log_size))?;
        let ratio: Vec<_> = labels
            .iter()
            .zip(&self.topics)
            .filter(|(_, (_, t))| t.bytes_in > 0)
            .map(|(l, (_, t))| (l, t.uncompressed_in as f64 / t.bytes_in as f64))
            .collect();
        family(enc, "topic_compression_ratio", "Uncompressed over stored bytes of what producers appended since start, by topic", Gauge, ratio)?;
        let rejected: Vec<([(&str, &str); 2], f64)> = self
            .topics
            .iter()
            .flat_map(|(topic, t)| {
                REJECT_REASONS
                    .iter()
                    .zip(t.rejected)
                    .filter(|(_, n)| *n > 0)
                    .map(move |(reason, n)| ([("topic", topic.as_str()), ("reason", *reason)], n as f64))
            })
            .collect();
        family(enc, "topic_messages_rejected", "Produce payloads refused, by topic and reason", Counter, rejected.iter().map(|(l, v)| (l, *v)))?;
        if labels.is_empty() {
            return Ok(());
        }
        let mut m = enc.encode_descriptor(
            "topic_produce_batch_bytes",
            "Size of produce payloads (one per partition per request), by topic",
            None,
            MetricType::Histogram,
        )?;
        for (l, (_, t)) in labels.iter().zip(&self.topics) {
            let mut cumulative = 0;
            let buckets: Vec<(f64, u64)> = BATCH_BUCKETS
                .iter()
                .copied()
                .chain([f64::MAX])
                .zip(t.batch_buckets)
                .map(|(bound, n)| {
                    cumulative += n;
                    (bound, cumulative)
                })
                .collect();
            // The sum is what was appended; a retried duplicate is neither.
            m.encode_family(l)?.encode_histogram::<NoLabelSet>(
                t.bytes_in as f64,
                cumulative,
                &buckets,
                None,
            )?;
        }
        Ok(())
    }

    fn encode_partitions(&self, enc: &mut DescriptorEncoder) -> Result {
        use MetricType::Gauge;
        let p = &self.partitions;
        family(enc, "log_size_bytes", "Bytes on disk per partition", Gauge, p.iter().map(|(l, f)| (l, f.log_size as f64)))?;
        family(enc, "log_end_offset", "Log end offset per partition", Gauge, p.iter().map(|(l, f)| (l, f.log_end_offset as f64)))?;
        family(enc, "high_watermark", "High watermark per partition", Gauge, p.iter().map(|(l, f)| (l, f.high_watermark as f64)))?;
        let led = || p.iter().filter_map(|(l, f)| f.replica_lag.map(|lag| (l, lag)));
        family(enc, "partition_replica_lag_records", "Records the furthest-behind follower lacks, per partition this broker leads", Gauge, led().map(|(l, (r, _))| (l, r as f64)))?;
        family(enc, "partition_replica_lag_seconds", "Time since the furthest-behind follower was last caught up, per partition this broker leads", Gauge, led().map(|(l, (_, s))| (l, s)))?;
        let lags = &self.lags;
        family(enc, "consumer_lag", "Records between a group's committed offset and the last stable offset", Gauge, lags.iter().map(|l| (&l.labels, l.records as f64)))?;
        family(enc, "consumer_lag_seconds", "Age of the oldest record a group has not consumed", Gauge, lags.iter().map(|l| (&l.labels, l.seconds)))
    }

    fn encode_groups(&self, enc: &mut DescriptorEncoder) -> Result {
        use MetricType::{Counter, Gauge};
        // Per group and topic: the sum of the lag in records, the worst age.
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
        family(enc, "consumer_group_lag", "Records a group has yet to consume, by group and topic", Gauge, per_topic.iter().map(|(k, r, _)| (k, *r as f64)))?;
        family(enc, "consumer_group_lag_seconds", "Age of the oldest record a group has not consumed, by group and topic", Gauge, per_topic.iter().map(|(k, _, s)| (k, *s)))?;
        let g: Vec<([(&str, &str); 1], &GroupFigures)> =
            self.groups.iter().map(|g| ([("group", g.group.as_str())], g)).collect();
        family(enc, "group_rebalances", "Rebalances started, by group (since this broker took the group over)", Counter, g.iter().map(|(l, g)| (l, g.rebalances as f64)))?;
        family(enc, "group_members", "Members of a group", Gauge, g.iter().map(|(l, g)| (l, g.members as f64)))?;
        let states: Vec<([(&str, &str); 2], f64)> = self
            .groups
            .iter()
            .map(|g| ([("group", g.group.as_str()), ("state", g.state)], 1.0))
            .collect();
        family(enc, "group_state", "A group's state (1 for the current one)", Gauge, states.iter().map(|(l, v)| (l, *v)))
    }

    fn encode_cluster(&self, enc: &mut DescriptorEncoder) -> Result {
        use MetricType::{Counter, Gauge};
        let c = &self.cluster;
        one(enc, "under_replicated_partitions", "Partitions this broker leads whose ISR is smaller than their replica set", Gauge, c.under_replicated as f64)?;
        one(enc, "under_min_isr_partitions", "Partitions this broker leads whose ISR is below min.insync.replicas", Gauge, c.under_min_isr as f64)?;
        one(enc, "offline_partitions", "Partitions with no leader, as this node's metadata image says", Gauge, c.offline as f64)?;
        one(enc, "fenced_brokers", "Fenced brokers, as this node's metadata image says", Gauge, c.fenced_brokers as f64)?;
        one(enc, "active_controller", "1 if this node is the active controller (Raft leader)", Gauge, c.active_controller as f64)?;
        one(enc, "replica_max_lag_records", "Records the furthest-behind follower lacks, over the partitions this broker leads", Gauge, c.replica_max_lag_records as f64)?;
        one(enc, "replica_max_lag_seconds", "Longest time a follower of a partition this broker leads has not been caught up", Gauge, c.replica_max_lag_seconds)?;
        one(enc, "metadata_apply_lag_records", "Metadata log entries committed but not yet applied on this node", Gauge, c.metadata_apply_lag as f64)?;
        one(enc, "controller_connections_refused", "Connections to the controller port refused at the TLS handshake", Counter, c.controller_connections_refused as f64)
    }

    fn encode_log(&self, enc: &mut DescriptorEncoder) -> Result {
        use MetricType::{Counter, Gauge};
        let l = &self.log;
        one(enc, "log_corrupt_batches", "Damaged batch ranges found in the logs (each moved aside, never served)", Counter, l.corrupt_batches as f64)?;
        one(enc, "log_open_files", "Segment and index files the logs hold open", Gauge, l.open_files as f64)?;
        one(enc, "log_open_files_max", "Budget of open segment and index files (log.open.files.max)", Gauge, l.open_files_max as f64)?;
        one(enc, "log_file_opens", "Segment and index files opened because no handle was cached", Counter, l.file_opens as f64)?;
        one(enc, "log_file_evictions", "Cached segment and index file handles closed to stay within the budget", Counter, l.file_evictions as f64)?;
        one(enc, "log_file_open_exhausted", "Log file opens that found the process out of file descriptors", Counter, l.file_open_exhausted as f64)?;
        one(enc, "log_partition_syncs", "Partition flushes made by fsyncing the partition's own files", Counter, l.partition_syncs as f64)?;
        one(enc, "log_filesystem_syncs", "Filesystem syncs (syncfs) that flushed many partitions at once", Counter, l.filesystem_syncs as f64)?;
        one(enc, "log_filesystem_sync_partitions", "Partitions flushed by filesystem syncs", Counter, l.filesystem_sync_partitions as f64)?;
        histogram(enc, "log_fsync_seconds", "Log flush fsync latency (a partition's fdatasync or a filesystem sync)", &l.fsync_seconds)?;
        histogram(enc, "log_group_commit_partitions", "Partitions made durable per flush", &l.group_commit_partitions)?;
        let dirs: Vec<([(&str, &str); 1], &Dir)> =
            self.dirs.iter().map(|d| ([("dir", d.dir.as_str())], d)).collect();
        family(enc, "log_dir_free_bytes", "Bytes free for Strata on a data directory's filesystem", Gauge, dirs.iter().map(|(l, d)| (l, d.free_bytes as f64)))?;
        family(enc, "log_dir_capacity_bytes", "Size of a data directory's filesystem", Gauge, dirs.iter().map(|(l, d)| (l, d.capacity_bytes as f64)))
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result {
        let Some(p) = &self.0 else {
            return Ok(());
        };
        use MetricType::{Counter, Gauge};
        let e = &mut enc;
        one(e, "process_cpu_seconds", "User and system CPU time of the broker process", Counter, p.cpu_seconds)?;
        one(e, "process_resident_memory_bytes", "Resident memory of the broker process", Gauge, p.resident_bytes as f64)?;
        one(e, "process_virtual_memory_bytes", "Virtual memory of the broker process", Gauge, p.virtual_bytes as f64)?;
        one(e, "process_open_fds", "Open file descriptors of the broker process", Gauge, p.open_fds as f64)?;
        one(e, "process_max_fds", "The broker process's open file limit", Gauge, p.max_fds as f64)?;
        one(e, "process_threads", "Threads of the broker process", Gauge, p.threads as f64)?;
        one(e, "process_start_time_seconds", "When the broker process started (seconds since the epoch)", Gauge, p.start_time_seconds)
    }
}
