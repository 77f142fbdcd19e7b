//! CRC-32C of every record batch a Fetch response carries, checked as its bytes pass
//! through the writer (`response.rs`), before the piece holding the batch's end is sent.
//!
//! Batches below the segment's verified mark (checked in this process already: on
//! append, by recovery, the scrubber or an earlier fetch) are only framed; a range
//! checked from the mark advances it, so each byte is checked about once per process.
//!
//! A batch that fails is never completed on the wire: the writer stops and the
//! connection is closed, so the client discards the partial frame and fetches again,
//! and the partition moves the bad batch aside meanwhile (`replica/damage.rs`). Batches
//! span pieces, so the framing is tracked across them: the 61-byte header is gathered,
//! then the rest of the batch is run through the CRC as it arrives.

use strata_proto::batch::{BatchHeader, CRC_START, HEADER_SIZE};

/// A batch of a fetched range that failed its check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadBatch {
    /// File position of the batch.
    pub position: u64,
    /// Its base offset, if its header parsed.
    pub base_offset: Option<i64>,
    /// What was wrong.
    pub reason: &'static str,
}

/// Follows the batches of one record range (which starts at a batch boundary and
/// holds whole batches).
#[derive(Debug)]
pub struct BatchVerifier {
    /// File position of the next byte fed.
    at: u64,
    /// Bytes of the range not fed yet.
    left: u64,
    header: [u8; HEADER_SIZE],
    have: usize,
    /// Bytes of the current batch after its header still to come (0: in a header).
    body_left: u64,
    crc: u32,
    /// File position of the current batch.
    batch_start: u64,
    /// The current batch's header, once whole.
    batch: Option<BatchHeader>,
    verified_below: u64,
    /// The current batch ends below `verified_below`.
    skip_crc: bool,
}

impl BatchVerifier {
    /// A verifier for the range of `len` bytes at file `position`; batches that end at
    /// or below `verified_below` (already checked in this process) are only framed.
    pub fn new(position: u64, len: usize, verified_below: u64) -> Self {
        BatchVerifier {
            verified_below,
            skip_crc: false,
            at: position,
            left: len as u64,
            header: [0; HEADER_SIZE],
            have: 0,
            body_left: 0,
            crc: 0,
            batch_start: position,
            batch: None,
        }
    }

