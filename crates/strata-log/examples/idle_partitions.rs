//! Opens many partition logs, appends a little to each and prints the process RSS, to
//! check that idle partitions stay cheap: `cargo run --release -p strata-log --example
//! idle_partitions -- 1000`. Needs about three file descriptors per partition.

use std::time::{SystemTime, UNIX_EPOCH};

use strata_log::{Log, LogConfig};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// A one-record uncompressed v2 batch built by hand (CRC-32C filled in).
fn tiny_batch() -> Vec<u8> {
    let record: [u8; 8] = [14, 0, 0, 0, 1, 2, b'v', 0];
    let mut b = Vec::new();
    b.extend_from_slice(&0i64.to_be_bytes());
    b.extend_from_slice(&((49 + record.len()) as i32).to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b.push(2);
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&0i16.to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes());
    b.extend_from_slice(&0i64.to_be_bytes());
    b.extend_from_slice(&0i64.to_be_bytes());
    b.extend_from_slice(&(-1i64).to_be_bytes());
    b.extend_from_slice(&(-1i16).to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b.extend_from_slice(&1i32.to_be_bytes());
    b.extend_from_slice(&record);
    let crc = strata_proto::crc::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    let before = rss_kib();
    let batch = tiny_batch();
    let mut logs = Vec::with_capacity(n);
    for i in 0..n {
        let mut log = Log::open(
            &dir.path().join(format!("t-{i}")),
            LogConfig::default(),
            false,
        )?;
        log.append(&batch, now)?;
        logs.push(log);
    }
    let after = rss_kib();
    println!(
        "{n} partitions: RSS {before} KiB -> {after} KiB ({} bytes per partition)",
        (after.saturating_sub(before) * 1024) / n as u64
    );
    Ok(())
}
