//! Per-API handles of the request instruments, looked up once per API: a `Family`
//! lookup takes a read lock and hashes the label, and every request updated five of
//! them. The handles share their values with the families (the registry encodes the
//! same series).

use std::sync::OnceLock;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;

use super::{ApiLabels, Metrics};

/// Kafka API keys are small non-negative numbers (under 100 in Kafka 4); a slot each.
const SLOTS: usize = 256;

/// One API's request instruments.
#[derive(Clone, Debug)]
pub struct ApiHandles {
    /// `strata_requests_total{api}`.
    pub requests: Counter,
    /// `strata_request_latency_seconds{api}`.
    pub latency: Histogram,
    /// `strata_request_queue_seconds{api}`.
    pub queue: Histogram,
    /// `strata_request_handle_seconds{api}`.
    pub handle: Histogram,
    /// `strata_request_response_seconds{api}`.
    pub response: Histogram,
}

/// The handles, made at the first request of each API.
pub struct ApiHandleCache {
    slots: Vec<OnceLock<ApiHandles>>,
}

impl Default for ApiHandleCache {
    fn default() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| OnceLock::new()).collect(),
        }
    }
}

impl Metrics {
    /// The request instruments of the API with `key` (named `api`).
    pub fn api(&self, key: i16, api: &'static str) -> ApiHandleRef<'_> {
        let make = || {
            let labels = ApiLabels { api };
            ApiHandles {
                requests: self.requests.get_or_create(&labels).clone(),
                latency: self.request_latency.get_or_create(&labels).clone(),
                queue: self.request_queue.get_or_create(&labels).clone(),
                handle: self.request_handle.get_or_create(&labels).clone(),
                response: self.request_response.get_or_create(&labels).clone(),
            }
        };
        match usize::try_from(key)
            .ok()
            .and_then(|i| self.api_handles.slots.get(i))
        {
            Some(slot) => ApiHandleRef::Cached(slot.get_or_init(make)),
            None => ApiHandleRef::Fresh(make()),
        }
    }
}

/// A cached handle, or one made for a key outside the cache (never for a real API).
pub enum ApiHandleRef<'a> {
    /// From the cache.
    Cached(&'a ApiHandles),
    /// Made for this call.
    Fresh(ApiHandles),
}

impl std::ops::Deref for ApiHandleRef<'_> {
    type Target = ApiHandles;
    fn deref(&self) -> &ApiHandles {
        match self {
            ApiHandleRef::Cached(h) => h,
            ApiHandleRef::Fresh(h) => h,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_handle_updates_the_familys_series() {
        let m = Metrics::new();
        m.api(0, "Produce").requests.inc();
        m.api(0, "Produce").requests.inc();
        m.api(-1, "Weird").latency.observe(0.5);
        let labels = ApiLabels { api: "Produce" };
        assert_eq!(m.requests.get_or_create(&labels).get(), 2);
        assert!(matches!(m.api(0, "Produce"), ApiHandleRef::Cached(_)));
        assert!(matches!(m.api(-1, "Weird"), ApiHandleRef::Fresh(_)));
    }
}
