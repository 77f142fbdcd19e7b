//! Producer-state snapshot written by a clean close, so a clean open need not scan every
//! batch header of the partition to rebuild the idempotent-producer table.
//!
//! The snapshot is only trusted when it was taken at exactly the log end offset found
//! on open, and it is removed as soon as it has been read: later appends, truncations
//! or a crash can then never pair it with data it does not describe. Anything missing,
//! torn or mismatched falls back to the header scan.
//!
//! Layout (big-endian): magic `b"SPS2"`, end offset i64, producer count u32, then per
//! producer: id i64, epoch i16, coordinator epoch i32, first offset of its open
//! transaction i64 (-1: none), batch count u8, and per batch first_seq i32, last_seq
//! i32, first_offset i64, last_offset i64, max_timestamp i64; then the completed
//! transactions not yet below the high watermark: count u32, and per transaction first
//! offset i64, marker offset i64; finally a CRC-32C u32 of everything before it.
//! Version 1 (`SPS1`, without transactions) is not read: the header scan rebuilds
//! everything instead.

use std::collections::VecDeque;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::producer_state::{BatchMetadata, ProducerEntry, ProducerStateTable, BATCHES_TO_RETAIN};

/// File name inside the partition directory.
pub(crate) const SNAPSHOT_FILE: &str = "producer-state.snapshot";
const MAGIC: &[u8; 4] = b"SPS2";
const BATCH_BYTES: usize = 4 + 4 + 8 + 8 + 8;

fn path(dir: &Path) -> PathBuf {
    dir.join(SNAPSHOT_FILE)
}

/// Serializes `table` as taken at `end_offset`.
pub(crate) fn encode(table: &ProducerStateTable, end_offset: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(20 + table.len() * (11 + BATCHES_TO_RETAIN * BATCH_BYTES));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&end_offset.to_be_bytes());
    out.extend_from_slice(&(table.len() as u32).to_be_bytes());
    for (producer_id, entry) in table.iter() {
        out.extend_from_slice(&producer_id.to_be_bytes());
        out.extend_from_slice(&entry.epoch.to_be_bytes());
        out.extend_from_slice(&entry.coordinator_epoch.to_be_bytes());
        out.extend_from_slice(&entry.current_txn_first_offset.unwrap_or(-1).to_be_bytes());
        out.push(entry.batches.len() as u8);
        for b in &entry.batches {
            out.extend_from_slice(&b.first_seq.to_be_bytes());
            out.extend_from_slice(&b.last_seq.to_be_bytes());
            out.extend_from_slice(&b.first_offset.to_be_bytes());
            out.extend_from_slice(&b.last_offset.to_be_bytes());
            out.extend_from_slice(&b.max_timestamp.to_be_bytes());
        }
    }
    let unreplicated: Vec<(i64, i64)> = table.unreplicated_transactions().collect();
    out.extend_from_slice(&(unreplicated.len() as u32).to_be_bytes());
    for (first, marker) in unreplicated {
        out.extend_from_slice(&first.to_be_bytes());
        out.extend_from_slice(&marker.to_be_bytes());
    }
    let crc = strata_proto::crc::crc32c(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// Parses a snapshot; `None` if it is not one this code wrote intact.
pub(crate) fn decode(bytes: &[u8]) -> Option<(ProducerStateTable, i64)> {
    let body_len = bytes.len().checked_sub(4)?;
    let (body, crc) = bytes.split_at(body_len);
    if strata_proto::crc::crc32c(body) != u32::from_be_bytes(crc.try_into().ok()?) {
        return None;
    }
    let mut r = Reader { buf: body };
    if r.take(4)? != MAGIC {
        return None;
    }
    let end_offset = i64::from_be_bytes(r.array()?);
    let count = u32::from_be_bytes(r.array()?);
    let mut table = ProducerStateTable::new();
    for _ in 0..count {
        let producer_id = i64::from_be_bytes(r.array()?);
        let epoch = i16::from_be_bytes(r.array()?);
        let coordinator_epoch = i32::from_be_bytes(r.array()?);
        let txn_first = i64::from_be_bytes(r.array()?);
        let batch_count = usize::from(r.take(1)?[0]);
        if batch_count > BATCHES_TO_RETAIN {
            return None;
        }
        let mut batches = VecDeque::with_capacity(BATCHES_TO_RETAIN);
        for _ in 0..batch_count {
            batches.push_back(BatchMetadata {
                first_seq: i32::from_be_bytes(r.array()?),
                last_seq: i32::from_be_bytes(r.array()?),
                first_offset: i64::from_be_bytes(r.array()?),
                last_offset: i64::from_be_bytes(r.array()?),
                max_timestamp: i64::from_be_bytes(r.array()?),
            });
        }
        let entry = ProducerEntry {
            epoch,
            batches,
            current_txn_first_offset: (txn_first >= 0).then_some(txn_first),
            coordinator_epoch,
        };
        table.insert(producer_id, entry);
    }
    let unreplicated = u32::from_be_bytes(r.array()?);
    for _ in 0..unreplicated {
        let first = i64::from_be_bytes(r.array()?);
        let marker = i64::from_be_bytes(r.array()?);
        table.insert_unreplicated(first, marker);
    }
    r.buf.is_empty().then_some((table, end_offset))
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}

/// Atomically writes the snapshot (temp file + rename). Not fsynced: a lost or torn
/// snapshot only costs the next open a header scan.
pub(crate) fn write(dir: &Path, table: &ProducerStateTable, end_offset: i64) -> io::Result<()> {
    let tmp = dir.join(format!("{SNAPSHOT_FILE}.tmp"));
    fs::write(&tmp, encode(table, end_offset))?;
    fs::rename(&tmp, path(dir))
}

/// Reads and removes the snapshot; `None` when absent or unusable.
pub(crate) fn take(dir: &Path) -> io::Result<Option<(ProducerStateTable, i64)>> {
    let bytes = match fs::read(path(dir)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        // Unreadable: fall back to the scan, but still try to get rid of it.
        Err(_) => Vec::new(),
    };
    remove(dir)?;
    Ok(decode(&bytes))
}

/// Removes the snapshot if present.
pub(crate) fn remove(dir: &Path) -> io::Result<()> {
    match fs::remove_file(path(dir)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_proto::batch::BatchHeader;

    fn header(producer_id: i64, epoch: i16, base_sequence: i32, count: i32) -> BatchHeader {
        BatchHeader {
            base_offset: 0,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: count - 1,
            base_timestamp: 5,
            max_timestamp: 9 + i64::from(base_sequence),
            producer_id,
            producer_epoch: epoch,
            base_sequence,
            records_count: count,
        }
    }

    #[test]
    fn round_trip_and_damage() {
        let mut table = ProducerStateTable::new();
        let mut offset = 0;
        for i in 0..8 {
            table.update(&header(1, 2, i * 3, 3), offset);
            offset += 3;
        }
        table.update(&header(9, 0, i32::MAX, 1), offset);
        let bytes = encode(&table, offset + 1);
        assert_eq!(decode(&bytes), Some((table.clone(), offset + 1)));
        assert_eq!(
            decode(&encode(&ProducerStateTable::new(), 0)),
            Some((ProducerStateTable::new(), 0))
        );
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 1;
            assert_eq!(decode(&damaged), None, "flip at {i}");
        }
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
        assert_eq!(decode(&[]), None);
    }
}
