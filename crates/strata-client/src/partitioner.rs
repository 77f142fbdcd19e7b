//! Choosing a partition for a record, compatible with the Java client's default partitioner:
//! keyed records go to `to_positive(murmur2(key)) % partitions`, so a key lands on the same
//! partition whichever client produced it; unkeyed records stick to one partition until a batch
//! for it is started, then move on (KIP-480), which keeps batches large under low load.

use std::collections::HashMap;

use rand::Rng;

/// Kafka's seed for murmur2.
const SEED: u32 = 0x9747_b28c;
const M: u32 = 0x5bd1_e995;
const R: u32 = 24;

/// The 32-bit MurmurHash2 variant Kafka uses for key partitioning (seed `0x9747b28c`,
/// 4-byte little-endian blocks, tail bytes mixed in from highest to lowest).
pub fn murmur2(data: &[u8]) -> i32 {
    let mut h: u32 = SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        if tail.len() >= 3 {
            h ^= u32::from(tail[2]) << 16;
        }
        if tail.len() >= 2 {
            h ^= u32::from(tail[1]) << 8;
        }
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Clears the sign bit, as Kafka's `Utils.toPositive` does (not `abs`, which overflows).
pub fn to_positive(x: i32) -> i32 {
    x & 0x7fff_ffff
}

/// The partition a keyed record goes to, out of `num_partitions` (> 0).
pub fn partition_for_key(key: &[u8], num_partitions: i32) -> i32 {
    to_positive(murmur2(key)) % num_partitions.max(1)
}

/// Sticky partition choice for records without a key, per topic.
#[derive(Debug, Default)]
pub struct StickyPartitioner {
    current: HashMap<String, i32>,
}

impl StickyPartitioner {
    /// A partitioner with no sticky choices yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The partition unkeyed records of `topic` currently go to, choosing one if needed.
    pub fn partition<G: Rng>(&mut self, topic: &str, num_partitions: i32, rng: &mut G) -> i32 {
        let n = num_partitions.max(1);
        match self.current.get(topic) {
            Some(&p) if p < n => p,
            _ => {
                let p = rng.gen_range(0..n);
                self.current.insert(topic.to_string(), p);
                p
            }
        }
    }

    /// Called when a record for `topic` would start a new batch on `prev`, the sticky partition:
    /// that batch is done, so switch to a different partition (any other, uniformly). Returns the
    /// new sticky partition. If another caller already switched away from `prev`, keeps theirs.
    pub fn on_new_batch<G: Rng>(
        &mut self,
        topic: &str,
        prev: i32,
        num_partitions: i32,
        rng: &mut G,
    ) -> i32 {
        let n = num_partitions.max(1);
        if let Some(&cur) = self.current.get(topic) {
            if cur != prev && cur < n {
                return cur;
            }
        }
        let next = if n == 1 {
            0
        } else {
            // Pick among the n-1 others without rejection sampling.
            let r = rng.gen_range(0..n - 1);
            if r >= prev {
                r + 1
            } else {
                r
            }
        };
        self.current.insert(topic.to_string(), next);
        next
    }
}

#[cfg(test)]
#[path = "partitioner_vectors.rs"]
mod vectors;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn to_positive_clears_only_the_sign_bit() {
        assert_eq!(to_positive(-1), 0x7fff_ffff);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(42), 42);
    }

    #[test]
    fn keyed_partition_is_stable_and_in_range() {
        for n in 1..20 {
            for k in 0..200u32 {
                let key = k.to_string();
                let p = partition_for_key(key.as_bytes(), n);
                assert!((0..n).contains(&p));
                assert_eq!(p, partition_for_key(key.as_bytes(), n));
            }
        }
    }

    #[test]
    fn sticky_stays_until_new_batch_then_moves() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut s = StickyPartitioner::new();
        let first = s.partition("t", 6, &mut rng);
        for _ in 0..100 {
            assert_eq!(s.partition("t", 6, &mut rng), first);
        }
        let next = s.on_new_batch("t", first, 6, &mut rng);
        assert_ne!(next, first);
        assert_eq!(s.partition("t", 6, &mut rng), next);
        // A stale notification about the old partition does not move it again.
        assert_eq!(s.on_new_batch("t", first, 6, &mut rng), next);
    }

    #[test]
    fn sticky_switch_visits_every_partition() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut s = StickyPartitioner::new();
        let mut seen = [0u32; 4];
        let mut p = s.partition("t", 4, &mut rng);
        for _ in 0..400 {
            p = s.on_new_batch("t", p, 4, &mut rng);
            seen[p as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 50), "{seen:?}");
    }

    #[test]
    fn sticky_single_partition_and_topics_are_independent() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut s = StickyPartitioner::new();
        assert_eq!(s.partition("one", 1, &mut rng), 0);
        assert_eq!(s.on_new_batch("one", 0, 1, &mut rng), 0);
        let a = s.partition("a", 1000, &mut rng);
        let b = s.partition("b", 1000, &mut rng);
        s.on_new_batch("a", a, 1000, &mut rng);
        assert_eq!(s.partition("b", 1000, &mut rng), b);
    }

    #[test]
    fn sticky_choice_revalidated_when_partition_count_shrinks() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut s = StickyPartitioner::new();
        s.current.insert("t".into(), 9);
        let p = s.partition("t", 3, &mut rng);
        assert!((0..3).contains(&p));
    }
}
