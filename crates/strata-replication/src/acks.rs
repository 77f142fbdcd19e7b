//! `acks=all` decisions: refuse up front when the ISR is too small, then wait until
//! the high watermark covers the append.

use strata_proto::error_code;

use crate::leader::LeaderState;

/// Verdict on an `acks=all` produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckState {
    /// Every in-sync replica has the records: answer success.
    Done,
    /// Append (if not yet done), then keep waiting for followers.
    Wait,
    /// Before appending: the committed ISR is smaller than `min.insync.replicas`;
    /// refuse without writing (`NOT_ENOUGH_REPLICAS`).
    NotEnoughReplicas,
    /// The records are committed but the ISR shrank below `min.insync.replicas`
    /// while waiting (`NOT_ENOUGH_REPLICAS_AFTER_APPEND`; they stay in the log).
    NotEnoughReplicasAfterAppend,
}

impl AckState {
    /// The Kafka error code to answer with (0 for `Done` and `Wait`).
    pub fn error_code(self) -> i16 {
        match self {
            AckState::Done | AckState::Wait => 0,
            AckState::NotEnoughReplicas => error_code::NOT_ENOUGH_REPLICAS,
            AckState::NotEnoughReplicasAfterAppend => error_code::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        }
    }
}

impl LeaderState {
    /// Before appending an `acks=all` produce: [`AckState::NotEnoughReplicas`] when
    /// the committed ISR has fewer than `min.insync.replicas` members, otherwise
    /// [`AckState::Wait`] (append, then call [`LeaderState::acks_all_check`]).
    pub fn acks_all_admit(&self) -> AckState {
        if self.isr.len() < self.min_insync_replicas {
            AckState::NotEnoughReplicas
        } else {
            AckState::Wait
        }
    }

    /// After appending records that end before `required_offset` (the append's last
    /// offset + 1): [`AckState::Done`] once the high watermark reaches it with at least
    /// `min.insync.replicas` members in the maximal ISR,
    /// [`AckState::NotEnoughReplicasAfterAppend`] when it reached it with fewer,
    /// [`AckState::Wait`] before.
    pub fn acks_all_check(&self, required_offset: i64) -> AckState {
        if self.high_watermark < required_offset {
            return AckState::Wait;
        }
        if self.maximal_isr().len() >= self.min_insync_replicas {
            AckState::Done
        } else {
            AckState::NotEnoughReplicasAfterAppend
        }
    }
}
