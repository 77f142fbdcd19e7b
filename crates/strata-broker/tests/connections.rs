//! Listener limits over real sockets: per-address and broker-wide connection limits,
//! idle and partial-request deadlines, malformed requests.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::net_util::*;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use strata_broker::Broker;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(5);

fn broker(b: &TestBroker) -> &Broker {
    &b.running.as_ref().unwrap().broker
}

#[tokio::test]
async fn per_ip_limit_and_override_close_excess_connections() {
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), |c| {
        c.max_connections_per_ip = 2;
        c.max_connections_per_ip_overrides = [("127.0.0.3".parse::<IpAddr>().unwrap(), 3)].into();
    })
    .await;
    let mut kept = Vec::new();
    for src in [
        "127.0.0.2",
        "127.0.0.2",
        "127.0.0.3",
        "127.0.0.3",
        "127.0.0.3",
    ] {
        let mut s = connect_from(src, b.addr).await;
        assert_eq!(
            ask(&mut s, 1, WAIT).await,
            Some(true),
            "{src} within its limit"
        );
        kept.push(s);
    }
    // One more from each address is closed at once, without an answer.
    for src in ["127.0.0.2", "127.0.0.3"] {
        let mut s = connect_from(src, b.addr).await;
        assert!(closed_within(&mut s, WAIT).await, "{src} over its limit");
    }
    assert_eq!(closed(broker(&b), "per_ip_limit"), 2);
    // Other addresses are not affected; a freed place is usable again.
    let mut other = connect_from("127.0.0.4", b.addr).await;
    assert_eq!(ask(&mut other, 2, WAIT).await, Some(true));
    drop(kept.remove(0));
    eventually(WAIT, "the freed place", || {
        broker(&b).metrics.open_connections.get() == 5
    })
    .await;
    let mut again = connect_from("127.0.0.2", b.addr).await;
    assert_eq!(ask(&mut again, 3, WAIT).await, Some(true));
    b.stop().await;
}

#[tokio::test]
async fn at_max_connections_the_listener_waits_for_a_close() {
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), |c| c.max_connections = 3).await;
    let mut open = Vec::new();
    for i in 0..3 {
        let mut s = TcpStream::connect(b.addr).await.unwrap();
        assert_eq!(ask(&mut s, i, WAIT).await, Some(true));
        open.push(s);
    }
    // The fourth completes the TCP handshake (kernel backlog) but is not served...
    let mut waiting = TcpStream::connect(b.addr).await.unwrap();
    assert_eq!(ask(&mut waiting, 9, Duration::from_millis(500)).await, None);
    assert_eq!(broker(&b).metrics.max_connections_reached.get(), 1);
    // ...until a connection closes; then its request, already sent, is answered.
    drop(open.pop());
    let answered = async {
        let mut len = [0u8; 4];
        tokio::io::AsyncReadExt::read_exact(&mut waiting, &mut len)
            .await
            .is_ok()
    };
    assert!(tokio::time::timeout(WAIT, answered).await.unwrap());
    b.stop().await;
}

#[tokio::test]
async fn idle_connections_are_closed_but_not_while_a_request_is_in_flight() {
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), |c| {
        c.connections_max_idle = Duration::from_millis(400);
    })
    .await;
    // Never sends anything.
    let mut silent = TcpStream::connect(b.addr).await.unwrap();
    // Asks once, then idles.
    let mut once = TcpStream::connect(b.addr).await.unwrap();
    assert_eq!(ask(&mut once, 1, WAIT).await, Some(true));
    // Keeps asking, more often than the idle time.
    let mut busy = TcpStream::connect(b.addr).await.unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1200) {
        assert_eq!(
            ask(&mut busy, 2, WAIT).await,
            Some(true),
            "busy connection closed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(closed_within(&mut silent, Duration::from_millis(100)).await);
    assert!(closed_within(&mut once, Duration::from_millis(100)).await);
    assert_eq!(closed(broker(&b), "idle"), 2);
    // A long poll longer than the idle time is a request in flight, not idleness.
    let mut poller = b.client().await;
    let topic = TopicName(StrBytes::from_static_str("idle"));
    let create = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(topic.clone())
        .with_num_partitions(1)
        .with_replication_factor(1)]);
    poller
        .call(ApiKey::CreateTopics, 7, RequestKind::CreateTopics(create))
        .await;
    let fetch = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(1000)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(topic)
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_partition_max_bytes(1 << 20)])]);
    let polled = Instant::now();
    poller
        .call(ApiKey::Fetch, 12, RequestKind::Fetch(fetch))
        .await;
    assert!(polled.elapsed() >= Duration::from_millis(900));
    assert_eq!(ask(&mut poller.stream, 3, WAIT).await, Some(true));
    // The busy connection has gone quiet meanwhile.
    assert!(closed_within(&mut busy, Duration::from_millis(100)).await);
    assert_eq!(closed(broker(&b), "idle"), 3);
    b.stop().await;
}

