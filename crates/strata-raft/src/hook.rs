//! The caller's hook into image publication.

use strata_meta::{MetadataImage, MetadataRecord};

/// Called with each new image before it becomes visible.
///
/// The broker uses it to bring local state in line with the metadata (open the logs
/// of new partitions, close deleted ones) before any request can see the new image.
pub trait ApplyHook: Send + Sync + 'static {
    /// Runs on a blocking thread after an entry's `records` were applied, giving
    /// `image`, and before `image` is published to [`crate::MetadataRaft::image`] and
    /// subscribers. Entries run one at a time, in log order.
    ///
    /// `records` is empty when the node (re)starts and after a snapshot was installed:
    /// then `image` is the whole state to sync to, not a delta.
    ///
    /// A panic here stops the node's Raft (it can no longer keep the broker in step).
    fn before_publish(&self, image: &MetadataImage, records: &[MetadataRecord]);
}

/// A hook that does nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopHook;

impl ApplyHook for NoopHook {
    fn before_publish(&self, _image: &MetadataImage, _records: &[MetadataRecord]) {}
}
