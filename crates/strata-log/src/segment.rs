//! One segment: a `.log` file of record batches plus its sparse indexes.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use strata_proto::batch::BatchHeader;

use crate::handles::{Access, CachedFile, FileHandles};
use crate::index::{OffsetEntry, SparseIndex, TimeEntry};
use crate::prealloc::Preallocation;
use crate::scan::{HeaderScanner, Step};
use crate::txn_index::{TxnIndex, TXN_INDEX_EXT};

/// File extension of segment data.
pub(crate) const LOG_EXT: &str = "log";
/// File extension of the offset index.
pub(crate) const INDEX_EXT: &str = "index";
/// File extension of the time index.
pub(crate) const TIME_INDEX_EXT: &str = "timeindex";

/// Path of a segment file: the base offset as 20 zero-padded digits plus `ext`.
pub(crate) fn segment_path(dir: &Path, base_offset: i64, ext: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}.{ext}"))
}

/// Path of a segment file with an extra suffix after the extension (the cleaner's
/// `.cleaned` and `.swap` files).
pub(crate) fn segment_path_suffixed(
    dir: &Path,
    base_offset: i64,
    ext: &str,
    suffix: &str,
) -> PathBuf {
    dir.join(format!("{base_offset:020}.{ext}{suffix}"))
}

