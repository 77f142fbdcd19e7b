//! Times the per-request work of client quotas: `QuotaStore::resolve` followed by
//! `QuotaManager::record`, over many distinct (user, client id) pairs.
//!
//! Run with `cargo run --release -p strata-quota --example quota_bench`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use strata_quota::{
    EntityName, QuotaChange, QuotaConfig, QuotaEntity, QuotaKey, QuotaManager, QuotaStore,
};

fn main() {
    let mut store = QuotaStore::new();
    // A realistic mix: defaults at two levels, a few hundred per-user and per-client
    // overrides, some user/client pairs.
    let mut set = |entity: QuotaEntity, value: f64| {
        store.apply(&QuotaChange {
            entity,
            key: QuotaKey::ProducerByteRate,
            value: Some(value),
        });
    };
    set(QuotaEntity::default_user(), 2e6);
    set(QuotaEntity::default_client(), 1e6);
    for i in 0..300 {
        set(QuotaEntity::user(format!("user-{i}")), 20e6);
        set(QuotaEntity::client(format!("client-{i}")), 8e6);
        set(
            QuotaEntity::user_client(
                EntityName::named(format!("user-{i}")),
                EntityName::named(format!("client-{}", i % 7)),
            ),
            30e6,
        );
    }

    let connections: Vec<(String, String)> = (0..10_000)
        .map(|i| (format!("user-{}", i % 1000), format!("client-{}", i % 37)))
        .collect();
    let mut manager = QuotaManager::new(QuotaConfig::default());
    let start = Instant::now();

    let rounds = 200;
    let mut throttled = 0u64;
    let mut unlimited = 0u64;
    let began = Instant::now();
    for round in 0..rounds {
        // Simulated time: each round is 50 ms later (10 s in all), so budgets fill up
        // and some answers are throttles.
        let now = start + Duration::from_millis(50 * round as u64);
        for (user, client_id) in &connections {
            match store.resolve(user, client_id, QuotaKey::ProducerByteRate) {
                Some(resolved) => {
                    let wait = manager.record(resolved.sensor, resolved.bound, 16_384.0, now);
                    throttled += u64::from(!wait.is_zero());
                }
                None => unlimited += 1,
            }
        }
    }
    let elapsed = began.elapsed();
    let calls = rounds * connections.len();
    black_box((throttled, unlimited));
    println!(
        "{calls} resolve + record calls in {elapsed:?}: {:.0} ns per call \
         ({} sensors, {throttled} throttled answers)",
        elapsed.as_nanos() as f64 / calls as f64,
        manager.len(),
    );

    // Resolve alone, for the split.
    let began = Instant::now();
    let mut found = 0u64;
    for _ in 0..rounds {
        for (user, client_id) in &connections {
            found += u64::from(
                store
                    .resolve(user, client_id, QuotaKey::ProducerByteRate)
                    .is_some(),
            );
        }
    }
    let elapsed = began.elapsed();
    black_box(found);
    println!(
        "resolve alone: {:.0} ns per call",
        elapsed.as_nanos() as f64 / calls as f64
    );
}