    /// Feeds the range's next bytes; fails at the first batch that is not whole and
    /// correct.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), BadBatch> {
        while !bytes.is_empty() {
            let n = if self.batch.is_none() {
                if self.have == 0 {
                    self.batch_start = self.at;
                }
                let n = (HEADER_SIZE - self.have).min(bytes.len());
                self.header[self.have..self.have + n].copy_from_slice(&bytes[..n]);
                self.have += n;
                n
            } else {
                let n = self.body_left.min(bytes.len() as u64) as usize;
                if !self.skip_crc {
                    self.crc = strata_proto::crc::crc32c_append(self.crc, &bytes[..n]);
                }
                self.body_left -= n as u64;
                n
            };
            bytes = &bytes[n..];
            self.at += n as u64;
            self.left = self.left.saturating_sub(n as u64);
            if self.batch.is_none() && self.have == HEADER_SIZE {
                self.start_batch()?;
            }
            if self.batch.is_some() && self.body_left == 0 {
                self.end_batch()?;
            }
        }
        Ok(())
    }

    /// At the end of the range: it must have ended exactly after a batch.
    pub fn finish(&self) -> Result<(), BadBatch> {
        if self.have == 0 && self.batch.is_none() {
            return Ok(());
        }
        Err(BadBatch {
            position: self.batch_start,
            base_offset: self.batch.map(|h| h.base_offset),
            reason: "the range ends inside a batch",
        })
    }

    fn start_batch(&mut self) -> Result<(), BadBatch> {
        let position = self.batch_start;
        let header = BatchHeader::parse(&self.header).map_err(|_| BadBatch {
            position,
            base_offset: None,
            reason: "batch header does not parse",
        })?;
        let body = header.total_size() as u64 - HEADER_SIZE as u64;
        if body > self.left {
            return Err(BadBatch {
                position,
                base_offset: Some(header.base_offset),
                reason: "batch runs past the end of the range",
            });
        }
        self.skip_crc = position + header.total_size() as u64 <= self.verified_below;
        if !self.skip_crc {
            self.crc = strata_proto::crc::crc32c(&self.header[CRC_START..]);
        }
        self.body_left = body;
        self.batch = Some(header);
        Ok(())
    }

    fn end_batch(&mut self) -> Result<(), BadBatch> {
        let Some(header) = self.batch.take() else {
            return Ok(());
        };
        self.have = 0;
        if !self.skip_crc && self.crc != header.crc {
            return Err(BadBatch {
                position: self.batch_start,
                base_offset: Some(header.base_offset),
                reason: "CRC-32C mismatch",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
/// A record range of `file` for the Fetch writer's tests, its segment's verified mark
/// at `verified_below`.
pub(crate) fn test_slice(
    file: &std::sync::Arc<std::fs::File>,
    position: u64,
    len: usize,
    verified_below: u64,
) -> strata_log::FileSlice {
    strata_log::FileSlice {
        file: std::sync::Arc::clone(file),
        position,
        len,
        first_offset: 0,
        last_offset: 0,
        verified: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(verified_below)),
    }
}

#[cfg(test)]
/// A minimal valid batch of `total` bytes at `base` (the body is filler: only the
/// framing and the CRC are looked at here).
pub(crate) fn raw_batch(base: i64, total: usize) -> Vec<u8> {
    let mut b = vec![0u8; total];
    b[..8].copy_from_slice(&base.to_be_bytes());
    b[8..12].copy_from_slice(&((total - 12) as i32).to_be_bytes());
    b[16] = 2;
    for (i, x) in b[HEADER_SIZE..].iter_mut().enumerate() {
        *x = (i % 251) as u8;
    }
    let crc = strata_proto::batch::compute_crc(&b);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(data: &[u8], piece: usize) -> Result<(), BadBatch> {
        run_marked(data, piece, 0)
    }

    fn run_marked(data: &[u8], piece: usize, verified_below: u64) -> Result<(), BadBatch> {
        let mut v = BatchVerifier::new(1000, data.len(), verified_below);
        for chunk in data.chunks(piece) {
            v.feed(chunk)?;
        }
        v.finish()
    }

    #[test]
    fn good_batches_pass_in_any_piece_size_and_a_flip_fails_at_its_batch() {
        let mut data = Vec::new();
        for (i, size) in [61usize, 200, 5000, 61, 77].iter().enumerate() {
            data.extend(raw_batch(i as i64 * 10, *size));
        }
        for piece in [1, 7, 60, 61, 62, 1000, 1 << 20] {
            assert_eq!(run(&data, piece), Ok(()), "piece {piece}");
        }
        // A flip in the third batch's body.
        let mut bad = data.clone();
        bad[61 + 200 + 3000] ^= 4;
        for piece in [1, 61, 4096] {
            let err = run(&bad, piece).unwrap_err();
            assert_eq!(err.position, 1000 + 261);
            assert_eq!(err.base_offset, Some(20));
            assert_eq!(err.reason, "CRC-32C mismatch");
        }
        // A range cut inside a batch, and a length running past the range.
        assert!(run(&data[..data.len() - 5], 100).is_err());
        let mut long = data.clone();
        long[61 + 8..61 + 12].copy_from_slice(&100_000i32.to_be_bytes());
        assert_eq!(
            run(&long, 100).unwrap_err().reason,
            "batch runs past the end of the range"
        );
        assert!(run(&[0u8; 70], 10).is_err());
        // Batches already checked (below the mark) are only framed.
        assert_eq!(run_marked(&bad, 100, 1000 + 61 + 200 + 5000), Ok(()));
        assert!(run_marked(&bad, 100, 1000 + 61 + 200 + 4999).is_err());
    }
}
