//! Which idempotent producers this replica recently refused, and with which error
//! (sans-I/O: time is passed in).
//!
//! A producer pipelines its batches. When this broker refuses one without writing it
//! (not the leader yet, too few in-sync replicas, a failed write) and then takes the
//! next one (it just became leader, the ISR grew back), the next one leaves a gap in
//! the producer's sequence. Answering that gap with `OUT_OF_ORDER_SEQUENCE_NUMBER`
//! is what the protocol says, but it makes librdkafka give up its producer epoch for
//! every partition (and with it the duplicate detection of whatever it still has in
//! flight). The gap is this broker's own doing, though: the refused batch is on its
//! way back. So the later batch gets the same retriable error as the refused one,
//! and the client retries both, in order.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kafka_protocol::ResponseError;
use strata_log::LogError;
use strata_proto::batch::BatchHeader;

use super::Partition;

/// How long a refusal explains a later gap: far longer than a client's retry backoff.
pub const REMEMBERED_FOR: Duration = Duration::from_secs(10);
/// At most this many producers are remembered per partition (a bound, not a goal).
pub const CAPACITY: usize = 1024;

/// Recent refusals of one partition, by producer id.
#[derive(Debug, Default)]
pub struct Refusals {
    by_producer: HashMap<i64, (ResponseError, Instant)>,
}

impl Refusals {
    /// Records that a batch of `producer_id` was refused with `error`, unwritten.
    pub fn note(&mut self, producer_id: i64, error: ResponseError, now: Instant) {
        if producer_id < 0 {
            return;
        }
        if self.by_producer.len() >= CAPACITY && !self.by_producer.contains_key(&producer_id) {
            self.by_producer
                .retain(|_, (_, at)| now.saturating_duration_since(*at) < REMEMBERED_FOR);
            if self.by_producer.len() >= CAPACITY {
                return;
            }
        }
        self.by_producer.insert(producer_id, (error, now));
    }

    /// The error a sequence gap of `producer_id` is answered with instead of
    /// `OUT_OF_ORDER_SEQUENCE_NUMBER`, if a refusal here explains it.
    pub fn explains_gap(&self, producer_id: i64, now: Instant) -> Option<ResponseError> {
        self.by_producer
            .get(&producer_id)
            .filter(|(_, at)| now.saturating_duration_since(*at) < REMEMBERED_FOR)
            .map(|(error, _)| *error)
    }

    /// Forgets `producer_id`'s refusal: one of its batches was written, so any later
    /// gap is not explained by it.
    pub fn clear(&mut self, producer_id: i64) {
        if !self.by_producer.is_empty() {
            self.by_producer.remove(&producer_id);
        }
    }
}

impl Partition {
    /// Records that `records` (a produce payload) were refused here with `error` and
    /// not written; only refusals a client retries count.
    pub fn note_refusal(&self, records: &[u8], error: ResponseError) {
        let retried = matches!(
            error,
            ResponseError::NotLeaderOrFollower
                | ResponseError::LeaderNotAvailable
                | ResponseError::NotEnoughReplicas
                | ResponseError::KafkaStorageError
        );
        if let (true, Some(pid)) = (retried, producer_of(records)) {
            self.refusals.lock().note(pid, error, Instant::now());
            self.refused_any
                .store(true, std::sync::atomic::Ordering::Release);
        }
    }

    /// The error to answer a failed append with when it is a sequence gap that an
    /// earlier refusal here explains (see the module docs); `None` otherwise.
    pub fn explained_gap(&self, error: &LogError) -> Option<ResponseError> {
        match error {
            LogError::OutOfOrderSequence { producer_id, .. } => self
                .refusals
                .lock()
                .explains_gap(*producer_id, Instant::now()),
            _ => None,
        }
    }

    /// An append of `records` was written: a refusal no longer explains later gaps.
    /// On the produce hot path: nothing is parsed or locked unless some refusal of this
    /// partition is remembered.
    pub fn note_written(&self, records: &[u8]) {
        if !self.refused_any.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        if let Some(pid) = producer_of(records) {
            self.refusals.lock().clear(pid);
        }
    }
}

