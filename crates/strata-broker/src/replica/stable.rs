//! A partition's transactions as the handlers see them: the last stable offset,
//! `read_committed` reads, and transaction markers appended as leader.
//!
//! Invariants:
//! - `first_unstable` is the log's [`strata_log::Log::first_unstable_offset`] as of the
//!   last change, published under the log lock after every append, truncation,
//!   retention and high-watermark move. It only rises between changes that can lower
//!   it (a transactional append, at or above the high watermark), so the lock-free
//!   [`Partition::last_stable_offset`] never runs ahead of the log's.
//! - The LSO is at most the high watermark: `read_committed` consumers read below it.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use strata_log::{AppendInfo, FileSlice, Log, LogError};

use super::{Partition, ReadResult};

/// A `read_committed` read: the batches below the last stable offset and the aborted
/// transactions among them.
#[derive(Debug, Default)]
pub struct CommittedRead {
    /// Batches and offsets, as [`Partition::slice_blocking_upto`] gives them.
    pub read: ReadResult<Option<FileSlice>>,
    /// The last stable offset at read time.
    pub last_stable_offset: i64,
    /// (producer id, first offset) of every aborted transaction overlapping the
    /// returned batches, in marker order; empty when no batch is returned.
    pub aborted: Vec<(i64, i64)>,
}

impl Partition {
    /// The last stable offset: the lower of the high watermark and the first offset
    /// of the oldest transaction not yet stable. `read_committed` consumers read below
    /// it; ListOffsets answers it for "latest" under `read_committed`.
    pub fn last_stable_offset(&self) -> i64 {
        let hw = self.high_watermark();
        self.first_unstable.load(Ordering::Acquire).min(hw)
    }

    /// Publishes the log's first unstable offset; the caller holds the log.
    pub(super) fn publish_first_unstable(&self, log: &Log) {
        let first = log.first_unstable_offset().unwrap_or(i64::MAX);
        self.first_unstable.store(first, Ordering::Release);
    }

    /// Reads whole batches from `offset` below the last stable offset (at most
    /// `max_bytes` unless `min_one_batch`) with the aborted transactions overlapping
    /// `[offset, end of the last batch]`, under one log lock. Blocking.
    pub fn slice_committed_blocking(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<CommittedRead, LogError> {
        let high_watermark = self.high_watermark();
        let guard = self.lock_log_for_read()?;
        let log = guard
            .as_ref()
            .ok_or_else(|| LogError::Io(io::Error::other("partition is closed")))?;
        // The log's own view (under its lock) is at least as fresh as the atomics.
        let last_stable_offset = log
            .first_unstable_offset()
            .map_or(high_watermark, |o| o.min(high_watermark));
        let records = log.read(offset, max_bytes, last_stable_offset, min_one_batch)?;
        let aborted = match &records {
            Some(slice) => log.aborted_transactions(offset, slice.last_offset + 1)?,
            None => Vec::new(),
        };
        drop(guard);
        Ok(CommittedRead {
            read: ReadResult {
                records,
                high_watermark,
                log_start_offset: self.log_start_offset(),
            },
            last_stable_offset,
            aborted,
        })
    }

    /// Appends a transaction marker (a control batch from
    /// `strata_proto::batch::control::marker_batch`) as leader: stamped with the leader
    /// epoch, appended alone (its refusal, e.g. a fenced producer or coordinator epoch,
    /// is its own). `NOT_LEADER_OR_FOLLOWER` when this broker does not lead.
    pub async fn append_marker(
        self: &Arc<Self>,
        marker: Bytes,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.enqueue_marker(marker, now_ms).appended().await
    }
}
