//! The two passes of a clean over segment data: the key → latest offset map of the
//! dirty section, and the rewrite of a segment without superseded records and expired
//! tombstones.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

use strata_proto::batch::control::ControlType;
use strata_proto::batch::BatchHeader;

use crate::clean::batch::{self, RawRecord};
use crate::clean::swap::{staged_path, CLEANED_SUFFIX};
use crate::clean::txn::{marker_type, Aborts, OpenTxns};
use crate::error::LogError;
use crate::handles::FileHandles;
use crate::producer_state::ProducerStateTable;
use crate::scan::{HeaderScanner, Step};
use crate::segment::Segment;
use crate::txn_index::{self, TXN_INDEX_EXT};

/// Key → offset of its latest record in the dirty section.
pub(crate) type OffsetMap = HashMap<Vec<u8>, i64>;

/// What decides a record's fate during a rewrite.
pub(crate) struct Filter<'a> {
    pub map: &'a OffsetMap,
    pub now_ms: i64,
    pub delete_retention_ms: i64,
    pub producers: &'a ProducerStateTable,
    /// The log's aborted transactions.
    pub aborts: &'a Aborts,
    /// Most bytes a batch's records may decompress to (`max.message.bytes`).
    pub limit: usize,
}

/// Running totals of one clean.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub bytes_read: u64,
    pub records_removed: u64,
    pub tombstones_removed: u64,
    /// Of those, records of aborted transactions.
    pub aborted_removed: u64,
    /// Transaction markers removed.
    pub markers_removed: u64,
    /// Offsets of the ABORT markers removed from the segment being rewritten: their
    /// entries leave its aborted index with them.
    pub aborts_dropped: Vec<i64>,
    /// Earliest delete horizon of a tombstone or marker that was kept.
    pub min_horizon: Option<i64>,
    /// Transactions read so far whose marker is still ahead.
    pub txns: OpenTxns,
}

impl Tally {
    fn horizon_kept(&mut self, horizon: i64) {
        self.min_horizon = Some(self.min_horizon.map_or(horizon, |h| h.min(horizon)));
    }
}

/// What happens to one batch.
enum Verdict {
    /// Copied unchanged.
    Keep,
    /// Left out.
    Drop,
    /// Replaced by these bytes.
    Replace(Vec<u8>),
}

/// Whether a batch's records take no part in the key map: control batches (transaction
/// markers), records of aborted transactions, and batches of unknown codec.
fn unmapped(header: &BatchHeader, aborts: &Aborts) -> bool {
    header.is_control() || header.compression().is_none() || aborts.is_aborted(header)
}

fn corrupt(header: &BatchHeader, reason: impl std::fmt::Display) -> LogError {
    LogError::Corrupt(format!(
        "cannot clean batch at offset {}: {reason}",
        header.base_offset
    ))
}

fn damaged(segment: &Segment, position: u64, reason: impl std::fmt::Display) -> LogError {
    LogError::Corrupt(format!(
        "segment {} at {position}: {reason}",
        segment.base_offset
    ))
}

/// Calls `each` with every batch of `segment` (position, header and bytes), reporting
/// the bytes read to `throttle`; returns the bytes read.
fn for_each_batch(
    segment: &Segment,
    throttle: &mut dyn FnMut(u64),
    mut each: impl FnMut(u64, &BatchHeader, &[u8]) -> Result<(), LogError>,
) -> Result<u64, LogError> {
    let mut read = 0u64;
    let file = segment.log.get()?;
    let mut scanner = HeaderScanner::new(&file, 0, segment.size);
    let mut buf = Vec::new();
    loop {
        match scanner.next_step()? {
            Step::End => return Ok(read),
            Step::Damaged { position, reason } => return Err(damaged(segment, position, reason)),
            Step::Batch { position, header } => {
                buf.resize(header.total_size(), 0);
                file.read_exact_at(&mut buf, position)?;
                read += buf.len() as u64;
                throttle(buf.len() as u64);
                each(position, &header, &buf)?;
            }
        }
    }
}

/// Adds the keys of `segments` (the dirty section, in offset order) to `map`.
pub(crate) fn build_map(
    segments: &[Segment],
    aborts: &Aborts,
    map: &mut OffsetMap,
    tally: &mut Tally,
    throttle: &mut dyn FnMut(u64),
    limit: usize,
) -> Result<(), LogError> {
    for segment in segments {
        let read = for_each_batch(segment, throttle, |_, header, bytes| {
            if unmapped(header, aborts) {
                return Ok(());
            }
            let decoded = batch::decode(header, bytes, limit).map_err(|e| corrupt(header, e))?;
            for record in &decoded.parsed {
                let Some(key) = decoded.key(record) else {
                    continue;
                };
                let offset = header.base_offset + i64::from(record.offset_delta);
                match map.get_mut(key) {
                    Some(latest) => *latest = offset,
                    None => {
                        map.insert(key.to_vec(), offset);
                    }
                }
            }
            Ok(())
        })?;
        tally.bytes_read += read;
    }
    Ok(())
}

