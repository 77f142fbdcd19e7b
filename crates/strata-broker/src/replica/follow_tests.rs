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

/// One fetch response over many partitions is stored in one go: each partition with
/// records gets them and the leader's high watermark (capped at its log end); one
/// with nothing new is left alone; one asked under a previous role is dropped.
#[tokio::test]
async fn a_response_over_many_partitions_is_stored_per_partition() {
    let root = tempfile::tempdir().unwrap();
    let parts: Vec<Arc<Partition>> = (0..5)
        .map(|i| follower(&root.path().join(format!("t-{i}"))))
        .collect();
    let stale = parts[4].follow_state().unwrap().1;
    parts[4].update_role(&image(3, 2), 1, 2);
    let batch = bytes::Bytes::from(super::wait_tests::one_batch());
    let fetched: Vec<super::Fetched> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| super::Fetched {
            partition: Arc::clone(p),
            // Partition 3 has nothing new; the others get one batch.
            records: if i == 3 {
                bytes::Bytes::new()
            } else {
                batch.clone()
            },
            leader_hw: 5,
            generation: if i == 4 {
                stale
            } else {
                p.follow_state().unwrap().1
            },
        })
        .collect();
    let stored = Partition::append_replicated_many(fetched).await;
    assert_eq!(stored.len(), 5);
    for (i, (p, r)) in parts.iter().zip(&stored).enumerate() {
        let r = r.as_ref().unwrap();
        match i {
            0..=2 => {
                assert_eq!(r.map(|info| info.base_offset), Some(0));
                assert_eq!(p.log_end_offset(), 1);
                assert_eq!(
                    p.high_watermark(),
                    1,
                    "the leader's 5, capped at the log end"
                );
            }
            _ => {
                assert!(r.is_none());
                assert_eq!(p.log_end_offset(), 0);
                assert_eq!(p.high_watermark(), 0);
            }
        }
    }
}
