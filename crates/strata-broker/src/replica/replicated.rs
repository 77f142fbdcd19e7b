//! A follower stores what it fetched from the leader: the batches of every partition in
//! one fetch response, and the leader's high watermark, with one blocking-pool hop per
//! few MiB of records instead of one per partition (a follower of thousands of
//! partitions gets responses that name them all). Partitions with nothing new and an
//! unchanged high watermark cost nothing.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use strata_log::{AppendInfo, LogError};

use super::Partition;

/// Most record bytes one blocking-pool hop appends.
const BYTES_PER_HOP: usize = 4 << 20;

/// One partition's part of a replica fetch response.
pub struct Fetched {
    pub partition: Arc<Partition>,
    /// Batches as the leader stored them (offsets and epochs kept); may be empty.
    pub records: Bytes,
    /// The leader's high watermark.
    pub leader_hw: i64,
    /// The role generation the fetch was sent under ([`Partition::follow_state`]).
    pub generation: u64,
}

impl Fetched {
    /// Whether storing this needs the log: records to append, or a high watermark that
    /// moves.
    fn needs_log(&self) -> bool {
        let p = &self.partition;
        !self.records.is_empty()
            || strata_replication::follower_high_watermark(self.leader_hw, p.log_end_offset())
                != p.high_watermark()
    }
}

impl Partition {
    /// Appends batches copied from the leader (offsets and epochs kept) and takes
    /// the leader's high watermark, capped at the local log end.
    ///
    /// `generation` is the role generation the fetch was sent under
    /// ([`Partition::follow_state`]). A response that arrives after the role changed
    /// (another leader or epoch, or leading now) is dropped: appended after the new
    /// role's truncation, a previous leader's batches would make this replica diverge.
    /// The check is made under the log lock, so a role change after it is followed by
    /// a truncation that sees what was appended.
    pub async fn append_replicated(
        self: &Arc<Self>,
        records: Bytes,
        leader_hw: i64,
        generation: u64,
    ) -> Result<Option<AppendInfo>, LogError> {
        let fetched = Fetched {
            partition: Arc::clone(self),
            records,
            leader_hw,
            generation,
        };
        let mut results = Partition::append_replicated_many(vec![fetched]).await;
        results.pop().unwrap_or(Ok(None))
    }

    /// [`Partition::append_replicated`] for every partition of one fetch response, with
    /// one blocking-pool hop per [`BYTES_PER_HOP`] of records (the hops run at once).
    /// Results come back in the order of `items`; `Ok(None)` when nothing was appended.
    pub async fn append_replicated_many(
        items: Vec<Fetched>,
    ) -> Vec<Result<Option<AppendInfo>, LogError>> {
        let mut results: Vec<Result<Option<AppendInfo>, LogError>> =
            (0..items.len()).map(|_| Ok(None)).collect();
        let mut hops = Vec::new();
        let mut group: Vec<(usize, Fetched)> = Vec::new();
        let mut group_bytes = 0;
        for (i, f) in items.into_iter().enumerate() {
            if !f.needs_log() {
                continue;
            }
            group_bytes += f.records.len();
            group.push((i, f));
            if group_bytes >= BYTES_PER_HOP {
                hops.push(spawn_hop(std::mem::take(&mut group)));
                group_bytes = 0;
            }
        }
        if !group.is_empty() {
            hops.push(spawn_hop(group));
        }
        for hop in hops {
            let (indexes, done) = hop;
            match done.await {
                Ok(stored) => {
                    for (i, r) in stored {
                        results[i] = r;
                    }
                }
                Err(e) => {
                    for i in indexes {
                        results[i] = Err(LogError::Io(std::io::Error::other(e.to_string())));
                    }
                }
            }
        }
        results
    }

    /// Stores one partition's fetched records and the leader's high watermark under
    /// one log lock. Blocking.
    fn store_fetched_blocking(&self, f: &Fetched) -> Result<Option<AppendInfo>, LogError> {
        let mut guard = self.log.lock();
        if self.role_generation.load(Ordering::Acquire) != f.generation {
            tracing::debug!(topic = %self.topic, partition = self.index, "fetch response from a previous role dropped");
            return Ok(None);
        }
        let log = guard
            .as_mut()
            .ok_or_else(|| LogError::Io(std::io::Error::other("partition is closed")))?;
        let info = if f.records.is_empty() {
            None
        } else {
            Some(log.append_as_follower(&f.records, crate::broker::now_ms())?)
        };
        self.refresh_offsets(log);
        let hw = strata_replication::follower_high_watermark(f.leader_hw, log.log_end_offset());
        let hw_moved = self.store_hw_locked(log, hw);
        drop(guard);
        if info.is_some() {
            self.appended.notify_waiters();
        }
        if hw_moved {
            self.hw_changed.notify_waiters();
        }
        Ok(info)
    }
}

type Hop = (
    Vec<usize>,
    tokio::task::JoinHandle<Vec<(usize, Result<Option<AppendInfo>, LogError>)>>,
);

fn spawn_hop(group: Vec<(usize, Fetched)>) -> Hop {
    let indexes = group.iter().map(|(i, _)| *i).collect();
    let handle = tokio::task::spawn_blocking(move || {
        group
            .into_iter()
            .map(|(i, f)| (i, f.partition.store_fetched_blocking(&f)))
            .collect()
    });
    (indexes, handle)
}
