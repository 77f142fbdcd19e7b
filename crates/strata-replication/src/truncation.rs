//! Where a follower truncates its log before fetching from a (new) leader, so that its
//! log never diverges from the leader's (Kafka's KIP-101 with the KIP-279 refinement).
//!
//! The exchange, driven by the caller:
//! 1. [`plan_truncation`] with the local epoch cache: either truncate to the high
//!    watermark right away (no local epochs to compare), or ask the leader
//!    `OffsetForLeaderEpoch` for our latest epoch.
//! 2. [`truncation_offset`] with the leader's answer: the offset to truncate to and
//!    whether that settles it. When it does not (the leader answered with an epoch
//!    this log has never seen), truncate, then ask again with the new latest epoch.
//!    Each round lowers the local latest epoch, so the loop ends.

use crate::epoch::{EpochCache, EpochEndOffset, UNDEFINED_EPOCH};

/// What a follower does first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TruncationPlan {
    /// Send `OffsetForLeaderEpoch` for this epoch (our latest) to the leader.
    AskLeader {
        /// The epoch to ask about.
        epoch: i32,
    },
    /// The log carries no leader epochs to compare: truncate here (the high watermark,
    /// which only ever covers committed data) and fetch.
    Truncate(Truncation),
}

/// Where to truncate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncation {
    /// Truncate the log to this offset (remove everything at or after it; a no-op
    /// when it is the log end offset).
    pub offset: i64,
    /// `true`: truncation is finished, fetch from `offset`. `false`: truncate, then ask
    /// the leader again with the new latest local epoch.
    pub complete: bool,
}

/// The first step for a follower whose log ends at `log_end_offset` with high
/// watermark `high_watermark`.
pub fn plan_truncation(
    local: &EpochCache,
    log_end_offset: i64,
    high_watermark: i64,
) -> TruncationPlan {
    match local.latest_epoch() {
        Some(epoch) => TruncationPlan::AskLeader { epoch },
        None => TruncationPlan::Truncate(Truncation {
            offset: high_watermark.min(log_end_offset),
            complete: true,
        }),
    }
}

/// The truncation point given the leader's `OffsetForLeaderEpoch` answer to the epoch
/// the follower asked about (its latest).
///
/// - Undefined end offset (the leader knows no epoch at or below ours): fall back to
///   the high watermark.
/// - Undefined epoch with a defined offset (a leader that does not report epochs):
///   the leader's end offset.
/// - The leader's epoch is one we have: truncate to the smaller of where that epoch
///   ends here and where it ends on the leader. Done.
/// - The leader's epoch is one we never saw (it is below our latest, and our floor
///   epoch for it is lower still): truncate to where our floor epoch ends and ask
///   again; the next round compares an older epoch.
/// - We know no epoch at or below the leader's: the leader's end offset.
///
/// The result never exceeds `log_end_offset`.
pub fn truncation_offset(
    local: &EpochCache,
    log_end_offset: i64,
    high_watermark: i64,
    leader: EpochEndOffset,
) -> Truncation {
    let done = |offset: i64| Truncation {
        offset: offset.min(log_end_offset),
        complete: true,
    };
    if leader.is_undefined() {
        return done(high_watermark);
    }
    if leader.epoch == UNDEFINED_EPOCH {
        return done(leader.end_offset);
    }
    let ours = local.end_offset_for(leader.epoch, log_end_offset);
    if ours.is_undefined() {
        return done(leader.end_offset);
    }
    if ours.epoch != leader.epoch {
        return Truncation {
            offset: ours.end_offset.min(log_end_offset),
            complete: false,
        };
    }
    done(ours.end_offset.min(leader.end_offset))
}

