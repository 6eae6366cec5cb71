//! Tests of [`Keda`]: activation, cooldown and the HPA between 1 and N.

use super::*;
use crate::PodCounts;
use scalebench_core::policy::Behavior;
use scalebench_core::units::Duration;

fn config(min: u32, max: u32, target: f64, activation: f64) -> KedaConfig {
    KedaConfig {
        min_replicas: min,
        max_replicas: max,
        trigger: KedaTrigger::Queue,
        target,
        activation_threshold: activation,
        polling_interval: Duration::from_secs(30),
        cooldown_period: Duration::from_secs(300),
        behavior: Behavior::default(),
    }
}

/// Drives the policy every `interval()` from t = 0 to `until` with the queue `queue(t)`, pods
/// becoming ready at once; returns (t, replicas) after each call.
fn run(k: &mut Keda, start: u32, until: f64, queue: impl Fn(f64) -> f64) -> Vec<(f64, u32)> {
    let mut current = start;
    let mut out = Vec::new();
    let mut t = 0.0;
    while t <= until {
        let s = [MetricSample {
            t,
            ready: current,
            queue: queue(t),
            ..MetricSample::default()
        }];
        let pods = PodCounts {
            ready: current,
            ..PodCounts::default()
        };
        current = k.decide(&Observation {
            now: t,
            current,
            pods,
            samples: &s,
            pools: &[],
        });
        out.push((t, current));
        t += k.interval();
    }
    out
}

fn at(trace: &[(f64, u32)], t: f64) -> u32 {
    trace
        .iter()
        .find(|&&(x, _)| x == t)
        .map(|&(_, r)| r)
        .expect("time in trace")
}

#[test]
fn interval_serves_both_the_hpa_sync_and_the_polling_interval() {
    let mut c = config(0, 10, 5.0, 0.0);
    assert_eq!(Keda::new(&c).interval(), 15.0);
    c.polling_interval = Duration::from_secs(10);
    assert_eq!(Keda::new(&c).interval(), 5.0);
    c.polling_interval = Duration::from_millis(7500);
    assert_eq!(Keda::new(&c).interval(), 7.5);
}

#[test]
fn activates_from_zero_to_one() {
    let mut k = Keda::new(&config(0, 10, 5.0, 0.0));
    let trace = run(&mut k, 0, 0.0, |_| 3.0);
    assert_eq!(trace, vec![(0.0, 1)]);
    assert_eq!(k.last_active(), Some(0.0));
}

#[test]
fn activates_to_min_replicas_when_set() {
    let mut k = Keda::new(&config(2, 10, 5.0, 0.0));
    assert_eq!(run(&mut k, 0, 0.0, |_| 1.0), vec![(0.0, 2)]);
}

#[test]
fn stays_at_zero_at_or_under_the_activation_threshold() {
    let mut k = Keda::new(&config(0, 10, 5.0, 4.0));
    let trace = run(&mut k, 0, 600.0, |t| if t < 300.0 { 4.0 } else { 2.0 });
    assert!(trace.iter().all(|&(_, r)| r == 0), "{trace:?}");
    assert_eq!(k.last_active(), None);
}

#[test]
fn no_sample_changes_nothing() {
    let mut k = Keda::new(&config(0, 10, 5.0, 0.0));
    let obs = Observation {
        now: 0.0,
        current: 0,
        pods: PodCounts::default(),
        samples: &[],
        pools: &[],
    };
    assert_eq!(k.decide(&obs), 0);
}

#[test]
fn cools_down_to_zero_after_the_cooldown_period_and_not_before() {
    let mut k = Keda::new(&config(0, 10, 5.0, 0.0));
    // Active at t = 0 only; the HPA keeps one replica (its minReplicas) meanwhile.
    let trace = run(&mut k, 0, 420.0, |t| if t == 0.0 { 10.0 } else { 0.0 });
    assert_eq!(at(&trace, 0.0), 1);
    for &(t, r) in trace.iter().filter(|&&(t, _)| t > 0.0 && t <= 315.0) {
        assert_eq!(r, 1, "t = {t}");
    }
    // lastActiveTime + 300 s is t = 300; the first poll strictly after it is at t = 330.
    assert_eq!(at(&trace, 330.0), 0);
    assert!(
        trace
            .iter()
            .filter(|&&(t, _)| t >= 330.0)
            .all(|&(_, r)| r == 0)
    );
}

#[test]
fn cooldown_counts_from_the_last_active_poll() {
    let mut k = Keda::new(&config(0, 10, 5.0, 0.0));
    // Active until t = 120 (last active poll at t = 120): zero at the first poll after 420.
    let trace = run(&mut k, 0, 500.0, |t| if t <= 120.0 { 5.0 } else { 0.0 });
    assert_eq!(k.last_active(), Some(120.0));
    assert!(at(&trace, 420.0) > 0);
    assert_eq!(at(&trace, 450.0), 0);
}

#[test]
fn inactive_below_min_replicas_restores_min() {
    let mut k = Keda::new(&config(2, 10, 5.0, 0.0));
    assert_eq!(run(&mut k, 0, 0.0, |_| 0.0), vec![(0.0, 2)]);
}

#[test]
fn hpa_scales_between_one_and_n() {
    let mut k = Keda::new(&config(0, 20, 5.0, 0.0));
    let trace = run(&mut k, 0, 420.0, |t| if t < 60.0 { 40.0 } else { 10.0 });
    // KEDA activates; the HPA then wants ceil(40 / 5) = 8, limited to max(1+4, 2) = 5 first.
    assert_eq!(&trace[..4], &[(0.0, 1), (15.0, 5), (30.0, 8), (45.0, 8)]);
    // The queue drops to 10 (2 replicas' worth) at t = 60: the HPA holds 8 for 300 s after its
    // last recommendation of 8 (t = 45), then goes to 2. KEDA stays active throughout.
    assert_eq!(at(&trace, 330.0), 8);
    assert_eq!(at(&trace, 345.0), 2);
    assert!(trace.iter().all(|&(_, r)| r >= 1));
}
