//! The latest snapshot of the state machine, durable at `<dir>/snapshot`.
//!
//! The file is two frames: the snapshot's metadata (last log id, membership, id) as
//! JSON, then the snapshot data exactly as it is sent to other nodes: JSON
//! `{"records": [...]}`, the records that rebuild the image
//! ([`MetadataImage::snapshot_records`]).

use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use strata_meta::{MetadataImage, MetadataRecord};

use super::files::{put_frame, read_frames, read_optional, write_atomic};
use crate::types::SnapshotMeta;

const SNAPSHOT_FILE: &str = "snapshot";

/// The snapshot data as it travels and as it is stored.
#[derive(Serialize, Deserialize)]
pub(crate) struct SnapshotBody {
    /// Records that rebuild the image from empty.
    pub records: Vec<MetadataRecord>,
}

impl SnapshotBody {
    /// Encodes the records of `image`.
    pub(crate) fn encode(image: &MetadataImage) -> io::Result<Vec<u8>> {
        let body = SnapshotBody {
            records: image.snapshot_records(),
        };
        serde_json::to_vec(&body).map_err(|e| io::Error::new(ErrorKind::InvalidInput, e))
    }

    /// Decodes snapshot data and rebuilds its image.
    pub(crate) fn decode(data: &[u8]) -> io::Result<MetadataImage> {
        let body: SnapshotBody = serde_json::from_slice(data).map_err(|e| {
            io::Error::new(ErrorKind::InvalidData, format!("undecodable snapshot: {e}"))
        })?;
        MetadataImage::new()
            .applied(body.records.iter())
            .map_err(|e| {
                io::Error::new(
                    ErrorKind::InvalidData,
                    format!("snapshot does not apply: {e}"),
                )
            })
    }
}

/// A snapshot held in memory: its metadata and its encoded data.
#[derive(Clone)]
pub(crate) struct StoredSnapshot {
    /// Last log id, membership and id of the snapshot.
    pub meta: SnapshotMeta,
    /// The encoded [`SnapshotBody`].
    pub data: Vec<u8>,
}

/// The current snapshot, in memory and on disk.
pub(crate) struct SnapshotStore {
    dir: PathBuf,
    current: Mutex<Option<StoredSnapshot>>,
}

impl SnapshotStore {
    /// Loads the snapshot under `dir`, if there is one. A damaged snapshot file is an
    /// error: the log behind it is gone, so the node cannot rebuild its state.
    pub(crate) fn open(dir: &Path) -> io::Result<SnapshotStore> {
        let path = dir.join(SNAPSHOT_FILE);
        let current = match read_optional(&path)? {
            None => None,
            Some(bytes) => {
                let frames = read_frames(&bytes);
                let damaged = |why: &str| {
                    io::Error::new(ErrorKind::InvalidData, format!("{}: {why}", path.display()))
                };
                let [(_, meta), (_, data)] = frames.frames.as_slice() else {
                    return Err(damaged("torn or corrupt snapshot file"));
                };
                if frames.valid_end != bytes.len() as u64 {
                    return Err(damaged("trailing bytes after the snapshot"));
                }
                let meta: SnapshotMeta =
                    serde_json::from_slice(meta).map_err(|e| damaged(&e.to_string()))?;
                Some(StoredSnapshot {
                    meta,
                    data: data.to_vec(),
                })
            }
        };
        Ok(SnapshotStore {
            dir: dir.to_path_buf(),
            current: Mutex::new(current),
        })
    }

    /// The current snapshot.
    pub(crate) fn current(&self) -> Option<StoredSnapshot> {
        self.current.lock().clone()
    }

    /// Makes `snapshot` the current one (durably) unless a newer one is already
    /// current — a build that finishes after a newer snapshot was installed must
    /// not roll it back. Blocking. Returns whether it was stored.
    pub(crate) fn save(&self, snapshot: StoredSnapshot) -> io::Result<bool> {
        let mut current = self.current.lock();
        if let Some(cur) = current.as_ref() {
            if cur.meta.last_log_id > snapshot.meta.last_log_id {
                return Ok(false);
            }
        }
        let meta = serde_json::to_vec(&snapshot.meta)
            .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e))?;
        let mut bytes = Vec::with_capacity(meta.len() + snapshot.data.len() + 16);
        put_frame(&mut bytes, &meta)?;
        put_frame(&mut bytes, &snapshot.data)?;
        write_atomic(&self.dir, SNAPSHOT_FILE, &bytes, true)?;
        *current = Some(snapshot);
        Ok(true)
    }
}
