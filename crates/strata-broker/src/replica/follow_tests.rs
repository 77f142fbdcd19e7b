//! A follower appends a fetch response only under the role it was fetched for.

use std::sync::Arc;

use strata_log::{Log, LogConfig};
use strata_meta::PartitionImage;

use super::Partition;

fn image(leader: i32, leader_epoch: i32) -> PartitionImage {
    PartitionImage {
        partition: 0,
        replicas: vec![1, 2, 3],
        isr: vec![1, 2, 3],
        leader,
        leader_epoch,
        partition_epoch: leader_epoch,
    }
}

fn follower(dir: &std::path::Path) -> Arc<Partition> {
    let log = Log::open(dir, LogConfig::default(), false).unwrap();
    let p = Arc::new(Partition::new("t".into(), uuid::Uuid::new_v4(), 0, log));
    p.update_role(&image(2, 1), 1, 2);
    p
}

/// Found by the nemesis: a fetch sent to the old leader was answered after the
/// leadership moved and the replica had truncated for the new leader; appended then, the
/// old leader's batches sat at offsets where the new leader has others, and the
/// replicas diverged (same size, different bytes; duplicated values for consumers).
#[tokio::test]
async fn a_fetch_response_from_a_previous_role_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let p = follower(dir.path());
    let (_, asked_under) = p.follow_state().expect("following");
    p.update_role(&image(3, 2), 1, 2);
    let batch = bytes::Bytes::from(super::wait_tests::one_batch());
    let appended = p.append_replicated(batch.clone(), 1, asked_under).await;
    assert!(matches!(appended, Ok(None)), "{appended:?}");
    assert_eq!(
        p.log_end_offset(),
        0,
        "nothing appended from the old leader"
    );

    // Under the current role the same bytes go in.
    let (_, now) = p.follow_state().expect("following");
    let appended = p.append_replicated(batch, 1, now).await.unwrap();
    assert_eq!(appended.map(|i| i.base_offset), Some(0));
    assert_eq!(p.log_end_offset(), 1);
}

#[tokio::test]
async fn the_same_role_keeps_its_generation() {
    let dir = tempfile::tempdir().unwrap();
    let p = follower(dir.path());
    let (_, before) = p.follow_state().unwrap();
    // An image that changes only the ISR keeps the follower's role.
    p.update_role(
        &PartitionImage {
            isr: vec![1, 2],
            ..image(2, 1)
        },
        1,
        2,
    );
    assert_eq!(p.follow_state().unwrap().1, before);
}
