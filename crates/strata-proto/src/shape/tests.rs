//! The table against kafka-protocol (round trips over every covered message and version)
//! and the walker against hostile frames.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ConsumerProtocolAssignment, ConsumerProtocolSubscription, RequestKind, ResponseKind,
};
use kafka_protocol::protocol::{Decodable, Encodable};

use super::dsl::{Message, Ty};
use super::sample::{self, put_uvarint, Rng};
use super::*;
use crate::frame::{decode_request, decode_response_kind, RequestError};
use crate::versions::SUPPORTED;

/// Samples per (message, version).
const SEEDS: u64 = 24;

fn decode_kind(key: ApiKey, dir: Direction, buf: &mut Bytes, v: i16) -> Kind {
    match dir {
        Direction::Request => Kind::Req(RequestKind::decode(key, buf, v).unwrap_or_else(|e| {
            panic!("kafka-protocol rejects a {key:?} v{v} request sample: {e:#}")
        })),
        Direction::Response => Kind::Resp(ResponseKind::decode(key, buf, v).unwrap_or_else(|e| {
            panic!("kafka-protocol rejects a {key:?} v{v} response sample: {e:#}")
        })),
    }
}

#[derive(Debug, PartialEq)]
enum Kind {
    Req(RequestKind),
    Resp(ResponseKind),
}

impl Kind {
    fn encode(&self, v: i16) -> Bytes {
        let mut out = BytesMut::new();
        match self {
            Kind::Req(r) => r.encode(&mut out, v),
            Kind::Resp(r) => r.encode(&mut out, v),
        }
        .expect("re-encode");
        out.freeze()
    }
}

/// The table's invariant, for one message: a sample built from the table is (a) walked to
/// its last byte, (b) decoded by kafka-protocol to its last byte, and (c) re-encoded and
/// decoded to an equal value, whose bytes the walker also accepts whole.
fn round_trip(key: ApiKey, dir: Direction, shape: &Message, v: i16, seed: u64) {
    let what = format!("{key:?} v{v} {dir:?} (seed {seed})");
    let mut rng = Rng::new(seed ^ ((key as u64) << 32) ^ ((v as u64) << 48));
    let wire = sample::message(shape, v, &mut rng);
    assert_eq!(
        check_body(key, v, dir, &wire),
        Ok(wire.len()),
        "walker on {what}"
    );
    let mut buf = Bytes::from(wire.clone());
    let decoded = decode_kind(key, dir, &mut buf, v);
    assert_eq!(buf.len(), 0, "kafka-protocol left bytes of {what}");
    let again = decoded.encode(v);
    assert_eq!(
        check_body(key, v, dir, &again),
        Ok(again.len()),
        "walker on re-encoded {what}"
    );
    let mut buf = again.clone();
    let redecoded = decode_kind(key, dir, &mut buf, v);
    assert_eq!(
        buf.len(),
        0,
        "kafka-protocol left bytes of re-encoded {what}"
    );
    assert_eq!(decoded, redecoded, "{what} changed in a round trip");
}

#[test]
fn every_supported_api_and_version_has_both_shapes() {
    for s in SUPPORTED {
        for dir in [Direction::Request, Direction::Response] {
            let shape = shape_of(s.key, dir).unwrap_or_else(|| panic!("{:?} {dir:?}", s.key));
            for v in s.decode_min..=s.max {
                assert!(shape.versions.contains(v), "{:?} v{v} {dir:?}", s.key);
            }
            // The table covers exactly what the crate decodes.
            let crate_range = s.key.valid_versions();
            assert!(shape.versions.min >= crate_range.min, "{:?} {dir:?}", s.key);
        }
    }
}

