//! The single-node metadata log: an append-only file of record batches at
//! `<data>/__cluster_metadata/metadata.log`.
//!
//! Each entry is one batch (the records of one controller decision, so a batch is
//! durable all-or-nothing):
//!
//! ```text
//! length: u32 BE | crc32c: u32 BE | payload: `length` bytes of JSON
//! ```
//!
//! The CRC-32C covers the four length bytes and the payload. The payload is
//! `{"base_offset": n, "records": [...]}`; every record has its own offset, so a
//! batch of k records starting at n covers offsets n..n+k.
//!
//! On open the file is replayed. A torn or corrupt entry (short header, absurd
//! length, short payload, CRC mismatch) ends the log: the file is truncated there,
//! because that is what a crash mid-write leaves behind. An entry whose CRC is
//! right but whose content cannot be used (undecodable JSON, wrong offset, a batch
//! the image rejects) is not a torn write: open fails with `InvalidData` and the
//! file is left alone for a human to look at.
//!
//! This is a synchronous API; the broker calls it off the async runtime.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::image::MetadataImage;
use crate::records::MetadataRecord;

/// Directory under the data directory that holds the metadata log.
pub const METADATA_DIR: &str = "__cluster_metadata";
/// File name of the metadata log.
pub const LOG_FILE: &str = "metadata.log";

const HEADER_LEN: usize = 8;
/// Bigger entries are refused on append and treated as corruption on replay.
pub const MAX_ENTRY_BYTES: u32 = 64 * 1024 * 1024;

#[derive(Serialize)]
struct EntryRef<'a> {
    base_offset: u64,
    records: &'a [MetadataRecord],
}

#[derive(Deserialize)]
struct Entry {
    base_offset: u64,
    records: Vec<MetadataRecord>,
}

/// The durable, append-only metadata log of a single node.
#[derive(Debug)]
pub struct MetadataStore {
    file: File,
    path: PathBuf,
    /// Byte length of the valid log; the file cursor stays here.
    end: u64,
    next_offset: u64,
    /// Set when a failed append may have left bytes we could not remove; every
    /// later append fails so nothing is written after a hole.
    poisoned: bool,
}

/// What replay found.
struct Replay {
    image: MetadataImage,
    valid_end: u64,
    next_offset: u64,
}

impl MetadataStore {
    /// Opens (creating if needed) the log under `data_dir`, replays it into an
    /// image and truncates a torn tail. Returns the store, the image and the
    /// offset of the last record (`None` when the log is empty).
    pub fn open(data_dir: &Path) -> io::Result<(MetadataStore, MetadataImage, Option<u64>)> {
        let dir = data_dir.join(METADATA_DIR);
        fs::create_dir_all(&dir)?;
        let path = dir.join(LOG_FILE);
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        if !existed {
            // Make the new file's directory entries durable too.
            File::open(&dir)?.sync_all()?;
            File::open(data_dir)?.sync_all()?;
        }
        let replay = replay(&mut file, &path)?;
        let file_len = file.metadata()?.len();
        if replay.valid_end < file_len {
            file.set_len(replay.valid_end)?;
            file.sync_all()?;
        }
        file.seek(SeekFrom::Start(replay.valid_end))?;
        let last = replay.next_offset.checked_sub(1);
        let store = MetadataStore {
            file,
            path,
            end: replay.valid_end,
            next_offset: replay.next_offset,
            poisoned: false,
        };
        Ok((store, replay.image, last))
    }

