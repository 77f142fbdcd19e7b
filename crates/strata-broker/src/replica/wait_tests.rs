//! `acks=all` waits end as soon as their leadership does: a leader change or a deleted
//! partition answers them at once instead of at the request timeout.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use strata_log::{Log, LogConfig};
use strata_meta::PartitionImage;
use strata_replication::AckState;

use super::{Partition, Replicated};

pub(super) fn one_batch() -> Vec<u8> {
    let record = Record {
        transactional: false,
        control: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 1_700_000_000_000,
        key: None,
        value: Some(bytes::Bytes::from_static(b"v")),
        headers: Default::default(),
        delete_horizon: false,
    };
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, [record].iter(), &options).unwrap();
    buf.to_vec()
}

pub(super) fn image(leader: i32, leader_epoch: i32) -> PartitionImage {
    PartitionImage {
        partition: 0,
        replicas: vec![1, 2],
        isr: vec![1, 2],
        leader,
        leader_epoch,
        partition_epoch: leader_epoch,
    }
}

/// Broker 1 leads; broker 2 is in the ISR but never fetches, so an `acks=all` wait for
/// the appended record can only end by its deadline, or by the leadership ending.
fn leading_partition(dir: &std::path::Path) -> Arc<Partition> {
    let mut log = Log::open(dir, LogConfig::default(), false).unwrap();
    log.append(&one_batch(), 1_700_000_000_000).unwrap();
    let p = Arc::new(Partition::new("t".into(), uuid::Uuid::new_v4(), 0, log));
    p.update_role(&image(1, 1), 1, 2);
    p
}

async fn wait_for_ack(p: &Arc<Partition>) -> tokio::task::JoinHandle<Replicated> {
    let p = Arc::clone(p);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let waiting = tokio::spawn(async move { p.wait_replicated(0, deadline).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !waiting.is_finished(),
        "the follower never fetched: the wait must go on"
    );
    waiting
}

/// The wait's verdict, which must come within a second of the change.
async fn answered(waiting: tokio::task::JoinHandle<Replicated>, at: &str) -> Replicated {
    tokio::time::timeout(Duration::from_secs(1), waiting)
        .await
        .unwrap_or_else(|_| panic!("not answered at {at}, only by the deadline"))
        .unwrap()
}

#[tokio::test]
async fn a_leadership_change_answers_a_waiting_acks_all_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = leading_partition(dir.path());
    let waiting = wait_for_ack(&p).await;
    p.update_role(&image(2, 2), 1, 2);
    let verdict = answered(waiting, "the leadership change").await;
    assert_eq!(verdict, Replicated::NotLeader);
}

#[tokio::test]
async fn a_new_epoch_of_the_same_leader_ends_the_wait_too() {
    let dir = tempfile::tempdir().unwrap();
    let p = leading_partition(dir.path());
    let waiting = wait_for_ack(&p).await;
    p.update_role(&image(1, 3), 1, 2);
    let verdict = answered(waiting, "the new epoch").await;
    assert_eq!(verdict, Replicated::NotLeader);
}

#[tokio::test]
async fn deleting_the_partition_answers_a_waiting_acks_all_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = leading_partition(dir.path());
    let waiting = wait_for_ack(&p).await;
    let q = Arc::clone(&p);
    tokio::task::spawn_blocking(move || q.delete_blocking())
        .await
        .unwrap()
        .unwrap();
    let verdict = answered(waiting, "the deletion").await;
    assert_eq!(verdict, Replicated::Deleted);
}

#[tokio::test]
async fn without_a_change_the_wait_ends_at_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let p = leading_partition(dir.path());
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    let verdict = p.wait_replicated(0, deadline).await;
    assert_eq!(verdict, Replicated::Verdict(AckState::Wait));
}

#[tokio::test]
async fn an_append_that_arrives_after_leadership_moved_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = leading_partition(dir.path());
    let end = p.log_end_offset();
    let first = p
        .append(bytes::Bytes::from(one_batch()), 1_700_000_000_001)
        .await;
    assert_eq!(first.unwrap().base_offset, end, "the leader appends");
    p.update_role(&image(2, 2), 1, 2);
    let late = p
        .append(bytes::Bytes::from(one_batch()), 1_700_000_000_002)
        .await;
    assert!(
        matches!(late, Err(strata_log::LogError::NotLeader)),
        "{late:?}"
    );
    assert_eq!(late.unwrap_err().error_code(), 6, "NOT_LEADER_OR_FOLLOWER");
    assert_eq!(
        p.log_end_offset(),
        end + 1,
        "nothing written without an epoch"
    );
}

