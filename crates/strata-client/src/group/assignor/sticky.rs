//! The cooperative-sticky assignor.
//!
//! Goals, in order: every partition of a subscribed topic goes to exactly one subscriber;
//! the load is balanced (no partition could move to an eligible member holding two or more
//! fewer); as few partitions as possible change owner; and, for the cooperative protocol, a
//! partition another member still claims is never handed out in the same round. Such a
//! partition is left out: its old owner sees it missing from its assignment, revokes it,
//! and rejoins, and the next round assigns it freely.
//!
//! Ownership claims come from the members' subscriptions (`owned_partitions` with
//! `generation_id`). When two members claim one partition, the newer generation wins; a tie
//! is a conflict and neither keeps it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use super::{sorted_members, MemberSubscription};
use crate::offsets::TopicPartition;

/// Assigns stickily and withholds partitions still owned elsewhere. Every member gets an
/// entry, possibly empty.
pub fn cooperative_sticky_assign(
    partitions_per_topic: &BTreeMap<String, i32>,
    members: &[MemberSubscription],
) -> BTreeMap<String, Vec<TopicPartition>> {
    let ordered = sorted_members(members);
    let target = sticky_balanced(partitions_per_topic, &ordered);
    // Raw claims, valid or not: anyone who still believes it owns a partition must give it up
    // before someone else may take it.
    let mut claimants: BTreeMap<&TopicPartition, BTreeSet<usize>> = BTreeMap::new();
    for (i, m) in ordered.iter().enumerate() {
        for tp in &m.subscription.owned_partitions {
            claimants.entry(tp).or_default().insert(i);
        }
    }
    ordered
        .iter()
        .zip(target)
        .enumerate()
        .map(|(i, (m, set))| {
            let kept = set
                .into_iter()
                .filter(|tp| claimants.get(tp).is_none_or(|c| c.iter().all(|&x| x == i)))
                .collect();
            (m.member_id.clone(), kept)
        })
        .collect()
}

