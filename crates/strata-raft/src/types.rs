//! The openraft type configuration for Strata's metadata log.

use std::io::Cursor;
use std::sync::Arc;

use openraft::BasicNode;
use serde::{Deserialize, Serialize};
use strata_meta::{MetadataImage, MetadataRecord};

/// What one log entry carries: one controller decision, applied all-or-nothing.
pub type Batch = Vec<MetadataRecord>;

/// The result of applying one normal entry, handed back to the proposer.
///
/// It never crosses the network (openraft answers `client_write` on the node that
/// proposed), so the image rides along without being serialized.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ApplyResponse {
    /// Why the batch did not apply (the entry was a no-op everywhere), if it did not.
    pub error: Option<String>,
    /// The image right after this entry, when it applied.
    #[serde(skip)]
    pub image: Option<Arc<MetadataImage>>,
}

openraft::declare_raft_types!(
    /// Strata's metadata Raft: a batch of metadata records per entry, `u64` node ids,
    /// nodes addressed by their controller address.
    pub TypeConfig:
        D = Batch,
        R = ApplyResponse,
        NodeId = u64,
        Node = BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// Node ids of the metadata quorum.
pub type NodeId = u64;
/// A log id of this configuration.
pub type LogId = openraft::LogId<NodeId>;
/// A log entry of this configuration.
pub type Entry = openraft::Entry<TypeConfig>;
/// A vote of this configuration.
pub type Vote = openraft::Vote<NodeId>;
/// Storage errors of this configuration.
pub type StorageError = openraft::StorageError<NodeId>;
/// Membership as stored in the log / state machine.
pub type StoredMembership = openraft::StoredMembership<NodeId, BasicNode>;
/// Snapshot metadata of this configuration.
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, BasicNode>;
/// The openraft handle.
pub type Raft = openraft::Raft<TypeConfig>;
