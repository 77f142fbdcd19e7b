//! The partition log: open/recover, append, close (rolling and flushing in `roll.rs`).

use std::fs;
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};

use strata_proto::batch::{self, BatchHeader, HEADER_SIZE};
use strata_replication::EpochCache;

use crate::checkpoint::{self, CleanerCheckpoint};
use crate::config::{LogConfig, TimestampType};
use crate::damage::DamagedRange;
use crate::error::LogError;
use crate::handles::FileHandles;
use crate::listing::Listing;
use crate::producer_snapshot;
use crate::producer_state::{ProducerError, ProducerStateTable, SequenceCheck};
use crate::segment::Segment;
use crate::slice::AppendInfo;

/// The log of one partition: a directory of segments.
///
/// Owned by one partition and used behind the caller's lock; it is `Send` and holds
/// only a few hundred bytes per segment in memory (indexes stay on disk).
#[derive(Debug)]
pub struct Log {
    pub(crate) dir: PathBuf,
    pub(crate) config: LogConfig,
    /// The open-file budget its segment and index files are opened within.
    pub(crate) files: FileHandles,
    /// Sorted by base offset; never empty; the last one is the active segment.
    pub(crate) segments: Vec<Segment>,
    pub(crate) log_start_offset: i64,
    /// Offsets below this are durable on disk (last completed flush).
    pub(crate) recovery_point: i64,
    pub(crate) size_bytes: u64,
    /// Idempotent-producer state, rebuilt from batch headers on open and truncation.
    pub(crate) producers: ProducerStateTable,
    /// The log cleaner's progress (persisted in `cleaner-offset-checkpoint`).
    pub(crate) cleaner: CleanerCheckpoint,
    /// Earliest delete horizon of a tombstone the last clean kept, if any: once it
    /// passes, a clean can remove that tombstone. Not persisted (a restart only delays
    /// the removal until the next clean).
    pub(crate) next_tombstone_horizon: Option<i64>,
    /// When `complete_flush` last rewrote the recovery checkpoint file.
    pub(crate) checkpoint_written_at: Option<std::time::Instant>,
    /// Leader epoch → start offset (persisted in `leader-epoch-checkpoint`).
    pub(crate) epochs: EpochCache,
    /// Whether the epoch file holds a write not yet synced (see `epoch_file.rs`).
    pub(crate) epochs_sync: EpochSync,
    /// Offsets below this are committed; set by the broker (see `high_watermark.rs`).
    pub(crate) high_watermark: i64,
    /// The high watermark last written to the recovery checkpoint file.
    pub(crate) hw_checkpointed: Option<i64>,
    /// Offset ranges lost to damage (persisted in `damaged-offsets`, see `damage.rs`).
    pub(crate) damaged: Vec<DamagedRange>,
    /// Why the last append failed to write (full disk, I/O error), until one succeeds.
    /// A producer's next pipelined batch then finds a sequence gap (the failed batch
    /// was never written); it is refused with the same storage error, which clients
    /// retry in order, instead of `OUT_OF_ORDER_SEQUENCE_NUMBER`, which makes them
    /// drop their producer epoch (and with it duplicate detection) for every partition.
    pub(crate) failed_write: Option<String>,
}

