//! Moving a replica to another log dir of this broker (AlterReplicaLogDirs) while it
//! keeps serving.
//!
//! The copy is made in `<dest>/<topic>-<partition>.future`: first without any lock
//! (rounds of copying what changed since the last round), then, under the log's lock
//! so nothing changes meanwhile, the log is closed cleanly, the rest copied and synced,
//! and the copy takes over:
//!
//! 1. `.future/.complete` is written and synced: the copy is whole;
//! 2. the old directory is renamed `<name>.delete` (no longer live);
//! 3. `.future` is renamed `<name>` in the destination and the log reopened there;
//! 4. the `.delete` directory is removed.
//!
//! A crash at any step leaves one live copy or a complete future one:
//! [`recover_moves`] (run at start, before any log is opened) keeps a complete
//! future copy only when no live directory of that name exists, and removes every
//! other `.future` and every `.delete` directory.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_log::{Log, LogError};

use super::partition::Partition;

const FUTURE: &str = ".future";
const DELETE: &str = ".delete";
const COMPLETE: &str = ".complete";
/// Unlocked copy rounds before the final, locked one.
const ROUNDS: usize = 3;

/// A replica's copy in progress, as DescribeLogDirs reports it.
#[derive(Debug, Clone, Copy)]
pub struct FutureReplica {
    /// The destination log dir.
    pub dir: usize,
    /// Bytes copied so far.
    pub copied_bytes: u64,
    /// The log end offset the copy covers at least.
    pub copied_end: i64,
}

/// What a file looked like when it was copied.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Seen {
    inode: u64,
    len: u64,
    mtime_ns: i128,
}

fn seen(meta: &fs::Metadata) -> Seen {
    Seen {
        inode: meta.ino(),
        len: meta.len(),
        mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
    }
}