/// The balanced, sticky target assignment per member (in `ordered`'s order), before the
/// cooperative hold-back.
fn sticky_balanced(
    partitions_per_topic: &BTreeMap<String, i32>,
    ordered: &[&MemberSubscription],
) -> Vec<BTreeSet<TopicPartition>> {
    let n = ordered.len();
    let subscribes =
        |i: usize, topic: &str| ordered[i].subscription.topics.iter().any(|t| t == topic);
    let eligible =
        |topic: &str| -> Vec<usize> { (0..n).filter(|&i| subscribes(i, topic)).collect() };

    let mut all: BTreeSet<TopicPartition> = BTreeSet::new();
    for (topic, &count) in partitions_per_topic {
        if (0..n).any(|i| subscribes(i, topic)) {
            all.extend((0..count.max(0)).map(|p| (topic.clone(), p)));
        }
    }

    // Who validly owned what: the partition still exists, the member still wants its topic,
    // and no other claim is at least as new.
    let mut claims: BTreeMap<&TopicPartition, Vec<(usize, i32)>> = BTreeMap::new();
    for (i, m) in ordered.iter().enumerate() {
        for tp in &m.subscription.owned_partitions {
            if all.contains(tp) && subscribes(i, &tp.0) {
                claims
                    .entry(tp)
                    .or_default()
                    .push((i, m.subscription.generation_id));
            }
        }
    }
    let mut previous_owner: BTreeMap<TopicPartition, usize> = BTreeMap::new();
    for (tp, cs) in claims {
        let newest = cs.iter().map(|c| c.1).max().unwrap_or(-1);
        let winners: Vec<usize> = cs.iter().filter(|c| c.1 == newest).map(|c| c.0).collect();
        if let [only] = winners[..] {
            previous_owner.insert(tp.clone(), only);
        }
    }

    let mut assigned: Vec<BTreeSet<TopicPartition>> = vec![BTreeSet::new(); n];
    for (tp, &i) in &previous_owner {
        assigned[i].insert(tp.clone());
    }

    // New and orphaned partitions: the most constrained first, each to its least-loaded
    // eligible member.
    let mut free: Vec<(usize, TopicPartition)> = all
        .iter()
        .filter(|tp| !previous_owner.contains_key(*tp))
        .map(|tp| (eligible(&tp.0).len(), tp.clone()))
        .collect();
    free.sort();
    for (_, tp) in free {
        let to = eligible(&tp.0)
            .into_iter()
            .min_by_key(|&i| (assigned[i].len(), i));
        if let Some(i) = to {
            assigned[i].insert(tp);
        }
    }

    // Even out: move from the most loaded to an eligible member with at least two fewer. Each
    // move lowers the sum of squared loads, so this ends.
    loop {
        let mut sources: Vec<usize> = (0..n).collect();
        sources.sort_by_key(|&i| (Reverse(assigned[i].len()), i));
        let mut chosen = None;
        'search: for &src in &sources {
            let load = assigned[src].len();
            // Partitions the source got only in this round move first: moving them revokes
            // nothing.
            let mut candidates: Vec<&TopicPartition> = assigned[src].iter().collect();
            candidates.sort_by_key(|tp| (previous_owner.get(*tp) == Some(&src), Reverse(*tp)));
            for tp in candidates {
                let dst = (0..n)
                    .filter(|&j| j != src && assigned[j].len() + 1 < load && subscribes(j, &tp.0))
                    .min_by_key(|&j| (assigned[j].len(), j));
                if let Some(dst) = dst {
                    chosen = Some((src, dst, tp.clone()));
                    break 'search;
                }
            }
        }
        let Some((src, dst, tp)) = chosen else { break };
        assigned[src].remove(&tp);
        assigned[dst].insert(tp);
    }
    assigned
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_complete, member, topics};
    use super::*;
    use proptest::prelude::*;

    type Result = BTreeMap<String, Vec<TopicPartition>>;

    /// Runs rounds the way the group does: each member's owned partitions are what it got last
    /// round, at a rising generation, until an assignment hands nothing back. Returns every
    /// round's result.
    fn converge(
        parts: &BTreeMap<String, i32>,
        mut members: Vec<MemberSubscription>,
    ) -> Vec<Result> {
        let mut rounds = Vec::new();
        let mut generation = members
            .iter()
            .map(|m| m.subscription.generation_id)
            .max()
            .unwrap_or(0);
        for _ in 0..4 {
            let r = cooperative_sticky_assign(parts, &members);
            check_no_double_ownership(&members, &r);
            generation += 1;
            let stable = members.iter().all(|m| {
                let owned: BTreeSet<_> = m.subscription.owned_partitions.iter().collect();
                let got: BTreeSet<_> = r[&m.member_id].iter().collect();
                // Nothing revoked means no member needs another round.
                owned.is_subset(&got)
            });
            for m in &mut members {
                m.subscription.owned_partitions = r[&m.member_id].clone();
                m.subscription.generation_id = generation;
            }
            rounds.push(r);
            if stable {
                return rounds;
            }
        }
        panic!("no convergence within 4 rounds: {rounds:?}");
    }

    fn check_no_double_ownership(members: &[MemberSubscription], r: &Result) {
        for (m, tps) in r {
            for tp in tps {
                for other in members.iter().filter(|o| &o.member_id != m) {
                    assert!(
                        !other.subscription.owned_partitions.contains(tp),
                        "{tp:?} given to {m} while {} still owns it",
                        other.member_id
                    );
                }
            }
        }
    }

    fn loads(r: &Result) -> (usize, usize) {
        let sizes: Vec<usize> = r.values().map(Vec::len).collect();
        (
            sizes.iter().copied().min().unwrap_or(0),
            sizes.iter().copied().max().unwrap_or(0),
        )
    }

    fn set(v: &[TopicPartition]) -> BTreeSet<TopicPartition> {
        v.iter().cloned().collect()
    }

    #[test]
    fn fresh_group_is_balanced_for_every_shape() {
        for n_parts in 0..14 {
            for n_members in 1..6 {
                let parts = topics(&[("a", n_parts), ("b", n_parts / 2)]);
                let members: Vec<_> = (0..n_members)
                    .map(|i| member(&format!("m{i}"), &["a", "b"], &[], -1))
                    .collect();
                let r = cooperative_sticky_assign(&parts, &members);
                assert_complete(&parts, &members, &r);
                let (min, max) = loads(&r);
                assert!(max - min <= 1, "{n_parts}/{n_members}: {r:?}");
            }
        }
    }

    #[test]
    fn adding_a_member_moves_only_what_balance_needs() {
        let parts = topics(&[("t", 12)]);
        let first: Vec<_> = (0..3)
            .map(|i| member(&format!("m{i}"), &["t"], &[], -1))
            .collect();
        let before = converge(&parts, first.clone()).pop().expect("a round");
        assert_eq!(loads(&before), (4, 4));

        let mut members: Vec<_> = first
            .iter()
            .map(|m| {
                let mut m = m.clone();
                m.subscription.owned_partitions = before[&m.member_id].clone();
                m.subscription.generation_id = 1;
                m
            })
            .collect();
        members.push(member("m3", &["t"], &[], -1));
        let rounds = converge(&parts, members.clone());
        assert_eq!(rounds.len(), 2, "one revoking round, one assigning round");
        // Round one: each old member gives up exactly one, the newcomer gets nothing yet.
        for m in &first {
            let kept = set(&rounds[0][&m.member_id]);
            assert_eq!(kept.len(), 3);
            assert!(kept.is_subset(&set(&before[&m.member_id])), "sticky");
        }
        assert!(
            rounds[0]["m3"].is_empty(),
            "nothing that is still owned elsewhere"
        );
        // Round two: the newcomer gets the three released partitions; nobody else changes.
        let after = &rounds[1];
        assert_complete(&parts, &members, after);
        assert_eq!(loads(after), (3, 3));
        for m in &first {
            assert_eq!(after[&m.member_id], rounds[0][&m.member_id]);
        }
    }

    #[test]
    fn removing_a_member_only_redistributes_its_partitions() {
        let parts = topics(&[("t", 12)]);
        let members: Vec<_> = (0..4)
            .map(|i| member(&format!("m{i}"), &["t"], &[], -1))
            .collect();
        let before = converge(&parts, members.clone()).pop().expect("a round");
        let remaining: Vec<_> = members[..3]
            .iter()
            .map(|m| {
                let mut m = m.clone();
                m.subscription.owned_partitions = before[&m.member_id].clone();
                m.subscription.generation_id = 1;
                m
            })
            .collect();
        let rounds = converge(&parts, remaining.clone());
        assert_eq!(rounds.len(), 1, "nothing to revoke, so one round");
        let after = &rounds[0];
        assert_complete(&parts, &remaining, after);
        for m in &remaining {
            let now = set(&after[&m.member_id]);
            assert_eq!(now.len(), 4);
            assert!(set(&before[&m.member_id]).is_subset(&now));
        }
    }

    #[test]
    fn newer_generation_wins_a_double_claim_and_a_tie_is_withheld() {
        let parts = topics(&[("t", 2)]);
        let members = vec![
            member("old", &["t"], &[("t", 0)], 3),
            member("new", &["t"], &[("t", 0)], 4),
        ];
        let r = cooperative_sticky_assign(&parts, &members);
        // "new" validly owns t-0, but "old" still claims it, so it waits a round.
        assert!(!r["old"].contains(&("t".into(), 0)));
        assert!(!r["new"].contains(&("t".into(), 0)));
        assert_eq!(r["old"], vec![("t".to_string(), 1)]);

        let tie = vec![
            member("x", &["t"], &[("t", 1)], 5),
            member("y", &["t"], &[("t", 1)], 5),
        ];
        let r = cooperative_sticky_assign(&parts, &tie);
        assert!(r.values().all(|v| !v.contains(&("t".into(), 1))));
    }

    #[test]
    fn owned_partitions_of_dropped_topics_are_released() {
        let parts = topics(&[("a", 2), ("b", 2)]);
        let members = vec![
            member("m0", &["a"], &[("b", 0), ("b", 1), ("a", 0)], 1),
            member("m1", &["a", "b"], &[("a", 1)], 1),
        ];
        let rounds = converge(&parts, members.clone());
        let last = rounds.last().expect("a round");
        assert_complete(&parts, &members, last);
        // m0 gives up b-*, m1 takes them, and balance then moves a-1 over to m0.
        assert_eq!(set(&last["m1"]), set(&[("b".into(), 0), ("b".into(), 1)]));
        assert_eq!(set(&last["m0"]), set(&[("a".into(), 0), ("a".into(), 1)]));
    }

    #[test]
    fn unequal_subscriptions_fill_the_constrained_first() {
        let parts = topics(&[("x", 4), ("y", 2)]);
        let members = vec![
            member("a", &["x", "y"], &[], -1),
            member("b", &["x"], &[], -1),
        ];
        let r = cooperative_sticky_assign(&parts, &members);
        assert_complete(&parts, &members, &r);
        assert_eq!(r["a"].len(), 3);
        assert_eq!(r["b"].len(), 3);
        assert!(r["a"].iter().filter(|tp| tp.0 == "y").count() == 2);
    }

    fn arb_members() -> impl Strategy<Value = (BTreeMap<String, i32>, Vec<MemberSubscription>)> {
        (1usize..6, 0i32..10, 0i32..6)
            .prop_flat_map(|(n_members, pa, pb)| {
                let parts = topics(&[("a", pa), ("b", pb)]);
                let member_strat = (
                    prop::sample::select(vec![vec!["a"], vec!["b"], vec!["a", "b"]]),
                    prop::collection::vec((prop::bool::ANY, 0i32..10), 0..6),
                    0i32..3,
                );
                (
                    Just(parts),
                    prop::collection::vec(member_strat, n_members..=n_members),
                )
            })
            .prop_map(|(parts, specs)| {
                let members = specs
                    .into_iter()
                    .enumerate()
                    .map(|(i, (ts, owned, generation))| {
                        let owned: Vec<(&str, i32)> = owned
                            .into_iter()
                            .map(|(is_a, p)| (if is_a { "a" } else { "b" }, p))
                            .collect();
                        member(&format!("m{i}"), &ts, &owned, generation)
                    })
                    .collect();
                (parts, members)
            })
    }

    proptest! {
        #[test]
        fn never_double_assigns_and_converges_balanced((parts, members) in arb_members()) {
            let r = cooperative_sticky_assign(&parts, &members);
            check_no_double_ownership(&members, &r);
            let mut shuffled = members.clone();
            shuffled.reverse();
            prop_assert_eq!(&cooperative_sticky_assign(&parts, &shuffled), &r, "deterministic");

            let last = converge(&parts, members.clone()).pop().expect("a round");
            assert_complete(&parts, &members, &last);
            // Locally balanced: no partition could move to an eligible member with 2+ fewer.
            for (m, tps) in &last {
                for tp in tps {
                    for other in members.iter().filter(|o| o.subscription.topics.contains(&tp.0)) {
                        prop_assert!(last[&other.member_id].len() + 1 >= tps.len(), "{} could take {:?} from {}: {:?}", other.member_id, tp, m, last);
                    }
                }
            }
        }
    }
}
