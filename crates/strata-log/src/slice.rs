//! Values handed out by the log: file slices for fetches, flush tasks, append and
//! retention results.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

/// A byte range of a segment file holding whole record batches.
///
/// It refers only to bytes that were completely written when it was created, so it can
/// be read after the partition lock is released; the `Arc<File>` keeps the data
/// readable even if retention deletes the segment meanwhile.
#[derive(Debug, Clone)]
pub struct FileSlice {
    /// The segment's data file.
    pub file: Arc<File>,
    /// Byte position of the first batch.
    pub position: u64,
    /// Length in bytes (whole batches).
    pub len: usize,
    /// Base offset of the first batch (may be below the requested offset).
    pub first_offset: i64,
    /// Last offset of the last batch.
    pub last_offset: i64,
    /// The segment's verified mark: bytes of the file below it hold batches that
    /// passed their CRC-32C check in this process. A reader that checks the batches
    /// past it advances it ([`FileSlice::mark_verified`]).
    pub verified: Arc<AtomicU64>,
}

impl FileSlice {
    /// File position below which the batches need no CRC check.
    pub fn verified_below(&self) -> u64 {
        self.verified.load(Ordering::Acquire)
    }

    /// Records that the batches up to file position `to` passed their check, given that
    /// those from `from` were checked (and `from` was at or below the mark).
    pub fn mark_verified(&self, from: u64, to: u64) {
        if self.verified.load(Ordering::Acquire) >= from {
            self.verified.fetch_max(to, Ordering::AcqRel);
        }
    }

    /// Reads the slice into memory with positioned reads.
    pub fn read(&self) -> io::Result<Bytes> {
        let mut buf = BytesMut::zeroed(self.len);
        self.file.read_exact_at(&mut buf, self.position)?;
        Ok(buf.freeze())
    }
}

/// A Fetch response carries slices as record ranges, written from the file.
impl strata_proto::chunks::ByteLen for FileSlice {
    fn byte_len(&self) -> usize {
        self.len
    }
}

/// Work for one group-commit flush, captured cheaply under the partition lock and run
/// without it (see [`crate::Log::prepare_flush`]).
#[derive(Debug)]
pub struct FlushTask {
    pub(crate) files: Vec<Arc<crate::handles::CachedFile>>,
    pub(crate) target: i64,
    /// The epoch file, when it holds a write not yet durable.
    pub(crate) epochs: Option<EpochFileSync>,
}

/// A `leader-epoch-checkpoint` write that a flush makes durable.
#[derive(Debug)]
pub(crate) struct EpochFileSync {
    pub dir: std::path::PathBuf,
    pub written: u64,
    pub synced: Arc<std::sync::atomic::AtomicU64>,
}

impl EpochFileSync {
    /// Records that the write (and every one before it) is durable.
    fn done(&self) {
        self.synced.fetch_max(self.written, Ordering::AcqRel);
    }
}

impl FlushTask {
    /// Offset up to which (exclusive) this task makes the log durable.
    pub fn target_offset(&self) -> i64 {
        self.target
    }

    /// Whether there is nothing to sync.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.epochs.is_none()
    }

    /// Completes the task without syncing its files, because the caller synced the
    /// whole filesystem holding them (`syncfs(2)`, after this task was prepared);
    /// returns the offset now durable, as [`FlushTask::sync`] does.
    pub fn synced_by_filesystem(self) -> i64 {
        if let Some(epochs) = &self.epochs {
            epochs.done();
        }
        self.target
    }

    /// `fdatasync`s every captured file (opening those whose handles were evicted: the
    /// sync writes back the file's dirty pages whichever descriptor wrote them); returns
    /// the offset now durable, to be passed to [`crate::Log::complete_flush`].
    pub fn sync(self) -> io::Result<i64> {
        for file in &self.files {
            file.get()?.sync_data()?;
        }
        if let Some(epochs) = &self.epochs {
            crate::epoch_file::sync(&epochs.dir)?;
            epochs.done();
        }
        Ok(self.target)
    }
}

/// Result of a successful append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset assigned to the first record.
    pub base_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
    /// Number of records appended.
    pub record_count: i64,
    /// Largest timestamp among the appended batches (the append time for
    /// LogAppendTime topics).
    pub max_timestamp: i64,
    /// The log-append time stamped on the batches, -1 for CreateTime topics.
    pub log_append_time: i64,
    /// Log start offset after the append (for the produce response).
    pub log_start_offset: i64,
    /// Bytes written (0 for a duplicate).
    pub bytes: u64,
    /// What the written batches take uncompressed (header and records; see
    /// `strata_proto::batch::Validated`); 0 for a duplicate and for a follower's copy.
    pub uncompressed_bytes: u64,
    /// The payload was a retry of batches already in the log: nothing was written and
    /// the offsets are those of the original write.
    pub duplicate: bool,
}

/// Result of [`crate::Log::apply_retention`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionOutcome {
    /// Segments deleted.
    pub deleted_segments: usize,
    /// Bytes freed.
    pub deleted_bytes: u64,
    /// Log start offset afterwards.
    pub log_start_offset: i64,
}
