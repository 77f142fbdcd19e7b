use crate::tests::leader;
use crate::{LeaderInit, LeaderState, ReplicationError};

fn init(replicas: &[i32], isr: &[i32]) -> LeaderInit {
    LeaderInit {
        leader_id: 1,
        leader_epoch: 0,
        partition_epoch: 0,
        replicas: replicas.to_vec(),
        isr: isr.to_vec(),
        min_insync_replicas: 1,
        log_end_offset: 0,
        high_watermark: 0,
        now_ms: 0,
    }
}

#[test]
fn new_refuses_broken_assignments() {
    let cases: [(&[i32], &[i32]); 5] = [
        (&[2, 3], &[2, 3]),    // leader not a replica
        (&[1, 2, 3], &[2, 3]), // leader not in the ISR
        (&[1, 2], &[1, 4]),    // ISR member not a replica
        (&[1, 2, 2], &[1]),    // repeated replica
        (&[1, 2], &[1, 1]),    // repeated ISR member
    ];
    for (replicas, isr) in cases {
        let err = LeaderState::new(init(replicas, isr)).expect_err("must refuse");
        assert!(
            matches!(err, ReplicationError::InvalidAssignment(_)),
            "{replicas:?} {isr:?}: {err:?}"
        );
    }
    assert!(LeaderState::new(init(&[1, 2, 3], &[1, 3])).is_ok());
}

#[test]
fn new_leader_alone_in_isr_commits_its_log_at_once() {
    let state = leader(&[1], 40, 10);
    assert_eq!(state.high_watermark(), 40);
    assert_eq!(state.epoch_start_offset(), 40);
}

#[test]
fn new_leader_keeps_its_hw_until_followers_fetch() {
    let state = leader(&[1, 2, 3], 40, 10);
    assert_eq!(state.high_watermark(), 10);
    let f = state.follower(2).expect("follower 2");
    assert_eq!(f.log_end_offset, None);
    assert_eq!(
        f.last_caught_up_time_ms, 1000,
        "ISR member counts as caught up now"
    );
    // A high watermark above the log end is capped.
    assert_eq!(leader(&[1, 2, 3], 40, 99).high_watermark(), 40);
    // A follower outside the ISR was never caught up.
    assert_eq!(
        leader(&[1, 2], 40, 10)
            .follower(3)
            .map(|f| f.last_caught_up_time_ms),
        Some(0)
    );
}

#[test]
fn hw_is_min_over_isr_and_waits_for_unknown_members() {
    let mut state = leader(&[1, 2, 3], 100, 0);
    let out = state.on_follower_fetch(2, 100, 1001).expect("fetch");
    assert!(!out.hw_advanced, "follower 3 has not fetched yet");
    assert_eq!(out.high_watermark, 0);
    let out = state.on_follower_fetch(3, 60, 1002).expect("fetch");
    assert!(out.hw_advanced);
    assert_eq!(out.high_watermark, 60);
    let out = state.on_follower_fetch(3, 100, 1003).expect("fetch");
    assert_eq!(out.high_watermark, 100);
    // New data waits for both followers again.
    assert_eq!(state.on_leader_append(150), Ok(false));
    state.on_follower_fetch(2, 150, 1004).expect("fetch");
    assert_eq!(state.high_watermark(), 100);
    state.on_follower_fetch(3, 120, 1005).expect("fetch");
    assert_eq!(state.high_watermark(), 120);
}

#[test]
fn hw_never_decreases() {
    let mut state = leader(&[1, 2], 100, 0);
    state.on_follower_fetch(2, 100, 1001).expect("fetch");
    assert_eq!(state.high_watermark(), 100);
    // The follower comes back lower (it truncated): the high watermark stays.
    let out = state.on_follower_fetch(2, 70, 1002).expect("fetch");
    assert!(!out.hw_advanced);
    assert_eq!(out.high_watermark, 100);
    assert_eq!(state.follower(2).and_then(|f| f.log_end_offset), Some(70));
}

#[test]
fn hw_ignores_followers_outside_the_isr() {
    let mut state = leader(&[1, 2], 100, 0);
    let out = state.on_follower_fetch(2, 80, 1001).expect("fetch");
    assert_eq!(
        out.high_watermark, 80,
        "replica 3 (not in ISR, unknown) is not waited for"
    );
}

#[test]
fn leader_alone_advances_on_append() {
    let mut state = leader(&[1], 0, 0);
    assert_eq!(state.on_leader_append(5), Ok(true));
    assert_eq!(state.high_watermark(), 5);
    assert_eq!(state.on_leader_append(5), Ok(false));
    assert_eq!(
        state.on_leader_append(3),
        Err(ReplicationError::LogEndWentBack {
            current: 5,
            requested: 3
        })
    );
}

#[test]
fn caught_up_time_follows_kafkas_rule() {
    let mut state = leader(&[1, 2, 3], 100, 0);
    // Behind the leader with no previous fetch: not caught up.
    state.on_follower_fetch(2, 50, 2000).expect("fetch");
    assert_eq!(
        state.follower(2).map(|f| f.last_caught_up_time_ms),
        Some(1000)
    );
    // Still behind, and short of where the leader was at the previous fetch (100):
    // unchanged.
    state.on_leader_append(120).expect("append");
    state.on_follower_fetch(2, 90, 3000).expect("fetch");
    assert_eq!(
        state.follower(2).map(|f| f.last_caught_up_time_ms),
        Some(1000)
    );
    // Reaches 120, the leader's end at the previous fetch (t=3000): caught up as of
    // that fetch.
    state.on_leader_append(130).expect("append");
    state.on_follower_fetch(2, 120, 4000).expect("fetch");
    assert_eq!(
        state.follower(2).map(|f| f.last_caught_up_time_ms),
        Some(3000)
    );
    // At the leader's end: caught up now.
    state.on_follower_fetch(2, 130, 5000).expect("fetch");
    let f = state.follower(2).copied().expect("follower");
    assert_eq!(f.last_caught_up_time_ms, 5000);
    assert_eq!(f.last_fetch_time_ms, 5000);
    assert_eq!(f.last_fetch_leader_leo, Some(130));
    assert_eq!(f.log_end_offset, Some(130));
}

#[test]
fn bad_fetches_are_refused_without_changing_state() {
    let mut state = leader(&[1, 2, 3], 100, 0);
    let before = state.clone();
    assert_eq!(
        state.on_follower_fetch(2, 101, 2000),
        Err(ReplicationError::FetchOffsetOutOfRange {
            offset: 101,
            log_end_offset: 100
        })
    );
    assert!(state.on_follower_fetch(2, -1, 2000).is_err());
    assert_eq!(
        state.on_follower_fetch(9, 10, 2000),
        Err(ReplicationError::UnknownReplica(9))
    );
    assert_eq!(
        state.on_follower_fetch(1, 10, 2000),
        Err(ReplicationError::UnknownReplica(1)),
        "the leader does not fetch from itself"
    );
    assert_eq!(state, before);
    assert_eq!(
        ReplicationError::UnknownReplica(9).error_code(),
        strata_proto::error_code::NOT_LEADER_OR_FOLLOWER
    );
}
