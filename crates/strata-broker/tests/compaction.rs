//! Compaction and DeleteRecords through the broker: the cleaner task runs on its own.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::*;
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::*;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn keyed(records: &[(&str, Option<&str>)]) -> Bytes {
    let rs: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (k, v))| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
            timestamp: 1_700_000_000_000,
            key: Some(Bytes::from(k.to_string())),
            value: v.map(|v| Bytes::from(v.to_string())),
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        rs.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::Lz4,
        },
    )
    .unwrap();
    buf.freeze()
}

async fn read_all(c: &mut RawClient, topic: &str) -> Vec<(i64, String, Option<String>)> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let req = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_bytes(1 << 20)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(TopicName(s(topic)))
                .with_partitions(vec![FetchPartition::default()
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(1 << 20)])]);
        let ResponseKind::Fetch(f) = c.call(ApiKey::Fetch, 12, RequestKind::Fetch(req)).await
        else {
            panic!()
        };
        let p = &f.responses[0].partitions[0];
        if std::env::var("DEBUG_FETCH").is_ok() {
            eprintln!(
                "fetch@{offset}: err={} hw={} lso={} bytes={}",
                p.error_code,
                p.high_watermark,
                p.log_start_offset,
                p.records.as_ref().map_or(0, |r| r.len())
            );
        }
        // Below the log start (after DeleteRecords): start again from there.
        if p.error_code == 1 && offset < p.log_start_offset {
            offset = p.log_start_offset;
            continue;
        }
        let mut raw = p.records.clone().unwrap_or_default();
        if raw.is_empty() {
            return out;
        }
        for set in RecordBatchDecoder::decode_all(&mut raw).unwrap() {
            for r in set.records {
                if r.offset >= offset {
                    out.push((
                        r.offset,
                        String::from_utf8(r.key.unwrap().to_vec()).unwrap(),
                        r.value.map(|v| String::from_utf8(v.to_vec()).unwrap()),
                    ));
                    offset = r.offset + 1;
                }
            }
        }
        if offset >= p.high_watermark {
            return out;
        }
    }
}

#[tokio::test]
async fn the_cleaner_keeps_the_latest_value_per_key() {
    let b = TestBroker::start().await;
    let mut c = b.client().await;
    let configs = [
        ("cleanup.policy", "compact"),
        ("segment.bytes", "600"),
        ("min.cleanable.dirty.ratio", "0.01"),
        ("delete.retention.ms", "0"),
    ];
    let req = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(TopicName(s("cmp")))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(s(k))
                        .with_value(Some(s(v)))
                })
                .collect(),
        )]);
    c.call(ApiKey::CreateTopics, 7, RequestKind::CreateTopics(req))
        .await;
    let mut latest = BTreeMap::new();
    for round in 0..30 {
        let key = format!("k{}", round % 5);
        let value = (round % 7 != 6).then(|| format!("v{round}"));
        latest.insert(key.clone(), value.clone());
        let records = keyed(&[(&key, value.as_deref())]);
        let produce = ProduceRequest::default()
            .with_acks(1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(s("cmp")))
                .with_partition_data(vec![
                    PartitionProduceData::default().with_records(Some(records))
                ])]);
        c.call(ApiKey::Produce, 9, RequestKind::Produce(produce))
            .await;
    }
    let before = read_all(&mut c, "cmp").await;
    assert_eq!(before.len(), 30);
    // The cleaner runs by itself; wait for it to compact the sealed segments.
    let deadline = Instant::now() + Duration::from_secs(20);
    let after = loop {
        let now = read_all(&mut c, "cmp").await;
        if now.len() <= 10 || Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(after.len() <= 10, "not compacted: {} records", after.len());
    // Offsets strictly increase, and every key's latest value is what a reader sees last.
    assert!(after.windows(2).all(|w| w[0].0 < w[1].0));
    let mut seen = BTreeMap::new();
    for (_, k, v) in &after {
        seen.insert(k.clone(), v.clone());
    }
    for (k, v) in &latest {
        match v {
            Some(v) => assert_eq!(seen.get(k), Some(&Some(v.clone())), "key {k}"),
            // A deleted key is either gone or still its tombstone.
            None => assert!(matches!(seen.get(k), None | Some(None)), "key {k}"),
        }
    }
    b.stop().await;
}

#[tokio::test]
async fn delete_records_moves_the_low_watermark() {
    let b = TestBroker::start().await;
    let mut c = b.client().await;
    let req = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(TopicName(s("dr")))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(vec![
            CreatableTopicConfig::default()
                .with_name(s("segment.bytes"))
                .with_value(Some(s("300"))),
            // The records carry old timestamps; keep time retention out of this test.
            CreatableTopicConfig::default()
                .with_name(s("retention.ms"))
                .with_value(Some(s("-1"))),
        ])]);
    c.call(ApiKey::CreateTopics, 7, RequestKind::CreateTopics(req))
        .await;
    for _ in 0..10 {
        let produce = ProduceRequest::default()
            .with_acks(1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(s("dr")))
                .with_partition_data(vec![
                    PartitionProduceData::default().with_records(Some(batch(3, Compression::None)))
                ])]);
        c.call(ApiKey::Produce, 9, RequestKind::Produce(produce))
            .await;
    }
    let del = |offset: i64| {
        RequestKind::DeleteRecords(DeleteRecordsRequest::default().with_topics(
            vec![DeleteRecordsTopic::default()
            .with_name(TopicName(s("dr")))
            .with_partitions(vec![DeleteRecordsPartition::default().with_offset(offset)])],
        ))
    };
    let ResponseKind::DeleteRecords(r) = c.call(ApiKey::DeleteRecords, 2, del(12)).await else {
        panic!()
    };
    let p = &r.topics[0].partitions[0];
    assert_eq!((p.error_code, p.low_watermark), (0, 12));
    let ResponseKind::DeleteRecords(r) = c.call(ApiKey::DeleteRecords, 2, del(31)).await else {
        panic!()
    };
    assert_eq!(
        r.topics[0].partitions[0].error_code, 1,
        "past the high-water mark"
    );
    // Reads start at the new low watermark; below it is out of range.
    let got = read_all(&mut c, "dr").await;
    assert_eq!(got.first().map(|r| r.0), Some(12));
    drop(c);
    let dir = b.stop().await;
    let b = TestBroker::start_in(dir, |_| {}).await;
    let mut c = b.client().await;
    assert_eq!(
        read_all(&mut c, "dr").await.first().map(|r| r.0),
        Some(12),
        "survives restart"
    );
    b.stop().await;
}
