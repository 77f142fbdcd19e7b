//! openraft's state machine: the [`MetadataImage`].
//!
//! The image itself is not persisted entry by entry; on restart it is the last
//! snapshot plus the committed entries openraft re-applies from the log.
//!
//! Publication order: an entry's new image is handed to the [`ApplyHook`] (on a
//! blocking thread) and only then published to `image()` and subscribers, so the
//! broker can open a topic's partitions before any request can see the topic.

use std::io::{self, Cursor};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, RaftSnapshotBuilder, StorageIOError};
use strata_meta::{MetadataImage, MetadataRecord};
use tokio::sync::watch;

use super::retry::WriteRetry;
use super::snapshot_store::{SnapshotBody, SnapshotStore, StoredSnapshot};
use crate::hook::ApplyHook;
use crate::types::{
    ApplyResponse, Entry, LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};

/// What subscribers see: the applied log index and the image as of that index.
pub(crate) type Published = (u64, Arc<MetadataImage>);

/// The state machine handed to openraft.
pub(crate) struct StateMachine {
    last_applied: Option<LogId>,
    membership: StoredMembership,
    image: Arc<MetadataImage>,
    hook: Arc<dyn ApplyHook>,
    publish: Arc<watch::Sender<Published>>,
    snapshots: Arc<SnapshotStore>,
    /// Snapshot writes wait out a full disk.
    retry: Arc<WriteRetry>,
    /// Held while this state machine (or a snapshot build) exists.
    alive: Arc<()>,
}

/// Runs the hook on a blocking thread (it opens files, and must not stall the
/// runtime). A panicking hook is a storage error: the node cannot keep the broker
/// in step with the image any more.
async fn run_hook(
    hook: &Arc<dyn ApplyHook>,
    image: &Arc<MetadataImage>,
    records: Vec<MetadataRecord>,
) -> Result<Vec<MetadataRecord>, io::Error> {
    let hook = Arc::clone(hook);
    let image = Arc::clone(image);
    tokio::task::spawn_blocking(move || {
        hook.before_publish(&image, &records);
        records
    })
    .await
    .map_err(|e| io::Error::other(format!("apply hook failed: {e}")))
}

impl StateMachine {
    /// Restores the state machine from the snapshot in `snapshots` (or empty), runs the
    /// hook once with the whole image and publishes it.
    pub(crate) async fn restore(
        snapshots: Arc<SnapshotStore>,
        hook: Arc<dyn ApplyHook>,
        retry: Arc<WriteRetry>,
        alive: Arc<()>,
    ) -> io::Result<(StateMachine, watch::Receiver<Published>)> {
        let (last_applied, membership, image) = match snapshots.current() {
            None => (None, StoredMembership::default(), MetadataImage::new()),
            Some(snap) => {
                let data = snap.data;
                let image = tokio::task::spawn_blocking(move || SnapshotBody::decode(&data))
                    .await
                    .map_err(io::Error::other)??;
                (snap.meta.last_log_id, snap.meta.last_membership, image)
            }
        };
        let image = Arc::new(image);
        run_hook(&hook, &image, Vec::new()).await?;
        let index = last_applied.map_or(0, |l| l.index);
        let (tx, rx) = watch::channel((index, Arc::clone(&image)));
        Ok((
            StateMachine {
                last_applied,
                membership,
                image,
                hook,
                publish: Arc::new(tx),
                snapshots,
                retry,
                alive,
            },
            rx,
        ))
    }

    fn publish(&self) {
        let index = self.last_applied.map_or(0, |l| l.index);
        self.publish.send_replace((index, Arc::clone(&self.image)));
    }
}

fn snapshot_id(last: Option<LogId>) -> String {
    // Unique per build, readable in logs.
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    match last {
        Some(l) => format!("{}-{}-{nanos}-{seq}", l.leader_id.term, l.index),
        None => format!("empty-{nanos}-{seq}"),
    }
}

/// Builds snapshots from a copy of the state taken when openraft asked for a builder.
pub(crate) struct SnapshotBuilder {
    last_applied: Option<LogId>,
    membership: StoredMembership,
    image: Arc<MetadataImage>,
    snapshots: Arc<SnapshotStore>,
    retry: Arc<WriteRetry>,
    _alive: Arc<()>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let meta = SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.membership.clone(),
            snapshot_id: snapshot_id(self.last_applied),
        };
        let image = Arc::clone(&self.image);
        let data = tokio::task::spawn_blocking(move || SnapshotBody::encode(&image))
            .await
            .map_err(io::Error::other)
            .and_then(|r| r)
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        let data = Arc::new(data);
        save_snapshot(
            &self.retry,
            &self.snapshots,
            "saving a metadata snapshot",
            &meta,
            &data,
        )
        .await
        .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        let data = Arc::try_unwrap(data).unwrap_or_else(|shared| shared.to_vec());
        tracing::info!(snapshot = %meta, "built a metadata snapshot");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<ApplyResponse>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut responses = Vec::new();
        for entry in entries {
            let log_id = entry.log_id;
            let mut response = ApplyResponse::default();
            match entry.payload {
                EntryPayload::Blank => {}
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(log_id), m);
                }
                EntryPayload::Normal(records) => match self.image.applied(records.iter()) {
                    Ok(next) => {
                        let next = Arc::new(next);
                        run_hook(&self.hook, &next, records)
                            .await
                            .map_err(|e| StorageIOError::apply(log_id, &e))?;
                        self.image = Arc::clone(&next);
                        response.image = Some(next);
                    }
                    // Every node sees the same image and the same records, so every
                    // node rejects the batch alike: a deterministic no-op.
                    Err(e) => response.error = Some(e.to_string()),
                },
            }
            self.last_applied = Some(log_id);
            self.publish();
            responses.push(response);
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            last_applied: self.last_applied,
            membership: self.membership.clone(),
            image: Arc::clone(&self.image),
            snapshots: Arc::clone(&self.snapshots),
            retry: Arc::clone(&self.retry),
            _alive: Arc::clone(&self.alive),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = Arc::new(snapshot.into_inner());
        let bytes = Arc::clone(&data);
        let image = tokio::task::spawn_blocking(move || SnapshotBody::decode(&bytes))
            .await
            .map_err(io::Error::other)
            .and_then(|r| r)
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        save_snapshot(
            &self.retry,
            &self.snapshots,
            "installing a metadata snapshot",
            meta,
            &data,
        )
        .await
        .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        let image = Arc::new(image);
        run_hook(&self.hook, &image, Vec::new())
            .await
            .map_err(|e| StorageIOError::write_state_machine(&e))?;
        tracing::info!(snapshot = %meta, "installed a metadata snapshot");
        self.image = image;
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        self.publish();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        Ok(self.snapshots.current().map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data)),
        }))
    }
}

/// Stores a snapshot (built here or received from the leader) as the current one,
/// waiting out a full disk like every other metadata write.
async fn save_snapshot(
    retry: &WriteRetry,
    store: &Arc<SnapshotStore>,
    what: &'static str,
    meta: &SnapshotMeta,
    data: &Arc<Vec<u8>>,
) -> io::Result<()> {
    let (store, meta, data) = (Arc::clone(store), meta.clone(), Arc::clone(data));
    retry
        .write(what, move || {
            store.save(StoredSnapshot {
                meta: meta.clone(),
                data: data.to_vec(),
            })?;
            Ok(())
        })
        .await
}
