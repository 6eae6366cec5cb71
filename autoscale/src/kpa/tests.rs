//! Vectors ported from knative/serving, and the adapter driven over per-second samples.

use serde_json::{Value, json};

use super::*;

fn config(v: Value) -> KpaConfig {
    serde_json::from_value(v).expect("a valid [setup.kpa]")
}

/// `newTestAutoscaler(target, ...)` of `pkg/autoscaler/scaling/autoscaler_test.go`: TargetValue
/// as given (100% utilization), PanicThreshold 2, Max{Up,Down}Rate 10, StableWindow 60 s.
fn knative(target: f64) -> Kpa {
    Kpa::new(&config(json!({
        "max_scale": 100_000, "target": target, "target_utilization": 100.0,
        "max_scale_up_rate": 10.0, "max_scale_down_rate": 10.0,
    })))
}

#[test]
fn stable_mode_increase_with_concurrency_default() {
    // TestAutoscalerStableModeIncreaseWithConcurrencyDefault
    let mut a = knative(10.0);
    assert_eq!(a.scale(0.0, 50.0, 10.0, 1), 5);
    assert_eq!(a.scale(2.0, 100.0, 10.0, 1), 10);
}

#[test]
fn panic_mode_exponential_track_and_stabilize() {
    // TestAutoscalerPanicModeExponentialTrackAndStabilize
    let mut a = knative(1.0);
    assert_eq!(a.scale(0.0, 6.0, 6.0, 1), 6);
    assert!(a.in_panic());
    assert_eq!(a.scale(0.0, 36.0, 36.0, 6), 36);
    assert_eq!(a.scale(1.0, 216.0, 216.0, 36), 216);
    assert_eq!(a.scale(1.0, 1296.0, 1296.0, 216), 1296);
    assert_eq!(a.scale(2.0, 1296.0, 1296.0, 1296), 1296);
}

#[test]
fn panic_then_unpanic_scale_down() {
    // TestAutoscalerPanicThenUnPanicScaleDown
    let mut a = knative(10.0);
    assert_eq!(a.scale(0.0, 100.0, 100.0, 1), 10);
    assert_eq!(a.scale(0.0, 100.0, 1000.0, 10), 100);
    // Traffic dropped off; the scale stays while still panicking.
    assert_eq!(a.scale(30.0, 1.0, 1.0, 10), 100);
    // Scale down after the stable window.
    assert_eq!(a.scale(61.0, 1.0, 1.0, 10), 1);
    assert!(!a.in_panic());
}

#[test]
fn unpanic_after_slow_increase_and_extend_panic_window() {
    // TestAutoscalerUnpanicAfterSlowIncrease
    let mut a = knative(1.0);
    assert_eq!(a.scale(0.0, 11.0, 25.0, 10), 25);
    assert_eq!(a.scale(30.0, 30.0, 41.0, 40), 41);
    assert_eq!(a.scale(62.0, 50.0, 56.0, 55), 50);
    assert!(!a.in_panic());
    // TestAutoscalerExtendPanicWindow: still over the threshold at 30 s moves the panic time,
    // so 62 s is not yet a stable window after it.
    let mut a = knative(1.0);
    assert_eq!(a.scale(0.0, 11.0, 25.0, 10), 25);
    assert_eq!(a.scale(30.0, 30.0, 80.0, 40), 80);
    assert_eq!(a.scale(62.0, 50.0, 56.0, 55), 80);
    assert!(a.in_panic());
}

