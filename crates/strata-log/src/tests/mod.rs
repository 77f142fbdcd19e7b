//! Tests of the storage engine against real files in temporary directories.

mod append_read;
mod compaction;
mod compaction_crash;
mod compaction_model;
mod compaction_txn;
mod epochs;
mod file_budget;
mod follower;
mod helpers;
mod high_watermark;
mod idempotence;
mod index_damage;
mod preallocation;
mod producer_state;
mod recovery;
mod scrub;
mod time_retention;
mod transactions;