/// Whether `header` is the newest batch the producer state remembers for its producer:
/// dropping it would make a restarted broker rebuild an older sequence number for the
/// producer and refuse its next batch, so it survives as an empty batch.
fn is_producers_last(producers: &ProducerStateTable, header: &BatchHeader) -> bool {
    header.has_producer_id()
        && producers
            .get(header.producer_id)
            .and_then(|e| e.batches.back())
            .is_some_and(|b| b.last_offset == header.last_offset())
}

/// Whether `header` (a marker) is the newest thing the producer state remembers of its
/// producer: the producer has no data batch in its current epoch, which is the marker's.
/// Without it a restarted broker would rebuild an older epoch (Kafka keeps it too).
fn is_producers_epoch_marker(producers: &ProducerStateTable, header: &BatchHeader) -> bool {
    producers
        .get(header.producer_id)
        .is_some_and(|e| e.batches.is_empty() && e.epoch == header.producer_epoch)
}

fn judge(
    filter: &Filter<'_>,
    header: &BatchHeader,
    bytes: &[u8],
    tally: &mut Tally,
) -> Result<Verdict, LogError> {
    if header.is_control() {
        return judge_marker(filter, header, bytes, tally);
    }
    let verdict = if header.compression().is_none() {
        Verdict::Keep
    } else if filter.aborts.is_aborted(header) {
        judge_aborted(filter, header, tally)?
    } else {
        judge_data(filter, header, bytes, tally)?
    };
    if header.is_transactional() {
        tally
            .txns
            .on_data(header.producer_id, !matches!(verdict, Verdict::Drop));
    }
    Ok(verdict)
}

/// A transaction marker: see the rules in `txn.rs`.
fn judge_marker(
    filter: &Filter<'_>,
    header: &BatchHeader,
    bytes: &[u8],
    tally: &mut Tally,
) -> Result<Verdict, LogError> {
    let data_kept = tally.txns.on_marker(header.producer_id);
    let Some(control) = marker_type(header, bytes) else {
        return Ok(Verdict::Keep);
    };
    if data_kept || is_producers_epoch_marker(filter.producers, header) {
        return Ok(Verdict::Keep);
    }
    let mut drop = || {
        tally.markers_removed += 1;
        if control == ControlType::Abort {
            tally.aborts_dropped.push(header.base_offset);
        }
        Ok(Verdict::Drop)
    };
    if header.has_delete_horizon() {
        if filter.now_ms >= header.base_timestamp {
            return drop();
        }
        tally.horizon_kept(header.base_timestamp);
        return Ok(Verdict::Keep);
    }
    let horizon = filter
        .now_ms
        .saturating_add(filter.delete_retention_ms.max(0));
    if filter.now_ms >= horizon {
        return drop();
    }
    let decoded = batch::decode(header, bytes, filter.limit).map_err(|e| corrupt(header, e))?;
    let all: Vec<&RawRecord> = decoded.parsed.iter().collect();
    let marked =
        batch::rebuild(header, &decoded, &all, Some(horizon)).map_err(|e| corrupt(header, e))?;
    tally.horizon_kept(horizon);
    Ok(Verdict::Replace(marked))
}

/// A batch of an aborted transaction: all its records go.
fn judge_aborted(
    filter: &Filter<'_>,
    header: &BatchHeader,
    tally: &mut Tally,
) -> Result<Verdict, LogError> {
    let removed = u64::try_from(header.records_count).unwrap_or(0);
    if is_producers_last(filter.producers, header) {
        if removed == 0 {
            return Ok(Verdict::Keep);
        }
        let empty = batch::emptied(header).map_err(|e| corrupt(header, e))?;
        tally.records_removed += removed;
        tally.aborted_removed += removed;
        return Ok(Verdict::Replace(empty));
    }
    tally.records_removed += removed;
    tally.aborted_removed += removed;
    Ok(Verdict::Drop)
}

