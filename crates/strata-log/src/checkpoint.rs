//! The recovery-point checkpoint: the offset below which the log is known durable.
//!
//! Written atomically (temp file + rename). It is deliberately not fsynced: losing or
//! tearing it only makes the next unclean open scan more, never less, because a
//! missing or unreadable checkpoint means "scan everything".

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// File name inside the partition directory.
pub(crate) const CHECKPOINT_FILE: &str = "recovery-point-offset-checkpoint";
const FORMAT_VERSION: &str = "0";

fn path(dir: &Path) -> PathBuf {
    dir.join(CHECKPOINT_FILE)
}

/// Reads the recovery point; `None` when absent or unreadable.
pub(crate) fn read(dir: &Path) -> Option<i64> {
    let text = fs::read_to_string(path(dir)).ok()?;
    let mut lines = text.lines();
    if lines.next()? != FORMAT_VERSION {
        return None;
    }
    let offset: i64 = lines.next()?.trim().parse().ok()?;
    (offset >= 0).then_some(offset)
}

/// Atomically replaces the recovery point.
pub(crate) fn write(dir: &Path, offset: i64) -> io::Result<()> {
    let tmp = dir.join(format!("{CHECKPOINT_FILE}.tmp"));
    fs::write(&tmp, format!("{FORMAT_VERSION}\n{offset}\n"))?;
    fs::rename(&tmp, path(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(read(dir.path()), None);
        write(dir.path(), 1234).expect("write");
        assert_eq!(read(dir.path()), Some(1234));
        fs::write(path(dir.path()), "0\nnot-a-number\n").expect("write");
        assert_eq!(read(dir.path()), None);
    }
}