/// Every API in the table covers exactly the versions kafka-protocol decodes, in both
/// directions, including APIs `SUPPORTED` does not list yet (their entries can land before
/// their handlers): the crate refuses the version below the table's range and the one
/// above it (the round trips show it decodes those inside). `ApiKey::valid_versions` is
/// not the reference: for InitProducerId it says 0–6 while the messages decode 0–5.
#[test]
fn every_table_api_covers_every_version_the_crate_decodes() {
    fn refused(key: ApiKey, dir: Direction, v: i16) -> bool {
        let mut empty = Bytes::new();
        let err = match dir {
            Direction::Request => RequestKind::decode(key, &mut empty, v).err(),
            Direction::Response => ResponseKind::decode(key, &mut empty, v).err(),
        };
        err.is_some_and(|e| format!("{e:#}").contains("version not supported"))
    }
    for api in table::APIS {
        let crate_range = api.key.valid_versions();
        for dir in [Direction::Request, Direction::Response] {
            let what = format!("{:?} {dir:?}", api.key);
            let shape = shape_of(api.key, dir).expect("listed");
            assert!(shape.versions.min >= crate_range.min, "{what}");
            assert!(shape.versions.max <= crate_range.max, "{what}");
            assert!(!refused(api.key, dir, shape.versions.max), "{what}");
            assert!(refused(api.key, dir, shape.versions.max + 1), "{what}");
            if shape.versions.min > 0 {
                assert!(refused(api.key, dir, shape.versions.min - 1), "{what}");
            }
        }
    }
    let mut keys: Vec<i16> = table::APIS.iter().map(|a| a.key as i16).collect();
    keys.sort_unstable();
    let n = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), n, "an API listed twice");
}

/// Whole frames (header and body) of every API in the table, at every version: the shape
/// check takes the header version kafka-protocol uses for the API, and the crate decodes
/// what it accepted. Requests of APIs `SUPPORTED` lists also go through `decode_request`;
/// the others are decoded here the way it would, since it refuses keys it does not serve.
#[test]
fn sampled_frames_of_every_table_api_pass_the_shape_check_and_decode() {
    use kafka_protocol::messages::RequestHeader;
    let mut cases = 0;
    for api in table::APIS {
        let key = api.key;
        let served = SUPPORTED.iter().find(|s| s.key == key);
        let shape = shape_of(key, Direction::Request).expect("listed");
        for v in shape.versions.min..=shape.versions.max {
            for seed in 0..4 {
                let mut rng = Rng::new(seed);
                let frame = sample::request_frame(key, v, &mut rng).expect("covered");
                assert_eq!(
                    check_request(key, v, &frame),
                    Ok(frame.len()),
                    "{key:?} v{v} request"
                );
                if served.is_some_and(|s| (s.decode_min..=s.max).contains(&v)) {
                    let req = decode_request(Bytes::from(frame))
                        .unwrap_or_else(|e| panic!("{key:?} v{v}: {e}"));
                    assert_eq!(req.api_key, key);
                } else {
                    let mut buf = Bytes::from(frame);
                    let header = RequestHeader::decode(&mut buf, key.request_header_version(v))
                        .unwrap_or_else(|e| panic!("{key:?} v{v} request header: {e:#}"));
                    assert_eq!(
                        (header.request_api_key, header.request_api_version),
                        (key as i16, v)
                    );
                    RequestKind::decode(key, &mut buf, v)
                        .unwrap_or_else(|e| panic!("{key:?} v{v} request: {e:#}"));
                    assert!(buf.is_empty(), "{key:?} v{v} request left bytes");
                }
                let frame = sample::response_frame(key, v, &mut rng).expect("covered");
                assert_eq!(
                    check_response(key, v, &frame),
                    Ok(frame.len()),
                    "{key:?} v{v} response"
                );
                decode_response_kind(key, v, Bytes::from(frame))
                    .unwrap_or_else(|e| panic!("{key:?} v{v}: {e}"));
                cases += 1;
            }
        }
    }
    assert!(cases > 500, "{cases}");
}

