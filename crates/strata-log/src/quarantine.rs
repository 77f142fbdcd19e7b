//! Moving damaged bytes out of a segment, crash-safely.
//!
//! Each damaged byte range is copied to `<base>.log.<position>.corrupt` (fsynced; never
//! read by the log, kept for the operator), then the segment without those ranges is
//! written as `<base>.log.cleaned` and installed with the cleaner's swap protocol
//! (`.cleaned` → `.swap` → final name, see `clean/swap.rs`): a crash before the swap
//! leaves the damaged original, found and moved aside again by the next recovery (an
//! identical `.corrupt` file already there is reused); after it, the repaired segment.
//! A `.corrupt` file is never overwritten with other bytes: a later repair of the same
//! segment that finds damage at the same position writes `<base>.log.<position>.<n>.corrupt`.
//! The caller rebuilds the segment's indexes from the new file. The `.corrupt` files of
//! a segment go when retention or DeleteRecords deletes the segment itself
//! ([`remove_corrupt_files`]).

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

/// Path of the `n`th file holding damaged bytes found at `position` of segment `base`.
fn corrupt_path(dir: &Path, base: i64, position: u64, n: u32) -> PathBuf {
    let suffix = match n {
        0 => format!(".{position}{CORRUPT_SUFFIX}"),
        n => format!(".{position}.{n}{CORRUPT_SUFFIX}"),
    };
    segment_path_suffixed(dir, base, LOG_EXT, &suffix)
}

/// Removes the `.corrupt` files of segment `base` (it is being deleted: the offsets its
/// damage covered are gone from the log anyway); returns how many there were.
pub(crate) fn remove_corrupt_files(dir: &Path, base: i64) -> io::Result<usize> {
    let segment = segment_path(dir, base, LOG_EXT);
    let Some(prefix) = segment.file_name().and_then(|n| n.to_str()) else {
        return Ok(0);
    };
    let prefix = format!("{prefix}.");
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(&prefix) && name.ends_with(CORRUPT_SUFFIX) {
            match fs::remove_file(dir.join(name)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => removed += 1,
            }
        }
    }
    if removed > 0 {
        tracing::info!(dir = %dir.display(), base, removed, "removed the damaged bytes kept aside for a deleted segment");
    }
    Ok(removed)
}

/// Copies `file[from..to]` to `<base>.log.<from>.corrupt` (fsynced) and returns its path.
/// A file of that name holding other bytes (damage found earlier at the same position)
/// is kept: the next free `<base>.log.<from>.<n>.corrupt` is used instead.
pub(crate) fn save_corrupt(
    dir: &Path,
    base: i64,
    file: &File,
    from: u64,
    to: u64,
) -> io::Result<PathBuf> {
    let mut n = 0u32;
    let path = loop {
        let path = corrupt_path(dir, base, from, n);
        match File::open(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => break path,
            Err(e) => return Err(e),
            Ok(existing) if same_bytes(&existing, file, from, to)? => return Ok(path),
            Ok(_) => {
                n = n
                    .checked_add(1)
                    .ok_or_else(|| io::Error::other("too many .corrupt files"))?
            }
        }
    };
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    copy_range(file, from, to, &mut out)?;
    out.sync_all()?;
    Ok(path)
}

/// Whether `existing` holds exactly `file[from..to]`.
fn same_bytes(existing: &File, file: &File, from: u64, to: u64) -> io::Result<bool> {
    if existing.metadata()?.len() != to - from {
        return Ok(false);
    }
    let chunk = (to - from).min(COPY_CHUNK) as usize;
    let (mut a, mut b) = (vec![0u8; chunk], vec![0u8; chunk]);
    let mut at = 0u64;
    while at < to - from {
        let n = (to - from - at).min(COPY_CHUNK) as usize;
        existing.read_exact_at(&mut a[..n], at)?;
        file.read_exact_at(&mut b[..n], from + at)?;
        if a[..n] != b[..n] {
            return Ok(false);
        }
        at += n as u64;
    }
    Ok(true)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(dir: &Path, name: &str, bytes: &[u8]) -> File {
        let path = dir.join(name);
        fs::write(&path, bytes).expect("write");
        File::open(path).expect("open")
    }

    #[test]
    fn saved_damage_is_never_overwritten_with_other_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let first = file_with(d, "a", b"xxDAMAGEDxx");
        let p0 = save_corrupt(d, 0, &first, 2, 9).expect("save");
        // The same bytes again (a crash before the swap, then recovery again): reused.
        assert_eq!(save_corrupt(d, 0, &first, 2, 9).expect("again"), p0);
        // Other bytes at the same position of a later file: a new name.
        let second = file_with(d, "b", b"xxOTHERxxxx");
        let p1 = save_corrupt(d, 0, &second, 2, 7).expect("save other");
        assert_ne!(p0, p1);
        assert_eq!(fs::read(&p0).expect("read"), b"DAMAGED");
        assert_eq!(fs::read(&p1).expect("read"), b"OTHER");
        assert!(p1.to_string_lossy().ends_with(".log.2.1.corrupt"), "{p1:?}");
    }
}
