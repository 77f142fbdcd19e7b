//! Space reserved ahead of appends (`prealloc.rs`) on real files: file lengths never
//! include it, a roll gives back what the sealed segment did not use, and a reopened
//! log reads the same records.

use std::os::unix::fs::MetadataExt;

use super::helpers::*;
use crate::prealloc::{supported, FROM};
use crate::{Log, LogConfig};

const MIB: u64 = 1 << 20;

/// Allocated bytes and length of each `.log` file in `dir`, by name.
fn files(dir: &std::path::Path) -> Vec<(String, u64, u64)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry"))
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .map(|e| {
            let meta = e.metadata().expect("meta");
            (
                e.file_name().to_string_lossy().into_owned(),
                meta.blocks() * 512,
                meta.len(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Appends batches of about 100 KB until the `segment`th `.log` file holds 1.5 MiB:
/// past the first reservation, and inside it.
fn append_until(log: &mut Log, dir: &std::path::Path, segment: usize, ts: &mut i64) {
    while files(dir)
        .get(segment)
        .is_none_or(|f| f.2 < FROM + FROM / 2)
    {
        log.append(&batch(10, *ts, 10_000), *ts).expect("append");
        *ts += 10;
    }
}

#[test]
fn appends_reserve_space_ahead_and_a_roll_gives_back_what_was_not_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        segment_bytes: 6 * MIB,
        ..LogConfig::default()
    };
    let mut log = Log::open(dir.path(), config.clone(), true).expect("open");
    let mut ts = 1_000;
    append_until(&mut log, dir.path(), 1, &mut ts);
    let end = log.log_end_offset();
    let expected: Vec<i64> = (0..end).collect();
    assert_eq!(read_all_offsets(&log), expected);

    let on_disk = files(dir.path());
    assert_eq!(on_disk.len(), 2, "{on_disk:?}");
    let lengths: u64 = on_disk.iter().map(|(_, _, len)| len).sum();
    assert_eq!(
        lengths,
        log.size_bytes(),
        "file lengths hold the records only"
    );
    let reserving = {
        let file = std::fs::File::open(dir.path().join(&on_disk[0].0)).expect("open");
        supported(&file)
    };
    let (_, sealed_allocated, sealed_len) = &on_disk[0];
    let (_, active_allocated, active_len) = &on_disk[1];
    if reserving {
        assert!(
            *sealed_allocated < sealed_len + 64 * 1024,
            "the sealed segment gave its reservation back: {on_disk:?}"
        );
        assert!(
            *active_allocated >= active_len + MIB / 4,
            "the active segment reserves ahead: {on_disk:?}"
        );
    } else {
        assert!(*active_allocated < active_len + 64 * 1024, "{on_disk:?}");
    }

    // A clean close gives back the active segment's reservation too; the records and
    // lengths are the same after reopening.
    log.close().expect("close");
    let after_close = files(dir.path());
    assert!(
        after_close[1].1 < after_close[1].2 + 64 * 1024,
        "{after_close:?}"
    );
    let mut log = Log::open(dir.path(), config, true).expect("reopen");
    assert_eq!(read_all_offsets(&log), expected);
    let info = log
        .append(&batch(10, ts, 10_000), ts)
        .expect("append after reopen");
    assert_eq!(info.base_offset, end);
    assert_eq!(files(dir.path())[1].2, after_close[1].2 + info.bytes);
}

#[test]
fn space_reserved_before_a_kill_is_given_back_when_the_reopened_segment_is_sealed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        segment_bytes: 64 * MIB,
        ..LogConfig::default()
    };
    let mut log = Log::open(dir.path(), config, true).expect("open");
    let mut ts = 1_000;
    append_until(&mut log, dir.path(), 0, &mut ts);
    let (_, allocated, len) = files(dir.path())[0].clone();
    let file = std::fs::File::open(dir.path().join(&files(dir.path())[0].0)).expect("open");
    if !supported(&file) {
        return;
    }
    assert!(
        allocated >= len + MIB / 4,
        "reserved ahead: {allocated} for {len}"
    );
    // Gone without a close, as after kill -9: the reservation stays on disk.
    drop(log);
    let smaller = LogConfig {
        segment_bytes: MIB,
        ..LogConfig::default()
    };
    let mut log = Log::open(dir.path(), smaller, false).expect("recover");
    let end = log.log_end_offset();
    log.append(&batch(10, ts, 10_000), ts)
        .expect("append that rolls");
    assert_eq!(log.segment_count(), 2);
    let on_disk = files(dir.path());
    assert_eq!(on_disk[0].2, len, "the sealed segment kept its records");
    assert!(
        on_disk[0].1 < len + 64 * 1024,
        "the old reservation was given back: {on_disk:?}"
    );
    assert_eq!(read_all_offsets(&log), (0..end + 10).collect::<Vec<_>>());
}
