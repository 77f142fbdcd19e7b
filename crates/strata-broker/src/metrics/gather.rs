//! Reads the scrape-time figures ([`Snapshot`]) from the broker's state. Blocking: the
//! consumer-lag age reads a batch header per committed partition, so `/metrics` calls
//! [`Broker::render_metrics`] on a blocking thread.

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use strata_proto::batch::{BatchHeader, HEADER_SIZE};

use super::snapshot::{
    Cluster, GroupFigures, Lag, LagLabels, LogFigures, PartitionFigures, PartitionLabels,
    ProcessCollector, Snapshot,
};
use super::TopicTotals;
use crate::replica::Partition;
use crate::Broker;

impl Broker {
    /// Renders `/metrics`: OpenMetrics when `openmetrics`, else the classic text format.
    /// Blocking (see the module docs).
    pub fn render_metrics(&self, openmetrics: bool) -> String {
        let process = ProcessCollector(super::process::read_process());
        super::render(&self.metrics, self.metrics_snapshot(), process, openmetrics)
    }

    /// The figures read at scrape time.
    pub fn metrics_snapshot(&self) -> Snapshot {
        let partitions = self.replicas.all();
        let now = crate::broker::now_ms();
        let lags = self.consumer_lags(now);
        Snapshot {
            partition_level: self.config.metrics_partition_level,
            topics: topic_totals(&partitions),
            cluster: self.cluster_figures(&partitions),
            partitions: if self.config.metrics_partition_level {
                partition_figures(&partitions)
            } else {
                Vec::new()
            },
            lags,
            groups: self
                .groups
                .figures(self)
                .into_iter()
                .map(|g| GroupFigures {
                    group: g.group,
                    state: g.state,
                    members: g.members,
                    rebalances: g.rebalances,
                })
                .collect(),
            log: log_figures(),
            dirs: self
                .replicas
                .log_dirs()
                .all()
                .iter()
                .filter_map(|d| {
                    let space = super::process::read_dir_space(&d.path);
                    // A failed dir is listed even when its filesystem cannot be asked.
                    let space = match (space, d.is_offline()) {
                        (Some(s), _) => s,
                        (None, true) => super::snapshot::Dir {
                            dir: d.path.display().to_string(),
                            free_bytes: 0,
                            capacity_bytes: 0,
                            offline: true,
                        },
                        (None, false) => return None,
                    };
                    Some(super::snapshot::Dir {
                        offline: d.is_offline(),
                        ..space
                    })
                })
                .collect(),
            version: env!("CARGO_PKG_VERSION"),
        }
    }

    fn cluster_figures(&self, partitions: &[Arc<Partition>]) -> Cluster {
        let mut c = Cluster::default();
        for r in partitions.iter().filter_map(|p| p.leader_report()) {
            c.under_replicated += i64::from(r.under_replicated);
            c.under_min_isr += i64::from(r.under_min_isr);
            c.replica_max_lag_records = c.replica_max_lag_records.max(r.max_follower_lag);
            c.replica_max_lag_seconds = c
                .replica_max_lag_seconds
                .max(r.max_follower_lag_ms as f64 / 1000.0);
        }
        let image = self.meta.image();
        c.offline = image
            .topics()
            .flat_map(|t| t.partitions.iter())
            .filter(|p| p.leader < 0)
            .count() as i64;
        c.fenced_brokers = image.brokers().filter(|b| b.fenced).count() as i64;
        let raft = self.meta.raft();
        c.active_controller = i64::from(raft.is_leader());
        c.metadata_apply_lag = raft.apply_lag() as i64;
        c.controller_connections_refused = raft.refused_connections();
        c
    }

    /// Every committed position of the groups this broker coordinates, in a partition
    /// it holds, sorted by group, topic and partition: records up to the last stable
    /// offset (what a `read_committed` consumer can still read; the high watermark
    /// where no transaction is open), and the age of the first record not consumed.
    fn consumer_lags(&self, now_ms: i64) -> Vec<Lag> {
        let mut lags: Vec<Lag> = self
            .groups
            .committed_snapshot()
            .into_iter()
            .filter_map(|(group, topic, partition, committed)| {
                let p = self.replicas.get(&topic, partition)?;
                let records = (p.last_stable_offset() - committed).max(0);
                let seconds = if records > 0 {
                    first_timestamp_at(&p, committed)
                        .map_or(0.0, |ts| (now_ms - ts).max(0) as f64 / 1000.0)
                } else {
                    0.0
                };
                Some(Lag {
                    labels: LagLabels {
                        group,
                        topic,
                        partition,
                    },
                    records,
                    seconds,
                })
            })
            .collect();
        lags.sort_by(|a, b| {
            (&a.labels.group, &a.labels.topic, a.labels.partition).cmp(&(
                &b.labels.group,
                &b.labels.topic,
                b.labels.partition,
            ))
        });
        lags
    }
}

/// The first timestamp of the batch holding `offset` (a lower bound of the timestamp of
/// the record at `offset`): one header read. `None` when it cannot be read.
fn first_timestamp_at(p: &Partition, offset: i64) -> Option<i64> {
    let read = p.slice_blocking_upto(offset, 1, true, None).ok()?;
    let slice = read.records?;
    let mut header = [0u8; HEADER_SIZE];
    if slice.len < HEADER_SIZE {
        return None;
    }
    slice.file.read_exact_at(&mut header, slice.position).ok()?;
    let h = BatchHeader::parse(&header).ok()?;
    (h.base_timestamp >= 0).then_some(h.base_timestamp)
}

fn topic_totals(partitions: &[Arc<Partition>]) -> Vec<(String, TopicTotals)> {
    let mut topics: BTreeMap<&str, TopicTotals> = BTreeMap::new();
    for p in partitions {
        let t = topics.entry(&p.topic).or_default();
        p.stats.add_to(t);
        t.log_size += p.size_bytes();
    }
    topics
        .into_iter()
        .map(|(name, t)| (name.to_string(), t))
        .collect()
}

fn partition_figures(partitions: &[Arc<Partition>]) -> Vec<(PartitionLabels, PartitionFigures)> {
    let mut out: Vec<_> = partitions
        .iter()
        .map(|p| {
            let figures = PartitionFigures {
                log_size: p.size_bytes(),
                log_end_offset: p.log_end_offset(),
                high_watermark: p.high_watermark(),
                replica_lag: p
                    .leader_report()
                    .map(|r| (r.max_follower_lag, r.max_follower_lag_ms as f64 / 1000.0)),
            };
            let labels = PartitionLabels {
                topic: p.topic.to_string(),
                partition: p.index,
            };
            (labels, figures)
        })
        .collect();
    out.sort_by(|a, b| (&a.0.topic, a.0.partition).cmp(&(&b.0.topic, b.0.partition)));
    out
}

fn log_figures() -> LogFigures {
    let files = strata_log::FileHandles::global().stats();
    let syncs = crate::replica::sync_stats();
    LogFigures {
        corrupt_batches: strata_log::corrupt_batches_total(),
        open_files: files.open as u64,
        open_files_max: files.limit as u64,
        file_opens: files.opened_total,
        file_evictions: files.evicted_total,
        file_open_exhausted: files.exhausted_total,
        partition_syncs: syncs.partition_syncs,
        filesystem_syncs: syncs.filesystem_syncs,
        filesystem_sync_partitions: syncs.filesystem_sync_partitions,
        fsync_seconds: super::LOG_FSYNC_SECONDS.read(),
        group_commit_partitions: super::LOG_GROUP_COMMIT_PARTITIONS.read(),
    }
}