/// A data batch (committed transactional records included): superseded records and
/// expired tombstones go.
fn judge_data(
    filter: &Filter<'_>,
    header: &BatchHeader,
    bytes: &[u8],
    tally: &mut Tally,
) -> Result<Verdict, LogError> {
    let decoded = batch::decode(header, bytes, filter.limit).map_err(|e| corrupt(header, e))?;
    // A batch gets its horizon the first time a clean keeps one of its tombstones.
    let horizon = if header.has_delete_horizon() {
        header.base_timestamp
    } else {
        filter
            .now_ms
            .saturating_add(filter.delete_retention_ms.max(0))
    };
    let mut kept: Vec<&RawRecord> = Vec::with_capacity(decoded.parsed.len());
    let mut removed = 0u64;
    let mut tombstones_removed = 0u64;
    let mut kept_tombstone = false;
    for record in &decoded.parsed {
        // Records without a key cannot be superseded; they stay.
        if let Some(key) = decoded.key(record) {
            let offset = header.base_offset + i64::from(record.offset_delta);
            if filter.map.get(key).is_some_and(|&latest| offset < latest) {
                removed += 1;
                continue;
            }
            if record.null_value {
                if filter.now_ms >= horizon {
                    removed += 1;
                    tombstones_removed += 1;
                    continue;
                }
                kept_tombstone = true;
            }
        }
        kept.push(record);
    }
    if kept_tombstone {
        tally.horizon_kept(horizon);
    }
    let horizon_field = (header.has_delete_horizon() || kept_tombstone).then_some(horizon);
    if kept.is_empty() && is_producers_last(filter.producers, header) {
        if decoded.parsed.is_empty() {
            return Ok(Verdict::Keep);
        }
        tally.records_removed += removed;
        tally.tombstones_removed += tombstones_removed;
        let empty =
            batch::rebuild(header, &decoded, &[], horizon_field).map_err(|e| corrupt(header, e))?;
        return Ok(Verdict::Replace(empty));
    }
    if kept.is_empty() {
        tally.records_removed += removed;
        tally.tombstones_removed += tombstones_removed;
        return Ok(Verdict::Drop);
    }
    if removed == 0 && horizon_field.is_none_or(|_| header.has_delete_horizon()) {
        return Ok(Verdict::Keep);
    }
    tally.records_removed += removed;
    tally.tombstones_removed += tombstones_removed;
    let rebuilt =
        batch::rebuild(header, &decoded, &kept, horizon_field).map_err(|e| corrupt(header, e))?;
    Ok(Verdict::Replace(rebuilt))
}

fn append(out: &mut Segment, bytes: &[u8], interval: u32) -> Result<(), LogError> {
    let header = BatchHeader::parse(bytes)?;
    let position = out.size;
    (&*out.log.get()?).write_all(bytes)?;
    out.track_batch(position, &header, interval);
    Ok(())
}

/// Rewrites `segment` as `<base>.*.cleaned` files if the filter changes any of its
/// batches; `Ok(None)` (and no files) when it would stay the same. The returned segment
/// is sealed and fsynced; its `next_offset` is the original's. A segment with an aborted
/// index gets `<base>.txnindex.cleaned` too: its entries less those whose ABORT marker
/// the rewrite removed.
pub(crate) fn rewrite_segment(
    files: &FileHandles,
    dir: &Path,
    segment: &Segment,
    interval: u32,
    filter: &Filter<'_>,
    tally: &mut Tally,
    throttle: &mut dyn FnMut(u64),
) -> Result<Option<Segment>, LogError> {
    let mut out: Option<Segment> = None;
    tally.aborts_dropped.clear();
    let read = for_each_batch(segment, throttle, |position, header, bytes| {
        let verdict = judge(filter, header, bytes, tally)?;
        if out.is_none() && !matches!(verdict, Verdict::Keep) {
            // First change: start the output with the unchanged batches before it.
            let mut fresh =
                Segment::create_suffixed(files, dir, segment.base_offset, CLEANED_SUFFIX)?;
            let mut copy = Vec::new();
            let file = segment.log.get()?;
            let mut scanner = HeaderScanner::new(&file, 0, position);
            while let Step::Batch { position, header } = scanner.next_step()? {
                copy.resize(header.total_size(), 0);
                file.read_exact_at(&mut copy, position)?;
                append(&mut fresh, &copy, interval)?;
            }
            out = Some(fresh);
        }
        if let Some(out) = out.as_mut() {
            match verdict {
                Verdict::Keep => append(out, bytes, interval)?,
                Verdict::Replace(new) => append(out, &new, interval)?,
                Verdict::Drop => {}
            }
        }
        Ok(())
    })?;
    tally.bytes_read += read;
    let Some(mut out) = out else {
        return Ok(None);
    };
    out.seal()?;
    out.log.get()?.sync_all()?;
    out.index.cached_file().get()?.sync_all()?;
    out.time_index.cached_file().get()?.sync_all()?;
    out.next_offset = segment.next_offset;
    if segment.txn_index.entry_count() > 0 {
        let mut kept = segment.txn_index.entries()?;
        kept.retain(|t| !tally.aborts_dropped.contains(&t.last_offset));
        let path = staged_path(dir, segment.base_offset, TXN_INDEX_EXT, CLEANED_SUFFIX);
        txn_index::write_file(&path, &kept)?;
    }
    Ok(Some(out))
}
