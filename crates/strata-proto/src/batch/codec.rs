//! All record decompression in Strata: streaming decoders with bounded memory.
//!
//! Every codec is read as a stream ([`reader`]); nothing is sized from what the
//! compressed data claims except after a check against the output limit:
//!
//! - **gzip**: `flate2`'s multi-member decoder (Java's `GZIPInputStream` reads
//!   concatenated members too); a 32 KiB inflate window. Bytes after the last member
//!   that are not another member are an error, as is a bad CRC or length trailer.
//! - **snappy**: xerial framing (Kafka's Java client, kafka-python) or one raw block
//!   (librdkafka); see [`super::snappy`].
//! - **lz4**: the LZ4 frame format through liblz4's frame decoder (the `lz4` crate,
//!   which `kafka-protocol` already links), whose buffers are bounded by the frame's
//!   block size (at most 4 MiB, as the format defines). Concatenated frames are read in
//!   turn; a frame cut short anywhere, including at a block boundary, is an error.
//!   (`lz4_flex`'s frame decoder reports a stream cut at a block boundary as a clean
//!   end, so it cannot tell a truncated batch from a whole one.)
//! - **zstd**: `zstd`'s streaming decoder with a bounded window, see
//!   [`zstd_window_log_max`]; a first frame declaring more content than the limit is
//!   refused before any decoding.

use std::borrow::Cow;
use std::io::{self, Read};

use super::snappy::Snappy;
use super::window::{codec_name, over_limit};
use super::{BatchError, Compression};

/// Smallest zstd window we accept frames up to (2^24 = 16 MiB), whatever the limit.
///
/// Real producers stay far below it: zstd's levels 1-19 use windows of at most 2^23
/// (8 MiB) for input of unknown size (librdkafka and the Java client use the default
/// level 3: 2^21 = 2 MiB); one-shot encoders (kafka-python, aiokafka, franz-go, sarama,
/// librdkafka) write single-segment frames whose window is the content size, which is
/// within the limit. The only writers above it are zstd's "ultra" levels 20-22
/// (Java `compression.zstd.level` >= 20, windows 2^25-2^27), refused unless the limit
/// itself is that large. zstd's own default cap is 2^27.
pub const ZSTD_MIN_WINDOW_LOG: u32 = 24;
/// zstd's largest window log on 64-bit targets.
const ZSTD_MAX_WINDOW_LOG: u32 = 31;

/// The window log cap for a given output limit: a frame never needs a window larger
/// than the output it may produce, so the cap is the limit rounded up to a power of
/// two, but at least [`ZSTD_MIN_WINDOW_LOG`].
pub fn zstd_window_log_max(limit: usize) -> u32 {
    let needed = usize::BITS - limit.saturating_sub(1).leading_zeros();
    needed.clamp(ZSTD_MIN_WINDOW_LOG, ZSTD_MAX_WINDOW_LOG)
}

fn corrupt(codec: Compression, e: impl std::fmt::Display) -> BatchError {
    BatchError::CorruptMessage(format!("{} decompression failed: {e}", codec_name(codec)))
}

/// A streaming decompressor over `data` producing at most about `limit` bytes before
/// it fails (the caller counts the output; snappy also checks each block up front).
pub(crate) fn reader<'a>(
    codec: Compression,
    data: &'a [u8],
    limit: usize,
) -> Result<Box<dyn Read + 'a>, BatchError> {
    Ok(match codec {
        Compression::None => Box::new(data),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(data)),
        Compression::Snappy => Box::new(Snappy::new(data, limit)),
        Compression::Lz4 => Box::new(Lz4Frames::new(data)),
        Compression::Zstd => {
            if let Ok(Some(size)) = zstd::zstd_safe::get_frame_content_size(data) {
                if size > limit as u64 {
                    return Err(BatchError::CorruptMessage(format!(
                        "zstd frame declares {size} bytes of content, more than {limit} \
                         (max.message.bytes)"
                    )));
                }
            }
            let mut decoder =
                zstd::stream::read::Decoder::with_buffer(data).map_err(|e| corrupt(codec, e))?;
            decoder
                .window_log_max(zstd_window_log_max(limit))
                .map_err(|e| corrupt(codec, e))?;
            Box::new(decoder)
        }
    })
}

/// Decompresses `data` whole, failing once the output passes `limit` bytes. Memory
/// grows with the output actually produced, never with what the data claims.
pub fn decompress(codec: Compression, data: &[u8], limit: usize) -> Result<Vec<u8>, BatchError> {
    let mut out = Vec::new();
    reader(codec, data, limit)?
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(codec, e))?;
    if out.len() > limit {
        return Err(over_limit(limit));
    }
    Ok(out)
}

/// The record bytes of a batch body: borrowed when uncompressed.
pub(crate) fn records(
    codec: Compression,
    body: &[u8],
    limit: usize,
) -> Result<Cow<'_, [u8]>, BatchError> {
    match codec {
        Compression::None => Ok(Cow::Borrowed(body)),
        c => decompress(c, body, limit).map(Cow::Owned),
    }
}

/// LZ4 frames read one after another until the input ends; a frame cut short is an
/// error (liblz4 tells: the decoder's `finish` fails unless the frame ended).
struct Lz4Frames<'a> {
    /// The decoder of the current frame, `None` between frames.
    frame: Option<lz4::Decoder<&'a [u8]>>,
    /// Input not yet handed to a decoder.
    rest: &'a [u8],
}

impl<'a> Lz4Frames<'a> {
    fn new(data: &'a [u8]) -> Self {
        Lz4Frames {
            frame: None,
            rest: data,
        }
    }
}

impl Read for Lz4Frames<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let frame = match &mut self.frame {
                Some(frame) => frame,
                None if self.rest.is_empty() => return Ok(0),
                None => self.frame.insert(lz4::Decoder::new(self.rest)?),
            };
            let n = frame.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            let Some(frame) = self.frame.take() else {
                return Ok(0);
            };
            let (rest, ended) = frame.finish();
            ended.map_err(|_| {
                io::Error::new(io::ErrorKind::UnexpectedEof, "lz4 frame is truncated")
            })?;
            self.rest = rest;
        }
    }
}
