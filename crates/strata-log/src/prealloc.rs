//! Disk space reserved ahead of the active segment's appends.
//!
//! A buffered append to a file whose blocks are not yet allocated makes ext4 reserve
//! delayed-allocation space and track a delayed extent for every page written; with the
//! blocks already allocated (`fallocate(FALLOC_FL_KEEP_SIZE)`: reserved past the end of
//! the file, which keeps its length) the write only maps them. On this project's
//! machines that took the kernel's share of a 1 MiB append down by about a third
//! (`bench/RESULTS.md` § Scale, "Session 2026-12-07: reserved segment space").
//!
//! Rules: a segment reserves nothing until it holds [`FROM`] bytes (a partition that
//! sees a trickle never pays); past that, an append that would reach beyond the
//! reservation extends it to as far ahead as the segment already holds, at most
//! [`MAX_AHEAD`], and never beyond `segment.bytes` (where the segment rolls). Sealing a
//! segment gives back what it did not use ([`Preallocation::trim`]; also what a process
//! killed before it could seal left reserved), so at most one segment per partition
//! holds unused space, and at most [`MAX_AHEAD`] of it.
//!
//! Only ext4 gets reservations, where both the saving and the trim (a truncation to the
//! current length frees the blocks past it) were measured: on tmpfs a reservation is
//! memory, on copy-on-write file systems it saves nothing, and XFS already reserves
//! ahead of delayed-allocation writes by itself. The file's length is never changed, so
//! readers, recovery and crash safety see the same file whether or not space was
//! reserved; a failed reservation (no space left, say) is ignored and the append goes on
//! as it would have without one.

use std::fs::File;
use std::os::fd::AsRawFd;

/// A segment holding fewer bytes than this reserves nothing.
pub(crate) const FROM: u64 = 1 << 20;
/// The most a segment reserves ahead of its end.
pub(crate) const MAX_AHEAD: u64 = 16 << 20;

/// What a segment knows about the space reserved past its end.
#[derive(Debug, Default)]
pub(crate) struct Preallocation {
    /// Whether its file system gets reservations; `None` until first asked.
    supported: Option<bool>,
    /// A reservation failed (most likely no space left): no more for this segment.
    failed: bool,
    /// The file offset reserved up to (0: nothing reserved by this process).
    end: u64,
}

/// The range `[from, to)` to reserve before an append of the bytes `[start, len)`, when
/// this process reserved up to `reserved` and the segment rolls past `limit`. Nothing
/// before `start` (blocks already written) and at most [`MAX_AHEAD`] past `len`: the
/// range is bounded by the bytes being appended.
fn plan(reserved: u64, start: u64, len: u64, limit: u64) -> Option<(u64, u64)> {
    if len <= reserved || len < FROM {
        return None;
    }
    let to = len.saturating_add(len.min(MAX_AHEAD)).min(limit.max(len));
    let from = reserved.max(start).min(len);
    (to > from).then_some((from, to))
}

impl Preallocation {
    /// Reserves space before an append of the bytes `[start, len)`.
    pub(crate) fn before_append(&mut self, file: &File, start: u64, len: u64, limit: u64) {
        if self.failed {
            return;
        }
        let Some((from, to)) = plan(self.end, start, len, limit) else {
            return;
        };
        if !self.is_supported(file) {
            return;
        }
        match reserve(file, from, to) {
            Ok(()) => self.end = to,
            Err(e) => {
                // Most likely no space left: the append will say so if it needs it.
                tracing::debug!(error = %e, "could not reserve segment space ahead; appending without");
                self.failed = true;
            }
        }
    }

    /// Gives back any space reserved past `len`, the segment's final length (it was
    /// just sealed): on ext4 a truncation to the current length frees the blocks past
    /// it. Also where this process reserved nothing: an earlier one may have, before it
    /// was killed.
    pub(crate) fn trim(&mut self, file: &File, len: u64) -> std::io::Result<()> {
        if self.is_supported(file) {
            file.set_len(len)?;
        }
        self.end = 0;
        Ok(())
    }

