//! The group coordinator: classic consumer groups (state machines from `strata-group`)
//! and committed offsets, both stored as records in `__consumer_offsets`.
//!
//! Invariants:
//! - One lock (`state`) guards every group and the offsets map; it is never held across
//!   an await. Disk writes happen after it is released, and their outcome is fed back
//!   into the group (`Group::persisted`) under the lock again.
//! - An offset commit is acknowledged only after its record is durable; the in-memory
//!   map is updated after the write, so it never shows an offset the log does not have.
//! - Only groups of the `__consumer_offsets` partitions this broker leads are in
//!   memory; they are replayed from the partition's log when leadership arrives and
//!   dropped when it leaves (see `loading`). Nothing is kept only in memory.
//! - Writes are acknowledged once every in-sync replica has them, so a coordinator
//!   elected after a failover has every acknowledged commit.
//! - Deleting a topic drops its committed offsets (`deleted_topics`), detected by
//!   topic id so a topic created again under the name starts clean.
//! - Transactional offsets (TxnOffsetCommit) are pending until their producer's marker
//!   in the partition is reported (`GroupCoordinator::complete_transaction`) or
//!   replayed; a commit materializes them by log order, never completion order
//!   (`txn_offsets`, `strata_group::TxnOffsets`).

mod coordinator;
mod deleted_topics;
mod loading;
pub(crate) mod offsets;
mod report;
pub(crate) mod store;
mod timers;
mod txn_offsets;

pub use coordinator::GroupCoordinator;
pub use report::{GroupReport, GroupSummary, MemberReport, PartitionLag};
pub(crate) use timers::group_loop;
pub use txn_offsets::TxnCommitter;
