use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

const PRODUCE: QuotaKey = QuotaKey::ProducerByteRate;

fn sensor(key: QuotaKey, user: &str) -> SensorRef<'_> {
    SensorRef {
        key,
        user: Some(user),
        client_id: None,
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A producer that wants to send `demand` units per second in requests of `batch`: it
/// sends, is told how long it is throttled, waits that long (or until its next request is
/// due, whichever is later) and sends again, for `secs` simulated seconds. Returns the
/// achieved rate.
fn simulate(
    manager: &mut QuotaManager,
    key: QuotaKey,
    bound: f64,
    batch: f64,
    demand: f64,
    secs: u64,
) -> f64 {
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let gap = Duration::from_secs_f64(batch / demand);
    let mut now = start;
    let mut sent = 0.0;
    while now < end {
        let wait = manager.record(sensor(key, "alice"), bound, batch, now);
        sent += batch;
        now += wait.max(gap);
    }
    sent / secs as f64
}

#[test]
fn throttle_formula_matches_kafka() {
    // 50 % over the bound across a 10 s window: wait 5 s.
    assert_eq!(
        throttle_time(1500.0, 1000.0, Duration::from_secs(10)),
        ms(5000)
    );
    assert_eq!(
        throttle_time(1000.0, 1000.0, Duration::from_secs(10)),
        Duration::ZERO
    );
    assert_eq!(
        throttle_time(900.0, 1000.0, Duration::from_secs(10)),
        Duration::ZERO
    );
    assert_eq!(
        throttle_time(1000.4, 1000.0, ms(1000)),
        Duration::ZERO,
        "rounds to ms"
    );
    assert_eq!(throttle_time(f64::NAN, 1000.0, ms(1000)), Duration::ZERO);
}

#[test]
fn steady_over_quota_producer_converges_to_the_bound() {
    // 64 KiB requests, wanting 2 MB/s against a 1 MB/s quota, for a minute.
    let mut manager = QuotaManager::new(QuotaConfig::default());
    let quota = 1_000_000.0;
    let achieved = simulate(&mut manager, PRODUCE, quota, 65536.0, 2.0 * quota, 60);
    let error = (achieved - quota).abs() / quota;
    assert!(
        error < 0.10,
        "achieved {achieved:.0} B/s against {quota} B/s"
    );
}

#[test]
fn a_greedy_producer_stays_within_the_quota_plus_one_idle_allowance() {
    // A producer that sends again 1 ms after each response (64 MB/s if unthrottled). The
    // sampled rate lets a budget that looks idle take `samples - 1` windows of quota at
    // once, and it looks idle again each time its oldest sample ages out, so such a
    // client moves in bursts. What holds at every moment: it never gets more than the
    // quota over the elapsed time plus that allowance (and one request), nor falls far
    // behind, and over long runs the allowance fades.
    let mut manager = QuotaManager::new(QuotaConfig::default());
    let quota = 1_000_000.0;
    let batch = 65536.0;
    let allowance = quota * 10.0;
    let start = Instant::now();
    let mut now = start;
    let mut sent = 0.0;
    while now < start + Duration::from_secs(300) {
        let elapsed = (now - start).as_secs_f64();
        assert!(
            sent <= quota * elapsed + allowance + batch,
            "{sent} by {elapsed} s"
        );
        if elapsed > 12.0 {
            assert!(sent >= quota * (elapsed - 12.0), "{sent} by {elapsed} s");
        }
        let wait = manager.record(sensor(PRODUCE, "alice"), quota, batch, now);
        sent += batch;
        now += wait + ms(1);
    }
    let achieved = sent / 300.0;
    assert!(
        (achieved - quota).abs() / quota < 0.05,
        "achieved {achieved:.0} B/s"
    );
}

#[test]
fn request_time_over_quota_converges_to_the_bound() {
    let mut manager = QuotaManager::new(QuotaConfig::default());
    let key = QuotaKey::RequestPercentage;
    // Requests of 5 ms handler time (0.5 percent-seconds each), wanting 40 % of a thread
    // against a 20 % quota.
    let quota = 20.0;
    let batch = request_time_percent(ms(5));
    let achieved = simulate(&mut manager, key, quota, batch, 2.0 * quota, 60);
    let error = (achieved - quota).abs() / quota;
    assert!(error < 0.10, "achieved {achieved:.2} % against {quota} %");
}

#[test]
fn byte_rate_throttle_is_capped_at_window_times_samples() {
    let mut manager = QuotaManager::new(QuotaConfig::default());
    let now = Instant::now();
    // 1000 s worth of quota in one request.
    let wait = manager.record(sensor(PRODUCE, "alice"), 1000.0, 1_000_000.0, now);
    assert_eq!(wait, Duration::from_secs(11));
    assert_eq!(manager.max_throttle(PRODUCE), Duration::from_secs(11));
}

#[test]
fn request_time_throttle_is_capped_at_one_window() {
    let mut manager = QuotaManager::new(QuotaConfig::default());
    let now = Instant::now();
    let key = QuotaKey::RequestPercentage;
    let wait = manager.record_request_time(sensor(key, "alice"), 1.0, Duration::from_secs(5), now);
    assert_eq!(wait, Duration::from_secs(1));
}

#[test]
fn first_burst_is_averaged_over_ten_windows() {
    let mut manager = QuotaManager::new(QuotaConfig::default());
    let now = Instant::now();
    let s = sensor(PRODUCE, "alice");
    // 10 s worth of a 1000 B/s quota at once is exactly the bound: no throttle.
    assert_eq!(manager.record(s, 1000.0, 10_000.0, now), Duration::ZERO);
    // 1000 more: 11 000 over 10 s, 10 % over: wait 10 % of 10 s.
    assert_eq!(manager.record(s, 1000.0, 1000.0, now), ms(1000));
}

#[test]
fn no_usable_bound_means_no_quota_and_no_sensor() {
    let mut manager = QuotaManager::new(QuotaConfig::default());
    let now = Instant::now();
    for bound in [0.0, -1.0, f64::INFINITY, f64::NAN] {
        assert_eq!(
            manager.record(sensor(PRODUCE, "a"), bound, 1e12, now),
            Duration::ZERO
        );
        assert_eq!(
            manager.try_record(sensor(PRODUCE, "a"), bound, 1e12, now),
            Ok(())
        );
    }
    assert!(manager.is_empty());
}

#[test]
fn a_shared_budget_is_shared() {
    // Two clients of one user under a user-level quota record under one sensor; each
    // wants the whole quota, and together they get it.
    let mut manager = QuotaManager::new(QuotaConfig::default());
    let quota = 100_000.0;
    let batch = 4096.0;
    let gap = Duration::from_secs_f64(batch / quota);
    let start = Instant::now();
    let end = start + Duration::from_secs(60);
    let mut next = [start, start + ms(3)];
    let mut sent = [0.0, 0.0];
    loop {
        let i = usize::from(next[1] < next[0]);
        if next[i] >= end {
            break;
        }
        let wait = manager.record(sensor(PRODUCE, "alice"), quota, batch, next[i]);
        sent[i] += batch;
        next[i] += wait.max(gap);
    }
    let achieved = (sent[0] + sent[1]) / 60.0;
    assert!(
        (achieved - quota).abs() / quota < 0.10,
        "achieved {achieved:.0}"
    );
    assert!(
        sent[0] > 0.3 * quota * 60.0 && sent[1] > 0.3 * quota * 60.0,
        "{sent:?}"
    );
    assert_eq!(manager.len(), 1);
}

#[test]
fn expire_drops_idle_sensors() {
    let mut manager = QuotaManager::new(QuotaConfig::default());
    let t = Instant::now();
    manager.record(sensor(PRODUCE, "old"), 10.0, 1.0, t);
    manager.record(
        sensor(PRODUCE, "new"),
        10.0,
        1.0,
        t + Duration::from_secs(1800),
    );
    assert_eq!(manager.expire(t + Duration::from_secs(3599)), 0);
    assert_eq!(manager.expire(t + Duration::from_secs(3600)), 1);
    assert_eq!(manager.len(), 1);
    assert!(manager
        .observed_rate(sensor(PRODUCE, "new"), t + Duration::from_secs(1801))
        .is_some());
    assert!(manager.observed_rate(sensor(PRODUCE, "old"), t).is_none());
}

#[test]
fn the_sensor_map_never_grows_past_its_cap() {
    let config = QuotaConfig {
        max_sensors: 3,
        ..QuotaConfig::default()
    };
    let mut manager = QuotaManager::new(config);
    let t = Instant::now();
    let names: Vec<String> = (0..50).map(|i| format!("user-{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        manager.record(sensor(PRODUCE, name), 10.0, 1.0, t + ms(i as u64));
        assert!(manager.len() <= 3);
    }
    // The three most recent are kept; the least recently used went first.
    for name in &names[47..] {
        assert!(manager.observed_rate(sensor(PRODUCE, name), t).is_some());
    }
    assert!(manager
        .observed_rate(sensor(PRODUCE, &names[46]), t)
        .is_none());
    // Touching a sensor keeps it over newer ones.
    manager.record(sensor(PRODUCE, &names[47]), 10.0, 1.0, t + ms(100));
    manager.record(sensor(PRODUCE, "fresh"), 10.0, 1.0, t + ms(101));
    assert!(manager
        .observed_rate(sensor(PRODUCE, &names[47]), t)
        .is_some());
    assert!(manager
        .observed_rate(sensor(PRODUCE, &names[48]), t)
        .is_none());
}

#[test]
fn strict_mutation_quota_refuses_only_once_exhausted() {
    let mut manager = QuotaManager::new(QuotaConfig::default());
    let key = QuotaKey::ControllerMutationRate;
    let s = sensor(key, "alice");
    let t = Instant::now();
    // Rate 10/s, burst 10 × 11 s = 110 tokens.
    assert_eq!(manager.try_record(s, 10.0, 100.0, t), Ok(()));
    assert_eq!(
        manager.try_record(s, 10.0, 30.0, t),
        Ok(()),
        "accepted, now at -20"
    );
    assert_eq!(manager.try_record(s, 10.0, 1.0, t), Err(ms(2000)));
    assert_eq!(
        manager.try_record(s, 10.0, 1.0, t + ms(1000)),
        Err(ms(1000))
    );
    assert_eq!(manager.try_record(s, 10.0, 1.0, t + ms(2000)), Ok(()));
    // Permissive recording answers the time to get back to zero.
    assert_eq!(manager.record(s, 10.0, 49.0, t + ms(2000)), ms(5000));
}

#[test]
fn unrecord_takes_back_usage() {
    let mut manager = QuotaManager::new(QuotaConfig::default());
    let t = Instant::now();
    let s = sensor(QuotaKey::ConsumerByteRate, "alice");
    let wait = manager.record(s, 1000.0, 20_000.0, t);
    assert!(wait > Duration::ZERO);
    manager.unrecord(s, 1000.0, 20_000.0, t);
    assert_eq!(manager.record(s, 1000.0, 1.0, t), Duration::ZERO);
    manager.record_no_throttle(s, 1000.0, 50_000.0, t);
    assert!(manager.record(s, 1000.0, 1.0, t) > Duration::ZERO);
}

#[test]
fn max_value_in_window_is_ten_windows_of_quota() {
    let manager = QuotaManager::new(QuotaConfig::default());
    assert_eq!(manager.max_value_in_window(1000.0), 10_000.0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever the quota, request size, demand and sampling, a producer that wants more
    /// than its quota but honours the throttle achieves the quota within 10 % over two
    /// minutes.
    #[test]
    fn any_over_quota_producer_converges(
        quota in 10_000.0f64..10_000_000.0,
        batch_fraction in 0.005f64..0.2,
        demand_factor in 1.2f64..8.0,
        samples in 2u32..12,
        window_ms in 200u64..1000,
    ) {
        let config = QuotaConfig {
            rate: RateConfig::new(ms(window_ms), samples),
            ..QuotaConfig::default()
        };
        let mut manager = QuotaManager::new(config);
        let batch = (quota * batch_fraction).round();
        let demand = quota * demand_factor;
        let achieved = simulate(&mut manager, PRODUCE, quota, batch, demand, 120);
        prop_assert!((achieved - quota).abs() / quota < 0.10, "achieved {} of {}", achieved, quota);
    }
}
