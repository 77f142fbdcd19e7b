//! The integration tests of `strata-txn`, one module per file, built as one test binary:
//! each separate binary linked (and monomorphised) the crate and its dependencies again,
//! which made the release test build several times slower. nextest still runs every test
//! in its own process, so tests that change process-wide state stay isolated.

mod ops;
mod records;
mod simulation;
mod tv2;
