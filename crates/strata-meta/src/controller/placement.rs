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

/// Like [`place_replicas`], but each partition's replicas go to as many different racks
/// as there are: brokers are taken in rack-alternating order (one from each rack in
/// turn, as Kafka does), so leaders spread over racks and brokers, and a follower whose
/// rack already holds a replica of the partition is skipped while another rack has none.
///
/// `brokers` are (id, rack) pairs, sorted by id and distinct.
pub fn place_replicas_rack_aware(
    brokers: &[(i32, String)],
    count: usize,
    replication_factor: usize,
    start: usize,
) -> Vec<Vec<i32>> {
    let n = brokers.len();
    if replication_factor == 0 || replication_factor > n {
        return Vec::new();
    }
    let mut by_rack: std::collections::BTreeMap<&str, Vec<i32>> = Default::default();
    for (id, rack) in brokers {
        by_rack.entry(rack.as_str()).or_default().push(*id);
    }
    let mut order = Vec::with_capacity(n);
    for round in 0.. {
        let before = order.len();
        order.extend(by_rack.values().filter_map(|ids| ids.get(round).copied()));
        if order.len() == before {
            break;
        }
    }
    let rack_of = |id: i32| {
        brokers
            .iter()
            .find(|(b, _)| *b == id)
            .map_or("", |(_, r)| r.as_str())
    };
    let racks = by_rack.len();
    (0..count)
        .map(|i| {
            let slot = (start % n) + i;
            let first = slot % n;
            let offset = (slot / n) % (n - 1).max(1);
            let mut replicas = vec![order[first]];
            let mut used = vec![rack_of(order[first])];
            let follower = |j: usize| order[(first + 1 + (offset + j) % (n - 1).max(1)) % n];
            for j in 0..n.saturating_sub(1) {
                if replicas.len() == replication_factor {
                    break;
                }
                let b = follower(j);
                let rack = rack_of(b);
                if replicas.contains(&b) || (used.len() < racks && used.contains(&rack)) {
                    continue;
                }
                replicas.push(b);
                if !used.contains(&rack) {
                    used.push(rack);
                }
            }
            // Racks exhausted: fill up with any broker not used yet.
            for j in 0..n.saturating_sub(1) {
                if replicas.len() == replication_factor {
                    break;
                }
                let b = follower(j);
                if !replicas.contains(&b) {
                    replicas.push(b);
                }
            }
            replicas
        })
        .collect()
}

/// Places replicas on `live` brokers, rack-aware when every one of them has a rack
/// and there are at least two racks.
pub(crate) fn place_for_image(
    image: &crate::MetadataImage,
    live: &[i32],
    count: usize,
    replication_factor: usize,
    start: usize,
) -> Vec<Vec<i32>> {
    let racked: Option<Vec<(i32, String)>> = live
        .iter()
        .map(|id| {
            image
                .broker(*id)
                .and_then(|b| b.rack.clone())
                .map(|r| (*id, r))
        })
        .collect();
    match racked {
        Some(r)
            if r.iter()
                .map(|(_, rack)| rack)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                > 1 =>
        {
            place_replicas_rack_aware(&r, count, replication_factor, start)
        }
        _ => place_replicas(live, count, replication_factor, start),
    }
}

#[cfg(test)]
mod rack_tests {
    use super::*;

    #[test]
    fn replicas_span_racks_and_leaders_spread() {
        let brokers: Vec<(i32, String)> = (1..=6).map(|id| (id, format!("r{}", id % 3))).collect();
        let placed = place_replicas_rack_aware(&brokers, 60, 3, 0);
        let rack = |id: i32| {
            brokers
                .iter()
                .find(|(b, _)| *b == id)
                .map(|(_, r)| r.clone())
        };
        let mut leaders = std::collections::BTreeMap::new();
        for replicas in &placed {
            assert_eq!(replicas.len(), 3);
            let racks: std::collections::BTreeSet<_> = replicas.iter().map(|b| rack(*b)).collect();
            assert_eq!(racks.len(), 3, "{replicas:?} share a rack");
            *leaders.entry(replicas[0]).or_insert(0) += 1;
        }
        assert_eq!(leaders.len(), 6);
        assert!(leaders.values().all(|&c| c == 10), "{leaders:?}");
    }

    #[test]
    fn more_replicas_than_racks_fill_up_with_distinct_brokers() {
        let brokers = vec![
            (1, "a".to_string()),
            (2, "a".to_string()),
            (3, "b".to_string()),
        ];
        for replicas in place_replicas_rack_aware(&brokers, 9, 3, 4) {
            let mut sorted = replicas.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, vec![1, 2, 3]);
        }
        for replicas in place_replicas_rack_aware(&brokers, 9, 2, 1) {
            let racks: std::collections::BTreeSet<_> = replicas
                .iter()
                .map(|b| if *b == 3 { "b" } else { "a" })
                .collect();
            assert_eq!(racks.len(), 2, "{replicas:?}");
        }
    }
}