/// Parses `00000000000000001234.log` into 1234.
pub(crate) fn parse_log_file_name(name: &str) -> Option<i64> {
    let stem = name.strip_suffix(".log")?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// In-memory state of one segment (a few hundred bytes).
#[derive(Debug)]
pub(crate) struct Segment {
    /// Offset of the first record this segment may hold; also its file name.
    pub base_offset: i64,
    /// The data file, opened on demand within the file budget; shared with checks
    /// running without the lock ([`crate::SealedSegment`]), while outstanding
    /// [`crate::FileSlice`]s hold open handles of it.
    pub log: Arc<CachedFile>,
    /// Bytes of complete, acknowledged batches in `log`.
    pub size: u64,
    /// Offset after the last batch in this segment.
    pub next_offset: i64,
    /// Largest batch `max_timestamp` seen, -1 if none.
    pub max_timestamp: i64,
    /// Base offset of the first batch that reached `max_timestamp`.
    pub offset_of_max_timestamp: i64,
    /// Clock value that `segment.ms` is measured from; set on first append if unknown.
    pub roll_base_ms: Option<i64>,
    /// Log bytes appended since the last offset-index entry.
    pub bytes_since_index: u64,
    /// Relative offset → position.
    pub index: SparseIndex<OffsetEntry>,
    /// Max timestamp → relative offset.
    pub time_index: SparseIndex<TimeEntry>,
    /// Transactions whose ABORT marker is in this segment (`txn_index.rs`).
    pub txn_index: TxnIndex,
    /// Set when an index entry turned out not to point at its batch: lookups scan from
    /// the segment start until the index is rebuilt.
    pub index_suspect: AtomicBool,
    /// Bytes from the start of the file whose batches passed a CRC-32C check in this
    /// process (written after validation, scanned by recovery or the scrubber, or
    /// checked by a fetch): fetches check only the batches past it. Shared with
    /// [`crate::FileSlice`]s, whose writer advances it.
    pub verified: Arc<AtomicU64>,
    /// Space reserved past the end of `log` for the appends to come (`prealloc.rs`).
    pub preallocation: Preallocation,
}

impl Segment {
    /// Creates a new, empty segment (truncating stale files of the same name).
    pub fn create(files: &FileHandles, dir: &Path, base_offset: i64) -> io::Result<Segment> {
        // A stale abort index of the same name must not come back with the new data.
        match fs::remove_file(segment_path(dir, base_offset, TXN_INDEX_EXT)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        Segment::create_suffixed(files, dir, base_offset, "")
    }

    /// Like [`Segment::create`], with `suffix` appended to every file name (the
    /// cleaner builds its output as `<base>.log.cleaned` etc.).
    pub fn create_suffixed(
        files: &FileHandles,
        dir: &Path,
        base_offset: i64,
        suffix: &str,
    ) -> io::Result<Segment> {
        let path = |ext| segment_path_suffixed(dir, base_offset, ext, suffix);
        let log = files.create(path(LOG_EXT), Access::Append)?;
        let index = SparseIndex::create(files, path(INDEX_EXT))?;
        let time_index = SparseIndex::create(files, path(TIME_INDEX_EXT))?;
        // The abort index is created with its first entry; a cleaner's staged segment
        // never gets one (its entries stay in the original's file).
        let txn = TxnIndex::absent(files, dir, base_offset);
        Ok(Segment::new(base_offset, log, 0, index, time_index, txn))
    }

    fn new(
        base_offset: i64,
        log: CachedFile,
        size: u64,
        index: SparseIndex<OffsetEntry>,
        time_index: SparseIndex<TimeEntry>,
        txn_index: TxnIndex,
    ) -> Segment {
        Segment {
            base_offset,
            log: Arc::new(log),
            size,
            next_offset: base_offset,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            roll_base_ms: None,
            bytes_since_index: 0,
            index,
            time_index,
            txn_index,
            index_suspect: AtomicBool::new(false),
            verified: Arc::new(AtomicU64::new(0)),
            preallocation: Preallocation::default(),
        }
    }

    /// Opens the `.log` of an existing segment with fresh, empty indexes
    /// (used before a rebuild).
    pub fn open_for_rebuild(
        files: &FileHandles,
        dir: &Path,
        base_offset: i64,
    ) -> io::Result<Segment> {
        let (log, size) =
            files.existing(segment_path(dir, base_offset, LOG_EXT), Access::Append)?;
        let index = SparseIndex::create(files, segment_path(dir, base_offset, INDEX_EXT))?;
        let time_index =
            SparseIndex::create(files, segment_path(dir, base_offset, TIME_INDEX_EXT))?;
        let txn = TxnIndex::open(files, dir, base_offset)?;
        Ok(Segment::new(base_offset, log, size, index, time_index, txn))
    }

    /// Opens an existing segment trusting its index files (no handle is kept: files
    /// open on first use). Fails if an index is missing or malformed; the caller then
    /// rebuilds.
    pub fn open_existing(files: &FileHandles, dir: &Path, base_offset: i64) -> io::Result<Segment> {
        let txn = TxnIndex::open(files, dir, base_offset)?;
        Segment::open_existing_with(files, dir, base_offset, txn)
    }

    /// [`Segment::open_existing`] when a listing of `dir` says whether the segment has
    /// an aborted-transaction index.
    pub(crate) fn open_listed(
        files: &FileHandles,
        dir: &Path,
        base_offset: i64,
        has_txn_index: bool,
    ) -> io::Result<Segment> {
        let txn = TxnIndex::open_listed(files, dir, base_offset, has_txn_index)?;
        Segment::open_existing_with(files, dir, base_offset, txn)
    }

    fn open_existing_with(
        files: &FileHandles,
        dir: &Path,
        base_offset: i64,
        txn: TxnIndex,
    ) -> io::Result<Segment> {
        let (log, size) =
            files.existing(segment_path(dir, base_offset, LOG_EXT), Access::Append)?;
        let index = SparseIndex::open(files, segment_path(dir, base_offset, INDEX_EXT))?;
        let time_index: SparseIndex<TimeEntry> =
            SparseIndex::open(files, segment_path(dir, base_offset, TIME_INDEX_EXT))?;
        let last_time = time_index.last();
        let mut segment = Segment::new(base_offset, log, size, index, time_index, txn);
        if let Some(e) = last_time {
            segment.max_timestamp = e.timestamp;
            segment.offset_of_max_timestamp = base_offset + i64::from(e.relative_offset);
        }
        Ok(segment)
    }

    /// Records that `[from, to)` now holds batches that passed their CRC check, if
    /// everything before `from` had too.
    pub fn mark_verified(&self, from: u64, to: u64) {
        if self.verified.load(Ordering::Acquire) >= from {
            self.verified.fetch_max(to, Ordering::AcqRel);
        }
    }

    /// Whether the segment holds no batch.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// `offset - base_offset` as stored in the indexes (saturating; callers keep
    /// segments within 2^31 offsets).
    pub fn relative(&self, offset: i64) -> u32 {
        (offset - self.base_offset).clamp(0, i64::from(u32::MAX)) as u32
    }

    /// Records a batch that is now in the file at `position`: updates offsets,
    /// timestamps and the sparse indexes. Cannot fail: index entries that cannot be
    /// written yet stay buffered (see [`SparseIndex::append`]), so the segment always
    /// counts what its file holds.
    pub fn track_batch(&mut self, position: u64, header: &BatchHeader, index_interval: u32) {
        let size = header.total_size() as u64;
        let indexed = self.bytes_since_index >= u64::from(index_interval);
        if indexed {
            self.index.append(OffsetEntry {
                relative_offset: self.relative(header.base_offset),
                position: position.min(u64::from(u32::MAX)) as u32,
            });
            self.bytes_since_index = 0;
        }
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.offset_of_max_timestamp = header.base_offset;
        }
        if indexed {
            self.append_time_entry_if_newer();
        }
        self.bytes_since_index += size;
        self.next_offset = header.next_offset();
        self.size = self.size.max(position + size);
    }

    /// Makes the time index's last entry reflect the segment's max timestamp, so that a
    /// sealed segment's max timestamp can be read back from it.
    pub fn append_time_entry_if_newer(&mut self) {
        if self.max_timestamp < 0 {
            return;
        }
        let newer = self
            .time_index
            .last()
            .is_none_or(|e| self.max_timestamp > e.timestamp);
        if newer {
            self.time_index.append(TimeEntry {
                timestamp: self.max_timestamp,
                relative_offset: self.relative(self.offset_of_max_timestamp),
            });
        }
    }

    /// Called when this segment stops being the active one.
    pub fn seal(&mut self) -> io::Result<()> {
        self.append_time_entry_if_newer();
        self.index.write_pending()?;
        self.time_index.write_pending()?;
        self.txn_index.write_pending()?;
        self.give_back_reserved_space();
        Ok(())
    }

    /// Frees the blocks reserved past the end of a sealed segment: this process's
    /// reservation, or one an earlier process left behind (after kill -9). Only the
    /// space is at stake, so a failure is logged and sealing goes on.
    fn give_back_reserved_space(&mut self) {
        if self.size < crate::prealloc::FROM {
            return;
        }
        if let Err(e) = self
            .log
            .get()
            .and_then(|file| self.preallocation.trim(&file, self.size))
        {
            tracing::warn!(file = %self.log.path().display(), error = %e,
                "could not give back the disk space reserved past a sealed segment's end");
        }
    }

    /// Writes `slices` (`incoming` bytes) at the end of the data file and returns where
    /// they start; `limit` is `segment.bytes`. Reserves space ahead first
    /// (`prealloc.rs`). A write that fails part-way is cut back, so the file never holds
    /// a torn batch we know of. The caller records the batches (`track_batch`).
    pub fn write_at_end(
        &mut self,
        slices: &mut [io::IoSlice<'_>],
        incoming: u64,
        limit: u64,
    ) -> io::Result<u64> {
        let start = self.size;
        let file = self.log.get()?;
        let len = start.saturating_add(incoming);
        self.preallocation.before_append(&file, start, len, limit);
        if let Err(err) = crate::log::write_all_vectored(&file, slices) {
            let _ = file.set_len(start);
            self.preallocation.truncated();
            return Err(err);
        }
        Ok(start)
    }

    /// The indexed batch at or before `offset`: its position and base offset, or
    /// `(0, None)` when there is none (scan from the start).
    fn indexed_start_for(&self, offset: i64) -> io::Result<(u64, Option<i64>)> {
        if offset <= self.base_offset {
            return Ok((0, None));
        }
        let rel = self.relative(offset);
        let entry = self.index.search(|e| e.relative_offset <= rel)?;
        // An entry past the known data can only come from a damaged index; the scan
        // from 0 is always correct.
        Ok(entry
            .filter(|e| u64::from(e.position) < self.size)
            .map_or((0, None), |e| {
                (
                    u64::from(e.position),
                    Some(self.base_offset + i64::from(e.relative_offset)),
                )
            }))
    }

    /// An index entry that does not lead to the batch it names (the index was damaged
    /// after it was checked on open): warns once; lookups then scan from the start.
    fn distrust_index(&self) {
        if !self.index_suspect.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                file = %self.index.path().display(),
                "index entry does not point at its batch; scanning the segment from its start"
            );
        }
    }

    /// The first batch whose last offset is >= `offset`, with its position; `None` if
    /// no batch of the segment reaches `offset`.
    pub fn find_batch(&self, offset: i64) -> io::Result<Option<(u64, BatchHeader)>> {
        let (start, expected_base) = if self.index_suspect.load(Ordering::Relaxed) {
            (0, None)
        } else {
            self.indexed_start_for(offset)?
        };
        if let Some(found) = self.find_batch_from(start, expected_base, offset)? {
            return Ok(found);
        }
        self.distrust_index();
        Ok(self.find_batch_from(0, None, offset)?.flatten())
    }

    /// Scans from `start` for [`Segment::find_batch`]; `None` when the batch at
    /// `start` is not the one at `expected_base` (a damaged index entry).
    #[allow(clippy::type_complexity)]
    fn find_batch_from(
        &self,
        start: u64,
        expected_base: Option<i64>,
        offset: i64,
    ) -> io::Result<Option<Option<(u64, BatchHeader)>>> {
        let file = self.log.get()?;
        let mut scanner = HeaderScanner::new(&file, start, self.size);
        let mut first = expected_base;
        loop {
            let step = scanner.next_step()?;
            if let Some(base) = first.take() {
                if !matches!(&step, Step::Batch { header, .. } if header.base_offset == base) {
                    return Ok(None);
                }
            }
            match step {
                Step::Batch { position, header } => {
                    if header.last_offset() >= offset {
                        return Ok(Some(Some((position, header))));
                    }
                }
                Step::End => return Ok(Some(None)),
                Step::Damaged { position, reason } => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("segment {} at {position}: {reason}", self.base_offset),
                    ))
                }
            }
        }
    }

    /// End position of the last whole batch that ends at or before `limit`, scanning
    /// from the batch boundary `start` (or a later indexed boundary).
    pub fn batch_end_at_or_before(&self, start: u64, limit: u64) -> io::Result<u64> {
        let limit = limit.min(self.size);
        let limit32 = limit.min(u64::from(u32::MAX)) as u32;
        let indexed = if self.index_suspect.load(Ordering::Relaxed) {
            None
        } else {
            self.index
                .search(|e| e.position <= limit32)?
                .filter(|e| u64::from(e.position) > start && u64::from(e.position) <= limit)
        };
        if let Some(entry) = indexed {
            let base = self.base_offset + i64::from(entry.relative_offset);
            let from = u64::from(entry.position);
            if let Some(end) = self.batch_end_from(from, limit, Some(base))? {
                return Ok(end);
            }
            self.distrust_index();
        }
        Ok(self.batch_end_from(start, limit, None)?.unwrap_or(start))
    }

    /// Scans from `from` for [`Segment::batch_end_at_or_before`]; `None` when the
    /// batch at `from` is not the one at `expected_base` (a damaged index entry).
    fn batch_end_from(
        &self,
        from: u64,
        limit: u64,
        expected_base: Option<i64>,
    ) -> io::Result<Option<u64>> {
        let file = self.log.get()?;
        let mut scanner = HeaderScanner::new(&file, from, self.size);
        let mut end = from;
        let mut first = expected_base;
        loop {
            let step = scanner.next_step()?;
            if let Some(base) = first.take() {
                if !matches!(&step, Step::Batch { header, .. } if header.base_offset == base) {
                    return Ok(None);
                }
            }
            match step {
                Step::Batch { header, position } => {
                    let batch_end = position + header.total_size() as u64;
                    if batch_end > limit {
                        return Ok(Some(end));
                    }
                    end = batch_end;
                }
                Step::End => return Ok(Some(end)),
                Step::Damaged { position, reason } => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("segment {} at {position}: {reason}", self.base_offset),
                    ))
                }
            }
        }
    }

    /// Files that a flush must sync for this segment (opened when the flush runs).
    pub fn sync_files(&mut self, with_indexes: bool) -> io::Result<Vec<Arc<CachedFile>>> {
        let mut files = vec![Arc::clone(&self.log)];
        if with_indexes {
            self.index.write_pending()?;
            self.time_index.write_pending()?;
            files.push(self.index.cached_file());
            files.push(self.time_index.cached_file());
            files.extend(self.txn_index.sync_file()?);
        }
        Ok(files)
    }

    /// Removes the segment's files. Open slices keep reading the unlinked data.
    pub fn delete_files(&self, dir: &Path) -> io::Result<()> {
        delete_segment_files(dir, self.base_offset)
    }
}

/// Removes the `.log`, `.index`, `.timeindex` and `.txnindex` of the segment at
/// `base_offset`.
pub(crate) fn delete_segment_files(dir: &Path, base_offset: i64) -> io::Result<()> {
    for ext in [LOG_EXT, INDEX_EXT, TIME_INDEX_EXT, TXN_INDEX_EXT] {
        match fs::remove_file(segment_path(dir, base_offset, ext)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}
