//! strata-replication: the rules of Kafka-style ISR replication as pure state
//! machines (no sockets, files, clocks or async runtime; time comes in as `now_ms`).
//!
//! - [`EpochCache`]: which leader epoch started at which offset, with Kafka's
//!   `OffsetForLeaderEpoch` lookup ([`EpochCache::end_offset_for`]). The storage
//!   engine persists one per partition and keeps it in step with its batches.
//! - [`plan_truncation`] / [`truncation_offset`]: where a follower truncates before
//!   fetching from a new leader, so replica logs never diverge (KIP-101, KIP-279).
//! - [`LeaderState`]: the leader's tracking of follower log end offsets, the
//!   caught-up times that decide ISR membership, ISR expand/shrink proposals with one
//!   change in flight, the high watermark (minimum log end over the maximal ISR,
//!   never decreasing) and `acks=all` verdicts.
//!
//! The broker drives it: it appends to the log and calls
//! [`LeaderState::on_leader_append`], answers follower fetches and calls
//! [`LeaderState::on_follower_fetch`], sends proposed ISRs to the controller and calls
//! [`LeaderState::apply_isr`] when the controller publishes the result, and calls
//! [`LeaderState::maybe_shrink`] periodically. Deciding whether a broker may join the
//! ISR at all (fenced, shutting down, stale broker epoch) is the broker's business:
//! it can drop a proposal with [`LeaderState::abort_pending_isr`].

mod acks;
mod epoch;
mod error;
mod isr;
mod leader;
mod truncation;

#[cfg(test)]
mod tests;

pub use acks::AckState;
pub use epoch::{
    EpochCache, EpochEndOffset, EpochEntry, InvalidEpochEntries, UNDEFINED_EPOCH,
    UNDEFINED_EPOCH_OFFSET,
};
pub use error::ReplicationError;
pub use leader::{FetchOutcome, FollowerState, IsrApplied, LeaderInit, LeaderState};
pub use truncation::{
    follower_high_watermark, plan_truncation, truncation_offset, Truncation, TruncationPlan,
};
