//! Partition assignors: the group leader runs the selected one over every member's
//! subscription and sends each member its share through SyncGroup.

mod range;
mod sticky;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use bytes::Bytes;

use crate::error::ClientError;
use crate::group::protocol::Subscription;
use crate::offsets::TopicPartition;

pub use range::range_assign;
pub use sticky::cooperative_sticky_assign;

/// The assignment strategies this client implements, by their Kafka protocol names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssignmentStrategy {
    /// `range`: per topic, consecutive partition ranges to members in order (eager).
    Range,
    /// `cooperative-sticky`: balanced, keeps partitions where they are, and moves them in two
    /// rebalances so no partition is ever owned by two members (cooperative).
    CooperativeSticky,
}

impl AssignmentStrategy {
    /// The protocol name members register in JoinGroup.
    pub fn name(self) -> &'static str {
        match self {
            AssignmentStrategy::Range => "range",
            AssignmentStrategy::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// Whether the strategy works with the cooperative rebalance protocol (members keep
    /// their partitions while rebalancing and revoke only what moves).
    pub fn supports_cooperative(self) -> bool {
        matches!(self, AssignmentStrategy::CooperativeSticky)
    }

    /// Opaque data the strategy adds to its subscription. Cooperative-sticky carries the
    /// generation here too, for leaders that only read subscription versions before 2.
    pub fn user_data(self, generation: i32) -> Option<Bytes> {
        match self {
            AssignmentStrategy::Range => None,
            AssignmentStrategy::CooperativeSticky => {
                Some(Bytes::copy_from_slice(&generation.to_be_bytes()))
            }
        }
    }

    /// Runs the strategy. Every member gets an entry, possibly empty.
    pub fn assign(
        self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
    ) -> BTreeMap<String, Vec<TopicPartition>> {
        match self {
            AssignmentStrategy::Range => range_assign(partitions_per_topic, members),
            AssignmentStrategy::CooperativeSticky => {
                cooperative_sticky_assign(partitions_per_topic, members)
            }
        }
    }
}

impl fmt::Display for AssignmentStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AssignmentStrategy {
    type Err = ClientError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "range" => Ok(AssignmentStrategy::Range),
            "cooperative-sticky" | "cooperative_sticky" => Ok(AssignmentStrategy::CooperativeSticky),
            other => Err(ClientError::Config(format!(
                "unknown partition assignment strategy '{other}' (expected range or cooperative-sticky)"
            ))),
        }
    }
}

/// Parses a comma-separated strategy list in preference order, e.g. `cooperative-sticky,range`.
pub fn parse_strategies(s: &str) -> Result<Vec<AssignmentStrategy>, ClientError> {
    let list: Vec<AssignmentStrategy> = s
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    if list.is_empty() {
        return Err(ClientError::Config(
            "partition assignment strategy list is empty".into(),
        ));
    }
    Ok(list)
}

/// A member as the leader sees it in the JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSubscription {
    /// The member id the coordinator gave it.
    pub member_id: String,
    /// Its static instance id, when it has one.
    pub group_instance_id: Option<String>,
    /// What it asked for and what it owns.
    pub subscription: Subscription,
}

/// Kafka's member order for assignors: static members first by instance id, then dynamic
/// members by member id. Static ids survive restarts, so ordering by them keeps assignments
/// stable across a static member's rejoin.
pub(crate) fn sorted_members(members: &[MemberSubscription]) -> Vec<&MemberSubscription> {
    let mut out: Vec<&MemberSubscription> = members.iter().collect();
    out.sort_by(|a, b| match (&a.group_instance_id, &b.group_instance_id) {
        (Some(x), Some(y)) => x.cmp(y).then_with(|| a.member_id.cmp(&b.member_id)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.member_id.cmp(&b.member_id),
    });
    out
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// A dynamic member subscribed to `topics` owning `owned` at `generation`.
    pub fn member(
        id: &str,
        topics: &[&str],
        owned: &[(&str, i32)],
        generation: i32,
    ) -> MemberSubscription {
        MemberSubscription {
            member_id: id.to_string(),
            group_instance_id: None,
            subscription: Subscription {
                topics: topics.iter().map(|t| t.to_string()).collect(),
                user_data: None,
                owned_partitions: owned.iter().map(|(t, p)| (t.to_string(), *p)).collect(),
                generation_id: generation,
                rack_id: None,
            },
        }
    }

    /// `{topic: count}`.
    pub fn topics(spec: &[(&str, i32)]) -> BTreeMap<String, i32> {
        spec.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    /// Asserts every partition of a subscribed topic is assigned exactly once, and only to
    /// members subscribed to its topic.
    pub fn assert_complete(
        parts: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
        result: &BTreeMap<String, Vec<TopicPartition>>,
    ) {
        let mut seen = std::collections::BTreeSet::new();
        for (m, tps) in result {
            let sub = members
                .iter()
                .find(|x| &x.member_id == m)
                .expect("assignment for a known member");
            for tp in tps {
                assert!(
                    sub.subscription.topics.contains(&tp.0),
                    "{m} got {tp:?} it did not ask for"
                );
                assert!(seen.insert(tp.clone()), "{tp:?} assigned twice");
            }
        }
        for (t, n) in parts {
            if members.iter().any(|m| m.subscription.topics.contains(t)) {
                for p in 0..*n {
                    assert!(seen.contains(&(t.clone(), p)), "{t}-{p} unassigned");
                }
            }
        }
        assert_eq!(result.len(), members.len(), "every member has an entry");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategy_names_parse_and_print() {
        assert_eq!(
            parse_strategies("cooperative-sticky, range").expect("parse"),
            vec![
                AssignmentStrategy::CooperativeSticky,
                AssignmentStrategy::Range
            ]
        );
        assert_eq!(
            "RANGE".parse::<AssignmentStrategy>().expect("parse"),
            AssignmentStrategy::Range
        );
        assert!(parse_strategies("roundrobin").is_err());
        assert!(parse_strategies(" , ").is_err());
        assert_eq!(
            AssignmentStrategy::CooperativeSticky.to_string(),
            "cooperative-sticky"
        );
        assert!(!AssignmentStrategy::Range.supports_cooperative());
    }

    #[test]
    fn static_members_sort_first_by_instance_id() {
        let mut a = test_support::member("m-a", &["t"], &[], -1);
        let mut b = test_support::member("m-b", &["t"], &[], -1);
        let c = test_support::member("m-0", &["t"], &[], -1);
        a.group_instance_id = Some("z".into());
        b.group_instance_id = Some("y".into());
        let all = [a, b, c];
        let order: Vec<&str> = sorted_members(&all)
            .iter()
            .map(|m| m.member_id.as_str())
            .collect();
        assert_eq!(order, vec!["m-b", "m-a", "m-0"]);
    }
}