/// One copy round: every regular file of `src` that changed since `copied` saw it is
/// copied into `dst` (an append-only `.log` that only grew: its new tail), files gone
/// from `src` are removed from `dst`. Returns the bytes written.
fn copy_round(src: &Path, dst: &Path, copied: &mut HashMap<PathBuf, Seen>) -> io::Result<u64> {
    let mut written = 0;
    let mut present = Vec::new();
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if !meta.is_file() {
            continue;
        }
        let name = PathBuf::from(entry.file_name());
        present.push(name.clone());
        let now = seen(&meta);
        let before = copied.get(&name).copied();
        if before == Some(now) {
            continue;
        }
        let appended_only = name.extension().is_some_and(|e| e == "log")
            && before.is_some_and(|b| b.inode == now.inode && b.len <= now.len);
        let from = if appended_only {
            before.map_or(0, |b| b.len)
        } else {
            0
        };
        match copy_file(&src.join(&name), &dst.join(&name), from) {
            Ok(n) => written += n,
            // Deleted meanwhile (retention, a cleaner swap): the next round sees it gone.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                present.pop();
                continue;
            }
            Err(e) => return Err(e),
        }
        copied.insert(name, now);
    }
    let gone: Vec<PathBuf> = copied
        .keys()
        .filter(|k| !present.contains(k))
        .cloned()
        .collect();
    for name in gone {
        copied.remove(&name);
        match fs::remove_file(dst.join(&name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(written)
}

/// Copies `src` from byte `from` into `dst` at the same position (truncating `dst`
/// there; a whole copy when `from` is 0). Returns the bytes copied.
fn copy_file(src: &Path, dst: &Path, from: u64) -> io::Result<u64> {
    let mut input = fs::File::open(src)?;
    let mut output = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(from == 0)
        .open(dst)?;
    output.set_len(from)?;
    input.seek(SeekFrom::Start(from))?;
    output.seek(SeekFrom::Start(from))?;
    // In the kernel (copy_file_range) where the filesystems allow.
    io::copy(&mut input, &mut output)
}

fn sync_tree(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.metadata()?.is_file() {
            fs::File::open(entry.path())?.sync_all()?;
        }
    }
    fs::File::open(dir)?.sync_all()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Moves `p`'s log into the log dir `dest_root`, reporting progress through `progress`.
/// Blocking; the partition serves reads and appends until the final, locked round.
pub(super) fn move_blocking(
    p: &Arc<Partition>,
    dest_root: &Path,
    mut progress: impl FnMut(u64, i64),
) -> Result<(), LogError> {
    let src = p
        .log_dir_blocking()
        .ok_or_else(|| LogError::Io(io::Error::other("partition is closed")))?;
    let name = src
        .file_name()
        .ok_or_else(|| LogError::Io(io::Error::other("partition dir has no name")))?
        .to_os_string();
    let future = dest_root.join(format!("{}{FUTURE}", name.to_string_lossy()));
    if future.exists() {
        fs::remove_dir_all(&future)?;
    }
    fs::create_dir(&future)?;
    let mut copied = HashMap::new();
    let mut bytes = 0;
    for _ in 0..ROUNDS {
        let end = p.log_end_offset();
        let n = copy_round(&src, &future, &mut copied)
            .inspect_err(|_| drop(fs::remove_dir_all(&future)))?;
        bytes += n;
        progress(bytes, end);
        if n == 0 {
            break;
        }
    }
    let dest = dest_root.join(&name);
    p.replace_log_blocking(|old: Log| {
        let config = old.config().clone();
        let reopen_old = |config| Log::open(&src, config, true);
        if let Err(e) = old.close() {
            drop(fs::remove_dir_all(&future));
            return (Log::open(&src, config, false).ok(), Err(e));
        }
        let finished = copy_round(&src, &future, &mut copied)
            .and_then(|_| fs::write(future.join(COMPLETE), b""))
            .and_then(|()| sync_tree(&future));
        if let Err(e) = finished {
            drop(fs::remove_dir_all(&future));
            return (reopen_old(config).ok(), Err(LogError::Io(e)));
        }
        let src_root = src.parent().map(Path::to_path_buf).unwrap_or_default();
        let doomed = src_root.join(format!("{}{DELETE}", name.to_string_lossy()));
        if let Err(e) = fs::rename(&src, &doomed).and_then(|()| sync_dir(&src_root)) {
            drop(fs::remove_dir_all(&future));
            return (reopen_old(config).ok(), Err(LogError::Io(e)));
        }
        if let Err(e) = fs::rename(&future, &dest).and_then(|()| sync_dir(dest_root)) {
            // Back where it was: the old copy is whole.
            let back = fs::rename(&doomed, &src).and_then(|()| sync_dir(&src_root));
            drop(fs::remove_dir_all(&future));
            let log = back.ok().and_then(|()| reopen_old(config).ok());
            return (log, Err(LogError::Io(e)));
        }
        drop(fs::remove_file(dest.join(COMPLETE)));
        drop(fs::remove_dir_all(&doomed));
        match Log::open(&dest, config, true) {
            Ok(log) => (Some(log), Ok(())),
            Err(e) => (None, Err(e)),
        }
    })
}

/// Settles moves a crash interrupted (see the module header), in every online dir.
/// Run at start, before any log is opened. Blocking.
pub(crate) fn recover_moves(dirs: &[PathBuf]) -> io::Result<()> {
    let live = |name: &str| dirs.iter().any(|d| d.join(name).is_dir());
    for dir in dirs {
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            let file = path
                .file_name()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default();
            if let Some(name) = file.strip_suffix(DELETE) {
                if !name.is_empty() && path.is_dir() {
                    tracing::info!(dir = %path.display(), "removing the old copy of a moved replica");
                    fs::remove_dir_all(&path)?;
                }
            } else if let Some(name) = file.strip_suffix(FUTURE) {
                if name.is_empty() || !path.is_dir() {
                    continue;
                }
                if path.join(COMPLETE).exists() && !live(name) {
                    tracing::info!(dir = %path.display(), "completing an interrupted replica move");
                    fs::rename(&path, dir.join(name))?;
                    drop(fs::remove_file(dir.join(name).join(COMPLETE)));
                    sync_dir(dir)?;
                } else {
                    tracing::info!(dir = %path.display(), "removing an unfinished replica move");
                    fs::remove_dir_all(&path)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn rounds_copy_appended_tails_rewritten_files_and_removals() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        fs::write(src.path().join("0.log"), b"abc").unwrap();
        fs::write(src.path().join("0.index"), b"1234").unwrap();
        fs::write(src.path().join("gone.txt"), b"x").unwrap();
        let mut copied = HashMap::new();
        assert_eq!(copy_round(src.path(), dst.path(), &mut copied).unwrap(), 8);
        assert_eq!(
            copy_round(src.path(), dst.path(), &mut copied).unwrap(),
            0,
            "unchanged"
        );
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(src.path().join("0.log"))
            .unwrap();
        f.write_all(b"def").unwrap();
        // Rewritten in place, same length: copied whole again.
        std::thread::sleep(std::time::Duration::from_millis(5));
        fs::write(src.path().join("0.index"), b"5678").unwrap();
        fs::remove_file(src.path().join("gone.txt")).unwrap();
        assert_eq!(
            copy_round(src.path(), dst.path(), &mut copied).unwrap(),
            3 + 4
        );
        assert_eq!(fs::read(dst.path().join("0.log")).unwrap(), b"abcdef");
        assert_eq!(fs::read(dst.path().join("0.index")).unwrap(), b"5678");
        assert!(!dst.path().join("gone.txt").exists());
    }

    /// Appends go on during the move; afterwards the log is in the new dir, the old
    /// one is gone, and every record appended before, during and after reads back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_replica_moves_while_records_are_appended() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let config = strata_log::LogConfig {
            segment_bytes: 4096,
            ..Default::default()
        };
        let log = Log::open(&a.path().join("t-0"), config.clone(), false).unwrap();
        let p = Arc::new(Partition::new("t".into(), uuid::Uuid::new_v4(), 0, log));
        p.update_role(&super::super::wait_tests::image(1, 1), 1, 1);
        for _ in 0..200 {
            p.append(super::super::wait_tests::one_batch().into(), 1)
                .await
                .unwrap();
        }
        let writer = {
            let p = Arc::clone(&p);
            tokio::spawn(async move {
                for _ in 0..300 {
                    p.append(super::super::wait_tests::one_batch().into(), 1)
                        .await
                        .unwrap();
                }
            })
        };
        let (q, dest) = (Arc::clone(&p), b.path().to_path_buf());
        let mut reports = Vec::new();
        tokio::task::spawn_blocking(move || {
            move_blocking(&q, &dest, |bytes, end| reports.push((bytes, end))).map(|()| reports)
        })
        .await
        .unwrap()
        .map(|reports| assert!(!reports.is_empty()))
        .unwrap();
        writer.await.unwrap();
        for _ in 0..10 {
            p.append(super::super::wait_tests::one_batch().into(), 1)
                .await
                .unwrap();
        }
        assert_eq!(p.log_end_offset(), 510);
        assert!(!a.path().join("t-0").exists(), "the old copy is removed");
        assert!(!b.path().join("t-0").join(COMPLETE).exists());
        assert_eq!(p.log_root_blocking().as_deref(), Some(b.path()));
        let q = Arc::clone(&p);
        let read = tokio::task::spawn_blocking(move || {
            let mut offsets = Vec::new();
            let mut next = 0;
            while next < 510 {
                let r = q
                    .read_blocking_upto(next, 1 << 20, true, Some(510))
                    .unwrap();
                for batch in strata_proto::batch::batches(&r.records) {
                    let (header, _) = batch.unwrap();
                    offsets.push(header.base_offset);
                    next = header.last_offset() + 1;
                }
            }
            offsets
        })
        .await
        .unwrap();
        assert_eq!(read, (0..510).collect::<Vec<i64>>());
        // Reopened from the new dir alone, the log recovers the same end.
        drop(p);
        let reopened = Log::open(&b.path().join("t-0"), config, false).unwrap();
        assert_eq!(reopened.log_end_offset(), 510);
    }

    #[test]
    fn a_crash_keeps_exactly_one_copy() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let dirs = vec![a.path().to_path_buf(), b.path().to_path_buf()];
        // Complete future, old copy already renamed away: the future becomes live.
        fs::create_dir(a.path().join("t-0.delete")).unwrap();
        fs::create_dir(b.path().join("t-0.future")).unwrap();
        fs::write(b.path().join("t-0.future/00.log"), b"data").unwrap();
        fs::write(b.path().join("t-0.future").join(COMPLETE), b"").unwrap();
        // Complete future while the live copy still exists: the live one stays.
        fs::create_dir(a.path().join("t-1")).unwrap();
        fs::create_dir(b.path().join("t-1.future")).unwrap();
        fs::write(b.path().join("t-1.future").join(COMPLETE), b"").unwrap();
        // Unfinished future: removed.
        fs::create_dir(a.path().join("t-2")).unwrap();
        fs::create_dir(b.path().join("t-2.future")).unwrap();
        recover_moves(&dirs).unwrap();
        assert_eq!(fs::read(b.path().join("t-0/00.log")).unwrap(), b"data");
        assert!(!b.path().join("t-0").join(COMPLETE).exists());
        assert!(!a.path().join("t-0.delete").exists());
        assert!(a.path().join("t-1").is_dir() && !b.path().join("t-1.future").exists());
        assert!(a.path().join("t-2").is_dir() && !b.path().join("t-2.future").exists());
    }
}
