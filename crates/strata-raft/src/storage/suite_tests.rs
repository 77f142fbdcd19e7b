//! openraft's own storage conformance suite, run against the durable log store and
//! the image state machine on real files.

use std::sync::Arc;

use openraft::testing::{StoreBuilder, Suite};

use super::{LogStore, SnapshotStore, StateMachine, WriteRetry};
use crate::hook::NoopHook;
use crate::types::{StorageError, TypeConfig};

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let alive = Arc::new(());
        let retry = Arc::new(WriteRetry::default());
        let log =
            LogStore::open(dir.path(), Arc::clone(&retry), Arc::clone(&alive)).expect("open log");
        let snapshots = Arc::new(SnapshotStore::open(dir.path()).expect("open snapshots"));
        let (sm, _published) = StateMachine::restore(snapshots, Arc::new(NoopHook), retry, alive)
            .await
            .expect("restore");
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_suite() {
    if let Err(e) = Suite::test_all(Builder) {
        panic!("openraft storage suite failed: {e}");
    }
}