#[tokio::test]
async fn partial_requests_are_closed_at_the_read_deadline() {
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), |c| {
        c.socket_request_read_timeout = Duration::from_millis(300);
    })
    .await;
    let mut good = TcpStream::connect(b.addr).await.unwrap();
    // Half a length prefix.
    let mut prefix = TcpStream::connect(b.addr).await.unwrap();
    prefix.write_all(&[0, 0]).await.unwrap();
    // A whole prefix, then the body a byte every 100 ms (it would take 10 s).
    let mut trickle = TcpStream::connect(b.addr).await.unwrap();
    let frame = api_versions(7);
    let mut padded = 100i32.to_be_bytes().to_vec();
    padded.extend_from_slice(&frame[4..]);
    padded.resize(104, 0);
    let sent = Instant::now();
    let trickler = tokio::spawn(async move {
        for (i, byte) in padded.iter().enumerate() {
            if trickle.write_all(std::slice::from_ref(byte)).await.is_err() {
                return (trickle, i);
            }
            if i >= 4 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        (trickle, padded.len())
    });
    assert!(closed_within(&mut prefix, WAIT).await);
    let (mut trickle, _) = trickler.await.unwrap();
    assert!(closed_within(&mut trickle, WAIT).await);
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(closed(broker(&b), "request_timeout"), 2);
    // A quiet but complete client is fine; so is one that sends a request in pieces
    // quickly enough.
    assert_eq!(ask(&mut good, 1, WAIT).await, Some(true));
    let frame = api_versions(8);
    good.write_all(&frame[..6]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    good.write_all(&frame[6..]).await.unwrap();
    let mut len = [0u8; 4];
    tokio::io::AsyncReadExt::read_exact(&mut good, &mut len)
        .await
        .unwrap();
    b.stop().await;
}

#[tokio::test]
async fn malformed_requests_close_their_connection_and_are_counted() {
    let b = TestBroker::start().await;
    let mut bystander = TcpStream::connect(b.addr).await.unwrap();
    assert_eq!(ask(&mut bystander, 1, WAIT).await, Some(true));
    let frame = |body: &[u8]| {
        let mut f = (body.len() as i32).to_be_bytes().to_vec();
        f.extend_from_slice(body);
        f
    };
    // Metadata v12 whose one topic is cut short.
    let mut metadata = vec![0, 3, 0, 12, 0, 0, 0, 5, 0xff, 0xff, 0];
    metadata.extend_from_slice(&[0x02, 0x01, 0x02, 0x03]);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (frame(&metadata), "Metadata"),
        (frame(&[0x7f, 0, 0, 0, 0, 0, 0, 1]), "unknown"),
        ((-5i32).to_be_bytes().to_vec(), "unknown"),
        (frame(&[0, 18]), "unknown"),
    ];
    for (i, (bytes, _)) in cases.iter().enumerate() {
        let mut bad = TcpStream::connect(b.addr).await.unwrap();
        bad.write_all(bytes).await.unwrap();
        assert!(closed_within(&mut bad, WAIT).await, "case {i} not closed");
        assert_eq!(ask(&mut bystander, 2, WAIT).await, Some(true));
    }
    let broker = broker(&b);
    assert_eq!(malformed(broker, "Metadata"), 1);
    assert_eq!(malformed(broker, "unknown"), 3);
    assert_eq!(closed(broker, "malformed"), 4);
    let text = broker.render_metrics(false);
    assert!(
        text.contains("strata_malformed_requests_total{api=\"Metadata\"} 1"),
        "{text}"
    );
    b.stop().await;
}

/// A 20-byte request whose array length is absurd. kafka-protocol 0.18 allocates the
/// array before decoding it (`Vec::with_capacity(n)`), which aborted the whole process;
/// the wire-shape guard (`strata_proto::shape`) refuses the frame before that decode.
#[tokio::test]
async fn an_absurd_array_length_does_not_stop_the_broker() {
    let b = TestBroker::start().await;
    let mut body = vec![0, 3, 0, 12, 0, 0, 0, 5, 0xff, 0xff, 0];
    body.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0x09]);
    let mut bad = TcpStream::connect(b.addr).await.unwrap();
    let mut f = (body.len() as i32).to_be_bytes().to_vec();
    f.extend_from_slice(&body);
    bad.write_all(&f).await.unwrap();
    assert!(closed_within(&mut bad, WAIT).await);
    assert_eq!(malformed(broker(&b), "Metadata"), 1);
    let mut good = TcpStream::connect(b.addr).await.unwrap();
    assert_eq!(ask(&mut good, 1, WAIT).await, Some(true));
    b.stop().await;
}
