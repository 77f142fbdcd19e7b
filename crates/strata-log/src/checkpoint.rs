//! Small offset checkpoint files of a partition directory, written atomically (temp file
//! + rename) when they must be durable:
//!
//! - `recovery-point-offset-checkpoint`: the offset below which the log is known
//!   durable, then the high watermark. Rewritten in place about once a second while the
//!   log takes writes, so with a CRC-32C line and format version `1` (a temp file and
//!   rename per write would allocate and free an inode each time: with thousands of
//!   partitions that churn slows every file creation on ext4). Not fsynced: losing or
//!   tearing it (a torn file fails its CRC) only makes the
//!   next unclean open scan more, never less, because a missing or unreadable checkpoint
//!   means "scan everything"; and a lost or stale high watermark only ever comes back
//!   lower (at worst the log start), which hides committed records from consumers until
//!   the leader's replication state raises it again, but never exposes uncommitted ones
//!   (open caps it at the recovered log end). Files written before the high watermark
//!   was added hold only the recovery point; they still read as one.
//! - `cleaner-offset-checkpoint`: the log cleaner's progress (see [`CleanerCheckpoint`]).
//! - `log-start-offset`: the log start offset moved by DeleteRecords; fsynced, because
//!   losing it would bring deleted records back.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;
#[cfg(test)]
use std::path::PathBuf;

/// File name of the recovery point inside the partition directory.
pub(crate) const CHECKPOINT_FILE: &str = "recovery-point-offset-checkpoint";
/// File name of the cleaner checkpoint.
pub(crate) const CLEANER_FILE: &str = "cleaner-offset-checkpoint";
/// File name of the log start offset checkpoint.
pub(crate) const LOG_START_FILE: &str = "log-start-offset";
const FORMAT_VERSION: &str = "0";
/// Files rewritten in place end with a `crc <hex>` line over every byte before it.
const CRC_FORMAT_VERSION: &str = "1";

/// Reads `count` non-negative offsets from `file`; `None` when absent or unreadable.
fn read_values(dir: &Path, file: &str, count: usize) -> Option<Vec<i64>> {
    parse_values(&fs::read_to_string(dir.join(file)).ok()?, count)
}

/// The first `count` offsets of a checkpoint file's text; `None` when unreadable.
fn parse_values(text: &str, count: usize) -> Option<Vec<i64>> {
    let mut lines = text.lines();
    match lines.next()? {
        FORMAT_VERSION => {}
        CRC_FORMAT_VERSION => {
            let (body, crc_line) = text.strip_suffix('\n')?.rsplit_once('\n')?;
            let crc = u32::from_str_radix(crc_line.strip_prefix("crc ")?, 16).ok()?;
            if crc != strata_proto::crc::crc32c(&text.as_bytes()[..body.len() + 1]) {
                return None;
            }
        }
        _ => return None,
    }
    let mut values = Vec::with_capacity(count);
    for _ in 0..count {
        let value: i64 = lines.next()?.trim().parse().ok()?;
        if value < 0 {
            return None;
        }
        values.push(value);
    }
    Some(values)
}

/// Atomically replaces `file` with `values`; with `durable`, the data and the rename
/// are fsynced before returning.
fn write_values(dir: &Path, file: &str, values: &[i64], durable: bool) -> io::Result<()> {
    let tmp = dir.join(format!("{file}.tmp"));
    let mut text = format!("{FORMAT_VERSION}\n");
    for v in values {
        text.push_str(&format!("{v}\n"));
    }
    let mut f = File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    if durable {
        f.sync_all()?;
    }
    drop(f);
    fs::rename(&tmp, dir.join(file))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Rewrites `file` in place with `values` and a CRC line (no temp file, not synced): a
/// write torn by a crash reads as unreadable, never as other values.
fn overwrite_values(dir: &Path, file: &str, values: &[i64]) -> io::Result<()> {
    let mut text = format!("{CRC_FORMAT_VERSION}\n");
    for v in values {
        text.push_str(&format!("{v}\n"));
    }
    let crc = strata_proto::crc::crc32c(text.as_bytes());
    text.push_str(&format!("crc {crc:08x}\n"));
    overwrite_in_place(&dir.join(file), text.as_bytes())
}

/// Replaces the contents of `path` with `bytes` without a temp file (creating it if
/// missing), not synced: the caller's format must tell a torn write (a CRC). The file
/// is cut to the new length only when it was longer: offsets grow, so the text rarely
/// shrinks, and a truncation costs an inode update that `fstat` does not (with 10,000
/// partitions checkpointing it was 3 % of the broker's CPU during a spread produce).
pub(crate) fn overwrite_in_place(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    let old_len = f.metadata()?.len();
    std::os::unix::fs::FileExt::write_all_at(&f, bytes, 0)?;
    if old_len > bytes.len() as u64 {
        f.set_len(bytes.len() as u64)?;
    }
    Ok(())
}

/// fsyncs a directory so that renames and deletions in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
fn path(dir: &Path) -> PathBuf {
    dir.join(CHECKPOINT_FILE)
}

/// Reads the recovery point; `None` when absent or unreadable.
#[cfg(test)]
pub(crate) fn read(dir: &Path) -> Option<i64> {
    read_values(dir, CHECKPOINT_FILE, 1).map(|v| v[0])
}

/// Reads the high watermark stored after the recovery point; `None` when absent,
/// unreadable or written before high watermarks were kept.
#[cfg(test)]
pub(crate) fn read_high_watermark(dir: &Path) -> Option<i64> {
    read_values(dir, CHECKPOINT_FILE, 2).map(|v| v[1])
}

/// [`read`] and [`read_high_watermark`] with one read of the file.
pub(crate) fn read_recovery_and_high_watermark(dir: &Path) -> (Option<i64>, Option<i64>) {
    let Ok(text) = fs::read_to_string(dir.join(CHECKPOINT_FILE)) else {
        return (None, None);
    };
    match parse_values(&text, 2) {
        Some(v) => (Some(v[0]), Some(v[1])),
        None => (parse_values(&text, 1).map(|v| v[0]), None),
    }
}

/// Rewrites the recovery point and the high watermark (in place, CRC-checked).
pub(crate) fn write(dir: &Path, offset: i64, high_watermark: i64) -> io::Result<()> {
    overwrite_values(dir, CHECKPOINT_FILE, &[offset, high_watermark])
}

/// Reads the log start offset checkpoint; `None` when absent or unreadable.
pub(crate) fn read_log_start(dir: &Path) -> Option<i64> {
    read_values(dir, LOG_START_FILE, 1).map(|v| v[0])
}

/// Atomically and durably replaces the log start offset checkpoint.
pub(crate) fn write_log_start(dir: &Path, offset: i64) -> io::Result<()> {
    write_values(dir, LOG_START_FILE, &[offset], true)
}

/// Progress of the log cleaner of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CleanerCheckpoint {
    /// Offsets below this have been through the key map of a completed clean; the
    /// next clean maps keys from here on (Kafka's "first dirty offset").
    pub first_dirty: i64,
    /// Segments below this may have been rewritten by the cleaner, so recovery must
    /// accept offset gaps there. Written before a clean commits (it may run ahead of
    /// `first_dirty`), so a crash can never leave compacted segments that recovery
    /// would mistake for damaged ones.
    pub compacted_below: i64,
}