#[test]
fn rate_limits_and_ready_pod_floor() {
    // TestAutoscalerRateLimitScaleUp
    let mut a = knative(10.0);
    assert_eq!(a.scale(0.0, 1000.0, 1001.0, 1), 10);
    assert_eq!(a.scale(0.0, 1000.0, 1001.0, 10), 100);
    // TestAutoscalerRateLimitScaleDown
    let mut a = knative(10.0);
    assert_eq!(a.scale(0.0, 1.0, 1.0, 100), 10);
    assert_eq!(a.scale(0.0, 1.0, 1.0, 10), 1);
    // TestAutoscalerUseOnePodAsMinimumIfEndpointsNotFound
    assert_eq!(knative(10.0).scale(0.0, 1000.0, 888.0, 0), 10);
    // TestAutoscalerScale: AutoscalerStableModeIncreaseWithSmallScaleUpRate (MSUR 1.1) and
    // AutoscalerStableModeDecreaseWithSmallScaleDownRate (MSDR 1.1).
    let mut c = config(
        json!({"max_scale": 1000, "target": 1.0, "target_utilization": 100.0,
        "max_scale_up_rate": 1.1}),
    );
    assert_eq!(Kpa::new(&c).scale(0.0, 3.0, 3.1, 2), 3);
    c.target = 10.0;
    c.max_scale_down_rate = 1.1;
    assert_eq!(Kpa::new(&c).scale(0.0, 1.0, 1.0, 100), 90);
    // AutoscalerPanicModeDoublePodCount: the panic value takes precedence.
    assert_eq!(knative(10.0).scale(0.0, 50.0, 100.0, 1), 10);
}

#[test]
fn no_traffic_scale_to_zero_and_activation_scale() {
    // TestAutoscalerStableModeNoTrafficScaleToZero
    let mut a = knative(10.0);
    assert_eq!(a.scale(0.0, 1.0, 0.0, 1), 1);
    assert_eq!(a.scale(2.0, 0.0, 0.0, 1), 0);
    // TestAutoscalerActivationScale
    let mut c = config(json!({"max_scale": 1000, "target": 10.0, "target_utilization": 100.0}));
    c.activation_scale = 2;
    let mut a = Kpa::new(&c);
    assert_eq!(a.scale(0.0, 0.0, 0.0, 1), 0);
    assert_eq!(a.scale(2.0, 1.0, 0.0, 1), 2);
}

#[test]
fn scale_down_delay() {
    // TestAutoscalerScaleDownDelay: target 10, rates 10, PanicThreshold 100, delay 5 min.
    let spec = |delay: &str| {
        Kpa::new(&config(json!({
            "max_scale": 1000, "target": 10.0, "target_utilization": 100.0,
            "max_scale_up_rate": 10.0, "max_scale_down_rate": 10.0,
            "panic_threshold_percentage": 10_000.0, "scale_down_delay": delay,
        })))
    };
    let mut a = spec("5m");
    // simple
    assert_eq!(a.scale(2.0, 40.0, 40.0, 0), 4);
    assert_eq!(a.scale(300.0, 0.0, 0.0, 0), 4);
    assert_eq!(a.scale(302.0, 0.0, 0.0, 0), 0);
    // gradual
    assert_eq!(a.scale(540.0, 40.0, 40.0, 0), 4);
    assert_eq!(a.scale(600.0, 30.0, 30.0, 0), 4);
    assert_eq!(a.scale(660.0, 0.0, 0.0, 0), 4);
    assert_eq!(a.scale(840.0, 0.0, 0.0, 0), 3);
    assert_eq!(a.scale(900.0, 0.0, 0.0, 0), 0);
    // TestAutoscalerScaleDownDelayZero: no delay window, so the drop applies at once.
    let mut a = spec("0s");
    assert_eq!(a.scale(0.0, 40.0, 40.0, 0), 4);
    assert_eq!(a.scale(0.5, 20.0, 20.0, 0), 2);
}

#[test]
fn start_in_panic_mode() {
    // TestStartInPanicMode: created over 2+ ready pods, the decider holds them while it learns.
    for ready in 0..2 {
        let mut a = knative(10.0);
        a.decider.start(0.0, ready);
        assert!(!a.in_panic());
    }
    let mut a = knative(10.0);
    a.decider.start(0.0, 2);
    assert!(a.in_panic());
    assert_eq!(a.scale(2.0, 0.0, 0.0, 2), 2);
}

