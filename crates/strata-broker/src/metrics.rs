//! Prometheus metrics of the broker (`/metrics`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of per-API series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabels {
    /// Kafka API name, e.g. `Produce`.
    pub api: &'static str,
}

/// Labels of series counted by reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Why, e.g. `idle`.
    pub reason: &'static str,
}

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

/// Every metric the broker exports.
pub struct Metrics {
    registry: Registry,
    /// Requests served, by API.
    pub requests: Family<ApiLabels, Counter>,
    /// Request latency in seconds, by API (receive to response queued).
    pub request_latency: Family<ApiLabels, Histogram>,
    /// Requests that got an error or closed the connection, by API.
    pub request_errors: Family<ApiLabels, Counter>,
    /// Request bytes received.
    pub bytes_in: Counter,
    /// Response bytes sent.
    pub bytes_out: Counter,
    /// Records appended.
    pub records_in: Counter,
    /// Produce payload bytes appended.
    pub produce_bytes: Counter,
    /// Fetch payload bytes served.
    pub fetch_bytes: Counter,
    /// Open client connections.
    pub connections: Gauge,
    /// Connections the broker closed or refused, by reason: `per_ip_limit` (refused at
    /// accept), `idle`, `request_timeout` (a request incomplete for too long),
    /// `malformed` (a frame or request that does not decode).
    pub connections_closed: Family<ReasonLabels, Counter>,
    /// Times the listener stopped accepting because `max.connections` were open.
    pub max_connections_reached: Counter,
    /// Accepts delayed by `max.connection.creation.rate` (broker or listener, KIP-612).
    pub connection_rate_waits: Counter,
    /// Responses throttled by a client quota (KIP-219), by API.
    pub throttled_requests: Family<ApiLabels, Counter>,
    /// Requests that did not decode, by API (`unknown` for an unknown key or a bad frame).
    pub malformed_requests: Family<ApiLabels, Counter>,
    /// Request bytes being read or waiting for their handler (`queued.max.request.bytes`
    /// budget in use).
    pub queued_request_bytes: Gauge,
    /// Reads that waited for `queued.max.request.bytes`.
    pub request_budget_waits: Counter,
    /// HTTP connections refused or closed, by reason: `over_limit`, `header_timeout`,
    /// `request_timeout`, `write_timeout`.
    pub http_connections_closed: Family<ReasonLabels, Counter>,
    /// Log size per partition, refreshed at scrape time.
    pub log_size: Family<PartitionLabels, Gauge>,
    /// Log end offset per partition, refreshed at scrape time.
    pub log_end_offset: Family<PartitionLabels, Gauge>,
    /// Committed offset behind the high-water mark, per group and partition.
    pub consumer_lag: Family<LagLabels, Gauge>,
    /// Group rebalances started.
    pub rebalances: Counter,
    /// Logs cleaned (compaction runs).
    pub cleaner_runs: Counter,
    /// Damaged batch ranges found in this process's logs (recovery, fetch CRC checks,
    /// the scrubber); mirrored from `strata_log::corrupt_batches_total` at scrape time.
    pub log_corrupt_batches: Counter,
    /// Segment and index files the logs hold open, and their budget
    /// (`log.open.files.max`); mirrored from `strata_log::FileHandles` at scrape time.
    pub log_open_files: Gauge,
    /// The budget of [`Metrics::log_open_files`].
    pub log_open_files_max: Gauge,
    /// Log files opened (the handle was not cached).
    pub log_file_opens: Counter,
    /// Cached log file handles closed to stay within the budget.
    pub log_file_evictions: Counter,
    /// Log file opens that found the process out of file descriptors.
    pub log_file_open_exhausted: Counter,
    /// Partition flushes by their own `fdatasync`s; mirrored from `replica::sync_stats`.
    pub log_partition_syncs: Counter,
    /// Filesystem syncs (`syncfs`) that flushed many partitions at once.
    pub log_filesystem_syncs: Counter,
    /// Partitions flushed by those filesystem syncs (over
    /// [`Metrics::log_filesystem_syncs`]: partitions per sync, the group-commit width).
    pub log_filesystem_sync_partitions: Counter,
    /// Partitions this broker leads with fewer in-sync replicas than replicas.
    pub under_replicated_partitions: Gauge,
    /// Partitions without a leader in this node's metadata image.
    pub offline_partitions: Gauge,
    /// ISR shrinks of partitions this broker leads (asked for by it, or the controller
    /// fencing a replica), as applied from the metadata log.
    pub isr_shrinks: Counter,
    /// ISR expansions of partitions this broker leads, as applied from the metadata log.
    pub isr_expands: Counter,
    /// Partitions given a new leader by this node as active controller.
    pub leader_elections: Counter,
    /// Records the furthest-behind follower of a partition this broker leads lacks.
    pub replica_max_lag: Gauge,
    /// 1 on the active controller (Raft leader), else 0.
    pub active_controller: Gauge,
    /// Fenced brokers in this node's metadata image.
    pub fenced_brokers: Gauge,
    /// Connections to the controller port refused at the TLS handshake (no certificate
    /// the cluster trusts), since start.
    pub controller_connections_refused: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("strata");
        let requests = Family::<ApiLabels, Counter>::default();
        let request_latency = Family::<ApiLabels, Histogram>::new_with_constructor(|| {
            // 50 µs .. ~26 s
            Histogram::new(exponential_buckets(0.00005, 2.0, 20))
        });
        let request_errors = Family::<ApiLabels, Counter>::default();
        let m = Self {
            requests,
            request_latency,
            request_errors,
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            records_in: Counter::default(),
            produce_bytes: Counter::default(),
            fetch_bytes: Counter::default(),
            connections: Gauge::default(),
            connections_closed: Family::default(),
            max_connections_reached: Counter::default(),
            connection_rate_waits: Counter::default(),
            throttled_requests: Family::default(),
            malformed_requests: Family::default(),
            queued_request_bytes: Gauge::default(),
            request_budget_waits: Counter::default(),
            http_connections_closed: Family::default(),
            log_size: Family::default(),
            log_corrupt_batches: Counter::default(),
            log_open_files: Gauge::default(),
            log_open_files_max: Gauge::default(),
            log_file_opens: Counter::default(),
            log_file_evictions: Counter::default(),
            log_file_open_exhausted: Counter::default(),
            log_partition_syncs: Counter::default(),
            log_filesystem_syncs: Counter::default(),
            log_filesystem_sync_partitions: Counter::default(),
            log_end_offset: Family::default(),
            consumer_lag: Family::default(),
            rebalances: Counter::default(),
            cleaner_runs: Counter::default(),
            under_replicated_partitions: Gauge::default(),
            offline_partitions: Gauge::default(),
            isr_shrinks: Counter::default(),
            isr_expands: Counter::default(),
            leader_elections: Counter::default(),
            replica_max_lag: Gauge::default(),
            active_controller: Gauge::default(),
            fenced_brokers: Gauge::default(),
            controller_connections_refused: Counter::default(),
            registry: Registry::default(),
        };
        registry.register("requests", "Kafka requests served", m.requests.clone());
        registry.register(
            "request_latency_seconds",
            "Kafka request latency",
            m.request_latency.clone(),
        );
        registry.register(
            "request_errors",
            "Kafka requests rejected or failed",
            m.request_errors.clone(),
        );
        registry.register("bytes_in", "Request bytes received", m.bytes_in.clone());
        registry.register("bytes_out", "Response bytes sent", m.bytes_out.clone());
        registry.register("records_in", "Records appended", m.records_in.clone());
        registry.register(
            "produce_bytes",
            "Record batch bytes appended",
            m.produce_bytes.clone(),
        );
        registry.register(
            "fetch_bytes",
            "Record batch bytes served",
            m.fetch_bytes.clone(),
        );
        registry.register(
            "connections",
            "Open client connections",
            m.connections.clone(),
        );
        registry.register(
            "connections_closed",
            "Client connections closed or refused by the broker, by reason",
            m.connections_closed.clone(),
        );
        registry.register(
            "max_connections_reached",
            "Times the listener stopped accepting at max.connections",
            m.max_connections_reached.clone(),
        );
        registry.register(
            "connection_rate_waits",
            "Accepts delayed by max.connection.creation.rate (broker or listener)",
            m.connection_rate_waits.clone(),
        );
        registry.register(
            "throttled_requests",
            "Responses throttled by a client quota (throttle_time_ms > 0), by API",
            m.throttled_requests.clone(),
        );
        registry.register(
            "malformed_requests",
            "Requests whose frame or body did not decode (connection closed), by API",
            m.malformed_requests.clone(),
        );
        registry.register(
            "queued_request_bytes",
            "Request bytes being read or waiting for their handler (queued.max.request.bytes in use)",
            m.queued_request_bytes.clone(),
        );
        registry.register(
            "request_budget_waits",
            "Request reads that waited for queued.max.request.bytes",
            m.request_budget_waits.clone(),
        );
        registry.register(
            "http_connections_closed",
            "HTTP connections refused or closed by the broker, by reason",
            m.http_connections_closed.clone(),
        );
        registry.register(
            "log_size_bytes",
            "Bytes on disk per partition",
            m.log_size.clone(),
        );
        registry.register(
            "log_end_offset",
            "Log end offset per partition",
            m.log_end_offset.clone(),
        );
        registry.register(
            "consumer_lag",
            "Messages between a group's committed offset and the high-water mark",
            m.consumer_lag.clone(),
        );
        registry.register(
            "group_rebalances",
            "Consumer group rebalances started",
            m.rebalances.clone(),
        );
        registry.register(
            "cleaner_runs",
            "Compacted logs cleaned",
            m.cleaner_runs.clone(),
        );
        registry.register(
            "under_replicated_partitions",
            "Partitions this broker leads whose ISR is smaller than their replica set",
            m.under_replicated_partitions.clone(),
        );
        registry.register(
            "offline_partitions",
            "Partitions with no leader, as this node's metadata image says",
            m.offline_partitions.clone(),
        );
        registry.register(
            "isr_shrinks",
            "ISR shrinks of partitions this broker leads (lagging or fenced replicas)",
            m.isr_shrinks.clone(),
        );
        registry.register(
            "isr_expands",
            "ISR expansions of partitions this broker leads",
            m.isr_expands.clone(),
        );
        registry.register(
            "leader_elections",
            "Partitions given a new leader by this node while active controller",
            m.leader_elections.clone(),
        );
        registry.register(
            "replica_max_lag_records",
            "Records the furthest-behind follower lacks, over the partitions this broker leads",
            m.replica_max_lag.clone(),
        );
        registry.register(
            "active_controller",
            "1 if this node is the active controller (Raft leader)",
            m.active_controller.clone(),
        );
        registry.register(
            "log_corrupt_batches",
            "Damaged batch ranges found in the logs (each moved aside, never served)",
            m.log_corrupt_batches.clone(),
        );
        registry.register(
            "log_open_files",
            "Segment and index files the logs hold open",
            m.log_open_files.clone(),
        );
        registry.register(
            "log_open_files_max",
            "Budget of open segment and index files (log.open.files.max)",
            m.log_open_files_max.clone(),
        );
        registry.register(
            "log_file_opens",
            "Segment and index files opened because no handle was cached",
            m.log_file_opens.clone(),
        );
        registry.register(
            "log_partition_syncs",
            "Partition flushes made by fsyncing the partition's own files",
            m.log_partition_syncs.clone(),
        );
        registry.register(
            "log_filesystem_syncs",
            "Filesystem syncs (syncfs) that flushed many partitions at once",
            m.log_filesystem_syncs.clone(),
        );
        registry.register(
            "log_filesystem_sync_partitions",
            "Partitions flushed by filesystem syncs (divided by log_filesystem_syncs: partitions per sync)",
            m.log_filesystem_sync_partitions.clone(),
        );
        registry.register(
            "log_file_evictions",
            "Cached segment and index file handles closed to stay within the budget",
            m.log_file_evictions.clone(),
        );
        registry.register(
            "log_file_open_exhausted",
            "Log file opens that found the process out of file descriptors",
            m.log_file_open_exhausted.clone(),
        );
        registry.register(
            "controller_connections_refused",
            "Connections to the controller port refused at the TLS handshake",
            m.controller_connections_refused.clone(),
        );
        registry.register(
            "fenced_brokers",
            "Fenced brokers, as this node's metadata image says",
            m.fenced_brokers.clone(),
        );
        Self { registry, ..m }
    }

    /// Renders the Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
