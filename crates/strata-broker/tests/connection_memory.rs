//! What an idle connection costs the broker: RSS growth over 5,000 idle connections.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::net_util::api_versions;

const CONNECTIONS: usize = 5_000;
/// Budget per idle connection (DESIGN §2: a connection costs little until it sends a
/// real request).
const MAX_BYTES_PER_IDLE_CONNECTION: u64 = 16 * 1024;

pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

fn round_trip(s: &mut TcpStream, id: i32) {
    s.write_all(&api_versions(id)).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    assert_eq!(i32::from_be_bytes(body[..4].try_into().unwrap()), id);
}

async fn wait_for_connections(b: &TestBroker, n: i64) {
    let metrics = &b.running.as_ref().unwrap().broker.metrics;
    let deadline = Instant::now() + Duration::from_secs(30);
    while metrics.open_connections.get() != n {
        assert!(
            Instant::now() < deadline,
            "{} connections, want {n}",
            metrics.open_connections.get()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_costs_under_16_kib() {
    rlimit::increase_nofile_limit(u64::MAX).unwrap();
    let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    assert!(
        soft >= 2 * CONNECTIONS as u64 + 200,
        "open file limit {soft} too low"
    );
    let b = TestBroker::start().await;
    let addr = b.addr;
    // Warm up: one-time allocations (metric series, runtime slabs) are not per connection.
    let warm: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    for (i, mut s) in warm.into_iter().enumerate() {
        round_trip(&mut s, i as i32);
    }
    wait_for_connections(&b, 0).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let before = rss_bytes();
    // Blocking sockets (no client-side runtime state in this process's RSS), opened by a
    // few threads: a connect now and then waits a second for a SYN retransmit here.
    let mut conns: Vec<TcpStream> = tokio::task::spawn_blocking(move || {
        let threads: Vec<_> = (0..20)
            .map(|_| {
                std::thread::spawn(move || {
                    (0..CONNECTIONS / 20)
                        .map(|_| TcpStream::connect(addr).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    })
    .await
    .unwrap();
    wait_for_connections(&b, CONNECTIONS as i64).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let connected = rss_bytes();
    // The usual idle client: it asked something once, then waits.
    for (i, s) in conns.iter_mut().enumerate() {
        round_trip(s, i as i32);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let used = rss_bytes();
    let per_fresh = connected.saturating_sub(before) / CONNECTIONS as u64;
    let per_used = used.saturating_sub(before) / CONNECTIONS as u64;
    eprintln!(
        "idle connection RSS: {per_fresh} B after connect, {per_used} B after one request \
         ({CONNECTIONS} connections, RSS {before} -> {connected} -> {used})"
    );
    assert!(
        per_fresh <= MAX_BYTES_PER_IDLE_CONNECTION,
        "{per_fresh} B per connected idle connection"
    );
    assert!(
        per_used <= MAX_BYTES_PER_IDLE_CONNECTION,
        "{per_used} B per used idle connection"
    );
    drop(conns);
    wait_for_connections(&b, 0).await;
    b.stop().await;
}