#[test]
fn table_round_trips_through_kafka_protocol_for_every_api_version_and_direction() {
    let mut cases = 0;
    for api in table::APIS {
        for dir in [Direction::Request, Direction::Response] {
            let shape = shape_of(api.key, dir).expect("listed");
            for v in shape.versions.min..=shape.versions.max {
                for seed in 0..SEEDS {
                    round_trip(api.key, dir, shape, v, seed);
                    cases += 1;
                }
            }
        }
    }
    assert!(cases > 5_000, "{cases}");
}

/// Every tag kafka-protocol reads as a known field is in the table (at the right
/// versions): a tag the table lacks is skipped by its size, but the crate would decode it
/// in place, counts and all. Samples carry the table's unknown tags 0–7 with 3-byte
/// values no field fills exactly; a crate that knows one of them loses its place and
/// fails (or leaves bytes, or changes the value). A tag the crate knows only in other
/// versions is refused by the crate, which is fine.
#[test]
fn the_table_knows_every_tag_the_crate_knows() {
    let opts = sample::Options {
        low_unknown_tags: true,
        ..Default::default()
    };
    let mut decoded_some = 0;
    for api in table::APIS {
        for dir in [Direction::Request, Direction::Response] {
            let shape = shape_of(api.key, dir).expect("listed");
            for v in shape.versions.min..=shape.versions.max {
                if !shape.is_flexible(v) {
                    continue;
                }
                for seed in 0..SEEDS {
                    let what = format!("{:?} v{v} {dir:?} (seed {seed})", api.key);
                    let mut rng = Rng::new(seed);
                    let wire = sample::message_with(shape, v, &mut rng, opts);
                    assert_eq!(check_body(api.key, v, dir, &wire), Ok(wire.len()), "{what}");
                    let mut buf = Bytes::from(wire);
                    let decoded = match dir {
                        Direction::Request => {
                            RequestKind::decode(api.key, &mut buf, v).map(Kind::Req)
                        }
                        Direction::Response => {
                            ResponseKind::decode(api.key, &mut buf, v).map(Kind::Resp)
                        }
                    };
                    let decoded = match decoded {
                        Ok(d) => d,
                        Err(e) if format!("{e:#}").contains("is not valid for version") => continue,
                        Err(e) => panic!("{what}: {e:#}"),
                    };
                    assert_eq!(buf.len(), 0, "{what}");
                    let mut again = decoded.encode(v);
                    let redecoded = decode_kind(api.key, dir, &mut again, v);
                    assert_eq!(decoded, redecoded, "{what}");
                    decoded_some += 1;
                }
            }
        }
    }
    assert!(decoded_some > 1_000, "{decoded_some}");
}

#[test]
fn consumer_protocol_round_trips_at_every_version() {
    for v in 0..=3 {
        for seed in 0..SEEDS {
            let mut rng = Rng::new(seed);
            let wire = sample::message(consumer_subscription_shape(), v, &mut rng);
            assert_eq!(check_consumer_subscription(v, &wire), Ok(wire.len()));
            let mut buf = Bytes::from(wire);
            let d = ConsumerProtocolSubscription::decode(&mut buf, v).expect("decode");
            assert!(buf.is_empty());
            let mut out = BytesMut::new();
            d.encode(&mut out, v).expect("encode");
            assert_eq!(check_consumer_subscription(v, &out), Ok(out.len()));
            let mut out = out.freeze();
            assert_eq!(
                ConsumerProtocolSubscription::decode(&mut out, v).ok(),
                Some(d)
            );

            let wire = sample::message(consumer_assignment_shape(), v, &mut rng);
            assert_eq!(check_consumer_assignment(v, &wire), Ok(wire.len()));
            let mut buf = Bytes::from(wire);
            let d = ConsumerProtocolAssignment::decode(&mut buf, v).expect("decode");
            assert!(buf.is_empty());
            let mut out = BytesMut::new();
            d.encode(&mut out, v).expect("encode");
            let mut out = out.freeze();
            assert_eq!(
                ConsumerProtocolAssignment::decode(&mut out, v).ok(),
                Some(d)
            );
        }
    }
}

