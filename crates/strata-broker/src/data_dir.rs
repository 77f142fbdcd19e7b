//! The data directory's own files: the exclusive lock that keeps a second process out,
//! the node's identity (`meta.properties`) and the clean-shutdown marker.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::Context;
use uuid::Uuid;

/// Held (flock, exclusive) by the process that serves the data dir.
pub(crate) const LOCK_FILE: &str = ".lock";
/// Written at the end of a clean shutdown, removed at start: its presence means the logs
/// need no recovery scan.
const CLEAN_SHUTDOWN_FILE: &str = ".clean_shutdown";
/// Holds `cluster.id` and `node.id` of this data directory.
const META_PROPERTIES: &str = "meta.properties";

/// The exclusive lock on a data dir, released when dropped (or when the process dies:
/// `flock` locks belong to the open file, so `kill -9` leaves no stale lock).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the lock on `<dir>/.lock` without waiting and records this process as its
    /// holder. Fails, naming the dir and the holder, when another process (or another
    /// broker in this process) has it.
    pub fn acquire(dir: &Path) -> anyhow::Result<DataDirLock> {
        let path = dir.join(LOCK_FILE);
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open lock file {}", path.display()))?;
        // SAFETY: flock on a valid, open descriptor; no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let holder = read_holder(&mut file);
                anyhow::bail!(
                    "data dir {} is in use by another strata process ({holder}); lock file {}",
                    dir.display(),
                    path.display()
                );
            }
            return Err(err).with_context(|| format!("cannot lock {}", path.display()));
        }
        let holder = format!("pid={}\nhost={}\n", std::process::id(), hostname());
        file.set_len(0)?;
        file.rewind()?;
        file.write_all(holder.as_bytes())?;
        Ok(DataDirLock { _file: file })
    }
}

/// The holder recorded in a lock file, as one line for an error message.
fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    // The holder writes a few bytes; never read more than a page of whatever is there.
    let _ = file.rewind();
    let _ = Read::by_ref(file).take(4096).read_to_string(&mut text);
    let holder = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| format!("{}={}", k.trim(), v.trim()))
        .collect::<Vec<_>>()
        .join(" ");
    if holder.is_empty() {
        "holder unknown".to_string()
    } else {
        holder
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// Removes the clean-shutdown marker and says whether it was there (the previous run
/// stopped cleanly). Blocking.
pub(crate) fn take_clean_shutdown_marker(dir: &Path) -> std::io::Result<bool> {
    let marker = dir.join(CLEAN_SHUTDOWN_FILE);
    let clean = marker.exists();
    if clean {
        std::fs::remove_file(&marker)?;
        sync_dir(dir)?;
    }
    Ok(clean)
}

/// Writes the clean-shutdown marker, durably. Blocking.
pub(crate) fn write_clean_shutdown_marker(dir: &Path) -> std::io::Result<()> {
    std::fs::write(dir.join(CLEAN_SHUTDOWN_FILE), b"")?;
    sync_dir(dir)
}

/// Reads `meta.properties`, or writes it with a new cluster id on first use. Refuses a
/// data dir that belongs to another node id.
/// A new data dir of a cluster node takes its cluster id from `seed` (the voter list,
/// the same on every node) so all nodes report one id; a lone node picks a random one.
pub(crate) fn load_or_create_identity(
    dir: &Path,
    node_id: i32,
    seed: Option<&str>,
) -> anyhow::Result<String> {
    let path: PathBuf = dir.join(META_PROPERTIES);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let (cluster_id, stored_node) = parse_identity(&text);
            if let Some(stored) = stored_node {
                anyhow::ensure!(
                    stored == node_id,
                    "data dir {} belongs to node.id {stored}, not {node_id}",
                    dir.display()
                );
            }
            cluster_id.with_context(|| format!("{} has no cluster.id", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let cluster_id = match seed {
                Some(seed) => {
                    use std::hash::{Hash, Hasher};
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    seed.hash(&mut h);
                    let a = h.finish();
                    "strata".hash(&mut h);
                    Uuid::from_u64_pair(a, h.finish()).simple().to_string()
                }
                None => Uuid::new_v4().simple().to_string(),
            };
            write_identity(dir, &cluster_id, node_id)?;
            Ok(cluster_id)
        }
        Err(e) => Err(e.into()),
    }
}

/// `cluster.id` and `node.id` of a `meta.properties` text.
fn parse_identity(text: &str) -> (Option<String>, Option<i32>) {
    let mut out = (None, None);
    for (k, v) in text.lines().filter_map(|l| l.split_once('=')) {
        match k.trim() {
            "cluster.id" => out.0 = Some(v.trim().to_string()),
            "node.id" => out.1 = v.trim().parse::<i32>().ok(),
            _ => {}
        }
    }
    out
}

/// Writes `dir`'s `meta.properties` durably (temp file, sync, rename, dir sync).
fn write_identity(dir: &Path, cluster_id: &str, node_id: i32) -> std::io::Result<()> {
    let tmp = dir.join(format!("{META_PROPERTIES}.tmp"));
    std::fs::write(
        &tmp,
        format!("cluster.id={cluster_id}\nnode.id={node_id}\n"),
    )?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(META_PROPERTIES))?;
    sync_dir(dir)
}

