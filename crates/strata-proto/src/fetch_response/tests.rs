//! The encoder against `kafka-protocol`: for every version, the same response encoded
//! both ways is byte-equal, and decodes back to what was sent.

use bytes::{Buf, Bytes};
use kafka_protocol::messages::fetch_response as kp;
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchResponse, ProducerId, ResponseHeader, ResponseKind,
};
use kafka_protocol::protocol::{Decodable, StrBytes};
use proptest::prelude::*;

use super::*;
use crate::frame;

/// The same response as `kafka-protocol` builds it.
fn reference(version: i16, r: &Response<Bytes>) -> FetchResponse {
    let topics = r
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    kp::PartitionData::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(p.error_code)
                        .with_high_watermark(p.high_watermark)
                        .with_last_stable_offset(p.last_stable_offset)
                        .with_log_start_offset(if version >= 5 { p.log_start_offset } else { -1 })
                        .with_aborted_transactions(p.aborted_transactions.as_ref().map(|a| {
                            a.iter()
                                .map(|t| {
                                    kp::AbortedTransaction::default()
                                        .with_producer_id(ProducerId(t.producer_id))
                                        .with_first_offset(t.first_offset)
                                })
                                .collect()
                        }))
                        .with_preferred_read_replica(BrokerId(p.preferred_read_replica))
                        .with_records(Some(p.records.clone().unwrap_or_default()))
                })
                .collect();
            kp::FetchableTopicResponse::default()
                .with_topic(if version <= 12 {
                    t.name.clone()
                } else {
                    Default::default()
                })
                .with_topic_id(if version >= 13 {
                    t.topic_id
                } else {
                    Uuid::nil()
                })
                .with_partitions(partitions)
        })
        .collect();
    FetchResponse::default()
        .with_throttle_time_ms(r.throttle_time_ms)
        .with_error_code(if version >= 7 { r.error_code } else { 0 })
        .with_session_id(r.session_id)
        .with_responses(topics)
}

/// Encodes both ways, compares the bytes, and decodes ours back.
fn check(version: i16, r: Response<Bytes>) {
    let expected = reference(version, &r);
    let theirs = frame::encode_response(
        ApiKey::Fetch,
        version,
        42,
        &ResponseKind::Fetch(expected.clone()),
    )
    .unwrap();
    let ours = encode(version, 42, r).unwrap();
    let wire = ours.materialize(|b| Ok::<_, ()>(b.clone())).unwrap();
    assert_eq!(ours.len(), wire.len());
    assert_eq!(wire, theirs.to_vec(), "v{version}: bytes differ");
    let mut buf = Bytes::from(wire);
    let prefix = buf.get_i32();
    assert_eq!(prefix as usize, buf.len());
    let header =
        ResponseHeader::decode(&mut buf, ApiKey::Fetch.response_header_version(version)).unwrap();
    assert_eq!(header.correlation_id, 42);
    let decoded = FetchResponse::decode(&mut buf, version).unwrap();
    assert!(buf.is_empty(), "v{version}: trailing bytes");
    assert_eq!(decoded, expected, "v{version}: decodes differently");
}

fn sample(version: i16) -> Response<Bytes> {
    let partition = |i: i32, records: Option<&'static [u8]>| Partition {
        partition_index: i,
        error_code: if i == 2 { 6 } else { 0 },
        high_watermark: 1000 + i64::from(i),
        last_stable_offset: 990,
        log_start_offset: 7,
        aborted_transactions: match i {
            0 => Some(vec![AbortedTransaction {
                producer_id: 9,
                first_offset: 3,
            }]),
            1 => None,
            _ => Some(Vec::new()),
        },
        preferred_read_replica: if version >= 11 { i - 1 } else { -1 },
        records: records.map(Bytes::from_static),
    };
    Response {
        throttle_time_ms: 5,
        error_code: 0,
        session_id: if version >= 7 { 77 } else { 0 },
        topics: vec![
            Topic {
                name: TopicName(StrBytes::from_static_str("orders")),
                topic_id: Uuid::from_u128(0x1234_5678_9abc_def0_1122_3344_5566_7788),
                partitions: vec![
                    partition(0, Some(&[1u8; 300])),
                    partition(1, None),
                    partition(2, Some(b"")),
                    partition(3, Some(b"batch bytes")),
                ],
            },
            Topic {
                name: TopicName(StrBytes::from_static_str("empty")),
                topic_id: Uuid::from_u128(1),
                partitions: Vec::new(),
            },
        ],
    }
}

