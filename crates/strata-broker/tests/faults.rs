//! Faults around a single broker: a second process on the data dir, request order of
//! side effects, shutdown with idle connections.

use std::time::{Duration, Instant};

use crate::common::*;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use kafka_protocol::records::Compression;
use strata_broker::{Broker, BrokerConfig};

#[tokio::test]
async fn a_second_broker_on_a_data_dir_in_use_is_refused() {
    let first = TestBroker::start().await;
    let config = BrokerConfig {
        data_dir: first.dir.path().to_path_buf(),
        listen: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let err = match Broker::start(config.clone()).await {
        Ok(_) => panic!("a second broker started on a data dir in use"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains(&first.dir.path().display().to_string()),
        "{err}"
    );
    assert!(
        err.contains(&format!("pid={}", std::process::id())),
        "{err}"
    );
    // The first one is untouched, and once it stops the dir is free.
    let mut c = first.client().await;
    assert_eq!(create(&mut c, "still-here", 1).await, 0);
    let dir = first.stop().await;
    let again = TestBroker::start_in(dir, |_| {}).await;
    again.stop().await;
}

fn delete_records(topic: &str, before: i64) -> RequestKind {
    RequestKind::DeleteRecords(
        DeleteRecordsRequest::default()
            .with_timeout_ms(5000)
            .with_topics(vec![DeleteRecordsTopic::default()
                .with_name(name(topic))
                .with_partitions(vec![DeleteRecordsPartition::default()
                    .with_partition_index(0)
                    .with_offset(before)])]),
    )
}

fn earliest(topic: &str) -> RequestKind {
    RequestKind::ListOffsets(
        ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(name(topic))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_timestamp(-2)])]),
    )
}

#[tokio::test]
async fn a_list_offsets_pipelined_after_delete_records_sees_the_new_start() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    assert_eq!(create(&mut c, "order", 1).await, 0);
    for _ in 0..10 {
        assert_eq!(
            produce(&mut c, "order", 0, 1, batch(10, Compression::None))
                .await
                .0,
            0
        );
    }
    for before in (5..=95).step_by(10) {
        // Both requests go out before either answer is read.
        let mut bytes = c
            .frame(ApiKey::DeleteRecords, 2, &delete_records("order", before))
            .to_vec();
        bytes.extend_from_slice(&c.frame(ApiKey::ListOffsets, 7, &earliest("order")));
        c.send_raw(&bytes).await;
        let ResponseKind::DeleteRecords(d) = answer(&mut c, ApiKey::DeleteRecords, 2).await else {
            unreachable!()
        };
        assert_eq!(d.topics[0].partitions[0].low_watermark, before);
        let ResponseKind::ListOffsets(l) = answer(&mut c, ApiKey::ListOffsets, 7).await else {
            unreachable!()
        };
        assert_eq!(
            l.topics[0].partitions[0].offset, before,
            "ListOffsets right after DeleteRecords({before}) answered the old start"
        );
    }
    broker.stop().await;
}

fn long_poll(topic: &str) -> RequestKind {
    RequestKind::Fetch(
        FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(25_000)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(name(topic))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_fetch_offset(0)
                    .with_partition_max_bytes(1 << 20)])]),
    )
}

fn join(member_id: &str) -> RequestKind {
    RequestKind::JoinGroup(
        JoinGroupRequest::default()
            .with_group_id(GroupId(StrBytes::from_static_str("parked")))
            .with_session_timeout_ms(30_000)
            .with_rebalance_timeout_ms(30_000)
            .with_member_id(StrBytes::from_string(member_id.to_string()))
            .with_protocol_type(StrBytes::from_static_str("consumer"))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(StrBytes::from_static_str("range"))
                .with_metadata(bytes::Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 0]))]),
    )
}

/// Sends a request without reading its answer; returns the client to read it later.
async fn park(
    addr: std::net::SocketAddr,
    key: ApiKey,
    version: i16,
    body: RequestKind,
) -> RawClient {
    let mut c = RawClient::connect(addr).await;
    let frame = c.frame(key, version, &body);
    c.send_raw(&frame).await;
    c
}

