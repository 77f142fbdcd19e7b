//! The integration tests of `strata-cli`, one module per file, built as one test binary:
//! each separate binary linked (and monomorphised) the crate and its dependencies again,
//! which made the release test build several times slower. nextest still runs every test
//! in its own process, so tests that change process-wide state stay isolated.

mod common;

mod cli_e2e;
mod client_e2e;
mod cluster_cli;
mod config_cli_e2e;
mod console_cli;
mod group_cli_e2e;
mod group_e2e;
mod parity_cli;
mod server_signals;
