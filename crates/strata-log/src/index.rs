//! Sparse on-disk indexes of a segment: `.index` (relative offset → file position) and
//! `.timeindex` (max timestamp so far → relative offset).
//!
//! Entries live in the file; only a handful of not-yet-written entries are kept in
//! memory, so heap use does not grow with the data. Lookups binary-search the file with
//! positioned reads (`pread`); the file is opened on demand within the process's file
//! budget (`handles.rs`).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::handles::{Access, CachedFile, FileHandles};

/// Entries buffered in memory before they are written out with one `write`.
const PENDING_MAX: usize = 32;

/// A fixed-size index entry.
pub(crate) trait IndexEntry: Copy {
    /// Encoded size in bytes.
    const SIZE: usize;
    /// Writes the big-endian encoding into `out` (exactly `SIZE` bytes).
    fn encode(&self, out: &mut Vec<u8>);
    /// Decodes from exactly `SIZE` bytes.
    fn decode(bytes: &[u8]) -> Self;
}

/// `.index` entry: a batch starting at `relative_offset` begins at byte `position`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

impl IndexEntry for OffsetEntry {
    const SIZE: usize = 8;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
        out.extend_from_slice(&self.position.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        OffsetEntry {
            relative_offset: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            position: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

/// `.timeindex` entry: `timestamp` is the largest timestamp in the segment up to and
/// including the batch starting at `relative_offset`, which is the first batch that
/// reached it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    pub timestamp: i64,
    pub relative_offset: u32,
}

impl IndexEntry for TimeEntry {
    const SIZE: usize = 12;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[..8]);
        TimeEntry {
            timestamp: i64::from_be_bytes(ts),
            relative_offset: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        }
    }
}

/// One sparse index file plus its unwritten tail.
#[derive(Debug)]
pub(crate) struct SparseIndex<E: IndexEntry> {
    /// Opened on demand within the process's file budget (see `handles.rs`).
    file: Arc<CachedFile>,
    on_disk: u64,
    pending: Vec<E>,
    last: Option<E>,
}

impl<E: IndexEntry> SparseIndex<E> {
    /// Creates (or empties) the index file.
    pub fn create(files: &FileHandles, path: PathBuf) -> io::Result<Self> {
        Ok(SparseIndex {
            file: Arc::new(files.create(path, Access::ReadWrite)?),
            on_disk: 0,
            pending: Vec::new(),
            last: None,
        })
    }

    /// Opens an existing index. Fails with `InvalidData` when the file size is not a
    /// whole number of entries (the caller then rebuilds it).
    pub fn open(files: &FileHandles, path: PathBuf) -> io::Result<Self> {
        let (file, len) = files.existing(path, Access::ReadWrite)?;
        if len % E::SIZE as u64 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} has a partial entry", file.path().display()),
            ));
        }
        let on_disk = len / E::SIZE as u64;
        let last = if on_disk > 0 {
            Some(read_entry::<E>(&*file.get()?, on_disk - 1)?)
        } else {
            None
        };
        Ok(SparseIndex {
            file: Arc::new(file),
            on_disk,
            pending: Vec::new(),
            last,
        })
    }

    /// The index file.
    pub fn path(&self) -> &std::path::Path {
        self.file.path()
    }

    /// Number of entries, written or pending.
    pub fn len(&self) -> u64 {
        self.on_disk + self.pending.len() as u64
    }

    /// The newest entry.
    pub fn last(&self) -> Option<E> {
        self.last
    }

    /// Adds an entry; the caller guarantees keys are monotonic. Entries are buffered
    /// and written in groups; a write that fails (a full disk) keeps them buffered for
    /// the next try, and its error reaches whoever flushes ([`SparseIndex::write_pending`]),
    /// never the append that added the entry: its records are in the log file already,
    /// so the log's bookkeeping must count them whatever happens to the index file.
    pub fn append(&mut self, entry: E) {
        self.pending.push(entry);
        self.last = Some(entry);
        if self.pending.len() >= PENDING_MAX {
            if let Err(e) = self.write_pending() {
                tracing::warn!(file = %self.path().display(), error = %e, "index entries kept in memory: writing them failed");
            }
        }
    }

    /// Replaces the handle writes go through (tests make it read-only to fail them).
    #[cfg(test)]
    pub(crate) fn set_handle(&mut self, file: File) {
        self.file.replace_handle(file);
    }

    /// Writes buffered entries to the file (one `write`), without syncing.
    pub fn write_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity(self.pending.len() * E::SIZE);
        for entry in &self.pending {
            entry.encode(&mut buf);
        }
        let file = self.file.get()?;
        // Positioned write: the file may have been opened without O_APPEND.
        file.write_all_at(&buf, self.on_disk * E::SIZE as u64)?;
        self.on_disk += self.pending.len() as u64;
        self.pending = Vec::new();
        Ok(())
    }

    /// The file, for a flush to sync.
    pub fn cached_file(&self) -> Arc<CachedFile> {
        Arc::clone(&self.file)
    }

    /// The last entry for which `is_at_or_before` holds, assuming it holds for a prefix
    /// of the entries (keys are monotonic). `None` when it holds for none.
    pub fn search(&self, is_at_or_before: impl Fn(&E) -> bool) -> io::Result<Option<E>> {
        // Pending entries are the newest, so check them first; it also avoids touching
        // the file for lookups near the tail of the active segment.
        if let Some(first_pending) = self.pending.first() {
            if is_at_or_before(first_pending) {
                return Ok(self
                    .pending
                    .iter()
                    .rev()
                    .find(|e| is_at_or_before(e))
                    .copied());
            }
        }
        if self.on_disk == 0 {
            return Ok(None);
        }
        self.with_file(|file| {
            // Invariant: entries < lo satisfy the predicate, entries >= hi do not.
            let (mut lo, mut hi) = (0u64, self.on_disk);
            let mut best = None;
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                let entry = read_entry::<E>(file, mid)?;
                if is_at_or_before(&entry) {
                    best = Some(entry);
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            Ok(best)
        })
    }

    /// Runs `f` on the index file.
    fn with_file<T>(&self, f: impl FnOnce(&File) -> io::Result<T>) -> io::Result<T> {
        f(&*self.file.get()?)
    }
}

