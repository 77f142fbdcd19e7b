//! In-process broker and a minimal raw Kafka client for the broker's integration tests.
#![allow(dead_code)]

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, ProduceRequest, RequestHeader, RequestKind, ResponseHeader,
    ResponseKind, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use strata_broker::{Broker, BrokerConfig, RunningBroker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub mod txn;

/// A broker on a free loopback port with its own temp data dir.
pub struct TestBroker {
    pub running: Option<RunningBroker>,
    pub dir: tempfile::TempDir,
    pub addr: std::net::SocketAddr,
}

impl TestBroker {
    pub async fn start() -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), |_| {}).await
    }

    pub async fn start_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut BrokerConfig)) -> Self {
        let mut config = BrokerConfig {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".into(),
            // Advertise the port bound (Metadata, FindCoordinator and the broker's own
            // calls to itself, such as transaction markers, use it).
            advertise_port: 0,
            ..Default::default()
        };
        tweak(&mut config);
        let running = Broker::start(config).await.expect("broker starts");
        let addr = running.local_addr;
        Self {
            running: Some(running),
            dir,
            addr,
        }
    }

    pub async fn stop(mut self) -> tempfile::TempDir {
        self.running.take().unwrap().shutdown().await.unwrap();
        self.dir
    }

    pub async fn client(&self) -> RawClient {
        RawClient::connect(self.addr).await
    }
}

/// Sends one request at a time and decodes the response.
pub struct RawClient {
    pub stream: TcpStream,
    next_id: i32,
}

impl RawClient {
    pub async fn connect(addr: std::net::SocketAddr) -> Self {
        Self {
            stream: TcpStream::connect(addr).await.unwrap(),
            next_id: 1,
        }
    }

    /// A client on a socket set up by the caller.
    pub fn from_stream(stream: TcpStream) -> Self {
        Self { stream, next_id: 1 }
    }

    pub fn frame(&mut self, key: ApiKey, version: i16, body: &RequestKind) -> Bytes {
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.next_id)
            .with_client_id(Some(StrBytes::from_static_str("test")));
        self.next_id += 1;
        header
            .encode(&mut buf, key.request_header_version(version))
            .unwrap();
        body.encode(&mut buf, version).unwrap();
        let len = (buf.len() - 4) as i32;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        buf.freeze()
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads one response frame; `None` if the broker closed the connection.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        let mut len = [0u8; 4];
        match tokio::time::timeout(Duration::from_secs(10), self.stream.read_exact(&mut len)).await
        {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return None,
            Err(_) => panic!("no response within 10 s"),
        }
        let mut buf = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut buf).await.ok()?;
        Some(Bytes::from(buf))
    }

    pub async fn call(&mut self, key: ApiKey, version: i16, body: RequestKind) -> ResponseKind {
        let f = self.frame(key, version, &body);
        self.send_raw(&f).await;
        let mut resp = self.read_frame().await.expect("response");
        ResponseHeader::decode(&mut resp, key.response_header_version(version)).unwrap();
        ResponseKind::decode(key, &mut resp, version).unwrap()
    }
}

/// One record batch of `n` records `value-<i>` with key `key-<i>`.
pub fn batch(n: usize, compression: Compression) -> Bytes {
    batch_of(n, compression, |i| {
        (
            Some(Bytes::from(format!("key-{i}"))),
            Some(Bytes::from(format!("value-{i}"))),
        )
    })
}

/// One record batch of `n` records whose key and value `record(i)` gives, timestamps
/// 1_700_000_000_000 + i.
pub fn batch_of(
    n: usize,
    compression: Compression,
    record: impl Fn(usize) -> (Option<Bytes>, Option<Bytes>),
) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| {
            let (key, value) = record(i);
            Record {
                transactional: false,
                control: false,
                partition_leader_epoch: 0,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // The encoder starts a new batch whenever offset - sequence changes.
                sequence: i as i32 - 1,
                timestamp: 1_700_000_000_000 + i as i64,
                key,
                value,
                headers: Default::default(),
                delete_horizon: false,
            }
        })
        .collect();
    encode(&records, compression)
}

/// `records` as v2 record batches (the encoder starts a new batch where producer or
/// offset - sequence changes).
pub fn encode(records: &[Record], compression: Compression) -> Bytes {
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .unwrap();
    buf.freeze()
}

pub fn i32_at(b: &[u8], at: usize) -> i32 {
    (&b[at..at + 4]).get_i32()
}

pub fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

/// CreateTopics v7 with replication factor 1; the topic's result.
pub async fn create_result(
    c: &mut RawClient,
    topic: &str,
    partitions: i32,
) -> kafka_protocol::messages::create_topics_response::CreatableTopicResult {
    let req = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(name(topic))
        .with_num_partitions(partitions)
        .with_replication_factor(1)]);
    match c
        .call(ApiKey::CreateTopics, 7, RequestKind::CreateTopics(req))
        .await
    {
        ResponseKind::CreateTopics(mut r) => r.topics.swap_remove(0),
        other => panic!("{other:?}"),
    }
}

/// CreateTopics v7 with replication factor 1; the topic's error code.
pub async fn create(c: &mut RawClient, topic: &str, partitions: i32) -> i16 {
    create_result(c, topic, partitions).await.error_code
}

/// Creates `topic` (it must not exist); returns its id.
pub async fn create_with_id(c: &mut RawClient, topic: &str, partitions: i32) -> uuid::Uuid {
    let r = create_result(c, topic, partitions).await;
    assert_eq!(r.error_code, 0, "CreateTopics {topic}");
    r.topic_id
}

pub fn produce_req(topic: &str, partition: i32, acks: i16, records: bytes::Bytes) -> RequestKind {
    RequestKind::Produce(
        ProduceRequest::default()
            .with_acks(acks)
            .with_timeout_ms(5000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(name(topic))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(records))])]),
    )
}

/// Produce v9 to one partition; its error code and base offset.
pub async fn produce(
    c: &mut RawClient,
    topic: &str,
    partition: i32,
    acks: i16,
    records: bytes::Bytes,
) -> (i16, i64) {
    match c
        .call(
            ApiKey::Produce,
            9,
            produce_req(topic, partition, acks, records),
        )
        .await
    {
        ResponseKind::Produce(r) => {
            let p = &r.responses[0].partition_responses[0];
            (p.error_code, p.base_offset)
        }
        other => panic!("{other:?}"),
    }
}
