//! The aborted-transaction index of a segment (`<base>.txnindex`, Kafka's layout).
//!
//! One entry per transaction whose ABORT marker lies in the segment, in marker order:
//! version i16 (0), producer id i64, first offset i64, last offset (the marker) i64,
//! last stable offset i64 — 34 bytes, big-endian. A `read_committed` fetch asks which
//! aborted transactions overlap the range it returns ([`crate::Log::aborted_transactions`]).
//!
//! Invariants:
//! - The entries of a segment are exactly the aborts a header scan of the log from its
//!   first segment finds in that segment (`txn_log.rs` rebuilds them so whenever the
//!   producer state is rebuilt from the log); appends add them as markers are written.
//! - Most segments hold no abort: the file exists only once an entry is written, and it
//!   is opened on demand within the file budget (`handles.rs`) like every other index;
//!   no descriptor is held per segment.
//! - An entry that cannot be written yet (full disk) stays buffered and is counted, so a
//!   search always sees every abort of the segment.

use std::fs;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::handles::{Access, CachedFile, FileHandles};
use crate::transactions::CompletedTxn;

/// File extension of the aborted-transaction index.
pub(crate) const TXN_INDEX_EXT: &str = "txnindex";
/// Encoded size of one entry.
const ENTRY_SIZE: usize = 34;
/// Entries read per `pread` when walking the file.
const ENTRIES_PER_READ: usize = 1024;

/// An aborted transaction, as stored in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// The producer.
    pub producer_id: i64,
    /// Offset of the transaction's first batch.
    pub first_offset: i64,
    /// Offset of its ABORT marker.
    pub last_offset: i64,
    /// The last stable offset once it was aborted (see [`CompletedTxn`]).
    pub last_stable_offset: i64,
}

impl From<&CompletedTxn> for AbortedTxn {
    fn from(t: &CompletedTxn) -> Self {
        AbortedTxn {
            producer_id: t.producer_id,
            first_offset: t.first_offset,
            last_offset: t.last_offset,
            last_stable_offset: t.last_stable_offset,
        }
    }
}

impl AbortedTxn {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&0i16.to_be_bytes());
        out.extend_from_slice(&self.producer_id.to_be_bytes());
        out.extend_from_slice(&self.first_offset.to_be_bytes());
        out.extend_from_slice(&self.last_offset.to_be_bytes());
        out.extend_from_slice(&self.last_stable_offset.to_be_bytes());
    }

    /// Decodes one entry; `None` for an unknown version or offsets out of order.
    fn decode(b: &[u8]) -> Option<AbortedTxn> {
        let i64_at = |pos: usize| -> Option<i64> {
            Some(i64::from_be_bytes(b.get(pos..pos + 8)?.try_into().ok()?))
        };
        if b.get(..2)? != [0, 0] {
            return None;
        }
        let entry = AbortedTxn {
            producer_id: i64_at(2)?,
            first_offset: i64_at(10)?,
            last_offset: i64_at(18)?,
            last_stable_offset: i64_at(26)?,
        };
        (entry.first_offset <= entry.last_offset && entry.producer_id >= 0).then_some(entry)
    }

    /// Whether the transaction holds offsets in `[from, upper)`.
    pub fn overlaps(&self, from: i64, upper: i64) -> bool {
        self.last_offset >= from && self.first_offset < upper
    }
}

/// The aborted-transaction index of one segment.
#[derive(Debug)]
pub(crate) struct TxnIndex {
    files: FileHandles,
    path: PathBuf,
    /// The file, once one exists.
    file: Option<Arc<CachedFile>>,
    /// Entries in the file.
    on_disk: u64,
    /// Entries not written yet.
    pending: Vec<AbortedTxn>,
    /// The file found on open was not a whole number of well-formed, ordered entries
    /// of this segment: the log rebuilds it from a scan.
    damaged: bool,
}

impl TxnIndex {
    /// The index of segment `base` in `dir`, with no file yet.
    pub fn absent(files: &FileHandles, dir: &Path, base: i64) -> TxnIndex {
        TxnIndex {
            files: files.clone(),
            path: crate::segment::segment_path(dir, base, TXN_INDEX_EXT),
            file: None,
            on_disk: 0,
            pending: Vec::new(),
            damaged: false,
        }
    }

    /// Opens the index of an existing segment and checks every entry (one sequential
    /// read; the file is small, and absent for most segments). A damaged file is
    /// reported by [`TxnIndex::is_damaged`], not as an error.
    pub fn open(files: &FileHandles, dir: &Path, base: i64) -> io::Result<TxnIndex> {
        let index = TxnIndex::absent(files, dir, base);
        if !index.path.exists() {
            return Ok(index);
        }
        index.open_file(base)
    }

    /// [`TxnIndex::open`] when a listing of `dir` already says whether the file is
    /// there (no `stat` of a file most segments do not have).
    pub(crate) fn open_listed(
        files: &FileHandles,
        dir: &Path,
        base: i64,
        present: bool,
    ) -> io::Result<TxnIndex> {
        let index = TxnIndex::absent(files, dir, base);
        if present {
            index.open_file(base)
        } else {
            Ok(index)
        }
    }

