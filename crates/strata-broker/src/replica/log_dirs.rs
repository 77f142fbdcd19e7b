//! The directories partition logs are placed in (`log.dirs`, Kafka's JBOD), and which
//! of them have failed.
//!
//! Invariants:
//! - A partition's directory is in exactly one log dir: a new partition goes to the
//!   online dir holding the fewest partitions (Kafka's rule), an existing one is found
//!   where it is.
//! - A dir that failed (its probe write failed, or it could not be opened at start) is
//!   offline until the broker restarts, as in Kafka: its partitions are not served,
//!   not recreated elsewhere, and reported to the controller so other replicas lead.
//!   The first dir also holds the metadata log; its failure fences the whole broker
//!   (see `controller::heartbeat_loop`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

/// One `log.dirs` entry.
#[derive(Debug)]
pub struct LogDir {
    /// The directory.
    pub path: PathBuf,
    offline: AtomicBool,
    /// Why it went offline.
    error: Mutex<Option<String>>,
}

impl LogDir {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            offline: AtomicBool::new(false),
            error: Mutex::new(None),
        }
    }

    /// Whether the dir failed.
    pub fn is_offline(&self) -> bool {
        self.offline.load(Ordering::Acquire)
    }

    /// Why the dir failed, if it did.
    pub fn error(&self) -> Option<String> {
        self.error.lock().clone()
    }
}

/// Every log dir of this broker, in `log.dirs` order; the first is the data dir.
#[derive(Debug)]
pub struct LogDirs {
    dirs: Vec<LogDir>,
}

impl LogDirs {
    /// The dirs, all online: the data dir, then the others.
    pub fn new(data_dir: PathBuf, others: impl IntoIterator<Item = PathBuf>) -> Self {
        Self {
            dirs: std::iter::once(data_dir)
                .chain(others)
                .map(LogDir::new)
                .collect(),
        }
    }

    /// Every dir.
    pub fn all(&self) -> &[LogDir] {
        &self.dirs
    }

    /// The dir at `index`.
    pub fn get(&self, index: usize) -> Option<&LogDir> {
        self.dirs.get(index)
    }

    /// The index of the dir whose path is `path`.
    pub fn position(&self, path: &Path) -> Option<usize> {
        self.dirs.iter().position(|d| d.path == path)
    }

    /// Takes the dir at `index` offline; returns whether it was online.
    pub fn fail(&self, index: usize, why: &str) -> bool {
        let Some(d) = self.dirs.get(index) else {
            return false;
        };
        let mut error = d.error.lock();
        if d.offline.swap(true, Ordering::AcqRel) {
            return false;
        }
        *error = Some(why.to_string());
        true
    }

    /// Whether any dir is offline.
    pub fn any_offline(&self) -> bool {
        self.dirs.iter().any(LogDir::is_offline)
    }

    /// The online dir, among those whose index `counts` gives a partition count for,
    /// holding the fewest partitions (ties: the first). `None` when all are offline.
    pub fn pick(&self, counts: &[usize]) -> Option<usize> {
        self.dirs
            .iter()
            .enumerate()
            .filter(|(_, d)| !d.is_offline())
            .min_by_key(|(i, _)| (counts.get(*i).copied().unwrap_or(0), *i))
            .map(|(i, _)| i)
    }

    /// The online dir that already holds a directory `name`, if any.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.dirs
            .iter()
            .position(|d| !d.is_offline() && d.path.join(name).is_dir())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_partitions_go_to_the_online_dir_with_the_fewest() {
        let dirs = LogDirs::new("/a".into(), ["/b".into(), "/c".into()]);
        assert_eq!(dirs.pick(&[2, 1, 1]), Some(1), "fewest, first on a tie");
        assert!(dirs.fail(1, "probe failed"));
        assert!(!dirs.fail(1, "again"), "failing twice is one failure");
        assert_eq!(
            dirs.get(1).unwrap().error().as_deref(),
            Some("probe failed")
        );
        assert_eq!(dirs.pick(&[2, 0, 1]), Some(2), "never an offline dir");
        dirs.fail(0, "x");
        dirs.fail(2, "x");
        assert_eq!(dirs.pick(&[0, 0, 0]), None);
        assert!(dirs.any_offline());
    }

    #[test]
    fn an_existing_partition_is_found_only_in_an_online_dir() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::create_dir(b.path().join("t-0")).unwrap();
        let dirs = LogDirs::new(a.path().into(), [b.path().into()]);
        assert_eq!(dirs.find("t-0"), Some(1));
        assert_eq!(dirs.find("t-1"), None);
        dirs.fail(1, "x");
        assert_eq!(dirs.find("t-0"), None);
    }
}