#[test]
fn sampled_frames_pass_decode_request_and_decode_response_kind() {
    for s in SUPPORTED {
        for v in s.decode_min..=s.max {
            for seed in 0..4 {
                let mut rng = Rng::new(seed);
                let frame = sample::request_frame(s.key, v, &mut rng).expect("covered");
                let req = decode_request(Bytes::from(frame))
                    .unwrap_or_else(|e| panic!("{:?} v{v}: {e}", s.key));
                assert_eq!(req.api_key, s.key);
                let frame = sample::response_frame(s.key, v, &mut rng).expect("covered");
                decode_response_kind(s.key, v, Bytes::from(frame))
                    .unwrap_or_else(|e| panic!("{:?} v{v}: {e}", s.key));
            }
        }
    }
}

#[test]
fn the_table_nests_less_than_the_walker_follows() {
    fn depth(ty: Ty) -> u8 {
        match ty {
            Ty::Struct(s) | Ty::OptionStruct(s) | Ty::Array(dsl::Elem::Struct(s)) => {
                1 + s
                    .fields
                    .iter()
                    .map(|f| f.ty)
                    .chain(s.tagged.iter().map(|t| t.ty))
                    .map(depth)
                    .max()
                    .unwrap_or(0)
            }
            _ => 0,
        }
    }
    let mut deepest = 0;
    for api in table::APIS {
        for m in [api.request, api.response] {
            deepest = deepest.max(depth(Ty::Struct(m.body)));
        }
    }
    assert!(deepest <= walk::MAX_DEPTH, "{deepest}");
    assert!(deepest >= 3, "{deepest}");
}

// ---- hostile frames ----

/// A request header v1 for `key` at `version`, client id "t".
fn header_v1(key: ApiKey, version: i16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&(key as i16).to_be_bytes());
    f.extend_from_slice(&version.to_be_bytes());
    f.extend_from_slice(&7i32.to_be_bytes());
    f.extend_from_slice(&1i16.to_be_bytes());
    f.push(b't');
    f
}

/// A request header v2 (v1 plus an empty tagged section).
fn header_v2(key: ApiKey, version: i16) -> Vec<u8> {
    let mut f = header_v1(key, version);
    f.push(0);
    f
}

