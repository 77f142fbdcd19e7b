//! Raw-socket helpers for the listener tests: connections from chosen loopback
//! addresses, one ApiVersions round trip, closes, metrics and RSS.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use strata_broker::metrics::{ApiLabels, ReasonLabels};
use strata_broker::Broker;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// ApiVersions v0 with correlation id `id`, length prefix included.
pub fn api_versions(id: i32) -> Vec<u8> {
    let mut f = Vec::with_capacity(14);
    f.extend_from_slice(&10i32.to_be_bytes());
    f.extend_from_slice(&18i16.to_be_bytes());
    f.extend_from_slice(&0i16.to_be_bytes());
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(&(-1i16).to_be_bytes());
    f
}

/// A connection to `addr` from the loopback address `src` (any 127.x binds on Linux).
pub async fn connect_from(src: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{src}:0").parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Sends ApiVersions and waits up to `wait` for the answer: `Some(true)` answered,
/// `Some(false)` the broker closed the connection, `None` no answer in time.
pub async fn ask(s: &mut TcpStream, id: i32, wait: Duration) -> Option<bool> {
    if s.write_all(&api_versions(id)).await.is_err() {
        return Some(false);
    }
    let answer = async {
        let mut len = [0u8; 4];
        if s.read_exact(&mut len).await.is_err() {
            return false;
        }
        let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
        if s.read_exact(&mut body).await.is_err() {
            return false;
        }
        assert_eq!(i32::from_be_bytes(body[..4].try_into().unwrap()), id);
        true
    };
    tokio::time::timeout(wait, answer).await.ok()
}

/// Whether the broker closes `s` (end of stream or reset) within `wait`; bytes it sends
/// meanwhile are discarded.
pub async fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

pub fn closed(b: &Broker, reason: &'static str) -> u64 {
    b.metrics
        .connections_closed
        .get_or_create(&ReasonLabels { reason })
        .get()
}

pub fn malformed(b: &Broker, api: &'static str) -> u64 {
    b.metrics
        .malformed_requests
        .get_or_create(&ApiLabels { api })
        .get()
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Resident memory of this process.
pub fn rss_bytes() -> u64 {
    status_kib("VmRSS:") * 1024
}

/// Peak resident memory of this process.
pub fn peak_rss_bytes() -> u64 {
    status_kib("VmHWM:") * 1024
}

/// Waits until `cond` holds, up to `wait`.
pub async fn eventually(wait: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + wait;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
