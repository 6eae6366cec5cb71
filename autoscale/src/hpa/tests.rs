//! Tests of the [`Hpa`] policy and the [`Controller`] with the default behavior.

use super::*;
use crate::MetricSample;
use scalebench_core::units::Duration;

fn config(metric: HpaMetric, target: f64, min: u32, max: u32) -> HpaConfig {
    HpaConfig {
        min_replicas: min,
        max_replicas: max,
        metric,
        target,
        tolerance: 0.1,
        sync_period: Duration::from_secs(15),
        behavior: Behavior::default(),
    }
}

fn sample(t: f64, ready: u32, in_flight: f64) -> MetricSample {
    MetricSample {
        t,
        ready,
        in_flight,
        ..MetricSample::default()
    }
}

fn ready(n: u32) -> PodCounts {
    PodCounts {
        ready: n,
        ..PodCounts::default()
    }
}

fn decide(p: &mut Hpa, now: f64, current: u32, pods: PodCounts, s: &[MetricSample]) -> u32 {
    p.decide(&Observation {
        now,
        current,
        pods,
        samples: s,
        pools: &[],
    })
}

#[test]
fn interval_is_the_sync_period() {
    let mut c = config(HpaMetric::Concurrency, 1.0, 1, 10);
    c.sync_period = Duration::from_secs(30);
    assert_eq!(Hpa::new(&c).interval(), 30.0);
}

#[test]
fn three_times_the_target_on_two_pods_asks_for_six() {
    let mut p = Hpa::new(&config(HpaMetric::Concurrency, 1.0, 1, 20));
    assert_eq!(decide(&mut p, 0.0, 2, ready(2), &[sample(0.0, 2, 6.0)]), 6);
}

#[test]
fn scale_up_is_limited_to_max_of_four_pods_and_double_per_15_s() {
    let mut p = Hpa::new(&config(HpaMetric::Concurrency, 1.0, 1, 100));
    // Ten times the target on two pods wants 20; the default policy allows max(2+4, 2*2) = 6.
    assert_eq!(decide(&mut p, 0.0, 2, ready(2), &[sample(0.0, 2, 20.0)]), 6);
    // 15 s later the last scale event is outside the 15 s period: max(6+4, 12) = 12. The four
    // pending pods count as 0 on a scale-up, so the metric still asks for 20.
    let pods = PodCounts {
        ready: 2,
        pending: 4,
        ..PodCounts::default()
    };
    assert_eq!(decide(&mut p, 15.0, 6, pods, &[sample(15.0, 2, 20.0)]), 12);
    let pods = PodCounts {
        ready: 2,
        pending: 10,
        ..PodCounts::default()
    };
    assert_eq!(decide(&mut p, 30.0, 12, pods, &[sample(30.0, 2, 20.0)]), 20);
}

#[test]
fn scale_up_within_one_period_is_limited_by_earlier_events() {
    // Two syncs 5 s apart: the second sees the first scale-up inside the 15 s period, so the
    // period still starts at 2 replicas and the limit stays 6.
    let mut p = Hpa::new(&config(HpaMetric::Concurrency, 1.0, 1, 100));
    assert_eq!(decide(&mut p, 0.0, 2, ready(2), &[sample(0.0, 2, 20.0)]), 6);
    let pods = PodCounts {
        ready: 2,
        pending: 4,
        ..PodCounts::default()
    };
    assert_eq!(decide(&mut p, 5.0, 6, pods, &[sample(5.0, 2, 20.0)]), 6);
}

#[test]
fn scale_down_waits_for_the_300_s_window() {
    let mut p = Hpa::new(&config(HpaMetric::Concurrency, 1.0, 1, 10));
    assert_eq!(decide(&mut p, 0.0, 6, ready(6), &[sample(0.0, 6, 6.0)]), 6);
    // Load drops to a tenth: the metric asks for ceil(0.1 * 6) = 1 from t = 15 s on.
    for k in 1..20 {
        let t = 15.0 * f64::from(k);
        assert_eq!(
            decide(&mut p, t, 6, ready(6), &[sample(t, 6, 0.6)]),
            6,
            "t = {t}"
        );
    }
    // At t = 300 s the last recommendation of 6 (t = 0) has left the window; 100% per 15 s
    // lets it go straight to the minimum.
    assert_eq!(
        decide(&mut p, 300.0, 6, ready(6), &[sample(300.0, 6, 0.6)]),
        1
    );
}

