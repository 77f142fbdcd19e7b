//! Checking sealed segments while the log is open (scrubber, fetch CRC failures).

use std::fs;

use strata_proto::batch::batches;

use super::helpers::*;
use crate::{DamagedRange, Log, LogConfig};

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 10_000,
        index_interval_bytes: 512,
        ..LogConfig::default()
    }
}

#[test]
fn a_check_finds_a_flipped_byte_after_a_clean_open_and_repair_moves_it_aside() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), config(), false).expect("open");
    let mut i = 0;
    while log.segment_count() < 4 || i % 10 != 0 {
        log.append(&batch(4, i, 40), 0).expect("append");
        i += 1;
    }
    let end = log.log_end_offset();
    log.close().expect("close");
    // Damage a batch in the middle of the second segment.
    let sealed = {
        let log = Log::open(dir.path(), config(), true).expect("open");
        log.sealed_segments()
    };
    let base = sealed[1].base_offset();
    let path = dir.path().join(format!("{base:020}.log"));
    let mut bytes = fs::read(&path).expect("read");
    let found: Vec<(usize, i64, i64, usize)> = {
        let mut pos = 0;
        batches(&bytes)
            .map(|b| {
                let (h, raw) = b.expect("batch");
                let at = pos;
                pos += raw.len();
                (at, h.base_offset, h.next_offset(), raw.len())
            })
            .collect()
    };
    let (position, hit_base, hit_next, size) = found[found.len() / 2];
    bytes[position + 80] ^= 0x01;
    fs::write(&path, &bytes).expect("write");

    // A clean open trusts the segment; the check finds the damage.
    let mut log = Log::open(dir.path(), config(), true).expect("clean open");
    let segments = log.sealed_segments();
    assert!(segments[0].check(&mut |_| {}).expect("check").is_empty());
    let mut paced = 0;
    let damage = segments[1].check(&mut |n| paced += n).expect("check");
    assert_eq!(damage.len(), 1);
    assert_eq!(damage[0].position, position as u64);
    assert_eq!(paced, (bytes.len() - size) as u64);
    let before = crate::corrupt_batches_total();
    let repaired = log.repair_segment(&segments[1]).expect("repair");
    assert_eq!(repaired, damage);
    assert_eq!(crate::corrupt_batches_total(), before + 1);
    let lost = DamagedRange {
        start: hit_base,
        end: hit_next,
    };
    assert_eq!(log.damaged_ranges(), &[lost]);
    let expected: Vec<i64> = (0..end)
        .filter(|o| !(hit_base..hit_next).contains(o))
        .collect();
    assert_eq!(read_all_offsets(&log), expected);
    assert!(dir
        .path()
        .join(format!("{base:020}.log.{position}.corrupt"))
        .exists());
    // Checked again: clean. A stale capture of the old file repairs nothing.
    assert!(log.sealed_segments()[1]
        .check(&mut |_| {})
        .expect("check")
        .is_empty());
    assert!(log.repair_segment(&segments[1]).expect("stale").is_empty());
    log.close().expect("close");
    let log = Log::open(dir.path(), config(), false).expect("unclean open");
    assert_eq!(read_all_offsets(&log), expected);
    assert_eq!(crate::corrupt_batches_total(), before + 1);
}

#[test]
fn damage_in_the_active_segment_is_sealed_then_repaired() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Log::open(dir.path(), config(), false).expect("open");
    for i in 0..10 {
        log.append(&batch(4, i, 40), 0).expect("append");
    }
    assert_eq!(log.segment_count(), 1);
    log.close().expect("close");
    let path = dir.path().join(format!("{:020}.log", 0));
    let mut bytes = fs::read(&path).expect("read");
    let (_, first) = batches(&bytes).next().expect("batch").expect("whole");
    let size = first.len();
    // Damage the second batch (offsets 4..8).
    bytes[size + 80] ^= 0x01;
    fs::write(&path, &bytes).expect("write");

    let mut log = Log::open(dir.path(), config(), true).expect("clean open");
    let active = log.segments[0].log.get().expect("open");
    assert!(
        log.sealed_segment_of(&active).is_none(),
        "active, not sealed"
    );
    let sealed = log
        .seal_active_holding(&active)
        .expect("seal")
        .expect("the active segment");
    assert_eq!(log.segment_count(), 2);
    let moved = log.repair_segment(&sealed).expect("repair");
    assert_eq!(moved.len(), 1);
    assert_eq!(log.damaged_ranges(), &[DamagedRange { start: 4, end: 8 }]);
    // Appends go on in the new active segment; nothing but the damaged batch is lost.
    log.append(&batch(4, 99, 40), 0).expect("append");
    let expected: Vec<i64> = (0..44).filter(|o| !(4..8).contains(o)).collect();
    assert_eq!(read_all_offsets(&log), expected);
    // A file that is not the active segment's is left alone.
    assert!(log
        .seal_active_holding(&active)
        .expect("not active")
        .is_none());
    assert_eq!(log.segment_count(), 2);
    log.close().expect("close");
    let mut log = Log::open(dir.path(), config(), false).expect("unclean open");
    assert_eq!(read_all_offsets(&log), expected);
    log.append(&batch(1, 100, 10), 0)
        .expect("append after reopen");
}