/// Writes of `leader-epoch-checkpoint` made and made durable, counted (see
/// `epoch_file.rs`).
#[derive(Debug, Default)]
pub(crate) struct EpochSync {
    /// Writes so far (only unsynced ones count up).
    pub written: u64,
    /// The last write known durable; advanced by a flush running without the lock.
    pub synced: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl EpochSync {
    /// The write a flush must make durable, if the last one is not yet.
    pub fn pending(&self) -> Option<u64> {
        (self.synced.load(std::sync::atomic::Ordering::Acquire) < self.written)
            .then_some(self.written)
    }

    /// Records that write `written` (and all before it) is durable.
    pub fn mark_synced(&self, written: u64) {
        self.synced
            .fetch_max(written, std::sync::atomic::Ordering::AcqRel);
    }
}

/// `complete_flush` rewrites the recovery checkpoint file at most this often. Why:
/// replacing it (create, write, rename) on every group-commit fsync costs an inode
/// allocation each time, which under many small durable appends (offset commits)
/// cost more CPU than the appends; a checkpoint that lags by a second only makes the
/// recovery scan after a crash a little longer.
pub(crate) const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

impl Log {
    /// Opens the log in `dir` (creating the directory if missing).
    ///
    /// With `clean_shutdown = false`, every segment from the one holding the recovery
    /// checkpoint onward is scanned (length, CRC-32C, offsets continuing the log) and
    /// its indexes rebuilt. Damage costs only the batches it hits: the bad bytes are
    /// moved aside to a `.corrupt` file, logged at ERROR and counted
    /// ([`crate::corrupt_batches_total`]), the batches after them kept, and the lost
    /// offsets recorded ([`Log::damaged_ranges`]). Only a torn tail of the last segment
    /// (nothing good after it) is truncated. With `clean_shutdown = true` the files
    /// (and every index entry) are trusted after cheap checks, falling back to the
    /// scan when something does not add up.
    ///
    /// The idempotent-producer state comes from the snapshot of a clean close when it
    /// matches the log end, otherwise from a scan of every batch header. The leader
    /// epoch cache comes from `leader-epoch-checkpoint`, cut back to the recovered log
    /// end (rebuilt from batch headers if the file is missing or damaged). The high
    /// watermark is the stored one capped at the log end (see [`Log::high_watermark`]).
    ///
    /// Files are opened on demand within the process-wide budget
    /// ([`FileHandles::global`]); see [`Log::open_with_files`].
    pub fn open(dir: &Path, config: LogConfig, clean_shutdown: bool) -> Result<Log, LogError> {
        Log::open_with_files(dir, config, clean_shutdown, FileHandles::global().clone())
    }

    /// Like [`Log::open`], with its files opened within the budget `files`.
    pub fn open_with_files(
        dir: &Path,
        config: LogConfig,
        clean_shutdown: bool,
        files: FileHandles,
    ) -> Result<Log, LogError> {
        // One listing (created if missing): a clean interrupted by a crash is finished
        // or rolled back before anything looks at the segment files.
        let listing = Listing::read(dir)?;
        // Taken (and removed) up front so it can never outlive the state it describes.
        let snapshot = listing.take_producer_snapshot(dir)?;
        let bases = &listing.bases;
        let mut log = Log {
            dir: dir.to_path_buf(),
            config,
            files,
            segments: Vec::new(),
            log_start_offset: 0,
            recovery_point: 0,
            size_bytes: 0,
            producers: ProducerStateTable::new(),
            cleaner: listing.cleaner(dir),
            next_tombstone_horizon: None,
            checkpoint_written_at: None,
            epochs: EpochCache::new(),
            epochs_sync: EpochSync::default(),
            high_watermark: 0,
            failed_write: None,
            hw_checkpointed: None,
            damaged: listing.damaged(dir),
        };
        if bases.is_empty() {
            let first = Segment::create(&log.files, dir, 0)?;
            log.segments.push(first);
            // A stored log start with no segment left to hold it would come back after
            // the next append and move the start (found by the segment_recovery fuzz
            // target): the empty log starts at 0, and says so.
            if listing.log_start(dir).is_some_and(|s| s != 0) {
                checkpoint::write_log_start(dir, 0)?;
            }
            return Ok(log);
        }
        let (recovery_point, stored_high_watermark) = listing.recovery_checkpoint(dir);
        let checkpoint = recovery_point.unwrap_or(bases[0]);
        let scan_from = if clean_shutdown {
            bases.len() - 1
        } else {
            bases
                .partition_point(|b| *b <= checkpoint)
                .saturating_sub(1)
        };
        // Recovery needs the stored start: gaps below it are deleted offsets, not damage.
        let stored_start = listing.log_start(dir);
        log.log_start_offset = stored_start.unwrap_or(bases[0]);
        log.load_segments(&listing, scan_from, clean_shutdown)?;
        let end = log.log_end_offset();
        let first_base = log.segments[0].base_offset;
        log.log_start_offset = stored_start.unwrap_or(first_base).clamp(first_base, end);
        // Recovery cut the log below its stored start: the start is the end now, on disk
        // too (as `truncate_to` does), or a later open would move it again.
        if stored_start.is_some_and(|s| s > end) {
            checkpoint::write_log_start(dir, log.log_start_offset)?;
        }
        log.cleaner.first_dirty = log.cleaner.first_dirty.min(end);
        log.forget_damage_outside_log()?;
        log.recovery_point = checkpoint.clamp(log.log_start_offset, log.log_end_offset());
        log.size_bytes = log.segments.iter().map(|s| s.size).sum();
        // After an unclean stop the stored value may be past the recovered end.
        log.hw_checkpointed = stored_high_watermark;
        log.high_watermark = log.hw_checkpointed.unwrap_or(log.log_start_offset);
        log.clamp_high_watermark();
        log.load_epochs((!clean_shutdown).then_some(scan_from))?;
        match snapshot {
            // Written by a clean close at exactly this log end: nothing changed since.
            // After an unclean stop the aborted indexes may have lost writes; a damaged
            // one is rebuilt; both with the producer state, from the same scan.
            Some((mut table, end))
                if end == log.log_end_offset() && clean_shutdown && !log.txn_index_damaged() =>
            {
                table.on_high_watermark(log.high_watermark);
                log.producers = table;
            }
            _ => log.rebuild_producer_state()?,
        }
        Ok(log)
    }

