//! The consumer's embedded group protocol: what a member puts in JoinGroup's protocol metadata
//! (its subscription) and what the leader hands back through SyncGroup (its assignment).
//!
//! Both are a big-endian `i16` version followed by the `ConsumerProtocolSubscription` /
//! `ConsumerProtocolAssignment` body (versions 0–3). A newer peer may write a higher version;
//! later versions only append fields, so we read such data with the newest layout we know.
//! Other members wrote these bytes: their lengths are checked against their size
//! ([`strata_proto::shape`]) before kafka-protocol, which sizes allocations from them, reads
//! them.

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use kafka_protocol::messages::consumer_protocol_subscription::TopicPartition as OwnedTopic;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use strata_proto::shape;

use crate::error::{ClientError, Result};
use crate::offsets::TopicPartition;

/// The `protocol_type` consumer groups register with.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// The newest subscription/assignment layout we write and fully understand.
pub const CONSUMER_PROTOCOL_VERSION: i16 = 3;

/// One member's subscription as carried in JoinGroup metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    /// Topics the member wants, sorted.
    pub topics: Vec<String>,
    /// Assignor-specific opaque data.
    pub user_data: Option<Bytes>,
    /// Partitions the member owns right now (v1+).
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation in which it got them, -1 when unknown (v2+).
    pub generation_id: i32,
    /// The member's rack (v3+).
    pub rack_id: Option<String>,
}

/// One member's assignment as carried in SyncGroup.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// The partitions the member should own.
    pub partitions: Vec<TopicPartition>,
    /// Assignor-specific opaque data.
    pub user_data: Option<Bytes>,
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Groups partitions by topic, both sorted, for the wire's topic → partitions layout.
fn by_topic(tps: &[TopicPartition]) -> BTreeMap<&str, BTreeSet<i32>> {
    let mut out: BTreeMap<&str, BTreeSet<i32>> = BTreeMap::new();
    for (t, p) in tps {
        out.entry(t.as_str()).or_default().insert(*p);
    }
    out
}

fn split_version(data: &[u8], what: &str) -> Result<(i16, Bytes)> {
    let mut buf = Bytes::copy_from_slice(data);
    if buf.len() < 2 {
        return Err(ClientError::Protocol(format!(
            "{what} shorter than its version"
        )));
    }
    let version = buf.get_i16();
    if version < 0 {
        return Err(ClientError::Protocol(format!(
            "{what} has negative version {version}"
        )));
    }
    Ok((version.min(CONSUMER_PROTOCOL_VERSION), buf))
}

impl Subscription {
    /// Encodes with the version prefix at [`CONSUMER_PROTOCOL_VERSION`].
    pub fn encode(&self) -> Result<Bytes> {
        self.encode_version(CONSUMER_PROTOCOL_VERSION)
    }

    /// Encodes at a specific version (0–3); fields the version lacks are dropped.
    pub fn encode_version(&self, version: i16) -> Result<Bytes> {
        let msg = ConsumerProtocolSubscription::default()
            .with_topics(self.topics.iter().map(|t| str_bytes(t)).collect())
            .with_user_data(self.user_data.clone())
            .with_owned_partitions(if version >= 1 {
                by_topic(&self.owned_partitions)
                    .into_iter()
                    .map(|(t, ps)| {
                        OwnedTopic::default()
                            .with_topic(TopicName(str_bytes(t)))
                            .with_partitions(ps.into_iter().collect())
                    })
                    .collect()
            } else {
                Vec::new()
            })
            .with_generation_id(if version >= 2 { self.generation_id } else { -1 })
            .with_rack_id(if version >= 3 {
                self.rack_id.as_deref().map(str_bytes)
            } else {
                None
            });
        let mut buf = BytesMut::new();
        buf.put_i16(version);
        msg.encode(&mut buf, version)
            .map_err(|e| ClientError::Protocol(format!("encoding subscription: {e}")))?;
        Ok(buf.freeze())
    }

    /// Decodes a subscription of any version.
    pub fn decode(data: &[u8]) -> Result<Subscription> {
        let (version, mut body) = split_version(data, "subscription")?;
        shape::check_consumer_subscription(version, &body)
            .map_err(|e| ClientError::Protocol(format!("decoding subscription: {e}")))?;
        let msg = ConsumerProtocolSubscription::decode(&mut body, version)
            .map_err(|e| ClientError::Protocol(format!("decoding subscription v{version}: {e}")))?;
        let mut owned = Vec::new();
        for t in &msg.owned_partitions {
            for p in &t.partitions {
                owned.push((t.topic.0.as_str().to_string(), *p));
            }
        }
        owned.sort();
        let mut topics: Vec<String> = msg.topics.iter().map(|t| t.as_str().to_string()).collect();
        topics.sort();
        topics.dedup();
        Ok(Subscription {
            topics,
            user_data: msg.user_data,
            owned_partitions: owned,
            generation_id: msg.generation_id,
            rack_id: msg.rack_id.map(|r| r.as_str().to_string()),
        })
    }
}

impl Assignment {
    /// Encodes with the version prefix at [`CONSUMER_PROTOCOL_VERSION`].
    pub fn encode(&self) -> Result<Bytes> {
        let msg = ConsumerProtocolAssignment::default()
            .with_assigned_partitions(
                by_topic(&self.partitions)
                    .into_iter()
                    .map(|(t, ps)| {
                        AssignedTopic::default()
                            .with_topic(TopicName(str_bytes(t)))
                            .with_partitions(ps.into_iter().collect())
                    })
                    .collect(),
            )
            .with_user_data(self.user_data.clone());
        let mut buf = BytesMut::new();
        buf.put_i16(CONSUMER_PROTOCOL_VERSION);
        msg.encode(&mut buf, CONSUMER_PROTOCOL_VERSION)
            .map_err(|e| ClientError::Protocol(format!("encoding assignment: {e}")))?;
        Ok(buf.freeze())
    }

