//! Watches the extra log dirs (`log.dirs` after the first): a dir whose write probe
//! fails goes offline until restart, taking only its own partitions with it (Kafka's
//! JBOD behaviour), and the controller is told, so other replicas lead them.
//!
//! The first dir also holds the metadata log: its failure fences the whole broker
//! (`controller::heartbeat_loop`), as before.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::Broker;

/// How often each extra dir is probed when nothing suggests a failure.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Probes the extra log dirs; takes a failing one offline and reports its replicas
/// until the image shows them offline (again after every registration of this broker,
/// which clears them).
pub(crate) async fn log_dir_loop(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    if broker.replicas.log_dirs().all().len() < 2 {
        return;
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(PROBE_EVERY) => {}
            _ = broker.replicas.dir_suspected.notified() => {}
            _ = shutdown.changed() => return,
        }
        probe_extra_dirs(&broker).await;
        report_offline(&broker).await;
    }
}

/// Probes every online extra dir (blocking thread) and fails those that do not take a
/// write.
async fn probe_extra_dirs(broker: &Arc<Broker>) {
    let b = Arc::clone(broker);
    let _ = tokio::task::spawn_blocking(move || {
        let dirs = b.replicas.log_dirs();
        for (i, dir) in dirs.all().iter().enumerate().skip(1) {
            if dir.is_offline() {
                continue;
            }
            if let Err(e) = crate::health::probe(&dir.path) {
                b.replicas.fail_dir(
                    i,
                    &format!("log dir {} does not take writes: {e}", dir.path.display()),
                );
            }
        }
    })
    .await;
}

/// Tells the controller about offline replicas the image does not show yet.
async fn report_offline(broker: &Arc<Broker>) {
    let offline = broker.replicas.offline_replicas();
    if offline.is_empty() {
        return;
    }
    let image = broker.meta.image();
    let Some(me) = image.broker(broker.config.node_id) else {
        return;
    };
    let missing: Vec<_> = offline
        .into_iter()
        .filter(|r| !me.offline_replicas.contains(r))
        .collect();
    if missing.is_empty() {
        return;
    }
    let n = missing.len();
    if let Err(e) = crate::controller::report_offline_replicas(broker, missing).await {
        tracing::warn!(error = %e, partitions = n, "reporting offline replicas failed; retrying");
    }
}
