//! Figures read at scrape time (see `gather.rs`), kept as plain data and encoded by a
//! collector (`encode.rs`): nothing here is stored between scrapes, so a partition or group that
//! is gone leaves no stale series, and two scrapes at once cannot see each other's
//! half-written state.

use prometheus_client::encoding::EncodeLabelSet;

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
    /// The log dir failed (offline until restart).
    pub offline: bool,
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
