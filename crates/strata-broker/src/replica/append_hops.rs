//! Blocking-thread hops for append drainers, shared by a broker's partitions.
//!
//! An append is written on a blocking thread (a buffered write may wait for the disk),
//! and handing work to one costs wake-ups on both sides. A partition whose drainer is
//! not running asks for a hop here; a hop that has been asked for but has not begun
//! takes in the partitions that ask after it, up to [`APPENDS_PER_HOP_BYTES`] of
//! records. So Produce requests that arrive together (librdkafka sends one per
//! partition, and a connection queues the next before the last is written, see
//! `handlers::turn`) share one hop instead of one each. A hop that has begun takes no
//! more: once running, an append is never held up behind work that queued after it.

use std::sync::Arc;

use parking_lot::Mutex;

use super::Partition;

/// Most record bytes one hop drains: large appends still run on several threads.
pub(super) const APPENDS_PER_HOP_BYTES: usize = 4 << 20;

/// The partitions of one hop, and whether its thread has taken them.
struct Hop {
    partitions: Vec<Arc<Partition>>,
    bytes: usize,
    begun: bool,
}

/// The hops of one broker's partitions (see the module doc).
#[derive(Default)]
pub struct AppendHops {
    // The hop asked for last, while it may still take partitions in.
    open: Mutex<Option<Arc<Mutex<Hop>>>>,
}

impl AppendHops {
    /// Has the drainers of `partitions` (holding `bytes` of queued records) run on a
    /// blocking thread: in the hop asked for last if it has not begun and has room,
    /// else in a new one.
    pub(super) fn drain(&self, partitions: Vec<Arc<Partition>>, bytes: usize) {
        self.drain_with(partitions, bytes, |hop| {
            tokio::task::spawn_blocking(hop);
        });
    }

    /// [`AppendHops::drain`] with the thread hand-off given by the caller.
    fn drain_with(
        &self,
        partitions: Vec<Arc<Partition>>,
        bytes: usize,
        spawn: impl FnOnce(Box<dyn FnOnce() + Send>),
    ) {
        let mut open = self.open.lock();
        if let Some(hop) = open.as_ref() {
            let mut h = hop.lock();
            if !h.begun && h.bytes.saturating_add(bytes) <= APPENDS_PER_HOP_BYTES {
                h.partitions.extend(partitions);
                h.bytes += bytes;
                return;
            }
        }
        let hop = Arc::new(Mutex::new(Hop {
            partitions,
            bytes,
            begun: false,
        }));
        *open = Some(Arc::clone(&hop));
        drop(open);
        spawn(Box::new(move || {
            let partitions = {
                let mut h = hop.lock();
                h.begun = true;
                std::mem::take(&mut h.partitions)
            };
            for p in partitions {
                p.drain_appends();
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::super::wait_tests::{image, one_batch};
    use super::*;
    use bytes::Bytes;
    use strata_log::{Log, LogConfig};

    type Spawned = Vec<Box<dyn FnOnce() + Send>>;

    fn partitions(dir: &std::path::Path, n: i32, hops: &Arc<AppendHops>) -> Vec<Arc<Partition>> {
        (0..n)
            .map(|i| {
                let log = Log::open(&dir.join(format!("t-{i}")), LogConfig::default(), false)
                    .expect("open");
                let p = Arc::new(
                    Partition::new("t".into(), uuid::Uuid::new_v4(), i, log).sharing_hops(hops),
                );
                p.update_role(&image(1, 1), 1, 1);
                p
            })
            .collect()
    }

    /// Queues one append on `p` and asks `hops` for a hop if `p` has no drainer.
    fn queue(
        hops: &AppendHops,
        p: &Arc<Partition>,
        spawned: &mut Spawned,
    ) -> super::super::QueuedAppend {
        let records = Bytes::from(one_batch());
        let len = records.len();
        let (append, must_drain) =
            p.enqueue_without_drainer(records, 1_700_000_000_000, false, false, None);
        if must_drain {
            hops.drain_with(vec![Arc::clone(p)], len, |hop| spawned.push(hop));
        }
        append
    }

    #[tokio::test]
    async fn appends_asking_before_a_hop_begins_share_it_and_later_ones_get_their_own() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hops = Arc::new(AppendHops::default());
        let ps = partitions(dir.path(), 3, &hops);
        let mut spawned: Spawned = Vec::new();
        let first = queue(&hops, &ps[0], &mut spawned);
        let second = queue(&hops, &ps[1], &mut spawned);
        // The same partition again: its drainer is asked for already.
        let third = queue(&hops, &ps[1], &mut spawned);
        assert_eq!(spawned.len(), 1, "one hop for all three");
        (spawned.pop().expect("hop"))();
        let mut offsets = Vec::new();
        for a in [first, second, third] {
            offsets.push(a.appended().await.expect("appended").base_offset);
        }
        assert_eq!(offsets, vec![0, 0, 1]);
        // The hop has run: the next partition asking gets a new one.
        let fourth = queue(&hops, &ps[2], &mut spawned);
        assert_eq!(spawned.len(), 1);
        (spawned.pop().expect("hop"))();
        assert_eq!(fourth.appended().await.expect("appended").base_offset, 0);
    }

    #[tokio::test]
    async fn a_hop_that_has_begun_takes_no_more_and_a_full_one_takes_no_more() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hops = Arc::new(AppendHops::default());
        let ps = partitions(dir.path(), 3, &hops);
        let mut spawned: Spawned = Vec::new();
        // A hop as good as full: the next asks for its own.
        hops.drain_with(Vec::new(), APPENDS_PER_HOP_BYTES, |hop| spawned.push(hop));
        let a = queue(&hops, &ps[0], &mut spawned);
        assert_eq!(spawned.len(), 2, "a full hop takes no more");
        // A hop that has begun (its thread took its partitions) takes no more either.
        let b = {
            let hop = spawned.pop().expect("hop");
            hop();
            queue(&hops, &ps[1], &mut spawned)
        };
        assert_eq!(spawned.len(), 2);
        for hop in spawned.drain(..) {
            hop();
        }
        assert_eq!(a.appended().await.expect("a").base_offset, 0);
        assert_eq!(b.appended().await.expect("b").base_offset, 0);
    }
}