    fn is_supported(&mut self, file: &File) -> bool {
        *self.supported.get_or_insert_with(|| supported(file))
    }

    /// Forgets the reservation: the file was truncated, which freed it.
    pub(crate) fn truncated(&mut self) {
        self.end = 0;
    }
}

/// Whether `file` is on ext4 (also the magic number of ext2 and ext3 mounts).
pub(crate) fn supported(file: &File) -> bool {
    const EXT4_SUPER_MAGIC: i64 = 0xEF53;
    // SAFETY: `statfs` is plain data; fstatfs fills it for a valid descriptor.
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: the descriptor is open for the duration of the call and `stat` is valid.
    if unsafe { libc::fstatfs(file.as_raw_fd(), &mut stat) } != 0 {
        return false;
    }
    #[allow(clippy::unnecessary_cast)] // the field's type differs between targets
    let magic = stat.f_type as i64;
    magic == EXT4_SUPER_MAGIC
}

fn reserve(file: &File, from: u64, to: u64) -> std::io::Result<()> {
    let offset = libc::off_t::try_from(from).map_err(std::io::Error::other)?;
    let len = libc::off_t::try_from(to - from).map_err(std::io::Error::other)?;
    loop {
        // SAFETY: plain system call on a descriptor open for writing; no memory passed.
        let r =
            unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, offset, len) };
        if r == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;

    const MIB: u64 = 1 << 20;

    #[test]
    fn small_segments_reserve_nothing() {
        assert_eq!(plan(0, 0, 4096, 1 << 30), None);
        assert_eq!(plan(0, 0, FROM - 1, 1 << 30), None);
    }

    #[test]
    fn reservations_grow_with_the_segment_up_to_the_cap_and_the_roll_point() {
        assert_eq!(plan(0, 0, MIB, 1 << 30), Some((0, 2 * MIB)));
        assert_eq!(plan(2 * MIB, 2 * MIB - 100, 2 * MIB, 1 << 30), None);
        assert_eq!(
            plan(2 * MIB, 2 * MIB, 3 * MIB, 1 << 30),
            Some((2 * MIB, 6 * MIB))
        );
        assert_eq!(
            plan(40 * MIB, 40 * MIB, 41 * MIB, 1 << 30),
            Some((40 * MIB, 57 * MIB))
        );
        // Never past segment.bytes, where the segment rolls ...
        assert_eq!(plan(0, 0, 3 * MIB, 4 * MIB), Some((0, 4 * MIB)));
        // ... beyond the append itself when it goes past (an oversized first batch).
        assert_eq!(plan(0, 0, 5 * MIB, 4 * MIB), Some((0, 5 * MIB)));
        // A segment reopened with 900 MiB (nothing reserved by this process): from its
        // end, not from 0.
        assert_eq!(
            plan(0, 900 * MIB, 901 * MIB, 1 << 30),
            Some((900 * MIB, 917 * MIB))
        );
    }

    #[test]
    fn a_reservation_keeps_the_length_and_trimming_frees_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.log");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .unwrap();
        let chunk = vec![7u8; MIB as usize];
        let mut p = Preallocation::default();
        let mut len = 0;
        for _ in 0..3 {
            p.before_append(&file, len, len + MIB, 1 << 30);
            file.write_all(&chunk).unwrap();
            len += MIB;
            assert_eq!(file.metadata().unwrap().len(), len);
        }
        if !supported(&file) {
            assert_eq!(p.end, 0, "nothing reserved where it does not pay");
            return;
        }
        assert_eq!(p.end, 6 * MIB);
        let allocated = file.metadata().unwrap().blocks() * 512;
        assert!(allocated >= 6 * MIB, "{allocated} bytes allocated");
        p.trim(&file, len).unwrap();
        let allocated = file.metadata().unwrap().blocks() * 512;
        assert!(allocated < 4 * MIB, "{allocated} bytes still allocated");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            [chunk.as_slice(); 3].concat()
        );
    }
}
