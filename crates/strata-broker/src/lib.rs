//! The Strata broker: Kafka listener, request handlers (one file per API), partition
//! replicas and the metadata they follow.
//!
//! Map:
//! - [`network`]: sockets, framing, ordered responses.
//! - [`handlers`]: one module per Kafka API; pure request → response over [`Broker`].
//! - [`replica`]: partition logs and their offsets; the only place logs are touched.
//! - [`metadata`]: the metadata image and its log.
//! - [`Broker`]: the shared context that ties them together (`broker.rs`); start-up,
//!   the background tasks and shutdown in `start.rs` ([`Broker::start`] /
//!   [`RunningBroker::shutdown`]).

pub mod admin;
mod auth;
mod broker;
mod cleaner;
pub mod config;
pub mod controller;
mod data_dir;
mod dynamic_configs;
pub mod group;
pub mod handlers;
mod health;
mod leadership;
pub mod listeners;
mod log_dir_watch;
pub mod metadata;
pub mod metrics;
pub mod network;
mod partition_loads;
mod producer_ids;
mod quota;
pub mod registry;
pub mod replica;
pub mod replication;
mod scrubber;
mod start;
mod topics;
pub mod txn;

pub use broker::Broker;
pub use config::{BrokerConfig, FlushPolicy};
pub use health::Readiness;
pub use start::RunningBroker;