/// The log dirs opened at start (see [`open_log_dirs`]).
pub(crate) struct OpenedLogDirs {
    /// Every log dir; those that could not be opened are offline.
    pub dirs: crate::replica::LogDirs,
    /// The locks of the extra dirs (the data dir's is taken first, by the caller).
    pub locks: Vec<DataDirLock>,
    /// Whether every online extra dir had its clean-shutdown marker.
    pub clean: bool,
}

/// Opens the log dirs after the first (the data dir, opened and locked already): each
/// extra one is created if need be, locked, and stamped with this node's identity, and
/// its clean-shutdown marker taken. A dir that cannot be opened (a failed disk) starts
/// offline, as in Kafka; a dir of another cluster or node refuses the start. Blocking.
pub(crate) fn open_log_dirs(
    paths: Vec<PathBuf>,
    node_id: i32,
    cluster_id: &str,
) -> anyhow::Result<OpenedLogDirs> {
    let mut paths = paths.into_iter();
    let Some(data_dir) = paths.next() else {
        anyhow::bail!("no log dir");
    };
    let dirs = crate::replica::LogDirs::new(data_dir, paths);
    let mut locks = Vec::new();
    let mut clean = true;
    for (i, dir) in dirs.all().iter().enumerate().skip(1) {
        let opened = std::fs::create_dir_all(&dir.path)
            .map_err(anyhow::Error::from)
            .and_then(|()| DataDirLock::acquire(&dir.path))
            .and_then(|lock| {
                adopt_identity(&dir.path, node_id, cluster_id)?;
                Ok((lock, take_clean_shutdown_marker(&dir.path)?))
            });
        match opened {
            Ok((lock, was_clean)) => {
                locks.push(lock);
                clean &= was_clean;
            }
            Err(e) if e.downcast_ref::<IdentityMismatch>().is_some() => return Err(e),
            Err(e) => {
                tracing::error!(dir = %dir.path.display(), error = %e, "log dir cannot be opened: it is offline");
                dirs.fail(i, &format!("{e:#}"));
            }
        }
    }
    let online: Vec<PathBuf> = dirs
        .all()
        .iter()
        .filter(|d| !d.is_offline())
        .map(|d| d.path.clone())
        .collect();
    crate::replica::recover_moves(&online)?;
    Ok(OpenedLogDirs { dirs, locks, clean })
}

/// A log dir that belongs to another cluster or node.
#[derive(Debug)]
struct IdentityMismatch(String);

impl std::fmt::Display for IdentityMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for IdentityMismatch {}

/// Writes this node's `meta.properties` into an extra log dir, or checks the one there
/// names the same cluster and node.
fn adopt_identity(dir: &Path, node_id: i32, cluster_id: &str) -> anyhow::Result<()> {
    let path = dir.join(META_PROPERTIES);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let stored = parse_identity(&text);
            if stored.0.as_deref().is_some_and(|c| c != cluster_id)
                || stored.1.is_some_and(|n| n != node_id)
            {
                return Err(IdentityMismatch(format!(
                    "log dir {} belongs to cluster.id {} node.id {}, not cluster.id {cluster_id} \
                     node.id {node_id}",
                    dir.display(),
                    stored.0.as_deref().unwrap_or("?"),
                    stored.1.map_or("?".to_string(), |n| n.to_string())
                ))
                .into());
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(write_identity(dir, cluster_id, node_id)?)
        }
        Err(e) => Err(e.into()),
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_dir_is_refused_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let err = DataDirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
        assert!(
            err.contains(&format!("pid={}", std::process::id())),
            "{err}"
        );
        drop(first);
        DataDirLock::acquire(dir.path()).expect("free again once the holder drops it");
    }

    #[test]
    fn extra_log_dirs_take_the_nodes_identity_and_a_failed_one_starts_offline() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        let extra = root.path().join("extra");
        std::fs::create_dir(&data).unwrap();
        // A regular file where a dir should be: it cannot be opened.
        let broken = root.path().join("broken");
        std::fs::write(&broken, b"not a dir").unwrap();
        let opened = open_log_dirs(vec![data.clone(), extra.clone(), broken], 3, "c1").unwrap();
        assert!(!opened.dirs.all()[1].is_offline());
        assert!(opened.dirs.all()[2].is_offline());
        assert!(!opened.clean, "no marker in the new dir");
        let text = std::fs::read_to_string(extra.join(META_PROPERTIES)).unwrap();
        assert!(
            text.contains("cluster.id=c1") && text.contains("node.id=3"),
            "{text}"
        );
        drop(opened);
        // Another node, or another cluster, may not use it.
        let err = open_log_dirs(vec![data.clone(), extra.clone()], 4, "c1")
            .err()
            .unwrap();
        assert!(err.to_string().contains("belongs to"), "{err}");
        let err = open_log_dirs(vec![data, extra], 3, "c2").err().unwrap();
        assert!(err.to_string().contains("cluster.id c1"), "{err}");
    }
}
