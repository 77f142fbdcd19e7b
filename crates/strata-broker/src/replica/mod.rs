//! Partition replicas hosted by this broker, kept in step with the metadata image.

mod append_hops;
mod append_queue;
mod coalesce;
mod damage;
mod flush_many;
mod log_config;
mod log_dirs;
mod manager;
mod move_dir;
mod on_cores;
mod partition;
mod prepare;
mod refusals;
mod replicated;
mod role;
mod stable;
mod upkeep;

pub use append_hops::AppendHops;
pub use append_queue::{QueuedAppend, SyncWait};
pub use damage::{hand_over_damaged_leaderships, hand_over_wanted, repair_fetched_file};
pub use flush_many::{sync_stats, SyncStats};
pub use log_config::{log_config_for, TopicSettings};
pub use log_dirs::{LogDir, LogDirs};
pub use manager::ReplicaManager;
pub(crate) use move_dir::recover_moves;
pub use move_dir::FutureReplica;
pub use partition::{Partition, ReadResult};
pub use replicated::Fetched;
pub use role::{IsrRequest, Replicated, Role};
pub use stable::CommittedRead;
pub(crate) use upkeep::{flush_loop, resync_loop, retention_loop};

#[cfg(test)]
mod follow_tests;
#[cfg(test)]
mod no_wait_tests;
#[cfg(test)]
mod wait_tests;
