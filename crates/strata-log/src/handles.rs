//! Open files as a budget: segment and index files are opened on demand and kept in
//! one bounded cache per process, so the number of partitions and segments a broker
//! holds is limited by its disk, not by `RLIMIT_NOFILE`.
//!
//! Each file of a segment is a [`CachedFile`]: its path, the identity of the file it
//! names (device and inode, taken when it was created or found), and a slot that holds
//! an open handle or nothing. [`CachedFile::get`] returns the held handle, or opens the
//! file, checks that it is still the same file (a renamed-over path, e.g. a cleaned
//! segment swapped in, is an error, never a silent read of other data) and admits the
//! handle to the budget. When more handles are open than the budget allows, a clock
//! sweep over the admitted slots closes those not used since the last sweep.
//!
//! Invariants:
//! - `open` counts the slots holding a handle; it changes only with a slot's contents
//!   (admit, evict, slot dropped).
//! - A slot is in the ring at most once (`queued`, changed only under the ring lock),
//!   and every slot holding a handle is in the ring, so every held handle can be
//!   evicted.
//! - Lock order: ring, then slot. [`CachedFile::get`] never holds its slot's lock while
//!   taking the ring's.
//!
//! A handle handed out (a fetch's file slice, a flush in progress) stays open until its
//! last user drops it, evicted or not: those are in flight, bounded by the requests in
//! flight. Eviction closes only the cache's reference. Syncing through a reopened
//! handle is sound on Linux: `fsync` writes back the file's dirty pages whichever
//! descriptor wrote them, and a writeback error not yet seen by any descriptor is
//! reported to one opened later.
//!
//! Running out of descriptors anyway (sockets took them) sheds half of the cached
//! handles and retries once; if that fails too, the error goes to the operation that
//! needed the file, never to the process.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// How a file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Segment data: read, and append (`O_APPEND`: every write lands at the current end,
    /// also after a truncation).
    Append,
    /// Index files: positioned reads and writes.
    ReadWrite,
}

impl Access {
    fn open(self, path: &Path, create: bool) -> io::Result<File> {
        let mut options = OpenOptions::new();
        options.read(true).create(create);
        match self {
            Access::Append => options.append(true),
            Access::ReadWrite => options.write(true),
        };
        options.open(path)
    }
}

/// The process's budget of open segment and index files; cloning shares it.
#[derive(Debug, Clone)]
pub struct FileHandles(Arc<Budget>);

#[derive(Debug)]
struct Budget {
    limit: AtomicUsize,
    open: AtomicUsize,
    ring: Mutex<VecDeque<Weak<Slot>>>,
    opened_total: AtomicU64,
    evicted_total: AtomicU64,
    exhausted_total: AtomicU64,
}

/// Counters of a [`FileHandles`] budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHandleStats {
    /// The budget: most handles kept open at once.
    pub limit: usize,
    /// Handles the cache holds now.
    pub open: usize,
    /// Files opened since start (cache misses).
    pub opened_total: u64,
    /// Handles closed to stay within the budget.
    pub evicted_total: u64,
    /// Opens that found the process out of descriptors (`EMFILE`/`ENFILE`).
    pub exhausted_total: u64,
}

/// Budget of the process-wide default, until the broker sets one from its limit.
const DEFAULT_LIMIT: usize = 4096;

impl FileHandles {
    /// A budget of at most `limit` open handles (at least 1).
    pub fn new(limit: usize) -> FileHandles {
        FileHandles(Arc::new(Budget {
            limit: AtomicUsize::new(limit.max(1)),
            open: AtomicUsize::new(0),
            ring: Mutex::new(VecDeque::new()),
            opened_total: AtomicU64::new(0),
            evicted_total: AtomicU64::new(0),
            exhausted_total: AtomicU64::new(0),
        }))
    }

