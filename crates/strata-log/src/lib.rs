//! strata-log: the storage engine of Strata — one [`Log`] per partition.
//!
//! A partition log is a directory of segments named by base offset (20 digits):
//! `.log` holds record batches exactly as produced (base offset rewritten),
//! `.index` maps relative offsets to file positions every `index.interval.bytes`,
//! `.timeindex` maps max timestamps to relative offsets. Indexes stay on disk and are
//! searched with positioned reads, so memory per partition stays small and does not
//! grow with data. Synchronous `std::fs` code; no networking, no async runtime.
//!
//! Compacted topics (`cleanup.policy=compact`) are cleaned by [`Log::clean`], which
//! keeps the latest record per key and leaves offset gaps; recovery and reads accept
//! gaps in segments the cleaner may have rewritten. [`Log::delete_records_before`]
//! moves the log start offset (DeleteRecords), persisted in `log-start-offset`.
//!
//! Replication support: every append keeps the leader epoch cache
//! (`leader-epoch-checkpoint`) in step with the batches' partition leader epochs, and
//! [`Log::end_offset_for_epoch`] answers `OffsetForLeaderEpoch` from it; followers
//! store the leader's batches unchanged with [`Log::append_as_follower`] and cut
//! divergent tails with [`Log::truncate_to`]; the high watermark
//! ([`Log::high_watermark`], set by the broker) is kept in `[log start, log end]` and
//! persisted with the recovery point. The rules themselves live in
//! `strata-replication`.
//!
//! Durability is split in two so fsync never runs under the partition lock:
//! [`Log::prepare_flush`] (cheap, under the lock) → [`FlushTask::sync`] (no lock) →
//! [`Log::complete_flush`] (under the lock, records the recovery point).

mod check;
mod checkpoint;
mod clean;
mod config;
mod damage;
mod epoch_file;
mod epochs;
mod error;
mod follower;
mod handles;
mod high_watermark;
mod index;
mod listing;
mod load;
mod log;
pub mod no_wait;
mod prealloc;
mod producer_snapshot;
mod producer_state;
mod quarantine;
mod read;
mod recovery;
mod resync;
mod retention;
mod roll;
mod scan;
mod scrub;
mod segment;
mod slice;
mod transactions;
mod txn_index;
mod txn_log;
mod verify;

#[cfg(test)]
mod tests;

pub use check::DamagedBytes;
pub use clean::{CleanStats, CleanStep};
pub use config::{LogConfig, TimestampType, SEVEN_DAYS_MS};
pub use damage::{corrupt_batches_total, DamagedRange};
pub use error::LogError;
pub use handles::{CachedFile, FileHandleStats, FileHandles};
pub use log::Log;
pub use producer_state::{
    last_sequence, BatchMetadata, ProducerEntry, ProducerError, ProducerStateTable, SequenceCheck,
    BATCHES_TO_RETAIN,
};
pub use scrub::SealedSegment;
pub use slice::{AppendInfo, FileSlice, FlushTask, RetentionOutcome};
pub use strata_replication::{EpochCache, EpochEntry};
pub use transactions::CompletedTxn;
pub use txn_index::AbortedTxn;
pub use verify::{verify_partition, PartitionReport, SegmentReport};
