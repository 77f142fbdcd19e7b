//! The cluster at a glance: brokers, the active controller, partition health and this
//! broker's throughput (rates between samples of its counters).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::Broker;

/// Samples kept: one a second for two minutes.
const SAMPLES: usize = 120;
/// Samples closer together than this are not taken (a page polling fast, two tabs).
const MIN_SAMPLE_GAP: Duration = Duration::from_millis(900);

/// One broker of the cluster.
#[derive(Debug, Serialize)]
pub struct BrokerView {
    /// Node id.
    pub node_id: i32,
    /// `host:port` it advertises for clients.
    pub address: String,
    /// Rack, if set.
    pub rack: Option<String>,
    /// Fenced by the controller (not serving).
    pub fenced: bool,
    /// Whether this is the broker answering.
    pub this_broker: bool,
}

/// Partition counts over the whole cluster.
#[derive(Debug, Serialize, Default)]
pub struct PartitionCounts {
    /// Topics.
    pub topics: usize,
    /// Partitions.
    pub total: usize,
    /// Partitions with fewer in-sync replicas than replicas.
    pub under_replicated: usize,
    /// Partitions without a leader.
    pub offline: usize,
}

/// Rates of this broker, per second, between two samples of its counters.
#[derive(Debug, Serialize, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    /// Milliseconds since the epoch of the later sample.
    pub time_ms: i64,
    /// Produce payload bytes appended.
    pub bytes_in: f64,
    /// Fetch payload bytes served.
    pub bytes_out: f64,
    /// Records appended.
    pub records_in: f64,
    /// Records sent to consumers.
    pub records_out: f64,
}

/// The overview.
#[derive(Debug, Serialize)]
pub struct Overview {
    /// Cluster id.
    pub cluster_id: String,
    /// The broker answering.
    pub node_id: i32,
    /// The active controller, if known.
    pub controller_id: Option<i32>,
    /// Registered brokers.
    pub brokers: Vec<BrokerView>,
    /// Partition health.
    pub partitions: PartitionCounts,
    /// `healthy` (ready, nothing offline or under-replicated), `degraded` (ready, some
    /// partitions under-replicated or offline) or `unavailable` (not ready).
    pub health: &'static str,
    /// Why this broker is not ready (empty when ready).
    pub reasons: Vec<String>,
    /// `http.ui.read.only`: the admin API refuses changes.
    pub read_only: bool,
    /// The latest rates of this broker (zero until two samples exist).
    pub rates: Rates,
    /// Recent rates, oldest first (one per sample, at most two minutes).
    pub history: Vec<Rates>,
}

#[derive(Clone, Copy)]
struct Sample {
    at: Instant,
    wall_ms: i64,
    bytes_in: u64,
    bytes_out: u64,
    records_in: u64,
    records_out: u64,
}

/// Samples of the broker's counters, taken when asked (at most about one a second),
/// turned into rates.
#[derive(Default)]
pub struct RateSampler {
    samples: parking_lot::Mutex<VecDeque<Sample>>,
}

impl RateSampler {
    /// An empty sampler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a sample of `broker`'s counters (unless one was taken under a second ago).
    pub fn sample(&self, broker: &Broker) {
        let now = Instant::now();
        let mut samples = self.samples.lock();
        if samples
            .back()
            .is_some_and(|s| now.duration_since(s.at) < MIN_SAMPLE_GAP)
        {
            return;
        }
        let m = &broker.metrics;
        samples.push_back(Sample {
            at: now,
            wall_ms: crate::broker::now_ms(),
            bytes_in: m.produce_bytes.get(),
            bytes_out: m.fetch_bytes.get(),
            records_in: m.records_in.get(),
            records_out: m.records_out.get(),
        });
        while samples.len() > SAMPLES {
            samples.pop_front();
        }
    }

    /// Rates between consecutive samples, oldest first.
    pub fn history(&self) -> Vec<Rates> {
        let samples = self.samples.lock();
        samples
            .iter()
            .zip(samples.iter().skip(1))
            .map(|(a, b)| rate(a, b))
            .collect()
    }
}

fn rate(a: &Sample, b: &Sample) -> Rates {
    let secs = b.at.duration_since(a.at).as_secs_f64().max(0.001);
    let per = |x: u64, y: u64| y.saturating_sub(x) as f64 / secs;
    Rates {
        time_ms: b.wall_ms,
        bytes_in: per(a.bytes_in, b.bytes_in),
        bytes_out: per(a.bytes_out, b.bytes_out),
        records_in: per(a.records_in, b.records_in),
        records_out: per(a.records_out, b.records_out),
    }
}

impl Broker {
    /// The overview, with a fresh sample of the counters.
    pub async fn admin_overview(self: &Arc<Self>, sampler: &RateSampler) -> Overview {
        sampler.sample(self);
        let readiness = self.readiness().await;
        let image = self.meta.image();
        let brokers = image
            .brokers()
            .map(|b| BrokerView {
                node_id: b.node_id,
                address: format!("{}:{}", b.host, b.port),
                rack: b.rack.clone(),
                fenced: b.fenced,
                this_broker: b.node_id == self.config.node_id,
            })
            .collect();
        let mut partitions = PartitionCounts {
            topics: image.topic_count(),
            ..PartitionCounts::default()
        };
        for t in image.topics() {
            for p in &t.partitions {
                partitions.total += 1;
                if p.leader < 0 {
                    partitions.offline += 1;
                }
                if p.isr.len() < p.replicas.len() {
                    partitions.under_replicated += 1;
                }
            }
        }
        let health = if !readiness.ready {
            "unavailable"
        } else if partitions.offline > 0 || partitions.under_replicated > 0 {
            "degraded"
        } else {
            "healthy"
        };
        let history = sampler.history();
        Overview {
            cluster_id: self.cluster_id.clone(),
            node_id: self.config.node_id,
            controller_id: self.meta.controller_id(),
            brokers,
            partitions,
            health,
            reasons: readiness.reasons,
            read_only: self.config.http_ui_read_only,
            rates: history.last().copied().unwrap_or_default(),
            history,
        }
    }
}
