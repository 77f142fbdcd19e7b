//! The range assignor: for each topic on its own, the members subscribed to it (in
//! [`sorted_members`] order) get consecutive ranges of partitions; the first
//! `partitions % members` members get one extra.

use std::collections::BTreeMap;

use super::{sorted_members, MemberSubscription};
use crate::offsets::TopicPartition;

/// Assigns per topic in consecutive ranges. Every member gets an entry, possibly empty.
pub fn range_assign(
    partitions_per_topic: &BTreeMap<String, i32>,
    members: &[MemberSubscription],
) -> BTreeMap<String, Vec<TopicPartition>> {
    let ordered = sorted_members(members);
    let mut out: BTreeMap<String, Vec<TopicPartition>> = members
        .iter()
        .map(|m| (m.member_id.clone(), Vec::new()))
        .collect();
    for (topic, &count) in partitions_per_topic {
        let subscribers: Vec<&str> = ordered
            .iter()
            .filter(|m| m.subscription.topics.contains(topic))
            .map(|m| m.member_id.as_str())
            .collect();
        if subscribers.is_empty() || count <= 0 {
            continue;
        }
        let n = subscribers.len() as i32;
        let per = count / n;
        let extra = count % n;
        for (i, member) in subscribers.iter().enumerate() {
            let i = i as i32;
            let start = per * i + i.min(extra);
            let len = per + i32::from(i < extra);
            if let Some(list) = out.get_mut(*member) {
                list.extend((start..start + len).map(|p| (topic.clone(), p)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_complete, member, topics};
    use super::*;

    fn tps(v: &[(&str, i32)]) -> Vec<TopicPartition> {
        v.iter().map(|(t, p)| (t.to_string(), *p)).collect()
    }

    #[test]
    fn splits_each_topic_into_ranges() {
        let parts = topics(&[("t0", 3), ("t1", 3)]);
        let members = vec![
            member("c1", &["t0", "t1"], &[], -1),
            member("c0", &["t0", "t1"], &[], -1),
        ];
        let r = range_assign(&parts, &members);
        assert_complete(&parts, &members, &r);
        // c0 sorts first, so it takes the larger range of each topic.
        assert_eq!(r["c0"], tps(&[("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)]));
        assert_eq!(r["c1"], tps(&[("t0", 2), ("t1", 2)]));
    }

    #[test]
    fn only_subscribers_share_a_topic() {
        let parts = topics(&[("a", 4), ("b", 2), ("unwanted", 5)]);
        let members = vec![
            member("m1", &["a"], &[], -1),
            member("m2", &["a", "b"], &[], -1),
            member("m3", &["b"], &[], -1),
        ];
        let r = range_assign(&parts, &members);
        assert_complete(&parts, &members, &r);
        assert_eq!(r["m1"], tps(&[("a", 0), ("a", 1)]));
        assert_eq!(r["m2"], tps(&[("a", 2), ("a", 3), ("b", 0)]));
        assert_eq!(r["m3"], tps(&[("b", 1)]));
    }

    #[test]
    fn more_members_than_partitions_leaves_some_idle() {
        let parts = topics(&[("t", 2)]);
        let members: Vec<_> = (0..4)
            .map(|i| member(&format!("m{i}"), &["t"], &[], -1))
            .collect();
        let r = range_assign(&parts, &members);
        assert_complete(&parts, &members, &r);
        assert_eq!(r["m0"].len() + r["m1"].len(), 2);
        assert!(r["m2"].is_empty() && r["m3"].is_empty());
    }

    #[test]
    fn balanced_within_one_per_topic_and_deterministic() {
        for n_parts in 0..12 {
            for n_members in 1..6 {
                let parts = topics(&[("t", n_parts)]);
                let mut members: Vec<_> = (0..n_members)
                    .map(|i| member(&format!("m{i}"), &["t"], &[], -1))
                    .collect();
                let r = range_assign(&parts, &members);
                assert_complete(&parts, &members, &r);
                let sizes: Vec<usize> = r.values().map(Vec::len).collect();
                let (min, max) = (sizes.iter().min().copied(), sizes.iter().max().copied());
                assert!(max.unwrap_or(0) - min.unwrap_or(0) <= 1, "{sizes:?}");
                members.reverse();
                assert_eq!(
                    range_assign(&parts, &members),
                    r,
                    "input order must not matter"
                );
            }
        }
    }
}
