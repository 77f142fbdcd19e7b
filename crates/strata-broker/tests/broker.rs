//! The broker served over real sockets, in process: request handling, ordering, bad
//! input and restart.

use std::time::{Duration, Instant};

use crate::common::*;
use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::*;
use kafka_protocol::records::{Compression, RecordBatchDecoder};

fn fetch_req(topic: &str, offset: i64, max_wait_ms: i32, min_bytes: i32) -> RequestKind {
    RequestKind::Fetch(
        FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(max_wait_ms)
            .with_min_bytes(min_bytes)
            .with_max_bytes(50 << 20)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(name(topic))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(1 << 20)])]),
    )
}

async fn fetch(
    c: &mut RawClient,
    topic: &str,
    offset: i64,
    max_wait_ms: i32,
    min_bytes: i32,
) -> fetch_response::PartitionData {
    match c
        .call(
            ApiKey::Fetch,
            12,
            fetch_req(topic, offset, max_wait_ms, min_bytes),
        )
        .await
    {
        ResponseKind::Fetch(r) => r.responses[0].partitions[0].clone(),
        other => panic!("{other:?}"),
    }
}

fn values(records: &bytes::Bytes) -> Vec<(i64, String)> {
    let mut b = records.clone();
    RecordBatchDecoder::decode_all(&mut b)
        .unwrap()
        .into_iter()
        .flat_map(|set| set.records)
        .map(|r| {
            (
                r.offset,
                String::from_utf8(r.value.unwrap().to_vec()).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn produce_then_fetch_every_codec_round_trips() {
    let b = TestBroker::start().await;
    let mut c = b.client().await;
    assert_eq!(create(&mut c, "t", 1).await, 0);
    let mut expected_offset = 0;
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let (err, base) = produce(&mut c, "t", 0, -1, batch(10, codec)).await;
        assert_eq!((err, base), (0, expected_offset), "{codec:?}");
        expected_offset += 10;
    }
    let got = fetch(&mut c, "t", 0, 0, 1).await;
    assert_eq!(got.error_code, 0);
    assert_eq!(got.high_watermark, 50);
    let v = values(got.records.as_ref().unwrap());
    assert_eq!(v.len(), 50);
    for (i, (off, val)) in v.iter().enumerate() {
        assert_eq!(*off, i as i64);
        assert_eq!(val, &format!("value-{}", i % 10));
    }
    // A fetch inside a batch returns that whole batch; clients skip what they have.
    let mid = fetch(&mut c, "t", 13, 0, 1).await;
    let raw = mid.records.as_ref().unwrap();
    let base = i64::from_be_bytes(raw[..8].try_into().unwrap());
    assert_eq!(base, 10, "the batch holding offset 13 starts at 10");
    let v = values(raw);
    assert_eq!(v.first().unwrap().0, 10, "{v:?}");
    // Past the end: out of range.
    let past = fetch(&mut c, "t", 51, 0, 1).await;
    assert_eq!(
        past.error_code,
        kafka_protocol::ResponseError::OffsetOutOfRange.code()
    );
    b.stop().await;
}

#[tokio::test]
async fn long_poll_returns_as_soon_as_data_arrives() {
    let b = TestBroker::start().await;
    let mut consumer = b.client().await;
    let mut producer = b.client().await;
    assert_eq!(create(&mut producer, "lp", 1).await, 0);
    let started = Instant::now();
    let f = consumer.frame(ApiKey::Fetch, 12, &fetch_req("lp", 0, 10_000, 1));
    consumer.send_raw(&f).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        produce(&mut producer, "lp", 0, 1, batch(3, Compression::None))
            .await
            .0,
        0
    );
    let resp = consumer.read_frame().await.unwrap();
    // Woken by the append, far before the 10 s max wait.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(resp.len() > 100);
    // And with no data it waits max_wait_ms, then answers empty.
    let started = Instant::now();
    let empty = fetch(&mut consumer, "lp", 3, 300, 1).await;
    assert!(started.elapsed() >= Duration::from_millis(290));
    assert!(empty.records.as_ref().unwrap().is_empty());
    b.stop().await;
}

#[tokio::test]
async fn metadata_auto_creates_and_list_offsets_reports_ends() {
    let b = TestBroker::start().await;
    let mut c = b.client().await;
    let req = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(name("auto")))
        ]))
        .with_allow_auto_topic_creation(true);
    let ResponseKind::Metadata(m) = c
        .call(ApiKey::Metadata, 12, RequestKind::Metadata(req))
        .await
    else {
        panic!()
    };
    assert_eq!(m.topics[0].error_code, 0);
    assert_eq!(m.topics[0].partitions.len(), 1);
    assert!(!m.topics[0].topic_id.is_nil());
    assert_eq!(m.brokers.len(), 1);
    // Invalid names are refused, not created.
    let req = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(name("bad/name")))
        ]))
        .with_allow_auto_topic_creation(true);
    let ResponseKind::Metadata(m) = c
        .call(ApiKey::Metadata, 12, RequestKind::Metadata(req))
        .await
    else {
        panic!()
    };
    assert_eq!(
        m.topics[0].error_code,
        kafka_protocol::ResponseError::InvalidTopicException.code()
    );

    produce(&mut c, "auto", 0, 1, batch(5, Compression::None)).await;
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(name("auto"))
            .with_partitions(vec![
                ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_timestamp(-2),
                ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_timestamp(-1),
                ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_timestamp(1_700_000_000_003),
                ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_timestamp(-3),
            ])]);
    let ResponseKind::ListOffsets(r) = c
        .call(ApiKey::ListOffsets, 7, RequestKind::ListOffsets(req))
        .await
    else {
        panic!()
    };
    let offs: Vec<i64> = r.topics[0].partitions.iter().map(|p| p.offset).collect();
    assert_eq!(offs, vec![0, 5, 3, 4]);
    b.stop().await;
}