/// A follower's high watermark after a fetch: the leader's, but never past what the
/// follower itself has.
pub fn follower_high_watermark(leader_high_watermark: i64, log_end_offset: i64) -> i64 {
    leader_high_watermark.min(log_end_offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::epoch::EpochEntry;

    fn cache(entries: &[(i32, i64)]) -> EpochCache {
        EpochCache::from_entries(
            entries
                .iter()
                .map(|&(e, s)| EpochEntry::new(e, s))
                .collect(),
        )
        .expect("valid entries")
    }

    fn done(offset: i64) -> Truncation {
        Truncation {
            offset,
            complete: true,
        }
    }

    #[test]
    fn plan_asks_for_latest_epoch_or_falls_back_to_hw() {
        assert_eq!(
            plan_truncation(&cache(&[(1, 0), (3, 40)]), 50, 30),
            TruncationPlan::AskLeader { epoch: 3 }
        );
        assert_eq!(
            plan_truncation(&EpochCache::new(), 50, 30),
            TruncationPlan::Truncate(done(30))
        );
        assert_eq!(
            plan_truncation(&EpochCache::new(), 20, 30),
            TruncationPlan::Truncate(done(20))
        );
    }

    #[test]
    fn same_epoch_truncates_to_the_smaller_end() {
        // Follower wrote epoch 3 up to 60; the leader's epoch 3 ended at 50 (the old
        // leader's unreplicated tail is cut).
        let local = cache(&[(1, 0), (3, 40)]);
        let t = truncation_offset(&local, 60, 45, EpochEndOffset::new(3, 50));
        assert_eq!(t, done(50));
        // The leader has more of epoch 3 than we do: nothing to cut.
        let t = truncation_offset(&local, 45, 45, EpochEndOffset::new(3, 70));
        assert_eq!(t, done(45));
    }

    #[test]
    fn leader_answers_lower_epoch_we_have() {
        // We have epochs 1, 2, 4; the leader never saw 4 and answers (2, 30): our epoch
        // 2 ended at 35, the leader's at 30.
        let local = cache(&[(1, 0), (2, 20), (4, 35)]);
        let t = truncation_offset(&local, 50, 10, EpochEndOffset::new(2, 30));
        assert_eq!(t, done(30));
        // The leader's epoch 2 went further than ours: ours ended at 35.
        let t = truncation_offset(&local, 50, 10, EpochEndOffset::new(2, 45));
        assert_eq!(t, done(35));
    }

    #[test]
    fn leader_answers_epoch_we_never_saw_iterates() {
        // We have 1 and 4; the leader answers with its epoch 3, which we never had. Our
        // floor for 3 is epoch 1, which ends at 20 here: truncate there and ask again.
        let mut local = cache(&[(1, 0), (4, 20)]);
        let t = truncation_offset(&local, 50, 5, EpochEndOffset::new(3, 40));
        assert_eq!(
            t,
            Truncation {
                offset: 20,
                complete: false
            }
        );
        local.truncate_from_end(t.offset);
        assert_eq!(
            plan_truncation(&local, 20, 5),
            TruncationPlan::AskLeader { epoch: 1 }
        );
        // Second round: the leader's epoch 1 ended at 15.
        let t = truncation_offset(&local, 20, 5, EpochEndOffset::new(1, 15));
        assert_eq!(t, done(15));
    }

    #[test]
    fn leader_epoch_below_all_of_ours() {
        // Our oldest known epoch is 3 (older ones were removed with old segments): the
        // lookup answers the leader's epoch itself, ending at our first start.
        let local = cache(&[(3, 100), (5, 200)]);
        let t = truncation_offset(&local, 250, 90, EpochEndOffset::new(2, 150));
        assert_eq!(t, done(100));
    }

    #[test]
    fn undefined_answers() {
        let local = cache(&[(1, 0), (2, 20)]);
        // The leader knows nothing at or below our epoch: high watermark.
        let t = truncation_offset(&local, 50, 12, EpochEndOffset::UNDEFINED);
        assert_eq!(t, done(12));
        // A leader that reports no epoch: its end offset.
        let t = truncation_offset(&local, 50, 12, EpochEndOffset::new(UNDEFINED_EPOCH, 33));
        assert_eq!(t, done(33));
        // We know no epoch at or below the leader's (our cache changed meanwhile).
        let t = truncation_offset(&EpochCache::new(), 50, 12, EpochEndOffset::new(2, 44));
        assert_eq!(t, done(44));
    }

    #[test]
    fn follower_hw_is_capped_by_its_log() {
        assert_eq!(follower_high_watermark(50, 40), 40);
        assert_eq!(follower_high_watermark(30, 40), 30);
    }

    #[test]
    fn never_above_log_end() {
        let local = cache(&[(1, 0)]);
        let t = truncation_offset(&local, 10, 10, EpochEndOffset::new(1, 99));
        assert_eq!(t, done(10));
        let t = truncation_offset(&local, 10, 50, EpochEndOffset::UNDEFINED);
        assert_eq!(t, done(10));
    }
}
