//! Walking batch headers of a segment file with few, bounded reads.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use strata_proto::batch::{BatchError, BatchHeader, CRC_START, HEADER_SIZE};

/// Bytes read per refill: big enough to cover an index interval of small batches with
/// one `pread`, small enough to be a short-lived stack-sized allocation.
const CHUNK: usize = 16 * 1024;

/// One step of a scan.
#[derive(Debug)]
pub(crate) enum Step {
    /// A batch whose header parses and whose claimed length fits before the end.
    Batch { position: u64, header: BatchHeader },
    /// Bytes at `position` are not a complete, well-formed batch.
    Damaged { position: u64, reason: BatchError },
    /// The scan reached the end bound exactly.
    End,
}

/// Reads batch headers sequentially from `start` up to `end` (exclusive), skipping
/// record bodies. Record bodies are never read unless CRC checking is requested.
pub(crate) struct HeaderScanner<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
    buf: Vec<u8>,
    buf_start: u64,
    /// The last batch was larger than a chunk: the next header is read on its own,
    /// since a chunk would hold nothing else of use (a Fetch over 1 MiB batches read
    /// 16 KiB per 61-byte header).
    large_batches: bool,
}

impl<'a> HeaderScanner<'a> {
    /// Scanner over `file[start..end]`; `start` must be a batch boundary.
    pub fn new(file: &'a File, start: u64, end: u64) -> Self {
        HeaderScanner {
            file,
            pos: start,
            end,
            buf: Vec::new(),
            buf_start: start,
            large_batches: false,
        }
    }

    /// Parses the next header and advances past its batch.
    pub fn next_step(&mut self) -> io::Result<Step> {
        if self.pos >= self.end {
            return Ok(Step::End);
        }
        let position = self.pos;
        let available = (self.end - position).min(HEADER_SIZE as u64) as usize;
        let bytes = self.bytes_at(position, available)?;
        let header = match BatchHeader::parse(bytes) {
            Ok(header) => header,
            Err(reason) => return Ok(Step::Damaged { position, reason }),
        };
        let size = header.total_size() as u64;
        if position + size > self.end {
            let reason = BatchError::CorruptMessage(format!(
                "batch of {size} bytes at {position} runs past the end {}",
                self.end
            ));
            return Ok(Step::Damaged { position, reason });
        }
        self.pos = position + size;
        self.large_batches = size >= CHUNK as u64;
        Ok(Step::Batch { position, header })
    }

    /// The first bytes (at most `max`) after the header of the batch the last step
    /// returned at `position` with `header`: enough to read a transaction marker.
    pub fn body_prefix(
        &mut self,
        position: u64,
        header: &BatchHeader,
        max: usize,
    ) -> io::Result<&[u8]> {
        let len = (header.total_size() - HEADER_SIZE).min(max);
        self.bytes_at(position + HEADER_SIZE as u64, len)
    }

    /// `len` bytes at `position`, refilling the chunk buffer when needed.
    fn bytes_at(&mut self, position: u64, len: usize) -> io::Result<&[u8]> {
        let in_buf = position >= self.buf_start
            && position + len as u64 <= self.buf_start + self.buf.len() as u64;
        if !in_buf {
            let want = if self.large_batches {
                len
            } else {
                (self.end - position).min(CHUNK as u64) as usize
            };
            self.buf.resize(want.max(len), 0);
            crate::no_wait::read_exact_at(self.file, &mut self.buf, position)?;
            self.buf_start = position;
        }
        let from = (position - self.buf_start) as usize;
        Ok(&self.buf[from..from + len])
    }
}

/// Whether the stored CRC of the batch at `position` matches, reading its body in
/// chunks so that a large batch never needs a large buffer.
pub(crate) fn batch_crc_ok(file: &File, position: u64, header: &BatchHeader) -> io::Result<bool> {
    let mut remaining = header.total_size() as u64 - CRC_START as u64;
    let mut at = position + CRC_START as u64;
    let mut buf = vec![0u8; (remaining as usize).min(64 * 1024)];
    let mut crc = 0u32;
    while remaining > 0 {
        let n = (remaining as usize).min(buf.len());
        file.read_exact_at(&mut buf[..n], at)?;
        crc = strata_proto::crc::crc32c_append(crc, &buf[..n]);
        at += n as u64;
        remaining -= n as u64;
    }
    Ok(crc == header.crc)
}
