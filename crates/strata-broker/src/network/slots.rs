//! Connection limits: `max.connections` (broker-wide) and `max.connections.per.ip`
//! (with `max.connections.per.ip.overrides`), as in Kafka.
//!
//! At `max.connections` the listener stops accepting until a connection closes (new
//! clients wait in the kernel's backlog). A connection over its address's limit is
//! accepted and closed at once. Only the listener task admits connections; a connection
//! gives its place back with [`ConnectionSlots::release`] when it ends. Nothing here is
//! touched per request.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Its address already has `limit` connections.
    PerIp { limit: usize },
}

/// The broker's connection places.
pub(crate) struct ConnectionSlots {
    max: usize,
    open: AtomicUsize,
    freed: Notify,
    per_ip_default: usize,
    overrides: BTreeMap<IpAddr, usize>,
    /// Connections per address; `None` when no per-address limit is configured.
    per_ip: Option<Mutex<HashMap<IpAddr, usize>>>,
}

impl ConnectionSlots {
    pub(crate) fn new(
        max: usize,
        per_ip_default: usize,
        overrides: BTreeMap<IpAddr, usize>,
    ) -> Self {
        let tracked = per_ip_default != usize::MAX || !overrides.is_empty();
        Self {
            max: max.max(1),
            open: AtomicUsize::new(0),
            freed: Notify::new(),
            per_ip_default,
            overrides,
            per_ip: tracked.then(|| Mutex::new(HashMap::new())),
        }
    }

    /// The broker-wide limit in force.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Whether a new connection would fit under `max.connections`.
    pub(crate) fn has_room(&self) -> bool {
        self.open.load(Ordering::SeqCst) < self.max
    }

    /// Waits until a connection closes (call when [`Self::has_room`] is false).
    pub(crate) async fn wait_for_room(&self) {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.has_room() {
                return;
            }
            freed.await;
        }
    }

    /// The limit for connections from `ip`.
    pub(crate) fn limit_for(&self, ip: IpAddr) -> usize {
        self.overrides
            .get(&ip)
            .copied()
            .unwrap_or(self.per_ip_default)
    }

    /// Admits a connection from `ip`, or refuses it. Called by the listener only, after
    /// [`Self::has_room`].
    pub(crate) fn admit(&self, ip: IpAddr) -> Result<(), Refused> {
        if let Some(per_ip) = &self.per_ip {
            let limit = self.limit_for(ip);
            let mut counts = per_ip.lock();
            let n = counts.entry(ip).or_insert(0);
            if *n >= limit {
                if *n == 0 {
                    counts.remove(&ip);
                }
                return Err(Refused::PerIp { limit });
            }
            *n += 1;
        }
        self.open.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Gives back the place of an admitted connection from `ip`.
    pub(crate) fn release(&self, ip: IpAddr) {
        if let Some(per_ip) = &self.per_ip {
            let mut counts = per_ip.lock();
            if let Some(n) = counts.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(&ip);
                }
            }
        }
        self.open.fetch_sub(1, Ordering::SeqCst);
        self.freed.notify_one();
    }

    /// Open connections.
    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_limits_and_overrides() {
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let c: IpAddr = "127.0.0.4".parse().unwrap();
        let slots = ConnectionSlots::new(10, 2, BTreeMap::from([(b, 3), (c, 0)]));
        slots.admit(a).unwrap();
        slots.admit(a).unwrap();
        assert_eq!(slots.admit(a).err(), Some(Refused::PerIp { limit: 2 }));
        for _ in 0..3 {
            slots.admit(b).unwrap();
        }
        assert!(slots.admit(b).is_err());
        assert!(slots.admit(c).is_err());
        assert_eq!(slots.open(), 5);
        slots.release(a);
        assert_eq!(slots.open(), 4);
        assert!(slots.admit(a).is_ok());
        assert!(slots.per_ip.as_ref().unwrap().lock().get(&c).is_none());
    }

    #[tokio::test]
    async fn the_broker_limit_waits_for_a_close() {
        let slots = ConnectionSlots::new(1, usize::MAX, BTreeMap::new());
        assert!(slots.per_ip.is_none());
        let ip = "127.0.0.1".parse().unwrap();
        slots.admit(ip).unwrap();
        assert!(!slots.has_room());
        let wait = slots.wait_for_room();
        tokio::pin!(wait);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(20), wait.as_mut())
                .await
                .is_err()
        );
        slots.release(ip);
        wait.await;
        assert!(slots.has_room());
    }
}
