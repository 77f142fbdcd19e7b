//! strata-raft: Strata's cluster metadata replicated with openraft (KRaft-style).
//!
//! Every node runs a [`MetadataRaft`]: the voters listed in [`RaftOptions::voters`]
//! elect a leader (the active controller); every other node joins as a learner by
//! itself and follows the log. Each log entry is one batch of
//! [`strata_meta::MetadataRecord`]s, applied all-or-nothing to the node's
//! [`strata_meta::MetadataImage`]; a batch that does not apply is a no-op everywhere.
//!
//! - Durability: the vote (atomic replace + fsync), the log
//!   (CRC-framed segment files, fsynced before an append is acknowledged, torn tail
//!   truncated on open) and snapshots (the records that rebuild the image) live under
//!   [`RaftOptions::dir`].
//! - The network is TCP on the controller port with length-prefixed JSON frames:
//!   openraft's AppendEntries / Vote / InstallSnapshot, plus forwarding opaque
//!   application requests to the leader ([`MetadataRaft::forward_to_leader`]) and
//!   learners joining.
//! - The [`ApplyHook`] sees each new image before anyone else can.

mod api;
mod hook;
mod join;
mod network;
mod node;
mod options;
mod storage;
pub mod types;

pub use hook::{ApplyHook, NoopHook};
pub use network::server::ForwardHandler;
pub use node::MetadataRaft;
pub use options::{ForwardError, ProposeError, RaftOptions, StartError};
pub use types::{NodeId, TypeConfig};
