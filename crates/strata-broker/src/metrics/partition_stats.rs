//! Traffic counters of one partition replica, kept with the partition (plain atomics: the
//! produce and fetch paths take no lock and look nothing up to count) and summed per
//! topic at scrape time (`strata_topic_*`). Only partitions this broker holds have
//! them, so a client naming topics that do not exist creates no series.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use kafka_protocol::ResponseError;

/// Upper bounds (bytes) of the produce batch size histogram; one more bucket is +Inf.
pub const BATCH_BUCKETS: [f64; 8] = [
    256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
];

/// Why records were refused, as `reason` label values.
pub const REJECT_REASONS: [&str; 7] = [
    "corrupt",
    "too_large",
    "invalid_record",
    "invalid_timestamp",
    "producer_state",
    "unauthorized",
    "not_enough_replicas",
];

/// The counters (see the module docs).
#[derive(Debug, Default)]
pub struct PartitionStats {
    /// Batch bytes appended from producers.
    pub bytes_in: AtomicU64,
    /// Records appended from producers.
    pub records_in: AtomicU64,
    /// What the appended batches take uncompressed.
    pub uncompressed_in: AtomicU64,
    /// Batch bytes sent to consumers (not followers).
    pub bytes_out: AtomicU64,
    /// Records sent to consumers (offsets spanned by the sent batches).
    pub records_out: AtomicU64,
    /// Produce payloads per [`BATCH_BUCKETS`] bucket (non-cumulative; last is +Inf).
    pub batch_buckets: [AtomicU64; BATCH_BUCKETS.len() + 1],
    /// Produce payloads refused, per [`REJECT_REASONS`].
    pub rejected: [AtomicU64; REJECT_REASONS.len()],
}

impl PartitionStats {
    /// A produce payload of `bytes` bytes (`uncompressed` uncompressed) holding `records`
    /// records was appended.
    pub fn appended(&self, bytes: u64, records: u64, uncompressed: u64) {
        self.bytes_in.fetch_add(bytes, Relaxed);
        self.records_in.fetch_add(records, Relaxed);
        self.uncompressed_in.fetch_add(uncompressed, Relaxed);
        let bucket = BATCH_BUCKETS
            .iter()
            .position(|&b| bytes as f64 <= b)
            .unwrap_or(BATCH_BUCKETS.len());
        self.batch_buckets[bucket].fetch_add(1, Relaxed);
    }

    /// `bytes` bytes holding `records` records were sent to a consumer.
    pub fn served(&self, bytes: u64, records: u64) {
        self.bytes_out.fetch_add(bytes, Relaxed);
        self.records_out.fetch_add(records, Relaxed);
    }

    /// A produce to this partition was answered with `error`; counted when it refuses
    /// the records themselves (not for a moved leader or a timeout).
    pub fn refused(&self, error: ResponseError) {
        if let Some(i) = reject_reason(error) {
            self.rejected[i].fetch_add(1, Relaxed);
        }
    }

    /// Adds this partition's counters into `sum`.
    pub fn add_to(&self, sum: &mut TopicTotals) {
        sum.bytes_in += self.bytes_in.load(Relaxed);
        sum.records_in += self.records_in.load(Relaxed);
        sum.uncompressed_in += self.uncompressed_in.load(Relaxed);
        sum.bytes_out += self.bytes_out.load(Relaxed);
        sum.records_out += self.records_out.load(Relaxed);
        for (s, b) in sum.batch_buckets.iter_mut().zip(&self.batch_buckets) {
            *s += b.load(Relaxed);
        }
        for (s, r) in sum.rejected.iter_mut().zip(&self.rejected) {
            *s += r.load(Relaxed);
        }
    }
}

/// The sum of a topic's partitions' [`PartitionStats`] on this broker.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TopicTotals {
    pub bytes_in: u64,
    pub records_in: u64,
    pub uncompressed_in: u64,
    pub bytes_out: u64,
    pub records_out: u64,
    pub batch_buckets: [u64; BATCH_BUCKETS.len() + 1],
    pub rejected: [u64; REJECT_REASONS.len()],
    /// Bytes on disk (all local replicas of the topic).
    pub log_size: u64,
}

/// The [`REJECT_REASONS`] index of a produce refusal, `None` when `error` does not
/// refuse the records themselves.
fn reject_reason(error: ResponseError) -> Option<usize> {
    use ResponseError as E;
    Some(match error {
        E::CorruptMessage => 0,
        E::MessageTooLarge | E::RecordListTooLarge => 1,
        E::InvalidRecord => 2,
        E::InvalidTimestamp => 3,
        E::OutOfOrderSequenceNumber
        | E::DuplicateSequenceNumber
        | E::InvalidProducerEpoch
        | E::ProducerFenced
        | E::UnknownProducerId
        | E::InvalidTxnState
        | E::TransactionalIdAuthorizationFailed => 4,
        E::TopicAuthorizationFailed => 5,
        E::NotEnoughReplicas => 6,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_land_in_their_bucket_and_sum_per_topic() {
        let (a, b) = (PartitionStats::default(), PartitionStats::default());
        a.appended(100, 10, 300);
        a.appended(1024, 5, 1024);
        b.appended(10_000_000, 1, 20_000_000);
        b.served(50, 2);
        b.refused(ResponseError::InvalidRecord);
        b.refused(ResponseError::NotLeaderOrFollower);
        let mut t = TopicTotals::default();
        a.add_to(&mut t);
        b.add_to(&mut t);
        assert_eq!(
            (t.bytes_in, t.records_in, t.uncompressed_in),
            (10_001_124, 16, 20_001_324)
        );
        assert_eq!((t.bytes_out, t.records_out), (50, 2));
        // 100 <= 256 and 1024 <= 1024: first two buckets; 10 MB: +Inf.
        assert_eq!(t.batch_buckets, [1, 1, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(t.rejected, [0, 0, 1, 0, 0, 0, 0]);
    }
}
