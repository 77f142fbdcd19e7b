//! Moving damaged bytes out of a segment, crash-safely.
//!
//! Each damaged byte range is copied to `<base>.log.<position>.corrupt` (fsynced; never
//! read by the log, kept for the operator), then the segment without those ranges is
//! written as `<base>.log.cleaned` and installed with the cleaner's swap protocol
//! (`.cleaned` → `.swap` → final name, see `clean/swap.rs`): a crash before the swap
//! leaves the damaged original, found and moved aside again by the next recovery (the
//! same `.corrupt` names are rewritten); after it, the repaired segment. The caller
//! rebuilds the segment's indexes from the new file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::checkpoint::sync_dir;
use crate::clean::swap::{CLEANED_SUFFIX, SWAP_SUFFIX};
use crate::segment::{segment_path, segment_path_suffixed, LOG_EXT};

/// Suffix of moved-aside damaged bytes.
pub(crate) const CORRUPT_SUFFIX: &str = ".corrupt";
const COPY_CHUNK: u64 = 256 * 1024;

/// Path of the file holding the damaged bytes found at `position` of segment `base`.
pub(crate) fn corrupt_path(dir: &Path, base: i64, position: u64) -> PathBuf {
    segment_path_suffixed(dir, base, LOG_EXT, &format!(".{position}{CORRUPT_SUFFIX}"))
}

/// Copies `file[from..to]` to `<base>.log.<from>.corrupt` (fsynced) and returns its path.
pub(crate) fn save_corrupt(
    dir: &Path,
    base: i64,
    file: &File,
    from: u64,
    to: u64,
) -> io::Result<PathBuf> {
    let path = corrupt_path(dir, base, from);
    let mut out = File::create(&path)?;
    copy_range(file, from, to, &mut out)?;
    out.sync_all()?;
    Ok(path)
}

/// Rewrites segment `base` without the byte ranges `damaged` (sorted, disjoint, inside
/// `[0, len)`), after saving each of them aside. Returns the `.corrupt` paths.
pub(crate) fn move_aside(
    dir: &Path,
    base: i64,
    file: &File,
    len: u64,
    damaged: &[(u64, u64)],
) -> io::Result<Vec<PathBuf>> {
    let mut saved = Vec::with_capacity(damaged.len());
    for &(from, to) in damaged {
        saved.push(save_corrupt(dir, base, file, from, to)?);
    }
    let cleaned = segment_path_suffixed(dir, base, LOG_EXT, CLEANED_SUFFIX);
    let mut out = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&cleaned)?;
    let mut at = 0u64;
    for &(from, to) in damaged {
        copy_range(file, at, from, &mut out)?;
        at = to;
    }
    copy_range(file, at, len, &mut out)?;
    out.sync_all()?;
    drop(out);
    sync_dir(dir)?;
    let swap = segment_path_suffixed(dir, base, LOG_EXT, SWAP_SUFFIX);
    fs::rename(&cleaned, &swap)?;
    sync_dir(dir)?;
    fs::rename(&swap, segment_path(dir, base, LOG_EXT))?;
    sync_dir(dir)?;
    Ok(saved)
}

fn copy_range(file: &File, from: u64, to: u64, out: &mut File) -> io::Result<()> {
    let mut buf = vec![0u8; (to.saturating_sub(from)).min(COPY_CHUNK) as usize];
    let mut at = from;
    while at < to {
        let n = (to - at).min(COPY_CHUNK) as usize;
        file.read_exact_at(&mut buf[..n], at)?;
        out.write_all(&buf[..n])?;
        at += n as u64;
    }
    Ok(())
}
