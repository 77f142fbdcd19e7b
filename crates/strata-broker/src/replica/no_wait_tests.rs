//! A Fetch's lookups tried on a runtime worker (`strata_log::no_wait`) never wait for the
//! log lock: held by an append or a roll, it makes the read `WouldBlock` (the handler
//! then runs it on a blocking thread); free, the read answers as a blocking one does.

use std::sync::Arc;

use strata_log::no_wait::{is_would_block, without_waiting};
use strata_log::{Log, LogConfig};

use super::wait_tests::{image, one_batch};
use super::Partition;

#[test]
fn a_no_wait_read_gives_way_to_a_held_log_lock() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(&dir.path().join("t-0"), LogConfig::default(), false).unwrap();
    for _ in 0..5 {
        log.append(&one_batch(), 1_700_000_000_000).unwrap();
    }
    let p = Arc::new(Partition::new("t".into(), uuid::Uuid::new_v4(), 0, log));
    p.update_role(&image(1, 1), 1, 1);
    let end = Some(p.log_end_offset());
    let read = || p.slice_blocking_upto(1, 1 << 20, true, end);
    let blocking = read().unwrap().records.expect("records");

    let held = p.log.lock();
    let err = without_waiting(read).expect_err("the lock is held");
    assert!(is_would_block(&err), "{err}");
    drop(held);

    // Just written, so cached; a file system without NOWAIT reads says WouldBlock.
    match without_waiting(read) {
        Ok(r) => {
            let s = r.records.expect("records");
            assert_eq!(
                (s.position, s.len, s.first_offset, s.last_offset),
                (
                    blocking.position,
                    blocking.len,
                    blocking.first_offset,
                    blocking.last_offset
                )
            );
        }
        Err(e) => assert!(is_would_block(&e), "{e}"),
    }
}