#[test]
fn no_sample_keeps_the_current_count() {
    let mut p = Hpa::new(&config(HpaMetric::Concurrency, 1.0, 1, 10));
    assert_eq!(decide(&mut p, 0.0, 3, ready(3), &[]), 3);
    // No ready pod in the sample: no pod has a metric.
    assert_eq!(
        decide(&mut p, 15.0, 3, ready(3), &[sample(15.0, 0, 0.0)]),
        3
    );
}

#[test]
fn zero_replicas_disable_autoscaling_and_out_of_range_counts_are_clamped() {
    let mut p = Hpa::new(&config(HpaMetric::Concurrency, 1.0, 2, 5));
    let busy = [sample(0.0, 1, 50.0)];
    assert_eq!(decide(&mut p, 0.0, 0, PodCounts::default(), &busy), 0);
    assert_eq!(decide(&mut p, 15.0, 1, ready(1), &[]), 2);
    assert_eq!(decide(&mut p, 30.0, 9, ready(9), &[]), 5);
}

#[test]
fn loading_pods_count_as_zero_on_a_scale_up() {
    // Two ready pods at twice the target and two loading pods without metrics: with the loading
    // pods at 0 the average is on target, so the count stays.
    let mut p = Hpa::new(&config(HpaMetric::Concurrency, 2.0, 1, 10));
    let pods = PodCounts {
        ready: 2,
        loading: 2,
        ..PodCounts::default()
    };
    assert_eq!(decide(&mut p, 0.0, 4, pods, &[sample(0.0, 2, 8.0)]), 4);
}

#[test]
fn rps_is_a_pods_metric() {
    let mut p = Hpa::new(&config(HpaMetric::Rps, 10.0, 1, 10));
    let s = MetricSample {
        t: 0.0,
        ready: 2,
        arrival_rps: 50.0,
        ..MetricSample::default()
    };
    assert_eq!(decide(&mut p, 0.0, 2, ready(2), &[s]), 5);
}

#[test]
fn queue_is_an_external_average_value_metric() {
    let mut p = Hpa::new(&config(HpaMetric::Queue, 5.0, 1, 20));
    let s = MetricSample {
        t: 0.0,
        ready: 3,
        queue: 50.0,
        ..MetricSample::default()
    };
    // ceil(50 / 5) = 10, limited to max(3+4, 6) = 7.
    assert_eq!(decide(&mut p, 0.0, 3, ready(3), &[s]), 7);
    // Within tolerance of 5 per replica on the 7 existing pods: no change.
    let s = MetricSample {
        t: 15.0,
        ready: 7,
        queue: 36.0,
        ..MetricSample::default()
    };
    assert_eq!(decide(&mut p, 15.0, 7, ready(7), &[s]), 7);
}

#[test]
fn gpu_util_is_a_cpu_like_utilization_metric() {
    let mut p = Hpa::new(&config(HpaMetric::GpuUtil, 60.0, 1, 10));
    let s = MetricSample {
        t: 0.0,
        ready: 2,
        gpu_util_pct: 90.0,
        ..MetricSample::default()
    };
    assert_eq!(decide(&mut p, 0.0, 2, ready(2), &[s]), 3);
    // A loading pod has no metric: on a scale-up it counts as 0% and 90% on 2 of 3 pods is
    // exactly on target.
    let pods = PodCounts {
        ready: 2,
        loading: 1,
        ..PodCounts::default()
    };
    let s = MetricSample { t: 15.0, ..s };
    assert_eq!(decide(&mut p, 15.0, 3, pods, &[s]), 3);
}

#[test]
fn controller_records_the_initial_recommendation_once() {
    let mut c = Controller::new(1, 10, &Behavior::default());
    assert_eq!(c.reconcile(0.0, 4, || Err(CalcError::NoMetrics)), 4);
    assert_eq!(c.reconcile(15.0, 4, || Err(CalcError::NoMetrics)), 4);
    assert_eq!(c.history().recommendations.len(), 1);
    // The initial 4 holds a scale-down until it leaves the 300 s window.
    assert_eq!(c.reconcile(30.0, 4, || Ok(1)), 4);
    assert_eq!(c.reconcile(300.0, 4, || Ok(1)), 1);
}
