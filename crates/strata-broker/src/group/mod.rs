//! The group coordinator: classic consumer groups (state machines from `strata-group`)
//! and committed offsets, both stored as records in `__consumer_offsets`.
//!
//! Invariants:
//! - One lock (`state`) guards every group and the offsets map; it is never held across
//!   an await. Disk writes happen after it is released, and their outcome is fed back
//!   into the group (`Group::persisted`) under the lock again.
//! - An offset commit is acknowledged only after its record is durable; the in-memory
//!   map is updated after the write, so it never shows an offset the log does not have.
//! - On start the coordinator replays every partition of `__consumer_offsets`; nothing
//!   is kept only in memory.

mod coordinator;
pub(crate) mod offsets;
mod report;
pub(crate) mod store;

pub use coordinator::GroupCoordinator;
pub use report::{GroupReport, GroupSummary, MemberReport, PartitionLag};