#[test]
fn every_version_matches_kafka_protocol() {
    for version in MIN_VERSION..=MAX_VERSION {
        check(version, sample(version));
        check(
            version,
            Response {
                throttle_time_ms: 0,
                error_code: 0,
                session_id: 0,
                topics: Vec::new(),
            },
        );
    }
}

#[test]
fn records_are_chunks_of_their_own() {
    let f = encode(12, 1, sample(12)).unwrap();
    let records: Vec<usize> = f
        .chunks()
        .iter()
        .filter_map(|c| match c {
            crate::chunks::Chunk::Records(r) => Some(r.len()),
            crate::chunks::Chunk::Bytes(_) => None,
        })
        .collect();
    assert_eq!(records, vec![300, 11]);
}

#[test]
fn refuses_what_a_version_cannot_carry() {
    assert_eq!(
        encode(3, 1, sample(4)).unwrap_err(),
        EncodeError::UnsupportedVersion(3)
    );
    assert_eq!(
        encode(18, 1, sample(17)).unwrap_err(),
        EncodeError::UnsupportedVersion(18)
    );
    assert!(matches!(
        encode(6, 1, sample(7)),
        Err(EncodeError::FieldNotInVersion {
            field: "session_id",
            ..
        })
    ));
    assert!(matches!(
        encode(10, 1, sample(11)),
        Err(EncodeError::FieldNotInVersion {
            field: "preferred_read_replica",
            ..
        })
    ));
}

fn arb_partition(version: i16) -> impl Strategy<Value = Partition<Bytes>> {
    (
        any::<(i32, i16, i64, i64, i64)>(),
        proptest::option::of(proptest::collection::vec(any::<(i64, i64)>(), 0..3)),
        any::<i32>(),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
    )
        .prop_map(
            move |((index, error, hw, lso, start), aborted, replica, records)| Partition {
                partition_index: index,
                error_code: error,
                high_watermark: hw,
                last_stable_offset: lso,
                log_start_offset: start,
                aborted_transactions: aborted.map(|a| {
                    a.into_iter()
                        .map(|(producer_id, first_offset)| AbortedTransaction {
                            producer_id,
                            first_offset,
                        })
                        .collect()
                }),
                preferred_read_replica: if version >= 11 { replica } else { -1 },
                records: records.map(Bytes::from),
            },
        )
}

fn arb_response() -> impl Strategy<Value = (i16, Response<Bytes>)> {
    (MIN_VERSION..=MAX_VERSION).prop_flat_map(|version| {
        let topic = (
            "[a-z._-]{0,40}",
            any::<u128>(),
            proptest::collection::vec(arb_partition(version), 0..4),
        )
            .prop_map(|(name, id, partitions)| Topic {
                name: TopicName(StrBytes::from_string(name)),
                topic_id: Uuid::from_u128(id),
                partitions,
            });
        (
            any::<(i32, i16, i32)>(),
            proptest::collection::vec(topic, 0..4),
        )
            .prop_map(move |((throttle, error, session), topics)| {
                (
                    version,
                    Response {
                        throttle_time_ms: throttle,
                        error_code: error,
                        session_id: if version >= 7 { session } else { 0 },
                        topics,
                    },
                )
            })
    })
}

proptest! {
    #[test]
    fn any_response_matches_kafka_protocol((version, r) in arb_response()) {
        check(version, r);
    }
}
