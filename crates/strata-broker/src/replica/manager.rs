//! The set of partition replicas on this broker, opened, re-configured and deleted as
//! the metadata image changes.
//!
//! Each partition directory holds `partition.metadata` with its topic id, so a topic
//! deleted and re-created under the same name never serves the old topic's data.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use strata_log::{Log, LogConfig, LogError};
use strata_meta::MetadataImage;
use uuid::Uuid;

use super::log_config::log_config_for;
use super::log_dirs::LogDirs;
use super::partition::Partition;

const TOPIC_ID_FILE: &str = "partition.metadata";

/// Hosted replicas: topic name → partition index → replica.
type ReplicaMap = HashMap<Arc<str>, BTreeMap<i32, Arc<Partition>>>;
/// What the image says this broker should host: (topic, partition) → (topic id, configs).
type Wanted<'a> = HashMap<
    (Arc<str>, i32),
    (
        Uuid,
        &'a BTreeMap<String, String>,
        &'a strata_meta::PartitionImage,
    ),
>;

/// Replicas moving between log dirs: (topic, partition) → the copy's progress.
type Moves = HashMap<(Arc<str>, i32), super::FutureReplica>;

/// A partition the image gives this broker that it does not host yet.
struct NewPartition<'a> {
    name: Arc<str>,
    index: i32,
    topic_id: Uuid,
    config: LogConfig,
    settings: super::TopicSettings,
    image: &'a strata_meta::PartitionImage,
}

/// Partition replicas by (topic name, partition index).
pub struct ReplicaManager {
    dirs: LogDirs,
    node_id: i32,
    topic_defaults: BTreeMap<String, String>,
    // Keyed by topic first so lookups borrow a `&str` without allocating.
    partitions: RwLock<ReplicaMap>,
    /// Notified when a sync left partitions it could not open or delete (see
    /// [`crate::broker`]'s `resync_loop`).
    pub retry: tokio::sync::Notify,
    /// Notified when a log write failed: the log dirs are probed at once.
    pub dir_suspected: tokio::sync::Notify,
    /// One sync at a time: two could otherwise both open the same new partition.
    syncing: parking_lot::Mutex<()>,
    /// Bumped after every sync (roles may have changed) and when a log dir fails;
    /// the follower fetchers wait on it instead of polling.
    generation: tokio::sync::watch::Sender<u64>,
    /// Replicas the image gives this broker that are in a failed log dir (or, while a
    /// dir is offline since the start, found in no online one): not served, not
    /// recreated, reported to the controller. Topic id by (topic, partition).
    offline: RwLock<HashMap<(Arc<str>, i32), Uuid>>,
    /// Set once the logs found at start are open: from then on a partition found in no
    /// log dir is new and is placed, even while a dir is offline.
    started: std::sync::atomic::AtomicBool,
    /// Replicas being moved to another log dir, and their copies' progress.
    moves: Arc<parking_lot::Mutex<Moves>>,
    /// Log dirs asked for (AlterReplicaLogDirs) for replicas not created yet.
    preferred: parking_lot::Mutex<HashMap<(Arc<str>, i32), usize>>,
    /// The blocking-thread hops every partition's append drainer runs in.
    append_hops: Arc<super::AppendHops>,
}

impl ReplicaManager {
    /// An empty manager placing logs in `dirs` (the first is the data dir).
    pub fn new(dirs: LogDirs, node_id: i32, topic_defaults: BTreeMap<String, String>) -> Self {
        Self {
            dirs,
            node_id,
            topic_defaults,
            partitions: RwLock::new(HashMap::new()),
            retry: tokio::sync::Notify::new(),
            dir_suspected: tokio::sync::Notify::new(),
            syncing: parking_lot::Mutex::new(()),
            generation: tokio::sync::watch::Sender::new(0),
            offline: RwLock::new(HashMap::new()),
            started: std::sync::atomic::AtomicBool::new(false),
            moves: Default::default(),
            preferred: Default::default(),
            append_hops: Default::default(),
        }
    }

    /// The copy in progress of `topic`/`partition` moving to another log dir.
    pub fn moving(&self, topic: &str, partition: i32) -> Option<super::FutureReplica> {
        self.moves
            .lock()
            .get(&(Arc::<str>::from(topic), partition))
            .copied()
    }

