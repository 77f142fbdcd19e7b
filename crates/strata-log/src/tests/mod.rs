//! Tests of the storage engine against real files in temporary directories.

mod append_read;
mod helpers;
mod idempotence;
mod producer_state;
mod recovery;
mod time_retention;
