//! Durable storage for openraft: the log store (vote, entries, purge point) and the
//! state machine with its snapshots.

mod files;
pub(crate) mod log_store;
pub(crate) mod retry;
pub(crate) mod segments;
pub(crate) mod snapshot_store;
pub(crate) mod state_machine;

pub(crate) use log_store::LogStore;
pub(crate) use retry::WriteRetry;
pub(crate) use snapshot_store::SnapshotStore;
pub(crate) use state_machine::{Published, StateMachine};

#[cfg(test)]
mod suite_tests;