    /// Moves the replica of `topic`/`partition` into the log dir `path`
    /// (AlterReplicaLogDirs): at once if it is there already, in the background
    /// otherwise (see `move_dir.rs`). A replica this broker does not host yet is
    /// created there later (REPLICA_NOT_AVAILABLE now, as Kafka answers).
    pub fn alter_log_dir(
        &self,
        topic: &str,
        partition: i32,
        path: &Path,
    ) -> Result<(), kafka_protocol::ResponseError> {
        use kafka_protocol::ResponseError as E;
        let dest = self.dirs.position(path).ok_or(E::LogDirNotFound)?;
        if self.dirs.all()[dest].is_offline() || self.is_offline(topic, partition) {
            return Err(E::KafkaStorageError);
        }
        let key = (Arc::<str>::from(topic), partition);
        let Some(p) = self.get(topic, partition) else {
            self.preferred.lock().insert(key, dest);
            return Err(E::ReplicaNotAvailable);
        };
        // No future copies while a dir is offline (Kafka: they could end up in two).
        if self.dirs.any_offline() {
            return Err(E::KafkaStorageError);
        }
        {
            let mut moves = self.moves.lock();
            if let Some(m) = moves.get(&key) {
                return if m.dir == dest {
                    Ok(())
                } else {
                    Err(E::ReassignmentInProgress)
                };
            }
            moves.insert(
                key.clone(),
                super::FutureReplica {
                    dir: dest,
                    copied_bytes: 0,
                    copied_end: 0,
                },
            );
        }
        let moves = Arc::clone(&self.moves);
        let dest_root = self.dirs.all()[dest].path.clone();
        tokio::task::spawn_blocking(move || {
            let here = p.log_root_blocking();
            let result = if here.as_deref() == Some(dest_root.as_path()) {
                Ok(())
            } else {
                super::move_dir::move_blocking(&p, &dest_root, |bytes, end| {
                    if let Some(m) = moves.lock().get_mut(&key) {
                        m.copied_bytes = bytes;
                        m.copied_end = end;
                    }
                })
            };
            match result {
                Ok(()) => {
                    tracing::info!(topic = %p.topic, partition = p.index, dir = %dest_root.display(), "replica moved")
                }
                Err(e) => {
                    tracing::error!(topic = %p.topic, partition = p.index, error = %e, "replica move failed")
                }
            }
            moves.lock().remove(&key);
        });
        Ok(())
    }

    /// The log dirs.
    pub fn log_dirs(&self) -> &LogDirs {
        &self.dirs
    }

    /// Whether the replica of `topic`/`partition` is offline here (its log dir failed).
    pub fn is_offline(&self, topic: &str, partition: i32) -> bool {
        // Every request asks: with no dir offline (the usual case) a few atomic loads,
        // no lock and no key built.
        if !self.dirs.any_offline() {
            return false;
        }
        self.offline
            .read()
            .contains_key(&(Arc::<str>::from(topic), partition))
    }

    /// Every offline replica: (topic id, partition).
    pub fn offline_replicas(&self) -> Vec<(Uuid, i32)> {
        self.offline
            .read()
            .iter()
            .map(|((_, index), id)| (*id, *index))
            .collect()
    }

