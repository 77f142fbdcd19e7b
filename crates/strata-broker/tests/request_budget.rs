//! `queued.max.request.bytes` under a flood of large stalled requests: the broker stops
//! reading instead of growing, the stalled clients are closed at the read deadline, and a
//! good client is served afterwards.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::net_util::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const MIB: usize = 1 << 20;
const CLIENTS: usize = 20;
/// Each announces a frame of `socket.request.max.bytes`, sends this much and stalls.
const SENT: usize = 90 * MIB;
const FRAME: usize = 100 * MIB;
const BUDGET: usize = 300 * MIB;
/// Allocator slack, thread stacks, the runtime: growth allowed beyond the budget.
const SLACK: u64 = 64 * MIB as u64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_large_requests_stay_within_the_budget_and_are_closed() {
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), |c| {
        c.socket_request_max_bytes = FRAME;
        c.queued_max_request_bytes = BUDGET;
        c.socket_request_read_timeout = Duration::from_secs(1);
    })
    .await;
    let broker = Arc::clone(&b.running.as_ref().unwrap().broker);
    let mut warm = TcpStream::connect(b.addr).await.unwrap();
    assert_eq!(ask(&mut warm, 1, Duration::from_secs(5)).await, Some(true));
    drop(warm);
    let before = rss_bytes();

    // Highest budget use seen, sampled.
    let peak_queued = Arc::new(AtomicI64::new(0));
    let sampler = tokio::spawn({
        let (broker, peak) = (Arc::clone(&broker), Arc::clone(&peak_queued));
        async move {
            loop {
                peak.fetch_max(broker.metrics.queued_request_bytes.get(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    let chunk: &'static [u8] = vec![0u8; MIB].leak();
    let started = Instant::now();
    let mut stallers = Vec::new();
    for _ in 0..CLIENTS {
        let mut s = TcpStream::connect(b.addr).await.unwrap();
        stallers.push(tokio::spawn(async move {
            let mut head = (FRAME as i32).to_be_bytes().to_vec();
            head.extend_from_slice(&[0, 18, 0, 0, 0, 0, 0, 9]);
            if s.write_all(&head).await.is_err() {
                return (s, 0);
            }
            let mut sent = head.len();
            while sent < SENT {
                let n = chunk.len().min(SENT - sent);
                if s.write_all(&chunk[..n]).await.is_err() {
                    break;
                }
                sent += n;
            }
            (s, sent)
        }));
    }
    // The budget fills up: the other requests wait unread.
    let full = BUDGET as i64 - (BUDGET % FRAME) as i64;
    eventually(Duration::from_secs(10), "a full budget", || {
        broker.metrics.queued_request_bytes.get() >= full
    })
    .await;
    // A good client arriving now is served once the stalled ones are gone.
    let mut good = TcpStream::connect(b.addr).await.unwrap();
    let good_asked = Instant::now();
    assert_eq!(ask(&mut good, 2, Duration::from_secs(30)).await, Some(true));
    let good_waited = good_asked.elapsed();
    let mut fully_sent = 0;
    for h in stallers {
        let (mut s, sent) = h.await.unwrap();
        fully_sent += usize::from(sent >= SENT);
        assert!(
            closed_within(&mut s, Duration::from_secs(10)).await,
            "a stalled client left open"
        );
    }
    sampler.abort();
    let elapsed = started.elapsed();
    let peak = peak_rss_bytes();
    let growth = peak.saturating_sub(before);
    let closed_slow = closed(&broker, "request_timeout");
    let waits = broker.metrics.request_budget_waits.get();
    eprintln!(
        "budget {} MiB: peak RSS growth {} MiB (RSS before {} MiB, peak {} MiB), peak queued {} MiB, \
         {fully_sent} clients sent 90 MiB, {closed_slow} closed at the deadline, {waits} waits, \
         good client waited {good_waited:?}, all closed after {elapsed:?}",
        BUDGET / MIB,
        growth / MIB as u64,
        before / MIB as u64,
        peak / MIB as u64,
        peak_queued.load(Ordering::Relaxed) / MIB as i64,
    );
    assert!(
        growth <= BUDGET as u64 + SLACK,
        "RSS grew {} MiB",
        growth / MIB as u64
    );
    assert!(peak_queued.load(Ordering::Relaxed) <= BUDGET as i64);
    assert_eq!(closed_slow, CLIENTS as u64);
    assert!(waits >= (CLIENTS - BUDGET / FRAME) as u64, "{waits} waits");
    // Nothing stays taken.
    eventually(Duration::from_secs(5), "an empty budget", || {
        broker.metrics.queued_request_bytes.get() == 0
    })
    .await;
    assert_eq!(ask(&mut good, 3, Duration::from_secs(5)).await, Some(true));
    b.stop().await;
}
