use crate::tests::leader;
use crate::AckState;
use strata_proto::error_code::{NOT_ENOUGH_REPLICAS, NOT_ENOUGH_REPLICAS_AFTER_APPEND};

#[test]
fn admit_refuses_when_isr_below_min() {
    // min.insync.replicas = 2.
    assert_eq!(
        leader(&[1], 0, 0).acks_all_admit(),
        AckState::NotEnoughReplicas
    );
    assert_eq!(leader(&[1, 2], 0, 0).acks_all_admit(), AckState::Wait);
    assert_eq!(
        AckState::NotEnoughReplicas.error_code(),
        NOT_ENOUGH_REPLICAS
    );
}

#[test]
fn check_waits_for_hw_then_completes() {
    let mut state = leader(&[1, 2], 0, 0);
    state.on_leader_append(10).expect("append");
    assert_eq!(state.acks_all_check(10), AckState::Wait);
    state.on_follower_fetch(2, 5, 1001).expect("fetch");
    assert_eq!(state.acks_all_check(10), AckState::Wait);
    assert_eq!(state.acks_all_check(5), AckState::Done);
    state.on_follower_fetch(2, 10, 1002).expect("fetch");
    assert_eq!(state.acks_all_check(10), AckState::Done);
    assert_eq!(AckState::Done.error_code(), 0);
}

#[test]
fn isr_shrinking_below_min_while_waiting() {
    let mut state = leader(&[1, 2], 0, 0);
    assert_eq!(state.acks_all_admit(), AckState::Wait);
    state.on_leader_append(10).expect("append");
    // Follower 2 drops out; the leader alone commits the data.
    state.apply_isr(vec![1], 11).expect("apply");
    assert_eq!(state.high_watermark(), 10);
    assert_eq!(
        state.acks_all_check(10),
        AckState::NotEnoughReplicasAfterAppend
    );
    assert_eq!(
        AckState::NotEnoughReplicasAfterAppend.error_code(),
        NOT_ENOUGH_REPLICAS_AFTER_APPEND
    );
    assert_eq!(state.acks_all_admit(), AckState::NotEnoughReplicas);
}
