//! A histogram that can live in a `static` (plain atomics, no lock), for figures
//! recorded where no broker is at hand: the log flush paths record fsync latency and
//! group-commit width into process-wide ones, and `/metrics` reads them at scrape time.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Most buckets a [`StaticHistogram`] has (bounds, plus +Inf).
const MAX_BUCKETS: usize = 24;

/// See the module docs. Values are recorded in whole `unit`s (e.g. nanoseconds for a
/// latency in seconds, unit 1e-9) so the sum is an atomic integer.
pub struct StaticHistogram {
    bounds: &'static [f64],
    unit: f64,
    counts: [AtomicU64; MAX_BUCKETS],
    sum_units: AtomicU64,
}

/// What a scrape reads of a histogram: cumulative buckets ending with +Inf (`f64::MAX`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistogramData {
    pub sum: f64,
    pub count: u64,
    pub buckets: Vec<(f64, u64)>,
}

impl StaticHistogram {
    /// `bounds` ascending, at most 23 of them.
    pub const fn new(bounds: &'static [f64], unit: f64) -> Self {
        assert!(bounds.len() < MAX_BUCKETS);
        Self {
            bounds,
            unit,
            counts: [const { AtomicU64::new(0) }; MAX_BUCKETS],
            sum_units: AtomicU64::new(0),
        }
    }

    /// Records `value` (in the histogram's own measure, e.g. seconds).
    pub fn observe(&self, value: f64) {
        let i = self
            .bounds
            .iter()
            .position(|&b| value <= b)
            .unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Relaxed);
        let units = (value / self.unit).round();
        if units.is_finite() && units > 0.0 {
            self.sum_units.fetch_add(units as u64, Relaxed);
        }
    }

    /// The histogram now.
    pub fn read(&self) -> HistogramData {
        let mut cumulative = 0;
        let buckets: Vec<(f64, u64)> = self
            .bounds
            .iter()
            .copied()
            .chain([f64::MAX])
            .zip(&self.counts)
            .map(|(bound, n)| {
                cumulative += n.load(Relaxed);
                (bound, cumulative)
            })
            .collect();
        HistogramData {
            sum: self.sum_units.load(Relaxed) as f64 * self.unit,
            count: cumulative,
            buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static H: StaticHistogram = StaticHistogram::new(&[0.001, 0.01, 0.1], 1e-9);

    #[test]
    fn values_land_in_cumulative_buckets_and_sum() {
        for v in [0.0005, 0.005, 0.005, 0.05, 3.0] {
            H.observe(v);
        }
        let d = H.read();
        assert_eq!(d.count, 5);
        assert_eq!(
            d.buckets,
            vec![(0.001, 1), (0.01, 3), (0.1, 4), (f64::MAX, 5)]
        );
        assert!((d.sum - 3.0605).abs() < 1e-6, "{}", d.sum);
    }
}