    /// Opens the file of segment `base` (known to be there) and checks its entries.
    fn open_file(mut self, base: i64) -> io::Result<TxnIndex> {
        let (file, len) = self.files.existing(self.path.clone(), Access::ReadWrite)?;
        self.file = Some(Arc::new(file));
        if len % ENTRY_SIZE as u64 != 0 {
            self.damaged = true;
            return Ok(self);
        }
        self.on_disk = len / ENTRY_SIZE as u64;
        // Markers of this segment, strictly in order; `walk` stops at an entry that
        // does not decode, so it then counts fewer than the file holds.
        let (mut count, mut last, mut ordered) = (0u64, base - 1, true);
        self.walk(&mut |e| {
            ordered = e.last_offset > last;
            last = e.last_offset;
            count += 1;
            ordered
        })?;
        self.damaged = !(ordered && count == self.on_disk);
        Ok(self)
    }

    /// Whether the file found on open was damaged (see [`TxnIndex::open`]).
    pub fn is_damaged(&self) -> bool {
        self.damaged
    }

    /// Entries in the index, written and buffered; a [`TxnIndex::walk`] that calls back
    /// fewer times stopped at damage.
    pub fn entry_count(&self) -> u64 {
        self.on_disk + self.pending.len() as u64
    }

    /// Adds an entry (in marker order). Never fails: an entry that cannot be written
    /// now stays buffered for the next write.
    pub fn append(&mut self, entry: AbortedTxn) {
        self.pending.push(entry);
        if let Err(e) = self.write_pending() {
            tracing::warn!(file = %self.path.display(), error = %e, "aborted-transaction index entry buffered");
        }
    }

    /// Writes buffered entries, creating the file if needed.
    pub fn write_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let file = match &self.file {
            Some(f) => Arc::clone(f),
            None => {
                let f = Arc::new(self.files.create(self.path.clone(), Access::ReadWrite)?);
                self.file = Some(Arc::clone(&f));
                self.on_disk = 0;
                f
            }
        };
        let mut buf = Vec::with_capacity(self.pending.len() * ENTRY_SIZE);
        for e in &self.pending {
            e.encode(&mut buf);
        }
        file.get()?
            .write_all_at(&buf, self.on_disk * ENTRY_SIZE as u64)?;
        self.on_disk += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Calls `f` on every entry in order until it returns `false`. Stops quietly at an
    /// entry that does not decode (only a file damaged after open has one).
    pub fn walk(&self, f: &mut dyn FnMut(AbortedTxn) -> bool) -> io::Result<()> {
        if let Some(file) = self.file.as_ref().filter(|_| self.on_disk > 0) {
            let handle = file.get()?;
            let mut buf = vec![0u8; ENTRIES_PER_READ.min(self.on_disk as usize) * ENTRY_SIZE];
            let mut next = 0u64;
            while next < self.on_disk {
                let n = (self.on_disk - next).min(ENTRIES_PER_READ as u64) as usize;
                let chunk = &mut buf[..n * ENTRY_SIZE];
                crate::no_wait::read_exact_at(&handle, chunk, next * ENTRY_SIZE as u64)?;
                for bytes in chunk.chunks_exact(ENTRY_SIZE) {
                    match AbortedTxn::decode(bytes) {
                        Some(e) if f(e) => {}
                        _ => return Ok(()),
                    }
                }
                next += n as u64;
            }
        }
        for e in &self.pending {
            if !f(*e) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Every entry (rebuilds compare with it; a segment's aborts are few).
    pub fn entries(&self) -> io::Result<Vec<AbortedTxn>> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            out.push(e);
            true
        })?;
        Ok(out)
    }

    /// Makes the index hold exactly `entries`, rewriting (or removing) the file only
    /// when it differs.
    pub fn replace(&mut self, entries: &[AbortedTxn]) -> io::Result<()> {
        let same = !self.damaged
            && self.pending.is_empty()
            && self.on_disk == entries.len() as u64
            && self.entries()? == entries;
        if same {
            return Ok(());
        }
        self.pending.clear();
        self.on_disk = 0;
        self.file = None;
        self.damaged = false;
        if entries.is_empty() {
            return remove_if_exists(&self.path);
        }
        self.pending.extend_from_slice(entries);
        self.write_pending()
    }

    /// The file a flush syncs, if one exists (pending entries are written first).
    pub fn sync_file(&mut self) -> io::Result<Option<Arc<CachedFile>>> {
        self.write_pending()?;
        Ok(self.file.clone())
    }
}

/// Writes a whole index holding `entries` at `path` (a clean's staged copy of a
/// segment's index; possibly empty), fsynced. The file is closed on return, so it
/// takes no place in the file budget.
pub(crate) fn write_file(path: &Path, entries: &[AbortedTxn]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(entries.len() * ENTRY_SIZE);
    for e in entries {
        e.encode(&mut buf);
    }
    let file = fs::File::create(path)?;
    file.write_all_at(&buf, 0)?;
    file.sync_all()
}

fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