    /// Appends one produce payload (one or more batches).
    ///
    /// All batches are validated first, idempotent producers' sequence numbers
    /// included; on any error nothing is written. A payload that retries batches
    /// already written is not written again: the result carries the original offsets
    /// and `duplicate = true`. Offsets are
    /// assigned by rewriting each batch's base offset; LogAppendTime topics get
    /// `now_ms` stamped. The active segment is rolled first if the payload would push it
    /// past `segment.bytes` or it is older than `segment.ms`. The payload is written with
    /// vectored I/O straight from `records` (only the 61-byte headers are copied).
    ///
    /// A batch whose partition leader epoch is newer than the log's latest starts that
    /// epoch in the epoch cache (persisted before the data is written); negative
    /// epochs are ignored. Without [`Log::append_with_epoch`] the epochs are whatever
    /// the producer sent (normally -1).
    pub fn append(&mut self, records: &[u8], now_ms: i64) -> Result<AppendInfo, LogError> {
        self.append_inner(records, now_ms, None)
    }

    /// Like [`Log::append`] but also stamps every batch with the leader's epoch, as a
    /// partition leader must.
    pub fn append_with_epoch(
        &mut self,
        records: &[u8],
        now_ms: i64,
        leader_epoch: i32,
    ) -> Result<AppendInfo, LogError> {
        self.append_inner(records, now_ms, Some(leader_epoch))
    }

    fn append_inner(
        &mut self,
        records: &[u8],
        now_ms: i64,
        leader_epoch: Option<i32>,
    ) -> Result<AppendInfo, LogError> {
        let result = self.append_validated(records, now_ms, leader_epoch);
        match &result {
            Ok(info) if !info.duplicate => self.failed_write = None,
            Err(LogError::Io(e)) => self.failed_write = Some(e.to_string()),
            _ => {}
        }
        result
    }