    /// Marks the logs found at start open (see `started`).
    pub fn mark_started(&self) {
        self.started
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Takes log dir `index` offline (until restart): its replicas stop being served
    /// (waiters answer at once) and become offline. Returns whether the dir was online.
    /// Blocking (takes log locks).
    pub fn fail_dir(&self, index: usize, why: &str) -> bool {
        if !self.dirs.fail(index, why) {
            return false;
        }
        let Some(root) = self.dirs.get(index).map(|d| d.path.clone()) else {
            return false;
        };
        // Log locks are taken outside the map's lock.
        let moved: Vec<Arc<Partition>> = self
            .all()
            .into_iter()
            .filter(|p| p.log_root_blocking().is_some_and(|r| r == root))
            .collect();
        {
            let mut map = self.partitions.write();
            for p in &moved {
                if let Some(parts) = map.get_mut(&p.topic) {
                    if parts.get(&p.index).is_some_and(|q| Arc::ptr_eq(q, p)) {
                        parts.remove(&p.index);
                    }
                }
            }
            map.retain(|_, parts| !parts.is_empty());
        }
        {
            let mut offline = self.offline.write();
            for p in &moved {
                offline.insert((p.topic.clone(), p.index), p.topic_id);
            }
        }
        for p in &moved {
            p.take_offline();
        }
        tracing::error!(dir = %root.display(), %why, partitions = moved.len(),
            "log dir failed: its partitions are offline on this broker until it restarts");
        self.generation.send_modify(|g| *g += 1);
        true
    }

    /// The replica of `topic`/`partition`, if this broker hosts it.
    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<Partition>> {
        self.partitions.read().get(topic)?.get(&partition).cloned()
    }

    /// Every hosted replica.
    pub fn all(&self) -> Vec<Arc<Partition>> {
        self.partitions
            .read()
            .values()
            .flat_map(|m| m.values().cloned())
            .collect()
    }

    /// The hosted replicas for which `wanted` holds, looked at under the map's read lock
    /// without taking a reference to the others (periodic loops over 100,000
    /// partitions, most of them idle).
    pub fn filter(&self, mut wanted: impl FnMut(&Partition) -> bool) -> Vec<Arc<Partition>> {
        self.partitions
            .read()
            .values()
            .flat_map(|m| m.values())
            .filter(|p| wanted(p))
            .cloned()
            .collect()
    }

    /// Opens logs for partitions this broker replicates and deletes those whose topic is
    /// gone. Blocking: run it on a blocking thread. `clean_shutdown` says whether the
    /// previous process stopped cleanly (logs then skip the recovery scan).
    ///
    /// A partition whose log cannot be opened or deleted (a failing disk, no file
    /// descriptors left) costs only that partition: the error is logged and the next
    /// sync tries again; every other partition is still brought up. Returns how many
    /// failed.
    pub fn sync_with_image(&self, image: &MetadataImage, clean_shutdown: bool) -> usize {
        let _one_at_a_time = self.syncing.lock();
        let mut failed = 0;
        let defaults = self.effective_defaults(image);
        let mut wanted: Wanted = HashMap::new();
        for topic in image.topics() {
            let name: Arc<str> = Arc::from(topic.name.as_str());
            for p in &topic.partitions {
                if p.replicas.contains(&self.node_id) {
                    wanted.insert(
                        (name.clone(), p.partition),
                        (topic.topic_id, &topic.configs, p),
                    );
                }
            }
        }
        // Drop replicas whose topic went away (or was re-created with a new id).
        let stale: Vec<Arc<Partition>> = {
            let mut map = self.partitions.write();
            let mut stale = Vec::new();
            for (name, parts) in map.iter_mut() {
                parts.retain(|index, p| {
                    let keep = wanted.get(&(name.clone(), *index)).map(|(id, _, _)| *id)
                        == Some(p.topic_id);
                    if !keep {
                        stale.push(Arc::clone(p));
                    }
                    keep
                });
            }
            map.retain(|_, parts| !parts.is_empty());
            stale
        };
        // Offline replicas of topics that went away are forgotten (their files are on a
        // failed dir: removed, if still there, at a later start).
        self.offline.write().retain(|(name, index), id| {
            wanted.get(&(name.clone(), *index)).map(|w| w.0) == Some(*id)
        });
        for p in stale {
            tracing::info!(topic = %p.topic, partition = p.index, "deleting partition log");
            if let Err(e) = p.delete_blocking() {
                failed += 1;
                tracing::error!(topic = %p.topic, partition = p.index, error = %e, "cannot delete the partition log");
            }
        }
        // Configs are per topic: worked out once per topic, not once per partition.
        let mut per_topic: HashMap<Arc<str>, (LogConfig, super::TopicSettings)> = HashMap::new();
        let mut new_partitions = Vec::new();
        for ((name, index), (topic_id, configs, image_partition)) in wanted {
            let (config, settings) = per_topic
                .entry(name.clone())
                .or_insert_with(|| {
                    (
                        log_config_for(&defaults, configs),
                        super::TopicSettings::from_configs(&defaults, configs),
                    )
                })
                .clone();
            let min_insync = settings.min_insync_replicas.max(1) as usize;
            if self.is_offline(&name, index) {
                continue;
            }
            match self.get(&name, index) {
                // Dynamic config changes reach open logs here.
                Some(p) => {
                    p.reconfigure_blocking(config, settings);
                    p.update_role(image_partition, self.node_id, min_insync);
                }
                None => new_partitions.push(NewPartition {
                    name,
                    index,
                    topic_id,
                    config,
                    settings,
                    image: image_partition,
                }),
            }
        }
        let opened = self.open_new(new_partitions, clean_shutdown);
        {
            let mut map = self.partitions.write();
            for result in opened {
                match result {
                    Ok(p) => {
                        map.entry(p.topic.clone()).or_default().insert(p.index, p);
                    }
                    Err(()) => failed += 1,
                }
            }
        }
        if failed > 0 {
            self.retry.notify_one();
        }
        self.generation.send_modify(|g| *g += 1);
        failed
    }

    /// Counts syncs with the metadata: unchanged, no replica changed its role.
    pub fn generation(&self) -> u64 {
        *self.generation.borrow()
    }

    /// Wakes its holder at each new [`Self::generation`].
    pub fn watch_generation(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Opens the logs of partitions new to this broker, on as many threads as there are
    /// cores (creating a topic of thousands of partitions is file-system bound, and the
    /// metadata apply waits for it). Failures are logged; they count as `Err(())`.
    fn open_new(
        &self,
        new: Vec<NewPartition<'_>>,
        clean_shutdown: bool,
    ) -> Vec<Result<Arc<Partition>, ()>> {
        let placed = self.place(new);
        // A thread that panicked opened none of its share for sure: all count as
        // failed, so the retry comes.
        super::on_cores::map_on_cores(
            placed,
            64,
            |(n, dir)| self.open_one(n, &dir, clean_shutdown),
            || Err(()),
        )
    }

    /// Where each new partition's log is: the online log dir holding its directory, or
    /// for a partition found nowhere the online dir with the fewest partitions. While a
    /// dir is offline since the start, a partition found nowhere may be in it: it is
    /// offline, not created empty elsewhere (Kafka's rule for non-new replicas).
    fn place<'a>(&self, new: Vec<NewPartition<'a>>) -> Vec<(NewPartition<'a>, PathBuf)> {
        let single = self.dirs.all().len() == 1;
        let mut counts = vec![0usize; self.dirs.all().len()];
        if !single {
            for p in self.all() {
                if let Some(i) = p.log_root_blocking().and_then(|r| self.dirs.position(&r)) {
                    counts[i] += 1;
                }
            }
        }
        let started = self.started.load(std::sync::atomic::Ordering::Acquire);
        let mut out = Vec::with_capacity(new.len());
        let mut offline = Vec::new();
        for n in new {
            let name = format!("{}-{}", n.name, n.index);
            let found = if single {
                (!self.dirs.any_offline()).then_some(0)
            } else {
                self.dirs.find(&name)
            };
            let asked = self.preferred.lock().remove(&(n.name.clone(), n.index));
            let asked = asked.filter(|&i| found.is_none() && !self.dirs.all()[i].is_offline());
            let index = match found.or(asked) {
                Some(i) => i,
                None if self.dirs.any_offline() && !started => {
                    offline.push(((n.name.clone(), n.index), n.topic_id));
                    continue;
                }
                None => match self.dirs.pick(&counts) {
                    Some(i) => i,
                    None => {
                        offline.push(((n.name.clone(), n.index), n.topic_id));
                        continue;
                    }
                },
            };
            counts[index] += 1;
            let dir = self.dirs.all()[index].path.join(name);
            out.push((n, dir));
        }
        if !offline.is_empty() {
            tracing::error!(
                partitions = offline.len(),
                "partitions whose log dir is offline are not served here"
            );
            self.offline.write().extend(offline);
        }
        out
    }

    fn open_one(
        &self,
        n: NewPartition<'_>,
        dir: &Path,
        clean_shutdown: bool,
    ) -> Result<Arc<Partition>, ()> {
        let dir = dir.to_path_buf();
        let opened =
            prepare_dir(&dir, n.topic_id).and_then(|()| Log::open(&dir, n.config, clean_shutdown));
        let log = opened.map_err(|e| {
            tracing::error!(topic = %n.name, partition = n.index, error = %e, "cannot open the partition log; retrying in a second");
        })?;
        let min_insync = n.settings.min_insync_replicas.max(1) as usize;
        let partition = Arc::new(
            Partition::new(n.name, n.topic_id, n.index, log).sharing_hops(&self.append_hops),
        );
        partition.reconfigure_blocking(partition.log_config_blocking(), n.settings);
        partition.update_role(n.image, self.node_id, min_insync);
        Ok(partition)
    }

    /// Topic-config defaults: the static broker settings, overlaid by the dynamic
    /// cluster-wide ones, overlaid by this broker's dynamic ones (Kafka's precedence).
    pub fn effective_defaults(&self, image: &MetadataImage) -> BTreeMap<String, String> {
        let mut out = self.topic_defaults.clone();
        for scope in [None, Some(self.node_id)] {
            for (k, v) in image.broker_configs(scope).into_iter().flatten() {
                if let Some(topic_key) = crate::config::topic_key_for(k) {
                    out.insert(topic_key.to_string(), v.clone());
                }
            }
        }
        out
    }

    /// Removes directories that belong to no hosted partition (left by a crash between a
    /// topic deletion and the removal of its files). Blocking.
    pub fn remove_orphans(&self) -> io::Result<()> {
        // A set: with 100,000 partitions a list made this quadratic (minutes at start).
        let hosted: std::collections::HashSet<PathBuf> = self
            .all()
            .iter()
            .filter_map(|p| p.log_dir_blocking())
            .collect();
        for dir in self.dirs.all().iter().filter(|d| !d.is_offline()) {
            for entry in std::fs::read_dir(&dir.path)? {
                let entry = entry?;
                let path = entry.path();
                // The hosted check first: a `stat` per hosted directory was 100,000
                // path walks at every start.
                if !hosted.contains(&path) && path.join(TOPIC_ID_FILE).exists() {
                    tracing::info!(dir = %path.display(), "removing orphaned partition directory");
                    std::fs::remove_dir_all(&path)?;
                }
            }
        }
        Ok(())
    }

    /// Closes every log cleanly, on every core and without an fsync each, then syncs
    /// the filesystem once: only then may the caller record a clean stop. Blocking.
    pub fn close_all(&self) -> Result<(), LogError> {
        let all: Vec<_> = self
            .partitions
            .write()
            .drain()
            .flat_map(|(_, m)| m.into_values())
            .collect();
        let closed = super::on_cores::map_on_cores(
            all,
            64,
            |p| {
                p.close_unsynced_blocking().map_err(|e| {
                    tracing::error!(topic = %p.topic, partition = p.index, error = %e, "close failed");
                    e
                })
            },
            || {
                Err(LogError::Io(io::Error::other(
                    "a log-closing thread panicked",
                )))
            },
        );
        let first_err = closed.into_iter().find_map(Result::err);
        for dir in self.dirs.all().iter().filter(|d| !d.is_offline()) {
            super::flush_many::syncfs(&dir.path).map_err(LogError::Io)?;
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// Makes sure `dir` belongs to `topic_id`: a directory left by an older topic of the same
/// name is removed first.
fn prepare_dir(dir: &Path, topic_id: Uuid) -> Result<(), LogError> {
    let id_file = dir.join(TOPIC_ID_FILE);
    match std::fs::read_to_string(&id_file) {
        Ok(text) if text.trim() == topic_id.to_string() => return Ok(()),
        Ok(_) => {
            tracing::info!(dir = %dir.display(), "removing data of an older topic with the same name");
            std::fs::remove_dir_all(dir).map_err(LogError::Io)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(LogError::Io(e)),
    }
    match std::fs::create_dir(dir) {
        // A new directory: nothing to replace, so no temp file (a temp file and rename
        // per partition free an inode each, which slows ext4's inode allocation for
        // minutes when thousands of partitions are created). A crash that tears the
        // write leaves an id that matches no topic: the empty directory is made again.
        Ok(()) => std::fs::write(&id_file, topic_id.to_string()).map_err(LogError::Io),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let tmp = dir.join(format!("{TOPIC_ID_FILE}.tmp"));
            std::fs::write(&tmp, topic_id.to_string()).map_err(LogError::Io)?;
            std::fs::rename(&tmp, &id_file).map_err(LogError::Io)
        }
        Err(e) => Err(LogError::Io(e)),
    }
}
