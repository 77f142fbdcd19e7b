//! openraft's log storage: the vote, the log entries and the purge point, durable
//! under `<dir>`:
//!
//! ```text
//! <dir>/vote        the current vote (replaced atomically, fsynced)
//! <dir>/purged      the last purged log id (replaced atomically, fsynced)
//! <dir>/committed   the last known committed log id (a hint, not fsynced)
//! <dir>/log/*.log   the entries (see [`super::segments`])
//! ```
//!
//! Every live (unpurged) entry is also kept in memory: the metadata log is small, a
//! snapshot is taken every `snapshot_every` entries and the log behind it is purged,
//! so reads for replication never touch the disk.
//!
//! Writes that fail because the disk is full are retried until space returns
//! ([`super::retry`]); the `committed` hint is skipped instead.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{RaftLogReader, StorageIOError};
use parking_lot::{Mutex, RwLock};

use super::files::{read_json_file, write_json_file};
use super::retry::WriteRetry;
use super::segments::{SegmentLog, SEGMENT_BYTES};
use crate::types::{Entry, LogId, StorageError, TypeConfig, Vote};

const VOTE_FILE: &str = "vote";
const PURGED_FILE: &str = "purged";
const COMMITTED_FILE: &str = "committed";

struct Shared {
    dir: PathBuf,
    segments: Mutex<SegmentLog>,
    entries: RwLock<BTreeMap<u64, Entry>>,
    purged: RwLock<Option<LogId>>,
    vote: RwLock<Option<Vote>>,
    committed: RwLock<Option<LogId>>,
    retry: Arc<WriteRetry>,
    /// Held while this store exists (see [`crate::node`]'s shutdown).
    _alive: Arc<()>,
}

/// The durable Raft log of one node; cloning gives another handle (used as the
/// log reader of the replication tasks).
#[derive(Clone)]
pub(crate) struct LogStore {
    shared: Arc<Shared>,
}

impl LogStore {
    /// Opens (creating) the log under `dir`. Blocking.
    pub(crate) fn open(dir: &Path, retry: Arc<WriteRetry>, alive: Arc<()>) -> io::Result<LogStore> {
        std::fs::create_dir_all(dir)?;
        let vote: Option<Vote> = read_json_file(&dir.join(VOTE_FILE))?;
        let purged: Option<LogId> = read_json_file(&dir.join(PURGED_FILE))?;
        // A damaged hint is no hint: the leader tells us again.
        let committed: Option<LogId> = read_json_file(&dir.join(COMMITTED_FILE)).unwrap_or(None);
        let (segments, loaded) =
            SegmentLog::open(&dir.join("log"), purged.map(|p| p.index), SEGMENT_BYTES)?;
        let entries: BTreeMap<u64, Entry> =
            loaded.into_iter().map(|e| (e.log_id.index, e)).collect();
        // The hint was written without fsync and a torn tail may have been cut since:
        // never claim more than the log still holds.
        let committed = committed.and_then(|c| {
            if purged.is_some_and(|p| c.index <= p.index) {
                return Some(c);
            }
            match entries.get(&c.index) {
                Some(e) if e.log_id == c => Some(c),
                _ => entries
                    .range(..c.index)
                    .next_back()
                    .map(|(_, e)| e.log_id)
                    .or(purged),
            }
        });
        Ok(LogStore {
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                segments: Mutex::new(segments),
                entries: RwLock::new(entries),
                purged: RwLock::new(purged),
                vote: RwLock::new(vote),
                committed: RwLock::new(committed),
                retry,
                _alive: alive,
            }),
        })
    }
}

fn io_err(verb: fn(&io::Error) -> StorageIOError<u64>, e: io::Error) -> StorageError {
    verb(&e).into()
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let entries = self.shared.entries.read();
        Ok(entries.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let purged = *self.shared.purged.read();
        let last = self
            .shared
            .entries
            .read()
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(purged);
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let dir = self.shared.dir.clone();
        let v = *vote;
        self.shared
            .retry
            .write("saving the raft vote", move || {
                write_json_file(&dir, VOTE_FILE, &v, true)
            })
            .await
            .map_err(|e| io_err(|e| StorageIOError::write_vote(e), e))?;
        *self.shared.vote.write() = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(*self.shared.vote.read())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Only a hint for replaying faster after a restart; losing it is harmless, so
        // no fsync on this hot path, and a write that fails is skipped.
        let dir = self.shared.dir.clone();
        let written = tokio::task::spawn_blocking(move || {
            write_json_file(&dir, COMMITTED_FILE, &committed, false)
        })
        .await
        .map_err(io::Error::other)
        .and_then(|r| r);
        if let Err(e) = written {
            tracing::debug!(error = %e, "raft committed-index hint not written");
        }
        *self.shared.committed.write() = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(*self.shared.committed.read())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Arc<Vec<Entry>> = Arc::new(entries.into_iter().collect());
        let shared = Arc::clone(&self.shared);
        let batch = Arc::clone(&entries);
        self.shared
            .retry
            .write("appending to the raft log", move || {
                shared.segments.lock().append(&batch)
            })
            .await
            .map_err(|e| io_err(|e| StorageIOError::write_logs(e), e))?;
        {
            let mut map = self.shared.entries.write();
            for e in entries.iter() {
                map.insert(e.log_id.index, e.clone());
            }
        }
        // The entries are on disk (fsynced) before openraft hears they are flushed.
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let shared = Arc::clone(&self.shared);
        self.shared
            .retry
            .write("truncating the raft log", move || {
                shared.segments.lock().truncate(log_id.index)
            })
            .await
            .map_err(|e| io_err(|e| StorageIOError::write_logs(e), e))?;
        let mut map = self.shared.entries.write();
        map.split_off(&log_id.index);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let shared = Arc::clone(&self.shared);
        self.shared
            .retry
            .write("purging the raft log", move || {
                // The purge point first: a crash before the files go leaves entries that
                // open() skips, never a hole openraft does not know about.
                write_json_file(&shared.dir, PURGED_FILE, &log_id, true)?;
                shared.segments.lock().purge(log_id.index)
            })
            .await
            .map_err(|e| io_err(|e| StorageIOError::write_logs(e), e))?;
        *self.shared.purged.write() = Some(log_id);
        let mut map = self.shared.entries.write();
        *map = map.split_off(&(log_id.index + 1));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