    /// The process-wide budget that [`crate::Log::open`] uses.
    pub fn global() -> &'static FileHandles {
        static GLOBAL: OnceLock<FileHandles> = OnceLock::new();
        GLOBAL.get_or_init(|| FileHandles::new(DEFAULT_LIMIT))
    }

    /// Changes the budget; handles above it are closed at once.
    pub fn set_limit(&self, limit: usize) {
        self.0.limit.store(limit.max(1), Ordering::Relaxed);
        self.0.evict_over_limit();
    }

    /// Current counters.
    pub fn stats(&self) -> FileHandleStats {
        let b = &self.0;
        FileHandleStats {
            limit: b.limit.load(Ordering::Relaxed),
            open: b.open.load(Ordering::Relaxed),
            opened_total: b.opened_total.load(Ordering::Relaxed),
            evicted_total: b.evicted_total.load(Ordering::Relaxed),
            exhausted_total: b.exhausted_total.load(Ordering::Relaxed),
        }
    }

    /// Creates (or truncates) the file at `path` and returns it as a cached file
    /// holding its handle.
    pub(crate) fn create(&self, path: PathBuf, access: Access) -> io::Result<CachedFile> {
        let file = self.0.open_file(&path, access, true)?;
        file.set_len(0)?;
        let meta = file.metadata()?;
        let cached = self.cached(path, access, Identity::of(&meta));
        cached.install(file);
        Ok(cached)
    }

    /// An existing file at `path`, not opened (one `stat`), with its length.
    pub(crate) fn existing(&self, path: PathBuf, access: Access) -> io::Result<(CachedFile, u64)> {
        let meta = std::fs::metadata(&path)?;
        let len = meta.len();
        Ok((self.cached(path, access, Identity::of(&meta)), len))
    }

    fn cached(&self, path: PathBuf, access: Access, identity: Identity) -> CachedFile {
        CachedFile {
            path,
            access,
            identity,
            slot: Arc::new(Slot {
                file: Mutex::new(None),
                used: AtomicBool::new(true),
                queued: AtomicBool::new(false),
                budget: Arc::clone(&self.0),
            }),
        }
    }
}

fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

impl Budget {
    /// Opens `path`; out of descriptors, sheds half the cached handles and tries once
    /// more.
    fn open_file(&self, path: &Path, access: Access, create: bool) -> io::Result<File> {
        self.opened_total.fetch_add(1, Ordering::Relaxed);
        match access.open(path, create) {
            Err(e) if out_of_descriptors(&e) => {
                self.exhausted_total.fetch_add(1, Ordering::Relaxed);
                self.evict_over_limit_to(self.open.load(Ordering::Relaxed) / 2);
                access.open(path, create).inspect_err(|e| {
                    tracing::warn!(file = %path.display(), error = %e, "cannot open a log file: the process is out of file descriptors");
                })
            }
            other => other,
        }
    }

    fn evict_over_limit(&self) {
        self.evict_over_limit_to(self.limit.load(Ordering::Relaxed));
    }