/// Reads the cleaner checkpoint; all zero when absent or unreadable (nothing cleaned:
/// the whole log is dirty and must be contiguous).
pub(crate) fn read_cleaner(dir: &Path) -> CleanerCheckpoint {
    match read_values(dir, CLEANER_FILE, 2) {
        Some(v) => CleanerCheckpoint {
            first_dirty: v[0],
            compacted_below: v[1].max(v[0]),
        },
        None => CleanerCheckpoint::default(),
    }
}

/// Atomically and durably replaces the cleaner checkpoint.
pub(crate) fn write_cleaner(dir: &Path, cp: CleanerCheckpoint) -> io::Result<()> {
    write_values(
        dir,
        CLEANER_FILE,
        &[cp.first_dirty, cp.compacted_below],
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(read(dir.path()), None);
        assert_eq!(read_high_watermark(dir.path()), None);
        write(dir.path(), 1234, 1000).expect("write");
        assert_eq!(read(dir.path()), Some(1234));
        assert_eq!(read_high_watermark(dir.path()), Some(1000));
        // A checkpoint from before high watermarks were kept.
        fs::write(path(dir.path()), "0\n77\n").expect("write");
        assert_eq!(read(dir.path()), Some(77));
        assert_eq!(read_high_watermark(dir.path()), None);
        assert_eq!(
            read_recovery_and_high_watermark(dir.path()),
            (Some(77), None)
        );
        fs::write(path(dir.path()), "0\nnot-a-number\n").expect("write");
        assert_eq!(read(dir.path()), None);
        // Rewritten in place over a longer file, then torn or damaged: unreadable.
        write(dir.path(), 123_456_789, 123_456_000).expect("write");
        write(dir.path(), 25, 20).expect("write");
        assert_eq!(
            (read(dir.path()), read_high_watermark(dir.path())),
            (Some(25), Some(20))
        );
        assert_eq!(
            read_recovery_and_high_watermark(dir.path()),
            (Some(25), Some(20))
        );
        let good = fs::read(path(dir.path())).expect("read");
        for len in 0..good.len() {
            fs::write(path(dir.path()), &good[..len]).expect("write");
            assert_eq!(read(dir.path()), None, "torn at {len}");
            assert_eq!(read_recovery_and_high_watermark(dir.path()), (None, None));
        }
        let mut mixed = good.clone();
        mixed[2] = b'9';
        fs::write(path(dir.path()), &mixed).expect("write");
        assert_eq!(read(dir.path()), None);
    }

    #[test]
    fn a_rewrite_leaves_exactly_the_new_bytes_whether_longer_shorter_or_equal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("f");
        for text in ["12345\n", "1234567890\n", "0987654321\n", "7\n", "7\n", ""] {
            overwrite_in_place(&f, text.as_bytes()).expect("overwrite");
            assert_eq!(fs::read_to_string(&f).expect("read"), text);
        }
    }

    #[test]
    fn cleaner_and_log_start_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(read_cleaner(dir.path()), CleanerCheckpoint::default());
        assert_eq!(read_log_start(dir.path()), None);
        let cp = CleanerCheckpoint {
            first_dirty: 10,
            compacted_below: 25,
        };
        write_cleaner(dir.path(), cp).expect("write");
        assert_eq!(read_cleaner(dir.path()), cp);
        write_log_start(dir.path(), 77).expect("write");
        assert_eq!(read_log_start(dir.path()), Some(77));
        fs::write(dir.path().join(CLEANER_FILE), "0\n5\n").expect("write");
        assert_eq!(read_cleaner(dir.path()), CleanerCheckpoint::default());
    }
}
