use crate::tests::leader;
use crate::{IsrApplied, ReplicationError};

#[test]
fn caught_up_follower_is_proposed_for_the_isr() {
    // ISR {1, 2}; replica 3 is out. HW 0, epoch started at 50.
    let mut state = leader(&[1, 2], 50, 0);
    state.on_follower_fetch(2, 50, 1001).expect("fetch");
    assert_eq!(state.high_watermark(), 50);
    // Below the start of the leader epoch: not yet.
    let out = state.on_follower_fetch(3, 40, 1002).expect("fetch");
    assert_eq!(out.isr_expand, None);
    let out = state.on_follower_fetch(3, 50, 1003).expect("fetch");
    assert_eq!(out.isr_expand, Some(vec![1, 2, 3]));
    assert_eq!(state.pending_isr(), Some(&[1, 2, 3][..]));
    assert_eq!(state.isr(), &[1, 2]);
    assert_eq!(state.maximal_isr(), vec![1, 2, 3]);
    // Only one change in flight: the next fetch proposes nothing.
    let out = state.on_follower_fetch(3, 50, 1004).expect("fetch");
    assert_eq!(out.isr_expand, None);
}

#[test]
fn follower_below_hw_is_not_proposed() {
    let mut state = leader(&[1, 2], 10, 0);
    state.on_leader_append(100).expect("append");
    state.on_follower_fetch(2, 100, 1001).expect("fetch");
    assert_eq!(state.high_watermark(), 100);
    let out = state.on_follower_fetch(3, 90, 1002).expect("fetch");
    assert_eq!(
        out.isr_expand, None,
        "90 is past the epoch start (10) but below HW"
    );
}

#[test]
fn pending_expansion_holds_the_hw_for_the_new_member() {
    let mut state = leader(&[1, 2], 50, 50);
    state.on_follower_fetch(3, 50, 1001).expect("fetch"); // proposed
    assert!(state.pending_isr().is_some());
    state.on_leader_append(80).expect("append");
    state.on_follower_fetch(2, 80, 1002).expect("fetch");
    assert_eq!(state.high_watermark(), 50, "waits for proposed member 3");
    state.on_follower_fetch(3, 80, 1003).expect("fetch");
    assert_eq!(state.high_watermark(), 80);
}

#[test]
fn lagging_follower_is_proposed_for_removal() {
    let lag = 10_000;
    let mut state = leader(&[1, 2, 3], 100, 0);
    // Follower 2 keeps up; follower 3 never fetches.
    state.on_follower_fetch(2, 100, 1500).expect("fetch");
    assert_eq!(
        state.maybe_shrink(1000 + lag, lag),
        None,
        "not lagging long enough yet"
    );
    assert_eq!(state.maybe_shrink(1001 + lag, lag), Some(vec![1, 2]));
    assert_eq!(state.pending_isr(), Some(&[1, 2][..]));
    // While the shrink is pending the HW still waits for 3.
    assert_eq!(state.high_watermark(), 0);
    assert_eq!(
        state.maybe_shrink(1002 + lag, lag),
        None,
        "one change at a time"
    );
    let applied = state.apply_isr(vec![1, 2], 11).expect("apply");
    assert_eq!(applied, IsrApplied::Applied { hw_advanced: true });
    assert_eq!(state.high_watermark(), 100);
    assert_eq!(state.isr(), &[1, 2]);
    assert_eq!(state.pending_isr(), None);
}

#[test]
fn follower_at_the_log_end_is_never_out_of_sync() {
    let mut state = leader(&[1, 2], 100, 0);
    state.on_follower_fetch(2, 100, 1000).expect("fetch");
    // Long idle, but nothing was written: still in sync.
    assert_eq!(state.maybe_shrink(1_000_000, 10_000), None);
    // The leader writes; the follower does not fetch again for too long.
    state.on_leader_append(101).expect("append");
    assert_eq!(state.maybe_shrink(1_000_000, 10_000), Some(vec![1]));
}

#[test]
fn leader_alone_is_never_shrunk() {
    let mut state = leader(&[1], 100, 0);
    assert_eq!(state.maybe_shrink(i64::MAX, 0), None);
}

#[test]
fn apply_isr_ignores_stale_and_refuses_invalid() {
    let mut state = leader(&[1, 2], 100, 0);
    assert_eq!(state.apply_isr(vec![1], 10), Ok(IsrApplied::Stale));
    assert_eq!(state.isr(), &[1, 2]);
    assert!(matches!(
        state.apply_isr(vec![2, 3], 11),
        Err(ReplicationError::InvalidAssignment(_))
    ));
    assert!(matches!(
        state.apply_isr(vec![1, 7], 11),
        Err(ReplicationError::InvalidAssignment(_))
    ));
    assert_eq!(state.partition_epoch(), 10);
    // A change the controller made on its own (replica 3 added by reassignment
    // completion) clears our pending proposal.
    state.on_follower_fetch(2, 100, 1001).expect("fetch");
    state.on_leader_append(200).expect("append");
    assert!(state.maybe_shrink(100_000, 10).is_some());
    assert_eq!(
        state.apply_isr(vec![1, 2, 3], 12),
        Ok(IsrApplied::Applied { hw_advanced: false })
    );
    assert_eq!(state.pending_isr(), None);
    assert_eq!(state.partition_epoch(), 12);
}

#[test]
fn aborting_a_pending_change_allows_a_new_one() {
    let mut state = leader(&[1, 2], 50, 50);
    let out = state.on_follower_fetch(3, 50, 1001).expect("fetch");
    assert!(out.isr_expand.is_some());
    assert!(state.abort_pending_isr());
    assert!(!state.abort_pending_isr());
    let out = state.on_follower_fetch(3, 50, 1002).expect("fetch");
    assert_eq!(out.isr_expand, Some(vec![1, 2, 3]));
}