    fn append_validated(
        &mut self,
        records: &[u8],
        now_ms: i64,
        leader_epoch: Option<i32>,
    ) -> Result<AppendInfo, LogError> {
        let batch::Validated {
            headers,
            uncompressed_bytes,
        } = batch::validate_sized(
            records,
            &batch::Checks {
                max_batch_bytes: self.config.max_message_bytes as usize,
                keys_required: false,
            },
        )?;
        let record_count: i64 = headers
            .iter()
            .map(|h| i64::from(h.last_offset_delta) + 1)
            .sum();
        let base_offset = self.log_end_offset();
        let last_offset = base_offset
            .checked_add(record_count)
            .map(|next| next - 1)
            .ok_or(LogError::OffsetOverflow {
                end: base_offset,
                records: record_count,
            })?;
        let log_append_time = self.config.timestamp_type == TimestampType::LogAppendTime;
        if let SequenceCheck::Duplicate {
            first_offset,
            last_offset,
            max_timestamp,
        } = self.check_sequences(&headers, base_offset)?
        {
            return Ok(AppendInfo {
                base_offset: first_offset,
                last_offset,
                record_count: headers.iter().map(|h| i64::from(h.records_count)).sum(),
                max_timestamp,
                // The stored max timestamp of a LogAppendTime batch is its append time.
                log_append_time: if log_append_time { max_timestamp } else { -1 },
                log_start_offset: self.log_start_offset,
                bytes: 0,
                uncompressed_bytes: 0,
                duplicate: true,
            });
        }
        let markers = crate::txn_log::payload_markers(records, &headers)?;
        for (header, marker) in headers.iter().zip(&markers) {
            if let Some(marker) = marker {
                self.producers.check_marker(header, marker)?;
            }
        }
        self.roll_if_needed(records.len() as u64, last_offset, now_ms)?;

        let mut stamped: Vec<([u8; HEADER_SIZE], BatchHeader)> = Vec::with_capacity(headers.len());
        let mut pos = 0usize;
        let mut next = base_offset;
        for header in &headers {
            let size = header.total_size();
            let mut bytes = [0u8; HEADER_SIZE];
            bytes.copy_from_slice(&records[pos..pos + HEADER_SIZE]);
            let mut new_header = *header;
            batch::set_base_offset(&mut bytes, next)?;
            new_header.base_offset = next;
            if let Some(epoch) = leader_epoch {
                batch::set_partition_leader_epoch(&mut bytes, epoch)?;
                new_header.partition_leader_epoch = epoch;
            }
            if log_append_time {
                let body = &records[pos + HEADER_SIZE..pos + size];
                batch::set_log_append_time_split(&mut bytes, body, now_ms)?;
                new_header = BatchHeader::parse(&bytes)?;
            }
            stamped.push((bytes, new_header));
            next = new_header.next_offset();
            pos += size;
        }
        // Before the data, so the epoch file is never behind the log.
        self.assign_batch_epochs(stamped.iter().map(|(_, h)| h))?;

        let mut slices = Vec::with_capacity(stamped.len() * 2);
        let mut pos = 0usize;
        for (bytes, header) in &stamped {
            let size = header.total_size();
            slices.push(IoSlice::new(bytes));
            slices.push(IoSlice::new(&records[pos + HEADER_SIZE..pos + size]));
            pos += size;
        }
        let interval = self.config.index_interval_bytes;
        let limit = self.config.effective_segment_bytes();
        let start = self
            .active_mut()
            .write_at_end(&mut slices, records.len() as u64, limit)?;
        // The batches are in the file now, so a retry must find them even if index
        // bookkeeping below fails.
        for ((_, header), marker) in stamped.iter().zip(&markers) {
            let completed = self.producers.apply(header, header.base_offset, *marker);
            self.record_completed(completed);
        }
        let last = self.segments.len() - 1;
        let active = &mut self.segments[last];
        let mut position = start;
        for (_, header) in &stamped {
            active.track_batch(position, header, interval);
            position += header.total_size() as u64;
        }
        // Validated (CRC included) before it was written.
        active.mark_verified(start, position);
        if active.roll_base_ms.is_none() {
            active.roll_base_ms = Some(now_ms);
        }
        self.size_bytes += records.len() as u64;
        let max_timestamp = if log_append_time {
            now_ms
        } else {
            headers.iter().map(|h| h.max_timestamp).max().unwrap_or(-1)
        };
        Ok(AppendInfo {
            base_offset,
            last_offset,
            record_count: headers.iter().map(|h| i64::from(h.records_count)).sum(),
            max_timestamp,
            log_append_time: if log_append_time { now_ms } else { -1 },
            log_start_offset: self.log_start_offset,
            bytes: records.len() as u64,
            uncompressed_bytes,
            duplicate: false,
        })
    }

