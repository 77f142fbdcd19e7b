//! Helpers shared by the fuzz targets.

use strata_proto::batch::{CRC_START, HEADER_SIZE, LOG_OVERHEAD};

/// Rewrites the CRC-32C of every complete batch in `buf` (walking the `batchLength`
/// fields from the start) so that mutations get past the checksum and reach the record
/// framing and the decompressors. Stops at the first header that is not there whole or
/// whose length is negative or runs past the end; the bytes after it are left as they are.
pub fn fix_crcs(buf: &mut [u8]) {
    let mut pos = 0usize;
    while buf.len() - pos >= HEADER_SIZE {
        let len = i32::from_be_bytes(buf[pos + 8..pos + 12].try_into().unwrap());
        let Ok(len) = usize::try_from(len) else {
            return;
        };
        let Some(end) = (pos + LOG_OVERHEAD).checked_add(len) else {
            return;
        };
        if end > buf.len() || end < pos + HEADER_SIZE {
            return;
        }
        let crc = strata_proto::crc::crc32c(&buf[pos + CRC_START..end]);
        buf[pos + 17..pos + 21].copy_from_slice(&crc.to_be_bytes());
        pos = end;
    }
}

/// Whether the batch at the start of `buf` (exactly one batch) carries a right CRC.
pub fn crc_ok(batch: &[u8]) -> bool {
    strata_proto::batch::crc_matches(batch)
}

/// One uncompressed v2 batch holding a single record (value `x`), base offset 0, no
/// producer id, with a right CRC: what a plain producer would send.
pub fn one_record_batch(timestamp: i64) -> Vec<u8> {
    // length 7 (zigzag 14), attributes 0, timestampDelta 0, offsetDelta 0,
    // key length -1 (zigzag 1), value length 1 (zigzag 2), 'x', no headers.
    let record = [14u8, 0, 0, 0, 1, 2, b'x', 0];
    let mut b = Vec::with_capacity(HEADER_SIZE + record.len());
    b.extend_from_slice(&0i64.to_be_bytes()); // base offset
    b.extend_from_slice(&((HEADER_SIZE - LOG_OVERHEAD + record.len()) as i32).to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
    b.push(2); // magic
    b.extend_from_slice(&0u32.to_be_bytes()); // crc, below
    b.extend_from_slice(&0i16.to_be_bytes()); // attributes
    b.extend_from_slice(&0i32.to_be_bytes()); // last offset delta
    b.extend_from_slice(&timestamp.to_be_bytes());
    b.extend_from_slice(&timestamp.to_be_bytes());
    b.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    b.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
    b.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    b.extend_from_slice(&1i32.to_be_bytes()); // records count
    b.extend_from_slice(&record);
    fix_crcs(&mut b);
    b
}

/// Rewrites the base offset of every complete batch in `buf` so they run on from
/// `first` (each batch starting where the previous one ended); returns the offset after
/// the last one. The base offset is outside the CRC, so the CRCs stay as they were.
pub fn fix_offsets(buf: &mut [u8], first: i64) -> i64 {
    let mut pos = 0usize;
    let mut next = first;
    while buf.len() - pos >= HEADER_SIZE {
        let len = i32::from_be_bytes(buf[pos + 8..pos + 12].try_into().unwrap());
        let Ok(len) = usize::try_from(len) else { break };
        let Some(end) = (pos + LOG_OVERHEAD).checked_add(len) else {
            break;
        };
        if end > buf.len() || end < pos + HEADER_SIZE {
            break;
        }
        buf[pos..pos + 8].copy_from_slice(&next.to_be_bytes());
        let delta = i32::from_be_bytes(buf[pos + 23..pos + 27].try_into().unwrap());
        next = next
            .saturating_add(i64::from(delta.max(0)))
            .saturating_add(1);
        pos = end;
    }
    next
}

/// The offset after the last complete batch header in `buf` (no CRC check), if any.
pub fn next_offset_of(buf: &[u8]) -> Option<i64> {
    let mut next = None;
    for item in strata_proto::batch::batches(buf) {
        match item {
            Ok((h, _)) => next = Some(h.next_offset()),
            Err(_) => break,
        }
    }
    next
}
