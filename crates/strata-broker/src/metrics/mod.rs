//! Prometheus metrics of the broker (`/metrics`).
//!
//! Two kinds: instruments updated as things happen ([`Metrics`], counters and
//! histograms in a registry that lives as long as the broker), and figures read at
//! scrape time from the broker's state ([`snapshot`]: log sizes, lag, replication state,
//! per-topic sums of the partitions' own counters, process figures), encoded once per
//! scrape and never stored. [`render`] writes both, as OpenMetrics or as the classic
//! text format ([`classic`]).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Metric, Registry};

mod api_handles;
pub mod classic;
mod encode;
pub mod errors;
mod gather;
mod partition_stats;
pub(crate) mod process;
pub mod snapshot;
mod static_histogram;

pub use api_handles::{ApiHandleRef, ApiHandles};
pub use partition_stats::{PartitionStats, TopicTotals};
pub use static_histogram::{HistogramData, StaticHistogram};

/// Log flush fsync latency (fdatasync of a partition, or a syncfs of many), seconds.
pub static LOG_FSYNC_SECONDS: StaticHistogram = StaticHistogram::new(
    &[
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        5.0, 10.0,
    ],
    1e-9,
);

/// Partitions made durable by one flush (1 for a partition's own fsync, many for a
/// filesystem sync): the group-commit width.
pub static LOG_GROUP_COMMIT_PARTITIONS: StaticHistogram = StaticHistogram::new(
    &[
        1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0, 16384.0, 65536.0,
    ],
    1.0,
);

/// Labels of per-API series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabels {
    /// Kafka API name, e.g. `Produce`.
    pub api: &'static str,
}

/// Labels of error responses.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// Kafka API name, e.g. `Produce`.
    pub api: &'static str,
    /// Kafka's error name, e.g. `NOT_LEADER_OR_FOLLOWER`.
    pub error: &'static str,
}

/// Labels of series counted by reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Why, e.g. `idle`.
    pub reason: &'static str,
}

/// Labels of per-listener series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListenerLabels {
    /// The listener's name (`PLAINTEXT`, ...).
    pub listener: String,
}

/// Labels of per-topic series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicLabels {
    /// Topic name.
    pub topic: String,
}

/// Request latency buckets: 50 µs .. ~26 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.00005, 2.0, 20))
}

fn latency_family() -> Family<ApiLabels, Histogram> {
    Family::new_with_constructor(latency_histogram)
}