    /// The producers' sequence check, with [`Log::failed_write`]'s exception.
    fn check_sequences(
        &self,
        headers: &[BatchHeader],
        base_offset: i64,
    ) -> Result<SequenceCheck, LogError> {
        match self.producers.check_payload(headers, base_offset) {
            Err(ProducerError::OutOfOrderSequence { .. }) if self.failed_write.is_some() => {
                let why = self.failed_write.as_deref().unwrap_or_default();
                Err(LogError::Io(std::io::Error::other(format!(
                    "an earlier batch could not be written ({why})"
                ))))
            }
            other => Ok(other?),
        }
    }

    /// Replaces the configuration; size/time limits apply from the next append.
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    /// The current configuration.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// The idempotent-producer state (producer id → epoch and last batches).
    pub fn producer_state(&self) -> &ProducerStateTable {
        &self.producers
    }

    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// First offset in the log.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// Offset the next appended record will get.
    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset
    }

    /// Offset below which data is known durable.
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    /// Total bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// Number of segments, the active one included.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Flushes data and indexes, writes the checkpoint (with the high watermark) and a
    /// producer-state snapshot at the log end. A later `open(.., clean_shutdown = true)` then needs no scan.
    pub fn close(self) -> Result<(), LogError> {
        self.close_inner(true)
    }

    /// [`Log::close`] without any fsync: everything is written, nothing is synced.
    /// For a caller that syncs the whole filesystem afterwards (`syncfs(2)`), before it
    /// records the stop as clean: closing thousands of logs with two device flushes
    /// each took seconds.
    pub fn close_unsynced(self) -> Result<(), LogError> {
        self.close_inner(false)
    }

    fn close_inner(mut self, sync: bool) -> Result<(), LogError> {
        self.active_mut().seal()?;
        let end = self.log_end_offset();
        let recovery_point = self.recovery_point;
        let last = self.segments.len() - 1;
        for (i, segment) in self.segments.iter_mut().enumerate() {
            if segment.next_offset > recovery_point || i == last {
                // Writes index entries still buffered, synced or not.
                let files = segment.sync_files(true)?;
                if sync {
                    for file in files {
                        file.get()?.sync_data()?;
                    }
                }
            }
        }
        if sync && self.epochs_sync.pending().is_some() {
            crate::epoch_file::sync(&self.dir)?;
        }
        self.write_checkpoint(end)?;
        producer_snapshot::write(&self.dir, &self.producers, end)?;
        Ok(())
    }

    /// Deletes the partition directory and everything in it.
    pub fn delete(self) -> Result<(), LogError> {
        let dir = self.dir.clone();
        drop(self);
        fs::remove_dir_all(dir)?;
        Ok(())
    }

    pub(crate) fn active(&self) -> &Segment {
        // The segment list is never empty: open creates one and every removal keeps
        // or recreates the active segment.
        &self.segments[self.segments.len() - 1]
    }

    pub(crate) fn active_mut(&mut self) -> &mut Segment {
        let last = self.segments.len() - 1;
        &mut self.segments[last]
    }

    /// Index of the segment that would hold `offset`.
    pub(crate) fn segment_index_for(&self, offset: i64) -> usize {
        self.segments
            .partition_point(|s| s.base_offset <= offset)
            .saturating_sub(1)
    }
}

/// `writev` until everything is written (the kernel may write less, and std caps the
/// number of slices per call at `IOV_MAX`).
pub(crate) fn write_all_vectored(
    mut file: &fs::File,
    mut slices: &mut [IoSlice<'_>],
) -> io::Result<()> {
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "segment write made no progress",
                ))
            }
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
