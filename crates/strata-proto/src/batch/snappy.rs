//! Snappy as Kafka clients write it, read block by block with a bounded budget.
//!
//! - **xerial framing** (the Java client through snappy-java, kafka-python, aiokafka):
//!   a 16-byte header (`\x82SNAPPY\0`, version i32, compatible version i32), then blocks
//!   of `[i32 compressed length][raw snappy block]`. A header may appear again where a
//!   block length would (snappy-java reads concatenated streams).
//! - **raw snappy** (librdkafka): the whole record area is one raw snappy block. Like
//!   snappy-java, anything that does not start with the xerial magic is read as raw.
//!
//! A raw block starts with its uncompressed length (a varint). It is checked against
//! the output budget and against the most snappy can expand its input (a 3-byte copy
//! element yields at most 64 bytes) before the block buffer grows to it.

use std::io::{self, Read};

/// The xerial stream header's magic.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\0";
/// Magic, version and compatible version.
const XERIAL_HEADER: usize = 16;
/// Snappy's best case: a 3-byte copy element producing 64 bytes (64/3 < 22).
const MAX_EXPANSION: usize = 22;

pub(crate) struct Snappy<'a> {
    /// Compressed input not yet decoded.
    input: &'a [u8],
    /// Whether the input is xerial-framed (else one raw block).
    framed: bool,
    /// The current block, decompressed: `block[at..len]` is unread.
    block: Vec<u8>,
    at: usize,
    len: usize,
    /// Output bytes still allowed.
    budget: usize,
    decoder: snap::raw::Decoder,
}

fn invalid(reason: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason)
}

impl<'a> Snappy<'a> {
    pub(crate) fn new(data: &'a [u8], limit: usize) -> Self {
        let framed = data.len() >= XERIAL_HEADER && data.starts_with(XERIAL_MAGIC);
        Snappy {
            input: if framed { &data[XERIAL_HEADER..] } else { data },
            framed,
            block: Vec::new(),
            at: 0,
            len: 0,
            budget: limit,
            decoder: snap::raw::Decoder::new(),
        }
    }

    /// The next compressed block, or `None` at the end of the input.
    fn next_compressed(&mut self) -> io::Result<Option<&'a [u8]>> {
        if self.input.is_empty() {
            return Ok(None);
        }
        if !self.framed {
            return Ok(Some(std::mem::take(&mut self.input)));
        }
        loop {
            let Some((len, rest)) = self.input.split_first_chunk::<4>() else {
                return Err(invalid(format!(
                    "xerial snappy: {} bytes where a block length belongs",
                    self.input.len()
                )));
            };
            if len == &XERIAL_MAGIC[..4] && self.input.starts_with(XERIAL_MAGIC) {
                // A concatenated stream: skip its header.
                self.input = self
                    .input
                    .get(XERIAL_HEADER..)
                    .ok_or_else(|| invalid("xerial snappy: truncated stream header".to_string()))?;
                if self.input.is_empty() {
                    return Ok(None);
                }
                continue;
            }
            let len = u32::from_be_bytes(*len) as usize;
            if len > rest.len() {
                return Err(invalid(format!(
                    "xerial snappy: block of {len} bytes but {} remain",
                    rest.len()
                )));
            }
            let (block, rest) = rest.split_at(len);
            self.input = rest;
            return Ok(Some(block));
        }
    }

    /// Decompresses the next block into `self.block`; `false` at the end of the input.
    fn next_block(&mut self) -> io::Result<bool> {
        let Some(compressed) = self.next_compressed()? else {
            return Ok(false);
        };
        let size = snap::raw::decompress_len(compressed)
            .map_err(|e| invalid(format!("snappy block header: {e}")))?;
        if size > self.budget {
            return Err(invalid(format!(
                "snappy block declares {size} bytes, more than the {} left under the limit",
                self.budget
            )));
        }
        if size > compressed.len().saturating_mul(MAX_EXPANSION) {
            return Err(invalid(format!(
                "snappy block of {} bytes declares {size} bytes, more than snappy can encode",
                compressed.len()
            )));
        }
        if self.block.len() < size {
            self.block.resize(size, 0);
        }
        let n = self
            .decoder
            .decompress(compressed, &mut self.block[..size])
            .map_err(|e| invalid(format!("snappy: {e}")))?;
        self.budget -= size;
        self.at = 0;
        self.len = n;
        Ok(true)
    }
}

impl Read for Snappy<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.len {
            if !self.next_block()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.len - self.at);
        buf[..n].copy_from_slice(&self.block[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
