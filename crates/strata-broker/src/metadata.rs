//! The broker's view of cluster metadata: the current image (lock-free reads of an
//! `Arc` snapshot) and the single writer that appends records to the metadata log.
//!
//! Invariant: the image always equals the replay of the records in the store; a batch
//! is written durably before its image is published, and a batch that does not apply
//! is neither written nor published.

use std::path::Path;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use strata_meta::{MetadataImage, MetadataRecord, MetadataStore};

/// Why a metadata change was not committed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The records contradict the image (a bug in the deciding code, or a race).
    #[error("metadata records do not apply: {0}")]
    Apply(String),
    /// The metadata log could not be written.
    #[error("metadata log write failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Holds the image and the store.
pub struct MetadataManager {
    image: RwLock<Arc<MetadataImage>>,
    store: Arc<Mutex<MetadataStore>>,
    // One writer at a time, in arrival order, without blocking the runtime.
    write_turn: tokio::sync::Mutex<()>,
}

impl MetadataManager {
    /// Opens (or creates) the metadata log under `dir` and replays it. Blocking.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        let (store, image, _last) = MetadataStore::open(dir)?;
        Ok(Self {
            image: RwLock::new(Arc::new(image)),
            store: Arc::new(Mutex::new(store)),
            write_turn: tokio::sync::Mutex::new(()),
        })
    }

    /// The current image. Cheap: clones an `Arc`.
    pub fn image(&self) -> Arc<MetadataImage> {
        Arc::clone(&self.image.read())
    }

    /// Appends `records` durably and publishes the resulting image.
    pub async fn commit(
        &self,
        records: Vec<MetadataRecord>,
    ) -> Result<Arc<MetadataImage>, CommitError> {
        self.commit_then(records, |_| Ok(())).await
    }

    /// Like [`MetadataManager::commit`], but runs `before_publish` on a blocking thread
    /// with the new image after it is durable and before anyone can see it — so, e.g.,
    /// a topic's logs are open before any request can find the topic.
    pub async fn commit_then<F>(
        &self,
        records: Vec<MetadataRecord>,
        before_publish: F,
    ) -> Result<Arc<MetadataImage>, CommitError>
    where
        F: FnOnce(&MetadataImage) -> std::io::Result<()> + Send + 'static,
    {
        let _turn = self.write_turn.lock().await;
        let next = self
            .image()
            .applied(records.iter())
            .map_err(|e| CommitError::Apply(e.to_string()))?;
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || store.lock().append(&records))
            .await
            .map_err(std::io::Error::other)??;
        let next = Arc::new(next);
        let staged = Arc::clone(&next);
        tokio::task::spawn_blocking(move || before_publish(&staged))
            .await
            .map_err(std::io::Error::other)??;
        *self.image.write() = Arc::clone(&next);
        Ok(next)
    }
}
