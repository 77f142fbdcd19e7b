//! Fetch responses written from the segment files: every version with records, the
//! broker's `fetch.max.bytes` cap (KIP-74 kept), large responses in pieces, and a
//! segment truncated under a response being written.

use std::time::Duration;

use crate::common::*;
use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::records::{Compression, RecordBatchDecoder};
use tokio::io::AsyncReadExt;

/// One batch of `n` records with `size`-byte values.
fn big_batch(n: usize, size: usize) -> Bytes {
    batch_of(n, Compression::None, |_| {
        (None, Some(Bytes::from(vec![b'x'; size])))
    })
}

async fn produce(c: &mut RawClient, topic: &str, partition: i32, records: Bytes) {
    let req = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])]);
    match c.call(ApiKey::Produce, 9, RequestKind::Produce(req)).await {
        ResponseKind::Produce(r) => {
            assert_eq!(r.responses[0].partition_responses[0].error_code, 0)
        }
        other => panic!("{other:?}"),
    }
}

fn fetch_req(
    version: i16,
    topic: &str,
    id: uuid::Uuid,
    partitions: &[i32],
    max_bytes: i32,
    partition_max_bytes: i32,
) -> RequestKind {
    let ft = if version >= 13 {
        FetchTopic::default().with_topic_id(id)
    } else {
        FetchTopic::default().with_topic(name(topic))
    };
    let partitions = partitions
        .iter()
        .map(|&p| {
            FetchPartition::default()
                .with_partition(p)
                .with_fetch_offset(0)
                .with_partition_max_bytes(partition_max_bytes)
        })
        .collect();
    RequestKind::Fetch(
        FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_bytes(max_bytes)
            .with_session_epoch(if version >= 7 { -1 } else { 0 })
            .with_topics(vec![ft.with_partitions(partitions)]),
    )
}

async fn fetch(c: &mut RawClient, version: i16, req: RequestKind) -> FetchResponse {
    match c.call(ApiKey::Fetch, version, req).await {
        ResponseKind::Fetch(r) => r,
        other => panic!("{other:?}"),
    }
}

fn record_count(records: &Option<Bytes>) -> usize {
    let mut b = records.clone().unwrap_or_default();
    RecordBatchDecoder::decode_all(&mut b)
        .unwrap()
        .iter()
        .map(|s| s.records.len())
        .sum()
}

#[tokio::test]
async fn fetch_with_records_at_every_version() {
    let b = TestBroker::start().await;
    let mut c = b.client().await;
    let id = create_with_id(&mut c, "all", 2).await;
    produce(&mut c, "all", 0, batch(5, Compression::None)).await;
    produce(&mut c, "all", 1, batch(3, Compression::Lz4)).await;
    for v in 4..=16 {
        let r = fetch(
            &mut c,
            v,
            fetch_req(v, "all", id, &[0, 1], 1 << 20, 1 << 20),
        )
        .await;
        assert_eq!(r.error_code, 0, "v{v}");
        let t = &r.responses[0];
        if v >= 13 {
            assert_eq!(t.topic_id, id, "v{v}");
        } else {
            assert_eq!(t.topic.0.as_str(), "all", "v{v}");
        }
        let counts: Vec<usize> = t
            .partitions
            .iter()
            .map(|p| record_count(&p.records))
            .collect();
        assert_eq!(counts, vec![5, 3], "v{v}");
        assert_eq!(t.partitions[1].high_watermark, 3, "v{v}");
    }
}

#[tokio::test]
async fn fetch_max_bytes_caps_what_the_client_asks() {
    let b =
        TestBroker::start_in(tempfile::tempdir().unwrap(), |c| c.fetch_max_bytes = 10_000).await;
    let mut c = b.client().await;
    let id = create_with_id(&mut c, "cap", 2).await;
    for p in 0..2 {
        for _ in 0..10 {
            produce(&mut c, "cap", p, big_batch(4, 1000)).await;
        }
    }
    let one = big_batch(4, 1000).len();
    let r = fetch(
        &mut c,
        12,
        fetch_req(12, "cap", id, &[0, 1], i32::MAX, i32::MAX),
    )
    .await;
    let sizes: Vec<usize> = r.responses[0]
        .partitions
        .iter()
        .map(|p| p.records.as_ref().map_or(0, |r| r.len()))
        .collect();
    assert_eq!(
        sizes.iter().sum::<usize>(),
        (10_000 / one) * one,
        "{sizes:?}"
    );

    // KIP-74: a first batch larger than every limit still comes back, alone.
    produce(&mut c, "cap", 0, big_batch(20, 1000)).await;
    let mut req = fetch_req(12, "cap", id, &[0, 1], i32::MAX, i32::MAX);
    if let RequestKind::Fetch(f) = &mut req {
        f.topics[0].partitions[0].fetch_offset = 40;
    }
    let r = fetch(&mut c, 12, req).await;
    let p = &r.responses[0].partitions;
    assert_eq!(record_count(&p[0].records), 20);
    assert_eq!(p[1].records.as_ref().map_or(0, |r| r.len()), 0);
}

#[tokio::test]
async fn large_fetch_is_written_whole_in_pieces() {
    let b = TestBroker::start().await;
    let mut c = b.client().await;
    let id = create_with_id(&mut c, "large", 1).await;
    for _ in 0..6 {
        produce(&mut c, "large", 0, big_batch(900, 1000)).await;
    }
    let r = fetch(
        &mut c,
        16,
        fetch_req(16, "large", id, &[0], i32::MAX, i32::MAX),
    )
    .await;
    assert_eq!(record_count(&r.responses[0].partitions[0].records), 5400);
}

#[tokio::test]
async fn fetch_from_a_truncated_segment_closes_the_connection() {
    let b = TestBroker::start().await;
    let mut c = b.client().await;
    let id = create_with_id(&mut c, "cut", 1).await;
    for _ in 0..40 {
        produce(&mut c, "cut", 0, big_batch(900, 1000)).await;
    }
    // A reader with a small window: the response (~36 MB) stays mostly unwritten.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(32 * 1024).unwrap();
    let stream = socket.connect(b.addr).await.unwrap();
    let mut slow = RawClient::from_stream(stream);
    let f = slow.frame(
        ApiKey::Fetch,
        12,
        &fetch_req(12, "cut", id, &[0], i32::MAX, i32::MAX),
    );
    slow.send_raw(&f).await;
    let mut prefix = [0u8; 4];
    slow.stream.read_exact(&mut prefix).await.unwrap();
    let announced = i32::from_be_bytes(prefix) as usize;
    assert!(announced > 30_000_000, "{announced}");
    // Retention or a follower's truncation shortens the segment meanwhile.
    let log = b.dir.path().join("cut-0").join(format!("{:020}.log", 0));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(1_000_000)
        .unwrap();
    // The broker stops mid-frame and closes: the frame never completes, and nothing hangs.
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match tokio::time::timeout(Duration::from_secs(20), slow.stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got += n,
            Err(_) => panic!("connection neither completed nor closed ({got} bytes read)"),
        }
    }
    assert!(got < announced, "read {got} of {announced}");
    // The broker keeps serving others.
    let r = fetch(&mut c, 12, fetch_req(12, "cut", id, &[0], 1000, 1000)).await;
    assert_eq!(r.responses[0].partitions[0].error_code, 0);
}
