//! Finding the next good batch after damage: a forward scan, byte by byte, for a
//! position where a batch header parses, its offsets continue the log, its CRC-32C
//! checks out and the bytes after it look like the next batch (or the end).
//!
//! Bounded work: the file is read once in 64 KiB windows; a CRC is computed only for a
//! header whose magic byte, framing and offsets all fit, which random or record bytes
//! rarely produce.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use strata_proto::batch::{BatchHeader, HEADER_SIZE, MAGIC_V2};

use crate::scan::batch_crc_ok;

/// Position of the magic byte inside a batch header.
const MAGIC_POS: usize = 16;
const WINDOW: usize = 64 * 1024;

/// What a batch found past damage must satisfy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wanted {
    /// Its base offset must be at least this (the offset after the last good batch).
    pub min_base: i64,
    /// Its offsets must end at or below this (the next segment's base), if set.
    pub next_base: Option<i64>,
    /// Whether its CRC must check out (always, except for scans that trust the data).
    pub verify_crc: bool,
}

/// The first position in `[from, end)` holding a batch that fits `wanted`, with its
/// header; `None` if there is none.
pub(crate) fn next_good_batch(
    file: &File,
    from: u64,
    end: u64,
    wanted: Wanted,
) -> io::Result<Option<(u64, BatchHeader)>> {
    let mut buf = vec![0u8; WINDOW + HEADER_SIZE];
    let mut start = from;
    while start + HEADER_SIZE as u64 <= end {
        let len = (end - start).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..len], start)?;
        // Every position whose whole header lies in this window.
        let positions = len - HEADER_SIZE + 1;
        for i in 0..positions {
            if buf[i + MAGIC_POS] != MAGIC_V2 as u8 {
                continue;
            }
            let Ok(header) = BatchHeader::parse(&buf[i..i + HEADER_SIZE]) else {
                continue;
            };
            let position = start + i as u64;
            if confirmed(file, position, &header, end, wanted)? {
                return Ok(Some((position, header)));
            }
        }
        start += positions as u64;
    }
    Ok(None)
}

fn confirmed(
    file: &File,
    position: u64,
    header: &BatchHeader,
    end: u64,
    wanted: Wanted,
) -> io::Result<bool> {
    let after = position + header.total_size() as u64;
    let offsets_fit = header.base_offset >= wanted.min_base
        && header.last_offset_delta >= 0
        && crate::check::has_next_offset(header)
        && wanted
            .next_base
            .is_none_or(|next| header.next_offset() <= next);
    if after > end || !offsets_fit {
        return Ok(false);
    }
    if wanted.verify_crc && !batch_crc_ok(file, position, header)? {
        return Ok(false);
    }
    // The base offset is outside the CRC: the batch after it must continue the offsets
    // (its own damage, if any, is the next scan's business).
    if after + HEADER_SIZE as u64 > end {
        return Ok(true);
    }
    let mut next = [0u8; HEADER_SIZE];
    file.read_exact_at(&mut next, after)?;
    Ok(BatchHeader::parse(&next).is_ok_and(|h| h.base_offset >= header.next_offset()))
}
