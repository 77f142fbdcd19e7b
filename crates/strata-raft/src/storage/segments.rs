//! The Raft log on disk: append-only segment files `<dir>/log/<first index>.log`,
//! each a sequence of frames (see [`super::files`]) holding one JSON-encoded
//! [`Entry`] each.
//!
//! - Append writes the frames and fsyncs before returning.
//! - Open scans every segment; a torn or corrupt tail of the *last* segment is what
//!   a crash mid-append leaves, and is truncated. Damage anywhere else, or entries
//!   that do not follow each other, is not a crash artefact: open fails with
//!   `InvalidData` and leaves the files for a human.
//! - Conflict truncation cuts the segment holding the first removed entry and deletes
//!   the segments after it.
//! - Purge deletes whole segments at or below the purge point (the caller records the
//!   purge point durably first, so entries left in a partly purged segment are
//!   skipped on open).
//!
//! Synchronous: the async log store calls it on blocking threads.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::files::{put_frame, read_frames, sync_dir};
use crate::types::Entry;

/// Start a new segment once the active one is this large.
pub(crate) const SEGMENT_BYTES: u64 = 8 * 1024 * 1024;

#[derive(Debug)]
struct Segment {
    /// Index of the first entry the file holds (or will hold, when empty).
    first: u64,
    path: PathBuf,
    /// Byte offset of each entry: entry `first + i` starts at `offsets[i]`.
    offsets: Vec<u64>,
    /// Byte length of the valid content.
    len: u64,
}

impl Segment {
    /// Index the next appended entry must have.
    fn next_index(&self) -> u64 {
        self.first + self.offsets.len() as u64
    }
}

/// The segment files of one node's Raft log.
#[derive(Debug)]
pub(crate) struct SegmentLog {
    dir: PathBuf,
    segments: Vec<Segment>,
    /// Open handle of the last segment, for appends.
    active: Option<File>,
    segment_bytes: u64,
    /// Set when a failed write may have left bytes we could not remove.
    poisoned: bool,
}

fn segment_name(first: u64) -> String {
    format!("{first:020}.log")
}

fn invalid(path: &Path, why: impl std::fmt::Display) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, format!("{}: {why}", path.display()))
}

impl SegmentLog {
    /// Opens (creating) the log under `dir`, drops entries at or below `purged`,
    /// truncates a torn tail, and returns the remaining entries in order.
    pub(crate) fn open(
        dir: &Path,
        purged: Option<u64>,
        segment_bytes: u64,
    ) -> io::Result<(SegmentLog, Vec<Entry>)> {
        fs::create_dir_all(dir)?;
        let mut firsts = Vec::new();
        for dirent in fs::read_dir(dir)? {
            let name = dirent?.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(stem) = name.strip_suffix(".log") else {
                continue;
            };
            match stem.parse::<u64>() {
                Ok(first) if stem.len() == 20 => firsts.push(first),
                _ => {} // not ours
            }
        }
        firsts.sort_unstable();

        let mut log = SegmentLog {
            dir: dir.to_path_buf(),
            segments: Vec::new(),
            active: None,
            segment_bytes,
            poisoned: false,
        };
        let mut entries: Vec<Entry> = Vec::new();
        let mut removed_files = false;
        let count = firsts.len();
        for (i, first) in firsts.into_iter().enumerate() {
            let path = dir.join(segment_name(first));
            let bytes = fs::read(&path)?;
            let frames = read_frames(&bytes);
            let is_last = i + 1 == count;
            if frames.valid_end < bytes.len() as u64 {
                if !is_last {
                    return Err(invalid(
                        &path,
                        format!(
                            "corrupt entry at byte {} of a sealed segment",
                            frames.valid_end
                        ),
                    ));
                }
                tracing::warn!(
                    path = %path.display(),
                    valid = frames.valid_end,
                    len = bytes.len(),
                    "truncating a torn tail of the raft log"
                );
                let file = OpenOptions::new().write(true).open(&path)?;
                file.set_len(frames.valid_end)?;
                file.sync_all()?;
            }
            let mut offsets = Vec::with_capacity(frames.frames.len());
            for (k, (offset, payload)) in frames.frames.iter().enumerate() {
                let entry: Entry = serde_json::from_slice(payload).map_err(|e| {
                    invalid(&path, format!("undecodable entry at byte {offset}: {e}"))
                })?;
                let expected = first + k as u64;
                if entry.log_id.index != expected {
                    return Err(invalid(
                        &path,
                        format!(
                            "entry at byte {offset} has index {}, expected {expected}",
                            entry.log_id.index
                        ),
                    ));
                }
                offsets.push(*offset);
                if purged.is_none_or(|p| expected > p) {
                    if let Some(prev) = entries.last() {
                        if prev.log_id.index + 1 != expected {
                            return Err(invalid(
                                &path,
                                format!(
                                    "gap in the log: {} is followed by {expected}",
                                    prev.log_id.index
                                ),
                            ));
                        }
                    }
                    entries.push(entry);
                }
            }
            let segment = Segment {
                first,
                path,
                offsets,
                len: frames.valid_end,
            };
            let fully_purged = purged.is_some_and(|p| segment.next_index() <= p + 1);
            if segment.offsets.is_empty() || fully_purged {
                // Left behind by a purge or truncation that crashed before removing it.
                fs::remove_file(&segment.path)?;
                removed_files = true;
            } else {
                log.segments.push(segment);
            }
        }
        if let (Some(p), Some(first)) = (purged, entries.first()) {
            if first.log_id.index != p + 1 {
                return Err(invalid(
                    dir,
                    format!(
                        "log resumes at {} after purging up to {p}",
                        first.log_id.index
                    ),
                ));
            }
        }
        if removed_files {
            sync_dir(dir)?;
        }
        log.open_active()?;
        Ok((log, entries))
    }