#[test]
fn scaler_cases() {
    // TestScaler, pkg/reconciler/autoscaling/kpa/scaler_test.go (stable window 60 s, grace 30 s).
    let case = |min: u32, max: u32, rec: Option<u32>, act: Activity, since: f64| {
        let mut k = Kpa::new(&config(json!({"min_scale": min, "max_scale": max})));
        (k.recommended, k.activity, k.activity_since) = (rec, act, since);
        k.initialized = true;
        k.bounded_scale(100.0)
    };
    use Activity::*;
    let want = [
        (
            "waits to scale to zero (just before idle period)",
            case(0, 50, Some(0), Active, 41.0),
            (1, true),
        ),
        (
            "waits to scale to zero after idle period",
            case(0, 50, Some(0), Active, 40.0),
            (0, false),
        ),
        (
            "scale to zero after grace period",
            case(0, 50, Some(0), Inactive, 70.0),
            (0, true),
        ),
        (
            "waits to scale to zero (just before grace period)",
            case(0, 50, Some(0), Inactive, 71.0),
            (0, false),
        ),
        (
            "does not scale while activating",
            case(0, 50, Some(0), Activating, 99.0),
            (-1, false),
        ),
        (
            "scale down to minScale before grace period",
            case(2, 50, Some(0), Inactive, 71.0),
            (2, true),
        ),
        ("scales up", case(0, 50, Some(10), Active, 0.0), (10, true)),
        (
            "scales up to maxScale",
            case(0, 8, Some(10), Active, 0.0),
            (8, true),
        ),
        (
            "scale up inactive revision",
            case(0, 50, Some(10), Inactive, 85.0),
            (10, true),
        ),
        (
            "does not scale up from zero with no metrics",
            case(0, 50, None, Inactive, 0.0),
            (-1, false),
        ),
        (
            "negative scale does not scale",
            case(0, 50, None, Active, 0.0),
            (-1, false),
        ),
    ];
    for (label, got, want) in want {
        assert_eq!(got, want, "{label}");
    }
}

#[test]
fn window_averages_follow_bucketing() {
    let s = |t: f64, ready: u32, in_flight: f64| MetricSample {
        t,
        ready,
        in_flight,
        ..MetricSample::default()
    };
    let k = Kpa::new(&config(json!({"max_scale": 10})));
    // No data: no pod ready and nothing buffered (ErrNoData).
    assert_eq!(k.averages(&[]), None);
    assert_eq!(k.averages(&[s(1.0, 0, 0.0), s(2.0, 0, 0.0)]), None);
    // A partial window averages over the buckets since the first write only.
    let mut v: Vec<_> = (1..=3).map(|t| s(f64::from(t), 1, 10.0)).collect();
    assert_eq!(k.averages(&v), Some((10.0, 10.0)));
    // Gaps inside the window count as zero; the silent tail after the last write does not.
    v.push(s(4.0, 0, 0.0));
    v.push(s(5.0, 1, 30.0));
    v.push(s(6.0, 0, 0.0));
    assert_eq!(k.averages(&v), Some((12.0, 12.0)));
    // A full window of 60 buckets; the 6 s panic window sees only the newest.
    let v: Vec<_> = (1..=100)
        .map(|t| s(f64::from(t), 2, if t > 94 { 70.0 } else { 10.0 }))
        .collect();
    assert_eq!(k.averages(&v), Some((16.0, 70.0)));
    // The queue counts as concurrency; a request buffered at zero pods is data (activator).
    let q = MetricSample {
        t: 7.0,
        queue: 1.0,
        ..MetricSample::default()
    };
    assert_eq!(k.averages(&[q]), Some((1.0, 1.0)));
    // The rps metric reads the arrival rate.
    let mut c = config(json!({"max_scale": 10}));
    c.metric = KpaMetric::Rps;
    let r = MetricSample {
        t: 1.0,
        ready: 1,
        in_flight: 5.0,
        arrival_rps: 42.0,
        ..MetricSample::default()
    };
    assert_eq!(Kpa::new(&c).averages(&[r]), Some((42.0, 42.0)));
}
