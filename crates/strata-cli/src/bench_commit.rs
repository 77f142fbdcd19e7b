//! `strata bench commit`: offset-commit throughput against one broker.
//!
//! Each connection pipelines `--inflight` OffsetCommit requests (simple commits:
//! generation -1, no member id, as admin tools and `assign()` consumers send) and sends
//! the next one as each answer arrives. The broker acknowledges a commit only once it is
//! durable, so this measures the coordinator's whole commit path.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::{BufMut, BytesMut};
use clap::Args;
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::cli::Format;

/// Flags of `bench commit`.
#[derive(Args, Debug)]
pub struct CommitBenchArgs {
    /// Topic whose partitions the commits name (must exist).
    #[arg(long)]
    pub topic: String,
    /// Partitions of the topic to spread commits over.
    #[arg(long, default_value_t = 8)]
    pub partitions: i32,
    /// Connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 32)]
    pub inflight: usize,
    /// Distinct groups the connections commit for.
    #[arg(long, default_value_t = 16)]
    pub groups: usize,
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
}

const OFFSET_COMMIT: i16 = 8;
const VERSION: i16 = 2;

/// One OffsetCommit v2 request frame (length prefix included) for one partition.
fn commit_frame(
    correlation: i32,
    group: &str,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Vec<u8> {
    fn string(b: &mut BytesMut, s: &str) {
        b.put_i16(s.len() as i16);
        b.put_slice(s.as_bytes());
    }
    let mut b = BytesMut::with_capacity(96);
    b.put_i32(0); // length, patched below
    b.put_i16(OFFSET_COMMIT);
    b.put_i16(VERSION);
    b.put_i32(correlation);
    string(&mut b, "strata-bench");
    string(&mut b, group);
    b.put_i32(-1); // generation
    string(&mut b, ""); // member id
    b.put_i64(-1); // retention time: broker default
    b.put_i32(1);
    string(&mut b, topic);
    b.put_i32(1);
    b.put_i32(partition);
    b.put_i64(offset);
    string(&mut b, ""); // metadata
    let len = (b.len() - 4) as i32;
    b[..4].copy_from_slice(&len.to_be_bytes());
    b.to_vec()
}

/// Counts from one connection.
struct ConnStats {
    commits: u64,
    errors: u64,
    latency_us: Histogram<u64>,
}

async fn run_connection(
    bootstrap: String,
    args: std::sync::Arc<CommitBenchArgs>,
    index: usize,
    stop_at: Instant,
) -> Result<ConnStats> {
    let stream = TcpStream::connect(&bootstrap)
        .await
        .with_context(|| format!("connecting to {bootstrap}"))?;
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::with_capacity(64 * 1024, read);
    let group = format!("bench-{}", index % args.groups.max(1));
    let partition = (index as i32) % args.partitions.max(1);
    let mut stats = ConnStats {
        commits: 0,
        errors: 0,
        latency_us: Histogram::new_with_bounds(1, 60_000_000, 3)?,
    };
    // Send times by correlation id; answers come back in order on one connection.
    let mut sent_at = std::collections::VecDeque::with_capacity(args.inflight);
    let mut next: i32 = 0;
    let mut out = Vec::new();
    for _ in 0..args.inflight {
        out.extend(commit_frame(
            next,
            &group,
            &args.topic,
            partition,
            i64::from(next),
        ));
        sent_at.push_back(Instant::now());
        next += 1;
    }
    write.write_all(&out).await?;
    let mut frame = Vec::new();
    while let Some(started) = sent_at.pop_front() {
        let len = read.read_i32().await.context("reading a response")?;
        if !(6..=1 << 20).contains(&len) {
            bail!("response of {len} bytes");
        }
        frame.resize(len as usize, 0);
        read.read_exact(&mut frame).await?;
        // The one partition's error code ends the v2 response.
        if frame[frame.len() - 2..] != [0, 0] {
            stats.errors += 1;
        } else {
            stats.commits += 1;
        }
        let _ = stats
            .latency_us
            .record((started.elapsed().as_micros() as u64).max(1));
        if Instant::now() < stop_at {
            let f = commit_frame(next, &group, &args.topic, partition, i64::from(next));
            write.write_all(&f).await?;
            sent_at.push_back(Instant::now());
            next = next.wrapping_add(1);
        }
    }
    Ok(stats)
}

/// Runs the benchmark and prints its result.
pub async fn commit(args: CommitBenchArgs, bootstrap: String, format: Format) -> Result<()> {
    let args = std::sync::Arc::new(args);
    let started = Instant::now();
    let stop_at = started + Duration::from_secs(args.seconds);
    let tasks: Vec<_> = (0..args.connections)
        .map(|i| {
            tokio::spawn(run_connection(
                bootstrap.clone(),
                std::sync::Arc::clone(&args),
                i,
                stop_at,
            ))
        })
        .collect();
    let mut commits = 0u64;
    let mut errors = 0u64;
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for t in tasks {
        let s = t.await??;
        commits += s.commits;
        errors += s.errors;
        latency.add(&s.latency_us)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let per_sec = commits as f64 / elapsed.max(1e-9);
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    match format {
        Format::Json => println!(
            "{}",
            json!({
                "kind": "commit",
                "connections": args.connections,
                "inflight": args.inflight,
                "commits": commits,
                "errors": errors,
                "elapsed_s": elapsed,
                "commits_per_sec": per_sec,
                "latency_ms": {"p50": ms(0.5), "p99": ms(0.99), "max": latency.max() as f64 / 1000.0},
            })
        ),
        Format::Text => println!(
            "{commits} commits ({errors} errors) in {elapsed:.2} s: {per_sec:.0} commits/s\nlatency ms: p50 {:.3}  p99 {:.3}  max {:.3}",
            ms(0.5),
            ms(0.99),
            latency.max() as f64 / 1000.0
        ),
    }
    if errors > 0 {
        bail!("{errors} commits failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_length_prefix_matches_body() {
        let f = commit_frame(7, "g", "t", 3, 42);
        let len = i32::from_be_bytes([f[0], f[1], f[2], f[3]]) as usize;
        assert_eq!(len, f.len() - 4);
        assert_eq!(&f[4..6], &OFFSET_COMMIT.to_be_bytes());
        assert_eq!(&f[6..8], &VERSION.to_be_bytes());
        assert_eq!(&f[8..12], &7i32.to_be_bytes());
    }
}
