//! Dynamic configs over real sockets: alter, describe with sources, restart, and the
//! produce-side effects of topic settings.

use crate::common::*;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

async fn create(c: &mut RawClient, topic: &str, configs: &[(&str, &str)]) -> i16 {
    let req = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(TopicName(s(topic)))
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
    match c
        .call(ApiKey::CreateTopics, 7, RequestKind::CreateTopics(req))
        .await
    {
        ResponseKind::CreateTopics(r) => r.topics[0].error_code,
        other => panic!("{other:?}"),
    }
}

async fn alter(
    c: &mut RawClient,
    rtype: i8,
    name: &str,
    key: &str,
    op: i8,
    value: Option<&str>,
) -> (i16, Option<String>) {
    let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(rtype)
            .with_resource_name(s(name))
            .with_configs(vec![AlterableConfig::default()
                .with_name(s(key))
                .with_config_operation(op)
                .with_value(value.map(s))]),
    ]);
    match c
        .call(
            ApiKey::IncrementalAlterConfigs,
            1,
            RequestKind::IncrementalAlterConfigs(req),
        )
        .await
    {
        ResponseKind::IncrementalAlterConfigs(r) => (
            r.responses[0].error_code,
            r.responses[0].error_message.as_ref().map(|m| m.to_string()),
        ),
        other => panic!("{other:?}"),
    }
}

/// (value, source, synonym sources)
async fn describe(c: &mut RawClient, rtype: i8, name: &str, key: &str) -> (String, i8, Vec<i8>) {
    let req = DescribeConfigsRequest::default()
        .with_include_synonyms(true)
        .with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(rtype)
            .with_resource_name(s(name))
            .with_configuration_keys(Some(vec![s(key)]))]);
    match c
        .call(
            ApiKey::DescribeConfigs,
            4,
            RequestKind::DescribeConfigs(req),
        )
        .await
    {
        ResponseKind::DescribeConfigs(r) => {
            let e = &r.results[0].configs[0];
            (
                e.value.as_ref().unwrap().to_string(),
                e.config_source,
                e.synonyms.iter().map(|s| s.source).collect(),
            )
        }
        other => panic!("{other:?}"),
    }
}

async fn produce(c: &mut RawClient, topic: &str, acks: i16, records: bytes::Bytes) -> i16 {
    let req = ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])]);
    match c.call(ApiKey::Produce, 9, RequestKind::Produce(req)).await {
        ResponseKind::Produce(r) => r.responses[0].partition_responses[0].error_code,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn topic_and_broker_configs_change_at_run_time_and_survive_restart() {
    let b = TestBroker::start().await;
    let mut c = b.client().await;
    assert_eq!(create(&mut c, "cfg", &[]).await, 0);
    assert_eq!(
        describe(&mut c, 2, "cfg", "retention.ms").await.1,
        5,
        "built-in default"
    );

    assert_eq!(
        alter(&mut c, 2, "cfg", "retention.ms", 0, Some("60000"))
            .await
            .0,
        0
    );
    let (v, src, syn) = describe(&mut c, 2, "cfg", "retention.ms").await;
    assert_eq!((v.as_str(), src), ("60000", 1));
    assert_eq!(syn, vec![1, 5]);

    let (code, msg) = alter(&mut c, 2, "cfg", "retention.ms", 0, Some("soon")).await;
    assert_eq!(code, 40, "INVALID_CONFIG");
    assert!(msg.unwrap().contains("retention.ms"));
    let (code, _) = alter(&mut c, 2, "cfg", "no.such.config", 0, Some("1")).await;
    assert_eq!(code, 40);

    // A cluster-wide dynamic default reaches topics without an override.
    assert_eq!(create(&mut c, "plain", &[]).await, 0);
    assert_eq!(
        alter(&mut c, 4, "", "log.retention.ms", 0, Some("120000"))
            .await
            .0,
        0
    );
    let (v, src, syn) = describe(&mut c, 2, "plain", "retention.ms").await;
    assert_eq!((v.as_str(), src, syn), ("120000", 3, vec![3, 5]));
    let (code, msg) = alter(&mut c, 4, "", "no.such.broker.config", 0, Some("8")).await;
    assert_eq!(code, 40, "{msg:?}");

    drop(c);
    let dir = b.stop().await;
    let b = TestBroker::start_in(dir, |_| {}).await;
    let mut c = b.client().await;
    assert_eq!(describe(&mut c, 2, "cfg", "retention.ms").await.0, "60000");
    assert_eq!(
        describe(&mut c, 2, "plain", "retention.ms").await.0,
        "120000"
    );
    // Deleting the override falls back to the dynamic default.
    assert_eq!(alter(&mut c, 2, "cfg", "retention.ms", 1, None).await.0, 0);
    assert_eq!(describe(&mut c, 2, "cfg", "retention.ms").await.1, 3);
    b.stop().await;
}

#[tokio::test]
async fn topic_settings_shape_produce() {
    let b = TestBroker::start().await;
    let mut c = b.client().await;
    // compression.type=gzip: the broker recompresses what producers send.
    assert_eq!(
        create(&mut c, "gz", &[("compression.type", "gzip")]).await,
        0
    );
    assert_eq!(
        produce(&mut c, "gz", 1, batch(20, Compression::None)).await,
        0
    );
    let fetch = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(s("gz")))
            .with_partitions(vec![
                FetchPartition::default().with_partition_max_bytes(1 << 20)
            ])]);
    let ResponseKind::Fetch(f) = c.call(ApiKey::Fetch, 12, RequestKind::Fetch(fetch)).await else {
        panic!()
    };
    let raw = f.responses[0].partitions[0].records.clone().unwrap();
    let attributes = i16::from_be_bytes([raw[21], raw[22]]);
    assert_eq!(attributes & 7, 1, "stored gzip");
    let mut decoded = raw.clone();
    let sets = kafka_protocol::records::RecordBatchDecoder::decode_all(&mut decoded).unwrap();
    assert_eq!(sets.iter().map(|s| s.records.len()).sum::<usize>(), 20);

    // A compacted topic refuses records without keys.
    assert_eq!(
        create(&mut c, "cmp", &[("cleanup.policy", "compact")]).await,
        0
    );
    assert_eq!(
        produce(&mut c, "cmp", 1, batch(3, Compression::None)).await,
        0
    );
    assert_eq!(
        produce(&mut c, "cmp", 1, keyless_batch()).await,
        87,
        "INVALID_RECORD"
    );

    // min.insync.replicas above the ISR: acks=all is refused, acks=1 is not.
    assert_eq!(
        create(&mut c, "isr", &[("min.insync.replicas", "2")]).await,
        0
    );
    assert_eq!(
        produce(&mut c, "isr", -1, batch(1, Compression::None)).await,
        19
    );
    assert_eq!(
        produce(&mut c, "isr", 1, batch(1, Compression::None)).await,
        0
    );
    b.stop().await;
}