    /// Appends one batch and fsyncs it. Returns the offset of the batch's last
    /// record. The batch must not be empty. After an error the log is as before
    /// the call, or (if that cannot be guaranteed) the store refuses further
    /// appends and must be reopened.
    pub fn append(&mut self, records: &[MetadataRecord]) -> io::Result<u64> {
        if self.poisoned {
            return Err(io::Error::other(
                "metadata log is unusable after an earlier write failure; reopen it",
            ));
        }
        if records.is_empty() {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                "empty metadata batch",
            ));
        }
        let frame = encode_frame(self.next_offset, records)?;
        if let Err(e) = self.file.write_all(&frame) {
            self.roll_back();
            return Err(e);
        }
        if let Err(e) = self.file.sync_data() {
            // After a failed fsync the kernel may have dropped dirty pages; we can
            // no longer tell what is on disk.
            self.poisoned = true;
            return Err(e);
        }
        self.end += frame.len() as u64;
        // `records` is non-empty, checked above.
        self.next_offset += records.len() as u64;
        Ok(self.next_offset - 1)
    }

    /// Removes a partially written entry after a failed write.
    fn roll_back(&mut self) {
        let restored = self
            .file
            .set_len(self.end)
            .and_then(|()| self.file.seek(SeekFrom::Start(self.end)).map(|_| ()));
        if restored.is_err() {
            self.poisoned = true;
        }
    }

    /// The offset the next appended record will get.
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// The path of the log file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn encode_frame(base_offset: u64, records: &[MetadataRecord]) -> io::Result<Vec<u8>> {
    let payload = serde_json::to_vec(&EntryRef {
        base_offset,
        records,
    })
    .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e))?;
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&l| l <= MAX_ENTRY_BYTES)
        .ok_or_else(|| {
            io::Error::new(
                ErrorKind::InvalidInput,
                format!("metadata batch of {} bytes is too large", payload.len()),
            )
        })?;
    let len_bytes = len.to_be_bytes();
    let crc = crc32c::crc32c_append(crc32c::crc32c(&len_bytes), &payload);
    let mut frame = Vec::with_capacity(HEADER_LEN + payload.len());
    frame.extend_from_slice(&len_bytes);
    frame.extend_from_slice(&crc.to_be_bytes());
    frame.extend_from_slice(&payload);
    Ok(frame)
}

/// Reads as many bytes as are available, up to `buf.len()`; returns how many.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn replay(file: &mut File, path: &Path) -> io::Result<Replay> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::new(&mut *file);
    let mut image = MetadataImage::new();
    let mut valid_end = 0u64;
    let mut next_offset = 0u64;
    let bad = |at: u64, why: String| {
        io::Error::new(
            ErrorKind::InvalidData,
            format!("{}: entry at byte {at}: {why}", path.display()),
        )
    };
    loop {
        let mut header = [0u8; HEADER_LEN];
        if read_full(&mut reader, &mut header)? < HEADER_LEN {
            break; // clean end, or a torn header
        }
        let len_bytes = [header[0], header[1], header[2], header[3]];
        let len = u32::from_be_bytes(len_bytes);
        let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        if len == 0 || len > MAX_ENTRY_BYTES {
            break; // garbage length: corrupt tail
        }
        let mut payload = vec![0u8; len as usize];
        if read_full(&mut reader, &mut payload)? < payload.len() {
            break; // torn payload
        }
        if crc32c::crc32c_append(crc32c::crc32c(&len_bytes), &payload) != crc {
            break; // corrupt entry
        }
        let entry: Entry = serde_json::from_slice(&payload)
            .map_err(|e| bad(valid_end, format!("undecodable batch: {e}")))?;
        if entry.base_offset != next_offset || entry.records.is_empty() {
            return Err(bad(
                valid_end,
                format!(
                    "batch of {} records at offset {}, expected offset {next_offset}",
                    entry.records.len(),
                    entry.base_offset
                ),
            ));
        }
        image = image.applied(&entry.records).map_err(|e| {
            bad(
                valid_end,
                format!("offset {}: {e}", next_offset + e.index as u64),
            )
        })?;
        next_offset += entry.records.len() as u64;
        valid_end += (HEADER_LEN + payload.len()) as u64;
    }
    Ok(Replay {
        image,
        valid_end,
        next_offset,
    })
}

#[cfg(test)]
mod tests;