fn malformed(frame: Vec<u8>) -> String {
    match decode_request(Bytes::from(frame)) {
        Err(RequestError::Malformed { reason, .. }) => reason,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

/// The frame that aborted the broker: a 32-byte Metadata v1 request whose topics array
/// claims 0x7FFFFFFF entries. Without the guard, kafka-protocol's
/// `Vec::with_capacity(0x7FFFFFFF)` of `MetadataRequestTopic` (72 bytes each) asked for
/// 154,618,822,584 bytes and the test process died with `memory allocation of
/// 154618822584 bytes failed` (SIGABRT), observed by calling `RequestKind::decode` on this
/// frame directly.
#[test]
fn metadata_v1_with_two_billion_topics_is_malformed_not_an_abort() {
    let mut f = header_v1(ApiKey::Metadata, 1);
    f.extend_from_slice(&0x7fff_ffffi32.to_be_bytes());
    f.resize(32, 0);
    let reason = malformed(f.clone());
    assert_eq!(
        reason,
        "topics: 2147483647 elements of at least 2 bytes but 17 bytes remain"
    );
    let err = check_request(ApiKey::Metadata, 1, &f).expect_err("hostile");
    assert_eq!(
        err.to_string(),
        "Metadata v1 request: topics: 2147483647 elements of at least 2 bytes but 17 bytes remain"
    );
}

#[test]
fn compact_array_claiming_u32_max_minus_one_is_malformed() {
    let mut f = header_v2(ApiKey::Metadata, 9);
    put_uvarint(&mut f, u32::MAX); // u32::MAX - 1 topics
    f.extend_from_slice(&[0; 8]);
    let reason = malformed(f);
    assert_eq!(
        reason,
        "topics: 4294967294 elements of at least 2 bytes but 8 bytes remain"
    );
}

#[test]
fn compact_string_claiming_four_gib_is_malformed() {
    // ApiVersions v3: client_software_name is a compact string.
    let mut f = header_v2(ApiKey::ApiVersions, 3);
    put_uvarint(&mut f, u32::MAX); // 4 GiB - 2
    f.extend_from_slice(b"strata");
    let reason = malformed(f);
    assert_eq!(
        reason,
        "client_software_name: 4294967294 bytes but 6 bytes remain"
    );
}

#[test]
fn tagged_field_sizes_past_the_end_are_malformed() {
    // An unknown tag in the request header.
    let mut f = header_v1(ApiKey::ApiVersions, 3);
    f.extend_from_slice(&[1, 9]); // one tagged field, tag 9
    put_uvarint(&mut f, 1000);
    f.extend_from_slice(&[0; 5]);
    assert_eq!(
        malformed(f),
        "header.<tag 9>: 1000 bytes but 5 bytes remain"
    );

    // A known one (Fetch v12 cluster_id) in the body.
    let mut f = header_v2(ApiKey::Fetch, 12);
    f.extend_from_slice(&[0; 4 * 4 + 1 + 4 + 4]); // replica id .. session epoch
    f.extend_from_slice(&[1, 1, 1]); // no topics, no forgotten topics, rack ""
    f.extend_from_slice(&[1, 0]); // one tagged field, tag 0 (cluster_id)
    put_uvarint(&mut f, 70_000);
    f.extend_from_slice(&[3, b'a', b'b']);
    assert_eq!(malformed(f), "cluster_id: 70000 bytes but 3 bytes remain");

    // A known tag whose value is shorter than its declared size.
    let mut f = header_v2(ApiKey::Fetch, 12);
    f.extend_from_slice(&[0; 4 * 4 + 1 + 4 + 4]);
    f.extend_from_slice(&[1, 1, 1]);
    f.extend_from_slice(&[1, 0, 4, 3, b'a', b'b', 0]);
    assert_eq!(
        malformed(f),
        "cluster_id: tagged field declares 4 bytes but its value takes 3"
    );

    // A tagged-field count the frame cannot hold.
    let mut f = header_v1(ApiKey::ApiVersions, 3);
    put_uvarint(&mut f, 5_000_000);
    assert_eq!(
        malformed(f),
        "header.<tagged fields>: 5000000 elements of at least 2 bytes but 0 bytes remain"
    );
}

#[test]
fn more_elements_than_the_budget_are_malformed() {
    // DeleteGroups v2: a compact array of empty group names, one byte each.
    let n = MAX_DECODED_ELEMENTS + 1;
    let mut f = header_v2(ApiKey::DeleteGroups, 2);
    put_uvarint(&mut f, n as u32 + 1);
    f.resize(f.len() + n, 1);
    f.push(0);
    assert_eq!(
        malformed(f),
        format!("groups_names: more than {MAX_DECODED_ELEMENTS} elements in one frame")
    );

    // At the budget it is fine.
    let n = MAX_DECODED_ELEMENTS;
    let mut f = header_v2(ApiKey::DeleteGroups, 2);
    put_uvarint(&mut f, n as u32 + 1);
    f.resize(f.len() + n, 1);
    f.push(0);
    let req = decode_request(Bytes::from(f)).expect("within budget");
    match req.body {
        RequestKind::DeleteGroups(d) => assert_eq!(d.groups_names.len(), n),
        other => panic!("{other:?}"),
    }
}

#[test]
fn negative_lengths_and_long_varints_are_malformed() {
    let mut f = header_v1(ApiKey::Metadata, 1);
    f.extend_from_slice(&(-2i32).to_be_bytes());
    assert_eq!(malformed(f), "topics: negative length -2");

    let mut f = header_v1(ApiKey::Metadata, 1);
    f.extend_from_slice(&1i32.to_be_bytes());
    f.extend_from_slice(&(-5i16).to_be_bytes());
    assert_eq!(malformed(f), "topics[0].name: negative length -5");

    // Null (-1) is left to the decoder (a null topics array means "all topics").
    let mut f = header_v1(ApiKey::Metadata, 1);
    f.extend_from_slice(&(-1i32).to_be_bytes());
    assert!(decode_request(Bytes::from(f)).is_ok());

    let mut f = header_v2(ApiKey::Metadata, 9);
    f.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    assert_eq!(
        malformed(f),
        "topics: varint longer than 5 bytes or above u32::MAX"
    );
    let mut f = header_v2(ApiKey::Metadata, 9);
    f.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x1f]);
    assert_eq!(
        malformed(f),
        "topics: varint longer than 5 bytes or above u32::MAX"
    );
}

