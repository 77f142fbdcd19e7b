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
            let mut cluster_id = None;
            let mut stored_node = None;
            for line in text.lines() {
                if let Some((k, v)) = line.split_once('=') {
                    match k.trim() {
                        "cluster.id" => cluster_id = Some(v.trim().to_string()),
                        "node.id" => stored_node = v.trim().parse::<i32>().ok(),
                        _ => {}
                    }
                }
            }
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
            let tmp = dir.join(format!("{META_PROPERTIES}.tmp"));
            std::fs::write(
                &tmp,
                format!("cluster.id={cluster_id}\nnode.id={node_id}\n"),
            )?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            sync_dir(dir)?;
            Ok(cluster_id)
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
}