/// Point 8 of issue 11: a runtime change of `min.insync.replicas` reaches the leader's
/// rule (used before the append, after it, and by offset commits) without a leadership
/// change. Here the ISR is {1, 2} and the leader keeps its epoch throughout.
#[tokio::test]
async fn a_min_insync_change_reaches_the_leader_without_a_new_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let p = leading_partition(dir.path());
    assert_eq!(p.acks_all_admit(), AckState::Wait);
    assert_eq!(p.acks_all_refusal(), None);

    p.update_role(&image(1, 1), 1, 3);
    assert_eq!(p.acks_all_admit(), AckState::NotEnoughReplicas);
    assert_eq!(
        p.acks_all_refusal().as_deref(),
        Some("min.insync.replicas is 3 but the in-sync replicas are 2")
    );

    p.update_role(&image(1, 1), 1, 1);
    assert_eq!(p.acks_all_admit(), AckState::Wait);
}

/// The verdict after an append reads the same value: a leader alone in the ISR has
/// the record at once, and whether that is enough follows `min.insync.replicas` now.
#[tokio::test]
async fn the_after_append_verdict_follows_a_min_insync_change() {
    let dir = tempfile::tempdir().unwrap();
    let p = leading_partition(dir.path());
    let alone = PartitionImage {
        isr: vec![1],
        ..image(1, 2)
    };
    p.update_role(&alone, 1, 1);
    let soon = || tokio::time::Instant::now() + Duration::from_secs(5);
    assert_eq!(
        p.wait_replicated(0, soon()).await,
        Replicated::Verdict(AckState::Done)
    );
    p.update_role(&alone, 1, 2);
    assert_eq!(
        p.wait_replicated(0, soon()).await,
        Replicated::Verdict(AckState::NotEnoughReplicasAfterAppend)
    );
}

#[tokio::test]
async fn a_high_watermark_move_wakes_long_polling_fetches() {
    // What a consumer may read ends at the high watermark (and the last stable offset),
    // which a follower's ack moves without an append here.
    let dir = tempfile::tempdir().unwrap();
    let p = leading_partition(dir.path());
    let woken = p.visible_changed();
    tokio::pin!(woken);
    woken.as_mut().enable();
    let generation = p.role_generation.load(std::sync::atomic::Ordering::Acquire);
    p.publish_hw(generation, p.high_watermark() + 1);
    tokio::time::timeout(Duration::from_secs(5), woken)
        .await
        .expect("the high watermark move wakes the parked fetch");
}

/// The log's high watermark, read under its lock.
fn log_high_watermark(p: &Partition) -> i64 {
    p.run_blocking(|log| Ok(log.high_watermark())).unwrap()
}

#[test]
fn a_late_lower_high_watermark_from_a_concurrent_fetch_does_not_lower_it() {
    // Two followers' fetches compute 2 and then 3 under the role lock; the one with 2
    // publishes last. The high watermark stays 3, in the log as in its lock-free copy
    // (the log's copy settles completed transactions: a lower one there left the last
    // stable offset behind a committed transaction's marker).
    let dir = tempfile::tempdir().unwrap();
    let p = leading_partition(dir.path());
    for _ in 0..2 {
        p.run_blocking(|log| log.append(&one_batch(), 1_700_000_000_000))
            .unwrap();
    }
    let generation = p.role_generation.load(std::sync::atomic::Ordering::Acquire);
    p.publish_hw(generation, 3);
    p.publish_hw(generation, 2);
    assert_eq!(p.high_watermark(), 3);
    assert_eq!(log_high_watermark(&p), 3);
}

#[test]
fn a_high_watermark_computed_under_an_earlier_role_is_not_published() {
    let dir = tempfile::tempdir().unwrap();
    let p = leading_partition(dir.path());
    let generation = p.role_generation.load(std::sync::atomic::Ordering::Acquire);
    p.update_role(&image(1, 2), 1, 2);
    p.publish_hw(generation, 1);
    assert_eq!(p.high_watermark(), 0);
    assert_eq!(log_high_watermark(&p), 0);
    let generation = p.role_generation.load(std::sync::atomic::Ordering::Acquire);
    p.publish_hw(generation, 1);
    assert_eq!(p.high_watermark(), 1);
    assert_eq!(log_high_watermark(&p), 1);
}

#[test]
fn a_new_leaders_high_watermark_is_behind_its_epoch_start_until_a_follower_fetches() {
    // The log holds one record from an earlier leadership; no follower has fetched from
    // this one, so its high watermark (0) is below the epoch's start (1).
    let dir = tempfile::tempdir().unwrap();
    let p = leading_partition(dir.path());
    assert_eq!(p.high_watermark_behind_epoch_start(), Some((0, 1)));
    p.on_follower_fetch(2, 1).unwrap();
    assert_eq!(p.high_watermark(), 1);
    assert_eq!(p.high_watermark_behind_epoch_start(), None);
}
