//! `strata log verify DIR`: checks a data directory offline (the broker stopped): every
//! batch of every segment of every partition (framing, offsets, CRC-32C) and every index
//! entry, read-only. Exits non-zero when anything is damaged.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::json;
use strata_log::{PartitionReport, SegmentReport};

use crate::cli::Format;

/// Offline log tools.
#[derive(Subcommand, Debug)]
pub enum LogCommand {
    /// Check every segment and index of a data directory (or one partition directory).
    Verify(VerifyArgs),
}

/// Arguments of `log verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// A broker data directory (`--data-dir`), or one `<topic>-<partition>` directory.
    pub dir: PathBuf,
}

/// Runs a log command.
pub fn run(command: LogCommand, format: Format) -> anyhow::Result<()> {
    match command {
        LogCommand::Verify(args) => verify(&args.dir, format),
    }
}

fn verify(dir: &Path, format: Format) -> anyhow::Result<()> {
    let partitions = partition_dirs(dir)?;
    anyhow::ensure!(
        !partitions.is_empty(),
        "no partition directory (with .log segments) under {}",
        dir.display()
    );
    let started = Instant::now();
    let mut last_progress = Instant::now();
    let (mut segments, mut bytes, mut damaged_parts) = (0u64, 0u64, 0usize);
    let mut batches = 0u64;
    for (i, part) in partitions.iter().enumerate() {
        let report = strata_log::verify_partition(part, &mut |s: &SegmentReport| {
            segments += 1;
            bytes += s.bytes;
            // Long runs say where they are, on stderr (stdout stays the report).
            if last_progress.elapsed() >= Duration::from_secs(2) {
                eprintln!(
                    "checked {segments} segments, {} MB, partition {}/{}",
                    bytes >> 20,
                    i + 1,
                    partitions.len()
                );
                last_progress = Instant::now();
            }
        })?;
        batches += report.segments.iter().map(|s| s.batches).sum::<u64>();
        if report.segments.iter().any(SegmentReport::is_damaged) {
            damaged_parts += 1;
        }
        print_partition(&report, format);
    }
    match format {
        Format::Text => println!(
            "{} partitions, {segments} segments, {batches} batches, {} MB checked in {:.1} s: {}",
            partitions.len(),
            bytes >> 20,
            started.elapsed().as_secs_f64(),
            if damaged_parts == 0 {
                "no damage".to_string()
            } else {
                format!("{damaged_parts} damaged")
            }
        ),
        Format::Json => println!(
            "{}",
            json!({
                "summary": {
                    "partitions": partitions.len(),
                    "segments": segments,
                    "batches": batches,
                    "bytes": bytes,
                    "damaged_partitions": damaged_parts,
                }
            })
        ),
    }
    anyhow::ensure!(damaged_parts == 0, "{damaged_parts} partition(s) damaged");
    Ok(())
}

/// `dir` itself if it holds segments, else its subdirectories that do (sorted).
fn partition_dirs(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if has_segments(dir)? {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() && has_segments(&path)? {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn has_segments(dir: &Path) -> anyhow::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        if entry?.file_name().to_str().is_some_and(|n| {
            n.len() == 24 && n.ends_with(".log") && n[..20].bytes().all(|b| b.is_ascii_digit())
        }) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn print_partition(report: &PartitionReport, format: Format) {
    let batches: u64 = report.segments.iter().map(|s| s.batches).sum();
    match format {
        Format::Text => {
            let damaged = report.segments.iter().any(SegmentReport::is_damaged);
            println!(
                "{}: {} segments, {batches} batches{}",
                report.dir.display(),
                report.segments.len(),
                if damaged { ", DAMAGED" } else { "" }
            );
            for s in &report.segments {
                for d in &s.damaged {
                    println!(
                        "  {} bytes {}..{}: offsets {}..{} lost",
                        s.file.display(),
                        d.position,
                        d.end,
                        d.offsets.start,
                        d.offsets.end
                    );
                }
                if let Some(at) = s.torn_tail {
                    println!(
                        "  {} torn tail from byte {at} (cut on the next start)",
                        s.file.display()
                    );
                }
                for p in &s.index_problems {
                    println!("  {p}");
                }
            }
        }
        Format::Json => {
            let segments: Vec<_> = report
                .segments
                .iter()
                .map(|s| {
                    json!({
                        "file": s.file.display().to_string(),
                        "base_offset": s.base_offset,
                        "bytes": s.bytes,
                        "batches": s.batches,
                        "damaged": s.damaged.iter().map(|d| json!({
                            "position": d.position,
                            "end": d.end,
                            "first_offset": d.offsets.start,
                            "end_offset": d.offsets.end,
                        })).collect::<Vec<_>>(),
                        "torn_tail": s.torn_tail,
                        "index_problems": s.index_problems,
                    })
                })
                .collect();
            println!(
                "{}",
                json!({
                    "partition": report.dir.display().to_string(),
                    "batches": batches,
                    "known_damage": report.known_damage.iter().map(|r| json!({"start": r.start, "end": r.end})).collect::<Vec<_>>(),
                    "segments": segments,
                })
            );
        }
    }
}
