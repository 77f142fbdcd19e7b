//! The HTTP listener's limits over real sockets: garbage, slow heads, idle keep-alive,
//! large bodies and heads, slow handlers, clients that do not read, too many connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use strata_broker::config::HttpLimits;
use strata_broker::metrics::ReasonLabels;
use strata_broker::{Broker, BrokerConfig, RunningBroker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct Http {
    running: RunningBroker,
    _dir: tempfile::TempDir,
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Http {
    async fn start(limits: HttpLimits) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = BrokerConfig {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".into(),
            http: limits,
            ..Default::default()
        };
        let running = Broker::start(config).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let broker = Arc::clone(&running.broker);
        // The broker's routes, and one that takes its time.
        let app = strata_http::router(Arc::clone(&broker)).route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(strata_http::serve_with_limits(
            listener,
            broker,
            app,
            async {
                let _ = stopped.await;
            },
        ));
        Self {
            running,
            _dir: dir,
            addr,
            stop,
            served,
        }
    }

    fn closed(&self, reason: &'static str) -> u64 {
        self.running
            .broker
            .metrics
            .http_connections_closed
            .get_or_create(&ReasonLabels { reason })
            .get()
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(5), self.served)
            .await
            .expect("HTTP listener stops")
            .unwrap()
            .unwrap();
        self.running.shutdown().await.unwrap();
    }
}

fn limits() -> HttpLimits {
    HttpLimits {
        max_connections: 64,
        header_read_timeout: Duration::from_millis(300),
        request_timeout: Duration::from_millis(300),
        max_request_bytes: 1000,
    }
}

/// Reads until the server closes the connection (or `wait` passes: `None`).
async fn read_to_close(s: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&out).into_owned()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// One request; the answer's status line and the rest, read until close.
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    read_to_close(&mut s, Duration::from_secs(5))
        .await
        .expect("the server closes the connection")
}

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn bad_and_slow_requests_get_4xx_or_a_close() {
    let h = Http::start(limits()).await;
    let ok = exchange(
        h.addr,
        b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    // Garbage.
    let bad = exchange(h.addr, b"\x00\x01\x02 garbage \xff\r\n\r\n").await;
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    // A body larger than http.max.request.bytes.
    let large = exchange(
        h.addr,
        b"POST /health HTTP/1.1\r\nhost: x\r\ncontent-length: 5000000\r\n\r\nabc",
    )
    .await;
    assert!(large.starts_with("HTTP/1.1 413"), "{large}");
    // A head larger than 64 KiB.
    let mut huge = b"GET /health HTTP/1.1\r\nhost: x\r\nx-pad: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 100 * 1024));
    huge.extend_from_slice(b"\r\n\r\n");
    let head = exchange(h.addr, &huge).await;
    assert!(
        head.is_empty() || head.starts_with("HTTP/1.1 431"),
        "{head}"
    );
    // A head that trickles in, and a connection that never sends one.
    let started = Instant::now();
    let mut slow = TcpStream::connect(h.addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    let mut silent = TcpStream::connect(h.addr).await.unwrap();
    assert!(read_to_close(&mut slow, WAIT).await.is_some());
    assert!(read_to_close(&mut silent, WAIT).await.is_some());
    assert!(started.elapsed() < Duration::from_secs(2));
    // An idle keep-alive connection is closed after the same time.
    let mut kept = TcpStream::connect(h.addr).await.unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut kept, WAIT).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        h.closed("header_timeout") >= 3,
        "{}",
        h.closed("header_timeout")
    );
    // A handler slower than http.request.timeout.ms.
    let slow_handler = exchange(h.addr, b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(slow_handler.starts_with("HTTP/1.1 408"), "{slow_handler}");
    assert_eq!(h.closed("request_timeout"), 1);
    h.stop().await;
}

#[tokio::test]
async fn a_client_that_does_not_read_is_dropped() {
    // The head timeout alone would also end it (hyper counts a blocked write as waiting
    // for the next head); make it long to see the write deadline.
    let h = Http::start(HttpLimits {
        header_read_timeout: Duration::from_secs(10),
        ..limits()
    })
    .await;
    let mut s = TcpStream::connect(h.addr).await.unwrap();
    // Pipelined requests whose answers (MBs of metrics) the client never reads.
    let (mut rd, mut wr) = s.split();
    let writer = async {
        for _ in 0..20_000 {
            if wr
                .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
                .await
                .is_err()
            {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), writer).await;
    // Not reading for longer than http.request.timeout.ms...
    tokio::time::sleep(Duration::from_secs(1)).await;
    // ...so the server has given up on the connection: what it sent ends soon.
    let mut sink = vec![0u8; 1 << 16];
    let drained = tokio::time::timeout(WAIT, async {
        while let Ok(n) = rd.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    assert!(drained.is_ok(), "connection still open");
    let reasons = ["write_timeout", "header_timeout", "request_timeout"].map(|r| h.closed(r));
    assert_eq!(reasons, [1, 0, 0], "write, header, request timeouts");
    h.stop().await;
}

#[tokio::test]
async fn connections_over_the_limit_get_503() {
    let h = Http::start(HttpLimits {
        max_connections: 3,
        header_read_timeout: Duration::from_secs(10),
        ..limits()
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(h.addr).await.unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 12];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HTTP/1.1 200");
        open.push(s);
    }
    let mut refused = TcpStream::connect(h.addr).await.unwrap();
    let answer = read_to_close(&mut refused, WAIT).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert_eq!(h.closed("over_limit"), 1);
    drop(open.pop());
    // The freed place is usable (the listener notices the close within a moment).
    let deadline = Instant::now() + WAIT;
    loop {
        let answer = exchange(
            h.addr,
            b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
        .await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "{answer}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    h.stop().await;
}
