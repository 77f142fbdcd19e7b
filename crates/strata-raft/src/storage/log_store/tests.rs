use openraft::{CommittedLeaderId, EntryPayload};

use super::*;

fn log_id(term: u64, index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

/// Writes entries 0..n of `term` straight into the segment files under `dir`.
fn seed(dir: &Path, n: u64, term: u64) {
    let (mut segments, _) = SegmentLog::open(&dir.join("log"), None, SEGMENT_BYTES).unwrap();
    let entries: Vec<Entry> = (0..n)
        .map(|i| Entry {
            log_id: log_id(term, i),
            payload: EntryPayload::Blank,
        })
        .collect();
    segments.append(&entries).unwrap();
}

fn open(dir: &Path) -> LogStore {
    LogStore::open(dir, Arc::default(), Arc::new(())).unwrap()
}

async fn indexes(store: &mut LogStore) -> Vec<u64> {
    store
        .try_get_log_entries(0..u64::MAX)
        .await
        .unwrap()
        .iter()
        .map(|e| e.log_id.index)
        .collect()
}

#[tokio::test]
async fn vote_committed_purge_and_truncation_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path(), 10, 1);
    let mut store = open(dir.path());
    let state = store.get_log_state().await.unwrap();
    assert_eq!(state.last_log_id, Some(log_id(1, 9)));
    assert_eq!(state.last_purged_log_id, None);

    let vote = Vote::new(3, 2);
    store.save_vote(&vote).await.unwrap();
    store.save_committed(Some(log_id(1, 7))).await.unwrap();
    store.purge(log_id(1, 3)).await.unwrap();
    store.truncate(log_id(1, 8)).await.unwrap();
    assert_eq!(indexes(&mut store).await, vec![4, 5, 6, 7]);
    drop(store);

    let mut store = open(dir.path());
    assert_eq!(store.read_vote().await.unwrap(), Some(vote));
    assert_eq!(store.read_committed().await.unwrap(), Some(log_id(1, 7)));
    let state = store.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 3)));
    assert_eq!(state.last_log_id, Some(log_id(1, 7)));
    assert_eq!(indexes(&mut store).await, vec![4, 5, 6, 7]);

    // Purging everything leaves the purge point as the last log id.
    store.purge(log_id(1, 20)).await.unwrap();
    drop(store);
    let mut store = open(dir.path());
    let state = store.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 20)));
    assert_eq!(state.last_log_id, Some(log_id(1, 20)));
    assert!(indexes(&mut store).await.is_empty());
}

#[tokio::test]
async fn committed_hint_never_runs_past_the_log() {
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path(), 6, 2);
    let mut store = open(dir.path());
    store.save_committed(Some(log_id(2, 5))).await.unwrap();
    drop(store);

    // A torn tail takes the last entry.
    let segment = std::fs::read_dir(dir.path().join("log"))
        .unwrap()
        .map(|d| d.unwrap().path())
        .next()
        .unwrap();
    let len = std::fs::metadata(&segment).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap();
    file.set_len(len - 3).unwrap();
    drop(file);

    let mut store = open(dir.path());
    assert_eq!(store.read_committed().await.unwrap(), Some(log_id(2, 4)));

    // A damaged hint is ignored, not fatal.
    std::fs::write(dir.path().join(COMMITTED_FILE), b"junk").unwrap();
    let mut store = open(dir.path());
    assert_eq!(store.read_committed().await.unwrap(), None);
    // A damaged vote is fatal: forgetting a vote could mean voting twice in a term.
    std::fs::write(dir.path().join(VOTE_FILE), b"junk").unwrap();
    let err = LogStore::open(dir.path(), Arc::default(), Arc::new(()))
        .err()
        .unwrap();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}
