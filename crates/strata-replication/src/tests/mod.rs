//! Unit tests of the leader-side rules.

mod acks;
mod isr;
mod leader;

use crate::{LeaderInit, LeaderState};

/// Leader 1 of replicas {1, 2, 3} with the given ISR, log end `leo`, high watermark
/// `hw`, min ISR 2, at time 1000.
pub(crate) fn leader(isr: &[i32], leo: i64, hw: i64) -> LeaderState {
    LeaderState::new(LeaderInit {
        leader_id: 1,
        leader_epoch: 5,
        partition_epoch: 10,
        replicas: vec![1, 2, 3],
        isr: isr.to_vec(),
        min_insync_replicas: 2,
        log_end_offset: leo,
        high_watermark: hw,
        now_ms: 1000,
    })
    .expect("valid leader state")
}