#[test]
fn truncation_names_the_field_that_does_not_fit() {
    // Fetch v12: replica_id, then half of max_wait_ms.
    let mut f = header_v2(ApiKey::Fetch, 12);
    f.extend_from_slice(&[0, 0, 0, 1, 0, 0]);
    assert_eq!(malformed(f), "max_wait_ms: needs 4 bytes but 2 remain");

    // Metadata v1 response cut inside the second broker's port (after enough bytes for
    // two brokers of the smallest size, so the count itself passes).
    let mut f = Vec::new();
    f.extend_from_slice(&9i32.to_be_bytes()); // correlation id
    f.extend_from_slice(&2i32.to_be_bytes()); // two brokers
    f.extend_from_slice(&[0, 0, 0, 1, 0, 10]); // node id, host
    f.extend_from_slice(b"broker-one");
    f.extend_from_slice(&[0, 0, 0x23, 0x84, 0xff, 0xff]); // port, null rack
    f.extend_from_slice(&[0, 0, 0, 2, 0, 1, b'h', 0x23, 0x84]);
    let err = decode_response_kind(ApiKey::Metadata, 1, Bytes::from(f)).expect_err("cut");
    assert_eq!(err.reason, "brokers[1].port: needs 4 bytes but 2 remain");
}

#[test]
fn array_elements_need_their_smallest_size() {
    // Produce v3: one topic claiming 1,000 partitions of at least 4 + 4 bytes each.
    let mut f = header_v1(ApiKey::Produce, 3);
    f.extend_from_slice(&(-1i16).to_be_bytes()); // null transactional id
    f.extend_from_slice(&1i16.to_be_bytes()); // acks
    f.extend_from_slice(&1000i32.to_be_bytes()); // timeout
    f.extend_from_slice(&1i32.to_be_bytes()); // one topic
    f.extend_from_slice(&[0, 1, b't']);
    f.extend_from_slice(&1000i32.to_be_bytes());
    f.extend_from_slice(&[0; 100]);
    assert_eq!(
        malformed(f),
        "topic_data[0].partition_data: 1000 elements of at least 8 bytes but 100 bytes remain"
    );
}

#[test]
fn hostile_responses_are_errors_too() {
    // Fetch v12 response whose records claim more than the frame holds.
    let mut f = Vec::new();
    f.extend_from_slice(&1i32.to_be_bytes()); // correlation id
    f.push(0); // header tags
    f.extend_from_slice(&[0; 4 + 2 + 4]); // throttle, error, session id
    f.push(2); // one topic
    f.extend_from_slice(&[2, b't']);
    f.push(2); // one partition
    f.extend_from_slice(&[0; 4 + 2 + 8 + 8 + 8]);
    f.push(1); // no aborted transactions
    f.extend_from_slice(&[0; 4]); // preferred read replica
    put_uvarint(&mut f, 1 << 30); // records
    f.extend_from_slice(&[0; 16]);
    let err = decode_response_kind(ApiKey::Fetch, 12, Bytes::from(f)).expect_err("hostile");
    assert_eq!(
        err.reason,
        "responses[0].partitions[0].records: 1073741823 bytes but 16 bytes remain"
    );
    assert!(err
        .to_string()
        .starts_with("malformed Fetch v12 response: "));

    let uncovered = (0..i16::MAX)
        .filter_map(|k| ApiKey::try_from(k).ok())
        .find(|&k| shape_of(k, Direction::Response).is_none())
        .expect("an API the table lacks");
    let err = decode_response_kind(uncovered, 0, Bytes::new()).expect_err("no shape");
    assert!(err.reason.contains("no wire shape"), "{err}");

    assert!(check_consumer_subscription(1, &[0, 0, 0x7f, 0xff, 0xff, 0xff]).is_err());
}

