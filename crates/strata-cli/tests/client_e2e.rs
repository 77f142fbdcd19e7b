//! End-to-end tests of the `strata-client` Rust API against a real `strata server`.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::Broker;
use bytes::Bytes;
use strata_client::{
    Acks, Admin, ClientConfig, Compression, Consumer, ConsumerConfig, ConsumerRecord, OffsetReset,
    OffsetSpec, Producer, ProducerRecord,
};

fn client(b: &Broker) -> ClientConfig {
    ClientConfig {
        request_timeout: Duration::from_secs(10),
        ..ClientConfig::new(&b.addr)
    }
}

async fn consume_n(c: &mut Consumer, n: usize) -> Vec<ConsumerRecord> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while out.len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {n} records",
            out.len()
        );
        out.extend(c.poll(Duration::from_millis(500)).await.expect("poll"));
    }
    out
}

fn consumer(b: &Broker, topic: &str, partitions: i32) -> Consumer {
    let mut c = Consumer::new(ConsumerConfig {
        client: client(b),
        auto_offset_reset: OffsetReset::Earliest,
        ..ConsumerConfig::default()
    })
    .expect("consumer");
    c.assign((0..partitions).map(|p| (topic.to_string(), p)).collect())
        .expect("assign");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_round_trip_with_keys_headers_and_timestamps() {
    let b = Broker::start();
    let admin = Admin::new(client(&b)).expect("admin");
    admin
        .create_topic("rt", Some(2), Some(1), &[])
        .await
        .expect("create");
    let producer = Producer::builder()
        .bootstrap(&b.addr)
        .compression(Compression::Zstd)
        .build()
        .expect("producer");
    let mut expected = Vec::new();
    for i in 0..50i64 {
        let rec = ProducerRecord::new("rt", format!("value-{i}"))
            .key(format!("key-{}", i % 7))
            .header("seq", Some(Bytes::from(i.to_string())))
            .header("empty", None)
            .timestamp(1_600_000_000_000 + i);
        let meta = producer.send_record(rec).await.expect("send");
        assert_eq!(meta.topic, "rt");
        assert_eq!(meta.timestamp, 1_600_000_000_000 + i);
        expected.push((meta.partition, meta.offset, i));
    }
    // A tombstone (no value) via the plain API.
    let tomb = producer
        .send("rt", Some(Bytes::from("gone")), None)
        .await
        .expect("tombstone");

    let mut c = consumer(&b, "rt", 2);
    let recs = consume_n(&mut c, 51).await;
    for (partition, offset, i) in expected {
        let r = recs
            .iter()
            .find(|r| r.partition == partition && r.offset == offset)
            .expect("record at reported offset");
        assert_eq!(r.value.as_deref(), Some(format!("value-{i}").as_bytes()));
        assert_eq!(r.key.as_deref(), Some(format!("key-{}", i % 7).as_bytes()));
        assert_eq!(r.timestamp, 1_600_000_000_000 + i);
        assert_eq!(
            r.headers,
            vec![
                ("seq".to_string(), Some(Bytes::from(i.to_string()))),
                ("empty".to_string(), None)
            ]
        );
    }
    let t = recs
        .iter()
        .find(|r| r.partition == tomb.partition && r.offset == tomb.offset)
        .expect("tombstone read back");
    assert_eq!(t.value, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unkeyed_records_stick_to_one_partition_per_batch() {
    let b = Broker::start();
    let admin = Admin::new(client(&b)).expect("admin");
    admin
        .create_topic("sticky", Some(4), Some(1), &[])
        .await
        .expect("create");
    // Long linger: everything enqueued at once forms one batch on one partition.
    let producer = Producer::builder()
        .bootstrap(&b.addr)
        .linger(Duration::from_millis(200))
        .build()
        .expect("producer");
    let mut futs = Vec::new();
    for i in 0..40 {
        futs.push(
            producer
                .enqueue(ProducerRecord::new("sticky", format!("v{i}")))
                .await
                .expect("enqueue"),
        );
    }
    let mut parts = BTreeSet::new();
    let mut offsets = Vec::new();
    for f in futs {
        let m = f.await.expect("delivered");
        parts.insert(m.partition);
        offsets.push(m.offset);
    }
    assert_eq!(parts.len(), 1, "one batch, one partition: {parts:?}");
    assert_eq!(offsets, (0..40).collect::<Vec<i64>>());

    // Awaiting each record means each one is its own batch, so the partition changes every time.
    let eager = Producer::builder()
        .bootstrap(&b.addr)
        .linger(Duration::ZERO)
        .build()
        .expect("producer");
    let mut last = None;
    for i in 0..20 {
        let m = eager
            .send("sticky", None, Some(Bytes::from(format!("w{i}"))))
            .await
            .expect("send");
        assert_ne!(
            Some(m.partition),
            last,
            "record {i} stayed on a finished batch's partition"
        );
        last = Some(m.partition);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seek_inside_a_batch_skips_earlier_records() {
    let b = Broker::start();
    let admin = Admin::new(client(&b)).expect("admin");
    admin
        .create_topic("seek", Some(1), Some(1), &[])
        .await
        .expect("create");
    let producer = Producer::builder()
        .bootstrap(&b.addr)
        .linger(Duration::from_millis(100))
        .compression(Compression::Gzip)
        .build()
        .expect("producer");
    let mut futs = Vec::new();
    for i in 0..10 {
        futs.push(
            producer
                .enqueue(ProducerRecord::new("seek", format!("r{i}")).partition(0))
                .await
                .expect("enqueue"),
        );
    }
    producer.flush().await;
    for (i, f) in futs.into_iter().enumerate() {
        assert_eq!(f.await.expect("delivered").offset, i as i64);
    }
    let mut c = consumer(&b, "seek", 1);
    c.seek("seek", 0, 6);
    let recs = consume_n(&mut c, 4).await;
    let offsets: Vec<i64> = recs.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, vec![6, 7, 8, 9]);
    assert_eq!(recs[0].value.as_deref(), Some(&b"r6"[..]));
    assert_eq!(c.position("seek", 0).await.expect("position"), 10);

    c.seek_to_beginning(&[]);
    assert_eq!(c.position("seek", 0).await.expect("position"), 0);
    c.seek_to_end(&[]);
    assert_eq!(c.position("seek", 0).await.expect("position"), 10);
    // Nothing new: an empty poll after waiting, not an error.
    assert!(c
        .poll(Duration::from_millis(300))
        .await
        .expect("poll")
        .is_empty());

    let latest = admin
        .list_offsets(&[("seek".to_string(), 0)], OffsetSpec::Latest)
        .await
        .expect("latest");
    assert_eq!(latest[&("seek".to_string(), 0)], 10);
    let earliest = admin
        .list_offsets(&[("seek".to_string(), 0)], OffsetSpec::Earliest)
        .await
        .expect("earliest");
    assert_eq!(earliest[&("seek".to_string(), 0)], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_zero_and_acks_all() {
    let b = Broker::start();
    let admin = Admin::new(client(&b)).expect("admin");
    admin
        .create_topic("acks", Some(1), Some(1), &[])
        .await
        .expect("create");
    let fire = Producer::builder()
        .bootstrap(&b.addr)
        .acks(Acks::None)
        .build()
        .expect("producer");
    let m = fire
        .send("acks", None, Some(Bytes::from("a0")))
        .await
        .expect("send");
    assert_eq!(m.offset, -1);
    let all = Producer::builder()
        .bootstrap(&b.addr)
        .acks(Acks::All)
        .build()
        .expect("producer");
    let m = all
        .send("acks", None, Some(Bytes::from("a1")))
        .await
        .expect("send");
    // The acks=0 record was sent first on its own connection; it may or may not be stored
    // before this one, but both must be readable.
    assert!(m.offset == 0 || m.offset == 1, "{m:?}");
    let mut c = consumer(&b, "acks", 1);
    let recs = consume_n(&mut c, 2).await;
    let values: BTreeSet<_> = recs.iter().filter_map(|r| r.value.clone()).collect();
    assert_eq!(
        values,
        BTreeSet::from([Bytes::from("a0"), Bytes::from("a1")])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_kafka_code_names() {
    let b = Broker::start();
    let admin = Admin::new(client(&b)).expect("admin");
    admin
        .create_topic("e", Some(1), Some(1), &[])
        .await
        .expect("create");
    let e = admin
        .create_topic("e", Some(1), Some(1), &[])
        .await
        .expect_err("duplicate");
    assert_eq!(e.code_name(), Some("TOPIC_ALREADY_EXISTS"));
    let e = admin.describe_topic("missing").await.expect_err("missing");
    assert_eq!(e.code_name(), Some("UNKNOWN_TOPIC_OR_PARTITION"));
    let e = admin.delete_topic("missing").await.expect_err("missing");
    assert_eq!(e.code_name(), Some("UNKNOWN_TOPIC_OR_PARTITION"));

    let producer = Producer::new(strata_client::ProducerConfig {
        client: ClientConfig {
            request_timeout: Duration::from_secs(1),
            ..ClientConfig::new(&b.addr)
        },
        ..Default::default()
    })
    .expect("producer");
    // Like Kafka's producers, naming a missing topic creates it (the broker allows it by
    // default); an admin lookup of a missing topic above created nothing.
    producer
        .send("missing", None, Some(Bytes::from("x")))
        .await
        .expect("auto-created");
    assert_eq!(
        admin
            .describe_topic("missing")
            .await
            .expect("exists")
            .partitions
            .len(),
        1
    );
    let e = producer
        .send_record(ProducerRecord::new("e", "x").partition(5))
        .await
        .expect_err("bad partition");
    assert_eq!(e.code_name(), Some("UNKNOWN_TOPIC_OR_PARTITION"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_fetch_sizes_still_make_progress_in_order() {
    let b = Broker::start();
    let admin = Admin::new(client(&b)).expect("admin");
    admin
        .create_topic("small", Some(1), Some(1), &[])
        .await
        .expect("create");
    // Many batches of ~1 KiB each.
    let producer = Producer::builder()
        .bootstrap(&b.addr)
        .batch_size(1024)
        .linger(Duration::from_millis(20))
        .build()
        .expect("producer");
    let mut futs = Vec::new();
    for i in 0..300 {
        let value = format!("{i:04}-{}", "x".repeat(90));
        futs.push(
            producer
                .enqueue(ProducerRecord::new("small", value))
                .await
                .expect("enqueue"),
        );
    }
    for (i, f) in futs.into_iter().enumerate() {
        assert_eq!(f.await.expect("delivered").offset, i as i64);
    }
    // Fetch limits smaller than a couple of batches: the broker may cut the response inside a
    // batch; the consumer must drop the fragment and ask again from the right offset.
    let mut c = Consumer::new(ConsumerConfig {
        client: client(&b),
        auto_offset_reset: OffsetReset::Earliest,
        fetch_max_bytes: 1500,
        max_partition_fetch_bytes: 1500,
        ..ConsumerConfig::default()
    })
    .expect("consumer");
    c.assign(vec![("small".to_string(), 0)]).expect("assign");
    let recs = consume_n(&mut c, 300).await;
    assert_eq!(recs.len(), 300);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.offset, i as i64);
        assert!(r
            .value
            .as_deref()
            .is_some_and(|v| v.starts_with(format!("{i:04}-").as_bytes())));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_reconnect_after_a_broker_restart() {
    let mut b = Broker::start();
    let admin = Admin::new(client(&b)).expect("admin");
    admin
        .create_topic("rs", Some(1), Some(1), &[])
        .await
        .expect("create");
    let producer = Producer::builder()
        .bootstrap(&b.addr)
        .acks(Acks::All)
        .build()
        .expect("producer");
    let m = producer
        .send("rs", None, Some(Bytes::from("before")))
        .await
        .expect("send");
    assert_eq!(m.offset, 0);
    let mut c = consumer(&b, "rs", 1);
    assert_eq!(
        consume_n(&mut c, 1).await[0].value.as_deref(),
        Some(&b"before"[..])
    );

    // The pooled connections are now dead; both clients must notice and reconnect.
    b.kill_and_restart();
    let m = producer
        .send("rs", None, Some(Bytes::from("after")))
        .await
        .expect("send after restart");
    assert_eq!(m.offset, 1);
    let recs = consume_n(&mut c, 1).await;
    assert_eq!(recs[0].offset, 1);
    assert_eq!(recs[0].value.as_deref(), Some(&b"after"[..]));
}
