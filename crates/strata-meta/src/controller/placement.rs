//! Replica placement for new partitions.

/// Assigns `replication_factor` distinct brokers to each of `count` partitions.
///
/// Round-robin: the leader (first replica) of the i-th new partition is
/// `brokers[(start + i) % n]`, so leaders spread evenly, and `start` carries the
/// rotation across topics (callers pass the cluster's partition count). Followers
/// sit at a distance from the leader that changes every time the round-robin
/// wraps, so the same broker pairs are not always replicas together.
///
/// `brokers` must be sorted, distinct and hold at least `replication_factor`
/// ids; `replication_factor` must be at least 1. Otherwise nothing is returned.
pub fn place_replicas(
    brokers: &[i32],
    count: usize,
    replication_factor: usize,
    start: usize,
) -> Vec<Vec<i32>> {
    let n = brokers.len();
    if replication_factor == 0 || replication_factor > n {
        return Vec::new();
    }
    (0..count)
        .map(|i| {
            let slot = (start % n) + i;
            let first = slot % n;
            let shift = slot / n;
            let mut replicas = Vec::with_capacity(replication_factor);
            replicas.push(brokers[first]);
            // replication_factor > 1 implies n >= 2, so n - 1 is never zero here.
            for j in 0..replication_factor - 1 {
                let distance = 1 + (shift + j) % (n - 1);
                replicas.push(brokers[(first + distance) % n]);
            }
            replicas
        })
        .collect()
}
