//! What the wire-shape guard costs per request: times `decode_request` (guard + decode)
//! against kafka-protocol's decode alone, and the guard alone, on a Produce request with
//! 1 MB of records and a Fetch request for 1,000 partitions.
//!
//! `cargo run --release -p strata-proto --example guard_cost`

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, FetchRequest, ProduceRequest, RequestHeader, RequestKind, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use strata_proto::frame::decode_request;
use strata_proto::shape;

fn frame(key: ApiKey, version: i16, body: RequestKind) -> Bytes {
    let mut buf = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str("bench")))
        .encode(&mut buf, key.request_header_version(version))
        .expect("header");
    body.encode(&mut buf, version).expect("body");
    buf.freeze()
}

fn topic(i: usize) -> TopicName {
    TopicName(StrBytes::from_string(format!("topic-{i:03}")))
}

fn produce(version: i16) -> Bytes {
    let records = Bytes::from(vec![0x5a; 1 << 20]);
    let body = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic(0))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])]);
    frame(ApiKey::Produce, version, RequestKind::Produce(body))
}

fn fetch(version: i16) -> Bytes {
    let topics = (0..10)
        .map(|t| {
            FetchTopic::default().with_topic(topic(t)).with_partitions(
                (0..100)
                    .map(|p| {
                        FetchPartition::default()
                            .with_partition(p)
                            .with_fetch_offset(1_000_000)
                            .with_partition_max_bytes(1 << 20)
                    })
                    .collect(),
            )
        })
        .collect();
    let body = FetchRequest::default()
        .with_replica_id((-1).into())
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_topics(topics);
    frame(ApiKey::Fetch, version, RequestKind::Fetch(body))
}

/// Best per-call time over several batches (the machine is shared; the minimum is the
/// least disturbed).
fn time(iters: u32, mut f: impl FnMut()) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..15 {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        best = best.min(start.elapsed() / iters);
    }
    best
}

fn report(name: &str, key: ApiKey, version: i16, frame: Bytes, iters: u32) {
    let unguarded = time(iters, || {
        let mut b = frame.clone();
        let h = RequestHeader::decode(&mut b, key.request_header_version(version));
        let r = RequestKind::decode(key, &mut b, version);
        black_box((h.is_ok(), r.is_ok()));
    });
    let guarded = time(iters, || {
        black_box(decode_request(frame.clone()).is_ok());
    });
    let guard = time(iters, || {
        black_box(shape::check_request(key, version, &frame).is_ok());
    });
    println!(
        "{name:<34} {:>9} B  decode {:>10.2?}  decode_request {:>10.2?}  guard alone {:>10.2?} ({:.1}% of decode)",
        frame.len(),
        unguarded,
        guarded,
        guard,
        100.0 * guard.as_secs_f64() / unguarded.as_secs_f64(),
    );
}

fn main() {
    report(
        "Produce v9, 1 MB records",
        ApiKey::Produce,
        9,
        produce(9),
        20_000,
    );
    report(
        "Produce v3, 1 MB records",
        ApiKey::Produce,
        3,
        produce(3),
        20_000,
    );
    report(
        "Fetch v12, 10 topics x 100 parts",
        ApiKey::Fetch,
        12,
        fetch(12),
        2_000,
    );
    report(
        "Fetch v11, 10 topics x 100 parts",
        ApiKey::Fetch,
        11,
        fetch(11),
        2_000,
    );
}