/// The idempotent producer of a payload's first batch, if it has one.
fn producer_of(records: &[u8]) -> Option<i64> {
    BatchHeader::parse(records)
        .ok()
        .map(|h| h.producer_id)
        .filter(|&pid| pid >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_explains_gaps_for_a_while_and_until_a_write() {
        let t0 = Instant::now();
        let mut r = Refusals::default();
        assert_eq!(r.explains_gap(7, t0), None);
        r.note(7, ResponseError::NotLeaderOrFollower, t0);
        r.note(-1, ResponseError::NotLeaderOrFollower, t0);
        assert_eq!(
            r.explains_gap(7, t0 + Duration::from_secs(1)),
            Some(ResponseError::NotLeaderOrFollower)
        );
        assert_eq!(r.explains_gap(8, t0), None);
        assert_eq!(r.explains_gap(-1, t0), None);
        assert_eq!(r.explains_gap(7, t0 + REMEMBERED_FOR), None);
        r.clear(7);
        assert_eq!(r.explains_gap(7, t0), None);
    }

    #[test]
    fn the_table_is_bounded_and_makes_room_from_expired_entries() {
        let t0 = Instant::now();
        let mut r = Refusals::default();
        for pid in 0..CAPACITY as i64 {
            r.note(pid, ResponseError::NotEnoughReplicas, t0);
        }
        r.note(
            -5 + CAPACITY as i64 * 2,
            ResponseError::NotEnoughReplicas,
            t0,
        );
        assert_eq!(r.by_producer.len(), CAPACITY);
        let later = t0 + REMEMBERED_FOR;
        r.note(CAPACITY as i64 * 3, ResponseError::NotEnoughReplicas, later);
        assert_eq!(r.by_producer.len(), 1);
        assert!(r.explains_gap(CAPACITY as i64 * 3, later).is_some());
    }
}

#[cfg(test)]
mod partition_tests {
    use std::sync::Arc;

    use bytes::{Bytes, BytesMut};
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
    use kafka_protocol::ResponseError;
    use strata_log::{Log, LogConfig};
    use strata_meta::PartitionImage;

    use super::super::Partition;

    const PID: i64 = 77;

    /// One batch of `count` records of producer `PID`, epoch 0, from `seq`.
    fn batch(seq: i32, count: i32) -> Bytes {
        let records: Vec<Record> = (0..count)
            .map(|i| Record {
                transactional: false,
                control: false,
                partition_leader_epoch: -1,
                producer_id: PID,
                producer_epoch: 0,
                timestamp_type: TimestampType::Creation,
                offset: i64::from(i),
                sequence: seq + i,
                timestamp: 1_700_000_000_000,
                key: None,
                value: Some(Bytes::from_static(b"v")),
                headers: Default::default(),
                delete_horizon: false,
            })
            .collect();
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        };
        RecordBatchEncoder::encode(&mut buf, records.iter(), &options).unwrap();
        buf.freeze()
    }

    fn image(leader: i32) -> PartitionImage {
        PartitionImage {
            partition: 0,
            replicas: vec![1, 2],
            isr: vec![1],
            leader,
            leader_epoch: 1,
            partition_epoch: 1,
        }
    }

    #[tokio::test]
    async fn a_gap_left_by_a_refused_batch_is_answered_like_the_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(dir.path(), LogConfig::default(), false).unwrap();
        let p = Arc::new(Partition::new("t".into(), uuid::Uuid::new_v4(), 0, log));
        p.update_role(&image(1), 1, 1);
        p.append(batch(0, 3), 1).await.expect("seq 0..2");
        // Leadership goes away and comes back; meanwhile seq 3..5 was refused here.
        p.update_role(&image(2), 1, 1);
        p.note_refusal(&batch(3, 3), ResponseError::NotLeaderOrFollower);
        p.update_role(&image(1), 1, 1);
        // The pipelined seq 6..8 arrives first: a gap, but an explained one.
        let gap = p.append(batch(6, 3), 1).await.expect_err("a gap");
        assert_eq!(
            p.explained_gap(&gap),
            Some(ResponseError::NotLeaderOrFollower)
        );
        // The retries come in order; once one is written, gaps are gaps again.
        p.append(batch(3, 3), 1).await.expect("seq 3..5");
        p.note_written(&batch(3, 3));
        p.append(batch(6, 3), 1).await.expect("seq 6..8");
        let gap = p.append(batch(20, 1), 1).await.expect_err("a real gap");
        assert_eq!(p.explained_gap(&gap), None);
        // Refusals a client does not retry explain nothing.
        p.note_refusal(&batch(9, 1), ResponseError::CorruptMessage);
        let gap = p.append(batch(20, 1), 1).await.expect_err("a real gap");
        assert_eq!(p.explained_gap(&gap), None);
    }
}