/// The instruments updated as things happen (see the module docs).
pub struct Metrics {
    registry: Registry,
    /// Requests served, by API.
    pub requests: Family<ApiLabels, Counter>,
    /// Request latency in seconds, by API (frame read to response ready).
    pub request_latency: Family<ApiLabels, Histogram>,
    /// Time from the frame read to the handler's start (behind the connection's
    /// previous request), by API.
    pub request_queue: Family<ApiLabels, Histogram>,
    /// The handler's own time, by API.
    pub request_handle: Family<ApiLabels, Histogram>,
    /// Time from the response ready to its last byte written to the socket, by API.
    pub request_response: Family<ApiLabels, Histogram>,
    /// Handles of the five families above, per API (`api_handles.rs`).
    api_handles: api_handles::ApiHandleCache,
    /// Error codes in responses (each non-zero code, per partition where per partition),
    /// by API and error.
    pub request_errors: Family<ErrorLabels, Counter>,
    /// Request bytes received.
    pub bytes_in: Counter,
    /// Response bytes sent.
    pub bytes_out: Counter,
    /// Records appended.
    pub records_in: Counter,
    /// Produce payload bytes appended.
    pub produce_bytes: Counter,
    /// Records sent to consumers (offsets spanned by the sent batches).
    pub records_out: Counter,
    /// Fetch payload bytes served.
    pub fetch_bytes: Counter,
    /// Record bytes of Fetch responses sent from the page cache with `sendfile`.
    pub fetch_zero_copy_bytes: Counter,
    /// Fetches whose index lookups ran on a blocking thread because on the runtime
    /// worker one would have waited (for the disk, a closed file or the log lock).
    pub fetch_lookups_blocking: Counter,
    /// Open client connections, by listener.
    pub connections: Family<ListenerLabels, Gauge>,
    /// Open client connections, all listeners (not exported: the sum of `connections`).
    pub open_connections: Gauge,
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
    /// Logs cleaned (compaction runs).
    pub cleaner_runs: Counter,
    /// Bytes of logs the cleaner read (the dirty sections it compacted).
    pub cleaner_bytes_read: Counter,
    /// Bytes the cleaner took out of logs (replaced segments' size less their copies').
    pub cleaner_bytes_removed: Counter,
    /// When the last clean finished, in seconds since the epoch.
    pub cleaner_last_run: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// ISR shrinks of partitions this broker leads (asked for by it, or the controller
    /// fencing a replica), as applied from the metadata log, by topic.
    pub isr_shrinks: Family<TopicLabels, Counter>,
    /// ISR expansions of partitions this broker leads, by topic.
    pub isr_expands: Family<TopicLabels, Counter>,
    /// Partitions given a new leader by this node as active controller.
    pub leader_elections: Counter,
    /// From a leader lost (its broker fenced or shut down) to its partitions' new
    /// leaders committed, on the active controller.
    pub leader_election_seconds: Histogram,
    /// Group rebalances: from the first join of a new generation to its assignment.
    pub group_rebalance_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every instrument.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("strata");
        let m = Self {
            registry: Registry::default(),
            requests: Family::default(),
            request_latency: latency_family(),
            request_queue: latency_family(),
            request_handle: latency_family(),
            request_response: latency_family(),
            api_handles: api_handles::ApiHandleCache::default(),
            request_errors: Family::default(),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            records_in: Counter::default(),
            records_out: Counter::default(),
            produce_bytes: Counter::default(),
            fetch_bytes: Counter::default(),
            fetch_zero_copy_bytes: Counter::default(),
            fetch_lookups_blocking: Counter::default(),
            connections: Family::default(),
            open_connections: Gauge::default(),
            connections_closed: Family::default(),
            max_connections_reached: Counter::default(),
            connection_rate_waits: Counter::default(),
            throttled_requests: Family::default(),
            malformed_requests: Family::default(),
            queued_request_bytes: Gauge::default(),
            request_budget_waits: Counter::default(),
            http_connections_closed: Family::default(),
            cleaner_runs: Counter::default(),
            cleaner_bytes_read: Counter::default(),
            cleaner_bytes_removed: Counter::default(),
            cleaner_last_run: Gauge::default(),
            isr_shrinks: Family::default(),
            isr_expands: Family::default(),
            leader_elections: Counter::default(),
            // 1 ms .. ~65 s
            leader_election_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 17)),
            // 10 ms .. ~10 min
            group_rebalance_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 17)),
        };
        let r = &mut registry;
        reg(r, "requests", "Kafka requests served", &m.requests);
        reg(
            r,
            "request_latency_seconds",
            "Kafka request latency, frame read to response ready",
            &m.request_latency,
        );
        reg(
            r,
            "request_queue_seconds",
            "Kafka request wait before its handler started",
            &m.request_queue,
        );
        reg(
            r,
            "request_handle_seconds",
            "Kafka request handler time",
            &m.request_handle,
        );
        reg(
            r,
            "request_response_seconds",
            "Kafka response write time, ready to last byte sent",
            &m.request_response,
        );
        reg(
            r,
            "request_errors",
            "Error codes in Kafka responses, by API and error",
            &m.request_errors,
        );
        reg(r, "bytes_in", "Request bytes received", &m.bytes_in);
        reg(r, "bytes_out", "Response bytes sent", &m.bytes_out);
        reg(r, "records_in", "Records appended", &m.records_in);
        reg(
            r,
            "records_out",
            "Records sent to consumers",
            &m.records_out,
        );
        reg(
            r,
            "produce_bytes",
            "Record batch bytes appended",
            &m.produce_bytes,
        );
        reg(
            r,
            "fetch_bytes",
            "Record batch bytes served",
            &m.fetch_bytes,
        );
        reg(
            r,
            "fetch_zero_copy_bytes",
            "Record bytes of Fetch responses sent from the page cache with sendfile",
            &m.fetch_zero_copy_bytes,
        );
        reg(
            r,
            "fetch_lookups_blocking",
            "Fetches whose index lookups waited on a blocking thread (disk, closed file or log lock)",
            &m.fetch_lookups_blocking,
        );
        reg(
            r,
            "connections",
            "Open client connections, by listener",
            &m.connections,
        );
        reg(
            r,
            "connections_closed",
            "Client connections closed or refused by the broker, by reason",
            &m.connections_closed,
        );
        reg(
            r,
            "max_connections_reached",
            "Times the listener stopped accepting at max.connections",
            &m.max_connections_reached,
        );
        reg(
            r,
            "connection_rate_waits",
            "Accepts delayed by max.connection.creation.rate (broker or listener)",
            &m.connection_rate_waits,
        );
        reg(
            r,
            "throttled_requests",
            "Responses throttled by a client quota (throttle_time_ms > 0), by API",
            &m.throttled_requests,
        );
        reg(
            r,
            "malformed_requests",
            "Requests whose frame or body did not decode (connection closed), by API",
            &m.malformed_requests,
        );
        reg(r, "queued_request_bytes", "Request bytes being read or waiting for their handler (queued.max.request.bytes in use)", &m.queued_request_bytes);
        reg(
            r,
            "request_budget_waits",
            "Request reads that waited for queued.max.request.bytes",
            &m.request_budget_waits,
        );
        reg(
            r,
            "http_connections_closed",
            "HTTP connections refused or closed by the broker, by reason",
            &m.http_connections_closed,
        );
        reg(r, "cleaner_runs", "Compacted logs cleaned", &m.cleaner_runs);
        reg(
            r,
            "cleaner_bytes_read",
            "Log bytes the cleaner read",
            &m.cleaner_bytes_read,
        );
        reg(
            r,
            "cleaner_bytes_removed",
            "Log bytes the cleaner took out (superseded records, expired tombstones, aborted data)",
            &m.cleaner_bytes_removed,
        );
        reg(
            r,
            "cleaner_last_run_timestamp_seconds",
            "When the last log clean finished (seconds since the epoch)",
            &m.cleaner_last_run,
        );
        reg(
            r,
            "isr_shrinks",
            "ISR shrinks of partitions this broker leads (lagging or fenced replicas), by topic",
            &m.isr_shrinks,
        );
        reg(
            r,
            "isr_expands",
            "ISR expansions of partitions this broker leads, by topic",
            &m.isr_expands,
        );
        reg(
            r,
            "leader_elections",
            "Partitions given a new leader by this node while active controller",
            &m.leader_elections,
        );
        reg(r, "leader_election_seconds", "Leader lost (broker fenced or shut down) to new leaders committed, on the active controller", &m.leader_election_seconds);
        reg(
            r,
            "group_rebalance_duration_seconds",
            "Consumer group rebalance duration, first join to assignment",
            &m.group_rebalance_seconds,
        );
        Self { registry, ..m }
    }

    /// Counts every error code in a response to `api`.
    pub fn count_errors(&self, api: &'static str, body: &kafka_protocol::messages::ResponseKind) {
        errors::visit(body, &mut |code| self.count_error(api, code));
    }

    /// Counts one error code (nothing for 0) in a response to `api`.
    pub fn count_error(&self, api: &'static str, code: i16) {
        if code != 0 {
            let labels = ErrorLabels {
                api,
                error: errors::name(code),
            };
            self.request_errors.get_or_create(&labels).inc();
        }
    }

    /// The instruments' registry (prefix `strata_`).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

fn reg<M: Metric + Clone>(r: &mut Registry, name: &str, help: &str, metric: &M) {
    r.register(name, help, metric.clone());
}

/// Renders the instruments and a scrape-time `snapshot` as one exposition: OpenMetrics
/// when `openmetrics`, else the classic Prometheus text format (what a scraper that
/// does not ask for OpenMetrics expects).
pub fn render(
    metrics: &Metrics,
    snapshot: snapshot::Snapshot,
    process: snapshot::ProcessCollector,
    openmetrics: bool,
) -> String {
    let mut scraped = Registry::default();
    scraped.register_collector(Box::new(process));
    scraped
        .sub_registry_with_prefix("strata")
        .register_collector(Box::new(snapshot));
    let mut out = String::with_capacity(64 * 1024);
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode_registry(&mut out, metrics.registry());
    let _ = prometheus_client::encoding::text::encode_registry(&mut out, &scraped);
    if openmetrics {
        let _ = prometheus_client::encoding::text::encode_eof(&mut out);
        out
    } else {
        classic::from_openmetrics(&out)
    }
}
