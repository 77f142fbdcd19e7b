//! Slowing down repeated authentication failures from one address.
//!
//! Each failure from an address raises its level by one; the delay before
//! the failure is answered doubles with the level, from 100 ms up to 5 s.
//! Every full minute without a failure lowers the level by one, and a
//! success forgets the address. Memory is bounded: past `max_tracked`
//! addresses, the one that failed least recently is forgotten.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Delay for the first failure.
pub const BASE_DELAY: Duration = Duration::from_millis(100);
/// Longest delay.
pub const MAX_DELAY: Duration = Duration::from_secs(5);
/// Quiet time after which an address's level drops by one.
pub const DECAY_PERIOD: Duration = Duration::from_secs(60);
/// Highest level kept: the first at which the delay reaches [`MAX_DELAY`].
const MAX_LEVEL: u32 = 7;

/// Tracks recent failures per address.
#[derive(Debug)]
pub struct FailureThrottle {
    max_tracked: usize,
    entries: HashMap<IpAddr, Entry>,
    /// Addresses by the sequence number of their last failure, oldest first.
    by_age: BTreeMap<u64, IpAddr>,
    next_seq: u64,
}

#[derive(Debug)]
struct Entry {
    level: u32,
    last_failure: Instant,
    seq: u64,
}

impl FailureThrottle {
    /// A throttle remembering at most `max_tracked` addresses (at least one).
    pub fn new(max_tracked: usize) -> Self {
        FailureThrottle {
            max_tracked: max_tracked.max(1),
            entries: HashMap::new(),
            by_age: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// Records a failure from `ip` at `now` and returns how long to wait
    /// before answering it: 100 ms for a first failure, doubling with each
    /// further recent one, at most 5 s.
    pub fn on_failure(&mut self, ip: IpAddr, now: Instant) -> Duration {
        let seq = self.next_seq;
        self.next_seq += 1;
        let level = match self.entries.get_mut(&ip) {
            Some(entry) => {
                let quiet = now.saturating_duration_since(entry.last_failure);
                let decay = quiet.as_secs() / DECAY_PERIOD.as_secs();
                let decayed = u64::from(entry.level).saturating_sub(decay) as u32;
                entry.level = (decayed + 1).min(MAX_LEVEL);
                entry.last_failure = entry.last_failure.max(now);
                self.by_age.remove(&entry.seq);
                entry.seq = seq;
                entry.level
            }
            None => {
                self.entries.insert(
                    ip,
                    Entry {
                        level: 1,
                        last_failure: now,
                        seq,
                    },
                );
                1
            }
        };
        self.by_age.insert(seq, ip);
        while self.entries.len() > self.max_tracked {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        delay_for(level)
    }

    /// Forgets `ip` after a successful authentication.
    pub fn on_success(&mut self, ip: IpAddr) {
        if let Some(entry) = self.entries.remove(&ip) {
            self.by_age.remove(&entry.seq);
        }
    }

    /// Number of addresses tracked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no address is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn delay_for(level: u32) -> Duration {
    let factor = 1u32 << level.saturating_sub(1).min(16);
    BASE_DELAY.saturating_mul(factor).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let mut t = FailureThrottle::new(16);
        let now = Instant::now();
        let delays: Vec<Duration> = (0..10).map(|i| t.on_failure(ip(1), now + ms(i))).collect();
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000].map(ms)
        );
        // Another address starts at the bottom.
        assert_eq!(t.on_failure(ip(2), now), ms(100));
    }

    #[test]
    fn decays_after_quiet_minutes() {
        let mut t = FailureThrottle::new(16);
        let start = Instant::now();
        for _ in 0..4 {
            t.on_failure(ip(1), start);
        }
        // Level 4; 59 s later nothing has decayed: level 5.
        assert_eq!(
            t.on_failure(ip(1), start + Duration::from_secs(59)),
            ms(1600)
        );
        // Two quiet minutes: 5 - 2 + 1 = 4.
        let later = start + Duration::from_secs(59 + 120);
        assert_eq!(t.on_failure(ip(1), later), ms(800));
        // A long silence starts over.
        assert_eq!(
            t.on_failure(ip(1), later + Duration::from_secs(3600)),
            ms(100)
        );
    }

    #[test]
    fn success_forgets() {
        let mut t = FailureThrottle::new(16);
        let now = Instant::now();
        t.on_failure(ip(1), now);
        t.on_failure(ip(1), now);
        t.on_success(ip(1));
        assert!(t.is_empty());
        assert_eq!(t.on_failure(ip(1), now), ms(100));
        t.on_success(ip(9));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn memory_is_bounded_and_oldest_evicted() {
        let mut t = FailureThrottle::new(3);
        let now = Instant::now();
        t.on_failure(ip(1), now);
        t.on_failure(ip(1), now);
        t.on_failure(ip(2), now);
        t.on_failure(ip(3), now);
        // ip 1 failed again most recently, so ip 2 is the oldest.
        t.on_failure(ip(1), now);
        t.on_failure(ip(4), now);
        assert_eq!(t.len(), 3);
        assert_eq!(t.on_failure(ip(1), now), ms(800));
        assert_eq!(t.on_failure(ip(2), now), ms(100));
        for n in 0..=255 {
            t.on_failure(ip(n), now);
        }
        assert_eq!(t.len(), 3);
        assert_eq!(t.by_age.len(), 3);
    }

    #[test]
    fn clock_going_backwards_is_harmless() {
        let mut t = FailureThrottle::new(4);
        let now = Instant::now() + Duration::from_secs(10);
        t.on_failure(ip(1), now);
        assert_eq!(t.on_failure(ip(1), now - Duration::from_secs(5)), ms(200));
    }
}
