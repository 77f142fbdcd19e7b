//! The integration tests of `strata-broker`, one module per file, built as one test binary:
//! each separate binary linked (and monomorphised) the crate and its dependencies again,
//! which made the release test build several times slower. nextest still runs every test
//! in its own process, so tests that change process-wide state stay isolated.

mod common;
mod net_util;

mod admin_apis;
mod broker;
mod broker_configs;
mod compaction;
mod configs;
mod connection_memory;
mod connections;
mod faults;
mod fetch;
mod groups;
mod request_budget;
mod transactions;
mod txn_coordinator;
mod txn_offsets;
mod txn_v2;
mod txn_verification;
mod versions;