impl<E: IndexEntry> SparseIndex<E> {
    /// Whether every entry written to the file passes `valid(previous, entry)`, read
    /// sequentially in 64 KiB pieces (index files are small: one entry per
    /// `index.interval.bytes` of data). Pending entries are the caller's own.
    pub fn entries_pass(&self, mut valid: impl FnMut(Option<&E>, &E) -> bool) -> io::Result<bool> {
        if self.on_disk == 0 {
            return Ok(true);
        }
        self.with_file(|file| {
            let per_read = (64 * 1024 / E::SIZE) as u64;
            let mut buf = vec![0u8; per_read as usize * E::SIZE];
            let mut previous: Option<E> = None;
            let mut at = 0u64;
            while at < self.on_disk {
                let n = (self.on_disk - at).min(per_read) as usize;
                let bytes = &mut buf[..n * E::SIZE];
                file.read_exact_at(bytes, at * E::SIZE as u64)?;
                for raw in bytes.chunks_exact(E::SIZE) {
                    let entry = E::decode(raw);
                    if !valid(previous.as_ref(), &entry) {
                        return Ok(false);
                    }
                    previous = Some(entry);
                }
                at += n as u64;
            }
            Ok(true)
        })
    }
}

fn read_entry<E: IndexEntry>(file: &File, index: u64) -> io::Result<E> {
    let mut buf = [0u8; 16];
    let buf = &mut buf[..E::SIZE];
    crate::no_wait::read_exact_at(file, buf, index * E::SIZE as u64)?;
    Ok(E::decode(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_spans_file_and_pending_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.index");
        let files = FileHandles::new(8);
        let mut index = SparseIndex::<OffsetEntry>::create(&files, path.clone()).expect("create");
        for i in 0..100u32 {
            index.append(OffsetEntry {
                relative_offset: i * 10,
                position: i * 1000,
            });
        }
        assert!(index.on_disk > 0 && !index.pending.is_empty());
        let find = |idx: &SparseIndex<OffsetEntry>, off: u32| {
            idx.search(|e| e.relative_offset <= off)
                .expect("search")
                .map(|e| e.position)
        };
        assert_eq!(find(&index, 0), Some(0));
        assert_eq!(find(&index, 15), Some(1000));
        assert_eq!(find(&index, 995), Some(99_000));
        assert_eq!(find(&index, 335), Some(33_000));
        index.write_pending().expect("write");
        drop(index);
        let reopened = SparseIndex::<OffsetEntry>::open(&files, path).expect("open");
        assert_eq!(reopened.len(), 100);
        assert_eq!(find(&reopened, 335), Some(33_000));
        assert_eq!(
            reopened.last(),
            Some(OffsetEntry {
                relative_offset: 990,
                position: 99_000
            })
        );
    }

    #[test]
    fn partial_entry_is_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.timeindex");
        std::fs::write(&path, [0u8; 13]).expect("write");
        assert!(SparseIndex::<TimeEntry>::open(&FileHandles::new(8), path).is_err());
    }
}
