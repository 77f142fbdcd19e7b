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
//!   learners joining. With [`RaftOptions::tls`] every connection, both ways, is TLS
//!   with client certificates: a peer outside the cluster's trust is refused at the
//!   handshake, before any request is read (logged, and counted in
//!   [`MetadataRaft::refused_connections`]).
//! - The [`ApplyHook`] sees each new image before anyone else can.
//!
//! # On disk (`RaftOptions::dir`)
//!
//! ```text
//! vote              current vote: one CRC frame of JSON, replaced atomically, fsynced
//! purged            last purged log id (same format)
//! committed         last committed log id, a hint for replay on restart (not fsynced)
//! snapshot          latest snapshot: a frame of metadata, a frame of snapshot data
//! log/<20 digits>.log   entries from that index on, one CRC frame of JSON each
//! ```
//!
//! # Timing
//!
//! With the default 100 ms heartbeat and 300–600 ms election timeouts, a follower
//! campaigns once the leader's lease (the maximum election timeout) plus its own
//! election timeout have passed without a heartbeat, so a failover takes roughly
//! 0.9–1.3 s. A lone voter elects itself at once.
//!
//! # Limits
//!
//! - The voter list is the initial membership only; changing voters later needs a
//!   membership change, which this crate does not offer yet. A voter's address is
//!   taken from the list when the cluster is initialized; learners' addresses are
//!   updated when they rejoin from a new address.
//! - Two processes must not use the same directory (nothing locks it).

mod api;
mod hook;
mod join;
pub mod network;
mod node;
mod options;
mod quorum;
mod storage;
pub mod types;

pub use hook::{ApplyHook, NoopHook};
pub use network::server::ForwardHandler;
pub use network::ControllerTls;
pub use node::MetadataRaft;
pub use options::{ForwardError, ProposeError, RaftOptions, StartError};
pub use quorum::{QuorumView, ReplicaProgress};
pub use types::{NodeId, TypeConfig};