#[test]
fn hostile_security_frames_are_rejected_by_the_shape_check() {
    // SaslAuthenticate v2 request: compact auth_bytes claiming 4 GiB.
    let mut f = header_v2(ApiKey::SaslAuthenticate, 2);
    put_uvarint(&mut f, u32::MAX);
    f.extend_from_slice(&[0; 6]);
    let err = check_request(ApiKey::SaslAuthenticate, 2, &f).expect_err("hostile");
    assert_eq!(
        err.to_string(),
        "SaslAuthenticate v2 request: auth_bytes: 4294967294 bytes but 6 bytes remain"
    );

    // SaslHandshake v1 request (never flexible, header v1): a mechanism of 0x7fff bytes.
    let mut f = header_v1(ApiKey::SaslHandshake, 1);
    f.extend_from_slice(&0x7fffi16.to_be_bytes());
    f.extend_from_slice(b"PLAIN");
    let err = check_request(ApiKey::SaslHandshake, 1, &f).expect_err("hostile");
    assert_eq!(err.detail(), "mechanism: 32767 bytes but 5 bytes remain");

    // CreateAcls v1 request: 0x7fffffff creations of at least 1 + 2 + 1 + 2 + 2 + 1 + 1
    // bytes each.
    let mut f = header_v1(ApiKey::CreateAcls, 1);
    f.extend_from_slice(&0x7fff_ffffi32.to_be_bytes());
    f.extend_from_slice(&[0; 20]);
    let err = check_request(ApiKey::CreateAcls, 1, &f).expect_err("hostile");
    assert_eq!(
        err.detail(),
        "creations: 2147483647 elements of at least 10 bytes but 20 bytes remain"
    );

    // AlterUserScramCredentials v0 request: an upsertion whose salt claims 1 MiB.
    let mut f = header_v2(ApiKey::AlterUserScramCredentials, 0);
    f.push(1); // no deletions
    f.push(2); // one upsertion
    f.extend_from_slice(&[2, b'u', 1]); // name "u", mechanism
    f.extend_from_slice(&4096i32.to_be_bytes()); // iterations
    put_uvarint(&mut f, (1 << 20) + 1); // salt
    f.extend_from_slice(&[0; 8]);
    let err = check_request(ApiKey::AlterUserScramCredentials, 0, &f).expect_err("hostile");
    assert_eq!(
        err.detail(),
        "upsertions[0].salt: 1048576 bytes but 8 bytes remain"
    );

    // DescribeClientQuotas v0 response: one entry claiming 0x7fffffff values.
    let mut f = Vec::new();
    f.extend_from_slice(&5i32.to_be_bytes()); // correlation id
    f.extend_from_slice(&[0; 4 + 2]); // throttle, error code
    f.extend_from_slice(&(-1i16).to_be_bytes()); // null error message
    f.extend_from_slice(&1i32.to_be_bytes()); // one entry
    f.extend_from_slice(&0i32.to_be_bytes()); // no entity parts
    f.extend_from_slice(&0x7fff_ffffi32.to_be_bytes());
    f.extend_from_slice(&[0; 30]);
    let err =
        decode_response_kind(ApiKey::DescribeClientQuotas, 0, Bytes::from(f)).expect_err("hostile");
    assert_eq!(
        err.reason,
        "entries[0].values: 2147483647 elements of at least 10 bytes but 30 bytes remain"
    );
}