    /// Clock sweep: closes handles not used since the sweep last passed them until at
    /// most `target` are open (or every slot was looked at twice).
    fn evict_over_limit_to(&self, target: usize) {
        if self.open.load(Ordering::Relaxed) <= target {
            return;
        }
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let mut steps = ring.len() * 2;
        while self.open.load(Ordering::Relaxed) > target && steps > 0 {
            steps -= 1;
            let Some(weak) = ring.pop_front() else { break };
            let Some(slot) = weak.upgrade() else { continue };
            if slot.used.swap(false, Ordering::Relaxed) {
                ring.push_back(weak);
                continue;
            }
            slot.queued.store(false, Ordering::Relaxed);
            let taken = slot.lock().take();
            if taken.is_some() {
                self.open.fetch_sub(1, Ordering::Relaxed);
                self.evicted_total.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counts a slot that now holds a handle and puts it in the ring.
    fn admit(&self, slot: &Arc<Slot>) {
        self.open.fetch_add(1, Ordering::Relaxed);
        {
            let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
            if !slot.queued.swap(true, Ordering::Relaxed) {
                ring.push_back(Arc::downgrade(slot));
            }
        }
        // Leave the newcomer alone: it was just used.
        self.evict_over_limit();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
}

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Identity {
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

#[derive(Debug)]
struct Slot {
    file: Mutex<Option<Arc<File>>>,
    /// Used since the clock sweep last passed it.
    used: AtomicBool,
    /// In the ring (changed only under the ring lock).
    queued: AtomicBool,
    /// The budget it counts in (the ring holds slots weakly: no cycle).
    budget: Arc<Budget>,
}

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<File>>> {
        self.file.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let held = self
            .file
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if held.is_some() {
            self.budget.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// One segment or index file, opened on demand within the [`FileHandles`] budget.
#[derive(Debug)]
pub struct CachedFile {
    path: PathBuf,
    access: Access,
    identity: Identity,
    slot: Arc<Slot>,
}

impl CachedFile {
    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An open handle to the file: the cached one, or a fresh one (which may close
    /// another file's cached handle). Fails if the file cannot be opened, or if its
    /// path now names another file.
    pub fn get(&self) -> io::Result<Arc<File>> {
        if let Some(file) = self.slot.lock().as_ref() {
            self.slot.used.store(true, Ordering::Relaxed);
            return Ok(Arc::clone(file));
        }
        if crate::no_wait::active() {
            // Opening may wait for the disk (and close another file's handle).
            return Err(crate::no_wait::would_block());
        }
        let file = self.slot.budget.open_file(&self.path, self.access, false)?;
        if Identity::of(&file.metadata()?) != self.identity {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} was replaced by another file", self.path.display()),
            ));
        }
        Ok(self.install(file))
    }

    /// Puts `file` in the slot unless another thread did first; returns the held one.
    fn install(&self, file: File) -> Arc<File> {
        let file = {
            let mut held = self.slot.lock();
            if let Some(existing) = held.as_ref() {
                return Arc::clone(existing);
            }
            let file = Arc::new(file);
            *held = Some(Arc::clone(&file));
            file
        };
        self.slot.used.store(true, Ordering::Relaxed);
        self.slot.budget.admit(&self.slot);
        file
    }

    /// Whether `file` is this file (same device and inode).
    pub fn is(&self, file: &File) -> bool {
        file.metadata()
            .is_ok_and(|meta| Identity::of(&meta) == self.identity)
    }

    /// Whether the cache holds a handle for it now.
    pub fn is_open(&self) -> bool {
        self.slot.lock().is_some()
    }

    /// Replaces the held handle (tests inject failing handles this way; a budget that
    /// evicts it would bring the real file back).
    #[cfg(test)]
    pub(crate) fn replace_handle(&self, file: File) {
        let had = self.slot.lock().replace(Arc::new(file)).is_some();
        if !had {
            self.slot.budget.admit(&self.slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::FileExt;

    fn files(dir: &Path, handles: &FileHandles, n: usize) -> Vec<CachedFile> {
        (0..n)
            .map(|i| {
                let f = handles
                    .create(dir.join(format!("{i}.log")), Access::Append)
                    .expect("create");
                (&*f.get().expect("get"))
                    .write_all(&[i as u8; 8])
                    .expect("write");
                f
            })
            .collect()
    }

    #[test]
    fn never_more_handles_open_than_the_budget() {
        let dir = tempfile::tempdir().expect("tempdir");
        let handles = FileHandles::new(3);
        let all = files(dir.path(), &handles, 10);
        for round in 0..5 {
            for (i, f) in all.iter().enumerate() {
                let mut buf = [0u8; 8];
                f.get()
                    .expect("get")
                    .read_exact_at(&mut buf, 0)
                    .expect("read");
                assert_eq!(buf, [i as u8; 8], "round {round}, file {i}");
                assert!(handles.stats().open <= 3, "{:?}", handles.stats());
            }
        }
        let held = all.iter().filter(|f| f.is_open()).count();
        assert_eq!(held, handles.stats().open);
        assert!(handles.stats().evicted_total > 0);
        drop(all);
        assert_eq!(handles.stats().open, 0);
    }

    #[test]
    fn a_recently_used_handle_survives_the_sweep() {
        let dir = tempfile::tempdir().expect("tempdir");
        let handles = FileHandles::new(4);
        // Five files in a budget of four: the sweep has passed every handle once.
        let all = files(dir.path(), &handles, 5);
        assert!(!all[0].is_open());
        let hot = &all[1];
        hot.get().expect("get");
        // A sixth needs a slot: the sweep passes `hot`, used since, and closes a cold one.
        let extra = handles
            .create(dir.path().join("x.log"), Access::Append)
            .expect("create");
        assert!(hot.is_open());
        assert!(!all[2].is_open());
        assert!(extra.is_open());
        assert_eq!(handles.stats().open, 4);
    }

    #[test]
    fn a_path_renamed_over_is_an_error_not_other_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let handles = FileHandles::new(1);
        let all = files(dir.path(), &handles, 2);
        assert!(!all[0].is_open());
        std::fs::write(dir.path().join("other"), b"other data").expect("write");
        std::fs::rename(dir.path().join("other"), dir.path().join("0.log")).expect("rename");
        let err = all[0].get().expect_err("replaced");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn an_evicted_handle_in_use_keeps_reading_a_deleted_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let handles = FileHandles::new(1);
        let all = files(dir.path(), &handles, 1);
        let held = all[0].get().expect("get");
        std::fs::remove_file(all[0].path()).expect("remove");
        handles
            .create(dir.path().join("y.log"), Access::Append)
            .expect("create");
        assert!(!all[0].is_open());
        let mut buf = [0u8; 8];
        held.read_exact_at(&mut buf, 0).expect("read");
        assert_eq!(buf, [0u8; 8]);
        assert_eq!(
            all[0].get().expect_err("gone").kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn concurrent_users_stay_within_the_budget() {
        let dir = tempfile::tempdir().expect("tempdir");
        let handles = FileHandles::new(5);
        let all = Arc::new(files(dir.path(), &handles, 40));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let all = Arc::clone(&all);
                std::thread::spawn(move || {
                    for i in 0..2000 {
                        let k = (i * 7 + t * 13) % all.len();
                        let mut buf = [0u8; 8];
                        all[k]
                            .get()
                            .expect("get")
                            .read_exact_at(&mut buf, 0)
                            .expect("read");
                        assert_eq!(buf, [k as u8; 8]);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let stats = handles.stats();
        let held = all.iter().filter(|f| f.is_open()).count();
        assert_eq!(held, stats.open, "{stats:?}");
        assert!(stats.open <= 5, "{stats:?}");
    }
}