#[tokio::test]
async fn bad_input_gets_errors_and_the_broker_keeps_serving() {
    let b = TestBroker::start().await;
    let mut good = b.client().await;
    assert_eq!(create(&mut good, "safe", 1).await, 0);
    produce(&mut good, "safe", 0, 1, batch(4, Compression::None)).await;

    // Negative length, absurd length, unknown key, garbage: the connection is closed.
    for bytes in [
        (-5i32).to_be_bytes().to_vec(),
        (200i32 << 20).to_be_bytes().to_vec(),
        {
            let mut v = 8i32.to_be_bytes().to_vec();
            v.extend_from_slice(&[0x7f, 0x00, 0, 0, 0, 0, 0, 1]);
            v
        },
        {
            let mut v = 64i32.to_be_bytes().to_vec();
            v.extend(std::iter::repeat_n(0xAB, 64));
            v
        },
    ] {
        let mut bad = b.client().await;
        bad.send_raw(&bytes).await;
        assert!(
            bad.read_frame().await.is_none(),
            "expected close for {:?}",
            &bytes[..4]
        );
    }
    // Truncated request then close: nothing breaks.
    {
        let mut bad = b.client().await;
        bad.send_raw(&[0, 0, 0, 100, 0, 3]).await;
    }
    // Produce v2 (removed in Kafka 4): UNSUPPORTED_VERSION in the old format.
    {
        let mut old = b.client().await;
        let mut f = BytesMut::new();
        f.put_i32(0);
        f.put_i16(0);
        f.put_i16(2);
        f.put_i32(77);
        f.put_i16(-1);
        f.put_i16(1);
        f.put_i32(1000);
        f.put_i32(1);
        f.put_i16(4);
        f.put_slice(b"safe");
        f.put_i32(1);
        f.put_i32(0);
        f.put_i32(0);
        let len = (f.len() - 4) as i32;
        f[..4].copy_from_slice(&len.to_be_bytes());
        old.send_raw(&f).await;
        let r = old.read_frame().await.unwrap();
        assert_eq!(i32_at(&r, 0), 77);
        // [topics=1][len=4]"safe"[parts=1][p=0][err]
        assert_eq!(i16::from_be_bytes([r[22], r[23]]), 35);
    }
    // Corrupt CRC and wrong magic: CORRUPT_MESSAGE, nothing stored.
    let mut corrupt = batch(3, Compression::None).to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    assert_eq!(produce(&mut good, "safe", 0, 1, corrupt.into()).await.0, 2);
    let mut magic = batch(3, Compression::None).to_vec();
    magic[16] = 1;
    assert_eq!(produce(&mut good, "safe", 0, 1, magic.into()).await.0, 2);
    // Missing partition.
    assert_eq!(
        produce(&mut good, "safe", 7, 1, batch(1, Compression::None))
            .await
            .0,
        3
    );
    // Duplicate and invalid topic names.
    assert_eq!(create(&mut good, "safe", 1).await, 36);
    assert_eq!(create(&mut good, "..", 1).await, 17);
    assert_eq!(create(&mut good, &"x".repeat(250), 1).await, 17);

    let after = fetch(&mut good, "safe", 0, 0, 1).await;
    assert_eq!(after.high_watermark, 4);
    assert_eq!(values(after.records.as_ref().unwrap()).len(), 4);
    b.stop().await;
}

#[tokio::test]
async fn data_survives_restart_and_api_versions_is_wide() {
    let b = TestBroker::start().await;
    let mut c = b.client().await;
    let ResponseKind::ApiVersions(v) = c
        .call(
            ApiKey::ApiVersions,
            3,
            RequestKind::ApiVersions(ApiVersionsRequest::default()),
        )
        .await
    else {
        panic!()
    };
    let produce_row = v.api_keys.iter().find(|k| k.api_key == 0).unwrap();
    assert_eq!(produce_row.min_version, 0);
    assert_eq!(create(&mut c, "keep", 1).await, 0);
    for _ in 0..3 {
        produce(&mut c, "keep", 0, -1, batch(100, Compression::Lz4)).await;
    }
    drop(c);
    let dir = b.stop().await;
    assert!(dir.path().join(".clean_shutdown").exists());
    let b = TestBroker::start_in(dir, |_| {}).await;
    let mut c = b.client().await;
    let got = fetch(&mut c, "keep", 0, 0, 1).await;
    assert_eq!(got.high_watermark, 300);
    assert_eq!(
        produce(&mut c, "keep", 0, 1, batch(1, Compression::None)).await,
        (0, 300)
    );
    b.stop().await;
}