fn keyless_batch() -> bytes::Bytes {
    use kafka_protocol::records::*;
    let r = Record {
        transactional: false,
        control: false,
        partition_leader_epoch: 0,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 0,
        key: None,
        value: Some(bytes::Bytes::from_static(b"v")),
        headers: Default::default(),
        delete_horizon: false,
    };
    let mut buf = bytes::BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        [r].iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    buf.freeze()
}

/// (error code, base offset, error message) of a one-partition Produce v9.
async fn produce_full(
    c: &mut RawClient,
    topic: &str,
    records: bytes::Bytes,
) -> (i16, i64, Option<String>) {
    let req = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])]);
    match c.call(ApiKey::Produce, 9, RequestKind::Produce(req)).await {
        ResponseKind::Produce(r) => {
            let p = &r.responses[0].partition_responses[0];
            (
                p.error_code,
                p.base_offset,
                p.error_message.as_ref().map(|m| m.to_string()),
            )
        }
        other => panic!("{other:?}"),
    }
}

/// `batch` with its record area, or its record count (and last offset delta), replaced
/// and the length and CRC fixed up.
fn doctored(batch: &[u8], body: Option<&[u8]>, count: Option<i32>) -> bytes::Bytes {
    use strata_proto::batch::{compute_crc, HEADER_SIZE};
    let mut b = batch[..HEADER_SIZE].to_vec();
    b.extend_from_slice(body.unwrap_or(&batch[HEADER_SIZE..]));
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    if let Some(n) = count {
        b[23..27].copy_from_slice(&(n - 1).to_be_bytes());
        b[57..61].copy_from_slice(&n.to_be_bytes());
    }
    let crc = compute_crc(&b);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b.into()
}

#[tokio::test]
async fn hostile_compressed_batches_are_refused_with_their_reason() {
    let b = TestBroker::start().await;
    let mut c = b.client().await;
    // Plain, recompressing (validated before the rewrite) and compacted topics.
    assert_eq!(create(&mut c, "plain", &[]).await, 0);
    assert_eq!(
        create(&mut c, "re", &[("compression.type", "lz4")]).await,
        0
    );
    assert_eq!(
        create(&mut c, "keys", &[("cleanup.policy", "compact")]).await,
        0
    );
    let noise: Vec<u8> = (0..4000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let gzip = batch(10, Compression::Gzip);
    let zstd = batch(10, Compression::Zstd);
    let cases = [
        (
            "random gzip",
            doctored(&gzip, Some(&noise), None),
            2,
            "gzip",
        ),
        (
            "count lie",
            doctored(&gzip, None, Some(1000)),
            87,
            "declares 1000 records but holds 10",
        ),
        (
            "truncated zstd",
            doctored(&zstd, Some(&zstd[61..zstd.len() - 3]), None),
            2,
            "zstd",
        ),
    ];
    for topic in ["plain", "re", "keys"] {
        for (what, records, code, needle) in &cases {
            let (got, _, message) = produce_full(&mut c, topic, records.clone()).await;
            assert_eq!(got, *code, "{topic}: {what}: {message:?}");
            let message = message.unwrap_or_default();
            assert!(message.contains(needle), "{topic}: {what}: {message}");
        }
        // Nothing was stored: the next good batch starts at 0.
        let (code, base, _) = produce_full(&mut c, topic, batch(2, Compression::Snappy)).await;
        assert_eq!((code, base), (0, 0), "{topic}");
    }
    let (code, _, message) = produce_full(&mut c, "keys", keyless_batch()).await;
    assert_eq!(code, 87);
    assert!(message.unwrap_or_default().contains("no key"));
    b.stop().await;
}