    /// Decodes an assignment of any version. An empty buffer is an empty assignment (what
    /// the broker hands a member the leader left out).
    pub fn decode(data: &[u8]) -> Result<Assignment> {
        if data.is_empty() {
            return Ok(Assignment::default());
        }
        let (version, mut body) = split_version(data, "assignment")?;
        shape::check_consumer_assignment(version, &body)
            .map_err(|e| ClientError::Protocol(format!("decoding assignment: {e}")))?;
        let msg = ConsumerProtocolAssignment::decode(&mut body, version)
            .map_err(|e| ClientError::Protocol(format!("decoding assignment v{version}: {e}")))?;
        let mut partitions = Vec::new();
        for t in &msg.assigned_partitions {
            for p in &t.partitions {
                partitions.push((t.topic.0.as_str().to_string(), *p));
            }
        }
        partitions.sort();
        partitions.dedup();
        Ok(Assignment {
            partitions,
            user_data: msg.user_data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_counts_are_protocol_errors() {
        // v0 subscription whose topics array claims i32::MAX entries.
        let wire = [0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0];
        let err = Subscription::decode(&wire).expect_err("hostile");
        assert!(
            err.to_string().contains("topics: 2147483647 elements"),
            "{err}"
        );
        // v1 assignment: one topic "t" claiming i32::MAX partitions.
        let wire = [0, 1, 0, 0, 0, 1, 0, 1, b't', 0x7f, 0xff, 0xff, 0xff];
        let err = Assignment::decode(&wire).expect_err("hostile");
        assert!(
            err.to_string()
                .contains("assigned_partitions[0].partitions: 2147483647 elements"),
            "{err}"
        );
    }

    fn sample() -> Subscription {
        Subscription {
            topics: vec!["a".into(), "b".into()],
            user_data: Some(Bytes::from_static(&[0, 0, 0, 7])),
            owned_partitions: vec![("a".into(), 0), ("a".into(), 3), ("b".into(), 1)],
            generation_id: 7,
            rack_id: Some("r1".into()),
        }
    }

    #[test]
    fn subscription_round_trips_at_every_version() {
        let s = sample();
        for v in 0..=CONSUMER_PROTOCOL_VERSION {
            let bytes = s.encode_version(v).expect("encode");
            assert_eq!(i16::from_be_bytes([bytes[0], bytes[1]]), v);
            let d = Subscription::decode(&bytes).expect("decode");
            assert_eq!(d.topics, s.topics, "v{v}");
            assert_eq!(d.user_data, s.user_data, "v{v}");
            let owned = if v >= 1 {
                s.owned_partitions.clone()
            } else {
                vec![]
            };
            assert_eq!(d.owned_partitions, owned, "v{v}");
            assert_eq!(d.generation_id, if v >= 2 { 7 } else { -1 }, "v{v}");
            let rack = if v >= 3 { Some("r1".to_string()) } else { None };
            assert_eq!(d.rack_id, rack, "v{v}");
        }
    }

    #[test]
    fn subscription_v0_wire_layout() {
        // Hand-built v0: version, topics array ["t"], null user data.
        let wire = [0u8, 0, 0, 0, 0, 1, 0, 1, b't', 0xff, 0xff, 0xff, 0xff];
        let d = Subscription::decode(&wire).expect("decode");
        assert_eq!(d.topics, vec!["t".to_string()]);
        assert_eq!(d.user_data, None);
        let s = Subscription {
            topics: vec!["t".into()],
            ..Subscription::default()
        };
        assert_eq!(&s.encode_version(0).expect("encode")[..], &wire[..]);
    }

    #[test]
    fn newer_versions_are_read_with_the_newest_known_layout() {
        let mut bytes = BytesMut::from(&sample().encode().expect("encode")[..]);
        bytes[0..2].copy_from_slice(&9i16.to_be_bytes());
        bytes.extend_from_slice(b"future fields");
        let d = Subscription::decode(&bytes).expect("decode");
        assert_eq!(d.topics, sample().topics);
        assert_eq!(d.generation_id, 7);
    }

    #[test]
    fn assignment_round_trip_and_empty() {
        let a = Assignment {
            partitions: vec![("x".into(), 2), ("x".into(), 0), ("y".into(), 5)],
            user_data: None,
        };
        let d = Assignment::decode(&a.encode().expect("encode")).expect("decode");
        assert_eq!(
            d.partitions,
            vec![
                ("x".to_string(), 0),
                ("x".to_string(), 2),
                ("y".to_string(), 5)
            ]
        );
        assert_eq!(
            Assignment::decode(&[]).expect("empty"),
            Assignment::default()
        );
    }

    #[test]
    fn truncated_data_is_an_error_not_a_panic() {
        let bytes = sample().encode().expect("encode");
        for cut in 0..bytes.len() {
            let _ = Subscription::decode(&bytes[..cut]);
        }
        assert!(Subscription::decode(&bytes[..1]).is_err());
        assert!(Subscription::decode(&bytes[..5]).is_err());
        assert!(Assignment::decode(&[0, 0, 1]).is_err());
        assert!(Subscription::decode(&[0xff, 0xff]).is_err());
    }
}
