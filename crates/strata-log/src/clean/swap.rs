//! The cleaner's crash-safe file protocol.
//!
//! A clean writes each rewritten segment beside the original as `<base>.log.cleaned`,
//! `<base>.index.cleaned` and `<base>.timeindex.cleaned` (and `<base>.txnindex.cleaned`
//! when the segment has an aborted index), fsynced. It then renames every
//! `.cleaned` file to `.swap`, indexes first and the `.log` last, segment by segment in
//! offset order; the moment the last `.cleaned` file is gone is the commit point of the
//! whole clean. Finally each `.swap` is renamed over its final name (an atomic replace,
//! so an old file and its replacement never both go missing).
//!
//! On open, [`recover`] finishes or undoes an interrupted clean:
//! - any `.cleaned` file left means the commit point was not reached: every `.cleaned`
//!   and `.swap` file is deleted; the original segments were never touched;
//! - otherwise every `.swap` file is renamed over its final name.
//!
//! Either way the log holds all of the pre-clean or all of the post-clean segments.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::checkpoint::sync_dir;
use crate::segment::{segment_path, segment_path_suffixed, INDEX_EXT, LOG_EXT, TIME_INDEX_EXT};
use crate::txn_index::TXN_INDEX_EXT;

/// Suffix of files a clean is still writing.
pub(crate) const CLEANED_SUFFIX: &str = ".cleaned";
/// Suffix of files of a committed clean, not yet installed.
pub(crate) const SWAP_SUFFIX: &str = ".swap";
/// Extensions of a segment, in the order they are renamed (the `.log` last: its rename
/// is what makes the segment's replacement visible). Only the aborted index may be
/// missing (a segment without one), and is then skipped.
pub(crate) const RENAME_ORDER: [&str; 4] = [INDEX_EXT, TIME_INDEX_EXT, TXN_INDEX_EXT, LOG_EXT];

/// Whether a staged file of `ext` that is not there is simply not part of the clean.
pub(crate) fn optional(ext: &str) -> bool {
    ext == TXN_INDEX_EXT
}

/// Leftover files of an interrupted clean in `dir`: (`.cleaned` files, `.swap` files).
fn leftovers(dir: &Path) -> io::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut cleaned = Vec::new();
    let mut swaps = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(CLEANED_SUFFIX) {
            cleaned.push(entry.path());
        } else if name.ends_with(SWAP_SUFFIX) {
            swaps.push(entry.path());
        }
    }
    Ok((cleaned, swaps))
}

/// Finishes or rolls back an interrupted clean (see the module docs).
pub(crate) fn recover(dir: &Path) -> io::Result<()> {
    let (cleaned, swaps) = leftovers(dir)?;
    if cleaned.is_empty() && swaps.is_empty() {
        return Ok(());
    }
    if !cleaned.is_empty() {
        for path in cleaned.iter().chain(&swaps) {
            remove_if_exists(path)?;
        }
    } else {
        for swap in &swaps {
            let Some(name) = swap.to_str().and_then(|s| s.strip_suffix(SWAP_SUFFIX)) else {
                continue;
            };
            fs::rename(swap, name)?;
        }
    }
    sync_dir(dir)
}

/// Before a clean starts: removes `.cleaned` files of a clean that failed before its
/// commit point, and refuses to run over committed but uninstalled `.swap` files (the
/// in-memory segments may not match the disk then; the log must be reopened).
pub(crate) fn check_no_pending(dir: &Path) -> io::Result<()> {
    let (cleaned, swaps) = leftovers(dir)?;
    if !swaps.is_empty() {
        return Err(io::Error::other(
            "an interrupted clean left .swap files; reopen the log to finish it",
        ));
    }
    for path in &cleaned {
        remove_if_exists(path)?;
    }
    Ok(())
}

/// Path of a segment file in the given stage (`""`, `.cleaned` or `.swap`).
pub(crate) fn staged_path(dir: &Path, base: i64, ext: &str, suffix: &str) -> PathBuf {
    if suffix.is_empty() {
        segment_path(dir, base, ext)
    } else {
        segment_path_suffixed(dir, base, ext, suffix)
    }
}

/// Deletes the staged files of the segments at `bases` (best effort after a failure).
pub(crate) fn discard(dir: &Path, bases: &[i64], suffix: &str) {
    for &base in bases {
        for ext in RENAME_ORDER {
            let _ = remove_if_exists(&staged_path(dir, base, ext, suffix));
        }
    }
}

fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str, content: &str) {
        fs::write(dir.join(name), content).expect("write");
    }

    fn read(dir: &Path, name: &str) -> Option<String> {
        fs::read_to_string(dir.join(name)).ok()
    }

    #[test]
    fn cleaned_files_mean_roll_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        touch(d, "00000000000000000000.log", "old0");
        touch(d, "00000000000000000000.log.swap", "new0");
        touch(d, "00000000000000000010.log", "old10");
        touch(d, "00000000000000000010.log.cleaned", "new10");
        recover(d).expect("recover");
        assert_eq!(read(d, "00000000000000000000.log").as_deref(), Some("old0"));
        assert_eq!(
            read(d, "00000000000000000010.log").as_deref(),
            Some("old10")
        );
        assert_eq!(fs::read_dir(d).expect("dir").count(), 2);
    }

    #[test]
    fn only_swaps_mean_roll_forward() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        touch(d, "00000000000000000000.log", "old0");
        touch(d, "00000000000000000000.index", "oldidx");
        touch(d, "00000000000000000000.log.swap", "new0");
        touch(d, "00000000000000000010.log.swap", "new10");
        recover(d).expect("recover");
        assert_eq!(read(d, "00000000000000000000.log").as_deref(), Some("new0"));
        assert_eq!(
            read(d, "00000000000000000010.log").as_deref(),
            Some("new10")
        );
        assert_eq!(
            read(d, "00000000000000000000.index").as_deref(),
            Some("oldidx")
        );
        assert_eq!(fs::read_dir(d).expect("dir").count(), 3);
    }
}