#[tokio::test]
async fn shutdown_answers_parked_requests_and_closes_idle_connections_at_once() {
    // A join parks for the initial rebalance delay; make it longer than the drain timeout.
    let broker = TestBroker::start_in(tempfile::tempdir().unwrap(), |c| {
        c.group_initial_rebalance_delay_ms = 20_000;
    })
    .await;
    let mut c = broker.client().await;
    assert_eq!(create(&mut c, "quiet", 1).await, 0);
    let mut idle = vec![c];
    for _ in 0..20 {
        let mut c = broker.client().await;
        // One served request first, so each connection is fully set up; then nothing.
        let _ = c
            .call(
                ApiKey::ApiVersions,
                3,
                RequestKind::ApiVersions(Default::default()),
            )
            .await;
        idle.push(c);
    }
    let mut fetcher = park(broker.addr, ApiKey::Fetch, 12, long_poll("quiet")).await;
    // JoinGroup v4+ first hands out a member id, then the join with it parks.
    let ResponseKind::JoinGroup(first) = broker
        .client()
        .await
        .call(ApiKey::JoinGroup, 5, join(""))
        .await
    else {
        unreachable!()
    };
    assert_eq!(first.error_code, 79, "MEMBER_ID_REQUIRED");
    let mut joiner = park(
        broker.addr,
        ApiKey::JoinGroup,
        5,
        join(first.member_id.as_str()),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    broker.stop().await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");

    // The parked requests were answered, not cut off: an empty fetch, NOT_COORDINATOR.
    let mut f = fetcher
        .read_frame()
        .await
        .expect("the parked fetch is answered");
    ResponseHeader::decode(&mut f, ApiKey::Fetch.response_header_version(12)).unwrap();
    let ResponseKind::Fetch(f) = ResponseKind::decode(ApiKey::Fetch, &mut f, 12).unwrap() else {
        unreachable!()
    };
    assert_eq!(f.responses[0].partitions[0].error_code, 0);
    let mut j = joiner
        .read_frame()
        .await
        .expect("the parked join is answered");
    ResponseHeader::decode(&mut j, ApiKey::JoinGroup.response_header_version(5)).unwrap();
    let ResponseKind::JoinGroup(j) = ResponseKind::decode(ApiKey::JoinGroup, &mut j, 5).unwrap()
    else {
        unreachable!()
    };
    assert_eq!(j.error_code, 16, "NOT_COORDINATOR");
    // Idle connections were closed by the broker.
    for mut c in idle {
        assert!(c.read_frame().await.is_none());
    }
}

/// The next answer on `c`, to a `key` request of `version`.
async fn answer(c: &mut RawClient, key: ApiKey, version: i16) -> ResponseKind {
    let mut frame = c.read_frame().await.expect("an answer");
    ResponseHeader::decode(&mut frame, key.response_header_version(version)).unwrap();
    ResponseKind::decode(key, &mut frame, version).unwrap()
}

fn latest(topic: &str, partitions: i32) -> RequestKind {
    RequestKind::ListOffsets(
        ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(name(topic))
                .with_partitions(
                    (0..partitions)
                        .map(|p| {
                            ListOffsetsPartition::default()
                                .with_partition_index(p)
                                .with_timestamp(-1)
                        })
                        .collect(),
                )]),
    )
}

/// Produce requests on one connection may overlap (each gives its turn back once its
/// appends are queued), yet each partition's appends land in request order and a
/// request of another kind sent right after them sees all of them.
#[tokio::test]
async fn pipelined_produces_land_in_request_order_and_a_list_offsets_after_them_sees_them_all() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    assert_eq!(create(&mut c, "pipe", 4).await, 0);
    for round in 0..20i64 {
        // 40 Produce requests of 3 records each, round robin over 4 partitions, then
        // a ListOffsets, all sent before any answer is read.
        let mut bytes = Vec::new();
        for i in 0..40 {
            let req = produce_req("pipe", i % 4, 1, batch(3, Compression::None));
            bytes.extend_from_slice(&c.frame(ApiKey::Produce, 9, &req));
        }
        bytes.extend_from_slice(&c.frame(ApiKey::ListOffsets, 7, &latest("pipe", 4)));
        c.send_raw(&bytes).await;
        for i in 0..40i64 {
            let ResponseKind::Produce(r) = answer(&mut c, ApiKey::Produce, 9).await else {
                unreachable!()
            };
            let p = &r.responses[0].partition_responses[0];
            assert_eq!(p.error_code, 0);
            // The (i / 4)-th request to partition i % 4 this round.
            assert_eq!(
                p.base_offset,
                (round * 10 + i / 4) * 3,
                "request {i} of round {round}"
            );
        }
        let ResponseKind::ListOffsets(l) = answer(&mut c, ApiKey::ListOffsets, 7).await else {
            unreachable!()
        };
        for p in &l.topics[0].partitions {
            assert_eq!(
                p.offset,
                (round + 1) * 30,
                "partition {}",
                p.partition_index
            );
        }
    }
    broker.stop().await;
}