    /// Opens the last segment for appending, if there is one.
    fn open_active(&mut self) -> io::Result<()> {
        self.active = match self.segments.last() {
            Some(seg) => Some(OpenOptions::new().read(true).write(true).open(&seg.path)?),
            None => None,
        };
        Ok(())
    }

    /// Appends `entries` (consecutive indexes) and fsyncs them.
    pub(crate) fn append(&mut self, entries: &[Entry]) -> io::Result<()> {
        if self.poisoned {
            return Err(io::Error::other(
                "raft log is unusable after an earlier write failure; restart the node",
            ));
        }
        let Some(first) = entries.first().map(|e| e.log_id.index) else {
            return Ok(());
        };
        let mut frame_bytes = Vec::new();
        let mut lens = Vec::with_capacity(entries.len());
        for (k, entry) in entries.iter().enumerate() {
            if entry.log_id.index != first + k as u64 {
                return Err(io::Error::new(
                    ErrorKind::InvalidInput,
                    "entries are not consecutive",
                ));
            }
            let json = serde_json::to_vec(entry)
                .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e))?;
            let before = frame_bytes.len();
            put_frame(&mut frame_bytes, &json)?;
            lens.push((frame_bytes.len() - before) as u64);
        }
        self.prepare_segment_for(first)?;
        let (Some(seg), Some(file)) = (self.segments.last_mut(), self.active.as_mut()) else {
            return Err(io::Error::other("no active segment"));
        };
        let written = file
            .seek(SeekFrom::Start(seg.len))
            .and_then(|_| file.write_all(&frame_bytes));
        if let Err(e) = written {
            // Remove what may have been written so the next append does not leave a hole.
            if file.set_len(seg.len).is_err() {
                self.poisoned = true;
            }
            return Err(e);
        }
        if let Err(e) = file.sync_data() {
            // After a failed fsync the kernel may have dropped dirty pages: we cannot
            // tell what is on disk any more.
            self.poisoned = true;
            return Err(e);
        }
        let mut offset = seg.len;
        for len in lens {
            seg.offsets.push(offset);
            offset += len;
        }
        seg.len = offset;
        Ok(())
    }

    /// Makes the last segment the right place for an entry with index `first`,
    /// rolling to a new segment when it is full (or the log was emptied).
    fn prepare_segment_for(&mut self, first: u64) -> io::Result<()> {
        if let Some(seg) = self.segments.last() {
            if seg.next_index() != first {
                return Err(io::Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "append at {first}, but the log continues at {}",
                        seg.next_index()
                    ),
                ));
            }
            if seg.len < self.segment_bytes {
                return Ok(());
            }
        }
        let path = self.dir.join(segment_name(first));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        sync_dir(&self.dir)?;
        self.segments.push(Segment {
            first,
            path,
            offsets: Vec::new(),
            len: 0,
        });
        self.active = Some(file);
        Ok(())
    }

    /// Removes every entry with index `>= from` (a conflicting suffix).
    pub(crate) fn truncate(&mut self, from: u64) -> io::Result<()> {
        let mut removed = false;
        while let Some(seg) = self.segments.last_mut() {
            if seg.first >= from {
                self.active = None;
                fs::remove_file(&seg.path)?;
                self.segments.pop();
                removed = true;
                continue;
            }
            if from < seg.next_index() {
                let keep = (from - seg.first) as usize;
                let cut = seg.offsets[keep];
                let file = OpenOptions::new().write(true).open(&seg.path)?;
                file.set_len(cut)?;
                file.sync_all()?;
                seg.offsets.truncate(keep);
                seg.len = cut;
            }
            break;
        }
        if removed {
            sync_dir(&self.dir)?;
        }
        self.open_active()
    }

    /// Deletes the segments whose entries are all `<= upto`. The caller has already
    /// recorded `upto` as purged, so a segment straddling it is simply kept.
    pub(crate) fn purge(&mut self, upto: u64) -> io::Result<()> {
        let mut removed = 0;
        for seg in &self.segments {
            if seg.next_index() > upto + 1 {
                break;
            }
            fs::remove_file(&seg.path)?;
            removed += 1;
        }
        if removed > 0 {
            self.segments.drain(..removed);
            sync_dir(&self.dir)?;
            if self.segments.is_empty() {
                self.active = None;
            }
        }
        Ok(())
    }

    /// Number of segment files.
    #[cfg(test)]
    pub(crate) fn segment_count(&self) -> usize {
        self.segments.len()
    }
}

#[cfg(test)]
mod tests;
